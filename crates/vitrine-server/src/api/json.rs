//! The JSON shapes of the public API, as typed structs: each is what a handler answers and, by
//! its `ToSchema`, what the OpenAPI document says it answers. Field names are camelCase and
//! stable.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use vitrine_core::capacity::{CapacityMode, CapacityState};
use vitrine_core::token::RefreshPolicy;
use vitrine_core::{
    ApiKeyId, CapacityId, DatasetId, GroupId, IdentityId, OrgId, OrgLimits, ReportId, Role, UserId,
};
use vitrine_store as store;

use crate::services::accounts::LinkOffer as Offer;
use crate::services::installation::OrganizationView;

pub fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// An instant: RFC 3339, UTC, milliseconds (`2026-03-02T09:00:00.000Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Time(pub DateTime<Utc>);

impl Serialize for Time {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&time(self.0))
    }
}

impl utoipa::PartialSchema for Time {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .into()
    }
}

impl ToSchema for Time {}

fn at(instant: Option<DateTime<Utc>>) -> Option<Time> {
    instant.map(Time)
}

/// A user of an organization.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub blocked: bool,
    pub expires_at: Option<Time>,
    /// Set after five wrong passwords in a row, until then.
    pub locked_until: Option<Time>,
    /// False for an invited user who has not chosen a password yet.
    pub password_set: bool,
    /// Whether the user is also one of the installation's operators.
    pub operator: bool,
    pub created_at: Time,
    pub updated_at: Time,
}

impl From<&store::User> for User {
    fn from(user: &store::User) -> Self {
        Self {
            id: user.id,
            email: user.email.clone(),
            name: user.name.clone(),
            role: user.role,
            blocked: user.blocked,
            expires_at: at(user.expires_at),
            locked_until: at(user.locked_until),
            password_set: user.password_set,
            operator: user.operator,
            created_at: Time(user.created_at),
            updated_at: Time(user.updated_at),
        }
    }
}

/// A user with their groups and permissions.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserDetail {
    #[serde(flatten)]
    pub user: User,
    pub groups: Vec<Group>,
    /// Permissions granted to the user directly.
    pub permissions: Vec<String>,
    /// With those of the user's groups.
    pub effective_permissions: Vec<String>,
}

/// A new user; an invited one (no password) comes with the invitation link.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserCreated {
    #[serde(flatten)]
    pub user: User,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invitation: Option<LinkOffer>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    pub id: GroupId,
    pub name: String,
    pub description: String,
    pub member_count: u32,
    pub created_at: Time,
}

impl From<&store::Group> for Group {
    fn from(group: &store::Group) -> Self {
        Self {
            id: group.id,
            name: group.name.clone(),
            description: group.description.clone(),
            member_count: group.member_count,
            created_at: Time(group.created_at),
        }
    }
}

/// A group with its members and permissions.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupDetail {
    #[serde(flatten)]
    pub group: Group,
    pub members: Vec<User>,
    pub permissions: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub id: ReportId,
    pub name: String,
    pub description: String,
    pub owner_id: Option<UserId>,
    pub capacity_id: Option<CapacityId>,
    /// Where a report imported from Power BI lives there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub powerbi: Option<PowerBiLink>,
    pub created_at: Time,
    pub updated_at: Time,
}

/// A Power BI report a Vitrine report shows.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PowerBiLink {
    pub workspace_id: String,
    pub report_id: String,
    pub dataset_id: String,
    pub embed_url: String,
    /// Its dataset has row-level security: every embed token names the viewer's identity.
    pub identity_required: bool,
}

impl From<&store::Report> for Report {
    fn from(report: &store::Report) -> Self {
        Self {
            id: report.id,
            name: report.name.clone(),
            description: report.description.clone(),
            owner_id: report.owner_id,
            capacity_id: report.capacity_id,
            powerbi: report.powerbi.as_ref().map(|link| PowerBiLink {
                workspace_id: link.workspace_id.clone(),
                report_id: link.report_id.clone(),
                dataset_id: link.dataset_id.clone(),
                embed_url: link.embed_url.clone(),
                identity_required: link.identity_required,
            }),
            created_at: Time(report.created_at),
            updated_at: Time(report.updated_at),
        }
    }
}

/// Who may open a report, directly or through a group.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportAccess {
    pub users: Vec<User>,
    pub groups: Vec<Group>,
}

