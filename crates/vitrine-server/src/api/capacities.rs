//! `/api/v1/capacities`: administrators read and set their capacities, switch them by hand and
//! read their timeline.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use vitrine_core::CapacityId;
use vitrine_store::{Capacity, CapacityEvent};

use super::{JsonFields, json::time};
use crate::app::AppState;
use crate::auth::ApiCaller;
use crate::error::ApiResult;
use crate::services::{capacities, parse_id};

pub fn capacity_json(capacity: &Capacity) -> Value {
    json!({
        "id": capacity.id,
        "name": capacity.name,
        "provider": capacity.provider,
        "state": capacity.state.as_str(),
        "mode": capacity.mode.as_str(),
        "idleMinutes": capacity.idle_minutes,
        "schedule": capacity.schedule.iter().map(|w| json!({
            "day": w.day.to_string(),
            "start": w.start.format("%H:%M").to_string(),
            "end": w.end.format("%H:%M").to_string(),
        })).collect::<Vec<_>>(),
        "timeZone": capacity.time_zone,
        "hourlyPrice": capacity.hourly_price,
        "wakeFromViewer": capacity.wake_from_viewer,
        "stateSince": time(capacity.state_since),
        "lastActivity": capacity.last_activity.map(time),
    })
}

fn event_json(event: &CapacityEvent) -> Value {
    json!({
        "at": time(event.at),
        "state": event.state.as_str(),
        "reason": event.reason,
        "by": event.actor,
        "detail": event.detail,
    })
}

pub async fn list(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> ApiResult<Json<Value>> {
    let scope = caller.principal.admin()?;
    let list = state.store.list_capacities(scope.org_id()).await?;
    Ok(Json(Value::Array(list.iter().map(capacity_json).collect())))
}

pub async fn create(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    JsonFields(input): JsonFields,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let scope = caller.principal.admin()?;
    let capacity = capacities::create(&state, &scope, &caller, &input).await?;
    Ok((StatusCode::CREATED, Json(capacity_json(&capacity))))
}

pub async fn show(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let scope = caller.principal.admin()?;
    let capacity = state.store.get_capacity(scope.org_id(), parse_id(&id, "capacity")?).await?;
    Ok(Json(capacity_json(&capacity)))
}

pub async fn update(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
    JsonFields(input): JsonFields,
) -> ApiResult<Json<Value>> {
    let scope = caller.principal.admin()?;
    let capacity =
        capacities::update(&state, &scope, &caller, parse_id(&id, "capacity")?, &input).await?;
    Ok(Json(capacity_json(&capacity)))
}

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
) -> ApiResult<Json<Value>> {
    let scope = caller.principal.admin()?;
    let id: CapacityId = parse_id(id, "capacity")?;
    let now = capacities::switch(&state, &scope, &caller, id, on).await?;
    Ok(Json(json!({ "state": now.as_str() })))
}

pub async fn resume(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    switch(state, caller, &id, true).await
}

pub async fn pause(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    switch(state, caller, &id, false).await
}

pub async fn events(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let scope = caller.principal.admin()?;
    let events =
        state.store.capacity_events(scope.org_id(), parse_id(&id, "capacity")?, 500).await?;
    Ok(Json(Value::Array(events.iter().map(event_json).collect())))
}
