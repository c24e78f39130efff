//! A connection to a source: what an administrator enters, and the pool built from it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::datatypes::SchemaRef;
use sqlx::{Executor, MySqlPool, PgPool};
pub use vitrine_core::source::{SourceKind, TlsMode};

use crate::relation::Relation;

/// Everything needed to reach a source. `Debug` never shows the password.
#[derive(Clone)]
pub struct ConnectionSpec {
    pub kind: SourceKind,
    pub host: String,
    pub port: u16,
    pub database: String,
    pub user: String,
    pub password: String,
    pub tls: TlsMode,
    /// Connections the pool opens at most.
    pub max_connections: u32,
    /// A query running longer is stopped by the source itself.
    pub query_timeout: Duration,
}

impl fmt::Debug for ConnectionSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionSpec")
            .field("kind", &self.kind)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &self.database)
            .field("user", &self.user)
            .field("password", &"<hidden>")
            .field("tls", &self.tls)
            .field("max_connections", &self.max_connections)
            .field("query_timeout", &self.query_timeout)
            .finish()
    }
}

/// What went wrong with a source, in words for the people who set it up. No variant holds
/// a password: messages come from the driver's error kinds and the server's own words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The source could not be reached or refused the connection.
    #[error("could not connect to the source: {0}")]
    Unreachable(String),
    /// The source ran the query and answered an error.
    #[error("the source refused the query: {0}")]
    Refused(String),
    /// The source took longer than the connection's query timeout.
    #[error("the source did not answer within {0} seconds")]
    TimedOut(u64),
    /// What the source answered cannot be read as a dataset.
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    Failed(String),
}

impl SourceError {
    pub(crate) fn of(error: sqlx::Error, timeout: Duration) -> Self {
        match error {
            sqlx::Error::Database(error) => {
                // PostgreSQL: 57014 query_canceled (statement_timeout); MariaDB: 1969
                // (max_statement_time); MySQL: 3024 (max_execution_time).
                let code = error.code().map(|c| c.to_string()).unwrap_or_default();
                let message = error.message().to_ascii_lowercase();
                if matches!(code.as_str(), "57014" | "70100")
                    || message.contains("max_statement_time")
                    || message.contains("maximum statement execution time")
                {
                    return SourceError::TimedOut(timeout.as_secs());
                }
                SourceError::Refused(error.message().to_string())
            }
            sqlx::Error::PoolTimedOut => SourceError::Unreachable(
                "no connection became free in time (the source is slow or down)".into(),
            ),
            sqlx::Error::Io(error) => SourceError::Unreachable(error.kind().to_string()),
            sqlx::Error::Tls(error) => SourceError::Unreachable(format!("TLS: {error}")),
            sqlx::Error::Protocol(text) => SourceError::Unreachable(text),
            sqlx::Error::ColumnDecode { index, source } => {
                SourceError::Unsupported(format!("column {index} could not be read: {source}"))
            }
            other => SourceError::Failed(other.to_string()),
        }
    }
}

#[derive(Clone)]
pub(crate) enum Pool {
    Postgres(PgPool),
    Mysql(MySqlPool),
}

/// A source ready for use: a lazily opened pool of read-only sessions.
pub struct Source {
    pub(crate) kind: SourceKind,
    pub(crate) pool: Pool,
    pub(crate) timeout: Duration,
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Source").field("kind", &self.kind).finish_non_exhaustive()
    }
}

/// How long to wait for a free connection (or a first one) before telling the viewer.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