/// The report an embed token opens: its pages and visuals, never its row-level-security rules.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmbedReport {
    #[serde(flatten)]
    pub report: Report,
    /// Always `View`.
    pub access: String,
    pub viewer: EmbedViewer,
    /// `null` until the report is defined.
    pub definition: Option<EmbedDefinition>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmbedViewer {
    pub username: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmbedDefinition {
    /// The report's pages, as in its definition (docs/reports.md).
    #[schema(value_type = Vec<Object>)]
    pub pages: Value,
    pub row_level_security: bool,
}

/// An organization, as its own members see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationRef {
    pub id: OrgId,
    pub name: String,
}

impl From<&store::Organization> for OrganizationRef {
    fn from(org: &store::Organization) -> Self {
        Self { id: org.id, name: org.name.clone() }
    }
}

/// An organization as the installation's operators see it: limits and counts, no content.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    pub id: OrgId,
    pub name: String,
    pub created_at: Time,
    pub suspended: bool,
    pub suspended_at: Option<Time>,
    /// A limit of `null` is no limit.
    pub limits: OrgLimits,
    pub usage: Usage,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Usage {
    pub users: u64,
    pub reports: u64,
    pub datasets: u64,
}

impl From<&OrganizationView> for Organization {
    fn from(view: &OrganizationView) -> Self {
        let org = &view.organization;
        Self {
            id: org.id,
            name: org.name.clone(),
            created_at: Time(org.created_at),
            suspended: org.is_suspended(),
            suspended_at: at(org.suspended_at),
            limits: org.limits,
            usage: Usage {
                users: view.usage.users,
                reports: view.usage.reports,
                datasets: view.usage.datasets,
            },
        }
    }
}

/// A new organization; with `adminEmail`, its first administrator and their invitation.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationCreated {
    #[serde(flatten)]
    pub organization: Organization,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin: Option<User>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invitation: Option<LinkOffer>,
}

/// One of the installation's operators.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Operator {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub organization_id: OrgId,
}

impl From<&store::User> for Operator {
    fn from(user: &store::User) -> Self {
        Self {
            id: user.id,
            email: user.email.clone(),
            name: user.name.clone(),
            organization_id: user.org_id,
        }
    }
}

/// The installation's first organization and administrator.
#[derive(Debug, Serialize, ToSchema)]
pub struct SetUp {
    pub organization: OrganizationRef,
    pub user: User,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActorRef {
    pub id: String,
    pub label: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstallationAuditEntry {
    pub id: i64,
    pub at: Time,
    pub actor: ActorRef,
    pub entity_type: String,
    pub entity_id: String,
    pub action: String,
    pub old_value: Option<Value>,
    pub new_value: Option<Value>,
}

impl From<&store::InstallationAuditEntry> for InstallationAuditEntry {
    fn from(entry: &store::InstallationAuditEntry) -> Self {
        Self {
            id: entry.id,
            at: Time(entry.at),
            actor: ActorRef { id: entry.actor_id.clone(), label: entry.actor_label.clone() },
            entity_type: entry.entity_type.clone(),
            entity_id: entry.entity_id.clone(),
            action: entry.action.clone(),
            old_value: entry.old_value.clone(),
            new_value: entry.new_value.clone(),
        }
    }
}

/// An entry of the organization's audit.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub id: i64,
    pub at: Time,
    pub actor_id: String,
    pub actor: String,
    pub entity_type: String,
    pub entity_id: String,
    pub action: String,
    pub old_value: Option<Value>,
    pub new_value: Option<Value>,
}

impl From<&store::AuditEntry> for AuditEntry {
    fn from(entry: &store::AuditEntry) -> Self {
        Self {
            id: entry.id,
            at: Time(entry.at),
            actor_id: entry.actor_id.clone(),
            actor: entry.actor_label.clone(),
            entity_type: entry.entity_type.clone(),
            entity_id: entry.entity_id.clone(),
            action: entry.action.clone(),
            old_value: entry.old_value.clone(),
            new_value: entry.new_value.clone(),
        }
    }
}

/// An event of the token audit: `issued`, `refreshed`, `rejected` or `revoked`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenEvent {
    pub id: i64,
    pub at: Time,
    pub kind: String,
    pub user_id: Option<UserId>,
    /// The host app's user, for tokens an embed key minted (`user` is then `identity <their id>`).
    pub identity_id: Option<IdentityId>,
    pub user: Option<String>,
    pub report_id: Option<ReportId>,
    pub report: Option<String>,
    pub token_id: Option<String>,
    pub reason: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub by: Option<String>,
}

