//! Entra ID's token endpoint, client-credentials grant only:
//! `POST /{tenant}/oauth2/v2.0/token` with a form of `grant_type=client_credentials`,
//! `client_id`, `client_secret` and `scope` (`<resource>/.default`). Answers
//! `{"token_type":"Bearer","expires_in","ext_expires_in","access_token"}`, or an OAuth error
//! body (`error`, `error_description` starting with its `AADSTS` code, `error_codes`,
//! `timestamp`, `trace_id`, `correlation_id`).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::world::{AccessToken, Audience, World, opaque};

fn oauth_error(status: StatusCode, error: &str, code: u32, description: &str) -> Response {
    let now = chrono::Utc::now();
    let body = json!({
        "error": error,
        "error_description": format!(
            "AADSTS{code}: {description}\r\nTrace ID: {}\r\nCorrelation ID: {}\r\nTimestamp: {}",
            uuid::Uuid::now_v7(),
            uuid::Uuid::now_v7(),
            now.format("%Y-%m-%d %H:%M:%SZ")
        ),
        "error_codes": [code],
        "timestamp": now.format("%Y-%m-%d %H:%M:%SZ").to_string(),
        "trace_id": uuid::Uuid::now_v7(),
        "correlation_id": uuid::Uuid::now_v7(),
    });
    (status, Json(body)).into_response()
}

/// A tenant is given by its id (a GUID) or a domain name.
fn known_tenant(tenant: &str) -> bool {
    uuid::Uuid::parse_str(tenant).is_ok() || tenant.ends_with(".onmicrosoft.com")
}

pub async fn token(
    State(world): State<Arc<World>>,
    Path(tenant): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !known_tenant(&tenant) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            &format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
            ),
        );
    }
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type.",
        );
    }
    let Some(client_id) = form.get("client_id").filter(|id| !id.is_empty()) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        );
    };
    let Some(audience) = form.get("scope").and_then(|scope| Audience::of_scope(scope)) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            70011,
            "The provided value for the input parameter 'scope' is not valid.",
        );
    };
    let secret = form.get("client_secret").map(String::as_str).unwrap_or_default();
    world.with(|inner, now| {
        let accepted = match &inner.settings.client_secret {
            Some(only) => secret == only,
            None => !secret.is_empty(),
        };
        if !accepted {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000215,
                &format!("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."),
            );
        }
        inner.grants += 1;
        let lifetime = inner.settings.access_token_lifetime;
        let access_token = opaque("eyJ0eXAiOiJKV1QiLCJzdGFuZGluIjp0cnVlfQ.");
        inner.access_tokens.insert(
            access_token.clone(),
            AccessToken { client_id: client_id.clone(), audience, expires_at: now + lifetime },
        );
        Json(json!({
            "token_type": "Bearer",
            "expires_in": lifetime.num_seconds(),
            "ext_expires_in": lifetime.num_seconds(),
            "access_token": access_token,
        }))
        .into_response()
    })
}
