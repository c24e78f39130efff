//! Sign-in, sign-out and the caller's own identity.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{JsonFields, json};
use crate::app::AppState;
use crate::auth::login::{cleared_cookie, session_cookie, sign_in, sign_out};
use crate::auth::{ApiCaller, Caller};
use crate::error::ApiResult;

pub async fn login(
    State(state): State<AppState>,
    JsonFields(input): JsonFields,
) -> ApiResult<Response> {
    input.allow_only(&["email", "password"])?;
    let email = input.required_str("email")?;
    let password = input.required_str("password")?;
    let signed_in = sign_in(&state, email, password).await?;
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
