//! `/api/v1/capacities`: administrators read and set their capacities, switch them by hand and
//! read their timeline.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use vitrine_core::CapacityId;

use super::{JsonFields, json, requests};
use crate::app::AppState;
use crate::auth::ApiCaller;
use crate::error::ApiResult;
use crate::services::{capacities, parse_id};

/// The organization's capacities.
#[utoipa::path(get, path = "/capacities", tag = "Capacities",
    responses((status = 200, body = Vec<json::Capacity>)))]
pub async fn list(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> ApiResult<Json<Vec<json::Capacity>>> {
    let scope = caller.principal.admin()?;
    let list = state.store.list_capacities(scope.org_id()).await?;
    Ok(Json(json::list(&list)))
}

/// A new capacity: `name` is required; the settings not given take their defaults.
#[utoipa::path(post, path = "/capacities", tag = "Capacities",
    request_body = requests::CapacitySettings,
    responses((status = 201, body = json::Capacity)))]
pub async fn create(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    JsonFields(input): JsonFields,
) -> ApiResult<(StatusCode, Json<json::Capacity>)> {
    let scope = caller.principal.admin()?;
    let capacity = capacities::create(&state, &scope, &caller, &input).await?;
    Ok((StatusCode::CREATED, Json((&capacity).into())))
}

#[utoipa::path(get, path = "/capacities/{id}", tag = "Capacities",
    params(("id" = CapacityId, Path)),
    responses((status = 200, body = json::Capacity)))]
pub async fn show(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<json::Capacity>> {
    let scope = caller.principal.admin()?;
    let capacity = state.store.get_capacity(scope.org_id(), parse_id(&id, "capacity")?).await?;
    Ok(Json((&capacity).into()))
}

/// Changes a capacity's settings; every field is checked before anything changes.
#[utoipa::path(patch, path = "/capacities/{id}", tag = "Capacities",
    params(("id" = CapacityId, Path)), request_body = requests::CapacitySettings,
    responses((status = 200, body = json::Capacity)))]
pub async fn update(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
    JsonFields(input): JsonFields,
) -> ApiResult<Json<json::Capacity>> {
    let scope = caller.principal.admin()?;
    let capacity =
        capacities::update(&state, &scope, &caller, parse_id(&id, "capacity")?, &input).await?;
    Ok(Json((&capacity).into()))
}

/// Deletes a capacity; its reports run without one.
#[utoipa::path(delete, path = "/capacities/{id}", tag = "Capacities",
    params(("id" = CapacityId, Path)),
    responses((status = 204, description = "Deleted.")))]
pub async fn delete(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let scope = caller.principal.admin()?;
    capacities::delete(&state, &scope, &caller, parse_id(&id, "capacity")?).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn switch(
    state: AppState,
    caller: crate::auth::Caller,
    id: &str,
    on: bool,
) -> ApiResult<Json<json::Switched>> {
    let scope = caller.principal.admin()?;
    let id: CapacityId = parse_id(id, "capacity")?;
    let state = capacities::switch(&state, &scope, &caller, id, on).await?;
    Ok(Json(json::Switched { state }))
}

/// Starts a capacity by hand.
#[utoipa::path(post, path = "/capacities/{id}/resume", tag = "Capacities",
    params(("id" = CapacityId, Path)),
    responses((status = 200, body = json::Switched)))]
pub async fn resume(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<json::Switched>> {
    switch(state, caller, &id, true).await
}

/// Pauses a capacity by hand; viewers then read that an administrator paused it.
#[utoipa::path(post, path = "/capacities/{id}/pause", tag = "Capacities",
    params(("id" = CapacityId, Path)),
    responses((status = 200, body = json::Switched)))]
pub async fn pause(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<json::Switched>> {
    switch(state, caller, &id, false).await
}

/// The capacity's timeline, newest first (at most 500 entries).
#[utoipa::path(get, path = "/capacities/{id}/events", tag = "Capacities",
    params(("id" = CapacityId, Path)),
    responses((status = 200, body = Vec<json::CapacityEvent>)))]
pub async fn events(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<json::CapacityEvent>>> {
    let scope = caller.principal.admin()?;
    let events =
        state.store.capacity_events(scope.org_id(), parse_id(&id, "capacity")?, 500).await?;
    Ok(Json(json::list(&events)))
}
