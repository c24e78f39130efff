//! What the stand-in holds: one tenant's workspaces, reports and datasets, the access tokens
//! and embed tokens it issued, Azure capacities whose state changes over time, the ARM calls
//! it answered, and the faults a test asked for.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use uuid::Uuid;

/// Which API an access token was issued for (its audience).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    PowerBi,
    Arm,
}

impl Audience {
    /// The audience a client-credentials `scope` asks for.
    pub fn of_scope(scope: &str) -> Option<Self> {
        match scope.trim().trim_end_matches('/') {
            "https://analysis.windows.net/powerbi/api/.default" => Some(Self::PowerBi),
            "https://management.azure.com/.default"
            | "https://management.core.windows.net/.default" => Some(Self::Arm),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct AccessToken {
    pub client_id: String,
    pub audience: Audience,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Workspace {
    pub id: Uuid,
    pub name: String,
    pub capacity_id: Option<Uuid>,
    /// Client ids of the service principals that are members; empty means every principal.
    pub members: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub id: Uuid,
    pub name: String,
    pub workspace_id: Uuid,
    pub dataset_id: Uuid,
}

#[derive(Debug, Clone)]
pub struct Dataset {
    pub id: Uuid,
    pub name: String,
    pub workspace_id: Uuid,
    /// Whether row-level security is defined on it: an embed token then needs an identity.
    pub rls: bool,
}

/// An embed token as GenerateToken made it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EmbedTokenRecord {
    pub token_id: Uuid,
    pub token: String,
    pub expiration: DateTime<Utc>,
    pub reports: Vec<Uuid>,
    pub datasets: Vec<Uuid>,
    pub identities: serde_json::Value,
}

/// The two kinds of Azure capacity, by their ARM resource provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CapacityKind {
    /// A SKUs, `Microsoft.PowerBIDedicated/capacities`.
    PowerbiEmbedded,
    /// F SKUs, `Microsoft.Fabric/capacities`.
    Fabric,
}

impl CapacityKind {
    pub fn namespace(self) -> &'static str {
        match self {
            Self::PowerbiEmbedded => "Microsoft.PowerBIDedicated",
            Self::Fabric => "Microsoft.Fabric",
        }
    }

    pub fn of_namespace(namespace: &str) -> Option<Self> {
        [Self::PowerbiEmbedded, Self::Fabric]
            .into_iter()
            .find(|kind| kind.namespace().eq_ignore_ascii_case(namespace))
    }

    /// `properties.state` of a capacity that runs: `Succeeded` for A SKUs, `Active` for F.
    pub fn running_state(self) -> &'static str {
        match self {
            Self::PowerbiEmbedded => "Succeeded",
            Self::Fabric => "Active",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Power {
    Running,
    Paused,
    Pausing { until: DateTime<Utc> },
    Resuming { until: DateTime<Utc> },
}

#[derive(Debug, Clone)]
pub struct Capacity {
    /// The capacity's id in Power BI (a workspace's `capacityId`).
    pub power_bi_id: Uuid,
    pub subscription: String,
    pub resource_group: String,
    pub name: String,
    pub kind: CapacityKind,
    pub sku: String,
    pub location: String,
    pub power: Power,
}

impl Capacity {
    /// Settles a transition whose time has come.
    pub fn settle(&mut self, now: DateTime<Utc>) {
        self.power = match self.power {
            Power::Pausing { until } if now >= until => Power::Paused,
            Power::Resuming { until } if now >= until => Power::Running,
            other => other,
        };
    }

    /// `properties.state` as ARM reports it.
    pub fn state(&self) -> &'static str {
        match self.power {
            Power::Running => self.kind.running_state(),
            Power::Paused => "Paused",
            Power::Pausing { .. } => "Pausing",
            Power::Resuming { .. } => "Resuming",
        }
    }

    pub fn resource_id(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/{}/capacities/{}",
            self.subscription,
            self.resource_group,
            self.kind.namespace(),
            self.name
        )
    }
}

/// A long-running ARM operation (suspend or resume), polled at its `Location`.
#[derive(Debug, Clone)]
pub struct Operation {
    pub done_at: DateTime<Utc>,
}

/// An ARM call the stand-in answered, for tests to compare with what Vitrine shows.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ArmCall {
    pub at: DateTime<Utc>,
    pub method: String,
    pub path: String,
    pub status: u16,
}

/// Which API a fault hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FaultApi {
    #[default]
    Arm,
    PowerBi,
}

/// An answer a test asked the next ARM (or Power BI REST) calls to get instead of the real one.
#[derive(Debug, Clone, Copy, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fault {
    /// ARM unless told otherwise.
    #[serde(default)]
    pub api: FaultApi,
    /// 429 (throttled, with `Retry-After`), 401 or 403.
    pub status: u16,
    #[serde(default)]
    pub retry_after: Option<u64>,
    /// How many calls get it.
    #[serde(default = "one")]
    pub times: u32,
}

fn one() -> u32 {
    1
}

