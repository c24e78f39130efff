//! `/api/v1/reports`: everyone lists the reports they may open; administrators and
//! contributors manage reports and who may open them.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::Value;
use vitrine_core::{GroupId, ReportId, UserId};
use vitrine_engine::ReportDefinition;
use vitrine_store::Grantee;

use super::{JsonFields, json, requests};
use crate::app::AppState;
use crate::auth::ApiCaller;
use crate::error::ApiResult;
use crate::error::{ApiError, ErrorCode};
use crate::services::{definitions, parse_id, reports};

/// The reports the caller may open (all of them for administrators and contributors).
#[utoipa::path(get, path = "/reports", tag = "Reports",
    responses((status = 200, body = Vec<json::Report>)))]
pub async fn list(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> ApiResult<Json<Vec<json::Report>>> {
    let reports = reports::visible_to(&state, &caller).await?;
    Ok(Json(json::list(&reports)))
}

#[utoipa::path(get, path = "/reports/{id}", tag = "Reports", params(("id" = ReportId, Path)),
    responses(
        (status = 200, body = json::Report),
        (status = 403, description = "`NoAccess`: not granted to the caller.", body = crate::error::ErrorBody),
    ))]
pub async fn show(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<json::Report>> {
    let report = reports::open(&state, &caller, parse_id(&id, "report")?).await?;
    Ok(Json((&report).into()))
}

#[utoipa::path(post, path = "/reports", tag = "Reports", request_body = requests::ReportNew,
    responses((status = 201, body = json::Report)))]
pub async fn create(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    JsonFields(input): JsonFields,
) -> ApiResult<(StatusCode, Json<json::Report>)> {
    let scope = caller.principal.content_manager()?;
    let report = reports::create(&state, &scope, &caller, &input).await?;
    Ok((StatusCode::CREATED, Json((&report).into())))
}

/// Renames, describes or places a report on a capacity.
#[utoipa::path(patch, path = "/reports/{id}", tag = "Reports", params(("id" = ReportId, Path)),
    request_body = requests::ReportChange,
    responses((status = 200, body = json::Report)))]
pub async fn update(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
    JsonFields(input): JsonFields,
) -> ApiResult<Json<json::Report>> {
    let scope = caller.principal.content_manager()?;
    let report = reports::update(&state, &scope, &caller, parse_id(&id, "report")?, &input).await?;
    Ok(Json((&report).into()))
}

/// Deletes a report; its tokens are revoked within a second.
#[utoipa::path(delete, path = "/reports/{id}", tag = "Reports", params(("id" = ReportId, Path)),
    responses((status = 204, description = "Deleted.")))]
pub async fn delete(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let scope = caller.principal.content_manager()?;
    reports::delete(&state, &scope, &caller, parse_id(&id, "report")?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The users and groups the report is granted to.
#[utoipa::path(get, path = "/reports/{id}/access", tag = "Reports",
    params(("id" = ReportId, Path)),
    responses((status = 200, body = json::ReportAccess)))]
pub async fn access(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<json::ReportAccess>> {
    let scope = caller.principal.content_manager()?;
    let id: ReportId = parse_id(&id, "report")?;
    let access = state.store.report_access(scope.org_id(), id).await?;
    Ok(Json(json::ReportAccess {
        users: json::list(&access.users),
        groups: json::list(&access.groups),
    }))
}

#[utoipa::path(put, path = "/reports/{id}/access/users/{user_id}", tag = "Reports",
    params(("id" = ReportId, Path), ("user_id" = UserId, Path)),
    responses((status = 204, description = "Granted.")))]
pub async fn grant_user(
    state: State<AppState>,
    caller: ApiCaller,
    Path((id, user)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let grantee = Grantee::User(parse_id(&user, "user")?);
    set_access(state, caller, &id, grantee, true).await
}

/// Takes a user's direct access away; their tokens for it are revoked within a second.
#[utoipa::path(delete, path = "/reports/{id}/access/users/{user_id}", tag = "Reports",
    params(("id" = ReportId, Path), ("user_id" = UserId, Path)),
    responses((status = 204, description = "Not granted.")))]
pub async fn revoke_user(
    state: State<AppState>,
    caller: ApiCaller,
    Path((id, user)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let grantee = Grantee::User(parse_id(&user, "user")?);
    set_access(state, caller, &id, grantee, false).await
}

#[utoipa::path(put, path = "/reports/{id}/access/groups/{group_id}", tag = "Reports",
    params(("id" = ReportId, Path), ("group_id" = GroupId, Path)),
    responses((status = 204, description = "Granted.")))]
pub async fn grant_group(
    state: State<AppState>,
    caller: ApiCaller,
    Path((id, group)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let grantee = Grantee::Group(parse_id(&group, "group")?);
    set_access(state, caller, &id, grantee, true).await
}

#[utoipa::path(delete, path = "/reports/{id}/access/groups/{group_id}", tag = "Reports",
    params(("id" = ReportId, Path), ("group_id" = GroupId, Path)),
    responses((status = 204, description = "Not granted.")))]
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

/// The report's pages, visuals and row-level-security rules.
#[utoipa::path(get, path = "/reports/{id}/definition", tag = "Reports",
    params(("id" = ReportId, Path)),
    responses((status = 200, body = ReportDefinition)))]
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

/// Replaces the definition: checked against the dataset (every column, every visual), then
/// saved; a refusal names the path of the fault (`pages[0].visuals[1].measure`).
#[utoipa::path(put, path = "/reports/{id}/definition", tag = "Reports",
    params(("id" = ReportId, Path)), request_body = ReportDefinition,
    responses((status = 200, body = ReportDefinition)))]
pub async fn put_definition(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    let scope = caller.principal.content_manager()?;
    super::require_json(&headers)?;
    let value = vitrine_core::input::parse_json(&body)
        .map_err(|e| ApiError::invalid("definition", format!("is not valid JSON ({e})")))?;
    let report =
        definitions::save(&state, &scope, &caller, parse_id(&id, "report")?, value).await?;
    Ok(Json(report.definition.unwrap_or(Value::Null)))
}
