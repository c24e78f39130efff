//! `/api/v1/settings`: the caller's organization's settings (administrators).

use axum::Json;
use axum::extract::State;
use vitrine_core::OrgSettings;

use super::{JsonFields, requests};
use crate::app::AppState;
use crate::auth::ApiCaller;
use crate::error::ApiResult;
use crate::services::settings;

#[utoipa::path(get, path = "/settings", tag = "Settings",
    responses((status = 200, body = OrgSettings)))]
pub async fn show(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> ApiResult<Json<OrgSettings>> {
    let scope = caller.principal.admin()?;
    let org = state.store.get_organization(scope.org_id()).await?;
    Ok(Json(org.settings))
}

/// Changes the fields given; every one is checked before anything changes.
#[utoipa::path(patch, path = "/settings", tag = "Settings",
    request_body = requests::SettingsChange,
    responses((status = 200, body = OrgSettings)))]
pub async fn update(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    JsonFields(input): JsonFields,
) -> ApiResult<Json<OrgSettings>> {
    let scope = caller.principal.admin()?;
    Ok(Json(settings::patch(&state, &scope, &caller, &input).await?))
}
