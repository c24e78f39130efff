//! The shared PostgreSQL store: several Vitrine nodes on one database. The schema is SQLite's,
//! column for column (`migrations/`), so an installation copies across table by table.
//!
//! SQLite runs one writer at a time, and the store's rules lean on it: a transaction that reads
//! before it writes (a capacity's transition, an organization's limits, the first set-up, the
//! last operator) sees no other writer between its read and its write. Here every write
//! transaction takes one installation-wide transaction lock first ([`PostgresStore::write`]),
//! so the same rules hold across connections and nodes; single-statement writes (a session
//! touched, a token event) do not take it.
//!
//! Each concept's trait is implemented in a file of its own beside this one; here are the
//! store itself, its migrations, and what the files share: the checks that a user, group,
//! report or grantee is of an organization, and the audit writer. Rows are read into records by
//! the mappers both backends share ([`vitrine_store::rows`]).

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{PgConnection, Postgres, Transaction};
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

pub mod test_database;

/// The schema's migrations (`migrations/NNNN_what.sql`), embedded at build time and applied
/// by sqlx, each in its own transaction, recorded in `_sqlx_migrations` with its checksum.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The key of the advisory lock every write transaction holds (any constant unlikely to be
/// some other application's on a shared server: "vitrine" in ASCII).
const WRITE_LOCK: i64 = 0x0076_6974_7269_6e65;

/// Connections per node when the URL does not say (`?max_connections=` is not a libpq
/// parameter, so the pool size is [`PostgresStore::open_with`]'s to choose).
const DEFAULT_CONNECTIONS: u32 = 16;

const USER_COLUMNS: &str = "u.id, u.org_id, u.email, u.name, u.role, u.blocked, u.expires_at, \
     u.locked_until, u.created_at, u.updated_at, u.password_hash <> '' AS password_set, \
     EXISTS (SELECT 1 FROM operators op WHERE op.user_id = u.id) AS operator, \
     u.kind = 'display' AS display";
const ORG_COLUMNS: &str = "id, name, settings, created_at, suspended_at, limits";
const GROUP_COLUMNS: &str = "g.id, g.org_id, g.name, g.description, g.created_at, \
     (SELECT COUNT(*) FROM group_members m WHERE m.group_id = g.id) AS member_count";
const REPORT_COLUMNS: &str = "r.id, r.org_id, r.name, r.description, r.owner_id, r.definition, r.capacity_id, r.powerbi, r.created_at, r.updated_at";

pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to the database at a `postgres://` URL and migrates it.
    pub async fn open(url: &str) -> StoreResult<Self> {
        Self::open_with(url, DEFAULT_CONNECTIONS).await
    }

    /// As [`open`](Self::open), with at most `connections` connections from this node.
    pub async fn open_with(url: &str, connections: u32) -> StoreResult<Self> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::UnsupportedUrl(e.to_string()))?;
        let pool = PgPoolOptions::new()
            .max_connections(connections.max(2))
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        let store = Self { pool };
        store.migrate().await?;
        Ok(store)
    }

    /// The pool, for what lives beside the store on the same database (the change feed).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Begins a write transaction holding the installation's write lock until it ends: writers
    /// follow one another as on SQLite, whichever node they run on.
    async fn write(&self) -> StoreResult<Transaction<'static, Postgres>> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(WRITE_LOCK).execute(&mut *tx).await?;
        Ok(tx)
    }

    async fn user_in_org(conn: &mut PgConnection, org: OrgId, id: UserId) -> StoreResult<User> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.org_id = $1 AND u.id = $2");
        let row = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(conn)
            .await?;
        row.as_ref().map(from_row).transpose()?.ok_or(StoreError::NotFound)
    }

    async fn group_in_org(conn: &mut PgConnection, org: OrgId, id: GroupId) -> StoreResult<Group> {
        let sql =
            format!("SELECT {GROUP_COLUMNS} FROM user_groups g WHERE g.org_id = $1 AND g.id = $2");
        let row = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(conn)
            .await?;
        row.as_ref().map(from_row).transpose()?.ok_or(StoreError::NotFound)
    }

    async fn report_in_org(
        conn: &mut PgConnection,
        org: OrgId,
        id: ReportId,
    ) -> StoreResult<Report> {
        let sql =
            format!("SELECT {REPORT_COLUMNS} FROM reports r WHERE r.org_id = $1 AND r.id = $2");
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
        conn: &mut PgConnection,
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
impl Store for PostgresStore {
    async fn migrate(&self) -> StoreResult<usize> {
        let applied = || async {
            let table: Option<String> =
                sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations')::text")
                    .fetch_one(&self.pool)
                    .await?;
            if table.is_none() {
                return Ok::<i64, StoreError>(0);
            }
            Ok(sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
                .fetch_one(&self.pool)
                .await?)
        };
        let before = applied().await?;
        // sqlx takes an advisory lock of its own while it migrates: nodes starting together
        // apply each migration once.
        MIGRATOR.run(&self.pool).await.map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(usize::try_from(applied().await? - before).unwrap_or_default())
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }
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

    async fn write(self, conn: &mut PgConnection) -> StoreResult<()> {
        let query = match self.org {
            Some(org) => sqlx::query(
                "INSERT INTO audit_log (org_id, at, actor_id, actor_label, entity_type, entity_id,
                                        action, old_value, new_value)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(org.to_string()),
            None => sqlx::query(
                "INSERT INTO installation_audit (at, actor_id, actor_label, entity_type, entity_id,
                                                 action, old_value, new_value)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
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
