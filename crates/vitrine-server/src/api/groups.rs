//! `/api/v1/groups`: administrators manage groups and their members.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use vitrine_core::GroupId;
use vitrine_store::Grantee;

use super::{JsonFields, json};
use crate::app::AppState;
use crate::auth::ApiCaller;
use crate::error::ApiResult;
use crate::services::{groups, parse_id};

pub async fn list(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> ApiResult<Json<Value>> {
    let scope = caller.principal.admin()?;
    let groups = state.store.list_groups(scope.org_id()).await?;
    Ok(Json(json::list(&groups, json::group)))
}

pub async fn create(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    JsonFields(input): JsonFields,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let scope = caller.principal.admin()?;
    let group = groups::create(&state, &scope, &caller, &input).await?;
    Ok((StatusCode::CREATED, Json(json::group(&group))))
}

pub async fn show(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let scope = caller.principal.admin()?;
    let id: GroupId = parse_id(&id, "group")?;
    let group = state.store.get_group(scope.org_id(), id).await?;
    let members = state.store.group_members(scope.org_id(), id).await?;
    let permissions = state.store.direct_permissions(scope.org_id(), Grantee::Group(id)).await?;
    let mut body = json::group(&group);
    body["members"] = json::list(&members, json::user);
    body["permissions"] = json!(permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>());
    Ok(Json(body))
}

pub async fn delete(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let scope = caller.principal.admin()?;
    groups::delete(&state, &scope, &caller, parse_id(&id, "group")?).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn add_member(
    state: State<AppState>,
    caller: ApiCaller,
    Path((id, user_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    set_member(state, caller, &id, &user_id, true).await
}

pub async fn remove_member(
    state: State<AppState>,
    caller: ApiCaller,
    Path((id, user_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    set_member(state, caller, &id, &user_id, false).await
}

async fn set_member(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    group: &str,
    user: &str,
    member: bool,
) -> ApiResult<StatusCode> {
    let scope = caller.principal.admin()?;
    let (group, user) = (parse_id(group, "group")?, parse_id(user, "user")?);
    groups::set_member(&state, &scope, &caller, group, user, member).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/groups/{id}/rls`
pub async fn rls(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let scope = caller.principal.admin()?;
    let id: GroupId = parse_id(&id, "group")?;
    let assignment = state.store.rls_assignment(scope.org_id(), Grantee::Group(id)).await?;
    Ok(Json(crate::services::rls::assignment_json(&assignment)))
}

/// `PUT /api/v1/groups/{id}/rls`: replaces the group's roles and attributes; its members'
/// tokens are revoked when anything changed.
pub async fn put_rls(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
    JsonFields(input): JsonFields,
) -> ApiResult<Json<Value>> {
    let scope = caller.principal.admin()?;
    let id: GroupId = parse_id(&id, "group")?;
    let assignment = crate::services::rls::assignment_from(&input, &input.as_value())?;
    crate::services::rls::set(&state, &scope, &caller, Grantee::Group(id), &assignment).await?;
    Ok(Json(crate::services::rls::assignment_json(&assignment)))
}
