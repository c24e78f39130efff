//! Fresh PostgreSQL databases for tests (this crate's conformance run and the server's
//! several-node tests): one database per test run, `vitrine_test` unless
//! `VITRINE_TEST_POSTGRES` names another server or database, and one schema per test inside
//! it, so that cases run in parallel without seeing one another. `scripts/test` drops and
//! recreates the run's database before the suites start.

use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

/// The run's database when `VITRINE_TEST_POSTGRES` is not set: the machine's PostgreSQL.
pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/vitrine_test";

/// A URL to a new, empty schema of the run's database (made if missing), which every
/// connection opened from the URL uses as its `search_path`.
pub async fn fresh_schema_url() -> Result<String, sqlx::Error> {
    let base = std::env::var("VITRINE_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_URL.into());
    let options = PgConnectOptions::from_str(&base)?;
    let database = options.get_database().unwrap_or("vitrine_test").to_string();
    let mut connection = match options.connect().await {
        Ok(connection) => connection,
        Err(_) => {
            create_database(&options, &database).await?;
            options.connect().await?
        }
    };
    let schema = format!("t_{}", uuid::Uuid::now_v7().simple());
    sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&mut connection).await?;
    connection.close().await?;
    let separator = if base.contains('?') { '&' } else { '?' };
    Ok(format!("{base}{separator}options=-c%20search_path%3D{schema}"))
}

/// Creates the run's database from the server's `postgres` database; another test process
/// may have made it first.
async fn create_database(options: &PgConnectOptions, database: &str) -> Result<(), sqlx::Error> {
    let mut admin = options.clone().database("postgres").connect().await?;
    let made = sqlx::query(&format!("CREATE DATABASE \"{}\"", database.replace('"', "")))
        .execute(&mut admin)
        .await;
    match made {
        Err(error) if !already_exists(&error) => return Err(error),
        _ => {}
    }
    admin.close().await
}

fn already_exists(error: &sqlx::Error) -> bool {
    // 42P04 duplicate_database; 23505 when two CREATE DATABASE race on the catalog.
    error.as_database_error().and_then(|db| db.code()).is_some_and(|c| c == "42P04" || c == "23505")
}
