//! Groups of an organization's users, and who is in them.

use async_trait::async_trait;
use serde_json::json;
use vitrine_core::{GroupId, OrgId, UserId};

use super::{
    AuditRecord, GROUP_COLUMNS, SqliteStore, USER_COLUMNS, conflict_on_unique, from_row, ms,
};
use vitrine_store::{Actor, Group, GroupStore, NewGroup, StoreResult, User};

#[async_trait]
impl GroupStore for SqliteStore {
    async fn create_group(&self, org: OrgId, actor: &Actor, new: &NewGroup) -> StoreResult<Group> {
        let group = Group {
            id: GroupId::generate(),
            org_id: org,
            name: new.name.clone(),
            description: new.description.clone(),
            member_count: 0,
            created_at: actor.at,
        };
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO user_groups (id, org_id, name, description, created_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(group.id.to_string())
        .bind(org.to_string())
        .bind(&group.name)
        .bind(&group.description)
        .bind(ms(group.created_at))
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_on_unique(e, "name"))?;
        AuditRecord::new(org, actor, "group", group.id.to_string(), "created")
            .values(None, Some(json!({ "name": group.name, "description": group.description })))
            .write(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(group)
    }

    async fn get_group(&self, org: OrgId, id: GroupId) -> StoreResult<Group> {
        let mut conn = self.reader.acquire().await?;
        Self::group_in_org(&mut conn, org, id).await
    }

    async fn list_groups(&self, org: OrgId) -> StoreResult<Vec<Group>> {
        let sql =
            format!("SELECT {GROUP_COLUMNS} FROM user_groups g WHERE g.org_id = ? ORDER BY g.name");
        let rows = sqlx::query(&sql).bind(org.to_string()).fetch_all(&self.reader).await?;
        rows.iter().map(from_row).collect()
    }

    async fn rename_group(
        &self,
        org: OrgId,
        actor: &Actor,
        id: GroupId,
        name: &str,
    ) -> StoreResult<Group> {
        let mut tx = self.writer.begin().await?;
        let old = Self::group_in_org(&mut tx, org, id).await?;
        sqlx::query("UPDATE user_groups SET name = ? WHERE org_id = ? AND id = ?")
            .bind(name)
            .bind(org.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(|e| conflict_on_unique(e, "name"))?;
        AuditRecord::new(org, actor, "group", id.to_string(), "updated")
            .values(Some(json!({ "name": old.name })), Some(json!({ "name": name })))
            .write(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(Group { name: name.to_string(), ..old })
    }

    async fn delete_group(&self, org: OrgId, actor: &Actor, id: GroupId) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        let old = Self::group_in_org(&mut tx, org, id).await?;
        sqlx::query("DELETE FROM user_groups WHERE org_id = ? AND id = ?")
            .bind(org.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        AuditRecord::new(org, actor, "group", id.to_string(), "deleted")
            .values(Some(json!({ "name": old.name, "members": old.member_count })), None)
            .write(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn add_group_member(
        &self,
        org: OrgId,
        actor: &Actor,
        group: GroupId,
        user: UserId,
    ) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        let g = Self::group_in_org(&mut tx, org, group).await?;
        let u = Self::user_in_org(&mut tx, org, user).await?;
        let added =
            sqlx::query("INSERT OR IGNORE INTO group_members (group_id, user_id) VALUES (?, ?)")
                .bind(group.to_string())
                .bind(user.to_string())
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if added > 0 {
            AuditRecord::new(org, actor, "group", group.to_string(), "memberAdded")
                .values(None, Some(json!({ "group": g.name, "member": u.email })))
                .write(&mut tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn remove_group_member(
        &self,
        org: OrgId,
        actor: &Actor,
        group: GroupId,
        user: UserId,
    ) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        let g = Self::group_in_org(&mut tx, org, group).await?;
        let u = Self::user_in_org(&mut tx, org, user).await?;
        let removed = sqlx::query("DELETE FROM group_members WHERE group_id = ? AND user_id = ?")
            .bind(group.to_string())
            .bind(user.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if removed > 0 {
            AuditRecord::new(org, actor, "group", group.to_string(), "memberRemoved")
                .values(Some(json!({ "group": g.name, "member": u.email })), None)
                .write(&mut tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn group_members(&self, org: OrgId, group: GroupId) -> StoreResult<Vec<User>> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users u JOIN group_members m ON m.user_id = u.id
             JOIN user_groups g ON g.id = m.group_id
             WHERE g.org_id = ? AND g.id = ? ORDER BY u.email"
        );
        let rows = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(group.to_string())
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(from_row).collect()
    }

    async fn groups_of_user(&self, org: OrgId, user: UserId) -> StoreResult<Vec<Group>> {
        let sql = format!(
            "SELECT {GROUP_COLUMNS} FROM user_groups g JOIN group_members gm ON gm.group_id = g.id
             WHERE g.org_id = ? AND gm.user_id = ? ORDER BY g.name"
        );
        let rows = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(user.to_string())
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(from_row).collect()
    }
}
