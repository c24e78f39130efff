//! Embed tokens a host app mints, with an API key, for its own users: people without a Vitrine
//! account, known by the host's id ("identities"). Their tokens are revoked by identity, carry
//! the row-level-security roles and attributes the host gives, and get the capacity rights
//! the key grants.

use serde_json::Value;
use vitrine_core::token::{
    MAX_REPORTS_PER_TOKEN, MAX_RLS_IDENTITY_BYTES, RevocationScope, RlsIdentity, Subject,
};
use vitrine_core::{Fields, OrgId, Permission, ReportId, validate};
use vitrine_store::{ApiKey, Identity, IdentitySeen, RlsAssignment};

use super::tokens::IssueFailure;
use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::tokens::request_info::RequestInfo;
use crate::tokens::{Grant, IssueError, IssuedToken};

/// The fields of `POST /api/v1/embed/tokens`.
pub const FIELDS: [&str; 3] = ["reports", "identity", "lifetimeMinutes"];
/// The fields of its `identity`.
pub const IDENTITY_FIELDS: [&str; 4] = ["id", "name", "roles", "attributes"];
/// The shortest lifetime a host app may ask for; the organization's setting is the longest.
const MIN_LIFETIME_MINUTES: i64 = 5;

/// What the host app asks for.
#[derive(Debug, Clone)]
pub struct MintRequest {
    pub reports: Vec<ReportId>,
    pub external_id: String,
    pub name: Option<String>,
    pub rls: RlsAssignment,
    pub lifetime_minutes: Option<u32>,
}

/// Reads `{"reports":[…],"identity":{"id","name"?,"roles"?,"attributes"?},"lifetimeMinutes"?}`.
pub fn read_request(input: &Fields) -> ApiResult<MintRequest> {
    input.allow_only(&FIELDS)?;
    let raw = input.as_value();
    let too_many = || {
        ApiError::invalid(
            "reports",
            format!("must be a list of 1 to {MAX_REPORTS_PER_TOKEN} report ids"),
        )
    };
    let Some(Value::Array(items)) = raw.get("reports") else {
        return Err(too_many());
    };
    // Each report once, in the order asked for.
    let mut reports = Vec::new();
    for item in items {
        let id = item
            .as_str()
            .and_then(|raw| raw.parse::<ReportId>().ok())
            .ok_or_else(|| ApiError::invalid("reports", "must be a list of report ids"))?;
        if !reports.contains(&id) {
            if reports.len() == MAX_REPORTS_PER_TOKEN {
                return Err(too_many());
            }
            reports.push(id);
        }
    }
    if reports.is_empty() {
        return Err(too_many());
    }
    let identity = match raw.get("identity") {
        Some(Value::Object(map)) => Fields::from_map(map.clone()),
        _ => return Err(ApiError::invalid("identity", "must be an object with an `id`")),
    };
    identity.allow_only(&IDENTITY_FIELDS).map_err(|e| {
        ApiError::invalid("identity", format!("`{}` is not a known field", e.field))
    })?;
    let external_id = identity
        .required_str("id")
        .and_then(|id| validate::name("identity.id", id))
        .map_err(|e| ApiError::invalid("identity.id", e.message))?;
    let name =
        identity.optional_str("name")?.map(|n| validate::name("identity.name", n)).transpose()?;
    let identity_value = identity.as_value();
    let parts = serde_json::json!({
        "roles": identity_value.get("roles").cloned().unwrap_or(Value::Null),
        "attributes": identity_value.get("attributes").cloned().unwrap_or(Value::Null),
    });
    let rls = super::rls::assignment_from(&Fields::from_value(parts.clone())?, &parts)
        .map_err(|e| ApiError::invalid("identity", e.message))?;
    let carried = RlsIdentity {
        username: external_id.clone(),
        roles: rls.roles.clone(),
        attributes: rls.attributes.clone(),
    };
    if carried.encoded_len() > MAX_RLS_IDENTITY_BYTES {
        return Err(ApiError::invalid(
            "identity",
            format!(
                "its id, roles and attributes take {} bytes; at most {MAX_RLS_IDENTITY_BYTES} fit in a token",
                carried.encoded_len()
            ),
        ));
    }
    let lifetime_minutes = input
        .optional_int_in("lifetimeMinutes", MIN_LIFETIME_MINUTES, 24 * 60)?
        .map(|minutes| minutes as u32);
    Ok(MintRequest { reports, external_id, name, rls, lifetime_minutes })
}

