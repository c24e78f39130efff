//! Organizations' single sign-on providers on SQLite.

use async_trait::async_trait;
use serde_json::json;
use sqlx::SqliteConnection;
use vitrine_core::{OrgId, UserId};
use vitrine_store::rows::{SsoDomainRow, SsoGroupRow, SsoProviderRow, scopes_text};
use vitrine_store::{
    Actor, SsoProvider, SsoSettings, SsoStore, StoreError, StoreResult, sso_audit,
};

use super::{AuditRecord, SqliteStore, conflict_on_unique, ms};

async fn read(conn: &mut SqliteConnection, org: OrgId) -> StoreResult<Option<SsoProvider>> {
    let row: Option<SsoProviderRow> = sqlx::query_as(
        "SELECT org_id, preset, issuer, client_id, secret_sealed, scopes, required, groups_claim,
                default_role, updated_at
         FROM sso_providers WHERE org_id = ?",
    )
    .bind(org.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let domains: Vec<SsoDomainRow> = sqlx::query_as(
        "SELECT domain, verified_at FROM sso_domains WHERE org_id = ? ORDER BY domain",
    )
    .bind(org.to_string())
    .fetch_all(&mut *conn)
    .await?;
    let groups: Vec<SsoGroupRow> = sqlx::query_as(
        "SELECT claim_value, group_id FROM sso_group_map WHERE org_id = ? ORDER BY claim_value",
    )
    .bind(org.to_string())
    .fetch_all(&mut *conn)
    .await?;
    row.assemble(domains, groups).map(Some)
}

#[async_trait]
impl SsoStore for SqliteStore {
    async fn sso_provider(&self, org: OrgId) -> StoreResult<Option<SsoProvider>> {
        let mut conn = self.reader.acquire().await?;
        read(&mut conn, org).await
    }

    async fn set_sso_provider(
        &self,
        org: OrgId,
        actor: &Actor,
        settings: &SsoSettings,
        secret_sealed: Option<&[u8]>,
        verified: bool,
    ) -> StoreResult<SsoProvider> {
        let mut tx = self.writer.begin().await?;
        let old = read(&mut tx, org).await?;
        let secret = match (secret_sealed, &old) {
            (Some(secret), _) => secret.to_vec(),
            (None, Some(old)) => old.secret_sealed.clone(),
            (None, None) => return Err(StoreError::NotFound),
        };
        sqlx::query(
            "INSERT INTO sso_providers (org_id, preset, issuer, client_id, secret_sealed, scopes,
                                        required, groups_claim, default_role, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (org_id) DO UPDATE SET preset = excluded.preset,
                 issuer = excluded.issuer, client_id = excluded.client_id,
                 secret_sealed = excluded.secret_sealed, scopes = excluded.scopes,
                 required = excluded.required, groups_claim = excluded.groups_claim,
                 default_role = excluded.default_role, updated_at = excluded.updated_at",
        )
        .bind(org.to_string())
        .bind(settings.preset.as_str())
        .bind(&settings.issuer)
        .bind(&settings.client_id)
        .bind(&secret)
        .bind(scopes_text(&settings.scopes))
        .bind(settings.required)
        .bind(&settings.groups_claim)
        .bind(settings.default_role.as_str())
        .bind(ms(actor.at))
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM sso_domains WHERE org_id = ?")
            .bind(org.to_string())
            .execute(&mut *tx)
            .await?;
        for domain in &settings.domains {
            let kept = old.as_ref().and_then(|old| {
                old.domains.iter().find(|d| &d.domain == domain).and_then(|d| d.verified_at)
            });
            let verified_at = kept.or(verified.then_some(actor.at));
            sqlx::query("INSERT INTO sso_domains (domain, org_id, verified_at) VALUES (?, ?, ?)")
                .bind(domain)
                .bind(org.to_string())
                .bind(verified_at.map(ms))
                .execute(&mut *tx)
                .await
                .map_err(|e| conflict_on_unique(e, "domains"))?;
        }
        sqlx::query("DELETE FROM sso_group_map WHERE org_id = ?")
            .bind(org.to_string())
            .execute(&mut *tx)
            .await?;
        for (claim, group) in &settings.groups {
            sqlx::query(
                "INSERT INTO sso_group_map (org_id, claim_value, group_id) VALUES (?, ?, ?)",
            )
            .bind(org.to_string())
            .bind(claim)
            .bind(group.to_string())
            .execute(&mut *tx)
            .await?;
        }
        let new = read(&mut tx, org).await?.ok_or(StoreError::NotFound)?;
        let (action, before, after) = sso_audit(old.as_ref(), &new);
        AuditRecord::new(org, actor, "sso", org.to_string(), action)
            .values(before, Some(after))
            .write(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(new)
    }

    async fn delete_sso_provider(&self, org: OrgId, actor: &Actor) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        let old = read(&mut tx, org).await?.ok_or(StoreError::NotFound)?;
        sqlx::query("DELETE FROM sso_providers WHERE org_id = ?")
            .bind(org.to_string())
            .execute(&mut *tx)
            .await?;
        AuditRecord::new(org, actor, "sso", org.to_string(), "deleted")
            .values(Some(vitrine_store::audited_sso(&old)), None)
            .write(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn verify_sso_domain(&self, org: OrgId, actor: &Actor, domain: &str) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        let changed = sqlx::query(
            "UPDATE sso_domains SET verified_at = COALESCE(verified_at, ?)
             WHERE org_id = ? AND domain = ?",
        )
        .bind(ms(actor.at))
        .bind(org.to_string())
        .bind(domain)
        .execute(&mut *tx)
        .await?;
        if changed.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        AuditRecord::new(org, actor, "sso", org.to_string(), "domainVerified")
            .values(None, Some(json!({ "domain": domain })))
            .write(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn sso_provider_for_domain(&self, domain: &str) -> StoreResult<Option<SsoProvider>> {
        let mut conn = self.reader.acquire().await?;
        let org: Option<String> = sqlx::query_scalar(
            "SELECT org_id FROM sso_domains WHERE domain = ? AND verified_at IS NOT NULL",
        )
        .bind(domain)
        .fetch_optional(&mut *conn)
        .await?;
        match org {
            Some(org) => read(&mut conn, vitrine_store::rows::parse_id("org_id", &org)?).await,
            None => Ok(None),
        }
    }

    async fn sso_identity(
        &self,
        org: OrgId,
        issuer: &str,
        subject: &str,
    ) -> StoreResult<Option<UserId>> {
        let user: Option<String> = sqlx::query_scalar(
            "SELECT user_id FROM sso_identities WHERE org_id = ? AND issuer = ? AND subject = ?",
        )
        .bind(org.to_string())
        .bind(issuer)
        .bind(subject)
        .fetch_optional(&self.reader)
        .await?;
        user.map(|id| vitrine_store::rows::parse_id("user_id", &id)).transpose()
    }

    async fn link_sso_identity(
        &self,
        org: OrgId,
        issuer: &str,
        subject: &str,
        user: UserId,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sso_identities (org_id, issuer, subject, user_id) VALUES (?, ?, ?, ?)
             ON CONFLICT (org_id, issuer, subject) DO UPDATE SET user_id = excluded.user_id",
        )
        .bind(org.to_string())
        .bind(issuer)
        .bind(subject)
        .bind(user.to_string())
        .execute(&self.writer)
        .await?;
        Ok(())
    }
}
