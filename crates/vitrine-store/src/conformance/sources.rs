//! Connections, dataset versions and import history.

use chrono::{Duration, NaiveTime, Utc, Weekday};
use serde_json::json;
use vitrine_core::capacity::WeeklyWindow;
use vitrine_core::source::{RefreshTrigger, SourceKind, SourceMode, TlsMode};
use vitrine_core::{ConnectionId, DatasetId, OrgId};

use super::{actor, org};
use crate::{
    AuditFilter, Connection, Dataset, DatasetSource, NewData, RefreshOutcome, Store, StoreError,
};

fn connection(org: OrgId, name: &str) -> Connection {
    Connection {
        id: ConnectionId::generate(),
        org_id: org,
        name: name.into(),
        kind: SourceKind::Postgres,
        host: "db.internal".into(),
        port: 5432,
        database: "sales".into(),
        user: "reader".into(),
        password_sealed: b"sealed-bytes".to_vec(),
        tls: TlsMode::Require,
        max_connections: 4,
        query_timeout_seconds: 10,
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}

fn dataset(org: OrgId, name: &str, source: Option<DatasetSource>) -> Dataset {
    Dataset {
        id: DatasetId::generate(),
        org_id: org,
        name: name.into(),
        format: if source.is_some() { "source".into() } else { "parquet".into() },
        location: String::new(),
        columns: json!([{ "name": "region", "kind": "text" }]),
        row_count: 0,
        created_at: Utc::now(),
        version: 1,
        updated_at: Utc::now(),
        source,
    }
}

pub async fn connections_are_per_organization_audited_without_passwords_and_kept_while_read(
    store: &dyn Store,
) {
    let org_a = org(store, "A").await;
    let org_b = org(store, "B").await;
    let created =
        store.create_connection(org_a, &actor(), &connection(org_a, "Warehouse")).await.unwrap();
    assert_eq!(created.password_sealed, b"sealed-bytes");
    assert_eq!(
        (created.kind, created.tls, created.port),
        (SourceKind::Postgres, TlsMode::Require, 5432)
    );
    let twin = store.create_connection(org_a, &actor(), &connection(org_a, "Warehouse")).await;
    assert!(matches!(twin, Err(StoreError::Conflict { field: "name" })), "{twin:?}");
    store.create_connection(org_b, &actor(), &connection(org_b, "Warehouse")).await.unwrap();
    assert!(matches!(store.get_connection(org_b, created.id).await, Err(StoreError::NotFound)));
    assert_eq!(store.list_connections(org_a).await.unwrap().len(), 1);

    let mut changed = created.clone();
    changed.host = "db2.internal".into();
    changed.password_sealed = b"other".to_vec();
    let updated = store.update_connection(org_a, &actor(), &changed).await.unwrap();
    assert_eq!(updated.host, "db2.internal");
    assert!(matches!(
        store.update_connection(org_b, &actor(), &changed).await,
        Err(StoreError::NotFound)
    ));

    // Another organization's connection cannot back a dataset.
    let foreign = DatasetSource {
        connection_id: created.id,
        table: Some("sales".into()),
        sql: None,
        mode: SourceMode::Direct,
        refresh_every_minutes: None,
        refresh_windows: Vec::new(),
        refresh_time_zone: None,
    };
    let refused = store
        .create_dataset(org_b, &actor(), &dataset(org_b, "Sales", Some(foreign.clone())))
        .await;
    assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");
    let sales = store
        .create_dataset(org_a, &actor(), &dataset(org_a, "Sales", Some(foreign.clone())))
        .await
        .unwrap();
    assert_eq!(store.get_dataset(org_a, sales.id).await.unwrap().source, Some(foreign));
    let busy = store.delete_connection(org_a, &actor(), created.id).await;
    assert!(matches!(busy, Err(StoreError::Conflict { field: "connection" })), "{busy:?}");
    store.delete_dataset(org_a, &actor(), sales.id).await.unwrap();
    store.delete_connection(org_a, &actor(), created.id).await.unwrap();
    assert!(store.list_connections(org_a).await.unwrap().is_empty());

    let filter =
        AuditFilter { entity_type: Some("connection".into()), limit: 100, ..Default::default() };
    let audit = store.list_audit(org_a, &filter).await.unwrap();
    assert_eq!(audit.len(), 3, "created, changed, deleted");
    for entry in &audit {
        let text = format!("{:?}{:?}", entry.old_value, entry.new_value);
        assert!(!text.contains("sealed") && !text.contains("other"), "no password: {text}");
    }
}

pub async fn dataset_data_is_replaced_one_version_after_the_other(store: &dyn Store) {
    let org_a = org(store, "A").await;
    let org_b = org(store, "B").await;
    let sales =
        store.create_dataset(org_a, &actor(), &dataset(org_a, "Sales", None)).await.unwrap();
    assert_eq!(sales.version, 1);
    let data = |expected: u64| NewData {
        expected_version: expected,
        format: "parquet".into(),
        location: format!("datasets/{}/v{}.parquet", sales.id, expected + 1),
        columns: json!([{ "name": "region", "kind": "text" }, { "name": "units", "kind": "integer" }]),
        row_count: 42,
    };
    let v2 = store.replace_dataset_data(org_a, &actor(), sales.id, &data(1)).await.unwrap();
    assert_eq!((v2.version, v2.row_count), (2, 42));
    assert_eq!(v2.location, format!("datasets/{}/v2.parquet", sales.id));
    assert_eq!(v2.columns[1]["name"], "units");
    let stale = store.replace_dataset_data(org_a, &actor(), sales.id, &data(1)).await;
    assert!(matches!(stale, Err(StoreError::Conflict { field: "version" })), "{stale:?}");
    let foreign = store.replace_dataset_data(org_b, &actor(), sales.id, &data(2)).await;
    assert!(matches!(foreign, Err(StoreError::NotFound)));
    assert_eq!(store.get_dataset(org_a, sales.id).await.unwrap().version, 2);
    let filter =
        AuditFilter { entity_type: Some("dataset".into()), limit: 100, ..Default::default() };
    let audit = store.list_audit(org_a, &filter).await.unwrap();
    let replaced = audit.iter().find(|e| e.action == "data replaced").expect("audited");
    assert_eq!(replaced.new_value.as_ref().unwrap()["version"], 2);
    assert_eq!(replaced.old_value.as_ref().unwrap()["version"], 1);
}

pub async fn refreshes_are_recorded_newest_first_and_bounded(store: &dyn Store) {
    let org_a = org(store, "A").await;
    let org_b = org(store, "B").await;
    let sales =
        store.create_dataset(org_a, &actor(), &dataset(org_a, "Sales", None)).await.unwrap();
    let first =
        store.start_refresh(org_a, sales.id, RefreshTrigger::Created, Utc::now()).await.unwrap();
    let outcome = RefreshOutcome::Succeeded { row_count: 10, version: 2 };
    store.finish_refresh(org_a, first, Utc::now(), &outcome).await.unwrap();
    let again = store.finish_refresh(org_a, first, Utc::now(), &outcome).await;
    assert!(matches!(again, Err(StoreError::NotFound)), "a refresh finishes once");
    let second =
        store.start_refresh(org_a, sales.id, RefreshTrigger::Schedule, Utc::now()).await.unwrap();
    let failed = RefreshOutcome::Failed { error: "could not connect".into() };
    assert!(matches!(
        store.finish_refresh(org_b, second, Utc::now(), &failed).await,
        Err(StoreError::NotFound)
    ));
    store.finish_refresh(org_a, second, Utc::now(), &failed).await.unwrap();
    let history = store.list_refreshes(org_a, sales.id, 10).await.unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].trigger, RefreshTrigger::Schedule);
    assert_eq!(history[0].error.as_deref(), Some("could not connect"));
    assert_eq!((history[1].row_count, history[1].version), (Some(10), Some(2)));
    assert!(store.list_refreshes(org_b, sales.id, 10).await.unwrap().is_empty());
    assert!(matches!(
        store.start_refresh(org_b, sales.id, RefreshTrigger::Manual, Utc::now()).await,
        Err(StoreError::NotFound)
    ));
    for _ in 0..105 {
        store.start_refresh(org_a, sales.id, RefreshTrigger::Manual, Utc::now()).await.unwrap();
    }
    assert_eq!(store.list_refreshes(org_a, sales.id, 1_000).await.unwrap().len(), 100);
}

