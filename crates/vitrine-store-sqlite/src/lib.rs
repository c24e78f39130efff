//! The embedded SQLite store: WAL journal, foreign keys on, migrations applied at open.
//! Writes go through a single-connection pool so that concurrent requests queue in-process
//! instead of failing with "database is locked"; reads use a pool of their own.
//!
//! Each concept's trait is implemented in a file of its own beside this one; here are the
//! store itself, its migrations, and what the files share: the checks that a user, group,
//! report or grantee is of an organization, and the audit writer. Rows are read into records by
//! the mappers both backends share ([`vitrine_store::rows`]).

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use sqlx::SqliteConnection;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use vitrine_core::{GroupId, OrgId, ReportId, UserId};

mod accounts;
mod api_keys;
mod audit;
mod capacities;
mod cluster;
mod datasets;
mod displays;
mod groups;
mod guards;
mod installation;
mod organizations;
mod permissions;
mod powerbi;
mod reports;
mod rls;
mod scim;
mod sources;
mod sso;
mod tokens;
mod transfer;
mod users;

use vitrine_store::rows::{
    from_ms, from_row, grantee_id, id_column, json_text, limits_from_json, ms,
    refresh_windows_json, settings_json,
};
use vitrine_store::*;

/// The schema's migrations (`migrations/NNNN_what.sql`), embedded at build time and applied
/// by sqlx, each in its own transaction, recorded in `_sqlx_migrations` with its checksum.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

const USER_COLUMNS: &str = "u.id, u.org_id, u.email, u.name, u.role, u.blocked, u.expires_at, \
     u.locked_until, u.created_at, u.updated_at, u.password_hash <> '' AS password_set, \
     EXISTS (SELECT 1 FROM operators op WHERE op.user_id = u.id) AS operator, \
     u.kind = 'display' AS display";
const ORG_COLUMNS: &str = "id, name, settings, created_at, suspended_at, limits";
const GROUP_COLUMNS: &str = "g.id, g.org_id, g.name, g.description, g.created_at, \
     (SELECT COUNT(*) FROM group_members m WHERE m.group_id = g.id) AS member_count";
const REPORT_COLUMNS: &str = "r.id, r.org_id, r.name, r.description, r.owner_id, r.definition, r.capacity_id, r.powerbi, r.created_at, r.updated_at";

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

    async fn user_in_org(conn: &mut SqliteConnection, org: OrgId, id: UserId) -> StoreResult<User> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.org_id = ? AND u.id = ?");
        let row = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(conn)
            .await?;
        row.as_ref().map(from_row).transpose()?.ok_or(StoreError::NotFound)
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
        row.as_ref().map(from_row).transpose()?.ok_or(StoreError::NotFound)
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
        row.as_ref().map(from_row).transpose()?.ok_or(StoreError::NotFound)
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
        // The writer pool has one connection: each step takes it and gives it back.
        let before = {
            let mut conn = self.writer.acquire().await?;
            adopt_earlier_bookkeeping(&mut conn).await?;
            applied_migrations(&mut conn).await?
        };
        MIGRATOR.run(&self.writer).await.map_err(|e| StoreError::Backend(e.to_string()))?;
        let mut conn = self.writer.acquire().await?;
        Ok(applied_migrations(&mut conn).await? - before)
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

async fn table_exists(conn: &mut SqliteConnection, name: &str) -> StoreResult<bool> {
    let found: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?")
            .bind(name)
            .fetch_one(conn)
            .await?;
    Ok(found > 0)
}

/// How many migrations sqlx has recorded as applied.
async fn applied_migrations(conn: &mut SqliteConnection) -> StoreResult<usize> {
    if !table_exists(conn, "_sqlx_migrations").await? {
        return Ok(0);
    }
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(conn)
        .await?;
    Ok(usize::try_from(count).unwrap_or_default())
}

/// A database migrated before sqlx ran its migrations recorded them in `schema_migrations`:
/// they are recorded once for sqlx (with the checksums of the same files), so that none runs
/// twice and the next ones apply as on any other database.
async fn adopt_earlier_bookkeeping(conn: &mut SqliteConnection) -> StoreResult<()> {
    if !table_exists(conn, "schema_migrations").await?
        || table_exists(conn, "_sqlx_migrations").await?
    {
        return Ok(());
    }
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    // The table as sqlx 0.8 creates it for SQLite.
    sqlx::query(
        "CREATE TABLE _sqlx_migrations (
             version BIGINT PRIMARY KEY,
             description TEXT NOT NULL,
             installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
             success BOOLEAN NOT NULL,
             checksum BLOB NOT NULL,
             execution_time BIGINT NOT NULL
         )",
    )
    .execute(&mut *tx)
    .await?;
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM schema_migrations").fetch_all(&mut *tx).await?;
    for migration in MIGRATOR.iter().filter(|m| applied.contains(&m.version)) {
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
             VALUES (?, ?, TRUE, ?, 0)",
        )
        .bind(migration.version)
        .bind(&*migration.description)
        .bind(&*migration.checksum)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query("DROP TABLE schema_migrations").execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
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
