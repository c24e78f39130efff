//! Capacities: their state, timeline and who keeps them on, and which one a report runs on.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use vitrine_core::capacity::CapacityState;
use vitrine_core::{CapacityId, OrgId, ReportId};

use super::{AuditRecord, SqliteStore, conflict_on_unique, from_row, json_text, ms};
use vitrine_store::{
    Actor, Capacity, CapacityChange, CapacityEvent, CapacityStore, Report, StoreError, StoreResult,
};

const CAPACITY_COLUMNS: &str = "id, org_id, name, provider, azure, state, mode, idle_minutes, schedule, time_zone, \
     hourly_price, wake_from_viewer, state_since, last_activity, created_at";

#[async_trait]
impl CapacityStore for SqliteStore {
    async fn create_capacity(
        &self,
        org: OrgId,
        actor: &Actor,
        capacity: &Capacity,
    ) -> StoreResult<Capacity> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(&format!(
            "INSERT INTO capacities ({CAPACITY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(capacity.id.to_string())
        .bind(org.to_string())
        .bind(&capacity.name)
        .bind(&capacity.provider)
        .bind(capacity.azure.as_ref().map(json_text).transpose()?)
        .bind(capacity.state.as_str())
        .bind(capacity.mode.as_str())
        .bind(i64::from(capacity.idle_minutes))
        .bind(json_text(&capacity.schedule)?)
        .bind(&capacity.time_zone)
        .bind(capacity.hourly_price)
        .bind(capacity.wake_from_viewer)
        .bind(ms(capacity.state_since))
        .bind(capacity.last_activity.map(ms))
        .bind(ms(capacity.created_at))
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_on_unique(e, "name"))?;
        AuditRecord::new(org, actor, "capacity", capacity.id.to_string(), "created")
            .values(None, Some(capacity_snapshot(capacity)))
            .write(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(Capacity { org_id: org, ..capacity.clone() })
    }

    async fn list_capacities(&self, org: OrgId) -> StoreResult<Vec<Capacity>> {
        let rows = sqlx::query(&format!(
            "SELECT {CAPACITY_COLUMNS} FROM capacities WHERE org_id = ? ORDER BY name"
        ))
        .bind(org.to_string())
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(from_row).collect()
    }

    async fn get_capacity(&self, org: OrgId, id: CapacityId) -> StoreResult<Capacity> {
        let mut conn = self.reader.acquire().await?;
        capacity_in_org(&mut conn, org, id).await
    }

    async fn all_capacities(&self) -> StoreResult<Vec<Capacity>> {
        let rows = sqlx::query(&format!(
            "SELECT {CAPACITY_COLUMNS} FROM capacities ORDER BY created_at, id"
        ))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(from_row).collect()
    }

    async fn update_capacity(
        &self,
        org: OrgId,
        actor: &Actor,
        id: CapacityId,
        change: &CapacityChange,
    ) -> StoreResult<Capacity> {
        let mut tx = self.writer.begin().await?;
        let old = capacity_in_org(&mut tx, org, id).await?;
        let new = Capacity {
            name: change.name.clone().unwrap_or_else(|| old.name.clone()),
            mode: change.mode.unwrap_or(old.mode),
            idle_minutes: change.idle_minutes.unwrap_or(old.idle_minutes),
            schedule: change.schedule.clone().unwrap_or_else(|| old.schedule.clone()),
            time_zone: change.time_zone.clone().unwrap_or_else(|| old.time_zone.clone()),
            hourly_price: change.hourly_price.unwrap_or(old.hourly_price),
            wake_from_viewer: change.wake_from_viewer.unwrap_or(old.wake_from_viewer),
            ..old.clone()
        };
        sqlx::query(
            "UPDATE capacities SET name = ?, mode = ?, idle_minutes = ?, schedule = ?, time_zone = ?,
                                   hourly_price = ?, wake_from_viewer = ?
             WHERE org_id = ? AND id = ?",
        )
        .bind(&new.name)
        .bind(new.mode.as_str())
        .bind(i64::from(new.idle_minutes))
        .bind(json_text(&new.schedule)?)
        .bind(&new.time_zone)
        .bind(new.hourly_price)
        .bind(new.wake_from_viewer)
        .bind(org.to_string())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_on_unique(e, "name"))?;
        if old != new {
            AuditRecord::new(org, actor, "capacity", id.to_string(), "updated")
                .values(Some(capacity_snapshot(&old)), Some(capacity_snapshot(&new)))
                .write(&mut tx)
                .await?;
        }
        tx.commit().await?;
        Ok(new)
    }

