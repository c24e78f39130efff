//! What each fuzz target does with its input, and the properties it holds the code to. Every
//! target must never panic; each also checks a property that a wrong answer would break.

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use vitrine_core::token::{self, EmbedClaims, RlsIdentity};
use vitrine_engine::{DatasetInfo, Engine, QueryRequest, ReportDefinition, demo_data};

const KID: &str = "fuzz";

struct Keys {
    signing: SigningKey,
    verifying: HashMap<String, VerifyingKey>,
}

static KEYS: LazyLock<Keys> = LazyLock::new(|| {
    let signing = SigningKey::from_bytes(&[7; 32]);
    let verifying = HashMap::from([(KID.to_string(), signing.verifying_key())]);
    Keys { signing, verifying }
});

/// The token envelope. The first byte chooses: an even one hands the rest to the verifier as
/// a token; an odd one signs the rest, split into header and claims bytes, with our own key,
/// so that the parsers behind the signature check are reached too. A token that opens must
/// seal again to a token that opens to the same claims.
pub fn token_envelope(input: &[u8]) {
    let Some((&mode, rest)) = input.split_first() else {
        return;
    };
    let token = if mode % 2 == 0 {
        String::from_utf8_lossy(rest).into_owned()
    } else {
        let cut = usize::from(mode >> 1).min(rest.len());
        let (header, claims) = rest.split_at(cut);
        let mut token = URL_SAFE_NO_PAD.encode(header);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(claims, &mut token);
        let signature = KEYS.signing.sign(token.as_bytes());
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature.to_bytes(), &mut token);
        token
    };
    if let Ok(claims) = token::open(&token, &KEYS.verifying) {
        let again = token::seal(&claims, KID, &KEYS.signing).expect("authentic claims seal");
        let reopened: EmbedClaims =
            token::open(&again, &KEYS.verifying).expect("a token we sealed opens");
        assert_eq!(reopened, claims, "sealing changed the claims");
        let _ = token::check_time(&claims, 1_800_000_000);
    }
}

/// The demo's dataset, held once: a few hundred generated rows.
struct Data {
    engine: Engine,
    info: DatasetInfo,
    runtime: tokio::runtime::Runtime,
}

static DATA: LazyLock<Data> = LazyLock::new(|| {
    let engine = Engine::new();
    let batches = demo_data::generate(300).expect("demo rows");
    let info = engine.load_batches("sales", demo_data::schema(), batches).expect("loads");
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    Data { engine, info, runtime }
});

/// A report over the demo data with row-level security by region.
static DEFINITION: LazyLock<ReportDefinition> = LazyLock::new(|| {
    let value = serde_json::json!({
        "dataset": "sales",
        "pages": [{
            "id": "overview", "title": "Overview",
            "slicers": [{"column": "country"}, {"column": "channel"}],
            "visuals": [
                {"id": "by-region", "type": "bar", "title": "Revenue by region",
                 "dimension": {"column": "region"},
                 "measures": [{"column": "revenue", "agg": "sum"}, {"column": "units", "agg": "avg"}]},
                {"id": "by-month", "type": "line", "title": "Units by month",
                 "dimension": {"column": "date", "grain": "month"},
                 "measures": [{"column": "units", "agg": "sum"}], "limit": 24},
                {"id": "total", "type": "card", "title": "Orders",
                 "measures": [{"column": "product", "agg": "countDistinct"}]},
            ],
        }],
        "roles": [{"name": "regional", "filters": [{"column": "region", "attribute": "region"}]}],
    });
    let definition = ReportDefinition::from_json(value).expect("the fuzz definition parses");
    definition.validate(&DATA.info).expect("the fuzz definition is valid");
    definition
});

fn identity(roles: &[&str]) -> RlsIdentity {
    RlsIdentity {
        username: "fuzz@example.com".into(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        attributes: BTreeMap::from([("region".into(), "North".into())]),
    }
}

/// Report definitions as contributors send them: parsed, validated against the dataset, and
/// when valid, every visual and slicer queried. A definition with roles must never answer a
/// user who holds none of them.
pub fn report_definition(input: &[u8]) {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(input) else {
        return;
    };
    let Ok(definition) = ReportDefinition::from_json(value) else {
        return;
    };
    if definition.validate(&DATA.info).is_err() || definition.dataset != "sales" {
        return;
    }
    let first_role: Vec<&str> = definition.roles.iter().map(|r| r.name.as_str()).take(1).collect();
    for page in &definition.pages {
        let requests = page
            .visuals
            .iter()
            .map(|v| QueryRequest {
                page: page.id.clone(),
                visual: Some(v.id.clone()),
                slicer: None,
                filters: Vec::new(),
            })
            .chain(page.slicers.iter().map(|s| QueryRequest {
                page: page.id.clone(),
                visual: None,
                slicer: Some(s.column.clone()),
                filters: Vec::new(),
            }));
        for request in requests {
            let _ = DATA.runtime.block_on(DATA.engine.query(
                &definition,
                &request,
                &identity(&first_role),
            ));
            if definition.has_rls() {
                let nobody =
                    DATA.runtime.block_on(DATA.engine.query(&definition, &request, &identity(&[])));
                assert!(nobody.is_err(), "a user without a role was answered");
            }
        }
    }
}

/// Query bodies as the viewer sends them, against a fixed report: any body is answered or
/// refused, never a panic; a user without a role is always refused; a body accepted for the
/// regional role only ever shows its own region.
pub fn query_body(input: &[u8]) {
    let Ok(request) = serde_json::from_slice::<QueryRequest>(input) else {
        return;
    };
    let regional =
        DATA.runtime.block_on(DATA.engine.query(&DEFINITION, &request, &identity(&["regional"])));
    if let Ok(result) = regional
        && request.visual.as_deref() == Some("by-region")
    {
        for row in &result.rows {
            assert_eq!(row[0], serde_json::json!("North"), "another region leaked: {row:?}");
        }
    }
    let nobody = DATA.runtime.block_on(DATA.engine.query(&DEFINITION, &request, &identity(&[])));
    assert!(nobody.is_err(), "a user without a role was answered");
}
