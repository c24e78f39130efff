//! What users manage of their own account: sessions and passwords.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::json;
use vitrine_core::UserId;

use super::{AuditRecord, PostgresStore, from_row, ms};
use vitrine_store::{AccountStore, Actor, SessionInfo, StoreError, StoreResult, User};

#[async_trait]
impl AccountStore for PostgresStore {
    async fn list_sessions(&self, user: UserId) -> StoreResult<Vec<SessionInfo>> {
        let rows = sqlx::query(
            "SELECT token_hash, created_at, last_seen_at, user_agent, ip FROM sessions
             WHERE user_id = $1 ORDER BY last_seen_at DESC",
        )
        .bind(user.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    async fn end_sessions(&self, user: UserId, keep: Option<&[u8]>) -> StoreResult<u64> {
        let result = sqlx::query(
            "DELETE FROM sessions WHERE user_id = $1 AND token_hash IS DISTINCT FROM $2",
        )
        .bind(user.to_string())
        .bind(keep)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected())
    }

    async fn change_own_password(
        &self,
        actor: &Actor,
        user: &User,
        password_hash: &str,
        keep_session: Option<&[u8]>,
    ) -> StoreResult<()> {
        let mut tx = self.write().await?;
        let changed = sqlx::query(
            "UPDATE users SET password_hash = $1, failed_logins = 0, locked_until = NULL,
                              updated_at = $2
             WHERE org_id = $3 AND id = $4",
        )
        .bind(password_hash)
        .bind(ms(actor.at))
        .bind(user.org_id.to_string())
        .bind(user.id.to_string())
        .execute(&mut *tx)
        .await?;
        if changed.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash IS DISTINCT FROM $2")
            .bind(user.id.to_string())
            .bind(keep_session)
            .execute(&mut *tx)
            .await?;
        AuditRecord::new(user.org_id, actor, "user", user.id.to_string(), "password changed")
            .values(None, Some(json!({ "password": "changed", "by": "themselves" })))
            .write(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_password_by_link(
        &self,
        user: &User,
        expected_hash: &str,
        password_hash: &str,
        at: DateTime<Utc>,
        action: &'static str,
    ) -> StoreResult<bool> {
        let mut tx = self.write().await?;
        // Compare-and-set on the old hash: of two uses of one link, only the first finds it.
        let changed = sqlx::query(
            "UPDATE users SET password_hash = $1, failed_logins = 0, locked_until = NULL,
                              updated_at = $2
             WHERE org_id = $3 AND id = $4 AND password_hash = $5",
        )
        .bind(password_hash)
        .bind(ms(at))
        .bind(user.org_id.to_string())
        .bind(user.id.to_string())
        .bind(expected_hash)
        .execute(&mut *tx)
        .await?;
        if changed.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user.id.to_string())
            .execute(&mut *tx)
            .await?;
        let actor = Actor { id: user.id.to_string(), label: user.email.clone(), at };
        AuditRecord::new(user.org_id, &actor, "user", user.id.to_string(), action)
            .values(None, Some(json!({ "password": "changed", "by": "emailed link" })))
            .write(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn password_hash(&self, user: UserId) -> StoreResult<String> {
        sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
            .bind(user.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)
    }
}