impl From<&store::TokenEvent> for TokenEvent {
    fn from(event: &store::TokenEvent) -> Self {
        Self {
            id: event.id,
            at: Time(event.at),
            kind: event.kind.clone(),
            user_id: event.user_id,
            identity_id: event.identity_id,
            user: event.user_label.clone(),
            report_id: event.report_id,
            report: event.report_label.clone(),
            token_id: event.token_id.clone(),
            reason: event.reason.clone(),
            ip: event.ip.clone(),
            user_agent: event.user_agent.clone(),
            by: event.actor.clone(),
        }
    }
}

/// One of the caller's own sessions.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub id: String,
    pub created_at: Time,
    pub last_seen_at: Time,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    /// The session of this very request.
    pub current: bool,
}

impl Session {
    pub fn of(session: &store::SessionInfo, current: bool) -> Self {
        Self {
            id: session.id(),
            created_at: Time(session.created_at),
            last_seen_at: Time(session.last_seen_at),
            user_agent: session.user_agent.clone(),
            ip: session.ip.clone(),
            current,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Sessions {
    pub items: Vec<Session>,
}

/// How many sessions were signed out.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ended {
    pub ended: u64,
}

/// An invitation or password-reset link.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LinkOffer {
    pub url: String,
    pub expires_at: Time,
    /// Whether it was also sent by email (SMTP configured).
    pub emailed: bool,
}

impl From<&Offer> for LinkOffer {
    fn from(offer: &Offer) -> Self {
        Self { url: offer.url.clone(), expires_at: Time(offer.expires_at), emailed: offer.emailed }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub name: String,
    /// The first characters of the key, to recognize it.
    pub prefix: String,
    pub scope: vitrine_core::ApiKeyScope,
    /// The reports an embed key may mint tokens for; `null` for all.
    pub reports: Option<Vec<ReportId>>,
    /// Who made it: their email, or the key they used.
    pub created_by: String,
    pub created_at: Time,
    /// Refreshed at most once a minute.
    pub last_used_at: Option<Time>,
    pub expires_at: Option<Time>,
    pub revoked_at: Option<Time>,
    pub wake_capacity: bool,
    pub keep_capacity_on: bool,
}

impl From<&store::ApiKey> for ApiKey {
    fn from(key: &store::ApiKey) -> Self {
        Self {
            id: key.id,
            name: key.name.clone(),
            prefix: key.prefix.clone(),
            scope: key.scope,
            reports: key.reports.clone(),
            created_by: key.created_by.clone(),
            created_at: Time(key.created_at),
            last_used_at: at(key.last_used_at),
            expires_at: at(key.expires_at),
            revoked_at: at(key.revoked_at),
            wake_capacity: key.wake_capacity,
            keep_capacity_on: key.keep_capacity_on,
        }
    }
}

/// A host app's user that an embed key minted tokens for.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    pub id: IdentityId,
    /// The host app's id for its user.
    pub external_id: String,
    /// The name the host app gave last; empty when none.
    pub name: String,
    pub first_seen_at: Time,
    pub last_seen_at: Time,
    /// The key that minted their latest token.
    pub last_key_id: Option<ApiKeyId>,
}

impl From<&store::Identity> for Identity {
    fn from(identity: &store::Identity) -> Self {
        Self {
            id: identity.id,
            external_id: identity.external_id.clone(),
            name: identity.name.clone(),
            first_seen_at: Time(identity.first_seen_at),
            last_seen_at: Time(identity.last_seen_at),
            last_key_id: identity.last_key_id,
        }
    }
}

/// A new API key: the secret `key` is in this answer only.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyCreated {
    #[serde(flatten)]
    pub api_key: ApiKey,
    pub key: String,
}

/// The caller: their account (`null` for an API key), role, organization and permissions.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Me {
    pub user: Option<User>,
    pub role: Role,
    pub organization: OrganizationRef,
    pub permissions: Vec<String>,
    /// Send it as `X-CSRF-Token` with unsafe requests; `null` for an API key.
    pub csrf_token: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignedIn {
    pub user: User,
    pub csrf_token: String,
}