/// The capacity permissions a key's tokens hold.
fn key_permissions(key: &ApiKey) -> Vec<Permission> {
    let mut held = Vec::new();
    if key.wake_capacity {
        held.push(Permission::CapacityTurnOn);
    }
    if key.keep_capacity_on {
        held.push(Permission::CapacityKeepOn);
    }
    held
}

/// How long a host app's user's record stands before a mint writes it again (`last_seen_at`
/// is that coarse): a busy host app costs no write per token.
const REWRITE_AFTER_SECONDS: i64 = 60;
/// Host apps' users remembered at most; past it, those not seen lately are forgotten.
const MAX_REMEMBERED: usize = 100_000;

/// Host apps' users this node recorded lately, so that minting writes each at most once a
/// minute (or when their name or key changes).
#[derive(Default)]
pub struct RecentIdentities {
    seen: std::sync::Mutex<std::collections::HashMap<(OrgId, String), Identity>>,
}

impl RecentIdentities {
    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<(OrgId, String), Identity>> {
        self.seen.lock().unwrap_or_else(|poison| poison.into_inner())
    }

    /// The record of `seen`, when this node wrote it lately and it would not change.
    fn current(&self, org: OrgId, seen: &IdentitySeen) -> Option<Identity> {
        let map = self.lock();
        let known = map.get(&(org, seen.external_id.clone()))?;
        let unchanged = seen.name.as_ref().is_none_or(|name| *name == known.name)
            && (seen.key.is_none() || seen.key == known.last_key_id);
        let recent = (seen.at - known.last_seen_at).num_seconds() < REWRITE_AFTER_SECONDS;
        (unchanged && recent).then(|| known.clone())
    }

    fn remember(&self, identity: &Identity, now: chrono::DateTime<chrono::Utc>) {
        let mut map = self.lock();
        if map.len() >= MAX_REMEMBERED {
            map.retain(|_, known| (now - known.last_seen_at).num_seconds() < REWRITE_AFTER_SECONDS);
            if map.len() >= MAX_REMEMBERED {
                map.clear();
            }
        }
        map.insert((identity.org_id, identity.external_id.clone()), identity.clone());
    }
}

/// The record of the host app's user a token is minted for, written at most once a minute.
async fn record_identity(state: &AppState, org: OrgId, seen: &IdentitySeen) -> ApiResult<Identity> {
    if let Some(identity) = state.identities.current(org, seen) {
        return Ok(identity);
    }
    let identity = state.store.identity_seen(org, seen).await?;
    state.identities.remember(&identity, seen.at);
    Ok(identity)
}

/// How a host app's user is named in capacity activity and the audit.
pub fn label(external_id: &str) -> String {
    format!("identity {external_id}")
}

