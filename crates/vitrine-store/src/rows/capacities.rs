//! Rows of capacities (the columns of `CAPACITY_COLUMNS` in each backend), their timeline and
//! who keeps them on.

use chrono::{DateTime, Utc};
use vitrine_core::capacity::{CapacityMode, CapacityState};

use super::{from_ms, mapped, opt_from_ms, parse_id};
use crate::{Capacity, CapacityEvent, StoreError};

mapped! {
    Capacity => CapacityRow,
    CapacityEvent => CapacityEventRow,
    (String, DateTime<Utc>) => KeeperRow,
}

#[derive(sqlx::FromRow)]
pub struct CapacityRow {
    id: String,
    org_id: String,
    name: String,
    provider: String,
    azure: Option<String>,
    state: String,
    mode: String,
    idle_minutes: i64,
    schedule: String,
    time_zone: String,
    hourly_price: f64,
    wake_from_viewer: bool,
    state_since: i64,
    last_activity: Option<i64>,
    created_at: i64,
}

impl TryFrom<CapacityRow> for Capacity {
    type Error = StoreError;

    fn try_from(row: CapacityRow) -> Result<Self, StoreError> {
        let (state, mode) = (row.state, row.mode);
        Ok(Capacity {
            id: parse_id("id", &row.id)?,
            org_id: parse_id("org_id", &row.org_id)?,
            name: row.name,
            provider: row.provider,
            azure: row.azure.as_deref().and_then(|text| serde_json::from_str(text).ok()),
            state: CapacityState::parse(&state)
                .ok_or_else(|| StoreError::Backend(format!("capacity state {state}")))?,
            mode: CapacityMode::parse(&mode)
                .ok_or_else(|| StoreError::Backend(format!("capacity mode {mode}")))?,
            idle_minutes: u32::try_from(row.idle_minutes).unwrap_or(u32::MAX),
            schedule: serde_json::from_str(&row.schedule)
                .map_err(|e| StoreError::Backend(format!("schedule: {e}")))?,
            time_zone: row.time_zone,
            hourly_price: row.hourly_price,
            wake_from_viewer: row.wake_from_viewer,
            state_since: from_ms(row.state_since)?,
            last_activity: opt_from_ms(row.last_activity)?,
            created_at: from_ms(row.created_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct CapacityEventRow {
    id: i64,
    capacity_id: String,
    at: i64,
    state: String,
    reason: String,
    actor: Option<String>,
    detail: Option<String>,
}

impl TryFrom<CapacityEventRow> for CapacityEvent {
    type Error = StoreError;

    fn try_from(row: CapacityEventRow) -> Result<Self, StoreError> {
        let state = row.state;
        Ok(CapacityEvent {
            id: row.id,
            capacity_id: parse_id("capacity_id", &row.capacity_id)?,
            at: from_ms(row.at)?,
            state: CapacityState::parse(&state)
                .ok_or_else(|| StoreError::Backend(format!("state {state}")))?,
            reason: row.reason,
            actor: row.actor,
            detail: row.detail,
        })
    }
}

/// Who kept a capacity on, and when.
#[derive(sqlx::FromRow)]
pub struct KeeperRow {
    who: String,
    at: i64,
}

impl TryFrom<KeeperRow> for (String, DateTime<Utc>) {
    type Error = StoreError;

    fn try_from(row: KeeperRow) -> Result<Self, StoreError> {
        Ok((row.who, from_ms(row.at)?))
    }
}
