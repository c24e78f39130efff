//! Displays: users of their own kind that never sign in, with a rotating credential.

use chrono::{Duration, Utc};
use serde_json::json;
use vitrine_core::Permission;

use super::{actor, org};
use crate::{
    AuditFilter, DisplayChange, DisplaySeen, Grantee, NewDisplay, NewGroup, Store, StoreError,
    UserChange,
};

fn new_display(name: &str, credential: &[u8], groups: Vec<vitrine_core::GroupId>) -> NewDisplay {
    NewDisplay {
        name: name.into(),
        show: json!({ "report": "r-1" }),
        credential_hash: credential.to_vec(),
        groups,
    }
}

pub async fn displays_are_users_of_their_own_kind_that_never_sign_in_and_join_groups(
    store: &dyn Store,
) {
    let org_a = org(store, "A").await;
    let org_b = org(store, "B").await;
    let group = NewGroup { name: "Displays".into(), description: String::new() };
    let group = store.create_group(org_a, &actor(), &group).await.unwrap();
    store
        .set_permission(org_a, &actor(), Permission::CapacityKeepOn, Grantee::Group(group.id), true)
        .await
        .unwrap();
    let display = store
        .create_display(org_a, &actor(), &new_display("Warehouse TV", b"secret-a", vec![group.id]))
        .await
        .unwrap();
    assert_eq!(display.name, "Warehouse TV");
    assert!(display.handle.ends_with("@displays.invalid"), "{}", display.handle);
    assert_eq!(display.paired_by, "tester@example.com");

    let user = store.get_user(org_a, display.id).await.unwrap();
    assert!(user.display && !user.password_set);
    assert_eq!(user.email, display.handle);
    assert!(store.list_users(org_a).await.unwrap().is_empty(), "not listed among people");
    assert!(store.find_login(&display.handle).await.unwrap().is_none(), "never signs in");
    let members = store.group_members(org_a, group.id).await.unwrap();
    assert_eq!(members.iter().map(|m| m.id).collect::<Vec<_>>(), [display.id]);
    assert_eq!(
        store.effective_permissions(org_a, display.id).await.unwrap(),
        [Permission::CapacityKeepOn]
    );
    // Changed and removed only as a display.
    let promote = UserChange { role: Some(vitrine_core::Role::Admin), ..Default::default() };
    let refused = store.update_user(org_a, &actor(), display.id, &promote).await;
    assert!(matches!(refused, Err(StoreError::NotFound)));
    let refused = store.delete_user(org_a, &actor(), display.id).await;
    assert!(matches!(refused, Err(StoreError::NotFound)));
    let refused = store.grant_operator(&actor(), display.id).await;
    assert!(matches!(refused, Err(StoreError::NotFound)), "never an operator");

    assert_eq!(store.list_displays(org_a).await.unwrap(), std::slice::from_ref(&display));
    assert!(store.list_displays(org_b).await.unwrap().is_empty());
    assert!(matches!(store.get_display(org_b, display.id).await, Err(StoreError::NotFound)));
    assert_eq!(store.all_displays().await.unwrap().len(), 1);
    // A group of another organization refuses the pairing, and nothing of it is left.
    let other = NewGroup { name: "Theirs".into(), description: String::new() };
    let theirs = store.create_group(org_b, &actor(), &other).await.unwrap();
    let lobby = new_display("Lobby", b"secret-b", vec![theirs.id]);
    let refused = store.create_display(org_a, &actor(), &lobby).await;
    assert!(matches!(refused, Err(StoreError::NotFound)));
    assert_eq!(store.list_displays(org_a).await.unwrap().len(), 1);

    let audit = store.list_audit(org_a, &AuditFilter::default()).await.unwrap();
    let paired = audit.iter().find(|e| e.action == "display paired").expect("audited");
    let written = paired.new_value.as_ref().unwrap().to_string();
    assert!(written.contains("Warehouse TV") && !written.contains("secret"), "{written}");
}

