//! Data where it lives: connections to an organization's databases, new versions of a
//! dataset's data, and the history of imports. The server seals a connection's password
//! before it gets here; this store never sees it in clear.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use vitrine_core::capacity::{WeeklySchedule, WeeklyWindow};
use vitrine_core::source::{RefreshPlan, RefreshTrigger, SourceKind, SourceMode, TlsMode};
use vitrine_core::{ConnectionId, DatasetId, OrgId};

use crate::{Actor, Dataset, StoreResult};

/// A connection to one database of an organization.
#[derive(Clone, PartialEq)]
pub struct Connection {
    pub id: ConnectionId,
    pub org_id: OrgId,
    pub name: String,
    pub kind: SourceKind,
    pub host: String,
    pub port: u16,
    pub database: String,
    pub user: String,
    /// The password, sealed with the installation's master key.
    pub password_sealed: Vec<u8>,
    pub tls: TlsMode,
    pub max_connections: u32,
    pub query_timeout_seconds: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &self.database)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// What a dataset of a connection reads, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetSource {
    pub connection_id: ConnectionId,
    /// A table or view (`table` or `schema.table`); else `sql` is set.
    pub table: Option<String>,
    /// A read-only query.
    pub sql: Option<String>,
    pub mode: SourceMode,
    /// Imported datasets: refreshed this often by the scheduler (inside `refresh_windows`
    /// when there are some).
    pub refresh_every_minutes: Option<u32>,
    /// Imported datasets: weekly windows, read in `refresh_time_zone`; refreshed at the start
    /// of each (and every `refresh_every_minutes` inside them). Neither set: on demand only.
    pub refresh_windows: Vec<WeeklyWindow>,
    pub refresh_time_zone: Option<String>,
}

impl DatasetSource {
    /// When the scheduler refreshes it; `None` for a direct dataset or a time zone no longer
    /// known.
    pub fn refresh_plan(&self) -> Option<RefreshPlan> {
        if self.mode != SourceMode::Imported {
            return None;
        }
        let windows = match (&self.refresh_windows[..], &self.refresh_time_zone) {
            ([], _) => None,
            (windows, zone) => Some(WeeklySchedule {
                windows: windows.to_vec(),
                time_zone: zone.as_deref().unwrap_or("UTC").parse().ok()?,
            }),
        };
        let every = self.refresh_every_minutes.map(|m| chrono::Duration::minutes(i64::from(m)));
        Some(RefreshPlan { every, windows })
    }
}

/// New data for a dataset: it becomes version `expected_version + 1`, unless another change
/// came first.
#[derive(Debug, Clone)]
pub struct NewData {
    pub expected_version: u64,
    /// `csv`, `parquet` or `source`.
    pub format: String,
    pub location: String,
    pub columns: Value,
    pub row_count: u64,
}

/// One import of an imported dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetRefresh {
    pub id: i64,
    pub dataset_id: DatasetId,
    pub trigger: RefreshTrigger,
    pub started_at: DateTime<Utc>,
    /// `None` while it runs.
    pub finished_at: Option<DateTime<Utc>>,
    pub row_count: Option<u64>,
    /// The version it made, when it succeeded.
    pub version: Option<u64>,
    /// Why it failed; the last good version stays.
    pub error: Option<String>,
}

/// How a refresh ended.
#[derive(Debug, Clone, PartialEq)]
pub enum RefreshOutcome {
    Succeeded { row_count: u64, version: u64 },
    Failed { error: String },
}

#[async_trait]
pub trait SourceStore: Send + Sync {
    /// Refused with `Conflict { field: "name" }` when the organization has one of that name.
    async fn create_connection(
        &self,
        org: OrgId,
        actor: &Actor,
        connection: &Connection,
    ) -> StoreResult<Connection>;
    async fn list_connections(&self, org: OrgId) -> StoreResult<Vec<Connection>>;
    async fn get_connection(&self, org: OrgId, id: ConnectionId) -> StoreResult<Connection>;
    /// Replaces every field but the id, organization and creation time.
    async fn update_connection(
        &self,
        org: OrgId,
        actor: &Actor,
        connection: &Connection,
    ) -> StoreResult<Connection>;
    /// Refused with `Conflict { field: "connection" }` while datasets read it.
    async fn delete_connection(
        &self,
        org: OrgId,
        actor: &Actor,
        id: ConnectionId,
    ) -> StoreResult<()>;
    /// Switches a dataset to new data, audited with both versions; refused with
    /// `Conflict { field: "version" }` when its version is no longer `expected_version`.
    async fn replace_dataset_data(
        &self,
        org: OrgId,
        actor: &Actor,
        id: DatasetId,
        data: &NewData,
    ) -> StoreResult<Dataset>;
    /// Records that a refresh started; returns its id.
    async fn start_refresh(
        &self,
        org: OrgId,
        dataset: DatasetId,
        trigger: RefreshTrigger,
        at: DateTime<Utc>,
    ) -> StoreResult<i64>;
    async fn finish_refresh(
        &self,
        org: OrgId,
        refresh: i64,
        at: DateTime<Utc>,
        outcome: &RefreshOutcome,
    ) -> StoreResult<()>;
    /// When each dataset's latest refresh started, over the whole installation (the import
    /// schedule's one read per pass).
    async fn last_refresh_starts(&self) -> StoreResult<Vec<(DatasetId, DateTime<Utc>)>>;
    /// The dataset's refreshes, newest first, at most `limit`.
    async fn list_refreshes(
        &self,
        org: OrgId,
        dataset: DatasetId,
        limit: u32,
    ) -> StoreResult<Vec<DatasetRefresh>>;
}
