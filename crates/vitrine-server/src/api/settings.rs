//! `/api/v1/settings`: the caller's organization's settings (administrators).

use axum::Json;
use axum::extract::State;
use serde_json::Value;

use super::JsonFields;
use crate::app::AppState;
use crate::auth::ApiCaller;
use crate::error::{ApiError, ApiResult};
use crate::services::settings;

pub async fn show(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> ApiResult<Json<Value>> {
    let scope = caller.principal.admin()?;
    let org = state.store.get_organization(scope.org_id()).await?;
    Ok(Json(serde_json::to_value(&org.settings).map_err(|_| ApiError::internal())?))
}

pub async fn update(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    JsonFields(input): JsonFields,
) -> ApiResult<Json<Value>> {
    let scope = caller.principal.admin()?;
    let next = settings::patch(&state, &scope, &caller, &input).await?;
    Ok(Json(serde_json::to_value(&next).map_err(|_| ApiError::internal())?))
}
