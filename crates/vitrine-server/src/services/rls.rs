//! Row-level-security roles and attributes of users and groups. A change takes back the
//! tokens of everyone it affects, since tokens carry the identity.

use vitrine_core::token::{MAX_RLS_IDENTITY_BYTES, RevocationScope, RlsIdentity};
use vitrine_core::{AdminScope, Fields, GroupId, OrgId, validate};
use vitrine_store::{Grantee, RlsAssignment, User};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};

pub const FIELDS: [&str; 2] = ["roles", "attributes"];

const MAX_ROLES: usize = 50;
const MAX_ATTRIBUTES: usize = 50;

/// Reads `{"roles":[…],"attributes":{…}}`.
pub fn assignment_from(input: &Fields, raw: &serde_json::Value) -> ApiResult<RlsAssignment> {
    input.allow_only(&FIELDS)?;
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

/// The identity a user's tokens carry, from their effective assignment.
pub fn identity(username: &str, assignment: &RlsAssignment) -> RlsIdentity {
    RlsIdentity {
        username: username.to_string(),
        roles: assignment.roles.clone(),
        attributes: assignment.attributes.clone(),
    }
}

/// What a change of assignments would make of a user's identity.
pub enum Prospect<'a> {
    /// `grantee`'s assignment becomes `assignment`.
    Assign(Grantee, &'a RlsAssignment),
    /// The user joins `group`.
    Join(GroupId),
    /// Nothing changes but the user record itself (a new email is a new username).
    Unchanged,
}

/// Refuses a change after which some token of `user` could not fit the verifier: the
/// identity covering the user's own assignment and every group's (after the change) must stay
/// within [`MAX_RLS_IDENTITY_BYTES`]. `field` names the input at fault.
pub async fn ensure_identity_fits(
    state: &AppState,
    org: OrgId,
    user: &User,
    prospect: &Prospect<'_>,
    field: &str,
) -> ApiResult<()> {
    let mut grantees = vec![Grantee::User(user.id)];
    grantees.extend(
        state.store.groups_of_user(org, user.id).await?.iter().map(|g| Grantee::Group(g.id)),
    );
    if let Prospect::Join(group) = prospect
        && !grantees.contains(&Grantee::Group(*group))
    {
        grantees.push(Grantee::Group(*group));
    }
    let mut covering = RlsIdentity { username: user.email.clone(), ..Default::default() };
    for grantee in grantees {
        let assignment = match prospect {
            Prospect::Assign(changed, assignment) if *changed == grantee => (*assignment).clone(),
            _ => state.store.rls_assignment(org, grantee).await?,
        };
        covering = covering.covering(&identity(&user.email, &assignment));
    }
    let size = covering.encoded_len();
    if size > MAX_RLS_IDENTITY_BYTES {
        return Err(ApiError::invalid(
            field,
            format!(
                "{}'s row-level-security roles and attributes, with their groups', would take {size} bytes in a token; at most {MAX_RLS_IDENTITY_BYTES} fit",
                user.email
            ),
        ));
    }
    Ok(())
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
    let affected = match grantee {
        Grantee::User(user) => vec![state.store.get_user(org, user).await?],
        Grantee::Group(group) => state.store.group_members(org, group).await?,
    };
    let roles_json = serde_json::to_vec(&assignment.roles).map(|j| j.len()).unwrap_or(0);
    let attributes_json = serde_json::to_vec(&assignment.attributes).map(|j| j.len()).unwrap_or(0);
    let field = if roles_json >= attributes_json { "roles" } else { "attributes" };
    for user in &affected {
        ensure_identity_fits(state, org, user, &Prospect::Assign(grantee, assignment), field)
            .await?;
    }
    state
        .store
        .set_rls_assignment(org, &caller.actor(state.clock.now()), grantee, assignment)
        .await?;
    if &before != assignment {
        for user in affected {
            state.tokens.revoker.revoke(RevocationScope::User(user.id)).await?;
        }
    }
    Ok(())
}

/// The row-level-security identity a user's tokens carry.
pub async fn identity_of(state: &AppState, org: OrgId, user: &User) -> ApiResult<RlsIdentity> {
    Ok(identity(&user.email, &state.store.effective_rls(org, user.id).await?))
}
