//! The change feed and leases on SQLite: one node reads its own feed (no announcements), and
//! the lease keeps a second process on the same file from running the scheduler too.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{SqliteStore, from_row, ms};
use vitrine_store::{ChangeRecord, ChangeSignals, ClusterStore, NoSignals, StoreResult};

/// The database's clock in Unix milliseconds.
const NOW_MS: &str = "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)";

#[async_trait]
impl ClusterStore for SqliteStore {
    async fn append_change(&self, node: &str, at: DateTime<Utc>, body: &str) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO changes (node, at, body) VALUES (?, ?, ?) RETURNING seq",
        )
        .bind(node)
        .bind(ms(at))
        .bind(body)
        .fetch_one(&self.writer)
        .await?)
    }

    async fn changes_after(&self, seq: i64, limit: u32) -> StoreResult<Vec<ChangeRecord>> {
        let rows = sqlx::query(
            "SELECT seq, node, at, body FROM changes WHERE seq > ? ORDER BY seq LIMIT ?",
        )
        .bind(seq)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(from_row).collect()
    }

    async fn last_change_seq(&self) -> StoreResult<i64> {
        Ok(sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM changes")
            .fetch_one(&self.reader)
            .await?)
    }

    async fn prune_changes(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM changes WHERE at < ?")
            .bind(ms(before))
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected())
    }

    async fn change_signals(&self) -> StoreResult<Box<dyn ChangeSignals>> {
        Ok(Box::new(NoSignals))
    }

    async fn hold_lease(&self, name: &str, holder: &str, ttl_ms: i64) -> StoreResult<bool> {
        let sql = format!(
            "INSERT INTO leases (name, holder, expires_at) VALUES (?1, ?2, {NOW_MS} + ?3)
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,
                                              expires_at = excluded.expires_at
             WHERE leases.holder = excluded.holder OR leases.expires_at < {NOW_MS}
             RETURNING holder"
        );
        let held: Option<String> = sqlx::query_scalar(&sql)
            .bind(name)
            .bind(holder)
            .bind(ttl_ms)
            .fetch_optional(&self.writer)
            .await?;
        Ok(held.is_some())
    }

    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM leases WHERE name = ? AND holder = ?")
            .bind(name)
            .bind(holder)
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}