impl Source {
    /// A pool for `spec`; nothing is opened until the first query.
    pub fn connect(spec: &ConnectionSpec) -> Arc<Source> {
        let timeout_ms = spec.query_timeout.as_millis().max(1);
        let pool = match spec.kind {
            SourceKind::Postgres => {
                use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};
                let ssl = match spec.tls {
                    TlsMode::Disable => PgSslMode::Disable,
                    TlsMode::Prefer => PgSslMode::Prefer,
                    TlsMode::Require => PgSslMode::Require,
                    TlsMode::VerifyFull => PgSslMode::VerifyFull,
                };
                let mut options = PgConnectOptions::new()
                    .host(&spec.host)
                    .port(spec.port)
                    .database(&spec.database)
                    .username(&spec.user)
                    .ssl_mode(ssl)
                    .application_name("vitrine")
                    .options([
                        ("statement_timeout", timeout_ms.to_string()),
                        ("default_transaction_read_only", "on".to_string()),
                        ("TimeZone", "UTC".to_string()),
                    ]);
                // An empty password means none (trust or peer authentication).
                if !spec.password.is_empty() {
                    options = options.password(&spec.password);
                }
                Pool::Postgres(
                    PgPoolOptions::new()
                        .max_connections(spec.max_connections.max(1))
                        .acquire_timeout(ACQUIRE_TIMEOUT)
                        .idle_timeout(Duration::from_secs(300))
                        .connect_lazy_with(options),
                )
            }
            SourceKind::Mysql => {
                use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions, MySqlSslMode};
                let ssl = match spec.tls {
                    TlsMode::Disable => MySqlSslMode::Disabled,
                    TlsMode::Prefer => MySqlSslMode::Preferred,
                    TlsMode::Require => MySqlSslMode::Required,
                    TlsMode::VerifyFull => MySqlSslMode::VerifyIdentity,
                };
                let mut options = MySqlConnectOptions::new()
                    .host(&spec.host)
                    .port(spec.port)
                    .database(&spec.database)
                    .username(&spec.user)
                    .ssl_mode(ssl)
                    .timezone(Some("+00:00".to_string()));
                if !spec.password.is_empty() {
                    options = options.password(&spec.password);
                }
                let seconds = spec.query_timeout.as_secs_f64();
                Pool::Mysql(
                    MySqlPoolOptions::new()
                        .max_connections(spec.max_connections.max(1))
                        .acquire_timeout(ACQUIRE_TIMEOUT)
                        .idle_timeout(Duration::from_secs(300))
                        .after_connect(move |connection, _| {
                            Box::pin(async move {
                                connection.execute("SET SESSION TRANSACTION READ ONLY").await?;
                                // MariaDB bounds statements in seconds, MySQL in milliseconds.
                                let mariadb = format!("SET SESSION max_statement_time = {seconds}");
                                if connection.execute(mariadb.as_str()).await.is_err() {
                                    let mysql = format!(
                                        "SET SESSION max_execution_time = {}",
                                        (seconds * 1000.0) as u64
                                    );
                                    connection.execute(mysql.as_str()).await?;
                                }
                                Ok(())
                            })
                        })
                        .connect_lazy_with(options),
                )
            }
        };
        Arc::new(Source { kind: spec.kind, pool, timeout: spec.query_timeout })
    }

    pub fn kind(&self) -> SourceKind {
        self.kind
    }

    /// Opens a session and asks the server its version: what "Test connection" shows.
    pub async fn test(&self) -> Result<String, SourceError> {
        let query = "SELECT version()";
        let version: Result<String, sqlx::Error> = match &self.pool {
            Pool::Postgres(pool) => sqlx::query_scalar(query).fetch_one(pool).await,
            Pool::Mysql(pool) => sqlx::query_scalar(query).fetch_one(pool).await,
        };
        version.map_err(|e| SourceError::of(e, self.timeout))
    }

    /// The columns of a table or query, in the types a dataset gives them. Columns of types
    /// Vitrine cannot show (binary, JSON, arrays…) are left out; at least one must remain.
    pub async fn describe(&self, relation: &Relation) -> Result<SchemaRef, SourceError> {
        crate::relation::describe(self, relation).await
    }

    /// Closes the pool's connections (when the connection is changed or deleted).
    pub async fn close(&self) {
        match &self.pool {
            Pool::Postgres(pool) => pool.close().await,
            Pool::Mysql(pool) => pool.close().await,
        }
    }
}