/// A token for the host app's user of `request`, minted with `key`, if the key may and the
/// reports' capacities let them through. Dated with the caller's snapshot, taken before
/// anything here was read.
pub async fn mint(
    state: &AppState,
    caller: &Caller,
    key: &ApiKey,
    request: &MintRequest,
    client: &RequestInfo,
) -> Result<IssuedToken, IssueFailure> {
    let org = caller.principal.org_id;
    let mut capacities = Vec::new();
    let mut powerbi = None;
    for id in &request.reports {
        if !key.covers_report(*id) {
            return Err(ApiError::new(
                ErrorCode::NoAccess,
                format!("This API key may not mint tokens for report {id}."),
            )
            .into());
        }
        let report = state.store.get_report(org, *id).await.map_err(|error| match error {
            vitrine_store::StoreError::NotFound => {
                ApiError::invalid("reports", format!("{id} is not a report of this organization"))
            }
            other => other.into(),
        })?;
        if let Some(capacity) = report.capacity_id
            && !capacities.contains(&capacity)
        {
            capacities.push(capacity);
        }
        if report.powerbi.is_some() && request.reports.len() > 1 {
            return Err(ApiError::invalid(
                "reports",
                format!("{id} is a Power BI report: a token for one covers that report alone"),
            )
            .into());
        }
        powerbi = report.powerbi;
    }
    let now = state.clock.now();
    let label = label(&request.external_id);
    let held = key_permissions(key);
    for capacity in capacities {
        super::capacities::admit_holding(state, org, &label, capacity, true, &held).await?;
    }
    let seen = IdentitySeen {
        external_id: request.external_id.clone(),
        name: request.name.clone(),
        key: Some(key.id),
        at: now,
    };
    let identity = record_identity(state, org, &seen).await?;
    let subject = Subject::Identity(identity.id);
    let mut policy = caller.org_settings.token_policy();
    if let Some(minutes) = request.lifetime_minutes {
        policy = policy.at_most(minutes);
    }
    let rls = RlsIdentity {
        username: request.external_id.clone(),
        roles: request.rls.roles.clone(),
        attributes: request.rls.attributes.clone(),
    };
    let powerbi =
        super::powerbi::embed_token_if_linked(state, org, powerbi.as_ref(), &rls, &policy).await?;
    if state.tokens.revoker.index.revoked_since(org, subject, &request.reports, caller.snapshot) {
        return Err(IssueFailure::Stale);
    }
    let mut issued = state
        .tokens
        .issue(
            Grant {
                org,
                subject,
                reports: request.reports.clone(),
                rls,
                keeps_capacity_on: key.keep_capacity_on,
            },
            policy,
            caller.snapshot,
            now,
        )
        .map_err(|error| match error {
            IssueError::TooLarge(_) | IssueError::Reports(_) => ApiError::invalid(
                "identity",
                "the identity and reports do not fit in a token; give fewer",
            ),
            IssueError::Encode(error) => {
                tracing::error!(%error, "could not mint a token");
                ApiError::internal()
            }
        })?;
    if let Some(grant) = powerbi {
        issued.pair_with(grant, now);
    }
    for report in &request.reports {
        let event = super::tokens::issued_event(org, subject, *report, &issued, client, now);
        state.tokens.audit.record(event);
    }
    Ok(issued)
}

/// Every token of the host app's user `external_id` stops working within a second.
pub async fn revoke(state: &AppState, caller: &Caller, external_id: &str) -> ApiResult<Identity> {
    let org = caller.principal.org_id;
    let identity = state
        .store
        .find_identity(org, external_id)
        .await?
        .ok_or_else(|| ApiError::not_found("identity"))?;
    state.tokens.revoker.revoke(RevocationScope::Identity(identity.id)).await?;
    let subject = Some(Subject::Identity(identity.id));
    let reason = "identity's tokens revoked";
    state.tokens.audit.record(super::tokens::revoked_event(state, org, caller, subject, reason));
    Ok(identity)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, Utc};
    use vitrine_core::{ApiKeyId, IdentityId};

    #[test]
    fn a_host_apps_user_is_written_again_after_a_minute_or_when_their_name_or_key_changes() {
        let (org, key, at) = (OrgId::generate(), ApiKeyId::generate(), Utc::now());
        let identity = Identity {
            id: IdentityId::generate(),
            org_id: org,
            external_id: "cust-42".into(),
            name: "Ada".into(),
            first_seen_at: at,
            last_seen_at: at,
            last_key_id: Some(key),
        };
        let recent = RecentIdentities::default();
        let seen = |seconds: i64, name: Option<&str>, key: ApiKeyId| IdentitySeen {
            external_id: "cust-42".into(),
            name: name.map(str::to_string),
            key: Some(key),
            at: at + Duration::seconds(seconds),
        };
        assert_eq!(recent.current(org, &seen(1, None, key)), None, "never written on this node");
        recent.remember(&identity, at);
        assert_eq!(recent.current(org, &seen(30, None, key)), Some(identity.clone()));
        assert_eq!(recent.current(org, &seen(30, Some("Ada"), key)), Some(identity.clone()));
        assert_eq!(recent.current(org, &seen(61, None, key)), None, "a minute later");
        assert_eq!(recent.current(org, &seen(30, Some("Ada L."), key)), None, "a new name");
        assert_eq!(recent.current(org, &seen(30, None, ApiKeyId::generate())), None, "another key");
        assert_eq!(recent.current(OrgId::generate(), &seen(30, None, key)), None, "another org");
    }
}
