//! The installation's set-up, operators, organizations' lifecycle and its audit log.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::SqliteConnection;
use vitrine_core::{OrgId, OrgLimits, OrgSettings, UserId};

use super::users::insert_user;
use super::{
    AuditRecord, ORG_COLUMNS, SqliteStore, USER_COLUMNS, from_ms, from_row, json_text, ms,
    settings_json,
};
use vitrine_store::{
    Actor, InstallationAuditEntry, InstallationStore, NewUser, OrgUsage, Organization, StoreError,
    StoreResult, User,
};

pub(super) async fn organization(
    conn: &mut SqliteConnection,
    org: OrgId,
) -> StoreResult<Organization> {
    let sql = format!("SELECT {ORG_COLUMNS} FROM organizations WHERE id = ?");
    let row = sqlx::query(&sql).bind(org.to_string()).fetch_optional(conn).await?;
    row.as_ref().map(from_row).transpose()?.ok_or(StoreError::NotFound)
}

async fn name_taken(
    conn: &mut SqliteConnection,
    name: &str,
    except: Option<OrgId>,
) -> StoreResult<bool> {
    let taken: Option<String> =
        sqlx::query_scalar("SELECT id FROM organizations WHERE lower(name) = lower(?) AND id <> ?")
            .bind(name)
            .bind(except.map(|id| id.to_string()).unwrap_or_default())
            .fetch_optional(conn)
            .await?;
    Ok(taken.is_some())
}

/// Inserts an organization with default settings and its installation audit entry.
pub(super) async fn insert_organization(
    conn: &mut SqliteConnection,
    actor: &Actor,
    name: &str,
) -> StoreResult<Organization> {
    if name_taken(conn, name, None).await? {
        return Err(StoreError::Conflict { field: "name" });
    }
    let org = Organization {
        id: OrgId::generate(),
        name: name.to_string(),
        settings: OrgSettings::default(),
        created_at: super::from_ms(ms(actor.at))?,
        suspended_at: None,
        limits: OrgLimits::default(),
    };
    sqlx::query(
        "INSERT INTO organizations (id, name, settings, created_at, limits) VALUES (?, ?, ?, ?, '{}')",
    )
    .bind(org.id.to_string())
    .bind(&org.name)
    .bind(settings_json(&org.settings)?)
    .bind(ms(org.created_at))
    .execute(&mut *conn)
    .await?;
    AuditRecord::installation(actor, "organization", org.id.to_string(), "created")
        .values(None, Some(organization_snapshot(&org)))
        .write(conn)
        .await?;
    Ok(org)
}

fn organization_snapshot(org: &Organization) -> Value {
    json!({
        "name": org.name,
        "suspended": org.is_suspended(),
        "limits": serde_json::to_value(org.limits).unwrap_or(Value::Null),
    })
}

async fn user_by_id(conn: &mut SqliteConnection, user: UserId) -> StoreResult<User> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = ?");
    let row = sqlx::query(&sql).bind(user.to_string()).fetch_optional(conn).await?;
    row.as_ref().map(from_row).transpose()?.ok_or(StoreError::NotFound)
}

#[async_trait]
impl InstallationStore for SqliteStore {
    async fn is_set_up(&self) -> StoreResult<bool> {
        let any: Option<i64> = sqlx::query_scalar("SELECT 1 FROM organizations LIMIT 1")
            .fetch_optional(&self.reader)
            .await?;
        Ok(any.is_some())
    }

    async fn complete_setup(
        &self,
        at: DateTime<Utc>,
        org_name: &str,
        admin: &NewUser,
    ) -> StoreResult<(Organization, User)> {
        let mut tx = self.writer.begin().await?;
        // The single writer connection serializes this check with every other write.
        let any: Option<i64> = sqlx::query_scalar("SELECT 1 FROM organizations LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?;
        if any.is_some() {
            return Err(StoreError::Conflict { field: "setup" });
        }
        let setup = Actor { id: "setup".into(), label: admin.email.clone(), at };
        let org = insert_organization(&mut tx, &setup, org_name).await?;
        let mut user = insert_user(&mut tx, org.id, &setup, admin).await?;
        sqlx::query("INSERT INTO operators (user_id, created_at) VALUES (?, ?)")
            .bind(user.id.to_string())
            .bind(ms(at))
            .execute(&mut *tx)
            .await?;
        user.operator = true;
        AuditRecord::installation(&setup, "installation", org.id.to_string(), "set up")
            .values(None, Some(json!({ "organization": org.name, "operator": user.email })))
            .write(&mut tx)
            .await?;
        tx.commit().await?;
        Ok((org, user))
    }

    async fn grant_operator(&self, actor: &Actor, user: UserId) -> StoreResult<User> {
        let mut tx = self.writer.begin().await?;
        let mut found = user_by_id(&mut tx, user).await?;
        if found.display {
            // A display never signs in: it cannot operate anything.
            return Err(StoreError::NotFound);
        }
        if !found.operator {
            sqlx::query("INSERT INTO operators (user_id, created_at) VALUES (?, ?)")
                .bind(user.to_string())
                .bind(ms(actor.at))
                .execute(&mut *tx)
                .await?;
            AuditRecord::installation(actor, "operator", user.to_string(), "granted")
                .values(None, Some(json!({ "email": found.email })))
                .write(&mut tx)
                .await?;
            found.operator = true;
        }
        tx.commit().await?;
        Ok(found)
    }

    async fn revoke_operator(&self, actor: &Actor, user: UserId) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        let found = user_by_id(&mut tx, user).await?;
        if !found.operator {
            return Err(StoreError::NotFound);
        }
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM operators").fetch_one(&mut *tx).await?;
        if count <= 1 {
            return Err(StoreError::Conflict { field: "operators" });
        }
        sqlx::query("DELETE FROM operators WHERE user_id = ?")
            .bind(user.to_string())
            .execute(&mut *tx)
            .await?;
        AuditRecord::installation(actor, "operator", user.to_string(), "revoked")
            .values(Some(json!({ "email": found.email })), None)
            .write(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_operators(&self) -> StoreResult<Vec<User>> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users u JOIN operators o ON o.user_id = u.id ORDER BY u.email"
        );
        let rows = sqlx::query(&sql).fetch_all(&self.reader).await?;
        rows.iter().map(from_row).collect()
    }

