//! Moving an installation: everything read from one store arrives whole in an empty one.

use std::collections::BTreeMap;

use chrono::{Duration, Utc};
use vitrine_core::Role;
use vitrine_core::token::{Revocation, RevocationScope};

use super::{actor, new_api_key, new_user, org, user};
use crate::transfer::{Batches, Cell, TableBatch};
use crate::{
    AuditFilter, Grantee, NewGroup, NewReport, NewSession, Store, StoreError, StoredSigningKey,
    TokenEvent,
};

/// Every row of every table, sorted, as text: two stores hold the same data when these agree.
async fn contents(store: &dyn Store) -> BTreeMap<String, Vec<String>> {
    let mut batches = Batches::default();
    store.export(&mut batches).await.expect("export");
    let mut tables: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for TableBatch { table, columns, rows } in batches.0 {
        for row in rows {
            let mut cells: Vec<String> = columns
                .iter()
                .zip(&row)
                .map(|(column, cell)| format!("{column}={cell:?}"))
                .collect();
            cells.sort();
            tables.entry(table.clone()).or_default().push(cells.join(" "));
        }
    }
    tables.values_mut().for_each(|rows| rows.sort());
    tables
}

/// An installation with something in most tables: two organizations, accounts and an
/// operator, a group, a report granted both ways, an API key, a session, a signing key, a
/// revocation, token events, and the audit of all of it.
async fn populated(store: &dyn Store) {
    let acme = org(store, "Acme").await;
    let other = org(store, "Other").await;
    let ada = user(store, acme, "ada@acme.example.com").await;
    let mut admin = new_user("root@acme.example.com", Role::Admin);
    admin.blocked = true;
    let root = store.create_user(acme, &actor(), &admin).await.unwrap().id;
    store.grant_operator(&actor(), root).await.unwrap();
    user(store, other, "bob@other.example.com").await;
    let group = store
        .create_group(acme, &actor(), &NewGroup { name: "Staff".into(), description: "all".into() })
        .await
        .unwrap();
    store.add_group_member(acme, &actor(), group.id, ada).await.unwrap();
    let report = store
        .create_report(
            acme,
            &actor(),
            &NewReport { name: "Sales".into(), description: String::new(), owner_id: Some(ada) },
        )
        .await
        .unwrap();
    store.set_report_access(acme, &actor(), report.id, Grantee::User(ada), true).await.unwrap();
    store
        .set_report_access(acme, &actor(), report.id, Grantee::Group(group.id), true)
        .await
        .unwrap();
    store.create_api_key(acme, &actor(), &new_api_key("CI", vec![9; 32])).await.unwrap();
    let session = NewSession {
        token_hash: vec![7; 32],
        user_id: ada,
        created_at: Utc::now(),
        user_agent: Some("Firefox".into()),
        ip: Some("203.0.113.9".into()),
    };
    store.create_session(&session).await.unwrap();
    let key = StoredSigningKey {
        kid: "k1".into(),
        public_key: vec![1; 32],
        sealed_private_key: vec![2, 0, 255, 3],
        created_at: Utc::now() - Duration::days(1),
        retired_at: None,
    };
    store.insert_signing_key(&key).await.unwrap();
    let revocation = Revocation { scope: RevocationScope::User(ada), not_before: 1_234_567 };
    store.record_revocation(&revocation).await.unwrap();
    let event = TokenEvent {
        id: 0,
        org_id: Some(acme),
        at: Utc::now(),
        kind: "issued".into(),
        user_id: Some(ada),
        identity_id: None,
        report_id: Some(report.id),
        token_id: Some("jti-1".into()),
        reason: None,
        ip: Some("203.0.113.9".into()),
        user_agent: None,
        actor: None,
        user_label: None,
        report_label: None,
    };
    store
        .insert_token_events(&[event.clone(), TokenEvent { kind: "refused".into(), ..event }])
        .await
        .unwrap();
}

pub async fn an_installation_exported_into_an_empty_store_arrives_whole_and_goes_on(
    from: &dyn Store,
    to: &dyn Store,
) {
    populated(from).await;
    let before = contents(from).await;
    assert!(before.len() >= 12, "most tables hold rows: {:?}", before.keys());

    let mut batches = Batches::default();
    from.export(&mut batches).await.unwrap();
    let rows: usize = batches.0.iter().map(|b| b.rows.len()).sum();
    assert_eq!(to.import(&mut batches).await.unwrap(), rows as u64);
    assert_eq!(contents(to).await, before, "every row of every table, value for value");

    // The copy is a working installation: found by its keys, and new rows follow the old.
    let acme =
        to.list_organizations().await.unwrap().into_iter().find(|o| o.name == "Acme").unwrap();
    let session = to.find_session(&[7; 32]).await.unwrap().expect("the session came along");
    assert_eq!(session.user.email, "ada@acme.example.com");
    assert!(to.find_api_key(&[9; 32]).await.unwrap().is_some());
    assert_eq!(to.list_signing_keys().await.unwrap()[0].sealed_private_key, [2, 0, 255, 3]);
    let audited = to.list_audit(acme.id, &AuditFilter { limit: 100, ..Default::default() }).await;
    let audited = audited.unwrap().len();
    user(to, acme.id, "new@acme.example.com").await;
    let after = to.list_audit(acme.id, &AuditFilter { limit: 100, ..Default::default() }).await;
    assert_eq!(after.unwrap().len(), audited + 1, "the audit goes on after the copied entries");
}

pub async fn an_import_into_a_store_that_holds_anything_is_refused_and_changes_nothing(
    store: &dyn Store,
) {
    org(store, "Already here").await;
    let before = contents(store).await;
    let mut batches = Batches::default();
    batches.0.push_back(TableBatch {
        table: "organizations".into(),
        columns: vec!["id".into(), "name".into(), "settings".into(), "created_at".into()],
        rows: vec![vec![
            Cell::Text("0193a1b2-0000-7000-8000-000000000009".into()),
            Cell::Text("Intruder".into()),
            Cell::Text("{}".into()),
            Cell::Int(0),
        ]],
    });
    let refused = store.import(&mut batches).await.unwrap_err();
    assert!(matches!(refused, StoreError::Conflict { field: "database" }), "{refused:?}");
    assert_eq!(contents(store).await, before);
}

pub async fn a_backup_naming_a_table_or_column_the_store_does_not_have_is_refused(
    store: &dyn Store,
) {
    for (table, column) in
        [("sqlite_master", "name"), ("users", "id) VALUES (1); DROP TABLE users; --")]
    {
        let mut batches = Batches::default();
        batches.0.push_back(TableBatch {
            table: table.into(),
            columns: vec![column.into()],
            rows: vec![vec![Cell::Int(1)]],
        });
        let refused = store.import(&mut batches).await.unwrap_err();
        assert!(refused.to_string().contains("refused backup"), "{refused}");
    }
    assert!(store.list_organizations().await.unwrap().is_empty());
    store.ping().await.unwrap();
}
