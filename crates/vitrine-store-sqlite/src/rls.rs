//! Row-level-security roles and attributes of users and groups.

use async_trait::async_trait;
use serde_json::json;
use sqlx::{Row, Sqlite, SqliteConnection};
use vitrine_core::{OrgId, UserId};

use super::{AuditRecord, SqliteStore, from_row, grantee_id};
use vitrine_store::{Actor, Grantee, RlsAssignment, RlsStore, StoreError, StoreResult};

/// A user's row-level-security parts as one row (see [`bind_rls_parts`], and
/// [`RlsPartsRow`](vitrine_store::rows::RlsPartsRow) which reads it): whether they are of the
/// organization, then their roles, their groups' roles, their groups' attributes with the
/// group's name, and their own attributes, each a JSON array.
pub(super) const RLS_PARTS: &str =
    "EXISTS (SELECT 1 FROM users WHERE id = ? AND org_id = ?) AS rls_member,
     (SELECT json_group_array(role) FROM user_rls_roles WHERE user_id = ?) AS rls_roles,
     (SELECT json_group_array(gr.role) FROM group_rls_roles gr
        JOIN group_members m ON m.group_id = gr.group_id WHERE m.user_id = ?) AS rls_group_roles,
     (SELECT json_group_array(json_array(g.name, ga.name, ga.value)) FROM group_attributes ga
        JOIN group_members m ON m.group_id = ga.group_id
        JOIN user_groups g ON g.id = ga.group_id WHERE m.user_id = ?) AS rls_group_attributes,
     (SELECT json_group_array(json_array(name, value)) FROM user_attributes
        WHERE user_id = ?) AS rls_attributes";

#[async_trait]
impl RlsStore for SqliteStore {
    async fn set_rls_assignment(
        &self,
        org: OrgId,
        actor: &Actor,
        grantee: Grantee,
        assignment: &RlsAssignment,
    ) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        let who = Self::grantee_in_org(&mut tx, org, grantee).await?;
        let old = rls_of(&mut tx, grantee).await?;
        let (roles_table, attributes_table, key) = rls_tables(grantee);
        let id = grantee_id(grantee);
        sqlx::query(&format!("DELETE FROM {roles_table} WHERE {key} = ?"))
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(&format!("DELETE FROM {attributes_table} WHERE {key} = ?"))
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        for role in &assignment.roles {
            sqlx::query(&format!(
                "INSERT OR IGNORE INTO {roles_table} ({key}, role) VALUES (?, ?)"
            ))
            .bind(&id)
            .bind(role)
            .execute(&mut *tx)
            .await?;
        }
        for (name, value) in &assignment.attributes {
            sqlx::query(&format!(
                "INSERT INTO {attributes_table} ({key}, name, value) VALUES (?, ?, ?)"
            ))
            .bind(&id)
            .bind(name)
            .bind(value)
            .execute(&mut *tx)
            .await?;
        }
        let new = rls_of(&mut tx, grantee).await?;
        if old != new {
            let entity = match grantee {
                Grantee::User(_) => "user",
                Grantee::Group(_) => "group",
            };
            let snapshot = |a: &RlsAssignment| {
                let mut value = who.clone();
                value["rlsRoles"] = json!(a.roles);
                value["rlsAttributes"] = json!(a.attributes);
                value
            };
            AuditRecord::new(org, actor, entity, id.clone(), "rlsChanged")
                .values(Some(snapshot(&old)), Some(snapshot(&new)))
                .write(&mut tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn rls_assignment(&self, org: OrgId, grantee: Grantee) -> StoreResult<RlsAssignment> {
        let mut conn = self.reader.acquire().await?;
        Self::grantee_in_org(&mut conn, org, grantee).await?;
        rls_of(&mut conn, grantee).await
    }

    async fn effective_rls(&self, org: OrgId, user: UserId) -> StoreResult<RlsAssignment> {
        let (user, org) = (user.to_string(), org.to_string());
        let row = bind_rls_parts(sqlx::query(&format!("SELECT {RLS_PARTS}")), &user, &org)
            .fetch_one(&self.reader)
            .await?;
        from_row::<Option<RlsAssignment>, _>(&row)?.ok_or(StoreError::NotFound)
    }
}

type SqliteQuery<'q> = sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>>;

/// Binds the parameters of [`RLS_PARTS`], in order.
pub(super) fn bind_rls_parts<'q>(
    query: SqliteQuery<'q>,
    user: &'q str,
    org: &'q str,
) -> SqliteQuery<'q> {
    query.bind(user).bind(org).bind(user).bind(user).bind(user).bind(user)
}

/// The tables and key column holding a grantee's row-level-security roles and attributes.
fn rls_tables(grantee: Grantee) -> (&'static str, &'static str, &'static str) {
    match grantee {
        Grantee::User(_) => ("user_rls_roles", "user_attributes", "user_id"),
        Grantee::Group(_) => ("group_rls_roles", "group_attributes", "group_id"),
    }
}

async fn rls_of(conn: &mut SqliteConnection, grantee: Grantee) -> StoreResult<RlsAssignment> {
    let (roles_table, attributes_table, key) = rls_tables(grantee);
    let id = grantee_id(grantee);
    let roles: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT role FROM {roles_table} WHERE {key} = ? ORDER BY role"
    ))
    .bind(&id)
    .fetch_all(&mut *conn)
    .await?;
    let rows = sqlx::query(&format!("SELECT name, value FROM {attributes_table} WHERE {key} = ?"))
        .bind(&id)
        .fetch_all(&mut *conn)
        .await?;
    let mut attributes = std::collections::BTreeMap::new();
    for row in &rows {
        attributes.insert(row.try_get::<String, _>("name")?, row.try_get::<String, _>("value")?);
    }
    Ok(RlsAssignment { roles, attributes })
}
