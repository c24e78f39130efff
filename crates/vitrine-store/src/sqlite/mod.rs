//! The embedded SQLite store: WAL journal, foreign keys on, migrations applied at open.
//! Writes go through a single-connection pool so that concurrent requests queue in-process
//! instead of failing with "database is locked"; reads use a pool of their own.

use std::str::FromStr;
use std::time::Duration;
use vitrine_core::lockout::{Attempts, Gate, LockoutRule};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};
use vitrine_core::capacity::{CapacityMode, CapacityState};
use vitrine_core::token::{Revocation, RevocationScope};
use vitrine_core::{
    ApiKeyId, ApiKeyScope, CapacityId, DatasetId, GroupId, IdentityId, OrgId, OrgLimits,
    OrgSettings, Permission, ReportId, Role, UserId,
};

mod accounts;
mod displays;
mod installation;
mod sources;

use crate::records::*;
use crate::{Store, StoreError, StoreResult};

/// Schema versions, applied in order, each once.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/0001_foundation.sql")),
    (2, include_str!("../../migrations/0002_tokens.sql")),
    (3, include_str!("../../migrations/0003_reports_content.sql")),
    (4, include_str!("../../migrations/0004_capacities.sql")),
    (5, include_str!("../../migrations/0005_capacity_keepers.sql")),
    (6, include_str!("../../migrations/0006_installation.sql")),
    (7, include_str!("../../migrations/0007_api_key_scopes.sql")),
    (8, include_str!("../../migrations/0008_identity_revocations.sql")),
    (9, include_str!("../../migrations/0009_embed_identities.sql")),
    (10, include_str!("../../migrations/0010_displays.sql")),
    (11, include_str!("../../migrations/0011_sources.sql")),
    (12, include_str!("../../migrations/0012_dataset_refresh_windows.sql")),
];

const USER_COLUMNS: &str = "u.id, u.org_id, u.email, u.name, u.role, u.blocked, u.expires_at, \
     u.locked_until, u.created_at, u.updated_at, u.password_hash <> '' AS password_set, \
     EXISTS (SELECT 1 FROM operators op WHERE op.user_id = u.id) AS operator, \
     u.kind = 'display' AS display";
const ORG_COLUMNS: &str = "id, name, settings, created_at, suspended_at, limits";
const GROUP_COLUMNS: &str = "g.id, g.org_id, g.name, g.description, g.created_at, \
     (SELECT COUNT(*) FROM group_members m WHERE m.group_id = g.id) AS member_count";
const REPORT_COLUMNS: &str = "r.id, r.org_id, r.name, r.description, r.owner_id, r.definition, r.capacity_id, r.created_at, r.updated_at";
/// Whether the user bound twice may open report `r`: a direct grant or one to a group of theirs.
const CAN_OPEN: &str = "(EXISTS (SELECT 1 FROM report_user_access WHERE report_id = r.id AND user_id = ?)
     OR EXISTS (SELECT 1 FROM report_group_access a JOIN group_members m
                ON m.group_id = a.group_id WHERE a.report_id = r.id AND m.user_id = ?)) AS can_open";
/// A user's row-level-security parts as one row (see [`bind_rls_parts`] and [`rls_from_row`]):
/// whether they are of the organization, then their roles, their groups' roles, their groups'
/// attributes with the group's name, and their own attributes, each a JSON array.
const RLS_PARTS: &str = "EXISTS (SELECT 1 FROM users WHERE id = ? AND org_id = ?) AS rls_member,
     (SELECT json_group_array(role) FROM user_rls_roles WHERE user_id = ?) AS rls_roles,
     (SELECT json_group_array(gr.role) FROM group_rls_roles gr
        JOIN group_members m ON m.group_id = gr.group_id WHERE m.user_id = ?) AS rls_group_roles,
     (SELECT json_group_array(json_array(g.name, ga.name, ga.value)) FROM group_attributes ga
        JOIN group_members m ON m.group_id = ga.group_id
        JOIN user_groups g ON g.id = ga.group_id WHERE m.user_id = ?) AS rls_group_attributes,
     (SELECT json_group_array(json_array(name, value)) FROM user_attributes
        WHERE user_id = ?) AS rls_attributes";
const IDENTITY_COLUMNS: &str =
    "id, org_id, external_id, name, first_seen_at, last_seen_at, last_key_id";
const CAPACITY_COLUMNS: &str = "id, org_id, name, provider, state, mode, idle_minutes, schedule, time_zone, \
     hourly_price, wake_from_viewer, state_since, last_activity, created_at";
pub(super) const DATASET_COLUMNS: &str = "id, org_id, name, format, location, columns, row_count, created_at, \
     version, updated_at, connection_id, source_table, source_sql, mode, refresh_every_minutes, \
     refresh_windows, refresh_time_zone";
const API_KEY_COLUMNS: &str = "k.id, k.org_id, k.name, k.prefix, k.created_by, k.created_at, \
     k.last_used_at, k.revoked_at, k.scope, k.all_reports, k.expires_at, k.wake_capacity, \
     k.keep_capacity_on, k.created_by_user, \
     (SELECT json_group_array(kr.report_id) FROM api_key_reports kr WHERE kr.key_id = k.id) AS key_reports";

pub struct SqliteStore {
    reader: SqlitePool,
    writer: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at a `sqlite://path` URL and migrates it.
    pub async fn open(url: &str) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::UnsupportedUrl(e.to_string()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        // A connection to a local file cannot have gone away: no ping before each use (it would
        // be one more hand-off to the connection's thread per query).
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .test_before_acquire(false)
            .connect_with(options.read_only(true))
            .await?;
        let store = Self { reader, writer };
        store.migrate().await?;
        Ok(store)
    }

    /// `columns` of the report, with `can_open` for `user`; `NotFound` outside `org`.
    async fn report_row_for_user(
        &self,
        columns: &str,
        org: OrgId,
        user: UserId,
        report: ReportId,
    ) -> StoreResult<SqliteRow> {
        let user = user.to_string();
        let sql =
            format!("SELECT {columns}, {CAN_OPEN} FROM reports r WHERE r.org_id = ? AND r.id = ?");
        sqlx::query(&sql)
            .bind(&user)
            .bind(&user)
            .bind(org.to_string())
            .bind(report.to_string())
            .fetch_optional(&self.reader)
            .await?
            .ok_or(StoreError::NotFound)
    }

