//! `/api/v1/installation`: the installation's operators manage its organizations (never their
//! content) and read the installation audit. `/api/v1/setup` is first-run set-up.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use vitrine_core::OrgId;

use super::{JsonFields, json};
use crate::app::AppState;
use crate::auth::ApiCaller;
use crate::error::ApiResult;
use crate::services::{accounts, installation, parse_id};

pub async fn list(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> ApiResult<Json<Value>> {
    let scope = caller.principal.operator()?;
    let views = installation::list(&state, &scope).await?;
    Ok(Json(json::list(&views, json::organization_view)))
}

pub async fn create(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    JsonFields(input): JsonFields,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let scope = caller.principal.operator()?;
    let (org, admin) = installation::create(&state, &scope, &caller, &input).await?;
    let view = installation::show(&state, &scope, org.id).await?;
    let mut body = json::organization_view(&view);
    if let Some(admin) = admin {
        let offer = accounts::invite(&state, &org.name, &admin).await?;
        body["admin"] = json::user(&admin);
        body["invitation"] = json::link_offer(&offer);
    }
    Ok((StatusCode::CREATED, Json(body)))
}

pub async fn show(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let scope = caller.principal.operator()?;
    let id: OrgId = parse_id(&id, "organization")?;
    Ok(Json(json::organization_view(&installation::show(&state, &scope, id).await?)))
}

pub async fn update(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
    JsonFields(input): JsonFields,
) -> ApiResult<Json<Value>> {
    let scope = caller.principal.operator()?;
    let id: OrgId = parse_id(&id, "organization")?;
    installation::update(&state, &scope, &caller, id, &input).await?;
    Ok(Json(json::organization_view(&installation::show(&state, &scope, id).await?)))
}

#[derive(serde::Deserialize)]
pub struct Confirm {
    confirm: Option<String>,
}

/// `DELETE /api/v1/installation/organizations/{id}?confirm=<the organization's name>`.
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

pub async fn audit(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> ApiResult<Json<Value>> {
    caller.principal.operator()?;
    let entries = state.store.list_installation_audit(500).await?;
    Ok(Json(json::list(&entries, json::installation_audit)))
}

pub async fn operators(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> ApiResult<Json<Value>> {
    caller.principal.operator()?;
    let operators = state.store.list_operators().await?;
    Ok(Json(json::list(
        &operators,
        |user| json!({ "id": user.id, "email": user.email, "name": user.name, "organizationId": user.org_id }),
    )))
}

/// `POST /api/v1/setup` `{"code","organization","email","name"?,"password"}`: first run.
pub async fn setup(
    State(state): State<AppState>,
    JsonFields(input): JsonFields,
) -> ApiResult<(StatusCode, Json<Value>)> {
    input.allow_only(&["code", "organization", "email", "name", "password"])?;
    let setup = installation::Setup {
        org_name: input.required_str("organization")?,
        admin_email: input.required_str("email")?,
        admin_name: input.optional_str("name")?,
        password: input.required_str("password")?,
    };
    let code = input.required_str("code")?;
    let (org, admin) = installation::set_up(&state, Some(code), &setup).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "organization": json::organization(&org), "user": json::user(&admin) })),
    ))
}
