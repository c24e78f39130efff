//! Organizations' Power BI tenants on SQLite.

use async_trait::async_trait;
use serde_json::json;
use vitrine_core::OrgId;

use super::{AuditRecord, SqliteStore, from_row, ms};
use vitrine_store::{
    Actor, NewReport, PowerBiLink, PowerBiStore, PowerBiTenant, Report, StoreResult, tenant_audit,
};

const TENANT: &str = "SELECT org_id, tenant_id, client_id, secret_sealed, updated_at
                      FROM powerbi_tenants WHERE org_id = ?";

#[async_trait]
impl PowerBiStore for SqliteStore {
    async fn powerbi_tenant(&self, org: OrgId) -> StoreResult<Option<PowerBiTenant>> {
        let row = sqlx::query(TENANT).bind(org.to_string()).fetch_optional(&self.reader).await?;
        row.as_ref().map(from_row).transpose()
    }

    async fn set_powerbi_tenant(
        &self,
        org: OrgId,
        actor: &Actor,
        tenant_id: &str,
        client_id: &str,
        secret_sealed: &[u8],
    ) -> StoreResult<PowerBiTenant> {
        let mut tx = self.writer.begin().await?;
        let old = sqlx::query(TENANT).bind(org.to_string()).fetch_optional(&mut *tx).await?;
        let old: Option<PowerBiTenant> = old.as_ref().map(from_row).transpose()?;
        sqlx::query(
            "INSERT INTO powerbi_tenants (org_id, tenant_id, client_id, secret_sealed, updated_at)
             VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (org_id) DO UPDATE SET tenant_id = excluded.tenant_id,
                 client_id = excluded.client_id, secret_sealed = excluded.secret_sealed,
                 updated_at = excluded.updated_at",
        )
        .bind(org.to_string())
        .bind(tenant_id)
        .bind(client_id)
        .bind(secret_sealed)
        .bind(ms(actor.at))
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query(TENANT).bind(org.to_string()).fetch_one(&mut *tx).await?;
        let new: PowerBiTenant = from_row(&row)?;
        let (action, before, after) = tenant_audit(old.as_ref(), &new);
        AuditRecord::new(org, actor, "powerbi", org.to_string(), action)
            .values(before, Some(after))
            .write(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(new)
    }
    async fn create_powerbi_report(
        &self,
        org: OrgId,
        actor: &Actor,
        new: &NewReport,
        link: &PowerBiLink,
    ) -> StoreResult<Report> {
        let report = Report::from_new(org, new, actor.at, Some(link.clone()));
        let text = serde_json::to_string(link)
            .map_err(|e| vitrine_store::StoreError::Backend(e.to_string()))?;
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO reports (id, org_id, name, description, owner_id, powerbi, created_at,
                                  updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(report.id.to_string())
        .bind(org.to_string())
        .bind(&report.name)
        .bind(&report.description)
        .bind(report.owner_id.map(|id| id.to_string()))
        .bind(text)
        .bind(ms(report.created_at))
        .bind(ms(report.updated_at))
        .execute(&mut *tx)
        .await?;
        let snapshot =
            json!({ "name": report.name, "description": report.description, "powerbi": link });
        AuditRecord::new(org, actor, "report", report.id.to_string(), "created")
            .values(None, Some(snapshot))
            .write(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(report)
    }
}
