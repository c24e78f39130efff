//! `/api/v1/api-keys`: administrators create and revoke their organization's API keys. The
//! secret is in the creation answer only.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::Value;

use super::{JsonFields, json};
use crate::app::AppState;
use crate::auth::{ApiCaller, api_key};
use crate::error::ApiResult;
use crate::services::parse_id;

pub async fn list(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> ApiResult<Json<Value>> {
    let scope = caller.principal.admin()?;
    let keys = state.store.list_api_keys(scope.org_id()).await?;
    Ok(Json(json::list(&keys, json::api_key)))
}

pub async fn create(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    JsonFields(input): JsonFields,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let scope = caller.principal.admin()?;
    input.allow_only(&["name"])?;
    let (key, secret) =
        api_key::create(&state, &scope, &caller, input.required_str("name")?).await?;
    let mut body = json::api_key(&key);
    body["key"] = Value::String(secret);
    Ok((StatusCode::CREATED, Json(body)))
}

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
