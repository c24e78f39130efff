//! `/api/v1/installation`: the installation's operators manage its organizations (never their
//! content) and read the installation audit. `/api/v1/setup` is first-run set-up.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use vitrine_core::OrgId;

use super::{JsonFields, json, requests};
use crate::app::AppState;
use crate::auth::ApiCaller;
use crate::error::ApiResult;
use crate::services::{accounts, installation, parse_id};

/// Every organization of the installation, with its limits and counts.
#[utoipa::path(get, path = "/installation/organizations", tag = "Installation",
    responses((status = 200, body = Vec<json::Organization>)))]
pub async fn list(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> ApiResult<Json<Vec<json::Organization>>> {
    let scope = caller.principal.operator()?;
    let views = installation::list(&state, &scope).await?;
    Ok(Json(json::list(&views)))
}

/// A new organization; with `adminEmail`, its first administrator is invited.
#[utoipa::path(post, path = "/installation/organizations", tag = "Installation",
    request_body = requests::OrganizationNew,
    responses(
        (status = 201, body = json::OrganizationCreated),
        (status = 409, description = "The name or the administrator's email is in use.", body = crate::error::ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    JsonFields(input): JsonFields,
) -> ApiResult<(StatusCode, Json<json::OrganizationCreated>)> {
    let scope = caller.principal.operator()?;
    let (org, admin) = installation::create(&state, &scope, &caller, &input).await?;
    let view = installation::show(&state, &scope, org.id).await?;
    let mut body =
        json::OrganizationCreated { organization: (&view).into(), admin: None, invitation: None };
    if let Some(admin) = admin {
        let offer = accounts::invite(&state, &org.name, &admin).await?;
        body.admin = Some((&admin).into());
        body.invitation = Some((&offer).into());
    }
    Ok((StatusCode::CREATED, Json(body)))
}

#[utoipa::path(get, path = "/installation/organizations/{id}", tag = "Installation",
    params(("id" = OrgId, Path)),
    responses((status = 200, body = json::Organization)))]
pub async fn show(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<json::Organization>> {
    let scope = caller.principal.operator()?;
    let id: OrgId = parse_id(&id, "organization")?;
    Ok(Json((&installation::show(&state, &scope, id).await?).into()))
}

/// Renames, sets limits, suspends or restores an organization.
#[utoipa::path(patch, path = "/installation/organizations/{id}", tag = "Installation",
    params(("id" = OrgId, Path)), request_body = requests::OrganizationChange,
    responses((status = 200, body = json::Organization)))]
pub async fn update(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
    JsonFields(input): JsonFields,
) -> ApiResult<Json<json::Organization>> {
    let scope = caller.principal.operator()?;
    let id: OrgId = parse_id(&id, "organization")?;
    installation::update(&state, &scope, &caller, id, &input).await?;
    Ok(Json((&installation::show(&state, &scope, id).await?).into()))
}

#[derive(serde::Deserialize)]
pub struct Confirm {
    confirm: Option<String>,
}

/// Deletes an organization and everything of it, irreversibly; `confirm` repeats its name.
#[utoipa::path(delete, path = "/installation/organizations/{id}", tag = "Installation",
    params(("id" = OrgId, Path), requests::DeleteConfirmation),
    responses((status = 204, description = "Deleted.")))]
pub async fn delete(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
    Query(query): Query<Confirm>,
) -> ApiResult<StatusCode> {
    let scope = caller.principal.operator()?;
    let id: OrgId = parse_id(&id, "organization")?;
    let confirm = query.confirm.unwrap_or_default();
    installation::delete(&state, &scope, &caller, id, &confirm).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The installation audit, newest first (500 entries).
#[utoipa::path(get, path = "/installation/audit", tag = "Installation",
    responses((status = 200, body = Vec<json::InstallationAuditEntry>)))]
pub async fn audit(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> ApiResult<Json<Vec<json::InstallationAuditEntry>>> {
    caller.principal.operator()?;
    let entries = state.store.list_installation_audit(500).await?;
    Ok(Json(json::list(&entries)))
}

#[utoipa::path(get, path = "/installation/operators", tag = "Installation",
    responses((status = 200, body = Vec<json::Operator>)))]
pub async fn operators(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> ApiResult<Json<Vec<json::Operator>>> {
    caller.principal.operator()?;
    let operators = state.store.list_operators().await?;
    Ok(Json(json::list(&operators)))
}

/// First run: the first organization and its administrator, the installation's first
/// operator. Refused (404) once the installation is set up.
#[utoipa::path(post, path = "/setup", tag = "Installation", request_body = requests::Setup,
    responses((status = 201, body = json::SetUp)))]
pub async fn setup(
    State(state): State<AppState>,
    JsonFields(input): JsonFields,
) -> ApiResult<(StatusCode, Json<json::SetUp>)> {
    input.allow_only(&installation::SETUP_FIELDS)?;
    let setup = installation::Setup {
        org_name: input.required_str("organization")?,
        admin_email: input.required_str("email")?,
        admin_name: input.optional_str("name")?,
        password: input.required_str("password")?,
    };
    let code = input.required_str("code")?;
    let (org, admin) = installation::set_up(&state, Some(code), &setup).await?;
    let body = json::SetUp { organization: (&org).into(), user: (&admin).into() };
    Ok((StatusCode::CREATED, Json(body)))
}