pub async fn a_display_credential_rotates_and_the_one_before_stays_valid_until_its_time(
    store: &dyn Store,
) {
    let org = org(store, "A").await;
    let display =
        store.create_display(org, &actor(), &new_display("TV", b"first", vec![])).await.unwrap();
    let now = Utc::now();
    let found = store.find_display_by_credential(b"first", now).await.unwrap().unwrap();
    assert_eq!((found.display.id, found.previous, found.org_suspended), (display.id, false, false));
    assert!(store.find_display_by_credential(b"wrong", now).await.unwrap().is_none());

    let grace = now + Duration::minutes(10);
    assert!(
        store.rotate_display_credential(display.id, b"first", b"second", now, grace).await.unwrap()
    );
    let by_new = store.find_display_by_credential(b"second", now).await.unwrap().unwrap();
    assert!(!by_new.previous);
    let by_old = store.find_display_by_credential(b"first", now).await.unwrap().unwrap();
    assert!(by_old.previous, "the one before stays valid for a while");
    let late = grace + Duration::seconds(1);
    assert!(store.find_display_by_credential(b"first", late).await.unwrap().is_none());

    // The screen lost the answer: it rotates again with the one it still has.
    assert!(
        store.rotate_display_credential(display.id, b"first", b"third", now, grace).await.unwrap()
    );
    assert!(store.find_display_by_credential(b"third", now).await.unwrap().is_some());
    assert!(store.find_display_by_credential(b"second", now).await.unwrap().is_none());
    // Neither current nor previous: nothing changes.
    assert!(
        !store.rotate_display_credential(display.id, b"second", b"x", now, grace).await.unwrap()
    );
    assert!(
        !store.rotate_display_credential(display.id, b"first", b"x", late, grace).await.unwrap()
    );
    assert!(store.find_display_by_credential(b"x", now).await.unwrap().is_none());
}

pub async fn what_a_display_says_of_itself_is_kept_and_unpairing_removes_its_user(
    store: &dyn Store,
) {
    let org = org(store, "A").await;
    let display =
        store.create_display(org, &actor(), &new_display("TV", b"cred", vec![])).await.unwrap();
    assert_eq!(display.last_seen_at, None);
    let at = Utc::now();
    let seen = DisplaySeen {
        at,
        state: "showing".into(),
        detail: Some("Sales overview".into()),
        user_agent: Some("Chromium".into()),
    };
    store.display_seen(display.id, &seen).await.unwrap();
    // An older word never moves the time back, and no user agent keeps the one known.
    let older = DisplaySeen { at: at - Duration::minutes(1), user_agent: None, ..seen.clone() };
    store.display_seen(display.id, &older).await.unwrap();
    let read = store.get_display(org, display.id).await.unwrap();
    assert_eq!(read.last_seen_at.map(|t| t.timestamp_millis()), Some(at.timestamp_millis()));
    assert_eq!(read.last_state.as_deref(), Some("showing"));
    assert_eq!(read.user_agent.as_deref(), Some("Chromium"));
    store.set_display_alerted(display.id, Some(at)).await.unwrap();
    assert!(store.get_display(org, display.id).await.unwrap().offline_alerted_at.is_some());
    store.set_display_alerted(display.id, None).await.unwrap();
    assert!(store.get_display(org, display.id).await.unwrap().offline_alerted_at.is_none());

    let change = DisplayChange {
        name: Some("Dock TV".into()),
        show: Some(json!({ "playlist": [{ "report": "r-2", "seconds": 30 }] })),
    };
    let changed = store.update_display(org, &actor(), display.id, &change).await.unwrap();
    assert_eq!(changed.name, "Dock TV");
    assert_eq!(changed.show["playlist"][0]["seconds"], 30);
    let audit = store.list_audit(org, &AuditFilter::default()).await.unwrap();
    assert!(audit.iter().any(|e| e.action == "display changed"));

    store.delete_display(org, &actor(), display.id).await.unwrap();
    assert!(matches!(store.get_display(org, display.id).await, Err(StoreError::NotFound)));
    assert!(matches!(store.get_user(org, display.id).await, Err(StoreError::NotFound)));
    assert!(store.find_display_by_credential(b"cred", at).await.unwrap().is_none());
    let audit = store.list_audit(org, &AuditFilter::default()).await.unwrap();
    assert!(audit.iter().any(|e| e.action == "display unpaired"));
}
