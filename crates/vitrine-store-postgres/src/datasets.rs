//! Datasets; what a dataset of a connection adds is in `sources.rs`.

use async_trait::async_trait;
use serde_json::{Value, json};
use vitrine_core::{DatasetId, OrgId};

use super::{AuditRecord, PostgresStore, conflict_on_unique, from_row, ms, refresh_windows_json};
use vitrine_store::{Actor, Dataset, DatasetStore, StoreError, StoreResult};

pub(super) const DATASET_COLUMNS: &str = "id, org_id, name, format, location, columns, row_count, created_at, \
     version, updated_at, connection_id, source_table, source_sql, mode, refresh_every_minutes, \
     refresh_windows, refresh_time_zone";

#[async_trait]
impl DatasetStore for PostgresStore {
    async fn create_dataset(
        &self,
        org: OrgId,
        actor: &Actor,
        dataset: &Dataset,
    ) -> StoreResult<Dataset> {
        let source = dataset.source.as_ref();
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO datasets (id, org_id, name, format, location, columns, row_count, created_at,
                                   version, updated_at, connection_id, source_table, source_sql,
                                   mode, refresh_every_minutes, refresh_windows,
                                   refresh_time_zone)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
        )
        .bind(dataset.id.to_string())
        .bind(org.to_string())
        .bind(&dataset.name)
        .bind(&dataset.format)
        .bind(&dataset.location)
        .bind(dataset.columns.to_string())
        .bind(i64::try_from(dataset.row_count).unwrap_or(i64::MAX))
        .bind(ms(dataset.created_at))
        .bind(i64::try_from(dataset.version).unwrap_or(i64::MAX))
        .bind(ms(dataset.updated_at))
        .bind(source.map(|s| s.connection_id.to_string()))
        .bind(source.and_then(|s| s.table.clone()))
        .bind(source.and_then(|s| s.sql.clone()))
        .bind(source.map(|s| s.mode.as_str()))
        .bind(source.and_then(|s| s.refresh_every_minutes).map(i64::from))
        .bind(source.map(refresh_windows_json).transpose()?)
        .bind(source.and_then(|s| s.refresh_time_zone.clone()))
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_on_unique(e, "name"))?;
        if let Some(source) = source {
            // The connection must be the organization's own.
            let owned: Option<i64> = sqlx::query_scalar(
                "SELECT 1::bigint FROM connections WHERE id = $1 AND org_id = $2",
            )
            .bind(source.connection_id.to_string())
            .bind(org.to_string())
            .fetch_optional(&mut *tx)
            .await?;
            owned.ok_or(StoreError::NotFound)?;
        }
        let mut audited =
            json!({ "name": dataset.name, "format": dataset.format, "rows": dataset.row_count });
        if let Some(source) = source {
            audited["connection"] = json!(source.connection_id.to_string());
            audited["mode"] = json!(source.mode.as_str());
            audited["table"] = json!(source.table);
            audited["sql"] = json!(source.sql);
            if let Some(values) = audited.as_object_mut() {
                values.extend(refresh_audited(source));
            }
        }
        AuditRecord::new(org, actor, "dataset", dataset.id.to_string(), "created")
            .values(None, Some(audited))
            .write(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(Dataset { org_id: org, ..dataset.clone() })
    }

    async fn update_dataset(
        &self,
        org: OrgId,
        actor: &Actor,
        dataset: &Dataset,
    ) -> StoreResult<Dataset> {
        let mut tx = self.write().await?;
        let select =
            format!("SELECT {DATASET_COLUMNS} FROM datasets WHERE org_id = $1 AND id = $2");
        let row = sqlx::query(&select)
            .bind(org.to_string())
            .bind(dataset.id.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let old: Dataset = from_row(&row)?;
        let source = dataset.source.as_ref().filter(|_| old.source.is_some());
        sqlx::query(
            "UPDATE datasets SET name = $1, refresh_every_minutes = $2, refresh_windows = $3,
                    refresh_time_zone = $4
             WHERE org_id = $5 AND id = $6",
        )
        .bind(&dataset.name)
        .bind(source.and_then(|s| s.refresh_every_minutes).map(i64::from))
        .bind(source.map(refresh_windows_json).transpose()?.flatten())
        .bind(source.and_then(|s| s.refresh_time_zone.clone()))
        .bind(org.to_string())
        .bind(dataset.id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_on_unique(e, "name"))?;
        let row = sqlx::query(&select)
            .bind(org.to_string())
            .bind(dataset.id.to_string())
            .fetch_one(&mut *tx)
            .await?;
        let new: Dataset = from_row(&row)?;
        let audited = |d: &Dataset| {
            let mut values = serde_json::Map::new();
            values.insert("name".into(), json!(d.name));
            if let Some(source) = &d.source {
                values.extend(refresh_audited(source));
            }
            Value::Object(values)
        };
        AuditRecord::new(org, actor, "dataset", dataset.id.to_string(), "changed")
            .values(Some(audited(&old)), Some(audited(&new)))
            .write(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(new)
    }

    async fn list_datasets(&self, org: OrgId) -> StoreResult<Vec<Dataset>> {
        let rows = sqlx::query(&format!(
            "SELECT {DATASET_COLUMNS} FROM datasets WHERE org_id = $1 ORDER BY name"
        ))
        .bind(org.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    async fn get_dataset(&self, org: OrgId, id: DatasetId) -> StoreResult<Dataset> {
        let row = sqlx::query(&format!(
            "SELECT {DATASET_COLUMNS} FROM datasets WHERE org_id = $1 AND id = $2"
        ))
        .bind(org.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row).transpose()?.ok_or(StoreError::NotFound)
    }

    async fn delete_dataset(&self, org: OrgId, actor: &Actor, id: DatasetId) -> StoreResult<()> {
        let mut tx = self.write().await?;
        let row = sqlx::query(&format!(
            "SELECT {DATASET_COLUMNS} FROM datasets WHERE org_id = $1 AND id = $2"
        ))
        .bind(org.to_string())
        .bind(id.to_string())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let old: Dataset = from_row(&row)?;
        sqlx::query("DELETE FROM datasets WHERE org_id = $1 AND id = $2")
            .bind(org.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        AuditRecord::new(org, actor, "dataset", id.to_string(), "deleted")
            .values(Some(json!({ "name": old.name, "format": old.format })), None)
            .write(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn all_datasets(&self) -> StoreResult<Vec<Dataset>> {
        let rows =
            sqlx::query(&format!("SELECT {DATASET_COLUMNS} FROM datasets ORDER BY created_at, id"))
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(from_row).collect()
    }
}

/// How a source dataset refreshes, as the audit shows it.
fn refresh_audited(source: &vitrine_store::DatasetSource) -> serde_json::Map<String, Value> {
    let mut values = serde_json::Map::new();
    values.insert("refreshEveryMinutes".into(), json!(source.refresh_every_minutes));
    values.insert("refreshWindows".into(), json!(source.refresh_windows));
    values.insert("timeZone".into(), json!(source.refresh_time_zone));
    values
}
