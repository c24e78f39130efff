//! `/api/v1/powerbi`: an organization's Power BI tenant (administrators). The client secret is
//! sealed at rest and never answered back.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::json::Time;
use super::{JsonFields, requests};
use crate::app::AppState;
use crate::auth::ApiCaller;
use crate::error::ApiResult;
use crate::services::powerbi;

/// The organization's Power BI tenant (never its secret).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PowerBiTenant {
    pub tenant_id: String,
    pub client_id: String,
    pub updated_at: Time,
}

impl From<&vitrine_store::PowerBiTenant> for PowerBiTenant {
    fn from(tenant: &vitrine_store::PowerBiTenant) -> Self {
        Self {
            tenant_id: tenant.tenant_id.clone(),
            client_id: tenant.client_id.clone(),
            updated_at: Time(tenant.updated_at),
        }
    }
}

/// A tenant just connected, and what its test found.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Connected {
    #[serde(flatten)]
    pub tenant: PowerBiTenant,
    /// The workspaces the service principal belongs to.
    pub workspaces: usize,
    /// What to do next, when the principal sees no workspace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// A Power BI report the service principal can see.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PowerBiReport {
    pub workspace_id: String,
    pub workspace_name: String,
    pub report_id: String,
    pub name: String,
    pub dataset_id: Option<String>,
    pub embed_url: String,
}

#[utoipa::path(get, path = "/powerbi", tag = "Power BI",
    responses(
        (status = 200, body = PowerBiTenant),
        (status = 404, description = "No tenant is connected.", body = crate::error::ErrorBody),
    ))]
pub async fn show(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> ApiResult<Json<PowerBiTenant>> {
    let scope = caller.principal.admin()?;
    let tenant = state.store.powerbi_tenant(scope.org_id()).await?.ok_or_else(|| {
        crate::error::ApiError::new(
            crate::error::ErrorCode::NotFound,
            "No Power BI tenant is connected.",
        )
    })?;
    Ok(Json((&tenant).into()))
}

/// Connects the organization's tenant (or replaces it) after testing it: Entra ID must sign the
/// service principal in and Power BI must answer its workspaces. A failed test names the field
/// to fix and saves nothing.
#[utoipa::path(put, path = "/powerbi", tag = "Power BI",
    request_body = requests::PowerBiConnect,
    responses(
        (status = 200, body = Connected),
        (status = 400, description = "The test failed; the field to fix is named.", body = crate::error::ErrorBody),
        (status = 502, description = "Entra ID or Power BI could not be reached.", body = crate::error::ErrorBody),
    ))]
pub async fn connect(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    JsonFields(input): JsonFields,
) -> ApiResult<Json<Connected>> {
    let scope = caller.principal.admin()?;
    let connected = powerbi::connect(&state, &scope, &caller, &input).await?;
    let warning = (connected.workspaces == 0).then(|| {
        "The service principal is a member of no workspace: in Power BI, open each workspace's Manage access and add it as Member or Contributor.".to_string()
    });
    Ok(Json(Connected {
        tenant: (&connected.tenant).into(),
        workspaces: connected.workspaces,
        warning,
    }))
}

/// The reports of every workspace the service principal belongs to.
#[utoipa::path(get, path = "/powerbi/reports", tag = "Power BI",
    responses(
        (status = 200, body = Vec<PowerBiReport>),
        (status = 404, description = "No tenant is connected.", body = crate::error::ErrorBody),
        (status = 502, description = "Entra ID or Power BI could not be reached.", body = crate::error::ErrorBody),
    ))]
pub async fn reports(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> ApiResult<Json<Vec<PowerBiReport>>> {
    let scope = caller.principal.admin()?;
    let found = powerbi::reports(&state, scope.org_id()).await?;
    Ok(Json(
        found
            .into_iter()
            .map(|(workspace, report)| PowerBiReport {
                workspace_id: workspace.id,
                workspace_name: workspace.name,
                report_id: report.id,
                name: report.name,
                dataset_id: report.dataset_id,
                embed_url: report.embed_url,
            })
            .collect(),
    ))
}
