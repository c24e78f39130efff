//! What SCIM provisioning knows of users and groups, on SQLite.

use async_trait::async_trait;
use vitrine_core::{GroupId, OrgId, UserId};
use vitrine_store::rows::json_text;
use vitrine_store::{ScimGroup, ScimStore, ScimUser, StoreResult};

use super::{SqliteStore, conflict_on_unique, from_row};

#[async_trait]
impl ScimStore for SqliteStore {
    async fn scim_users(&self, org: OrgId) -> StoreResult<Vec<ScimUser>> {
        let rows = sqlx::query(
            "SELECT user_id, user_name, external_id, attributes FROM scim_users WHERE org_id = ?",
        )
        .bind(org.to_string())
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(from_row).collect()
    }

    async fn scim_user(&self, org: OrgId, user: UserId) -> StoreResult<Option<ScimUser>> {
        let row = sqlx::query(
            "SELECT user_id, user_name, external_id, attributes FROM scim_users
             WHERE org_id = ? AND user_id = ?",
        )
        .bind(org.to_string())
        .bind(user.to_string())
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    async fn scim_user_named(&self, org: OrgId, user_name: &str) -> StoreResult<Option<ScimUser>> {
        // SQLite's lower() folds ASCII only; the index `scim_users_by_lower_user_name`.
        let row = sqlx::query(
            "SELECT user_id, user_name, external_id, attributes FROM scim_users
             WHERE org_id = ? AND lower(user_name) = ? LIMIT 1",
        )
        .bind(org.to_string())
        .bind(user_name.to_ascii_lowercase())
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    async fn set_scim_user(&self, org: OrgId, user: &ScimUser) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        Self::user_in_org(&mut tx, org, user.user_id).await?;
        sqlx::query(
            "INSERT INTO scim_users (user_id, org_id, user_name, external_id, attributes)
             VALUES (?, ?, ?, ?, ?)
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
        let rows = sqlx::query("SELECT group_id, external_id FROM scim_groups WHERE org_id = ?")
            .bind(org.to_string())
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(from_row).collect()
    }

    async fn scim_group(&self, org: OrgId, group: GroupId) -> StoreResult<Option<ScimGroup>> {
        let row = sqlx::query(
            "SELECT group_id, external_id FROM scim_groups WHERE org_id = ? AND group_id = ?",
        )
        .bind(org.to_string())
        .bind(group.to_string())
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    async fn set_scim_group(&self, org: OrgId, group: &ScimGroup) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        Self::group_in_org(&mut tx, org, group.group_id).await?;
        sqlx::query(
            "INSERT INTO scim_groups (group_id, org_id, external_id) VALUES (?, ?, ?)
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

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

    /// Migration 0019 makes `api_keys` again (SQLite cannot change its CHECK): an installation
    /// migrated from before keeps every key and the reports of its embed keys.
    #[tokio::test]
    async fn the_scim_migration_keeps_every_api_key_and_the_reports_of_embed_keys() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("v.db").display());
        let options = SqliteConnectOptions::from_str(&url)
            .unwrap()
            .create_if_missing(true)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options).await.unwrap();
        let mut before = sqlx::migrate!("./migrations");
        before.migrations =
            before.migrations.iter().filter(|m| m.version < 19).cloned().collect::<Vec<_>>().into();
        before.run(&pool).await.unwrap();
        for sql in [
            "INSERT INTO organizations (id, name, settings, created_at) VALUES ('o', 'Acme', '{}', 0)",
            "INSERT INTO reports (id, org_id, name, created_at, updated_at) VALUES ('r', 'o', 'R', 0, 0)",
            "INSERT INTO api_keys (id, org_id, name, prefix, secret_hash, created_by, created_at, scope, all_reports)
             VALUES ('k1', 'o', 'embed', 'vtr_1', x'01', 'a', 0, 'embed', 0),
                    ('k2', 'o', 'admin', 'vtr_2', x'02', 'a', 0, 'admin', 1)",
            "INSERT INTO api_key_reports (key_id, report_id) VALUES ('k1', 'r')",
        ] {
            sqlx::query(sql).execute(&pool).await.unwrap();
        }
        sqlx::migrate!("./migrations").run(&pool).await.unwrap();
        let keys: Vec<(String, String)> =
            sqlx::query_as("SELECT id, scope FROM api_keys ORDER BY id")
                .fetch_all(&pool)
                .await
                .unwrap();
        assert_eq!(keys, [("k1".into(), "embed".into()), ("k2".into(), "admin".into())]);
        let reports: Vec<(String, String)> =
            sqlx::query_as("SELECT key_id, report_id FROM api_key_reports")
                .fetch_all(&pool)
                .await
                .unwrap();
        assert_eq!(reports, [("k1".into(), "r".into())]);
        sqlx::query("UPDATE api_keys SET scope = 'scim' WHERE id = 'k2'")
            .execute(&pool)
            .await
            .unwrap();
        let wrong =
            sqlx::query("UPDATE api_keys SET scope = 'root' WHERE id = 'k2'").execute(&pool).await;
        assert!(wrong.is_err(), "the CHECK still holds");
        // The foreign key still cascades from the table made again.
        sqlx::query("DELETE FROM api_keys WHERE id = 'k1'").execute(&pool).await.unwrap();
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM api_key_reports")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(left, 0);
    }
}
