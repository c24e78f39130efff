//! Allowances and strangers' lockouts on PostgreSQL: each attempt reads and writes its key
//! under a transaction lock of that key alone, so attempts on one key take their turn on every
//! node while other keys, and the installation's other writes, do not wait.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use sqlx::{Postgres, Transaction};
use vitrine_core::allowance::{Allowance, AllowanceRule};
use vitrine_core::lockout::{Attempts, Gate, LockoutRule};

use super::{PostgresStore, from_row, ms};
use vitrine_store::{GuardStore, StoreResult};

#[async_trait]
impl GuardStore for PostgresStore {
    async fn take_allowance(
        &self,
        key: &str,
        rule: &AllowanceRule,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut tx = self.key_locked(key).await?;
        let row = sqlx::query("SELECT tokens, at FROM allowances WHERE key = $1")
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
        let current: Option<Allowance> = row.as_ref().map(from_row).transpose()?;
        let Some(next) = rule.take(current, now) else { return Ok(false) };
        sqlx::query(
            "INSERT INTO allowances (key, tokens, at, forget_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (key) DO UPDATE SET tokens = excluded.tokens, at = excluded.at,
                                             forget_at = excluded.forget_at",
        )
        .bind(key)
        .bind(next.tokens)
        .bind(ms(next.at))
        .bind(ms(rule.whole_at(&next)))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn begin_stranger_attempt(
        &self,
        key: &str,
        rule: &LockoutRule,
        now: DateTime<Utc>,
        forget_after: Duration,
    ) -> StoreResult<Gate> {
        let mut tx = self.key_locked(key).await?;
        let row =
            sqlx::query("SELECT failed_logins, locked_until FROM stranger_attempts WHERE key = $1")
                .bind(key)
                .fetch_optional(&mut *tx)
                .await?;
        let current: Attempts = row.as_ref().map(from_row).transpose()?.unwrap_or_default();
        let (next, gate) = rule.attempt(current, now);
        if next != current {
            sqlx::query(
                "INSERT INTO stranger_attempts (key, failed_logins, locked_until, forget_at)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (key) DO UPDATE SET failed_logins = excluded.failed_logins,
                     locked_until = excluded.locked_until, forget_at = excluded.forget_at",
            )
            .bind(key)
            .bind(i64::from(next.failed))
            .bind(next.locked_until.map(ms))
            .bind(ms(vitrine_store::stranger_forget_at(&next, now, forget_after)))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(gate)
    }

    async fn prune_guards(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let mut forgotten = 0;
        for table in ["allowances", "stranger_attempts"] {
            let sql = format!("DELETE FROM {table} WHERE forget_at < $1");
            forgotten += sqlx::query(&sql).bind(ms(now)).execute(&self.pool).await?.rows_affected();
        }
        Ok(forgotten)
    }
}

impl PostgresStore {
    /// A transaction holding the lock of `key` alone until it ends.
    async fn key_locked(&self, key: &str) -> StoreResult<Transaction<'static, Postgres>> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(key)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }
}
