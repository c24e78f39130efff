//! The one place that turns a database URL into a store: the scheme picks the backend, once,
//! at start-up; everything above holds an `Arc<dyn Store>` and never asks which it is.

use std::sync::Arc;

use vitrine_store::{Store, StoreError, StoreResult};

/// Opens (and migrates) the store named by `url`: `sqlite://path` or `postgres://…`
/// (`postgresql://` too).
pub async fn open(url: &str) -> StoreResult<Arc<dyn Store>> {
    let scheme = url.split(':').next().unwrap_or_default();
    match scheme {
        "sqlite" => Ok(Arc::new(vitrine_store_sqlite::SqliteStore::open(url).await?)),
        "postgres" | "postgresql" => {
            Ok(Arc::new(vitrine_store_postgres::PostgresStore::open(url).await?))
        }
        other => Err(StoreError::UnsupportedUrl(format!(
            "{other} (supported: sqlite://path, postgres://user@host/database)"
        ))),
    }
}
