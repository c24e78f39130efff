//! Row-level-security roles and attributes of users and groups. A change takes back the
//! tokens of everyone it affects, since tokens carry the identity.

use vitrine_core::token::{RevocationScope, RlsIdentity};
use vitrine_core::{AdminScope, Fields, OrgId, validate};
use vitrine_store::{Grantee, RlsAssignment, User};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};

const MAX_ROLES: usize = 50;
const MAX_ATTRIBUTES: usize = 50;

/// Reads `{"roles":[…],"attributes":{…}}`.
pub fn assignment_from(input: &Fields, raw: &serde_json::Value) -> ApiResult<RlsAssignment> {
    input.allow_only(&["roles", "attributes"])?;
    let mut assignment = RlsAssignment::default();
    match raw.get("roles") {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::Array(items)) if items.len() <= MAX_ROLES => {
            for item in items {
                let role = item
                    .as_str()
                    .ok_or_else(|| ApiError::invalid("roles", "must be a list of role names"))?;
                let role = validate::name("roles", role)?;
                if !assignment.roles.contains(&role) {
                    assignment.roles.push(role);
                }
            }
        }
        Some(_) => {
            return Err(ApiError::invalid(
                "roles",
                format!("must be a list of at most {MAX_ROLES} role names"),
            ));
        }
    }
    match raw.get("attributes") {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::Object(map)) if map.len() <= MAX_ATTRIBUTES => {
            for (name, value) in map {
                let name = validate::name("attributes", name)?;
                let value = value.as_str().ok_or_else(|| {
                    ApiError::invalid("attributes", format!("`{name}` must be text"))
                })?;
                assignment.attributes.insert(name, validate::name("attributes", value)?);
            }
        }
        Some(_) => {
            return Err(ApiError::invalid(
                "attributes",
                format!("must be an object of at most {MAX_ATTRIBUTES} names and values"),
            ));
        }
    }
    Ok(assignment)
}

/// Parses the portal's text form: roles separated by commas, one `name = value` per line.
pub fn assignment_from_text(roles: &str, attributes: &str) -> ApiResult<RlsAssignment> {
    let roles: Vec<serde_json::Value> = roles
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(serde_json::Value::from)
        .collect();
    let mut map = serde_json::Map::new();
    for line in attributes.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once('=').ok_or_else(|| {
            ApiError::invalid("attributes", format!("`{line}`: write one name = value per line"))
        })?;
        map.insert(name.trim().to_string(), serde_json::Value::from(value.trim()));
    }
    let raw = serde_json::json!({ "roles": roles, "attributes": map });
    let fields = Fields::from_value(raw.clone()).map_err(ApiError::from)?;
    assignment_from(&fields, &raw)
}

pub async fn set(
    state: &AppState,
    scope: &AdminScope,
    caller: &Caller,
    grantee: Grantee,
    assignment: &RlsAssignment,
) -> ApiResult<()> {
    let org = scope.org_id();
    let before = state.store.rls_assignment(org, grantee).await?;
    state
        .store
        .set_rls_assignment(org, &caller.actor(state.clock.now()), grantee, assignment)
        .await?;
    if &before != assignment {
        let users = match grantee {
            Grantee::User(user) => vec![user],
            Grantee::Group(group) => {
                state.store.group_members(org, group).await?.iter().map(|m| m.id).collect()
            }
        };
        for user in users {
            state.tokens.revoker.revoke(RevocationScope::User(user)).await?;
        }
    }
    Ok(())
}

/// The row-level-security identity a user's tokens carry.
pub async fn identity_of(state: &AppState, org: OrgId, user: &User) -> ApiResult<RlsIdentity> {
    let effective = state.store.effective_rls(org, user.id).await?;
    Ok(RlsIdentity {
        username: user.email.clone(),
        roles: effective.roles,
        attributes: effective.attributes,
    })
}

pub fn assignment_json(assignment: &RlsAssignment) -> serde_json::Value {
    serde_json::json!({ "roles": assignment.roles, "attributes": assignment.attributes })
}
