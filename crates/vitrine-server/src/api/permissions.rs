//! `/api/v1/permissions/{name}/…`: administrators grant named permissions.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use vitrine_core::{GroupId, UserId};
use vitrine_store::Grantee;

use crate::app::AppState;
use crate::auth::ApiCaller;
use crate::error::ApiResult;
use crate::services::{parse_id, permissions};

/// A named permission.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // Its schema only: the handlers read the name as text and refuse others.
pub enum PermissionName {
    /// May wake a paused capacity by opening a report.
    #[schema(rename = "capacity.turnOn")]
    TurnOn,
    /// Their activity keeps an on-demand capacity running.
    #[schema(rename = "capacity.keepOn")]
    KeepOn,
}

/// Grants a permission to a user.
#[utoipa::path(put, path = "/permissions/{name}/users/{user_id}", tag = "Permissions",
    params(
        ("name" = PermissionName, Path),
        ("user_id" = UserId, Path),
    ),
    responses((status = 204, description = "Granted.")))]
pub async fn grant_user(
    state: State<AppState>,
    caller: ApiCaller,
    Path((name, user)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let grantee = Grantee::User(parse_id(&user, "user")?);
    set(state, caller, &name, grantee, true).await
}

#[utoipa::path(delete, path = "/permissions/{name}/users/{user_id}", tag = "Permissions",
    params(("name" = PermissionName, Path), ("user_id" = UserId, Path)),
    responses((status = 204, description = "Not granted.")))]
pub async fn revoke_user(
    state: State<AppState>,
    caller: ApiCaller,
    Path((name, user)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let grantee = Grantee::User(parse_id(&user, "user")?);
    set(state, caller, &name, grantee, false).await
}

/// Grants a permission to a group's members.
#[utoipa::path(put, path = "/permissions/{name}/groups/{group_id}", tag = "Permissions",
    params(("name" = PermissionName, Path), ("group_id" = GroupId, Path)),
    responses((status = 204, description = "Granted.")))]
pub async fn grant_group(
    state: State<AppState>,
    caller: ApiCaller,
    Path((name, group)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let grantee = Grantee::Group(parse_id(&group, "group")?);
    set(state, caller, &name, grantee, true).await
}

#[utoipa::path(delete, path = "/permissions/{name}/groups/{group_id}", tag = "Permissions",
    params(("name" = PermissionName, Path), ("group_id" = GroupId, Path)),
    responses((status = 204, description = "Not granted.")))]
pub async fn revoke_group(
    state: State<AppState>,
    caller: ApiCaller,
    Path((name, group)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let grantee = Grantee::Group(parse_id(&group, "group")?);
    set(state, caller, &name, grantee, false).await
}

async fn set(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    name: &str,
    grantee: Grantee,
    granted: bool,
) -> ApiResult<StatusCode> {
    let scope = caller.principal.admin()?;
    let permission = permissions::parse(name)?;
    permissions::set(&state, &scope, &caller, permission, grantee, granted).await?;
    Ok(StatusCode::NO_CONTENT)
}
