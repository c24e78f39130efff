//! `/scim/v2/Groups`: the organization's groups as SCIM Groups. Members are users (by id); a
//! member who leaves loses what the group gave at once: their tokens are revoked and their open
//! reports ask again, within a second.

use std::collections::BTreeSet;

use axum::body::Bytes;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};
use vitrine_core::{Fields, GroupId, UserId};
use vitrine_store::{Group, ScimGroup, StoreError};

use super::patch::apply_patch;
use super::{
    GROUP_SCHEMA, ListQuery, Projection, ScimCaller, ScimError, ScimResult, ScimState, body_object,
    list_response, location, scim_json,
};
use crate::app::AppState;
use crate::services;

/// Members one group may be given in one request, at most.
const MAX_MEMBERS: usize = 10_000;

struct Wanted {
    name: String,
    members: BTreeSet<UserId>,
    external_id: Option<String>,
}

/// A member's user id: its `value`, or the last segment of its `$ref`.
fn member_id(member: &Value) -> Option<UserId> {
    let value = member.get("value").and_then(Value::as_str).and_then(|v| v.parse().ok());
    value.or_else(|| {
        member
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.rsplit_once("/Users/"))
            .and_then(|(_, id)| id.parse().ok())
    })
}

/// Up to this many members are checked one by one rather than against the whole user list.
const FEW_MEMBERS: usize = 32;

fn not_a_member(member: &Value) -> ScimError {
    ScimError::invalid_value(format!("members: {member} is not a user of this organization"))
}

async fn read(state: &AppState, caller: &ScimCaller, doc: &Value) -> ScimResult<Wanted> {
    let name = doc
        .get("displayName")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ScimError::invalid_value("displayName is required"))?;
    let name = vitrine_core::validate::name("displayName", name)
        .map_err(|e| ScimError::invalid_value(format!("displayName {}", e.message)))?;
    let members = match doc.get("members") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) if items.len() <= MAX_MEMBERS => items.clone(),
        Some(_) => {
            return Err(ScimError::invalid_value(format!(
                "members is a list of at most {MAX_MEMBERS} {{value}}"
            )));
        }
    };
    let mut wanted = BTreeSet::new();
    for member in &members {
        let id = member_id(member).ok_or_else(|| not_a_member(member))?;
        wanted.insert(id);
    }
    let org = caller.scope.org_id();
    // A few members (what a PATCH adds) are looked up one by one; more, against one list.
    let unknown = if wanted.len() <= FEW_MEMBERS {
        let mut unknown = None;
        for &id in &wanted {
            match state.store.get_user(org, id).await {
                Ok(user) if !user.display => {}
                Ok(_) | Err(StoreError::NotFound) => {
                    unknown = Some(id);
                    break;
                }
                Err(error) => return Err(error.into()),
            }
        }
        unknown
    } else {
        let users: BTreeSet<UserId> = state
            .store
            .list_users(org)
            .await?
            .iter()
            .filter(|u| !u.display)
            .map(|u| u.id)
            .collect();
        wanted.iter().find(|id| !users.contains(id)).copied()
    };
    if let Some(id) = unknown {
        let member = members.iter().find(|m| member_id(m) == Some(id)).unwrap_or(&Value::Null);
        return Err(not_a_member(member));
    }
    let external_id = match doc.get("externalId") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.len() <= 256 => Some(s.clone()),
        Some(_) => {
            return Err(ScimError::invalid_value("externalId is a string of at most 256 bytes"));
        }
    };
    Ok(Wanted { name, members: wanted, external_id })
}

async fn document(state: &AppState, group: &Group, known: Option<&ScimGroup>) -> ScimResult<Value> {
    let members = state.store.group_members(group.org_id, group.id).await?;
    let mut doc = json!({
        "schemas": [GROUP_SCHEMA],
        "id": group.id.to_string(),
        "displayName": group.name,
        // `value` and `$ref` only: a provider reads back exactly the members it wrote.
        "members": members.iter().map(|u| json!({
            "value": u.id.to_string(),
            "$ref": location(state, "Users", u.id),
        })).collect::<Vec<_>>(),
        "meta": {
            "resourceType": "Group",
            "created": crate::api::json::time(group.created_at),
            "lastModified": crate::api::json::time(group.created_at),
            "location": location(state, "Groups", group.id),
        },
    });
    if let Some(external_id) = known.and_then(|k| k.external_id.as_deref()) {
        doc["externalId"] = json!(external_id);
    }
    Ok(doc)
}

async fn find(
    state: &AppState,
    caller: &ScimCaller,
    id: &str,
) -> ScimResult<(Group, Option<ScimGroup>)> {
    let missing = || ScimError::not_found(format!("No group {id}."));
    let id: GroupId = id.parse().map_err(|_| missing())?;
    let group = match state.store.get_group(caller.scope.org_id(), id).await {
        Ok(group) => group,
        Err(StoreError::NotFound) => return Err(missing()),
        Err(error) => return Err(error.into()),
    };
    let known = state.store.scim_group(caller.scope.org_id(), id).await?;
    Ok((group, known))
}