    async fn delete_capacity(&self, org: OrgId, actor: &Actor, id: CapacityId) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        let old = capacity_in_org(&mut tx, org, id).await?;
        let placed: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM reports WHERE org_id = ? AND capacity_id = ?")
                .bind(org.to_string())
                .bind(id.to_string())
                .fetch_one(&mut *tx)
                .await?;
        if placed > 0 {
            return Err(StoreError::Conflict { field: "reports" });
        }
        let deleted = sqlx::query(
            "DELETE FROM capacities WHERE org_id = ? AND id = ? AND state NOT IN ('Resuming', 'Pausing')",
        )
        .bind(org.to_string())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::Conflict { field: "state" });
        }
        AuditRecord::new(org, actor, "capacity", id.to_string(), "deleted")
            .values(Some(capacity_snapshot(&old)), None)
            .write(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn transition_capacity(
        &self,
        from: &[CapacityState],
        event: &CapacityEvent,
    ) -> StoreResult<bool> {
        if from.is_empty() {
            return Ok(false);
        }
        let mut tx = self.writer.begin().await?;
        let mut update: QueryBuilder<Sqlite> = QueryBuilder::new("UPDATE capacities SET state = ");
        update.push_bind(event.state.as_str()).push(", state_since = ").push_bind(ms(event.at));
        update
            .push(" WHERE id = ")
            .push_bind(event.capacity_id.to_string())
            .push(" AND state IN (");
        let mut states = update.separated(", ");
        for state in from {
            states.push_bind(state.as_str());
        }
        update.push(")");
        let moved = update.build().execute(&mut *tx).await?.rows_affected() > 0;
        if moved {
            insert_event(&mut *tx, event).await?;
        }
        tx.commit().await?;
        Ok(moved)
    }

    async fn note_capacity_event(&self, event: &CapacityEvent) -> StoreResult<()> {
        insert_event(&self.writer, event).await
    }

    async fn record_capacity_activity(
        &self,
        id: CapacityId,
        keepers: &[&str],
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "UPDATE capacities SET last_activity = MAX(COALESCE(last_activity, 0), ?) WHERE id = ?",
        )
        .bind(ms(at))
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
        for who in keepers {
            sqlx::query(
                "INSERT INTO capacity_keepers (capacity_id, who, at) VALUES (?, ?, ?)
                 ON CONFLICT (capacity_id, who) DO UPDATE SET at = MAX(at, excluded.at)",
            )
            .bind(id.to_string())
            .bind(who)
            .bind(ms(at))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn capacity_keepers(
        &self,
        org: OrgId,
        id: CapacityId,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<(String, DateTime<Utc>)>> {
        let mut conn = self.reader.acquire().await?;
        capacity_in_org(&mut conn, org, id).await?;
        let rows = sqlx::query(
            "SELECT who, at FROM capacity_keepers WHERE capacity_id = ? AND at >= ?
             ORDER BY at DESC, who",
        )
        .bind(id.to_string())
        .bind(ms(since))
        .fetch_all(&mut *conn)
        .await?;
        rows.iter().map(from_row).collect()
    }

    async fn capacity_events(
        &self,
        org: OrgId,
        id: CapacityId,
        limit: u32,
    ) -> StoreResult<Vec<CapacityEvent>> {
        let mut conn = self.reader.acquire().await?;
        capacity_in_org(&mut conn, org, id).await?;
        let rows = sqlx::query(
            "SELECT id, capacity_id, at, state, reason, actor, detail FROM capacity_events
             WHERE capacity_id = ? ORDER BY at DESC, id DESC LIMIT ?",
        )
        .bind(id.to_string())
        .bind(i64::from(limit.max(1)))
        .fetch_all(&mut *conn)
        .await?;
        rows.iter().map(from_row).collect()
    }

    async fn set_report_capacity(
        &self,
        org: OrgId,
        actor: &Actor,
        report: ReportId,
        capacity: Option<CapacityId>,
    ) -> StoreResult<Report> {
        let mut tx = self.writer.begin().await?;
        let old = Self::report_in_org(&mut tx, org, report).await?;
        if let Some(capacity) = capacity {
            capacity_in_org(&mut tx, org, capacity).await?;
        }
        sqlx::query("UPDATE reports SET capacity_id = ? WHERE org_id = ? AND id = ?")
            .bind(capacity.map(|c| c.to_string()))
            .bind(org.to_string())
            .bind(report.to_string())
            .execute(&mut *tx)
            .await?;
        if old.capacity_id != capacity {
            AuditRecord::new(org, actor, "report", report.to_string(), "capacityChanged")
                .values(
                    Some(json!({ "capacity": old.capacity_id })),
                    Some(json!({ "capacity": capacity })),
                )
                .write(&mut tx)
                .await?;
        }
        tx.commit().await?;
        Ok(Report { capacity_id: capacity, ..old })
    }
}

async fn capacity_in_org(
    conn: &mut SqliteConnection,
    org: OrgId,
    id: CapacityId,
) -> StoreResult<Capacity> {
    let row = sqlx::query(&format!(
        "SELECT {CAPACITY_COLUMNS} FROM capacities WHERE org_id = ? AND id = ?"
    ))
    .bind(org.to_string())
    .bind(id.to_string())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()?.ok_or(StoreError::NotFound)
}

fn capacity_snapshot(capacity: &Capacity) -> Value {
    json!({
        "name": capacity.name,
        "mode": capacity.mode.as_str(),
        "idleMinutes": capacity.idle_minutes,
        "schedule": capacity.schedule,
        "timeZone": capacity.time_zone,
        "hourlyPrice": capacity.hourly_price,
        "wakeFromViewer": capacity.wake_from_viewer,
    })
}

/// Adds `event` to its capacity's timeline.
async fn insert_event<'e>(
    executor: impl sqlx::SqliteExecutor<'e>,
    event: &CapacityEvent,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO capacity_events (capacity_id, at, state, reason, actor, detail) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(event.capacity_id.to_string())
    .bind(ms(event.at))
    .bind(event.state.as_str())
    .bind(&event.reason)
    .bind(&event.actor)
    .bind(&event.detail)
    .execute(executor)
    .await?;
    Ok(())
}
