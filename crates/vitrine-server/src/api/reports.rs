//! `/api/v1/reports`: everyone lists the reports they may open; administrators and
//! contributors manage reports and who may open them.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use vitrine_core::ReportId;
use vitrine_store::Grantee;

use super::{JsonFields, json};
use crate::app::AppState;
use crate::auth::ApiCaller;
use crate::error::ApiResult;
use crate::error::{ApiError, ErrorCode};
use crate::services::{definitions, parse_id, reports};

pub async fn list(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> ApiResult<Json<Value>> {
    let reports = reports::visible_to(&state, &caller).await?;
    Ok(Json(json::list(&reports, json::report)))
}

pub async fn show(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let report = reports::open(&state, &caller, parse_id(&id, "report")?).await?;
    Ok(Json(json::report(&report)))
}

pub async fn create(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    JsonFields(input): JsonFields,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let scope = caller.principal.content_manager()?;
    let report = reports::create(&state, &scope, &caller, &input).await?;
    Ok((StatusCode::CREATED, Json(json::report(&report))))
}

pub async fn update(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
    JsonFields(input): JsonFields,
) -> ApiResult<Json<Value>> {
    let scope = caller.principal.content_manager()?;
    let report = reports::update(&state, &scope, &caller, parse_id(&id, "report")?, &input).await?;
    Ok(Json(json::report(&report)))
}

pub async fn delete(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let scope = caller.principal.content_manager()?;
    reports::delete(&state, &scope, &caller, parse_id(&id, "report")?).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn access(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let scope = caller.principal.content_manager()?;
    let id: ReportId = parse_id(&id, "report")?;
    let access = state.store.report_access(scope.org_id(), id).await?;
    Ok(Json(json!({
        "users": json::list(&access.users, json::user),
        "groups": json::list(&access.groups, json::group),
    })))
}

pub async fn grant_user(
    state: State<AppState>,
    caller: ApiCaller,
    Path((id, user)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let grantee = Grantee::User(parse_id(&user, "user")?);
    set_access(state, caller, &id, grantee, true).await
}

pub async fn revoke_user(
    state: State<AppState>,
    caller: ApiCaller,
    Path((id, user)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let grantee = Grantee::User(parse_id(&user, "user")?);
    set_access(state, caller, &id, grantee, false).await
}

pub async fn grant_group(
    state: State<AppState>,
    caller: ApiCaller,
    Path((id, group)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let grantee = Grantee::Group(parse_id(&group, "group")?);
    set_access(state, caller, &id, grantee, true).await
}

pub async fn revoke_group(
    state: State<AppState>,
    caller: ApiCaller,
    Path((id, group)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let grantee = Grantee::Group(parse_id(&group, "group")?);
    set_access(state, caller, &id, grantee, false).await
}

async fn set_access(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    report: &str,
    grantee: Grantee,
    granted: bool,
) -> ApiResult<StatusCode> {
    let scope = caller.principal.content_manager()?;
    let report = parse_id(report, "report")?;
    reports::set_access(&state, &scope, &caller, report, grantee, granted).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/reports/{id}/definition`
pub async fn definition(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let scope = caller.principal.content_manager()?;
    let report = state.store.get_report(scope.org_id(), parse_id(&id, "report")?).await?;
    let definition = report
        .definition
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "This report has no definition yet."))?;
    Ok(Json(definition))
}

/// `PUT /api/v1/reports/{id}/definition`: checked against the dataset, then saved.
pub async fn put_definition(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    let scope = caller.principal.content_manager()?;
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::invalid("definition", format!("is not valid JSON ({e})")))?;
    let report =
        definitions::save(&state, &scope, &caller, parse_id(&id, "report")?, value).await?;
    Ok(Json(report.definition.unwrap_or(Value::Null)))
}
