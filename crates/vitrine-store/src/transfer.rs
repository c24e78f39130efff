//! Moving a whole installation between stores (`vitrine store copy`, `vitrine backup` and
//! `restore`): every table, read in one consistent snapshot and written into an empty store in
//! one transaction, a bounded batch of rows at a time. Both databases have the same tables and
//! columns, so a row travels as a list of plain [`Cell`]s and each backend reads and writes them
//! in its own types (flags are integers on SQLite and booleans on PostgreSQL).

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::StoreResult;

/// Every table an installation keeps, parents before children (the order they are written in).
/// The change feed and the leases are not moved: they belong to the nodes running now.
pub const TABLES: &[&str] = &[
    "organizations",
    "users",
    "operators",
    "user_groups",
    "group_members",
    "capacities",
    "capacity_events",
    "capacity_keepers",
    "reports",
    "report_user_access",
    "report_group_access",
    "user_permissions",
    "group_permissions",
    "sessions",
    "api_keys",
    "api_key_reports",
    "audit_log",
    "installation_audit",
    "signing_keys",
    "token_revocations",
    "token_events",
    "embed_identities",
    "user_rls_roles",
    "group_rls_roles",
    "user_attributes",
    "group_attributes",
    "displays",
    "connections",
    "datasets",
    "dataset_refreshes",
    "powerbi_tenants",
    "sso_providers",
    "sso_domains",
    "sso_group_map",
    "sso_identities",
    "scim_users",
    "scim_groups",
    "allowances",
    "stranger_attempts",
];

/// Rows read or written at once: what a transfer holds in memory per table.
pub const BATCH_ROWS: usize = 1_000;

/// One value of a row, as both databases can hold it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Cell {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Bytes(Bytes),
}

/// Bytes, written as `{"base64": "…"}` in a backup file.
#[derive(Debug, Clone, PartialEq)]
pub struct Bytes(pub Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry("base64", &STANDARD.encode(&self.0))?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Encoded {
            base64: String,
        }
        let encoded = Encoded::deserialize(deserializer)?;
        STANDARD.decode(encoded.base64).map(Bytes).map_err(serde::de::Error::custom)
    }
}

/// Some rows of one table, with the names of their columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableBatch {
    pub table: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

/// Where an export's batches go (another store's import, a backup file).
#[async_trait]
pub trait TableSink: Send {
    async fn write(&mut self, batch: TableBatch) -> StoreResult<()>;
}

/// Where an import's batches come from, in [`TABLES`] order; `None` once all are read.
#[async_trait]
pub trait TableSource: Send {
    async fn read(&mut self) -> StoreResult<Option<TableBatch>>;
}

#[async_trait]
pub trait TransferStore {
    /// Hands every row of every table in [`TABLES`] to `sink`, read in one snapshot: what a
    /// write committed before the export began is in it, nothing committed after.
    async fn export(&self, sink: &mut dyn TableSink) -> StoreResult<()>;
    /// Writes every batch of `source` in one transaction, after checking that this store holds
    /// no row at all (`Conflict` on `database` otherwise); returns the rows written.
    async fn import(&self, source: &mut dyn TableSource) -> StoreResult<u64>;
}

/// Checks a batch against the tables and columns a store knows, so that a malformed or foreign
/// backup cannot name a table or column in the SQL an import builds.
pub fn check_batch(batch: &TableBatch, known_columns: &[String]) -> StoreResult<()> {
    let bad = |what: String| crate::StoreError::Backend(format!("refused backup: {what}"));
    if !TABLES.contains(&batch.table.as_str()) {
        return Err(bad(format!("unknown table {:?}", batch.table)));
    }
    if let Some(column) = batch.columns.iter().find(|c| !known_columns.contains(c)) {
        return Err(bad(format!("unknown column {column:?} in {}", batch.table)));
    }
    if let Some(row) = batch.rows.iter().find(|row| row.len() != batch.columns.len()) {
        return Err(bad(format!("a row of {} has {} values", batch.table, row.len())));
    }
    Ok(())
}

/// Batches kept in memory: a sink that collects an export, a source that replays it (tests,
/// and small installations' copies).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Batches(pub std::collections::VecDeque<TableBatch>);

#[async_trait]
impl TableSink for Batches {
    async fn write(&mut self, batch: TableBatch) -> StoreResult<()> {
        self.0.push_back(batch);
        Ok(())
    }
}

#[async_trait]
impl TableSource for Batches {
    async fn read(&mut self) -> StoreResult<Option<TableBatch>> {
        Ok(self.0.pop_front())
    }
}
