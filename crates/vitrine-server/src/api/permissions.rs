//! `/api/v1/permissions/{name}/…`: administrators grant named permissions.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use vitrine_store::Grantee;

use crate::app::AppState;
use crate::auth::ApiCaller;
use crate::error::ApiResult;
use crate::services::{parse_id, permissions};

pub async fn grant_user(
    state: State<AppState>,
    caller: ApiCaller,
    Path((name, user)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let grantee = Grantee::User(parse_id(&user, "user")?);
    set(state, caller, &name, grantee, true).await
}

pub async fn revoke_user(
    state: State<AppState>,
    caller: ApiCaller,
    Path((name, user)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let grantee = Grantee::User(parse_id(&user, "user")?);
    set(state, caller, &name, grantee, false).await
}

pub async fn grant_group(
    state: State<AppState>,
    caller: ApiCaller,
    Path((name, group)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let grantee = Grantee::Group(parse_id(&group, "group")?);
    set(state, caller, &name, grantee, true).await
}

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