pub async fn a_dataset_is_renamed_and_its_refresh_schedule_changed_audited(store: &dyn Store) {
    let org_a = org(store, "A").await;
    let org_b = org(store, "B").await;
    let warehouse =
        store.create_connection(org_a, &actor(), &connection(org_a, "Warehouse")).await.unwrap();
    let source = DatasetSource {
        connection_id: warehouse.id,
        table: Some("sales".into()),
        sql: None,
        mode: SourceMode::Imported,
        refresh_every_minutes: Some(60),
        refresh_windows: Vec::new(),
        refresh_time_zone: None,
    };
    let sales = store
        .create_dataset(org_a, &actor(), &dataset(org_a, "Sales", Some(source.clone())))
        .await
        .unwrap();
    let mornings = WeeklyWindow {
        day: Weekday::Mon,
        start: NaiveTime::from_hms_opt(6, 0, 0).unwrap(),
        end: NaiveTime::from_hms_opt(7, 30, 0).unwrap(),
    };
    let mut changed = sales.clone();
    changed.name = "Sales (daily)".into();
    changed.source = Some(DatasetSource {
        refresh_every_minutes: None,
        refresh_windows: vec![mornings],
        refresh_time_zone: Some("Europe/Paris".into()),
        // What the dataset reads is not changed this way.
        table: Some("other".into()),
        ..source.clone()
    });
    let updated = store.update_dataset(org_a, &actor(), &changed).await.unwrap();
    assert_eq!(updated.name, "Sales (daily)");
    let read = store.get_dataset(org_a, sales.id).await.unwrap();
    assert_eq!(read, updated);
    let kept = read.source.unwrap();
    assert_eq!(kept.table.as_deref(), Some("sales"), "the table stays");
    assert_eq!(kept.refresh_every_minutes, None);
    assert_eq!(kept.refresh_windows, vec![mornings]);
    assert_eq!(kept.refresh_time_zone.as_deref(), Some("Europe/Paris"));

    let file = store.create_dataset(org_a, &actor(), &dataset(org_a, "File", None)).await.unwrap();
    let mut renamed = file.clone();
    renamed.name = "Sales (daily)".into();
    let twin = store.update_dataset(org_a, &actor(), &renamed).await;
    assert!(matches!(twin, Err(StoreError::Conflict { field: "name" })), "{twin:?}");
    assert!(matches!(
        store.update_dataset(org_b, &actor(), &changed).await,
        Err(StoreError::NotFound)
    ));

    let filter =
        AuditFilter { entity_type: Some("dataset".into()), limit: 100, ..Default::default() };
    let audit = store.list_audit(org_a, &filter).await.unwrap();
    let entry = audit.iter().find(|e| e.action == "changed").expect("audited");
    assert_eq!(entry.old_value.as_ref().unwrap()["refreshEveryMinutes"], 60);
    assert_eq!(entry.new_value.as_ref().unwrap()["refreshWindows"][0]["day"], "Mon");
    assert_eq!(entry.new_value.as_ref().unwrap()["name"], "Sales (daily)");

    // The schedule reads when each dataset last started refreshing, in one read.
    let early = Utc::now() - Duration::hours(2);
    let late = Utc::now() - Duration::minutes(5);
    for at in [early, late, early] {
        store.start_refresh(org_a, sales.id, RefreshTrigger::Schedule, at).await.unwrap();
    }
    store.start_refresh(org_a, file.id, RefreshTrigger::Manual, early).await.unwrap();
    let mut starts = store.last_refresh_starts().await.unwrap();
    starts.sort_by_key(|(_, at)| *at);
    let millis = |at: chrono::DateTime<Utc>| at.timestamp_millis();
    assert_eq!(
        starts.iter().map(|(id, at)| (*id, millis(*at))).collect::<Vec<_>>(),
        vec![(file.id, millis(early)), (sales.id, millis(late))]
    );
}
