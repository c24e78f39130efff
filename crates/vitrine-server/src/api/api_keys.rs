//! `/api/v1/api-keys`: administrators create and revoke their organization's API keys. The
//! secret is in the creation answer only.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::{JsonFields, json, requests};
use crate::app::AppState;
use crate::auth::{ApiCaller, api_key};
use crate::error::ApiResult;
use crate::services::parse_id;

/// The organization's API keys, revoked ones included.
#[utoipa::path(get, path = "/api-keys", tag = "API keys",
    responses((status = 200, body = Vec<json::ApiKey>)))]
pub async fn list(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> ApiResult<Json<Vec<json::ApiKey>>> {
    let scope = caller.principal.admin()?;
    let keys = state.store.list_api_keys(scope.org_id()).await?;
    Ok(Json(json::list(&keys)))
}

/// A new key; its secret is in this answer only.
#[utoipa::path(post, path = "/api-keys", tag = "API keys", request_body = requests::ApiKeyNew,
    responses((status = 201, body = json::ApiKeyCreated)))]
pub async fn create(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    JsonFields(input): JsonFields,
) -> ApiResult<(StatusCode, Json<json::ApiKeyCreated>)> {
    let scope = caller.principal.admin()?;
    let request = api_key::KeyRequest::from_json(&input)?;
    let (key, secret) = api_key::create(&state, &scope, &caller, request).await?;
    Ok((StatusCode::CREATED, Json(json::ApiKeyCreated { api_key: (&key).into(), key: secret })))
}

/// Revokes a key at once.
#[utoipa::path(delete, path = "/api-keys/{id}", tag = "API keys",
    params(("id" = uuid::Uuid, Path, description = "The key's id")),
    responses((status = 204, description = "Revoked.")))]
pub async fn revoke(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let scope = caller.principal.admin()?;
    let actor = caller.actor(state.clock.now());
    state.store.revoke_api_key(scope.org_id(), &actor, parse_id(&id, "API key")?).await?;
    Ok(StatusCode::NO_CONTENT)
}