/// How the stand-in behaves; by default it accepts any credentials.
#[derive(Debug, Clone)]
pub struct Settings {
    /// When set, the only client secret Entra accepts.
    pub client_secret: Option<String>,
    /// How long an access token lives (Entra: about an hour).
    pub access_token_lifetime: Duration,
    /// How long a suspend or resume takes.
    pub transition: Duration,
    /// Where the stand-in's clock starts (it then runs in real time); now when not set. A
    /// test whose server runs on a clock of its own sets both to the same moment.
    pub starts_at: Option<DateTime<Utc>>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            client_secret: None,
            access_token_lifetime: Duration::seconds(3599),
            transition: Duration::seconds(3),
            starts_at: None,
        }
    }
}

pub struct Inner {
    pub settings: Settings,
    /// Added to the wall clock: tests move the stand-in's time forward.
    pub offset: Duration,
    pub access_tokens: HashMap<String, AccessToken>,
    pub workspaces: Vec<Workspace>,
    pub reports: Vec<Report>,
    pub datasets: Vec<Dataset>,
    pub embed_tokens: Vec<EmbedTokenRecord>,
    pub capacities: Vec<Capacity>,
    pub operations: HashMap<Uuid, Operation>,
    pub calls: Vec<ArmCall>,
    /// Access tokens granted by the token endpoint.
    pub grants: u32,
    pub faults: VecDeque<Fault>,
}

/// Everything the stand-in knows, shared by its handlers.
pub struct World {
    inner: Mutex<Inner>,
}

/// The one Power BI capacity id the demo workspace runs on.
pub const DEMO_CAPACITY_ID: Uuid = Uuid::from_u128(0x0f08_4df7_c13d_451b_af5f_ed0c_4664_03b2);

impl Inner {
    /// The next fault asked for `api`, counted as used.
    pub fn take_fault(&mut self, api: FaultApi) -> Option<Fault> {
        let at = self.faults.iter().position(|fault| fault.api == api)?;
        let fault = &mut self.faults[at];
        if fault.times <= 1 {
            self.faults.remove(at)
        } else {
            fault.times -= 1;
            Some(*fault)
        }
    }
}

impl World {
    /// One workspace with two reports (one on a dataset with row-level security) and one
    /// capacity of each kind, running.
    pub fn demo(settings: Settings) -> Self {
        let workspace = Uuid::from_u128(0xf089_354e_8366_4e18_aea3_4cb4_a3a5_0b48);
        let sales = Uuid::from_u128(0xcfaf_beb1_8037_4d0c_896e_a46f_b27f_f229);
        let regional = Uuid::from_u128(0x4a6b_1c2d_3e4f_4a5b_8c6d_7e8f_9a0b_1c2d);
        let offset = settings.starts_at.map_or(Duration::zero(), |at| at - Utc::now());
        let inner = Inner {
            settings,
            offset,
            access_tokens: HashMap::new(),
            workspaces: vec![Workspace {
                id: workspace,
                name: "Contoso Analytics".into(),
                capacity_id: Some(DEMO_CAPACITY_ID),
                members: Vec::new(),
            }],
            reports: vec![
                Report {
                    id: Uuid::from_u128(0x5b21_8778_e7a5_4d73_8187_f108_2404_7715),
                    name: "Sales Overview".into(),
                    workspace_id: workspace,
                    dataset_id: sales,
                },
                Report {
                    id: Uuid::from_u128(0x6c32_9889_f8b6_4e84_9298_0a19_3515_8826),
                    name: "Regional Sales".into(),
                    workspace_id: workspace,
                    dataset_id: regional,
                },
            ],
            datasets: vec![
                Dataset { id: sales, name: "Sales".into(), workspace_id: workspace, rls: false },
                Dataset {
                    id: regional,
                    name: "Regional Sales".into(),
                    workspace_id: workspace,
                    rls: true,
                },
            ],
            embed_tokens: Vec::new(),
            capacities: vec![
                Capacity {
                    power_bi_id: DEMO_CAPACITY_ID,
                    subscription: "00000000-0000-0000-0000-000000000001".into(),
                    resource_group: "analytics".into(),
                    name: "contosoembedded".into(),
                    kind: CapacityKind::PowerbiEmbedded,
                    sku: "A1".into(),
                    location: "westeurope".into(),
                    power: Power::Running,
                },
                Capacity {
                    power_bi_id: Uuid::from_u128(0x5c1e_7a3b_2f4d_4e6a_9b8c_0d1e_2f3a_4b5c),
                    subscription: "00000000-0000-0000-0000-000000000001".into(),
                    resource_group: "analytics".into(),
                    name: "contosofabric".into(),
                    kind: CapacityKind::Fabric,
                    sku: "F2".into(),
                    location: "westeurope".into(),
                    power: Power::Running,
                },
            ],
            operations: HashMap::new(),
            calls: Vec::new(),
            grants: 0,
            faults: VecDeque::new(),
        };
        Self { inner: Mutex::new(inner) }
    }

    /// Runs `f` on the stand-in's state with its clock's `now`, capacities settled.
    pub fn with<T>(&self, f: impl FnOnce(&mut Inner, DateTime<Utc>) -> T) -> T {
        let mut inner = self.inner.lock().unwrap_or_else(|poison| poison.into_inner());
        let now = Utc::now() + inner.offset;
        for capacity in &mut inner.capacities {
            capacity.settle(now);
        }
        f(&mut inner, now)
    }
}

/// A random opaque token.
pub fn opaque(prefix: &str) -> String {
    use base64::Engine;
    let bytes: [u8; 32] = rand::random();
    format!("{prefix}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}