/// Gives the group exactly `members`: joins and leaves through the same service as the Admin
/// Portal (a leaver's tokens are revoked).
async fn set_members(
    state: &AppState,
    caller: &ScimCaller,
    group: GroupId,
    members: &BTreeSet<UserId>,
) -> ScimResult<()> {
    let org = caller.scope.org_id();
    let current: BTreeSet<UserId> =
        state.store.group_members(org, group).await?.iter().map(|u| u.id).collect();
    for user in members.difference(&current) {
        services::groups::set_member(state, &caller.scope, &caller.caller, group, *user, true)
            .await?;
    }
    for user in current.difference(members) {
        services::groups::set_member(state, &caller.scope, &caller.caller, group, *user, false)
            .await?;
    }
    Ok(())
}

/// `POST …/.search`: a list asked for in a body.
pub async fn search(state: ScimState, caller: ScimCaller, body: Bytes) -> ScimResult {
    let query = ListQuery::from_search(&body_object(&body)?);
    list(state, caller, Query(query)).await
}

/// The attributes a filter may name.
pub const FILTERS: [&str; 3] = ["displayname", "externalid", "id"];

/// Counts every resource `filter` keeps into `page`, with the documents of those on it.
pub async fn matching(
    state: &AppState,
    caller: &ScimCaller,
    filter: Option<&super::Filter>,
    page: &mut super::Page,
) -> ScimResult<()> {
    let org = caller.scope.org_id();
    let known = state.store.scim_groups(org).await?;
    for group in state.store.list_groups(org).await? {
        let scim = known.iter().find(|k| k.group_id == group.id);
        let keep = match filter {
            None => true,
            Some(f) => match f.attribute.as_str() {
                "displayname" => group.name.eq_ignore_ascii_case(&f.value),
                "externalid" => {
                    scim.and_then(|k| k.external_id.as_deref()) == Some(f.value.as_str())
                }
                _ => group.id.to_string() == f.value,
            },
        };
        if keep && page.wants() {
            page.resources.push(document(state, &group, scim).await?);
        }
    }
    Ok(())
}

pub async fn list(
    state: ScimState,
    caller: ScimCaller,
    Query(query): Query<ListQuery>,
) -> ScimResult {
    let filter = query.filter(&FILTERS)?;
    let mut page = query.empty_page();
    matching(&state, &caller, filter.as_ref(), &mut page).await?;
    Ok(list_response(&query, page))
}

pub async fn show(
    state: ScimState,
    caller: ScimCaller,
    Path(id): Path<String>,
    Query(projection): Query<Projection>,
) -> ScimResult {
    let (group, known) = find(&state, &caller, &id).await?;
    let doc = document(&state, &group, known.as_ref()).await?;
    Ok(scim_json(StatusCode::OK, &projection.apply(doc)))
}

pub async fn create(state: ScimState, caller: ScimCaller, body: Bytes) -> ScimResult {
    let wanted = read(&state, &caller, &body_object(&body)?).await?;
    let input =
        Fields::from_value(json!({ "name": wanted.name, "description": "Provisioned by SCIM" }))
            .map_err(crate::error::ApiError::from)?;
    let group = services::groups::create(&state, &caller.scope, &caller.caller, &input).await?;
    let known = ScimGroup { group_id: group.id, external_id: wanted.external_id.clone() };
    state.store.set_scim_group(caller.scope.org_id(), &known).await?;
    set_members(&state, &caller, group.id, &wanted.members).await?;
    let (group, known) = find(&state, &caller, &group.id.to_string()).await?;
    Ok(scim_json(StatusCode::CREATED, &document(&state, &group, known.as_ref()).await?))
}

async fn save(state: &AppState, caller: &ScimCaller, group: Group, doc: &Value) -> ScimResult {
    let wanted = read(state, caller, doc).await?;
    if wanted.name != group.name {
        let actor = caller.caller.actor(state.clock.now());
        state
            .store
            .rename_group(caller.scope.org_id(), &actor, group.id, &wanted.name)
            .await
            .map_err(|error| match error {
                StoreError::Conflict { .. } => {
                    ScimError::new(StatusCode::CONFLICT, Some("uniqueness"), "displayName is taken")
                }
                other => other.into(),
            })?;
    }
    let known = ScimGroup { group_id: group.id, external_id: wanted.external_id.clone() };
    state.store.set_scim_group(caller.scope.org_id(), &known).await?;
    set_members(state, caller, group.id, &wanted.members).await?;
    let (group, known) = find(state, caller, &group.id.to_string()).await?;
    Ok(scim_json(StatusCode::OK, &document(state, &group, known.as_ref()).await?))
}

pub async fn replace(
    state: ScimState,
    caller: ScimCaller,
    Path(id): Path<String>,
    body: Bytes,
) -> ScimResult {
    let doc = body_object(&body)?;
    let (group, _) = find(&state, &caller, &id).await?;
    save(&state, &caller, group, &doc).await
}

pub async fn patch(
    state: ScimState,
    caller: ScimCaller,
    Path(id): Path<String>,
    body: Bytes,
) -> ScimResult {
    let request = body_object(&body)?;
    let (group, known) = find(&state, &caller, &id).await?;
    let Value::Object(mut doc) = document(&state, &group, known.as_ref()).await? else {
        return Err(ScimError::invalid_value("unreadable group"));
    };
    apply_patch(&mut doc, &request)?;
    let doc: Map<String, Value> = doc;
    save(&state, &caller, group, &Value::Object(doc)).await
}

pub async fn delete(state: ScimState, caller: ScimCaller, Path(id): Path<String>) -> ScimResult {
    let (group, _) = find(&state, &caller, &id).await?;
    services::groups::delete(&state, &caller.scope, &caller.caller, group.id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
