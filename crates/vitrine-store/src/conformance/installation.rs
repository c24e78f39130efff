//! Conformance cases of the installation (set-up, operators, organizations' lifecycle) and
//! of what users manage of their own accounts.

use chrono::{Duration, Utc};
use vitrine_core::{OrgLimits, Role};

use super::{actor, new_user, org, user};
use crate::{NewSession, Store, StoreError};

fn session(hash: u8, user: vitrine_core::UserId) -> NewSession {
    NewSession {
        token_hash: vec![hash; 32],
        user_id: user,
        created_at: Utc::now(),
        user_agent: Some("Test browser".into()),
        ip: Some("192.0.2.1".into()),
    }
}

pub async fn setup_happens_once_even_when_raced(store: &dyn Store) {
    assert!(!store.is_set_up().await.unwrap());
    let attempt = |n: u32| async move {
        store
            .complete_setup(
                Utc::now(),
                &format!("Org {n}"),
                &new_user(&format!("a{n}@example.com"), Role::Admin),
            )
            .await
    };
    let (a, b, c, d) = tokio::join!(attempt(1), attempt(2), attempt(3), attempt(4));
    let results = [a, b, c, d];
    let done: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(done.len(), 1, "exactly one set-up succeeds");
    for refused in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(matches!(refused, StoreError::Conflict { field: "setup" }), "{refused:?}");
    }
    let (org, admin) = done[0];
    assert!(admin.operator, "the first administrator is the first operator");
    assert_eq!(admin.role, Role::Admin);
    assert_eq!(admin.org_id, org.id);
    assert!(store.is_set_up().await.unwrap());
    assert_eq!(store.list_operators().await.unwrap().len(), 1);
    let audit = store.list_installation_audit(10).await.unwrap();
    assert!(audit.iter().any(|e| e.action == "set up" && e.actor_label == admin.email));
    assert_eq!(store.list_organizations().await.unwrap().len(), 1);
}

pub async fn operators_are_granted_once_and_the_last_one_stays(store: &dyn Store) {
    let org = org(store, "Org").await;
    let ada = user(store, org, "ada@example.com").await;
    let bob = user(store, org, "bob@example.com").await;
    assert!(store.grant_operator(&actor(), ada).await.unwrap().operator);
    assert!(store.grant_operator(&actor(), ada).await.unwrap().operator, "idempotent");
    assert!(store.get_user(org, ada).await.unwrap().operator);
    assert!(!store.get_user(org, bob).await.unwrap().operator);
    let refused = store.revoke_operator(&actor(), ada).await.unwrap_err();
    assert!(matches!(refused, StoreError::Conflict { field: "operators" }));
    store.grant_operator(&actor(), bob).await.unwrap();
    store.revoke_operator(&actor(), ada).await.unwrap();
    let operators = store.list_operators().await.unwrap();
    assert_eq!(operators.iter().map(|u| u.email.as_str()).collect::<Vec<_>>(), ["bob@example.com"]);
    let granted = store
        .list_installation_audit(10)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.action == "granted")
        .count();
    assert_eq!(granted, 2, "a repeated grant is not audited twice");
}

pub async fn organization_names_are_unique_in_any_case(store: &dyn Store) {
    let first = org(store, "Northwind").await;
    let refused = store.create_organization(&actor(), "NORTHWIND").await.unwrap_err();
    assert!(matches!(refused, StoreError::Conflict { field: "name" }));
    let second = org(store, "Acme").await;
    let refused = store.rename_organization(&actor(), second, "northwind").await.unwrap_err();
    assert!(matches!(refused, StoreError::Conflict { field: "name" }));
    // Renaming to one's own name in another case is allowed.
    let renamed = store.rename_organization(&actor(), first, "NorthWind").await.unwrap();
    assert_eq!(renamed.name, "NorthWind");
    assert_eq!(store.get_organization(first).await.unwrap().name, "NorthWind");
    let audit = store.list_installation_audit(10).await.unwrap();
    assert_eq!(audit[0].action, "renamed");
    assert_eq!(audit[0].entity_id, first.to_string());
}

pub async fn suspending_an_organization_ends_its_sessions_and_marks_new_ones(store: &dyn Store) {
    let org = org(store, "Org").await;
    let other = super::org(store, "Other").await;
    let ada = user(store, org, "ada@example.com").await;
    let eve = user(store, other, "eve@example.com").await;
    store.create_session(&session(1, ada)).await.unwrap();
    store.create_session(&session(2, eve)).await.unwrap();
    let suspended = store.set_organization_suspended(&actor(), org, true).await.unwrap();
    assert!(suspended.is_suspended());
    assert!(store.get_organization(org).await.unwrap().is_suspended());
    assert!(store.find_session(&[1; 32]).await.unwrap().is_none(), "sessions ended");
    assert!(store.find_session(&[2; 32]).await.unwrap().is_some(), "other organization untouched");
    store.create_session(&session(3, ada)).await.unwrap();
    assert!(store.find_session(&[3; 32]).await.unwrap().expect("session").org_suspended);
    let reinstated = store.set_organization_suspended(&actor(), org, false).await.unwrap();
    assert!(!reinstated.is_suspended());
    assert!(!store.find_session(&[3; 32]).await.unwrap().expect("session").org_suspended);
    let actions: Vec<_> =
        store.list_installation_audit(10).await.unwrap().into_iter().map(|e| e.action).collect();
    assert_eq!(actions[..2], ["reinstated".to_string(), "suspended".to_string()]);
}

