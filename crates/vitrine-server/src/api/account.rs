//! Sign-in, sign-out, the caller's own identity and account, and the emailed links that let
//! people choose a password.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{JsonFields, json};
use crate::app::AppState;
use crate::auth::links::LinkKind;
use crate::auth::login::{cleared_cookie, session_cookie, sign_in, sign_out};
use crate::auth::{ApiCaller, Caller};
use crate::error::ApiResult;
use crate::services::accounts;
use crate::tokens::request_info::RequestInfo;

pub async fn login(
    State(state): State<AppState>,
    client: RequestInfo,
    JsonFields(input): JsonFields,
) -> ApiResult<Response> {
    input.allow_only(&["email", "password"])?;
    let email = input.required_str("email")?;
    let password = input.required_str("password")?;
    let signed_in = sign_in(&state, email, password, &client).await?;
    let cookie = session_cookie(&state, &signed_in);
    let body = json!({ "user": json::user(&signed_in.user), "csrfToken": signed_in.csrf_token });
    Ok(([(header::SET_COOKIE, cookie)], Json(body)).into_response())
}

pub async fn logout(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> ApiResult<Response> {
    if let Some(session) = &caller.session {
        sign_out(&state, &session.token_hash).await?;
    }
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cleared_cookie(&state))]).into_response())
}

pub async fn me(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> ApiResult<Json<Value>> {
    Ok(Json(describe(&state, &caller).await?))
}

async fn describe(state: &AppState, caller: &Caller) -> ApiResult<Value> {
    let org = state.store.get_organization(caller.principal.org_id).await?;
    let permissions = match caller.principal.user_id {
        Some(user) => state.store.effective_permissions(org.id, user).await?,
        None => Vec::new(),
    };
    Ok(json!({
        "user": caller.user.as_ref().map(json::user),
        "role": caller.principal.role.as_str(),
        "organization": json::organization(&org),
        "permissions": permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
        "csrfToken": caller.session.as_ref().map(|s| s.csrf_token.clone()),
    }))
}

/// `PATCH /api/v1/me`: one's own name and password (the current one required).
pub async fn update_me(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    JsonFields(input): JsonFields,
) -> ApiResult<Json<Value>> {
    accounts::change_own(&state, &caller, &input).await?;
    let mut caller = caller;
    caller.user = match caller.principal.user_id {
        Some(id) => Some(state.store.get_user(caller.principal.org_id, id).await?),
        None => None,
    };
    Ok(Json(describe(&state, &caller).await?))
}

pub async fn sessions(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> ApiResult<Json<Value>> {
    let sessions = accounts::sessions(&state, &caller).await?;
    let items: Vec<Value> =
        sessions.iter().map(|(s, current)| json::session(s, *current)).collect();
    Ok(Json(json!({ "items": items })))
}

pub async fn end_session(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    accounts::end_session(&state, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn end_other_sessions(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> ApiResult<Json<Value>> {
    let ended = accounts::end_other_sessions(&state, &caller).await?;
    Ok(Json(json!({ "ended": ended })))
}

/// `POST /api/v1/auth/password-reset` `{"email"}`: the same 202 whether or not it exists.
pub async fn request_reset(
    State(state): State<AppState>,
    JsonFields(input): JsonFields,
) -> ApiResult<(StatusCode, Json<Value>)> {
    input.allow_only(&["email"])?;
    accounts::request_reset(&state, input.required_str("email")?).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "message": accounts::RESET_SENT }))))
}

/// `POST /api/v1/auth/password-reset/complete` and `/auth/invitation/accept`:
/// `{"token","password"}` from the emailed link.
pub async fn complete_reset(
    State(state): State<AppState>,
    JsonFields(input): JsonFields,
) -> ApiResult<Json<Value>> {
    redeem(&state, LinkKind::PasswordReset, &input).await
}

pub async fn accept_invitation(
    State(state): State<AppState>,
    JsonFields(input): JsonFields,
) -> ApiResult<Json<Value>> {
    redeem(&state, LinkKind::Invitation, &input).await
}

async fn redeem(
    state: &AppState,
    kind: LinkKind,
    input: &vitrine_core::Fields,
) -> ApiResult<Json<Value>> {
    input.allow_only(&["token", "password"])?;
    let token = input.required_str("token")?;
    let password = input.required_str("password")?;
    let user = accounts::redeem(state, kind, token, password).await?;
    Ok(Json(json!({ "user": json::user(&user) })))
}
