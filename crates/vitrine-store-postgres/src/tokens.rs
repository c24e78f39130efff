//! What embed tokens are signed and checked with: the signing keys, revocations and users'
//! expiry dates.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use vitrine_core::UserId;
use vitrine_core::token::{Revocation, RevocationScope};

use super::{PostgresStore, conflict_on_unique, from_row, ms};
use vitrine_store::{StoreResult, StoredSigningKey, TokenStore};

#[async_trait]
impl TokenStore for PostgresStore {
    async fn insert_signing_key(&self, key: &StoredSigningKey) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO signing_keys (kid, public_key, sealed_private_key, created_at, retired_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&key.kid)
        .bind(&key.public_key)
        .bind(&key.sealed_private_key)
        .bind(ms(key.created_at))
        .bind(key.retired_at.map(ms))
        .execute(&self.pool)
        .await
        .map_err(|e| conflict_on_unique(e, "kid"))?;
        Ok(())
    }

    async fn list_signing_keys(&self) -> StoreResult<Vec<StoredSigningKey>> {
        let rows = sqlx::query(
            "SELECT kid, public_key, sealed_private_key, created_at, retired_at
             FROM signing_keys ORDER BY created_at, kid",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    async fn retire_signing_key(&self, kid: &str, at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query(
            "UPDATE signing_keys SET retired_at = $1 WHERE kid = $2 AND retired_at IS NULL",
        )
        .bind(ms(at))
        .bind(kid)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn record_revocation(&self, revocation: &Revocation) -> StoreResult<()> {
        let (scope, id) = revocation_key(revocation.scope);
        sqlx::query(
            "INSERT INTO token_revocations (scope, scope_id, not_before) VALUES ($1, $2, $3)
             ON CONFLICT (scope, scope_id) DO UPDATE
             SET not_before = GREATEST(token_revocations.not_before, excluded.not_before)",
        )
        .bind(scope)
        .bind(id)
        .bind(revocation.not_before)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn list_revocations(&self, since: i64) -> StoreResult<Vec<Revocation>> {
        let rows = sqlx::query(
            "SELECT scope, scope_id, not_before FROM token_revocations WHERE not_before >= $1",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    async fn user_expiries(&self) -> StoreResult<Vec<(UserId, DateTime<Utc>)>> {
        let rows = sqlx::query("SELECT id, expires_at FROM users WHERE expires_at IS NOT NULL")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(from_row).collect()
    }
}

fn revocation_key(scope: RevocationScope) -> (&'static str, String) {
    match scope {
        RevocationScope::User(id) => ("user", id.to_string()),
        RevocationScope::Identity(id) => ("identity", id.to_string()),
        RevocationScope::Organization(id) => ("org", id.to_string()),
        RevocationScope::Report(id) => ("report", id.to_string()),
    }
}