/// The account a link was redeemed for.
#[derive(Debug, Serialize, ToSchema)]
pub struct Redeemed {
    pub user: User,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Message {
    pub message: String,
}

/// A weekly window in the capacity's time zone.
#[derive(Debug, Serialize, ToSchema)]
pub struct Window {
    /// `Mon` … `Sun`.
    pub day: String,
    /// `HH:MM`.
    pub start: String,
    /// `HH:MM`, after `start`.
    pub end: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Capacity {
    pub id: CapacityId,
    pub name: String,
    /// `local`, `azure` or `simulated`.
    pub provider: String,
    /// The Azure resource of an `azure` capacity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub azure: Option<AzureResource>,
    pub state: CapacityState,
    pub mode: CapacityMode,
    pub idle_minutes: u32,
    pub schedule: Vec<Window>,
    pub time_zone: String,
    pub hourly_price: f64,
    pub wake_from_viewer: bool,
    pub state_since: Time,
    pub last_activity: Option<Time>,
}

impl From<&vitrine_core::capacity::WeeklyWindow> for Window {
    fn from(window: &vitrine_core::capacity::WeeklyWindow) -> Self {
        Self {
            day: window.day.to_string(),
            start: window.start.format("%H:%M").to_string(),
            end: window.end.format("%H:%M").to_string(),
        }
    }
}

/// An Azure capacity: Power BI Embedded (A SKUs) or Fabric (F SKUs).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AzureResource {
    /// `powerBiEmbedded` or `fabric`.
    pub kind: String,
    pub subscription_id: String,
    pub resource_group: String,
    pub name: String,
}

impl From<&store::AzureCapacity> for AzureResource {
    fn from(azure: &store::AzureCapacity) -> Self {
        let kind = match azure.kind {
            store::AzureCapacityKind::PowerBiEmbedded => "powerBiEmbedded",
            store::AzureCapacityKind::Fabric => "fabric",
        };
        Self {
            kind: kind.into(),
            subscription_id: azure.subscription_id.clone(),
            resource_group: azure.resource_group.clone(),
            name: azure.name.clone(),
        }
    }
}

impl From<&store::Capacity> for Capacity {
    fn from(capacity: &store::Capacity) -> Self {
        Self {
            id: capacity.id,
            name: capacity.name.clone(),
            provider: capacity.provider.clone(),
            azure: capacity.azure.as_ref().map(AzureResource::from),
            state: capacity.state,
            mode: capacity.mode,
            idle_minutes: capacity.idle_minutes,
            schedule: capacity.schedule.iter().map(Window::from).collect(),
            time_zone: capacity.time_zone.clone(),
            hourly_price: capacity.hourly_price,
            wake_from_viewer: capacity.wake_from_viewer,
            state_since: Time(capacity.state_since),
            last_activity: at(capacity.last_activity),
        }
    }
}

/// An entry of a capacity's timeline.
#[derive(Debug, Serialize, ToSchema)]
pub struct CapacityEvent {
    pub at: Time,
    pub state: CapacityState,
    pub reason: String,
    pub by: Option<String>,
    pub detail: Option<String>,
}

impl From<&store::CapacityEvent> for CapacityEvent {
    fn from(event: &store::CapacityEvent) -> Self {
        Self {
            at: Time(event.at),
            state: event.state,
            reason: event.reason.clone(),
            by: event.actor.clone(),
            detail: event.detail.clone(),
        }
    }
}

/// The capacity that keeps a report from opening, in a `CapacityNotActive` or
/// `CapacityStarting` error.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CapacityProblem {
    pub id: CapacityId,
    pub state: CapacityState,
    /// `inactivity`, `manual` (an administrator) or `schedule`, when paused.
    pub paused_for: Option<String>,
    /// The start of its next scheduled window, for a capacity on a schedule.
    pub next_start: Option<Time>,
}

/// The state a capacity switched to.
#[derive(Debug, Serialize, ToSchema)]
pub struct Switched {
    pub state: CapacityState,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Dataset {
    pub id: DatasetId,
    pub name: String,
    /// `csv` or `parquet` (a file), or `source` (a dataset of a connection not yet imported,
    /// or direct).
    pub format: String,
    /// Rows of the current version (0 for a direct dataset: its rows are at the source).
    pub row_count: u64,
    /// `[{"name","kind"}]`.
    #[schema(value_type = Vec<Object>)]
    pub columns: Value,
    pub created_at: Time,
    /// Counts the data's versions: one more for each replacement or import.
    pub version: u64,
    pub updated_at: Time,
    /// For a dataset of a connection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<DatasetSource>,
}

/// What a dataset of a connection reads and how.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DatasetSource {
    pub connection: vitrine_core::ConnectionId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sql: Option<String>,
    /// `direct` or `imported`.
    pub mode: String,
    /// Imported: refreshed this often (inside `refreshWindows` when there are some).
    pub refresh_every_minutes: Option<u32>,
    /// Imported: refreshed at the start of each weekly window (and every
    /// `refreshEveryMinutes` inside them), read in `timeZone`.
    pub refresh_windows: Vec<Window>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// An import is running now.
    pub refreshing: bool,
}

