//! `/api/v1/users`: administrators manage the users of their organization.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use vitrine_core::UserId;
use vitrine_store::Grantee;

use super::{JsonFields, json};
use crate::app::AppState;
use crate::auth::ApiCaller;
use crate::error::ApiResult;
use crate::services::{parse_id, users};

pub async fn list(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> ApiResult<Json<Value>> {
    let scope = caller.principal.admin()?;
    let users = state.store.list_users(scope.org_id()).await?;
    Ok(Json(json::list(&users, json::user)))
}

pub async fn create(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    JsonFields(input): JsonFields,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let scope = caller.principal.admin()?;
    let user = users::create(&state, &scope, &caller, &input).await?;
    let mut body = json::user(&user);
    if !user.password_set {
        let offer = crate::services::accounts::invite(&state, &caller.org_name, &user).await?;
        body["invitation"] = json::link_offer(&offer);
    }
    Ok((StatusCode::CREATED, Json(body)))
}

pub async fn show(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let scope = caller.principal.admin()?;
    let id: UserId = parse_id(&id, "user")?;
    let user = state.store.get_user(scope.org_id(), id).await?;
    let groups = state.store.groups_of_user(scope.org_id(), id).await?;
    let direct = state.store.direct_permissions(scope.org_id(), Grantee::User(id)).await?;
    let effective = state.store.effective_permissions(scope.org_id(), id).await?;
    let mut body = json::user(&user);
    body["groups"] = json::list(&groups, json::group);
    body["permissions"] = json!(direct.iter().map(|p| p.as_str()).collect::<Vec<_>>());
    body["effectivePermissions"] = json!(effective.iter().map(|p| p.as_str()).collect::<Vec<_>>());
    Ok(Json(body))
}

pub async fn update(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
    JsonFields(input): JsonFields,
) -> ApiResult<Json<Value>> {
    let scope = caller.principal.admin()?;
    let id: UserId = parse_id(&id, "user")?;
    let user = users::update(&state, &scope, &caller, id, &input).await?;
    Ok(Json(json::user(&user)))
}

pub async fn delete(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let scope = caller.principal.admin()?;
    users::delete(&state, &scope, &caller, parse_id(&id, "user")?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/users/{id}/rls`: the user's own row-level-security roles and attributes.
pub async fn rls(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let scope = caller.principal.admin()?;
    let id: UserId = parse_id(&id, "user")?;
    let own = state.store.rls_assignment(scope.org_id(), Grantee::User(id)).await?;
    let effective = state.store.effective_rls(scope.org_id(), id).await?;
    let mut body = crate::services::rls::assignment_json(&own);
    body["effective"] = crate::services::rls::assignment_json(&effective);
    Ok(Json(body))
}

/// `PUT /api/v1/users/{id}/rls` `{"roles":[…],"attributes":{…}}`: replaces them; the user's
/// tokens are revoked when anything changed.
pub async fn put_rls(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
    JsonFields(input): JsonFields,
) -> ApiResult<Json<Value>> {
    let scope = caller.principal.admin()?;
    let id: UserId = parse_id(&id, "user")?;
    let assignment = crate::services::rls::assignment_from(&input, &input.as_value())?;
    crate::services::rls::set(&state, &scope, &caller, Grantee::User(id), &assignment).await?;
    Ok(Json(crate::services::rls::assignment_json(&assignment)))
}

/// `POST /api/v1/users/{id}/invitation`: a new invitation link for a user who has not chosen
/// a password yet, emailed when SMTP is configured and answered for copying either way.
pub async fn invite(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let scope = caller.principal.admin()?;
    let id: UserId = parse_id(&id, "user")?;
    let user = state.store.get_user(scope.org_id(), id).await?;
    let offer = crate::services::accounts::invite(&state, &caller.org_name, &user).await?;
    Ok((StatusCode::CREATED, Json(json::link_offer(&offer))))
}
