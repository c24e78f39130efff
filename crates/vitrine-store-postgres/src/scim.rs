//! What SCIM provisioning knows of users and groups, on PostgreSQL.

use async_trait::async_trait;
use vitrine_core::{GroupId, OrgId, UserId};
use vitrine_store::rows::json_text;
use vitrine_store::{ScimGroup, ScimStore, ScimUser, StoreResult};

use super::{PostgresStore, conflict_on_unique, from_row};

#[async_trait]
impl ScimStore for PostgresStore {
    async fn scim_users(&self, org: OrgId) -> StoreResult<Vec<ScimUser>> {
        let rows = sqlx::query(
            "SELECT user_id, user_name, external_id, attributes FROM scim_users WHERE org_id = $1",
        )
        .bind(org.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    async fn scim_user(&self, org: OrgId, user: UserId) -> StoreResult<Option<ScimUser>> {
        let row = sqlx::query(
            "SELECT user_id, user_name, external_id, attributes FROM scim_users
             WHERE org_id = $1 AND user_id = $2",
        )
        .bind(org.to_string())
        .bind(user.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    async fn scim_user_named(&self, org: OrgId, user_name: &str) -> StoreResult<Option<ScimUser>> {
        // ASCII case only, as on SQLite; the index `scim_users_by_lower_user_name`.
        let row = sqlx::query(
            "SELECT user_id, user_name, external_id, attributes FROM scim_users
             WHERE org_id = $1
               AND translate(user_name, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') = $2
             LIMIT 1",
        )
        .bind(org.to_string())
        .bind(user_name.to_ascii_lowercase())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    async fn set_scim_user(&self, org: OrgId, user: &ScimUser) -> StoreResult<()> {
        let mut tx = self.write().await?;
        Self::user_in_org(&mut tx, org, user.user_id).await?;
        sqlx::query(
            "INSERT INTO scim_users (user_id, org_id, user_name, external_id, attributes)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (user_id) DO UPDATE SET user_name = excluded.user_name,
                 external_id = excluded.external_id, attributes = excluded.attributes",
        )
        .bind(user.user_id.to_string())
        .bind(org.to_string())
        .bind(&user.user_name)
        .bind(&user.external_id)
        .bind(json_text(&user.attributes)?)
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_on_unique(e, "userName"))?;
        tx.commit().await?;
        Ok(())
    }

    async fn scim_groups(&self, org: OrgId) -> StoreResult<Vec<ScimGroup>> {
        let rows = sqlx::query("SELECT group_id, external_id FROM scim_groups WHERE org_id = $1")
            .bind(org.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(from_row).collect()
    }

    async fn scim_group(&self, org: OrgId, group: GroupId) -> StoreResult<Option<ScimGroup>> {
        let row = sqlx::query(
            "SELECT group_id, external_id FROM scim_groups WHERE org_id = $1 AND group_id = $2",
        )
        .bind(org.to_string())
        .bind(group.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    async fn set_scim_group(&self, org: OrgId, group: &ScimGroup) -> StoreResult<()> {
        let mut tx = self.write().await?;
        Self::group_in_org(&mut tx, org, group.group_id).await?;
        sqlx::query(
            "INSERT INTO scim_groups (group_id, org_id, external_id) VALUES ($1, $2, $3)
             ON CONFLICT (group_id) DO UPDATE SET external_id = excluded.external_id",
        )
        .bind(group.group_id.to_string())
        .bind(org.to_string())
        .bind(&group.external_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
