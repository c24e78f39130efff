//! Connections, dataset versions and import history on SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use vitrine_core::source::RefreshTrigger;
use vitrine_core::{ConnectionId, DatasetId, OrgId};

use super::datasets::DATASET_COLUMNS;
use super::{AuditRecord, SqliteStore, conflict_on_unique, from_row, ms};
use vitrine_store::{
    Actor, Connection, Dataset, DatasetRefresh, NewData, RefreshOutcome, SourceStore, StoreError,
    StoreResult,
};

const CONNECTION_COLUMNS: &str = "id, org_id, name, kind, host, port, database_name, username, \
     password_sealed, tls, max_connections, query_timeout_seconds, created_at, updated_at";
const REFRESH_COLUMNS: &str =
    "id, dataset_id, trigger, started_at, finished_at, row_count, version, error";

/// A connection as the audit shows it: never its password.
fn audited(connection: &Connection) -> Value {
    json!({
        "name": connection.name,
        "kind": connection.kind.as_str(),
        "host": connection.host,
        "port": connection.port,
        "database": connection.database,
        "user": connection.user,
        "tls": connection.tls.as_str(),
        "maxConnections": connection.max_connections,
        "queryTimeoutSeconds": connection.query_timeout_seconds,
    })
}

impl SqliteStore {
    async fn connection_in_org(
        conn: &mut sqlx::SqliteConnection,
        org: OrgId,
        id: ConnectionId,
    ) -> StoreResult<Connection> {
        let row = sqlx::query(&format!(
            "SELECT {CONNECTION_COLUMNS} FROM connections WHERE org_id = ? AND id = ?"
        ))
        .bind(org.to_string())
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?
        .ok_or(StoreError::NotFound)?;
        from_row(&row)
    }
}

