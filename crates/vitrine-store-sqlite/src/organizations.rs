//! Organizations: creating them, reading them, and their settings.

use async_trait::async_trait;
use serde_json::Value;
use vitrine_core::{OrgId, OrgSettings};

use super::{AuditRecord, ORG_COLUMNS, SqliteStore, from_row, installation, settings_json};
use vitrine_store::{Actor, Organization, OrganizationStore, StoreError, StoreResult};

#[async_trait]
impl OrganizationStore for SqliteStore {
    async fn create_organization(&self, actor: &Actor, name: &str) -> StoreResult<Organization> {
        let mut tx = self.writer.begin().await?;
        let org = installation::insert_organization(&mut tx, actor, name).await?;
        tx.commit().await?;
        Ok(org)
    }

    async fn list_organizations(&self) -> StoreResult<Vec<Organization>> {
        let sql = format!("SELECT {ORG_COLUMNS} FROM organizations ORDER BY created_at, id");
        let rows = sqlx::query(&sql).fetch_all(&self.reader).await?;
        rows.iter().map(from_row).collect()
    }

    async fn get_organization(&self, org: OrgId) -> StoreResult<Organization> {
        let mut conn = self.reader.acquire().await?;
        installation::organization(&mut conn, org).await
    }

    async fn update_settings(
        &self,
        org: OrgId,
        actor: &Actor,
        settings: &OrgSettings,
    ) -> StoreResult<OrgSettings> {
        let mut tx = self.writer.begin().await?;
        let old: String = sqlx::query_scalar("SELECT settings FROM organizations WHERE id = ?")
            .bind(org.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let new = settings_json(settings)?;
        sqlx::query("UPDATE organizations SET settings = ? WHERE id = ?")
            .bind(&new)
            .bind(org.to_string())
            .execute(&mut *tx)
            .await?;
        let old_value: Value = serde_json::from_str(&old).unwrap_or(Value::Null);
        let new_value: Value = serde_json::to_value(settings).unwrap_or(Value::Null);
        if old_value != new_value {
            let audit = AuditRecord::new(org, actor, "settings", org.to_string(), "updated");
            audit.values(Some(old_value), Some(new_value)).write(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(settings.clone())
    }
}
