//! Permissions granted to users and groups.

use async_trait::async_trait;
use vitrine_core::{OrgId, Permission, UserId};

use super::{AuditRecord, SqliteStore, grantee_id};
use vitrine_store::{Actor, Grantee, PermissionStore, StoreResult};

#[async_trait]
impl PermissionStore for SqliteStore {
    async fn set_permission(
        &self,
        org: OrgId,
        actor: &Actor,
        permission: Permission,
        grantee: Grantee,
        granted: bool,
    ) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        let who = Self::grantee_in_org(&mut tx, org, grantee).await?;
        let sql = match (grantee, granted) {
            (Grantee::User(_), true) => {
                "INSERT OR IGNORE INTO user_permissions (user_id, permission) VALUES (?, ?)"
            }
            (Grantee::User(_), false) => {
                "DELETE FROM user_permissions WHERE user_id = ? AND permission = ?"
            }
            (Grantee::Group(_), true) => {
                "INSERT OR IGNORE INTO group_permissions (group_id, permission) VALUES (?, ?)"
            }
            (Grantee::Group(_), false) => {
                "DELETE FROM group_permissions WHERE group_id = ? AND permission = ?"
            }
        };
        let changed = sqlx::query(sql)
            .bind(grantee_id(grantee))
            .bind(permission.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed > 0 {
            let (action, old, new) =
                if granted { ("granted", None, Some(who)) } else { ("revoked", Some(who), None) };
            AuditRecord::new(org, actor, "permission", permission.as_str().to_string(), action)
                .values(old, new)
                .write(&mut tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn direct_permissions(
        &self,
        org: OrgId,
        grantee: Grantee,
    ) -> StoreResult<Vec<Permission>> {
        let mut conn = self.reader.acquire().await?;
        Self::grantee_in_org(&mut conn, org, grantee).await?;
        let sql = match grantee {
            Grantee::User(_) => "SELECT permission FROM user_permissions WHERE user_id = ?",
            Grantee::Group(_) => "SELECT permission FROM group_permissions WHERE group_id = ?",
        };
        let names: Vec<String> =
            sqlx::query_scalar(sql).bind(grantee_id(grantee)).fetch_all(&mut *conn).await?;
        Ok(known_permissions(names))
    }

    async fn effective_permissions(
        &self,
        org: OrgId,
        user: UserId,
    ) -> StoreResult<Vec<Permission>> {
        let user = user.to_string();
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT p.permission FROM user_permissions p JOIN users u ON u.id = p.user_id
             WHERE u.org_id = ? AND u.id = ?
             UNION
             SELECT gp.permission FROM group_permissions gp
             JOIN group_members m ON m.group_id = gp.group_id
             JOIN user_groups g ON g.id = gp.group_id
             WHERE g.org_id = ? AND m.user_id = ?",
        )
        .bind(org.to_string())
        .bind(&user)
        .bind(org.to_string())
        .bind(&user)
        .fetch_all(&self.reader)
        .await?;
        Ok(known_permissions(names))
    }
}

fn known_permissions(names: Vec<String>) -> Vec<Permission> {
    let mut permissions: Vec<Permission> =
        names.iter().filter_map(|name| name.parse().ok()).collect();
    permissions.sort();
    permissions.dedup();
    permissions
}
