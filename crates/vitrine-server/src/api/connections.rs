//! `/api/v1/connections`: administrators connect the organization's PostgreSQL and
//! MySQL/MariaDB databases. A password is sealed at rest and never answered back.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use vitrine_core::ConnectionId;

use super::{JsonFields, json, requests};
use crate::app::AppState;
use crate::auth::ApiCaller;
use crate::error::ApiResult;
use crate::services::{parse_id, sources};

/// The organization's connections (administrators and contributors, who build datasets on them).
#[utoipa::path(get, path = "/connections", tag = "Connections",
    responses((status = 200, body = Vec<json::Connection>)))]
pub async fn list(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> ApiResult<Json<Vec<json::Connection>>> {
    let scope = caller.principal.content_manager()?;
    let list = state.store.list_connections(scope.org_id()).await?;
    Ok(Json(list.iter().map(json::Connection::from).collect()))
}

/// A new connection; nothing is opened until it is tested or used.
#[utoipa::path(post, path = "/connections", tag = "Connections",
    request_body = requests::ConnectionSettings,
    responses((status = 201, body = json::Connection)))]
pub async fn create(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    JsonFields(input): JsonFields,
) -> ApiResult<(StatusCode, Json<json::Connection>)> {
    let scope = caller.principal.admin()?;
    let connection = sources::create_connection(&state, &scope, &caller, &input).await?;
    Ok((StatusCode::CREATED, Json((&connection).into())))
}

#[utoipa::path(get, path = "/connections/{id}", tag = "Connections",
    params(("id" = ConnectionId, Path)),
    responses((status = 200, body = json::Connection)))]
pub async fn show(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<json::Connection>> {
    let scope = caller.principal.content_manager()?;
    let connection =
        state.store.get_connection(scope.org_id(), parse_id(&id, "connection")?).await?;
    Ok(Json((&connection).into()))
}

/// Changes the fields given (without `password`, the old one stays); direct datasets of the
/// connection reconnect with the new settings.
#[utoipa::path(patch, path = "/connections/{id}", tag = "Connections",
    params(("id" = ConnectionId, Path)), request_body = requests::ConnectionSettings,
    responses((status = 200, body = json::Connection)))]
pub async fn update(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
    JsonFields(input): JsonFields,
) -> ApiResult<Json<json::Connection>> {
    let scope = caller.principal.admin()?;
    let id = parse_id(&id, "connection")?;
    let connection = sources::update_connection(&state, &scope, &caller, id, &input).await?;
    Ok(Json((&connection).into()))
}

/// Deletes a connection no dataset reads.
#[utoipa::path(delete, path = "/connections/{id}", tag = "Connections",
    params(("id" = ConnectionId, Path)),
    responses(
        (status = 204, description = "Deleted."),
        (status = 409, description = "Datasets read it.", body = crate::error::ErrorBody),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let scope = caller.principal.admin()?;
    sources::delete_connection(&state, &scope, &caller, parse_id(&id, "connection")?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Opens a session and asks the database its version; a failure is explained, not thrown.
#[utoipa::path(post, path = "/connections/{id}/test", tag = "Connections",
    params(("id" = ConnectionId, Path)),
    responses((status = 200, body = json::ConnectionTest)))]
pub async fn test(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<json::ConnectionTest>> {
    let scope = caller.principal.admin()?;
    let outcome = sources::test_connection(&state, &scope, parse_id(&id, "connection")?).await?;
    Ok(Json(json::ConnectionTest { ok: outcome.ok, message: outcome.message }))
}