impl Dataset {
    pub fn of(dataset: &store::Dataset, refreshing: bool) -> Self {
        Self {
            id: dataset.id,
            name: dataset.name.clone(),
            format: dataset.format.clone(),
            row_count: dataset.row_count,
            columns: dataset.columns.clone(),
            created_at: Time(dataset.created_at),
            version: dataset.version,
            updated_at: Time(dataset.updated_at),
            source: dataset.source.as_ref().map(|source| DatasetSource {
                connection: source.connection_id,
                table: source.table.clone(),
                sql: source.sql.clone(),
                mode: source.mode.as_str().to_string(),
                refresh_every_minutes: source.refresh_every_minutes,
                refresh_windows: source.refresh_windows.iter().map(Window::from).collect(),
                time_zone: source.refresh_time_zone.clone(),
                refreshing,
            }),
        }
    }
}

/// One import of an imported dataset.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DatasetRefresh {
    /// `created`, `manual` or `schedule`.
    pub trigger: String,
    pub started_at: Time,
    /// Absent while it runs.
    pub finished_at: Option<Time>,
    pub row_count: Option<u64>,
    /// The version it made.
    pub version: Option<u64>,
    /// Why it failed; the last good version stayed.
    pub error: Option<String>,
}

impl From<&store::DatasetRefresh> for DatasetRefresh {
    fn from(refresh: &store::DatasetRefresh) -> Self {
        Self {
            trigger: refresh.trigger.as_str().to_string(),
            started_at: Time(refresh.started_at),
            finished_at: refresh.finished_at.map(Time),
            row_count: refresh.row_count,
            version: refresh.version,
            error: refresh.error.clone(),
        }
    }
}

/// A connection to a database of the organization; its password is never answered.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    pub id: vitrine_core::ConnectionId,
    pub name: String,
    /// `postgres` or `mysql`.
    pub kind: String,
    pub host: String,
    pub port: u16,
    pub database: String,
    pub user: String,
    /// `disable`, `prefer`, `require` or `verify-full`.
    pub tls: String,
    pub max_connections: u32,
    pub query_timeout_seconds: u32,
    pub created_at: Time,
    pub updated_at: Time,
}

impl From<&store::Connection> for Connection {
    fn from(connection: &store::Connection) -> Self {
        Self {
            id: connection.id,
            name: connection.name.clone(),
            kind: connection.kind.as_str().to_string(),
            host: connection.host.clone(),
            port: connection.port,
            database: connection.database.clone(),
            user: connection.user.clone(),
            tls: connection.tls.as_str().to_string(),
            max_connections: connection.max_connections,
            query_timeout_seconds: connection.query_timeout_seconds,
            created_at: Time(connection.created_at),
            updated_at: Time(connection.updated_at),
        }
    }
}

/// What "Test connection" found.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionTest {
    pub ok: bool,
    /// The database's version, or what went wrong in plain words.
    pub message: String,
}

/// Row-level-security roles and attributes of a user or a group.
#[derive(Debug, Serialize, ToSchema)]
pub struct RlsAssignment {
    pub roles: Vec<String>,
    pub attributes: std::collections::BTreeMap<String, String>,
}

impl From<&store::RlsAssignment> for RlsAssignment {
    fn from(assignment: &store::RlsAssignment) -> Self {
        Self { roles: assignment.roles.clone(), attributes: assignment.attributes.clone() }
    }
}

/// A user's own assignment, and the effective one with their groups'.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserRls {
    #[serde(flatten)]
    pub own: RlsAssignment,
    pub effective: RlsAssignment,
}

/// An embed token and when to replace it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmbedToken {
    /// Send it as `Authorization: Bearer …` to the embed endpoints; never in a URL.
    pub token: String,
    pub token_id: uuid::Uuid,
    pub expiration: Time,
    pub expires_in_seconds: u32,
    pub refresh: RefreshPolicy,
    /// For a report imported from Power BI: Power BI's own embed token, handed to the embedded
    /// report with `setAccessToken`. `expiration` above is then the earlier of the two.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub powerbi: Option<PowerBiEmbed>,
}

