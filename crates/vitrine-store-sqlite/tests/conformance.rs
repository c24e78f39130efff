//! The store conformance suite against the embedded SQLite implementation, one fresh database
//! file per case.

use std::sync::Arc;

use vitrine_store::{OrganizationStore, Store};
use vitrine_store_sqlite::SqliteStore;

async fn fresh_store() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("vitrine.db").display());
    let store = SqliteStore::open(&url).await.expect("open sqlite store");
    (Arc::new(store), dir)
}

vitrine_store::store_conformance_tests!(fresh_store());

#[tokio::test]
async fn sqlite_store_runs_in_wal_mode_with_foreign_keys() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("vitrine.db");
    let store = SqliteStore::open(&format!("sqlite://{}", path.display())).await.unwrap();
    store.close().await;
    assert!(dir.path().join("vitrine.db").exists());
    // WAL mode is persistent in the file header: a fresh connection sees it.
    let mut check = <sqlx::SqliteConnection as sqlx::Connection>::connect(&format!(
        "sqlite://{}",
        path.display()
    ))
    .await
    .unwrap();
    let mode: String =
        sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&mut check).await.unwrap();
    assert_eq!(mode, "wal");
}

/// A database the runner before sqlx's migrated (its versions in `schema_migrations`) opens
/// with nothing applied twice, gets only the migrations it lacks, and is then sqlx's.
#[tokio::test]
async fn a_database_migrated_before_sqlx_is_adopted_and_gets_only_what_it_lacks() {
    use sqlx::{Connection, Executor};

    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("vitrine.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let mut files: Vec<_> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    let mut old = sqlx::SqliteConnection::connect(&url).await.unwrap();
    old.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )
    .await
    .unwrap();
    // Every migration but the last, as the earlier runner applied them.
    for (index, file) in files[..files.len() - 1].iter().enumerate() {
        old.execute(std::fs::read_to_string(file).unwrap().as_str()).await.unwrap();
        sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)")
            .bind(index as i64 + 1)
            .execute(&mut old)
            .await
            .unwrap();
        if index == 0 {
            // Data written then goes through every later migration.
            old.execute(
                "INSERT INTO organizations (id, name, settings, created_at)
                 VALUES ('0193a1b2-0000-7000-8000-000000000001', 'Kept', '{}', 0)",
            )
            .await
            .unwrap();
        }
    }
    old.close().await.unwrap();

    let store = SqliteStore::open(&format!("sqlite://{}", path.display())).await.unwrap();
    assert_eq!(store.migrate().await.unwrap(), 0, "open applied the one it lacked");
    let names: Vec<String> =
        store.list_organizations().await.unwrap().into_iter().map(|o| o.name).collect();
    assert_eq!(names, ["Kept"]);
    store.close().await;
    let mut check = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let recorded: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(&mut check)
            .await
            .unwrap();
    assert_eq!(recorded, (1..=files.len() as i64).collect::<Vec<_>>());
    let earlier: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
    )
    .fetch_one(&mut check)
    .await
    .unwrap();
    assert_eq!(earlier, 0, "the earlier bookkeeping is gone");
    let columns: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info('datasets')")
        .fetch_all(&mut check)
        .await
        .unwrap();
    assert!(
        columns.contains(&"refresh_windows".to_string()),
        "the last migration ran: {columns:?}"
    );
}