#[async_trait]
impl SourceStore for SqliteStore {
    async fn create_connection(
        &self,
        org: OrgId,
        actor: &Actor,
        connection: &Connection,
    ) -> StoreResult<Connection> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(&format!(
            "INSERT INTO connections ({CONNECTION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(connection.id.to_string())
        .bind(org.to_string())
        .bind(&connection.name)
        .bind(connection.kind.as_str())
        .bind(&connection.host)
        .bind(i64::from(connection.port))
        .bind(&connection.database)
        .bind(&connection.user)
        .bind(&connection.password_sealed)
        .bind(connection.tls.as_str())
        .bind(i64::from(connection.max_connections))
        .bind(i64::from(connection.query_timeout_seconds))
        .bind(ms(connection.created_at))
        .bind(ms(connection.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_on_unique(e, "name"))?;
        let created = Self::connection_in_org(&mut tx, org, connection.id).await?;
        AuditRecord::new(org, actor, "connection", connection.id.to_string(), "created")
            .values(None, Some(audited(&created)))
            .write(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn list_connections(&self, org: OrgId) -> StoreResult<Vec<Connection>> {
        let rows = sqlx::query(&format!(
            "SELECT {CONNECTION_COLUMNS} FROM connections WHERE org_id = ? ORDER BY name"
        ))
        .bind(org.to_string())
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(from_row).collect()
    }

    async fn get_connection(&self, org: OrgId, id: ConnectionId) -> StoreResult<Connection> {
        let mut conn = self.reader.acquire().await?;
        Self::connection_in_org(&mut conn, org, id).await
    }

    async fn update_connection(
        &self,
        org: OrgId,
        actor: &Actor,
        connection: &Connection,
    ) -> StoreResult<Connection> {
        let mut tx = self.writer.begin().await?;
        let old = Self::connection_in_org(&mut tx, org, connection.id).await?;
        sqlx::query(
            "UPDATE connections SET name = ?, kind = ?, host = ?, port = ?, database_name = ?,
                    username = ?, password_sealed = ?, tls = ?, max_connections = ?,
                    query_timeout_seconds = ?, updated_at = ?
             WHERE org_id = ? AND id = ?",
        )
        .bind(&connection.name)
        .bind(connection.kind.as_str())
        .bind(&connection.host)
        .bind(i64::from(connection.port))
        .bind(&connection.database)
        .bind(&connection.user)
        .bind(&connection.password_sealed)
        .bind(connection.tls.as_str())
        .bind(i64::from(connection.max_connections))
        .bind(i64::from(connection.query_timeout_seconds))
        .bind(ms(actor.at))
        .bind(org.to_string())
        .bind(connection.id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_on_unique(e, "name"))?;
        let new = Self::connection_in_org(&mut tx, org, connection.id).await?;
        let mut after = audited(&new);
        if old.password_sealed != new.password_sealed {
            after["password"] = json!("changed");
        }
        AuditRecord::new(org, actor, "connection", connection.id.to_string(), "changed")
            .values(Some(audited(&old)), Some(after))
            .write(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(new)
    }

    async fn delete_connection(
        &self,
        org: OrgId,
        actor: &Actor,
        id: ConnectionId,
    ) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        let old = Self::connection_in_org(&mut tx, org, id).await?;
        let readers: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM datasets WHERE connection_id = ?")
                .bind(id.to_string())
                .fetch_one(&mut *tx)
                .await?;
        if readers > 0 {
            return Err(StoreError::Conflict { field: "connection" });
        }
        sqlx::query("DELETE FROM connections WHERE org_id = ? AND id = ?")
            .bind(org.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        AuditRecord::new(org, actor, "connection", id.to_string(), "deleted")
            .values(Some(audited(&old)), None)
            .write(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn replace_dataset_data(
        &self,
        org: OrgId,
        actor: &Actor,
        id: DatasetId,
        data: &NewData,
    ) -> StoreResult<Dataset> {
        let mut tx = self.writer.begin().await?;
        let row = sqlx::query(&format!(
            "SELECT {DATASET_COLUMNS} FROM datasets WHERE org_id = ? AND id = ?"
        ))
        .bind(org.to_string())
        .bind(id.to_string())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let old: Dataset = from_row(&row)?;
        if old.version != data.expected_version {
            return Err(StoreError::Conflict { field: "version" });
        }
        let version = data.expected_version + 1;
        sqlx::query(
            "UPDATE datasets SET format = ?, location = ?, columns = ?, row_count = ?, version = ?,
                    updated_at = ?
             WHERE org_id = ? AND id = ?",
        )
        .bind(&data.format)
        .bind(&data.location)
        .bind(data.columns.to_string())
        .bind(i64::try_from(data.row_count).unwrap_or(i64::MAX))
        .bind(i64::try_from(version).unwrap_or(i64::MAX))
        .bind(ms(actor.at))
        .bind(org.to_string())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query(&format!("SELECT {DATASET_COLUMNS} FROM datasets WHERE id = ?"))
            .bind(id.to_string())
            .fetch_one(&mut *tx)
            .await?;
        let new: Dataset = from_row(&row)?;
        AuditRecord::new(org, actor, "dataset", id.to_string(), "data replaced")
            .values(
                Some(json!({ "version": old.version, "rows": old.row_count })),
                Some(json!({ "version": new.version, "rows": new.row_count })),
            )
            .write(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(new)
    }

    async fn start_refresh(
        &self,
        org: OrgId,
        dataset: DatasetId,
        trigger: RefreshTrigger,
        at: DateTime<Utc>,
    ) -> StoreResult<i64> {
        let mut tx = self.writer.begin().await?;
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM datasets WHERE org_id = ? AND id = ?")
                .bind(org.to_string())
                .bind(dataset.to_string())
                .fetch_optional(&mut *tx)
                .await?;
        exists.ok_or(StoreError::NotFound)?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO dataset_refreshes (org_id, dataset_id, trigger, started_at)
             VALUES (?, ?, ?, ?) RETURNING id",
        )
        .bind(org.to_string())
        .bind(dataset.to_string())
        .bind(trigger.as_str())
        .bind(ms(at))
        .fetch_one(&mut *tx)
        .await?;
        // The history keeps the last hundred refreshes of each dataset.
        sqlx::query(
            "DELETE FROM dataset_refreshes WHERE dataset_id = ? AND id NOT IN
                 (SELECT id FROM dataset_refreshes WHERE dataset_id = ? ORDER BY id DESC LIMIT 100)",
        )
        .bind(dataset.to_string())
        .bind(dataset.to_string())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn finish_refresh(
        &self,
        org: OrgId,
        refresh: i64,
        at: DateTime<Utc>,
        outcome: &RefreshOutcome,
    ) -> StoreResult<()> {
        let (rows, version, error) = match outcome {
            RefreshOutcome::Succeeded { row_count, version } => (
                Some(i64::try_from(*row_count).unwrap_or(i64::MAX)),
                Some(i64::try_from(*version).unwrap_or(i64::MAX)),
                None,
            ),
            RefreshOutcome::Failed { error } => (None, None, Some(error.as_str())),
        };
        let done = sqlx::query(
            "UPDATE dataset_refreshes SET finished_at = ?, row_count = ?, version = ?, error = ?
             WHERE org_id = ? AND id = ? AND finished_at IS NULL",
        )
        .bind(ms(at))
        .bind(rows)
        .bind(version)
        .bind(error)
        .bind(org.to_string())
        .bind(refresh)
        .execute(&self.writer)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn last_refresh_starts(&self) -> StoreResult<Vec<(DatasetId, DateTime<Utc>)>> {
        let rows = sqlx::query(
            "SELECT dataset_id, MAX(started_at) AS started_at FROM dataset_refreshes
             GROUP BY dataset_id",
        )
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(from_row).collect()
    }

    async fn list_refreshes(
        &self,
        org: OrgId,
        dataset: DatasetId,
        limit: u32,
    ) -> StoreResult<Vec<DatasetRefresh>> {
        let rows = sqlx::query(&format!(
            "SELECT {REFRESH_COLUMNS} FROM dataset_refreshes WHERE org_id = ? AND dataset_id = ?
             ORDER BY id DESC LIMIT ?"
        ))
        .bind(org.to_string())
        .bind(dataset.to_string())
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(from_row).collect()
    }
}
