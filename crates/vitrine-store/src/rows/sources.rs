//! Rows of datasets (the columns of `DATASET_COLUMNS` in each backend, with the source of a
//! dataset of a connection), of connections and of refreshes; and a source's refresh windows
//! as a column stores them.

use chrono::{DateTime, Utc};
use serde_json::Value;
use vitrine_core::DatasetId;
use vitrine_core::source::{RefreshTrigger, SourceKind, SourceMode, TlsMode};

use super::{from_ms, json_text, json_value, mapped, opt_from_ms, parse_id};
use crate::{Connection, Dataset, DatasetRefresh, DatasetSource, StoreError, StoreResult};

mapped! {
    Dataset => DatasetRow,
    Option<DatasetSource> => DatasetSourceRow,
    Connection => ConnectionRow,
    DatasetRefresh => RefreshRow,
    (DatasetId, DateTime<Utc>) => RefreshStartRow,
}

#[derive(sqlx::FromRow)]
pub struct DatasetRow {
    id: String,
    org_id: String,
    name: String,
    format: String,
    location: String,
    columns: Option<String>,
    row_count: i64,
    created_at: i64,
    version: i64,
    updated_at: i64,
    #[sqlx(flatten)]
    source: DatasetSourceRow,
}

impl TryFrom<DatasetRow> for Dataset {
    type Error = StoreError;

    fn try_from(row: DatasetRow) -> Result<Self, StoreError> {
        Ok(Dataset {
            source: Option::<DatasetSource>::try_from(row.source)?,
            version: u64::try_from(row.version).unwrap_or(1),
            updated_at: from_ms(row.updated_at)?,
            id: parse_id("id", &row.id)?,
            org_id: parse_id("org_id", &row.org_id)?,
            name: row.name,
            format: row.format,
            location: row.location,
            columns: json_value(row.columns).unwrap_or(Value::Null),
            row_count: u64::try_from(row.row_count).unwrap_or_default(),
            created_at: from_ms(row.created_at)?,
        })
    }
}

/// Where a dataset of a connection reads from and when it refreshes; all NULL for an
/// uploaded dataset.
#[derive(sqlx::FromRow)]
pub struct DatasetSourceRow {
    connection_id: Option<String>,
    source_table: Option<String>,
    source_sql: Option<String>,
    mode: Option<String>,
    refresh_every_minutes: Option<i64>,
    refresh_windows: Option<String>,
    refresh_time_zone: Option<String>,
}

impl TryFrom<DatasetSourceRow> for Option<DatasetSource> {
    type Error = StoreError;

    fn try_from(row: DatasetSourceRow) -> Result<Self, StoreError> {
        let Some(id) = row.connection_id else { return Ok(None) };
        Ok(Some(DatasetSource {
            connection_id: id
                .parse()
                .map_err(|_| StoreError::Backend("bad connection id".into()))?,
            table: row.source_table,
            sql: row.source_sql,
            mode: row
                .mode
                .as_deref()
                .and_then(SourceMode::parse)
                .ok_or_else(|| StoreError::Backend("bad dataset mode".into()))?,
            refresh_every_minutes: row.refresh_every_minutes.and_then(|m| u32::try_from(m).ok()),
            refresh_windows: match json_value(row.refresh_windows) {
                Some(windows) => serde_json::from_value(windows)
                    .map_err(|e| StoreError::Backend(format!("refresh windows: {e}")))?,
                None => Vec::new(),
            },
            refresh_time_zone: row.refresh_time_zone,
        }))
    }
}

fn bad(what: &str) -> StoreError {
    StoreError::Backend(format!("unreadable {what}"))
}

#[derive(sqlx::FromRow)]
pub struct ConnectionRow {
    id: String,
    org_id: String,
    name: String,
    kind: String,
    host: String,
    port: i64,
    database_name: String,
    username: String,
    password_sealed: Vec<u8>,
    tls: String,
    max_connections: i64,
    query_timeout_seconds: i64,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<ConnectionRow> for Connection {
    type Error = StoreError;

    fn try_from(row: ConnectionRow) -> Result<Self, StoreError> {
        Ok(Connection {
            id: parse_id("id", &row.id)?,
            org_id: parse_id("org_id", &row.org_id)?,
            name: row.name,
            kind: SourceKind::parse(&row.kind).ok_or_else(|| bad("connection kind"))?,
            host: row.host,
            port: u16::try_from(row.port).map_err(|_| bad("port"))?,
            database: row.database_name,
            user: row.username,
            password_sealed: row.password_sealed,
            tls: TlsMode::parse(&row.tls).ok_or_else(|| bad("TLS mode"))?,
            max_connections: u32::try_from(row.max_connections).map_err(|_| bad("pool size"))?,
            query_timeout_seconds: u32::try_from(row.query_timeout_seconds)
                .map_err(|_| bad("query timeout"))?,
            created_at: from_ms(row.created_at)?,
            updated_at: from_ms(row.updated_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct RefreshRow {
    id: i64,
    dataset_id: String,
    trigger: String,
    started_at: i64,
    finished_at: Option<i64>,
    row_count: Option<i64>,
    version: Option<i64>,
    error: Option<String>,
}

impl TryFrom<RefreshRow> for DatasetRefresh {
    type Error = StoreError;

    fn try_from(row: RefreshRow) -> Result<Self, StoreError> {
        Ok(DatasetRefresh {
            id: row.id,
            dataset_id: parse_id("dataset_id", &row.dataset_id)?,
            trigger: RefreshTrigger::parse(&row.trigger).ok_or_else(|| bad("refresh trigger"))?,
            started_at: from_ms(row.started_at)?,
            finished_at: opt_from_ms(row.finished_at)?,
            row_count: row.row_count.and_then(|r| u64::try_from(r).ok()),
            version: row.version.and_then(|v| u64::try_from(v).ok()),
            error: row.error,
        })
    }
}

/// When a dataset's latest refresh started.
#[derive(sqlx::FromRow)]
pub struct RefreshStartRow {
    dataset_id: String,
    started_at: i64,
}

impl TryFrom<RefreshStartRow> for (DatasetId, DateTime<Utc>) {
    type Error = StoreError;

    fn try_from(row: RefreshStartRow) -> Result<Self, StoreError> {
        Ok((parse_id("dataset_id", &row.dataset_id)?, from_ms(row.started_at)?))
    }
}

/// A source dataset's refresh windows as stored: JSON, or NULL for none.
pub fn refresh_windows_json(source: &DatasetSource) -> StoreResult<Option<String>> {
    if source.refresh_windows.is_empty() {
        return Ok(None);
    }
    json_text(&source.refresh_windows).map(Some)
}

mapped! {
    crate::PowerBiTenant => PowerBiTenantRow,
}

/// An organization's Power BI tenant.
#[derive(sqlx::FromRow)]
pub struct PowerBiTenantRow {
    org_id: String,
    tenant_id: String,
    client_id: String,
    secret_sealed: Vec<u8>,
    updated_at: i64,
}

impl TryFrom<PowerBiTenantRow> for crate::PowerBiTenant {
    type Error = StoreError;

    fn try_from(row: PowerBiTenantRow) -> Result<Self, StoreError> {
        Ok(crate::PowerBiTenant {
            org_id: parse_id("org_id", &row.org_id)?,
            tenant_id: row.tenant_id,
            client_id: row.client_id,
            secret_sealed: row.secret_sealed,
            updated_at: from_ms(row.updated_at)?,
        })
    }
}
