//! An organization's users, how they sign in, and their sessions.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::SqliteConnection;
use vitrine_core::lockout::{Attempts, Gate, LockoutRule};
use vitrine_core::{OrgId, UserId};

use super::{
    AuditRecord, SqliteStore, USER_COLUMNS, conflict_on_unique, from_row, limits_from_json, ms,
};
use vitrine_store::{
    Actor, LoginRecord, NewSession, NewUser, SessionRecord, StoreError, StoreResult, User,
    UserChange, UserStore,
};

#[async_trait]
impl UserStore for SqliteStore {
    async fn create_user(&self, org: OrgId, actor: &Actor, new: &NewUser) -> StoreResult<User> {
        let mut tx = self.writer.begin().await?;
        let user = insert_user(&mut tx, org, actor, new).await?;
        tx.commit().await?;
        Ok(user)
    }

    async fn get_user(&self, org: OrgId, id: UserId) -> StoreResult<User> {
        let mut conn = self.reader.acquire().await?;
        Self::user_in_org(&mut conn, org, id).await
    }

    async fn list_users(&self, org: OrgId) -> StoreResult<Vec<User>> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.org_id = ? AND u.kind = 'person'
             ORDER BY u.email"
        );
        let rows = sqlx::query(&sql).bind(org.to_string()).fetch_all(&self.reader).await?;
        rows.iter().map(from_row).collect()
    }

    async fn update_user(
        &self,
        org: OrgId,
        actor: &Actor,
        id: UserId,
        change: &UserChange,
    ) -> StoreResult<User> {
        let mut tx = self.writer.begin().await?;
        let old = Self::user_in_org(&mut tx, org, id).await?;
        if old.display {
            // A display is changed as a display, never as a person.
            return Err(StoreError::NotFound);
        }
        let mut new = old.clone();
        if let Some(email) = &change.email {
            new.email = email.clone();
        }
        if let Some(name) = &change.name {
            new.name = name.clone();
        }
        if let Some(role) = change.role {
            new.role = role;
        }
        if let Some(blocked) = change.blocked {
            new.blocked = blocked;
        }
        if let Some(expires_at) = change.expires_at {
            new.expires_at = expires_at;
        }
        if change.password_hash.is_some() {
            new.locked_until = None;
        }
        new.updated_at = actor.at;
        sqlx::query(
            "UPDATE users SET email = ?, name = ?, role = ?, blocked = ?, expires_at = ?,
                              locked_until = ?, updated_at = ?,
                              password_hash = COALESCE(?, password_hash),
                              failed_logins = CASE WHEN ? IS NULL THEN failed_logins ELSE 0 END
             WHERE org_id = ? AND id = ?",
        )
        .bind(&new.email)
        .bind(&new.name)
        .bind(new.role.as_str())
        .bind(new.blocked)
        .bind(new.expires_at.map(ms))
        .bind(new.locked_until.map(ms))
        .bind(ms(new.updated_at))
        .bind(change.password_hash.as_deref())
        .bind(change.password_hash.as_deref())
        .bind(org.to_string())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_on_unique(e, "email"))?;
        if let Some(hash) = &change.password_hash {
            new.password_set = !hash.is_empty();
        }
        if new.change_signs_out(&old, change.password_hash.is_some(), actor.at) {
            sqlx::query("DELETE FROM sessions WHERE user_id = ?")
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
        }
        let mut new_value = user_snapshot(&new);
        if change.password_hash.is_some() {
            // The audit log records that the password changed, never the password or its hash.
            new_value["password"] = json!("changed");
        }
        AuditRecord::new(org, actor, "user", id.to_string(), "updated")
            .values(Some(user_snapshot(&old)), Some(new_value))
            .write(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(new)
    }

    async fn delete_user(&self, org: OrgId, actor: &Actor, id: UserId) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        let old = Self::user_in_org(&mut tx, org, id).await?;
        if old.display {
            // Unpaired as a display (see `delete_display`), never deleted as a person.
            return Err(StoreError::NotFound);
        }
        sqlx::query("DELETE FROM users WHERE org_id = ? AND id = ?")
            .bind(org.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        AuditRecord::new(org, actor, "user", id.to_string(), "deleted")
            .values(Some(user_snapshot(&old)), None)
            .write(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn find_login(&self, email: &str) -> StoreResult<Option<LoginRecord>> {
        // A display's user never signs in, nor is sent a link.
        let sql = format!(
            "SELECT {USER_COLUMNS}, u.password_hash FROM users u
             WHERE u.email = ? AND u.kind = 'person'"
        );
        let row = sqlx::query(&sql).bind(email).fetch_optional(&self.reader).await?;
        row.as_ref().map(from_row).transpose()
    }

    async fn begin_login_attempt(
        &self,
        user: UserId,
        rule: &LockoutRule,
        now: DateTime<Utc>,
    ) -> StoreResult<Gate> {
        // On the one writer connection, so attempts for the same account are counted in turn.
        let mut tx = self.writer.begin().await?;
        let row = sqlx::query("SELECT failed_logins, locked_until FROM users WHERE id = ?")
            .bind(user.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let current: Attempts = from_row(&row)?;
        let (next, gate) = rule.attempt(current, now);
        if next != current {
            sqlx::query("UPDATE users SET failed_logins = ?, locked_until = ? WHERE id = ?")
                .bind(i64::from(next.failed))
                .bind(next.locked_until.map(ms))
                .bind(user.to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(gate)
    }

    async fn record_successful_login(&self, user: UserId) -> StoreResult<()> {
        sqlx::query("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = ?")
            .bind(user.to_string())
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn create_session(&self, session: &NewSession) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at, user_agent, ip)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&session.token_hash)
        .bind(session.user_id.to_string())
        .bind(ms(session.created_at))
        .bind(ms(session.created_at))
        .bind(session.user_agent.as_deref())
        .bind(session.ip.as_deref())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn find_session(&self, token_hash: &[u8]) -> StoreResult<Option<SessionRecord>> {
        // Read on every signed-in request: the statement is built once.
        static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            format!(
                "SELECT {USER_COLUMNS}, o.name AS org_name, o.settings, o.suspended_at, s.created_at AS session_created_at, s.last_seen_at
                 FROM sessions s JOIN users u ON u.id = s.user_id JOIN organizations o ON o.id = u.org_id
                 WHERE s.token_hash = ?"
            )
        });
        let row = sqlx::query(SQL.as_str()).bind(token_hash).fetch_optional(&self.reader).await?;
        row.as_ref().map(from_row).transpose()
    }

    async fn touch_session(&self, token_hash: &[u8], at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("UPDATE sessions SET last_seen_at = MAX(last_seen_at, ?) WHERE token_hash = ?")
            .bind(ms(at))
            .bind(token_hash)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn delete_session(&self, token_hash: &[u8]) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = ?")
            .bind(token_hash)
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}

/// Inserts a user and its audit entry, in the caller's transaction.
pub(super) async fn insert_user(
    conn: &mut SqliteConnection,
    org: OrgId,
    actor: &Actor,
    new: &NewUser,
) -> StoreResult<User> {
    let user = User {
        id: UserId::generate(),
        org_id: org,
        email: new.email.clone(),
        name: new.name.clone(),
        role: new.role,
        blocked: new.blocked,
        expires_at: new.expires_at,
        locked_until: None,
        created_at: actor.at,
        updated_at: actor.at,
        password_set: !new.password_hash.is_empty(),
        operator: false,
        display: false,
    };
    let limits: Option<String> =
        sqlx::query_scalar("SELECT limits FROM organizations WHERE id = ?")
            .bind(org.to_string())
            .fetch_optional(&mut *conn)
            .await?;
    let limits = limits_from_json(&limits.ok_or(StoreError::NotFound)?)?;
    if limits.max_users.is_some() {
        // Counted in the writer's transaction, so concurrent creations cannot pass the limit.
        let users: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE org_id = ? AND kind = 'person'")
                .bind(org.to_string())
                .fetch_one(&mut *conn)
                .await?;
        if !limits.admits_user(users.max(0) as u64) {
            return Err(StoreError::LimitReached { limit: vitrine_core::limits::MAX_USERS });
        }
    }
    sqlx::query(
        "INSERT INTO users (id, org_id, email, name, role, password_hash, blocked, expires_at,
                                created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(user.id.to_string())
    .bind(org.to_string())
    .bind(&user.email)
    .bind(&user.name)
    .bind(user.role.as_str())
    .bind(&new.password_hash)
    .bind(user.blocked)
    .bind(user.expires_at.map(ms))
    .bind(ms(user.created_at))
    .bind(ms(user.updated_at))
    .execute(&mut *conn)
    .await
    .map_err(|e| conflict_on_unique(e, "email"))?;
    AuditRecord::new(org, actor, "user", user.id.to_string(), "created")
        .values(None, Some(user_snapshot(&user)))
        .write(conn)
        .await?;
    Ok(user)
}

fn user_snapshot(user: &User) -> Value {
    json!({
        "email": user.email,
        "name": user.name,
        "role": user.role.as_str(),
        "blocked": user.blocked,
        "expiresAt": user.expires_at.map(|at| at.to_rfc3339()),
    })
}