/// Power BI's embed token for one report and where to embed it from.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PowerBiEmbed {
    /// GenerateToken's `token`: an embed token (`tokenType` Embed), never put in a URL.
    pub access_token: String,
    pub token_id: String,
    pub expiration: Time,
    pub embed_url: String,
    /// The report's id in Power BI.
    pub report_id: String,
}

/// An event of the live channel: `ready` first, then `revoked` or `expired`, after which the
/// stream ends. `data` is JSON: `{}`, or `{"code":"TokenRevoked"|"TokenExpired"}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct LiveEvent {
    #[schema(value_type = String, pattern = "^(ready|capacity|changed|settings|resync|revoked|expired)$")]
    pub event: &'static str,
    #[schema(value_type = String)]
    pub data: &'static str,
}

impl LiveEvent {
    pub const READY: Self = Self { event: "ready", data: "{}" };
    pub const REVOKED: Self = Self { event: "revoked", data: r#"{"code":"TokenRevoked"}"# };
    pub const EXPIRED: Self = Self { event: "expired", data: r#"{"code":"TokenExpired"}"# };
    /// What the channel missed is not known: read the report and a token again.
    pub const RESYNC: Self = Self { event: "resync", data: "{}" };
}

impl From<LiveEvent> for axum::response::sse::Event {
    fn from(event: LiveEvent) -> Self {
        Self::default().event(event.event).data(event.data)
    }
}

/// Every list of the API is a JSON array of its items.
pub fn list<'a, T: 'a, U: From<&'a T>>(items: &'a [T]) -> Vec<U> {
    items.iter().map(U::from).collect()
}

/// A paired screen, with how it is.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Display {
    /// Also the id of the user it is backed by (for groups and grants).
    pub id: UserId,
    pub name: String,
    /// Its row-level-security username, an address no mail reaches.
    pub handle: String,
    /// What it shows: `{"report", "pageSeconds"?}` or `{"playlist": [{"report", "seconds"}]}`.
    #[schema(value_type = Object)]
    pub show: Value,
    pub paired_at: Time,
    pub paired_by: String,
    /// `online`, or `offline` when not heard from for three minutes.
    #[schema(pattern = "^(online|offline)$")]
    pub status: &'static str,
    pub offline_since: Option<Time>,
    pub last_seen_at: Option<Time>,
    /// What the screen said last: `showing`, `paused` (its capacity), `starting`, `error`,
    /// `connecting`; with `detail` (the report shown, or the error).
    pub state: Option<String>,
    pub detail: Option<String>,
    /// The screen's browser, as it says (User-Agent).
    pub browser: Option<String>,
}

impl Display {
    pub fn at(display: &store::Display, now: DateTime<Utc>) -> Self {
        let offline_since = crate::services::displays::offline_since(display, now);
        Self {
            id: display.id,
            name: display.name.clone(),
            handle: display.handle.clone(),
            show: display.show.clone(),
            paired_at: Time(display.paired_at),
            paired_by: display.paired_by.clone(),
            status: if offline_since.is_some() { "offline" } else { "online" },
            offline_since: offline_since.map(Time),
            last_seen_at: display.last_seen_at.map(Time),
            state: display.last_state.clone(),
            detail: display.last_detail.clone(),
            browser: display.user_agent.clone(),
        }
    }
}

/// A code for a screen to show, and the secret with which it collects its credential.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DisplayPairing {
    pub code: String,
    /// Kept by the screen, never shown: `POST /api/v1/display/pairings/claim` with it.
    pub secret: String,
    pub expires_at: Time,
    pub check_every_seconds: u32,
}

/// Paired: the screen's credential, in this answer only.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DisplayCredential {
    /// Sent as `Authorization: Bearer …` by the screen; kept in its browser's storage.
    pub credential: String,
    pub display: DisplayIdentity,
}

/// A screen still waiting for its code to be entered.
#[derive(Debug, Serialize, ToSchema)]
pub struct DisplayWaiting {
    #[schema(pattern = "^waiting$")]
    pub status: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DisplayIdentity {
    pub id: UserId,
    pub name: String,
}

/// What a paired screen needs to know of itself.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DisplayOwn {
    pub id: UserId,
    pub name: String,
    #[schema(value_type = Object)]
    pub show: Value,
    /// Rotate the credential now (`POST /api/v1/display/credential`).
    pub rotate: bool,
    pub heartbeat_seconds: u32,
}

/// A rotated credential; the one before stays valid for an hour.
#[derive(Debug, Serialize, ToSchema)]
pub struct DisplayRotated {
    pub credential: String,
}
