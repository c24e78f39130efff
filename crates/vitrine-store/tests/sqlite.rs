//! The store conformance suite against the embedded SQLite implementation, one fresh database
//! file per case.

use std::sync::Arc;

use vitrine_store::{SqliteStore, Store};

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
    let store = vitrine_store::open(&format!("sqlite://{}", path.display())).await.unwrap();
    store.ping().await.unwrap();
    let err = vitrine_store::open("mysql://localhost/db").await.err().expect("refused");
    assert!(err.to_string().contains("mysql"));
}