    async fn rename_organization(
        &self,
        actor: &Actor,
        org: OrgId,
        name: &str,
    ) -> StoreResult<Organization> {
        let mut tx = self.writer.begin().await?;
        let old = organization(&mut tx, org).await?;
        if name_taken(&mut tx, name, Some(org)).await? {
            return Err(StoreError::Conflict { field: "name" });
        }
        sqlx::query("UPDATE organizations SET name = ? WHERE id = ?")
            .bind(name)
            .bind(org.to_string())
            .execute(&mut *tx)
            .await?;
        let new = Organization { name: name.to_string(), ..old.clone() };
        if old.name != new.name {
            AuditRecord::installation(actor, "organization", org.to_string(), "renamed")
                .values(Some(json!({ "name": old.name })), Some(json!({ "name": new.name })))
                .write(&mut tx)
                .await?;
        }
        tx.commit().await?;
        Ok(new)
    }

    async fn set_organization_suspended(
        &self,
        actor: &Actor,
        org: OrgId,
        suspended: bool,
    ) -> StoreResult<Organization> {
        let mut tx = self.writer.begin().await?;
        let old = organization(&mut tx, org).await?;
        if old.is_suspended() == suspended {
            return Ok(old);
        }
        let suspended_at = suspended.then_some(actor.at);
        sqlx::query("UPDATE organizations SET suspended_at = ? WHERE id = ?")
            .bind(suspended_at.map(ms))
            .bind(org.to_string())
            .execute(&mut *tx)
            .await?;
        if suspended {
            sqlx::query(
                "DELETE FROM sessions WHERE user_id IN (SELECT id FROM users WHERE org_id = ?)",
            )
            .bind(org.to_string())
            .execute(&mut *tx)
            .await?;
        }
        let action = if suspended { "suspended" } else { "reinstated" };
        AuditRecord::installation(actor, "organization", org.to_string(), action)
            .values(Some(json!({ "name": old.name })), None)
            .write(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(Organization {
            suspended_at: suspended_at.map(|at| from_ms(ms(at))).transpose()?,
            ..old
        })
    }

    async fn set_organization_limits(
        &self,
        actor: &Actor,
        org: OrgId,
        limits: &OrgLimits,
    ) -> StoreResult<Organization> {
        let mut tx = self.writer.begin().await?;
        let old = organization(&mut tx, org).await?;
        let raw = json_text(limits)?;
        sqlx::query("UPDATE organizations SET limits = ? WHERE id = ?")
            .bind(raw)
            .bind(org.to_string())
            .execute(&mut *tx)
            .await?;
        if old.limits != *limits {
            AuditRecord::installation(actor, "organization", org.to_string(), "limits changed")
                .values(
                    Some(serde_json::to_value(old.limits).unwrap_or(Value::Null)),
                    Some(serde_json::to_value(limits).unwrap_or(Value::Null)),
                )
                .write(&mut tx)
                .await?;
        }
        tx.commit().await?;
        Ok(Organization { limits: *limits, ..old })
    }

    async fn delete_organization(&self, actor: &Actor, org: OrgId) -> StoreResult<Organization> {
        let mut tx = self.writer.begin().await?;
        let old = organization(&mut tx, org).await?;
        let remaining: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM operators o JOIN users u ON u.id = o.user_id WHERE u.org_id <> ?",
        )
        .bind(org.to_string())
        .fetch_one(&mut *tx)
        .await?;
        if remaining == 0 {
            // The installation must keep an operator to manage it.
            return Err(StoreError::Conflict { field: "operators" });
        }
        // Foreign keys cascade to users, groups, reports, datasets, capacities and the
        // organization's audit log; token events name the organization without a key.
        sqlx::query("DELETE FROM token_events WHERE org_id = ?")
            .bind(org.to_string())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM organizations WHERE id = ?")
            .bind(org.to_string())
            .execute(&mut *tx)
            .await?;
        AuditRecord::installation(actor, "organization", org.to_string(), "deleted")
            .values(Some(organization_snapshot(&old)), None)
            .write(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(old)
    }

    async fn organization_usage(&self, org: OrgId) -> StoreResult<OrgUsage> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM users WHERE org_id = ?1) AS users,
                    (SELECT COUNT(*) FROM reports WHERE org_id = ?1) AS reports,
                    (SELECT COUNT(*) FROM datasets WHERE org_id = ?1) AS datasets",
        )
        .bind(org.to_string())
        .fetch_one(&self.reader)
        .await?;
        from_row(&row)
    }

    async fn list_installation_audit(
        &self,
        limit: u32,
    ) -> StoreResult<Vec<InstallationAuditEntry>> {
        let rows = sqlx::query(
            "SELECT id, at, actor_id, actor_label, entity_type, entity_id, action, old_value, new_value
             FROM installation_audit ORDER BY id DESC LIMIT ?",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(from_row).collect()
    }
}
