//! The store conformance suite against PostgreSQL: the same cases as SQLite's, each in a
//! fresh schema of the run's database (see `test_database`).

use std::sync::Arc;

use vitrine_store::Store;
use vitrine_store_postgres::{PostgresStore, test_database};

async fn fresh_store() -> (Arc<dyn Store>, ()) {
    let url = test_database::fresh_schema_url()
        .await
        .expect("PostgreSQL on 127.0.0.1:5432 (scripts/test starts it)");
    let store = PostgresStore::open(&url).await.expect("open postgres store");
    (Arc::new(store), ())
}

vitrine_store::store_conformance_tests!(fresh_store());