    async fn user_in_org(conn: &mut SqliteConnection, org: OrgId, id: UserId) -> StoreResult<User> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.org_id = ? AND u.id = ?");
        let row = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(conn)
            .await?;
        row.as_ref().map(user_from_row).transpose()?.ok_or(StoreError::NotFound)
    }

    async fn group_in_org(
        conn: &mut SqliteConnection,
        org: OrgId,
        id: GroupId,
    ) -> StoreResult<Group> {
        let sql =
            format!("SELECT {GROUP_COLUMNS} FROM user_groups g WHERE g.org_id = ? AND g.id = ?");
        let row = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(conn)
            .await?;
        row.as_ref().map(group_from_row).transpose()?.ok_or(StoreError::NotFound)
    }

    async fn report_in_org(
        conn: &mut SqliteConnection,
        org: OrgId,
        id: ReportId,
    ) -> StoreResult<Report> {
        let sql = format!("SELECT {REPORT_COLUMNS} FROM reports r WHERE r.org_id = ? AND r.id = ?");
        let row = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(conn)
            .await?;
        row.as_ref().map(report_from_row).transpose()?.ok_or(StoreError::NotFound)
    }

    /// The grantee's id and a JSON description for the audit log, after checking that it
    /// belongs to `org`.
    async fn grantee_in_org(
        conn: &mut SqliteConnection,
        org: OrgId,
        grantee: Grantee,
    ) -> StoreResult<Value> {
        Ok(match grantee {
            Grantee::User(id) => {
                let user = Self::user_in_org(conn, org, id).await?;
                json!({ "user": user.email })
            }
            Grantee::Group(id) => {
                let group = Self::group_in_org(conn, org, id).await?;
                json!({ "group": group.name })
            }
        })
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn migrate(&self) -> StoreResult<usize> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
        )
        .execute(&mut *tx)
        .await?;
        let current: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
                .fetch_one(&mut *tx)
                .await?;
        let mut applied = 0;
        for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
            sqlx::Executor::execute(&mut *tx, *sql).await?;
            sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)")
                .bind(version)
                .bind(Utc::now().timestamp_millis())
                .execute(&mut *tx)
                .await?;
            applied += 1;
        }
        tx.commit().await?;
        Ok(applied)
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }

    async fn create_organization(&self, actor: &Actor, name: &str) -> StoreResult<Organization> {
        let mut tx = self.writer.begin().await?;
        let org = installation::insert_organization(&mut tx, actor, name).await?;
        tx.commit().await?;
        Ok(org)
    }

    async fn list_organizations(&self) -> StoreResult<Vec<Organization>> {
        let sql = format!("SELECT {ORG_COLUMNS} FROM organizations ORDER BY created_at");
        let rows = sqlx::query(&sql).fetch_all(&self.reader).await?;
        rows.iter().map(organization_from_row).collect()
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
        rows.iter().map(user_from_row).collect()
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
        row.map(|row| {
            Ok(LoginRecord {
                user: user_from_row(&row)?,
                password_hash: row.try_get("password_hash")?,
            })
        })
        .transpose()
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
        let current = Attempts {
            failed: u32::try_from(row.try_get::<i64, _>("failed_logins")?).unwrap_or(u32::MAX),
            locked_until: opt_from_ms(row.try_get("locked_until")?)?,
        };
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
        row.map(|row| {
            Ok(SessionRecord {
                user: user_from_row(&row)?,
                org_name: row.try_get("org_name")?,
                org_suspended: row.try_get::<Option<i64>, _>("suspended_at")?.is_some(),
                settings: settings_from_json(&row.try_get::<String, _>("settings")?)?,
                created_at: from_ms(row.try_get("session_created_at")?)?,
                last_seen_at: from_ms(row.try_get("last_seen_at")?)?,
            })
        })
        .transpose()
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
        rows.iter().map(group_from_row).collect()
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
        rows.iter().map(user_from_row).collect()
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
        rows.iter().map(group_from_row).collect()
    }

    async fn create_report(
        &self,
        org: OrgId,
        actor: &Actor,
        new: &NewReport,
    ) -> StoreResult<Report> {
        let report = Report {
            id: ReportId::generate(),
            org_id: org,
            name: new.name.clone(),
            description: new.description.clone(),
            owner_id: new.owner_id,
            definition: None,
            capacity_id: None,
            created_at: actor.at,
            updated_at: actor.at,
        };
        let mut tx = self.writer.begin().await?;
        if let Some(owner) = new.owner_id {
            Self::user_in_org(&mut tx, org, owner).await?;
        }
        sqlx::query(
            "INSERT INTO reports (id, org_id, name, description, owner_id, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(report.id.to_string())
        .bind(org.to_string())
        .bind(&report.name)
        .bind(&report.description)
        .bind(report.owner_id.map(|id| id.to_string()))
        .bind(ms(report.created_at))
        .bind(ms(report.updated_at))
        .execute(&mut *tx)
        .await?;
        AuditRecord::new(org, actor, "report", report.id.to_string(), "created")
            .values(None, Some(report_snapshot(&report)))
            .write(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(report)
    }

    async fn get_report(&self, org: OrgId, id: ReportId) -> StoreResult<Report> {
        let mut conn = self.reader.acquire().await?;
        Self::report_in_org(&mut conn, org, id).await
    }

    async fn organization_of_report(&self, id: ReportId) -> StoreResult<OrgId> {
        let row = sqlx::query("SELECT org_id FROM reports WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(|row| parse_id(row, "org_id")).transpose()?.ok_or(StoreError::NotFound)
    }

    async fn list_reports(&self, org: OrgId) -> StoreResult<Vec<Report>> {
        let sql =
            format!("SELECT {REPORT_COLUMNS} FROM reports r WHERE r.org_id = ? ORDER BY r.name");
        let rows = sqlx::query(&sql).bind(org.to_string()).fetch_all(&self.reader).await?;
        rows.iter().map(report_from_row).collect()
    }

    async fn update_report(
        &self,
        org: OrgId,
        actor: &Actor,
        id: ReportId,
        change: &ReportChange,
    ) -> StoreResult<Report> {
        let mut tx = self.writer.begin().await?;
        let old = Self::report_in_org(&mut tx, org, id).await?;
        let mut new = old.clone();
        if let Some(name) = &change.name {
            new.name = name.clone();
        }
        if let Some(description) = &change.description {
            new.description = description.clone();
        }
        new.updated_at = actor.at;
        sqlx::query(
            "UPDATE reports SET name = ?, description = ?, updated_at = ? WHERE org_id = ? AND id = ?",
        )
        .bind(&new.name)
        .bind(&new.description)
        .bind(ms(new.updated_at))
        .bind(org.to_string())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
        AuditRecord::new(org, actor, "report", id.to_string(), "updated")
            .values(Some(report_snapshot(&old)), Some(report_snapshot(&new)))
            .write(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(new)
    }

    async fn delete_report(&self, org: OrgId, actor: &Actor, id: ReportId) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        let old = Self::report_in_org(&mut tx, org, id).await?;
        sqlx::query("DELETE FROM reports WHERE org_id = ? AND id = ?")
            .bind(org.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        AuditRecord::new(org, actor, "report", id.to_string(), "deleted")
            .values(Some(report_snapshot(&old)), None)
            .write(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_report_access(
        &self,
        org: OrgId,
        actor: &Actor,
        report: ReportId,
        grantee: Grantee,
        granted: bool,
    ) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        let r = Self::report_in_org(&mut tx, org, report).await?;
        let who = Self::grantee_in_org(&mut tx, org, grantee).await?;
        let sql = match (grantee, granted) {
            (Grantee::User(_), true) => {
                "INSERT OR IGNORE INTO report_user_access (report_id, user_id) VALUES (?, ?)"
            }
            (Grantee::User(_), false) => {
                "DELETE FROM report_user_access WHERE report_id = ? AND user_id = ?"
            }
            (Grantee::Group(_), true) => {
                "INSERT OR IGNORE INTO report_group_access (report_id, group_id) VALUES (?, ?)"
            }
            (Grantee::Group(_), false) => {
                "DELETE FROM report_group_access WHERE report_id = ? AND group_id = ?"
            }
        };
        let changed = sqlx::query(sql)
            .bind(report.to_string())
            .bind(grantee_id(grantee))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed > 0 {
            let mut value = who;
            value["report"] = json!(r.name);
            let (action, old, new) = if granted {
                ("accessGranted", None, Some(value))
            } else {
                ("accessRevoked", Some(value), None)
            };
            AuditRecord::new(org, actor, "report", report.to_string(), action)
                .values(old, new)
                .write(&mut tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn report_access(&self, org: OrgId, report: ReportId) -> StoreResult<ReportAccess> {
        let mut conn = self.reader.acquire().await?;
        Self::report_in_org(&mut conn, org, report).await?;
        let users_sql = format!(
            "SELECT {USER_COLUMNS} FROM users u JOIN report_user_access a ON a.user_id = u.id
             WHERE u.org_id = ? AND a.report_id = ? ORDER BY u.email"
        );
        let users = sqlx::query(&users_sql)
            .bind(org.to_string())
            .bind(report.to_string())
            .fetch_all(&mut *conn)
            .await?;
        let groups_sql = format!(
            "SELECT {GROUP_COLUMNS} FROM user_groups g JOIN report_group_access a ON a.group_id = g.id
             WHERE g.org_id = ? AND a.report_id = ? ORDER BY g.name"
        );
        let groups = sqlx::query(&groups_sql)
            .bind(org.to_string())
            .bind(report.to_string())
            .fetch_all(&mut *conn)
            .await?;
        Ok(ReportAccess {
            users: users.iter().map(user_from_row).collect::<StoreResult<_>>()?,
            groups: groups.iter().map(group_from_row).collect::<StoreResult<_>>()?,
        })
    }

    async fn reports_for_user(&self, org: OrgId, user: UserId) -> StoreResult<Vec<Report>> {
        let sql = format!(
            "SELECT {REPORT_COLUMNS} FROM reports r WHERE r.org_id = ? AND (
                 r.id IN (SELECT report_id FROM report_user_access WHERE user_id = ?)
                 OR r.id IN (SELECT a.report_id FROM report_group_access a
                             JOIN group_members m ON m.group_id = a.group_id WHERE m.user_id = ?))
             ORDER BY r.name"
        );
        let user = user.to_string();
        let rows = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(&user)
            .bind(&user)
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(report_from_row).collect()
    }

    async fn report_gate(
        &self,
        org: OrgId,
        user: UserId,
        report: ReportId,
    ) -> StoreResult<ReportGate> {
        // One statement: it is the whole of the token path's reading after the session.
        static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            format!(
                "SELECT r.id, r.capacity_id, {CAN_OPEN}, {RLS_PARTS}
                   FROM reports r WHERE r.org_id = ? AND r.id = ?"
            )
        });
        let (user, org, report) = (user.to_string(), org.to_string(), report.to_string());
        let query = sqlx::query(SQL.as_str()).bind(&user).bind(&user);
        let row = bind_rls_parts(query, &user, &org)
            .bind(&org)
            .bind(&report)
            .fetch_optional(&self.reader)
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok(ReportGate {
            id: parse_id(&row, "id")?,
            capacity_id: capacity_id_column(&row)?,
            granted: row.try_get("can_open")?,
            identity: rls_from_row(&row)?.ok_or(StoreError::NotFound)?,
        })
    }

    async fn report_for_user(
        &self,
        org: OrgId,
        user: UserId,
        report: ReportId,
    ) -> StoreResult<(Report, bool)> {
        let row = self.report_row_for_user(REPORT_COLUMNS, org, user, report).await?;
        Ok((report_from_row(&row)?, row.try_get("can_open")?))
    }

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

    async fn create_api_key(
        &self,
        org: OrgId,
        actor: &Actor,
        new: &NewApiKey,
    ) -> StoreResult<ApiKey> {
        // Each report once, in the order they are read back.
        let listed: std::collections::BTreeSet<ReportId> =
            new.reports.iter().flatten().copied().collect();
        let key = ApiKey {
            id: ApiKeyId::generate(),
            org_id: org,
            name: new.name.clone(),
            prefix: new.prefix.clone(),
            created_by: actor.label.clone(),
            created_at: actor.at,
            last_used_at: None,
            revoked_at: None,
            scope: new.scope,
            reports: new.reports.as_ref().map(|_| listed.iter().copied().collect()),
            expires_at: new.expires_at,
            wake_capacity: new.wake_capacity,
            keep_capacity_on: new.keep_capacity_on,
            created_by_user: new.created_by_user,
        };
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO api_keys (id, org_id, name, prefix, secret_hash, created_by, created_at,
                 scope, all_reports, expires_at, wake_capacity, keep_capacity_on, created_by_user)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(key.id.to_string())
        .bind(org.to_string())
        .bind(&key.name)
        .bind(&key.prefix)
        .bind(&new.secret_hash)
        .bind(&key.created_by)
        .bind(ms(key.created_at))
        .bind(key.scope.as_str())
        .bind(key.reports.is_none())
        .bind(key.expires_at.map(ms))
        .bind(key.wake_capacity)
        .bind(key.keep_capacity_on)
        .bind(key.created_by_user.map(|id| id.to_string()))
        .execute(&mut *tx)
        .await?;
        for report in listed {
            // Only the organization's own reports: another's id is not found.
            let added = sqlx::query(
                "INSERT INTO api_key_reports (key_id, report_id)
                 SELECT ?, id FROM reports WHERE id = ? AND org_id = ?",
            )
            .bind(key.id.to_string())
            .bind(report.to_string())
            .bind(org.to_string())
            .execute(&mut *tx)
            .await?;
            if added.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
        }
        let shown = json!({
            "name": key.name,
            "prefix": key.prefix,
            "scope": key.scope.as_str(),
            "reports": key.reports,
            "expiresAt": key.expires_at.map(|at| at.to_rfc3339()),
            "wakeCapacity": key.wake_capacity,
            "keepCapacityOn": key.keep_capacity_on,
        });
        AuditRecord::new(org, actor, "apiKey", key.id.to_string(), "created")
            .values(None, Some(shown))
            .write(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(key)
    }

    async fn list_api_keys(&self, org: OrgId) -> StoreResult<Vec<ApiKey>> {
        let sql = format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys k WHERE k.org_id = ? ORDER BY k.created_at DESC"
        );
        let rows = sqlx::query(&sql).bind(org.to_string()).fetch_all(&self.reader).await?;
        rows.iter().map(api_key_from_row).collect()
    }

    async fn revoke_api_key(&self, org: OrgId, actor: &Actor, id: ApiKeyId) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        let sql =
            format!("SELECT {API_KEY_COLUMNS} FROM api_keys k WHERE k.org_id = ? AND k.id = ?");
        let row = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let key = api_key_from_row(&row)?;
        if key.revoked_at.is_none() {
            sqlx::query("UPDATE api_keys SET revoked_at = ? WHERE id = ?")
                .bind(ms(actor.at))
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
            AuditRecord::new(org, actor, "apiKey", id.to_string(), "revoked")
                .values(Some(json!({ "name": key.name, "prefix": key.prefix })), None)
                .write(&mut tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn find_api_key(&self, secret_hash: &[u8]) -> StoreResult<Option<ApiKeyRecord>> {
        static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            format!(
                "SELECT {API_KEY_COLUMNS}, o.name AS org_name, o.settings, o.suspended_at,
                        cu.id AS creator_id, cu.role AS creator_role, cu.blocked AS creator_blocked,
                        cu.expires_at AS creator_expires_at
                 FROM api_keys k JOIN organizations o ON o.id = k.org_id
                 LEFT JOIN users cu ON cu.id = k.created_by_user AND cu.org_id = k.org_id
                 WHERE k.secret_hash = ? AND k.revoked_at IS NULL"
            )
        });
        let row = sqlx::query(SQL.as_str()).bind(secret_hash).fetch_optional(&self.reader).await?;
        let Some(row) = row else { return Ok(None) };
        let key = api_key_from_row(&row)?;
        let creator = match (key.created_by_user, row.try_get::<Option<String>, _>("creator_id")?) {
            (None, _) => KeyCreator::Unrecorded,
            (Some(_), None) => KeyCreator::Deleted,
            (Some(_), Some(_)) => KeyCreator::Account {
                role: row
                    .try_get::<String, _>("creator_role")?
                    .parse()
                    .map_err(StoreError::Backend)?,
                blocked: row.try_get("creator_blocked")?,
                expires_at: opt_from_ms(row.try_get("creator_expires_at")?)?,
            },
        };
        Ok(Some(ApiKeyRecord {
            key,
            creator,
            org_name: row.try_get("org_name")?,
            org_suspended: row.try_get::<Option<i64>, _>("suspended_at")?.is_some(),
            settings: settings_from_json(&row.try_get::<String, _>("settings")?)?,
        }))
    }

    async fn touch_api_key(&self, id: ApiKeyId, at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("UPDATE api_keys SET last_used_at = ? WHERE id = ?")
            .bind(ms(at))
            .bind(id.to_string())
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn list_audit(&self, org: OrgId, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
        let mut query: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT id, at, actor_id, actor_label, entity_type, entity_id, action, old_value, new_value
             FROM audit_log WHERE org_id = ",
        );
        query.push_bind(org.to_string());
        if let Some(entity_type) = &filter.entity_type {
            query.push(" AND entity_type = ").push_bind(entity_type.clone());
        }
        if let Some(actor) = &filter.actor {
            query
                .push(" AND instr(lower(actor_label), lower(")
                .push_bind(actor.clone())
                .push(")) > 0");
        }
        if let Some(text) = &filter.text {
            query
                .push(" AND instr(lower(entity_id || ' ' || COALESCE(old_value, '') || ' ' || COALESCE(new_value, '')), lower(")
                .push_bind(text.clone())
                .push(")) > 0");
        }
        if let Some(since) = filter.since {
            query.push(" AND at >= ").push_bind(ms(since));
        }
        if let Some(until) = filter.until {
            query.push(" AND at < ").push_bind(ms(until));
        }
        query.push(" ORDER BY at DESC, id DESC LIMIT ").push_bind(i64::from(filter.limit.max(1)));
        let rows = query.build().fetch_all(&self.reader).await?;
        rows.iter()
            .map(|row| {
                Ok(AuditEntry {
                    id: row.try_get("id")?,
                    at: from_ms(row.try_get("at")?)?,
                    actor_id: row.try_get("actor_id")?,
                    actor_label: row.try_get("actor_label")?,
                    entity_type: row.try_get("entity_type")?,
                    entity_id: row.try_get("entity_id")?,
                    action: row.try_get("action")?,
                    old_value: json_column(row, "old_value")?,
                    new_value: json_column(row, "new_value")?,
                })
            })
            .collect()
    }

    async fn insert_signing_key(&self, key: &StoredSigningKey) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO signing_keys (kid, public_key, sealed_private_key, created_at, retired_at)
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&key.kid)
        .bind(&key.public_key)
        .bind(&key.sealed_private_key)
        .bind(ms(key.created_at))
        .bind(key.retired_at.map(ms))
        .execute(&self.writer)
        .await
        .map_err(|e| conflict_on_unique(e, "kid"))?;
        Ok(())
    }

    async fn list_signing_keys(&self) -> StoreResult<Vec<StoredSigningKey>> {
        let rows = sqlx::query(
            "SELECT kid, public_key, sealed_private_key, created_at, retired_at
             FROM signing_keys ORDER BY created_at, kid",
        )
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(StoredSigningKey {
                    kid: row.try_get("kid")?,
                    public_key: row.try_get("public_key")?,
                    sealed_private_key: row.try_get("sealed_private_key")?,
                    created_at: from_ms(row.try_get("created_at")?)?,
                    retired_at: opt_from_ms(row.try_get("retired_at")?)?,
                })
            })
            .collect()
    }

    async fn retire_signing_key(&self, kid: &str, at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("UPDATE signing_keys SET retired_at = ? WHERE kid = ? AND retired_at IS NULL")
            .bind(ms(at))
            .bind(kid)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn record_revocation(&self, revocation: &Revocation) -> StoreResult<()> {
        let (scope, id) = revocation_key(revocation.scope);
        sqlx::query(
            "INSERT INTO token_revocations (scope, scope_id, not_before) VALUES (?, ?, ?)
             ON CONFLICT (scope, scope_id) DO UPDATE
             SET not_before = MAX(not_before, excluded.not_before)",
        )
        .bind(scope)
        .bind(id)
        .bind(revocation.not_before)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn list_revocations(&self, since: i64) -> StoreResult<Vec<Revocation>> {
        let rows = sqlx::query(
            "SELECT scope, scope_id, not_before FROM token_revocations WHERE not_before >= ?",
        )
        .bind(since)
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|row| {
                let scope: String = row.try_get("scope")?;
                let id: String = row.try_get("scope_id")?;
                let malformed =
                    || StoreError::Backend(format!("malformed revocation {scope}:{id}"));
                let uuid: uuid::Uuid = id.parse().map_err(|_| malformed())?;
                let scope = match scope.as_str() {
                    "user" => RevocationScope::User(uuid.into()),
                    "identity" => RevocationScope::Identity(uuid.into()),
                    "org" => RevocationScope::Organization(uuid.into()),
                    "report" => RevocationScope::Report(uuid.into()),
                    _ => return Err(malformed()),
                };
                Ok(Revocation { scope, not_before: row.try_get("not_before")? })
            })
            .collect()
    }

    async fn user_expiries(&self) -> StoreResult<Vec<(UserId, DateTime<Utc>)>> {
        let rows = sqlx::query("SELECT id, expires_at FROM users WHERE expires_at IS NOT NULL")
            .fetch_all(&self.reader)
            .await?;
        rows.iter()
            .map(|row| Ok((parse_id(row, "id")?, from_ms(row.try_get("expires_at")?)?)))
            .collect()
    }

    async fn create_dataset(
        &self,
        org: OrgId,
        actor: &Actor,
        dataset: &Dataset,
    ) -> StoreResult<Dataset> {
        let source = dataset.source.as_ref();
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO datasets (id, org_id, name, format, location, columns, row_count, created_at,
                                   version, updated_at, connection_id, source_table, source_sql,
                                   mode, refresh_every_minutes, refresh_windows,
                                   refresh_time_zone)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(dataset.id.to_string())
        .bind(org.to_string())
        .bind(&dataset.name)
        .bind(&dataset.format)
        .bind(&dataset.location)
        .bind(dataset.columns.to_string())
        .bind(i64::try_from(dataset.row_count).unwrap_or(i64::MAX))
        .bind(ms(dataset.created_at))
        .bind(i64::try_from(dataset.version).unwrap_or(i64::MAX))
        .bind(ms(dataset.updated_at))
        .bind(source.map(|s| s.connection_id.to_string()))
        .bind(source.and_then(|s| s.table.clone()))
        .bind(source.and_then(|s| s.sql.clone()))
        .bind(source.map(|s| s.mode.as_str()))
        .bind(source.and_then(|s| s.refresh_every_minutes).map(i64::from))
        .bind(source.map(refresh_windows_json).transpose()?)
        .bind(source.and_then(|s| s.refresh_time_zone.clone()))
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_on_unique(e, "name"))?;
        if let Some(source) = source {
            // The connection must be the organization's own.
            let owned: Option<i64> =
                sqlx::query_scalar("SELECT 1 FROM connections WHERE id = ? AND org_id = ?")
                    .bind(source.connection_id.to_string())
                    .bind(org.to_string())
                    .fetch_optional(&mut *tx)
                    .await?;
            owned.ok_or(StoreError::NotFound)?;
        }
        let mut audited =
            json!({ "name": dataset.name, "format": dataset.format, "rows": dataset.row_count });
        if let Some(source) = source {
            audited["connection"] = json!(source.connection_id.to_string());
            audited["mode"] = json!(source.mode.as_str());
            audited["table"] = json!(source.table);
            audited["sql"] = json!(source.sql);
            if let Some(values) = audited.as_object_mut() {
                values.extend(refresh_audited(source));
            }
        }
        AuditRecord::new(org, actor, "dataset", dataset.id.to_string(), "created")
            .values(None, Some(audited))
            .write(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(Dataset { org_id: org, ..dataset.clone() })
    }

    async fn list_datasets(&self, org: OrgId) -> StoreResult<Vec<Dataset>> {
        let rows = sqlx::query(&format!(
            "SELECT {DATASET_COLUMNS} FROM datasets WHERE org_id = ? ORDER BY name"
        ))
        .bind(org.to_string())
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(dataset_from_row).collect()
    }

    async fn get_dataset(&self, org: OrgId, id: DatasetId) -> StoreResult<Dataset> {
        let row = sqlx::query(&format!(
            "SELECT {DATASET_COLUMNS} FROM datasets WHERE org_id = ? AND id = ?"
        ))
        .bind(org.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(dataset_from_row).transpose()?.ok_or(StoreError::NotFound)
    }

    async fn delete_dataset(&self, org: OrgId, actor: &Actor, id: DatasetId) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        let row = sqlx::query(&format!(
            "SELECT {DATASET_COLUMNS} FROM datasets WHERE org_id = ? AND id = ?"
        ))
        .bind(org.to_string())
        .bind(id.to_string())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let old = dataset_from_row(&row)?;
        sqlx::query("DELETE FROM datasets WHERE org_id = ? AND id = ?")
            .bind(org.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        AuditRecord::new(org, actor, "dataset", id.to_string(), "deleted")
            .values(Some(json!({ "name": old.name, "format": old.format })), None)
            .write(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn all_datasets(&self) -> StoreResult<Vec<Dataset>> {
        let rows =
            sqlx::query(&format!("SELECT {DATASET_COLUMNS} FROM datasets ORDER BY created_at"))
                .fetch_all(&self.reader)
                .await?;
        rows.iter().map(dataset_from_row).collect()
    }

    async fn set_report_definition(
        &self,
        org: OrgId,
        actor: &Actor,
        report: ReportId,
        definition: Option<&Value>,
    ) -> StoreResult<Report> {
        let mut tx = self.writer.begin().await?;
        let old = Self::report_in_org(&mut tx, org, report).await?;
        sqlx::query(
            "UPDATE reports SET definition = ?, updated_at = ? WHERE org_id = ? AND id = ?",
        )
        .bind(definition.map(|d| d.to_string()))
        .bind(ms(actor.at))
        .bind(org.to_string())
        .bind(report.to_string())
        .execute(&mut *tx)
        .await?;
        AuditRecord::new(org, actor, "report", report.to_string(), "definitionChanged")
            .values(old.definition.clone(), definition.cloned())
            .write(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(Report { definition: definition.cloned(), updated_at: actor.at, ..old })
    }

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
        rls_from_row(&row)?.ok_or(StoreError::NotFound)
    }

    async fn create_capacity(
        &self,
        org: OrgId,
        actor: &Actor,
        capacity: &Capacity,
    ) -> StoreResult<Capacity> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(&format!(
            "INSERT INTO capacities ({CAPACITY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(capacity.id.to_string())
        .bind(org.to_string())
        .bind(&capacity.name)
        .bind(&capacity.provider)
        .bind(capacity.state.as_str())
        .bind(capacity.mode.as_str())
        .bind(i64::from(capacity.idle_minutes))
        .bind(serde_json::to_string(&capacity.schedule).map_err(|e| StoreError::Backend(e.to_string()))?)
        .bind(&capacity.time_zone)
        .bind(capacity.hourly_price)
        .bind(capacity.wake_from_viewer)
        .bind(ms(capacity.state_since))
        .bind(capacity.last_activity.map(ms))
        .bind(ms(capacity.created_at))
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_on_unique(e, "name"))?;
        AuditRecord::new(org, actor, "capacity", capacity.id.to_string(), "created")
            .values(None, Some(capacity_snapshot(capacity)))
            .write(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(Capacity { org_id: org, ..capacity.clone() })
    }

    async fn list_capacities(&self, org: OrgId) -> StoreResult<Vec<Capacity>> {
        let rows = sqlx::query(&format!(
            "SELECT {CAPACITY_COLUMNS} FROM capacities WHERE org_id = ? ORDER BY name"
        ))
        .bind(org.to_string())
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(capacity_from_row).collect()
    }

    async fn get_capacity(&self, org: OrgId, id: CapacityId) -> StoreResult<Capacity> {
        let mut conn = self.reader.acquire().await?;
        capacity_in_org(&mut conn, org, id).await
    }

    async fn all_capacities(&self) -> StoreResult<Vec<Capacity>> {
        let rows =
            sqlx::query(&format!("SELECT {CAPACITY_COLUMNS} FROM capacities ORDER BY created_at"))
                .fetch_all(&self.reader)
                .await?;
        rows.iter().map(capacity_from_row).collect()
    }

    async fn update_capacity(
        &self,
        org: OrgId,
        actor: &Actor,
        id: CapacityId,
        change: &CapacityChange,
    ) -> StoreResult<Capacity> {
        let mut tx = self.writer.begin().await?;
        let old = capacity_in_org(&mut tx, org, id).await?;
        let new = Capacity {
            name: change.name.clone().unwrap_or_else(|| old.name.clone()),
            mode: change.mode.unwrap_or(old.mode),
            idle_minutes: change.idle_minutes.unwrap_or(old.idle_minutes),
            schedule: change.schedule.clone().unwrap_or_else(|| old.schedule.clone()),
            time_zone: change.time_zone.clone().unwrap_or_else(|| old.time_zone.clone()),
            hourly_price: change.hourly_price.unwrap_or(old.hourly_price),
            wake_from_viewer: change.wake_from_viewer.unwrap_or(old.wake_from_viewer),
            ..old.clone()
        };
        sqlx::query(
            "UPDATE capacities SET name = ?, mode = ?, idle_minutes = ?, schedule = ?, time_zone = ?,
                                   hourly_price = ?, wake_from_viewer = ?
             WHERE org_id = ? AND id = ?",
        )
        .bind(&new.name)
        .bind(new.mode.as_str())
        .bind(i64::from(new.idle_minutes))
        .bind(serde_json::to_string(&new.schedule).map_err(|e| StoreError::Backend(e.to_string()))?)
        .bind(&new.time_zone)
        .bind(new.hourly_price)
        .bind(new.wake_from_viewer)
        .bind(org.to_string())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_on_unique(e, "name"))?;
        if old != new {
            AuditRecord::new(org, actor, "capacity", id.to_string(), "updated")
                .values(Some(capacity_snapshot(&old)), Some(capacity_snapshot(&new)))
                .write(&mut tx)
                .await?;
        }
        tx.commit().await?;
        Ok(new)
    }

    async fn delete_capacity(&self, org: OrgId, actor: &Actor, id: CapacityId) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        let old = capacity_in_org(&mut tx, org, id).await?;
        let placed: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM reports WHERE org_id = ? AND capacity_id = ?")
                .bind(org.to_string())
                .bind(id.to_string())
                .fetch_one(&mut *tx)
                .await?;
        if placed > 0 {
            return Err(StoreError::Conflict { field: "reports" });
        }
        let deleted = sqlx::query(
            "DELETE FROM capacities WHERE org_id = ? AND id = ? AND state NOT IN ('Resuming', 'Pausing')",
        )
        .bind(org.to_string())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::Conflict { field: "state" });
        }
        AuditRecord::new(org, actor, "capacity", id.to_string(), "deleted")
            .values(Some(capacity_snapshot(&old)), None)
            .write(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn transition_capacity(
        &self,
        from: &[CapacityState],
        event: &CapacityEvent,
    ) -> StoreResult<bool> {
        if from.is_empty() {
            return Ok(false);
        }
        let mut tx = self.writer.begin().await?;
        let mut update: QueryBuilder<Sqlite> = QueryBuilder::new("UPDATE capacities SET state = ");
        update.push_bind(event.state.as_str()).push(", state_since = ").push_bind(ms(event.at));
        update
            .push(" WHERE id = ")
            .push_bind(event.capacity_id.to_string())
            .push(" AND state IN (");
        let mut states = update.separated(", ");
        for state in from {
            states.push_bind(state.as_str());
        }
        update.push(")");
        let moved = update.build().execute(&mut *tx).await?.rows_affected() > 0;
        if moved {
            sqlx::query(
                "INSERT INTO capacity_events (capacity_id, at, state, reason, actor, detail) VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(event.capacity_id.to_string())
            .bind(ms(event.at))
            .bind(event.state.as_str())
            .bind(&event.reason)
            .bind(&event.actor)
            .bind(&event.detail)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(moved)
    }

    async fn record_capacity_activity(
        &self,
        id: CapacityId,
        keepers: &[&str],
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "UPDATE capacities SET last_activity = MAX(COALESCE(last_activity, 0), ?) WHERE id = ?",
        )
        .bind(ms(at))
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
        for who in keepers {
            sqlx::query(
                "INSERT INTO capacity_keepers (capacity_id, who, at) VALUES (?, ?, ?)
                 ON CONFLICT (capacity_id, who) DO UPDATE SET at = MAX(at, excluded.at)",
            )
            .bind(id.to_string())
            .bind(who)
            .bind(ms(at))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn capacity_keepers(
        &self,
        org: OrgId,
        id: CapacityId,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<(String, DateTime<Utc>)>> {
        let mut conn = self.reader.acquire().await?;
        capacity_in_org(&mut conn, org, id).await?;
        let rows = sqlx::query(
            "SELECT who, at FROM capacity_keepers WHERE capacity_id = ? AND at >= ?
             ORDER BY at DESC, who",
        )
        .bind(id.to_string())
        .bind(ms(since))
        .fetch_all(&mut *conn)
        .await?;
        rows.iter().map(|row| Ok((row.try_get("who")?, from_ms(row.try_get("at")?)?))).collect()
    }

    async fn capacity_events(
        &self,
        org: OrgId,
        id: CapacityId,
        limit: u32,
    ) -> StoreResult<Vec<CapacityEvent>> {
        let mut conn = self.reader.acquire().await?;
        capacity_in_org(&mut conn, org, id).await?;
        let rows = sqlx::query(
            "SELECT id, capacity_id, at, state, reason, actor, detail FROM capacity_events
             WHERE capacity_id = ? ORDER BY at DESC, id DESC LIMIT ?",
        )
        .bind(id.to_string())
        .bind(i64::from(limit.max(1)))
        .fetch_all(&mut *conn)
        .await?;
        rows.iter()
            .map(|row| {
                let state: String = row.try_get("state")?;
                Ok(CapacityEvent {
                    id: row.try_get("id")?,
                    capacity_id: parse_id(row, "capacity_id")?,
                    at: from_ms(row.try_get("at")?)?,
                    state: CapacityState::parse(&state)
                        .ok_or_else(|| StoreError::Backend(format!("state {state}")))?,
                    reason: row.try_get("reason")?,
                    actor: row.try_get("actor")?,
                    detail: row.try_get("detail")?,
                })
            })
            .collect()
    }

    async fn set_report_capacity(
        &self,
        org: OrgId,
        actor: &Actor,
        report: ReportId,
        capacity: Option<CapacityId>,
    ) -> StoreResult<Report> {
        let mut tx = self.writer.begin().await?;
        let old = Self::report_in_org(&mut tx, org, report).await?;
        if let Some(capacity) = capacity {
            capacity_in_org(&mut tx, org, capacity).await?;
        }
        sqlx::query("UPDATE reports SET capacity_id = ? WHERE org_id = ? AND id = ?")
            .bind(capacity.map(|c| c.to_string()))
            .bind(org.to_string())
            .bind(report.to_string())
            .execute(&mut *tx)
            .await?;
        if old.capacity_id != capacity {
            AuditRecord::new(org, actor, "report", report.to_string(), "capacityChanged")
                .values(
                    Some(json!({ "capacity": old.capacity_id })),
                    Some(json!({ "capacity": capacity })),
                )
                .write(&mut tx)
                .await?;
        }
        tx.commit().await?;
        Ok(Report { capacity_id: capacity, ..old })
    }

    async fn identity_seen(&self, org: OrgId, seen: &IdentitySeen) -> StoreResult<Identity> {
        let row = sqlx::query(&format!(
            "INSERT INTO embed_identities
                 (id, org_id, external_id, name, first_seen_at, last_seen_at, last_key_id)
             VALUES (?, ?, ?, COALESCE(?, ''), ?, ?, ?)
             ON CONFLICT (org_id, external_id) DO UPDATE SET
                 name = COALESCE(?, name),
                 last_seen_at = MAX(last_seen_at, excluded.last_seen_at),
                 last_key_id = COALESCE(excluded.last_key_id, last_key_id)
             RETURNING {IDENTITY_COLUMNS}"
        ))
        .bind(IdentityId::generate().to_string())
        .bind(org.to_string())
        .bind(&seen.external_id)
        .bind(&seen.name)
        .bind(ms(seen.at))
        .bind(ms(seen.at))
        .bind(seen.key.map(|key| key.to_string()))
        .bind(&seen.name)
        .fetch_one(&self.writer)
        .await?;
        identity_from_row(&row)
    }

    async fn find_identity(&self, org: OrgId, external_id: &str) -> StoreResult<Option<Identity>> {
        let row = sqlx::query(&format!(
            "SELECT {IDENTITY_COLUMNS} FROM embed_identities WHERE org_id = ? AND external_id = ?"
        ))
        .bind(org.to_string())
        .bind(external_id)
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(identity_from_row).transpose()
    }

    async fn list_identities(&self, org: OrgId, limit: u32) -> StoreResult<Vec<Identity>> {
        let rows = sqlx::query(&format!(
            "SELECT {IDENTITY_COLUMNS} FROM embed_identities WHERE org_id = ?
             ORDER BY last_seen_at DESC, id DESC LIMIT ?"
        ))
        .bind(org.to_string())
        .bind(i64::from(limit.max(1)))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(identity_from_row).collect()
    }

    async fn insert_token_events(&self, events: &[TokenEvent]) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut tx = self.writer.begin().await?;
        for event in events {
            sqlx::query(
                "INSERT INTO token_events (org_id, at, kind, user_id, identity_id, report_id,
                                           token_id, reason, ip, user_agent, actor)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(event.org_id.map(|id| id.to_string()))
            .bind(ms(event.at))
            .bind(&event.kind)
            .bind(event.user_id.map(|id| id.to_string()))
            .bind(event.identity_id.map(|id| id.to_string()))
            .bind(event.report_id.map(|id| id.to_string()))
            .bind(&event.token_id)
            .bind(&event.reason)
            .bind(&event.ip)
            .bind(&event.user_agent)
            .bind(&event.actor)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn list_token_events(
        &self,
        org: OrgId,
        filter: &TokenEventFilter,
    ) -> StoreResult<Vec<TokenEvent>> {
        let mut query: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT e.id, e.org_id, e.at, e.kind, e.user_id, e.identity_id, e.report_id, e.token_id,
                    e.reason, e.ip, e.user_agent, e.actor,
                    COALESCE(CASE WHEN u.kind = 'display' THEN 'display ' || u.name ELSE u.email END,
                             'identity ' || i.external_id) AS user_label,
                    r.name AS report_label
             FROM token_events e
             LEFT JOIN users u ON u.id = e.user_id
             LEFT JOIN embed_identities i ON i.id = e.identity_id
             LEFT JOIN reports r ON r.id = e.report_id
             WHERE e.org_id = ",
        );
        query.push_bind(org.to_string());
        if let Some(kind) = &filter.kind {
            query.push(" AND e.kind = ").push_bind(kind.clone());
        }
        if let Some(user) = &filter.user {
            query
                .push(" AND instr(lower(COALESCE(CASE WHEN u.kind = 'display' THEN 'display ' || u.name ELSE u.email END, 'identity ' || i.external_id, e.user_id, '')), lower(")
                .push_bind(user.clone())
                .push(")) > 0");
        }
        if let Some(report) = filter.report {
            query.push(" AND e.report_id = ").push_bind(report.to_string());
        }
        if let Some(reason) = &filter.reason {
            query.push(" AND e.reason = ").push_bind(reason.clone());
        }
        if let Some(since) = filter.since {
            query.push(" AND e.at >= ").push_bind(ms(since));
        }
        if let Some(until) = filter.until {
            query.push(" AND e.at < ").push_bind(ms(until));
        }
        query
            .push(" ORDER BY e.at DESC, e.id DESC LIMIT ")
            .push_bind(i64::from(filter.limit.max(1)));
        let rows = query.build().fetch_all(&self.reader).await?;
        rows.iter()
            .map(|row| {
                let optional_id =
                    |column: &str| -> StoreResult<Option<String>> { Ok(row.try_get(column)?) };
                Ok(TokenEvent {
                    id: row.try_get("id")?,
                    org_id: optional_id("org_id")?.and_then(|id| id.parse().ok()),
                    at: from_ms(row.try_get("at")?)?,
                    kind: row.try_get("kind")?,
                    user_id: optional_id("user_id")?.and_then(|id| id.parse().ok()),
                    identity_id: optional_id("identity_id")?.and_then(|id| id.parse().ok()),
                    report_id: optional_id("report_id")?.and_then(|id| id.parse().ok()),
                    token_id: row.try_get("token_id")?,
                    reason: row.try_get("reason")?,
                    ip: row.try_get("ip")?,
                    user_agent: row.try_get("user_agent")?,
                    actor: row.try_get("actor")?,
                    user_label: row.try_get("user_label")?,
                    report_label: row.try_get("report_label")?,
                })
            })
            .collect()
    }
}

/// Inserts a user and its audit entry, in the caller's transaction.
async fn insert_user(
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
    let limits: OrgLimits = serde_json::from_str(&limits.ok_or(StoreError::NotFound)?)
        .map_err(|e| StoreError::Backend(format!("malformed limits: {e}")))?;
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

/// One audit log entry, written inside the transaction of the change it records: in the
/// organization's audit log, or (without an organization) in the installation audit.
struct AuditRecord<'a> {
    org: Option<OrgId>,
    actor: &'a Actor,
    entity_type: &'static str,
    entity_id: String,
    action: &'static str,
    old_value: Option<Value>,
    new_value: Option<Value>,
}

impl<'a> AuditRecord<'a> {
    fn new(
        org: OrgId,
        actor: &'a Actor,
        entity_type: &'static str,
        entity_id: String,
        action: &'static str,
    ) -> Self {
        Self::of(Some(org), actor, entity_type, entity_id, action)
    }

    /// An entry of the installation audit: what operators (and set-up) did.
    fn installation(
        actor: &'a Actor,
        entity_type: &'static str,
        entity_id: String,
        action: &'static str,
    ) -> Self {
        Self::of(None, actor, entity_type, entity_id, action)
    }

    fn of(
        org: Option<OrgId>,
        actor: &'a Actor,
        entity_type: &'static str,
        entity_id: String,
        action: &'static str,
    ) -> Self {
        Self { org, actor, entity_type, entity_id, action, old_value: None, new_value: None }
    }

    fn values(mut self, old: Option<Value>, new: Option<Value>) -> Self {
        self.old_value = old;
        self.new_value = new;
        self
    }

    async fn write(self, conn: &mut SqliteConnection) -> StoreResult<()> {
        let query = match self.org {
            Some(org) => sqlx::query(
                "INSERT INTO audit_log (org_id, at, actor_id, actor_label, entity_type, entity_id,
                                        action, old_value, new_value)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(org.to_string()),
            None => sqlx::query(
                "INSERT INTO installation_audit (at, actor_id, actor_label, entity_type, entity_id,
                                                 action, old_value, new_value)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            ),
        };
        query
            .bind(ms(self.actor.at))
            .bind(&self.actor.id)
            .bind(&self.actor.label)
            .bind(self.entity_type)
            .bind(&self.entity_id)
            .bind(self.action)
            .bind(self.old_value.map(|v| v.to_string()))
            .bind(self.new_value.map(|v| v.to_string()))
            .execute(conn)
            .await?;
        Ok(())
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            other => StoreError::Backend(other.to_string()),
        }
    }
}

fn conflict_on_unique(error: sqlx::Error, field: &'static str) -> StoreError {
    match error.as_database_error() {
        Some(db) if db.is_unique_violation() => StoreError::Conflict { field },
        _ => error.into(),
    }
}

fn ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn from_ms(value: i64) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_millis(value)
        .ok_or_else(|| StoreError::Backend(format!("timestamp out of range: {value}")))
}

fn opt_from_ms(value: Option<i64>) -> StoreResult<Option<DateTime<Utc>>> {
    value.map(from_ms).transpose()
}

fn parse_id<T: FromStr>(row: &SqliteRow, column: &str) -> StoreResult<T> {
    let raw: String = row.try_get(column)?;
    raw.parse().map_err(|_| StoreError::Backend(format!("malformed id in {column}: {raw}")))
}

fn revocation_key(scope: RevocationScope) -> (&'static str, String) {
    match scope {
        RevocationScope::User(id) => ("user", id.to_string()),
        RevocationScope::Identity(id) => ("identity", id.to_string()),
        RevocationScope::Organization(id) => ("org", id.to_string()),
        RevocationScope::Report(id) => ("report", id.to_string()),
    }
}

fn grantee_id(grantee: Grantee) -> String {
    match grantee {
        Grantee::User(id) => id.to_string(),
        Grantee::Group(id) => id.to_string(),
    }
}

fn known_permissions(names: Vec<String>) -> Vec<Permission> {
    let mut permissions: Vec<Permission> =
        names.iter().filter_map(|name| name.parse().ok()).collect();
    permissions.sort();
    permissions.dedup();
    permissions
}

fn settings_json(settings: &OrgSettings) -> StoreResult<String> {
    serde_json::to_string(settings).map_err(|e| StoreError::Backend(e.to_string()))
}

fn settings_from_json(raw: &str) -> StoreResult<OrgSettings> {
    serde_json::from_str(raw).map_err(|e| StoreError::Backend(format!("malformed settings: {e}")))
}

type SqliteQuery<'q> = sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>>;

/// Binds the parameters of [`RLS_PARTS`], in order.
fn bind_rls_parts<'q>(query: SqliteQuery<'q>, user: &'q str, org: &'q str) -> SqliteQuery<'q> {
    query.bind(user).bind(org).bind(user).bind(user).bind(user).bind(user)
}

/// The effective identity from the columns of [`RLS_PARTS`]; `None` when the user is not of the
/// organization.
fn rls_from_row(row: &SqliteRow) -> StoreResult<Option<RlsAssignment>> {
    if !row.try_get::<bool, _>("rls_member")? {
        return Ok(None);
    }
    fn parts<T: serde::de::DeserializeOwned>(row: &SqliteRow, column: &str) -> StoreResult<T> {
        serde_json::from_str(&row.try_get::<String, _>(column)?)
            .map_err(|e| StoreError::Backend(format!("malformed {column}: {e}")))
    }
    let own: Vec<String> = parts(row, "rls_roles")?;
    let of_groups: Vec<String> = parts(row, "rls_group_roles")?;
    let attributes: Vec<(String, String)> = parts(row, "rls_attributes")?;
    Ok(Some(RlsAssignment::effective(
        own.into_iter().chain(of_groups),
        parts(row, "rls_group_attributes")?,
        attributes,
    )))
}

fn json_column(row: &SqliteRow, column: &str) -> StoreResult<Option<Value>> {
    let raw: Option<String> = row.try_get(column)?;
    Ok(raw.and_then(|text| serde_json::from_str(&text).ok()))
}

fn organization_from_row(row: &SqliteRow) -> StoreResult<Organization> {
    Ok(Organization {
        id: parse_id(row, "id")?,
        name: row.try_get("name")?,
        settings: settings_from_json(&row.try_get::<String, _>("settings")?)?,
        created_at: from_ms(row.try_get("created_at")?)?,
        suspended_at: opt_from_ms(row.try_get("suspended_at")?)?,
        limits: serde_json::from_str(&row.try_get::<String, _>("limits")?)
            .map_err(|e| StoreError::Backend(format!("malformed limits: {e}")))?,
    })
}

fn user_from_row(row: &SqliteRow) -> StoreResult<User> {
    let role: String = row.try_get("role")?;
    Ok(User {
        id: parse_id(row, "id")?,
        org_id: parse_id(row, "org_id")?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        role: role.parse::<Role>().map_err(StoreError::Backend)?,
        blocked: row.try_get("blocked")?,
        expires_at: opt_from_ms(row.try_get("expires_at")?)?,
        locked_until: opt_from_ms(row.try_get("locked_until")?)?,
        created_at: from_ms(row.try_get("created_at")?)?,
        updated_at: from_ms(row.try_get("updated_at")?)?,
        password_set: row.try_get("password_set")?,
        operator: row.try_get("operator")?,
        display: row.try_get("display")?,
    })
}

fn group_from_row(row: &SqliteRow) -> StoreResult<Group> {
    let members: i64 = row.try_get("member_count")?;
    Ok(Group {
        id: parse_id(row, "id")?,
        org_id: parse_id(row, "org_id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        member_count: u32::try_from(members).unwrap_or(u32::MAX),
        created_at: from_ms(row.try_get("created_at")?)?,
    })
}

fn report_from_row(row: &SqliteRow) -> StoreResult<Report> {
    let owner: Option<String> = row.try_get("owner_id")?;
    Ok(Report {
        id: parse_id(row, "id")?,
        org_id: parse_id(row, "org_id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        owner_id: owner.and_then(|raw| raw.parse().ok()),
        definition: json_column(row, "definition")?,
        capacity_id: capacity_id_column(row)?,
        created_at: from_ms(row.try_get("created_at")?)?,
        updated_at: from_ms(row.try_get("updated_at")?)?,
    })
}

fn capacity_id_column(row: &SqliteRow) -> StoreResult<Option<CapacityId>> {
    Ok(row.try_get::<Option<String>, _>("capacity_id")?.and_then(|raw| raw.parse().ok()))
}

async fn capacity_in_org(
    conn: &mut SqliteConnection,
    org: OrgId,
    id: CapacityId,
) -> StoreResult<Capacity> {
    let row = sqlx::query(&format!(
        "SELECT {CAPACITY_COLUMNS} FROM capacities WHERE org_id = ? AND id = ?"
    ))
    .bind(org.to_string())
    .bind(id.to_string())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(capacity_from_row).transpose()?.ok_or(StoreError::NotFound)
}

fn capacity_from_row(row: &SqliteRow) -> StoreResult<Capacity> {
    let state: String = row.try_get("state")?;
    let mode: String = row.try_get("mode")?;
    let schedule: String = row.try_get("schedule")?;
    let idle: i64 = row.try_get("idle_minutes")?;
    Ok(Capacity {
        id: parse_id(row, "id")?,
        org_id: parse_id(row, "org_id")?,
        name: row.try_get("name")?,
        provider: row.try_get("provider")?,
        state: CapacityState::parse(&state)
            .ok_or_else(|| StoreError::Backend(format!("capacity state {state}")))?,
        mode: CapacityMode::parse(&mode)
            .ok_or_else(|| StoreError::Backend(format!("capacity mode {mode}")))?,
        idle_minutes: u32::try_from(idle).unwrap_or(u32::MAX),
        schedule: serde_json::from_str(&schedule)
            .map_err(|e| StoreError::Backend(format!("schedule: {e}")))?,
        time_zone: row.try_get("time_zone")?,
        hourly_price: row.try_get("hourly_price")?,
        wake_from_viewer: row.try_get("wake_from_viewer")?,
        state_since: from_ms(row.try_get("state_since")?)?,
        last_activity: opt_from_ms(row.try_get("last_activity")?)?,
        created_at: from_ms(row.try_get("created_at")?)?,
    })
}

fn capacity_snapshot(capacity: &Capacity) -> Value {
    json!({
        "name": capacity.name,
        "mode": capacity.mode.as_str(),
        "idleMinutes": capacity.idle_minutes,
        "schedule": capacity.schedule,
        "timeZone": capacity.time_zone,
        "hourlyPrice": capacity.hourly_price,
        "wakeFromViewer": capacity.wake_from_viewer,
    })
}

/// A source dataset's refresh windows as stored: JSON, or NULL for none.
pub(super) fn refresh_windows_json(source: &crate::DatasetSource) -> StoreResult<Option<String>> {
    if source.refresh_windows.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(&source.refresh_windows)
        .map(Some)
        .map_err(|e| StoreError::Backend(e.to_string()))
}

/// How a source dataset refreshes, as the audit shows it.
pub(super) fn refresh_audited(source: &crate::DatasetSource) -> serde_json::Map<String, Value> {
    let mut values = serde_json::Map::new();
    values.insert("refreshEveryMinutes".into(), json!(source.refresh_every_minutes));
    values.insert("refreshWindows".into(), json!(source.refresh_windows));
    values.insert("timeZone".into(), json!(source.refresh_time_zone));
    values
}

pub(super) fn dataset_from_row(row: &SqliteRow) -> StoreResult<Dataset> {
    let rows: i64 = row.try_get("row_count")?;
    let version: i64 = row.try_get("version")?;
    let connection: Option<String> = row.try_get("connection_id")?;
    let source = match connection {
        None => None,
        Some(id) => {
            let mode: Option<String> = row.try_get("mode")?;
            let minutes: Option<i64> = row.try_get("refresh_every_minutes")?;
            Some(crate::DatasetSource {
                connection_id: id
                    .parse()
                    .map_err(|_| StoreError::Backend("bad connection id".into()))?,
                table: row.try_get("source_table")?,
                sql: row.try_get("source_sql")?,
                mode: mode
                    .as_deref()
                    .and_then(vitrine_core::source::SourceMode::parse)
                    .ok_or_else(|| StoreError::Backend("bad dataset mode".into()))?,
                refresh_every_minutes: minutes.and_then(|m| u32::try_from(m).ok()),
                refresh_windows: match json_column(row, "refresh_windows")? {
                    Some(windows) => serde_json::from_value(windows)
                        .map_err(|e| StoreError::Backend(format!("refresh windows: {e}")))?,
                    None => Vec::new(),
                },
                refresh_time_zone: row.try_get("refresh_time_zone")?,
            })
        }
    };
    Ok(Dataset {
        version: u64::try_from(version).unwrap_or(1),
        updated_at: from_ms(row.try_get("updated_at")?)?,
        source,
        id: parse_id(row, "id")?,
        org_id: parse_id(row, "org_id")?,
        name: row.try_get("name")?,
        format: row.try_get("format")?,
        location: row.try_get("location")?,
        columns: json_column(row, "columns")?.unwrap_or(Value::Null),
        row_count: u64::try_from(rows).unwrap_or_default(),
        created_at: from_ms(row.try_get("created_at")?)?,
    })
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

fn identity_from_row(row: &SqliteRow) -> StoreResult<Identity> {
    Ok(Identity {
        id: parse_id(row, "id")?,
        org_id: parse_id(row, "org_id")?,
        external_id: row.try_get("external_id")?,
        name: row.try_get("name")?,
        first_seen_at: from_ms(row.try_get("first_seen_at")?)?,
        last_seen_at: from_ms(row.try_get("last_seen_at")?)?,
        last_key_id: row
            .try_get::<Option<String>, _>("last_key_id")?
            .and_then(|id| id.parse().ok()),
    })
}

fn api_key_from_row(row: &SqliteRow) -> StoreResult<ApiKey> {
    Ok(ApiKey {
        id: parse_id(row, "id")?,
        org_id: parse_id(row, "org_id")?,
        name: row.try_get("name")?,
        prefix: row.try_get("prefix")?,
        created_by: row.try_get("created_by")?,
        created_at: from_ms(row.try_get("created_at")?)?,
        last_used_at: opt_from_ms(row.try_get("last_used_at")?)?,
        revoked_at: opt_from_ms(row.try_get("revoked_at")?)?,
        scope: ApiKeyScope::parse(&row.try_get::<String, _>("scope")?)
            .ok_or_else(|| StoreError::Backend("unknown API key scope".into()))?,
        reports: if row.try_get("all_reports")? {
            None
        } else {
            let ids: Vec<String> = serde_json::from_str(&row.try_get::<String, _>("key_reports")?)
                .map_err(|e| StoreError::Backend(format!("malformed key reports: {e}")))?;
            let mut ids: Vec<ReportId> = ids.iter().filter_map(|id| id.parse().ok()).collect();
            ids.sort();
            Some(ids)
        },
        expires_at: opt_from_ms(row.try_get("expires_at")?)?,
        wake_capacity: row.try_get("wake_capacity")?,
        keep_capacity_on: row.try_get("keep_capacity_on")?,
        created_by_user: row
            .try_get::<Option<String>, _>("created_by_user")?
            .and_then(|id| id.parse().ok()),
    })
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

fn report_snapshot(report: &Report) -> Value {
    json!({ "name": report.name, "description": report.description })
}
