//! API keys, and the host app's users that embed tokens minted by an API key are for.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::json;
use vitrine_core::{ApiKeyId, IdentityId, OrgId, ReportId};

use super::{AuditRecord, PostgresStore, from_row, ms};
use vitrine_store::{
    Actor, ApiKey, ApiKeyRecord, ApiKeyStore, Identity, IdentitySeen, NewApiKey, StoreError,
    StoreResult,
};

const IDENTITY_COLUMNS: &str =
    "id, org_id, external_id, name, first_seen_at, last_seen_at, last_key_id";
const API_KEY_COLUMNS: &str = "k.id, k.org_id, k.name, k.prefix, k.created_by, k.created_at, \
     k.last_used_at, k.revoked_at, k.scope, k.all_reports, k.expires_at, k.wake_capacity, \
     k.keep_capacity_on, k.created_by_user, \
     (SELECT COALESCE(json_agg(kr.report_id)::text, '[]') FROM api_key_reports kr WHERE kr.key_id = k.id) AS key_reports";

#[async_trait]
impl ApiKeyStore for PostgresStore {
    async fn create_api_key(
        &self,
        org: OrgId,
        actor: &Actor,
        new: &NewApiKey,
    ) -> StoreResult<ApiKey> {
        // Each report once, in the order they are read back.
        let listed: std::collections::BTreeSet<ReportId> =
            new.reports.iter().flatten().copied().collect();
        let key = ApiKey {
            id: ApiKeyId::generate(),
            org_id: org,
            name: new.name.clone(),
            prefix: new.prefix.clone(),
            created_by: actor.label.clone(),
            created_at: actor.at,
            last_used_at: None,
            revoked_at: None,
            scope: new.scope,
            reports: new.reports.as_ref().map(|_| listed.iter().copied().collect()),
            expires_at: new.expires_at,
            wake_capacity: new.wake_capacity,
            keep_capacity_on: new.keep_capacity_on,
            created_by_user: new.created_by_user,
        };
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO api_keys (id, org_id, name, prefix, secret_hash, created_by, created_at,
                 scope, all_reports, expires_at, wake_capacity, keep_capacity_on, created_by_user)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(key.id.to_string())
        .bind(org.to_string())
        .bind(&key.name)
        .bind(&key.prefix)
        .bind(&new.secret_hash)
        .bind(&key.created_by)
        .bind(ms(key.created_at))
        .bind(key.scope.as_str())
        .bind(key.reports.is_none())
        .bind(key.expires_at.map(ms))
        .bind(key.wake_capacity)
        .bind(key.keep_capacity_on)
        .bind(key.created_by_user.map(|id| id.to_string()))
        .execute(&mut *tx)
        .await?;
        for report in listed {
            // Only the organization's own reports: another's id is not found.
            let added = sqlx::query(
                "INSERT INTO api_key_reports (key_id, report_id)
                 SELECT $1, id FROM reports WHERE id = $2 AND org_id = $3",
            )
            .bind(key.id.to_string())
            .bind(report.to_string())
            .bind(org.to_string())
            .execute(&mut *tx)
            .await?;
            if added.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
        }
        let shown = json!({
            "name": key.name,
            "prefix": key.prefix,
            "scope": key.scope.as_str(),
            "reports": key.reports,
            "expiresAt": key.expires_at.map(|at| at.to_rfc3339()),
            "wakeCapacity": key.wake_capacity,
            "keepCapacityOn": key.keep_capacity_on,
        });
        AuditRecord::new(org, actor, "apiKey", key.id.to_string(), "created")
            .values(None, Some(shown))
            .write(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(key)
    }

    async fn list_api_keys(&self, org: OrgId) -> StoreResult<Vec<ApiKey>> {
        let sql = format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys k WHERE k.org_id = $1 ORDER BY k.created_at DESC, k.id DESC"
        );
        let rows = sqlx::query(&sql).bind(org.to_string()).fetch_all(&self.pool).await?;
        rows.iter().map(from_row).collect()
    }

    async fn revoke_api_key(&self, org: OrgId, actor: &Actor, id: ApiKeyId) -> StoreResult<()> {
        let mut tx = self.write().await?;
        let sql =
            format!("SELECT {API_KEY_COLUMNS} FROM api_keys k WHERE k.org_id = $1 AND k.id = $2");
        let row = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let key: ApiKey = from_row(&row)?;
        if key.revoked_at.is_none() {
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2")
                .bind(ms(actor.at))
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
            AuditRecord::new(org, actor, "apiKey", id.to_string(), "revoked")
                .values(Some(json!({ "name": key.name, "prefix": key.prefix })), None)
                .write(&mut tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn find_api_key(&self, secret_hash: &[u8]) -> StoreResult<Option<ApiKeyRecord>> {
        static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            format!(
                "SELECT {API_KEY_COLUMNS}, o.name AS org_name, o.settings, o.suspended_at,
                        cu.id AS creator_id, cu.role AS creator_role, cu.blocked AS creator_blocked,
                        cu.expires_at AS creator_expires_at
                 FROM api_keys k JOIN organizations o ON o.id = k.org_id
                 LEFT JOIN users cu ON cu.id = k.created_by_user AND cu.org_id = k.org_id
                 WHERE k.secret_hash = $1 AND k.revoked_at IS NULL"
            )
        });
        let row = sqlx::query(SQL.as_str()).bind(secret_hash).fetch_optional(&self.pool).await?;
        row.as_ref().map(from_row).transpose()
    }

    async fn touch_api_key(&self, id: ApiKeyId, at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
            .bind(ms(at))
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn identity_seen(&self, org: OrgId, seen: &IdentitySeen) -> StoreResult<Identity> {
        let row = sqlx::query(&format!(
            "INSERT INTO embed_identities
                 (id, org_id, external_id, name, first_seen_at, last_seen_at, last_key_id)
             VALUES ($1, $2, $3, COALESCE($4, ''), $5, $6, $7)
             ON CONFLICT (org_id, external_id) DO UPDATE SET
                 name = COALESCE($8, embed_identities.name),
                 last_seen_at = GREATEST(embed_identities.last_seen_at, excluded.last_seen_at),
                 last_key_id = COALESCE(excluded.last_key_id, embed_identities.last_key_id)
             RETURNING {IDENTITY_COLUMNS}"
        ))
        .bind(IdentityId::generate().to_string())
        .bind(org.to_string())
        .bind(&seen.external_id)
        .bind(&seen.name)
        .bind(ms(seen.at))
        .bind(ms(seen.at))
        .bind(seen.key.map(|key| key.to_string()))
        .bind(&seen.name)
        .fetch_one(&self.pool)
        .await?;
        from_row(&row)
    }

    async fn find_identity(&self, org: OrgId, external_id: &str) -> StoreResult<Option<Identity>> {
        let row = sqlx::query(&format!(
            "SELECT {IDENTITY_COLUMNS} FROM embed_identities WHERE org_id = $1 AND external_id = $2"
        ))
        .bind(org.to_string())
        .bind(external_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    async fn list_identities(&self, org: OrgId, limit: u32) -> StoreResult<Vec<Identity>> {
        let rows = sqlx::query(&format!(
            "SELECT {IDENTITY_COLUMNS} FROM embed_identities WHERE org_id = $1
             ORDER BY last_seen_at DESC, id DESC LIMIT $2"
        ))
        .bind(org.to_string())
        .bind(i64::from(limit.max(1)))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }
}
