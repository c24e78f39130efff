//! `/api/v1/groups`: administrators manage groups and their members.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use vitrine_core::{GroupId, UserId};
use vitrine_store::Grantee;

use super::{JsonFields, json, requests};
use crate::app::AppState;
use crate::auth::ApiCaller;
use crate::error::ApiResult;
use crate::services::{groups, parse_id, rls};

#[utoipa::path(get, path = "/groups", tag = "Groups",
    responses((status = 200, body = Vec<json::Group>)))]
pub async fn list(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> ApiResult<Json<Vec<json::Group>>> {
    let scope = caller.principal.admin()?;
    let groups = state.store.list_groups(scope.org_id()).await?;
    Ok(Json(json::list(&groups)))
}

#[utoipa::path(post, path = "/groups", tag = "Groups", request_body = requests::GroupNew,
    responses(
        (status = 201, body = json::Group),
        (status = 409, description = "The name is in use.", body = crate::error::ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    JsonFields(input): JsonFields,
) -> ApiResult<(StatusCode, Json<json::Group>)> {
    let scope = caller.principal.admin()?;
    let group = groups::create(&state, &scope, &caller, &input).await?;
    Ok((StatusCode::CREATED, Json((&group).into())))
}

/// A group with its members and permissions.
#[utoipa::path(get, path = "/groups/{id}", tag = "Groups", params(("id" = GroupId, Path)),
    responses((status = 200, body = json::GroupDetail)))]
pub async fn show(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<json::GroupDetail>> {
    let scope = caller.principal.admin()?;
    let id: GroupId = parse_id(&id, "group")?;
    let group = state.store.get_group(scope.org_id(), id).await?;
    let members = state.store.group_members(scope.org_id(), id).await?;
    let permissions = state.store.direct_permissions(scope.org_id(), Grantee::Group(id)).await?;
    Ok(Json(json::GroupDetail {
        group: (&group).into(),
        members: json::list(&members),
        permissions: permissions.iter().map(|p| p.as_str().to_string()).collect(),
    }))
}

/// Deletes a group; its members lose what it granted, and their tokens are revoked.
#[utoipa::path(delete, path = "/groups/{id}", tag = "Groups", params(("id" = GroupId, Path)),
    responses((status = 204, description = "Deleted.")))]
pub async fn delete(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let scope = caller.principal.admin()?;
    groups::delete(&state, &scope, &caller, parse_id(&id, "group")?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(put, path = "/groups/{id}/members/{user_id}", tag = "Groups",
    params(("id" = GroupId, Path), ("user_id" = UserId, Path)),
    responses((status = 204, description = "A member.")))]
pub async fn add_member(
    state: State<AppState>,
    caller: ApiCaller,
    Path((id, user_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    set_member(state, caller, &id, &user_id, true).await
}

/// Removes a member; what the group granted them is revoked within a second.
#[utoipa::path(delete, path = "/groups/{id}/members/{user_id}", tag = "Groups",
    params(("id" = GroupId, Path), ("user_id" = UserId, Path)),
    responses((status = 204, description = "Not a member.")))]
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

/// The group's row-level-security roles and attributes.
#[utoipa::path(get, path = "/groups/{id}/rls", tag = "Groups", params(("id" = GroupId, Path)),
    responses((status = 200, body = json::RlsAssignment)))]
pub async fn rls(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<json::RlsAssignment>> {
    let scope = caller.principal.admin()?;
    let id: GroupId = parse_id(&id, "group")?;
    let assignment = state.store.rls_assignment(scope.org_id(), Grantee::Group(id)).await?;
    Ok(Json((&assignment).into()))
}

/// Replaces the group's roles and attributes; its members' tokens are revoked when anything
/// changed.
#[utoipa::path(put, path = "/groups/{id}/rls", tag = "Groups", params(("id" = GroupId, Path)),
    request_body = requests::RlsInput,
    responses((status = 200, body = json::RlsAssignment)))]
pub async fn put_rls(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
    JsonFields(input): JsonFields,
) -> ApiResult<Json<json::RlsAssignment>> {
    let scope = caller.principal.admin()?;
    let id: GroupId = parse_id(&id, "group")?;
    let assignment = rls::assignment_from(&input, &input.as_value())?;
    rls::set(&state, &scope, &caller, Grantee::Group(id), &assignment).await?;
    Ok(Json((&assignment).into()))
}
