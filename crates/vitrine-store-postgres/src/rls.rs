//! Row-level-security roles and attributes of users and groups.

use async_trait::async_trait;
use serde_json::json;
use sqlx::{PgConnection, Row};
use vitrine_core::{OrgId, UserId};

use super::{AuditRecord, PostgresStore, from_row, grantee_id};
use vitrine_store::{Actor, Grantee, RlsAssignment, RlsStore, StoreError, StoreResult};

/// A user's row-level-security parts as one row (read by
/// [`RlsPartsRow`](vitrine_store::rows::RlsPartsRow)), the user bound as `$1` and the
/// organization as `$2`: whether they are of the organization, then their roles, their groups'
/// roles, their groups' attributes with the group's name, and their own attributes, each a JSON
/// array.
pub(super) const RLS_PARTS: &str =
    "EXISTS (SELECT 1 FROM users WHERE id = $1 AND org_id = $2) AS rls_member,
     (SELECT COALESCE(json_agg(role)::text, '[]') FROM user_rls_roles WHERE user_id = $1) AS rls_roles,
     (SELECT COALESCE(json_agg(gr.role)::text, '[]') FROM group_rls_roles gr
        JOIN group_members m ON m.group_id = gr.group_id WHERE m.user_id = $1) AS rls_group_roles,
     (SELECT COALESCE(json_agg(json_build_array(g.name, ga.name, ga.value))::text, '[]')
        FROM group_attributes ga
        JOIN group_members m ON m.group_id = ga.group_id
        JOIN user_groups g ON g.id = ga.group_id WHERE m.user_id = $1) AS rls_group_attributes,
     (SELECT COALESCE(json_agg(json_build_array(name, value))::text, '[]') FROM user_attributes
        WHERE user_id = $1) AS rls_attributes";

#[async_trait]
impl RlsStore for PostgresStore {
    async fn set_rls_assignment(
        &self,
        org: OrgId,
        actor: &Actor,
        grantee: Grantee,
        assignment: &RlsAssignment,
    ) -> StoreResult<()> {
        let mut tx = self.write().await?;
        let who = Self::grantee_in_org(&mut tx, org, grantee).await?;
        let old = rls_of(&mut tx, grantee).await?;
        let (roles_table, attributes_table, key) = rls_tables(grantee);
        let id = grantee_id(grantee);
        sqlx::query(&format!("DELETE FROM {roles_table} WHERE {key} = $1"))
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(&format!("DELETE FROM {attributes_table} WHERE {key} = $1"))
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        for role in &assignment.roles {
            sqlx::query(&format!(
                "INSERT INTO {roles_table} ({key}, role) VALUES ($1, $2) ON CONFLICT DO NOTHING"
            ))
            .bind(&id)
            .bind(role)
            .execute(&mut *tx)
            .await?;
        }
        for (name, value) in &assignment.attributes {
            sqlx::query(&format!(
                "INSERT INTO {attributes_table} ({key}, name, value) VALUES ($1, $2, $3)"
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
        let mut conn = self.pool.acquire().await?;
        Self::grantee_in_org(&mut conn, org, grantee).await?;
        rls_of(&mut conn, grantee).await
    }

    async fn effective_rls(&self, org: OrgId, user: UserId) -> StoreResult<RlsAssignment> {
        let (user, org) = (user.to_string(), org.to_string());
        let row = sqlx::query(&format!("SELECT {RLS_PARTS}"))
            .bind(&user)
            .bind(&org)
            .fetch_one(&self.pool)
            .await?;
        from_row::<Option<RlsAssignment>, _>(&row)?.ok_or(StoreError::NotFound)
    }
}

/// The tables and key column holding a grantee's row-level-security roles and attributes.
fn rls_tables(grantee: Grantee) -> (&'static str, &'static str, &'static str) {
    match grantee {
        Grantee::User(_) => ("user_rls_roles", "user_attributes", "user_id"),
        Grantee::Group(_) => ("group_rls_roles", "group_attributes", "group_id"),
    }
}

async fn rls_of(conn: &mut PgConnection, grantee: Grantee) -> StoreResult<RlsAssignment> {
    let (roles_table, attributes_table, key) = rls_tables(grantee);
    let id = grantee_id(grantee);
    let roles: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT role FROM {roles_table} WHERE {key} = $1 ORDER BY role"
    ))
    .bind(&id)
    .fetch_all(&mut *conn)
    .await?;
    let rows = sqlx::query(&format!("SELECT name, value FROM {attributes_table} WHERE {key} = $1"))
        .bind(&id)
        .fetch_all(&mut *conn)
        .await?;
    let mut attributes = std::collections::BTreeMap::new();
    for row in &rows {
        attributes.insert(row.try_get::<String, _>("name")?, row.try_get::<String, _>("value")?);
    }
    Ok(RlsAssignment { roles, attributes })
}
