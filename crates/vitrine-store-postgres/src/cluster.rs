//! The change feed and leases on PostgreSQL. A change is appended under the write lock, so
//! sequence numbers become visible in order (a reader never skips one committed late), and
//! announced with `pg_notify` on [`CHANNEL`] at commit. The announcement carries only the
//! sequence number, far below NOTIFY's 8000-byte payload limit; listeners read the feed.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgListener;

use super::{PostgresStore, from_row, ms};
use vitrine_store::{ChangeRecord, ChangeSignals, ClusterStore, StoreError, StoreResult};

/// The NOTIFY channel of the change feed.
pub const CHANNEL: &str = "vitrine_changes";

/// The database's clock in Unix milliseconds (the same for every node).
const NOW_MS: &str = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

#[async_trait]
impl ClusterStore for PostgresStore {
    async fn append_change(&self, node: &str, at: DateTime<Utc>, body: &str) -> StoreResult<i64> {
        let mut tx = self.write().await?;
        let seq: i64 = sqlx::query_scalar(
            "INSERT INTO changes (node, at, body) VALUES ($1, $2, $3) RETURNING seq",
        )
        .bind(node)
        .bind(ms(at))
        .bind(body)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(seq.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(seq)
    }

    async fn changes_after(&self, seq: i64, limit: u32) -> StoreResult<Vec<ChangeRecord>> {
        let rows = sqlx::query(
            "SELECT seq, node, at, body FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(seq)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    async fn last_change_seq(&self) -> StoreResult<i64> {
        Ok(sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0)::bigint FROM changes")
            .fetch_one(&self.pool)
            .await?)
    }

    async fn prune_changes(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM changes WHERE at < $1")
            .bind(ms(before))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn change_signals(&self) -> StoreResult<Box<dyn ChangeSignals>> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(CHANNEL).await?;
        Ok(Box::new(Announcements { listener }))
    }

    async fn hold_lease(&self, name: &str, holder: &str, ttl_ms: i64) -> StoreResult<bool> {
        let sql = format!(
            "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, {NOW_MS} + $3)
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,
                                              expires_at = excluded.expires_at
             WHERE leases.holder = excluded.holder OR leases.expires_at < {NOW_MS}
             RETURNING holder"
        );
        let held: Option<String> = sqlx::query_scalar(&sql)
            .bind(name)
            .bind(holder)
            .bind(ttl_ms)
            .fetch_optional(&self.pool)
            .await?;
        Ok(held.is_some())
    }

    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// `LISTEN vitrine_changes` on a connection of its own.
struct Announcements {
    listener: PgListener,
}

#[async_trait]
impl ChangeSignals for Announcements {
    async fn wait(&mut self) -> StoreResult<()> {
        // `None`: the connection was lost; the next call reconnects and listens again, and
        // the caller reads the feed for what was announced in between.
        match self.listener.try_recv().await {
            Ok(_) => Ok(()),
            Err(error) => Err(StoreError::Backend(error.to_string())),
        }
    }
}