pub async fn the_user_limit_refuses_one_user_too_many(store: &dyn Store) {
    let org = org(store, "Org").await;
    let limits = OrgLimits { max_users: Some(2), max_dataset_megabytes: Some(64) };
    let stored = store.set_organization_limits(&actor(), org, &limits).await.unwrap();
    assert_eq!(stored.limits, limits);
    assert_eq!(store.get_organization(org).await.unwrap().limits, limits);
    user(store, org, "a@example.com").await;
    user(store, org, "b@example.com").await;
    let refused = store
        .create_user(org, &actor(), &new_user("c@example.com", Role::Viewer))
        .await
        .unwrap_err();
    assert!(matches!(refused, StoreError::LimitReached { limit: "maxUsers" }), "{refused:?}");
    assert_eq!(store.list_users(org).await.unwrap().len(), 2, "nothing was created");
    assert_eq!(store.organization_usage(org).await.unwrap().users, 2);
    store.set_organization_limits(&actor(), org, &OrgLimits::default()).await.unwrap();
    user(store, org, "c@example.com").await;
}

pub async fn deleting_an_organization_removes_everything_of_it_but_its_installation_audit(
    store: &dyn Store,
) {
    let keep = org(store, "Keep").await;
    let operator = user(store, keep, "op@example.com").await;
    store.grant_operator(&actor(), operator).await.unwrap();
    let gone = super::org(store, "Gone").await;
    let ada = user(store, gone, "ada@example.com").await;
    store.create_session(&session(4, ada)).await.unwrap();
    let deleted = store.delete_organization(&actor(), gone).await.unwrap();
    assert_eq!(deleted.name, "Gone");
    assert!(matches!(store.get_organization(gone).await, Err(StoreError::NotFound)));
    assert!(store.find_login("ada@example.com").await.unwrap().is_none());
    assert!(store.find_session(&[4; 32]).await.unwrap().is_none());
    let audit = store.list_installation_audit(10).await.unwrap();
    assert_eq!(audit[0].action, "deleted");
    assert_eq!(audit[0].old_value.as_ref().unwrap()["name"], "Gone");
    // The organization holding every operator cannot go.
    let refused = store.delete_organization(&actor(), keep).await.unwrap_err();
    assert!(matches!(refused, StoreError::Conflict { field: "operators" }));
    assert!(store.get_organization(keep).await.is_ok());
}

pub async fn own_password_change_ends_the_other_sessions_only(store: &dyn Store) {
    let org = org(store, "Org").await;
    let ada = user(store, org, "ada@example.com").await;
    for hash in [5, 6, 7] {
        store.create_session(&session(hash, ada)).await.unwrap();
    }
    let sessions = store.list_sessions(ada).await.unwrap();
    assert_eq!(sessions.len(), 3);
    assert_eq!(sessions[0].user_agent.as_deref(), Some("Test browser"));
    assert_eq!(sessions[0].id().len(), 16);
    let user = store.get_user(org, ada).await.unwrap();
    store.change_own_password(&actor(), &user, "$argon2id$new", Some(&[6; 32])).await.unwrap();
    let left: Vec<_> =
        store.list_sessions(ada).await.unwrap().into_iter().map(|s| s.token_hash).collect();
    assert_eq!(left, vec![vec![6u8; 32]]);
    assert_eq!(store.password_hash(ada).await.unwrap(), "$argon2id$new");
    assert_eq!(store.end_sessions(ada, None).await.unwrap(), 1);
    assert!(store.list_sessions(ada).await.unwrap().is_empty());
}

pub async fn a_password_link_sets_the_password_once(store: &dyn Store) {
    let org = org(store, "Org").await;
    let mut invited = new_user("new@example.com", Role::Viewer);
    invited.password_hash = String::new();
    let user = store.create_user(org, &actor(), &invited).await.unwrap();
    assert!(!user.password_set);
    store.create_session(&session(9, user.id)).await.unwrap();
    let at = Utc::now() + Duration::minutes(1);
    assert!(
        store
            .set_password_by_link(&user, "", "$argon2id$chosen", at, "invitation accepted")
            .await
            .unwrap()
    );
    assert!(
        !store
            .set_password_by_link(&user, "", "$argon2id$again", at, "invitation accepted")
            .await
            .unwrap(),
        "the second use finds the password changed"
    );
    assert_eq!(store.password_hash(user.id).await.unwrap(), "$argon2id$chosen");
    assert!(store.get_user(org, user.id).await.unwrap().password_set);
    assert!(store.find_session(&[9; 32]).await.unwrap().is_none(), "every session ended");
}
