//! Sign-in, sign-out, the caller's own identity and account, and the emailed links that let
//! people choose a password.

use super::{JsonFields, json, requests};
use crate::app::AppState;
use crate::auth::links::LinkKind;
use crate::auth::login::{cleared_cookie, session_cookie, sign_in, sign_out};
use crate::auth::{ApiCaller, Caller};
use crate::error::ApiResult;
use crate::services::accounts;
use crate::tokens::request_info::RequestInfo;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Signs in: sets the session cookie and answers the CSRF token.
#[utoipa::path(post, path = "/auth/login", tag = "Account", request_body = requests::Login,
    responses(
        (status = 200, description = "Signed in; the `vitrine_session` cookie is set.", body = json::SignedIn),
        (status = 401, description = "`InvalidCredentials` (the same for an unknown email).", body = crate::error::ErrorBody),
        (status = 423, description = "`AccountLocked` after five wrong passwords.", body = crate::error::ErrorBody),
    ))]
pub async fn login(
    State(state): State<AppState>,
    client: RequestInfo,
    JsonFields(input): JsonFields,
) -> ApiResult<Response> {
    input.allow_only(&accounts::LOGIN_FIELDS)?;
    let email = input.required_str("email")?;
    let password = input.required_str("password")?;
    let signed_in = sign_in(&state, email, password, &client).await?;
    let cookie = session_cookie(&state, &signed_in);
    let body = json::SignedIn {
        user: json::User::from(&signed_in.user),
        csrf_token: signed_in.csrf_token.clone(),
    };
    Ok(([(header::SET_COOKIE, cookie)], Json(body)).into_response())
}

/// Ends the caller's session and clears the cookie.
#[utoipa::path(post, path = "/auth/logout", tag = "Account",
    responses((status = 204, description = "Signed out.")))]
pub async fn logout(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> ApiResult<Response> {
    if let Some(session) = &caller.session {
        sign_out(&state, &session.token_hash).await?;
    }
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cleared_cookie(&state))]).into_response())
}

/// The caller: account, role, organization, permissions and CSRF token.
#[utoipa::path(get, path = "/me", tag = "Account", responses((status = 200, body = json::Me)))]
pub async fn me(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> ApiResult<Json<json::Me>> {
    Ok(Json(describe(&state, &caller).await?))
}

async fn describe(state: &AppState, caller: &Caller) -> ApiResult<json::Me> {
    let org = state.store.get_organization(caller.principal.org_id).await?;
    let permissions = match caller.principal.user_id {
        Some(user) => state.store.effective_permissions(org.id, user).await?,
        None => Vec::new(),
    };
    Ok(json::Me {
        user: caller.user.as_ref().map(json::User::from),
        role: caller.principal.role,
        organization: json::OrganizationRef::from(&org),
        permissions: permissions.iter().map(|p| p.as_str().to_string()).collect(),
        csrf_token: caller.session.as_ref().map(|s| s.csrf_token.clone()),
    })
}

/// One's own name and password (the current one required); a new password ends one's other
/// sessions.
#[utoipa::path(patch, path = "/me", tag = "Account", request_body = requests::MeChange,
    responses((status = 200, body = json::Me)))]
pub async fn update_me(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    JsonFields(input): JsonFields,
) -> ApiResult<Json<json::Me>> {
    accounts::change_own(&state, &caller, &input).await?;
    let mut caller = caller;
    caller.user = match caller.principal.user_id {
        Some(id) => Some(state.store.get_user(caller.principal.org_id, id).await?),
        None => None,
    };
    Ok(Json(describe(&state, &caller).await?))
}

/// The caller's own sessions.
#[utoipa::path(get, path = "/me/sessions", tag = "Account",
    responses((status = 200, body = json::Sessions)))]
pub async fn sessions(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> ApiResult<Json<json::Sessions>> {
    let sessions = accounts::sessions(&state, &caller).await?;
    let items = sessions.iter().map(|(s, current)| json::Session::of(s, *current)).collect();
    Ok(Json(json::Sessions { items }))
}

/// Signs one of one's own sessions out at once.
#[utoipa::path(delete, path = "/me/sessions/{id}", tag = "Account",
    params(("id" = String, Path, description = "A session id from GET /me/sessions")),
    responses((status = 204, description = "Signed out.")))]
pub async fn end_session(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    accounts::end_session(&state, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Signs every other session of the caller out.
#[utoipa::path(post, path = "/me/sessions/end-others", tag = "Account",
    responses((status = 200, body = json::Ended)))]
pub async fn end_other_sessions(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> ApiResult<Json<json::Ended>> {
    let ended = accounts::end_other_sessions(&state, &caller).await?;
    Ok(Json(json::Ended { ended }))
}

/// Emails a password-reset link when an account has the email; the same 202 whether or not.
#[utoipa::path(post, path = "/auth/password-reset", tag = "Account",
    request_body = requests::ResetRequest,
    responses((status = 202, body = json::Message)))]
pub async fn request_reset(
    State(state): State<AppState>,
    JsonFields(input): JsonFields,
) -> ApiResult<(StatusCode, Json<json::Message>)> {
    input.allow_only(&accounts::RESET_FIELDS)?;
    accounts::request_reset(&state, input.required_str("email")?).await?;
    Ok((StatusCode::ACCEPTED, Json(json::Message { message: accounts::RESET_SENT.to_string() })))
}

/// Sets a new password by an emailed reset link; every session of the user ends.
#[utoipa::path(post, path = "/auth/password-reset/complete", tag = "Account",
    request_body = requests::LinkRedemption,
    responses(
        (status = 200, body = json::Redeemed),
        (status = 410, description = "`LinkExpired` or `LinkInvalid`.", body = crate::error::ErrorBody),
    ))]
pub async fn complete_reset(
    State(state): State<AppState>,
    JsonFields(input): JsonFields,
) -> ApiResult<Json<json::Redeemed>> {
    redeem(&state, LinkKind::PasswordReset, &input).await
}

/// Chooses the first password by an invitation link.
#[utoipa::path(post, path = "/auth/invitation/accept", tag = "Account",
    request_body = requests::LinkRedemption,
    responses(
        (status = 200, body = json::Redeemed),
        (status = 410, description = "`LinkExpired` or `LinkInvalid`.", body = crate::error::ErrorBody),
    ))]
pub async fn accept_invitation(
    State(state): State<AppState>,
    JsonFields(input): JsonFields,
) -> ApiResult<Json<json::Redeemed>> {
    redeem(&state, LinkKind::Invitation, &input).await
}

async fn redeem(
    state: &AppState,
    kind: LinkKind,
    input: &vitrine_core::Fields,
) -> ApiResult<Json<json::Redeemed>> {
    input.allow_only(&accounts::LINK_FIELDS)?;
    let token = input.required_str("token")?;
    let password = input.required_str("password")?;
    let user = accounts::redeem(state, kind, token, password).await?;
    Ok(Json(json::Redeemed { user: json::User::from(&user) }))
}
