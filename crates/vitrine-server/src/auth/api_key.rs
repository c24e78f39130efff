//! Organization API keys: `vtr_` followed by a random secret, shown once at creation and stored
//! only as a SHA-256 hash. A key has a scope (`admin`: whatever an administrator may; `embed`:
//! only mint embed tokens, for the reports listed or all; `read`: only read), may expire, and
//! acts for the administrator who made it: it stops working when their account is blocked,
//! expires, loses its Admin role or is deleted.

use chrono::{DateTime, Duration, Utc};
use vitrine_core::{AdminScope, ApiKeyScope, AuthMethod, Fields, Principal, ReportId, Role};
use vitrine_store::{ApiKey, NewApiKey};

use super::{Caller, random_secret, sha256};
use crate::app::AppState;
use crate::error::{ApiError, ErrorCode};

/// The fields of `POST /api/v1/api-keys`.
pub const FIELDS: [&str; 6] =
    ["name", "scope", "reports", "expiresAt", "wakeCapacity", "keepCapacityOn"];

const PREFIX: &str = "vtr_";
const SHOWN_PREFIX_CHARS: usize = 12;
/// Reports one embed key may list.
pub const MAX_REPORTS: usize = 500;

/// What a new key is to be, read from the API's JSON or the portal's form.
#[derive(Debug, Clone)]
pub struct KeyRequest {
    pub name: String,
    pub scope: ApiKeyScope,
    pub reports: Option<Vec<ReportId>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub wake_capacity: bool,
    pub keep_capacity_on: bool,
}

impl KeyRequest {
    /// Reads `{"name","scope"?,"reports"?,"expiresAt"?,"wakeCapacity"?,"keepCapacityOn"?}`.
    pub fn from_json(input: &Fields) -> Result<Self, ApiError> {
        input.allow_only(&FIELDS)?;
        let scope = match input.optional_str("scope")? {
            None => ApiKeyScope::Admin,
            Some(raw) => scope(raw)?,
        };
        let reports = match input.as_value().get("reports") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::Array(items)) => Some(
                items
                    .iter()
                    .map(|item| item.as_str().ok_or_else(not_a_report_list).and_then(report_id))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            Some(_) => return Err(not_a_report_list()),
        };
        let expires_at = input
            .optional_str("expiresAt")?
            .map(|raw| vitrine_core::validate::expiry("expiresAt", raw))
            .transpose()?;
        Ok(Self {
            name: input.required_str("name")?.to_string(),
            scope,
            reports,
            expires_at,
            wake_capacity: input.optional_bool("wakeCapacity")?.unwrap_or(false),
            keep_capacity_on: input.optional_bool("keepCapacityOn")?.unwrap_or(false),
        })
    }
}

pub fn scope(raw: &str) -> Result<ApiKeyScope, ApiError> {
    ApiKeyScope::parse(raw)
        .ok_or_else(|| ApiError::invalid("scope", "must be admin, embed, read or scim"))
}

pub fn report_id(raw: &str) -> Result<ReportId, ApiError> {
    raw.parse().map_err(|_| ApiError::invalid("reports", format!("`{raw}` is not a report id")))
}

fn not_a_report_list() -> ApiError {
    ApiError::invalid("reports", "must be a list of report ids, or null for all reports")
}

/// Creates a key; the returned secret is never stored and cannot be shown again.
pub async fn create(
    state: &AppState,
    scope: &AdminScope,
    caller: &Caller,
    request: KeyRequest,
) -> Result<(ApiKey, String), ApiError> {
    let name = vitrine_core::validate::name("name", &request.name)?;
    let now = state.clock.now();
    if request.expires_at.is_some_and(|at| at <= now) {
        return Err(ApiError::invalid("expiresAt", "must be in the future"));
    }
    match &request.reports {
        Some(_) if request.scope != ApiKeyScope::Embed => {
            return Err(ApiError::invalid("reports", "only an embed key lists reports"));
        }
        Some(reports) if reports.len() > MAX_REPORTS => {
            return Err(ApiError::invalid("reports", format!("at most {MAX_REPORTS} reports")));
        }
        _ => {}
    }
    // A key made by a key acts for the administrator who made that one.
    let created_by_user = match caller.principal.method {
        AuthMethod::Session | AuthMethod::Display => caller.principal.user_id,
        AuthMethod::ApiKey(..) => caller.api_key.as_ref().and_then(|key| key.created_by_user),
    };
    let secret = format!("{PREFIX}{}", random_secret());
    let new = NewApiKey {
        name,
        prefix: secret.chars().take(SHOWN_PREFIX_CHARS).collect(),
        secret_hash: sha256(&secret),
        scope: request.scope,
        reports: request.reports,
        expires_at: request.expires_at,
        wake_capacity: request.wake_capacity,
        keep_capacity_on: request.keep_capacity_on,
        created_by_user,
    };
    let key = state.store.create_api_key(scope.org_id(), &caller.actor(now), &new).await.map_err(
        |error| match error {
            vitrine_store::StoreError::NotFound => {
                ApiError::invalid("reports", "names a report this organization does not have")
            }
            other => other.into(),
        },
    )?;
    Ok((key, secret))
}

pub(crate) async fn authenticate(
    state: &AppState,
    presented: &str,
    snapshot: vitrine_core::token::Snapshot,
) -> Result<Caller, ApiError> {
    let invalid = super::invalid_api_key;
    if !presented.starts_with(PREFIX) || presented.len() > 128 {
        return Err(invalid());
    }
    let record = state.store.find_api_key(&sha256(presented)).await?.ok_or_else(invalid)?;
    let now = state.clock.now();
    let key = record.key;
    if key.expired_at(now) {
        return Err(ApiError::new(ErrorCode::Unauthenticated, "This X-API-Key has expired."));
    }
    if !record.creator.vouches_at(now) {
        return Err(ApiError::new(
            ErrorCode::Unauthenticated,
            "This X-API-Key no longer works: the administrator who made it is blocked, expired, no longer an administrator or deleted.",
        ));
    }
    if record.org_suspended {
        return Err(super::suspended());
    }
    if key.last_used_at.is_none_or(|at| now - at > Duration::minutes(1)) {
        state.store.touch_api_key(key.id, now).await?;
    }
    let role = match key.scope {
        // A SCIM key manages the organization's users and groups, and nothing else.
        ApiKeyScope::Admin | ApiKeyScope::Read | ApiKeyScope::Scim => Role::Admin,
        ApiKeyScope::Embed => Role::Viewer,
    };
    Ok(Caller {
        org_name: record.org_name,
        org_settings: record.settings,
        principal: Principal {
            org_id: key.org_id,
            user_id: None,
            role,
            label: format!("API key {}", key.name),
            method: AuthMethod::ApiKey(key.id, key.scope),
            operator: false,
        },
        user: None,
        session: None,
        api_key: Some(key),
        snapshot,
    })
}

/// Refuses a call of the JSON API the key's scope does not allow.
pub fn check_scope(caller: &Caller, changes: bool) -> Result<(), ApiError> {
    let AuthMethod::ApiKey(_, scope) = caller.principal.method else {
        return Ok(());
    };
    if scope.allows_api_call(changes) {
        return Ok(());
    }
    Err(ApiError::new(
        ErrorCode::Forbidden,
        match scope {
            ApiKeyScope::Embed => {
                "This API key may only mint embed tokens (POST /api/v1/embed/tokens)."
            }
            ApiKeyScope::Scim => {
                "This API key may only provision users and groups through SCIM (/scim/v2)."
            }
            _ => "This API key may only read.",
        },
    ))
}
