//! `/api/v1/users`: administrators manage the users of their organization.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use vitrine_core::UserId;
use vitrine_store::Grantee;

use super::{JsonFields, json, requests};
use crate::app::AppState;
use crate::auth::ApiCaller;
use crate::error::ApiResult;
use crate::services::{parse_id, rls, users};

#[utoipa::path(get, path = "/users", tag = "Users",
    responses((status = 200, body = Vec<json::User>)))]
pub async fn list(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> ApiResult<Json<Vec<json::User>>> {
    let scope = caller.principal.admin()?;
    let users = state.store.list_users(scope.org_id()).await?;
    Ok(Json(json::list(&users)))
}

/// A new user; without `password` they are invited, and the answer carries the link.
#[utoipa::path(post, path = "/users", tag = "Users", request_body = requests::UserNew,
    responses(
        (status = 201, body = json::UserCreated),
        (status = 409, description = "The email is in use, or `LimitReached`.", body = crate::error::ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    JsonFields(input): JsonFields,
) -> ApiResult<(StatusCode, Json<json::UserCreated>)> {
    let scope = caller.principal.admin()?;
    let user = users::create(&state, &scope, &caller, &input).await?;
    let invitation = match user.password_set {
        true => None,
        false => Some(crate::services::accounts::invite(&state, &caller.org_name, &user).await?),
    };
    let body =
        json::UserCreated { user: (&user).into(), invitation: invitation.as_ref().map(Into::into) };
    Ok((StatusCode::CREATED, Json(body)))
}

/// A user with their groups and permissions.
#[utoipa::path(get, path = "/users/{id}", tag = "Users", params(("id" = UserId, Path)),
    responses((status = 200, body = json::UserDetail)))]
pub async fn show(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<json::UserDetail>> {
    let scope = caller.principal.admin()?;
    let id: UserId = parse_id(&id, "user")?;
    let user = state.store.get_user(scope.org_id(), id).await?;
    let groups = state.store.groups_of_user(scope.org_id(), id).await?;
    let direct = state.store.direct_permissions(scope.org_id(), Grantee::User(id)).await?;
    let effective = state.store.effective_permissions(scope.org_id(), id).await?;
    let names = |list: &[vitrine_core::Permission]| -> Vec<String> {
        list.iter().map(|p| p.as_str().to_string()).collect()
    };
    Ok(Json(json::UserDetail {
        user: (&user).into(),
        groups: json::list(&groups),
        permissions: names(&direct),
        effective_permissions: names(&effective),
    }))
}

/// Changes a user; a new password, role, email, block or expiry ends their sessions and
/// revokes their tokens.
#[utoipa::path(patch, path = "/users/{id}", tag = "Users", params(("id" = UserId, Path)),
    request_body = requests::UserChange,
    responses((status = 200, body = json::User)))]
pub async fn update(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
    JsonFields(input): JsonFields,
) -> ApiResult<Json<json::User>> {
    let scope = caller.principal.admin()?;
    let id: UserId = parse_id(&id, "user")?;
    let user = users::update(&state, &scope, &caller, id, &input).await?;
    Ok(Json((&user).into()))
}

/// Deletes a user (not oneself, not the last administrator); their tokens are revoked.
#[utoipa::path(delete, path = "/users/{id}", tag = "Users", params(("id" = UserId, Path)),
    responses((status = 204, description = "Deleted.")))]
pub async fn delete(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let scope = caller.principal.admin()?;
    users::delete(&state, &scope, &caller, parse_id(&id, "user")?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The user's own row-level-security roles and attributes, and the effective ones with their
/// groups'.
#[utoipa::path(get, path = "/users/{id}/rls", tag = "Users", params(("id" = UserId, Path)),
    responses((status = 200, body = json::UserRls)))]
pub async fn rls(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<json::UserRls>> {
    let scope = caller.principal.admin()?;
    let id: UserId = parse_id(&id, "user")?;
    let own = state.store.rls_assignment(scope.org_id(), Grantee::User(id)).await?;
    let effective = state.store.effective_rls(scope.org_id(), id).await?;
    Ok(Json(json::UserRls { own: (&own).into(), effective: (&effective).into() }))
}

/// Replaces the user's roles and attributes; their tokens are revoked when anything changed.
#[utoipa::path(put, path = "/users/{id}/rls", tag = "Users", params(("id" = UserId, Path)),
    request_body = requests::RlsInput,
    responses((status = 200, body = json::RlsAssignment)))]
pub async fn put_rls(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
    JsonFields(input): JsonFields,
) -> ApiResult<Json<json::RlsAssignment>> {
    let scope = caller.principal.admin()?;
    let id: UserId = parse_id(&id, "user")?;
    let assignment = rls::assignment_from(&input, &input.as_value())?;
    rls::set(&state, &scope, &caller, Grantee::User(id), &assignment).await?;
    Ok(Json((&assignment).into()))
}

/// A new invitation link for a user who has not chosen a password yet, emailed when SMTP is
/// configured and answered for copying either way.
#[utoipa::path(post, path = "/users/{id}/invitation", tag = "Users",
    params(("id" = UserId, Path)),
    responses(
        (status = 201, body = json::LinkOffer),
        (status = 409, description = "The user has chosen a password already.", body = crate::error::ErrorBody),
    ))]
pub async fn invite(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<json::LinkOffer>)> {
    let scope = caller.principal.admin()?;
    let id: UserId = parse_id(&id, "user")?;
    let user = state.store.get_user(scope.org_id(), id).await?;
    let offer = crate::services::accounts::invite(&state, &caller.org_name, &user).await?;
    Ok((StatusCode::CREATED, Json((&offer).into())))
}
