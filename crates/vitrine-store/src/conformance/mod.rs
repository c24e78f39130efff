//! The behaviour every [`Store`] implementation must show. Each implementation's test file
//! runs every case below against a fresh database of its own (see `tests/sqlite.rs`).

use chrono::{Duration, Utc};
use vitrine_core::capacity::{CapacityMode, CapacityState, WeeklyWindow};
use vitrine_core::lockout::{Gate, LockoutRule};
use vitrine_core::token::{Revocation, RevocationScope};
use vitrine_core::{ApiKeyScope, CapacityId, DatasetId, OrgId, Permission, ReportId, Role, UserId};

mod cluster;
mod displays;
mod guards;
mod installation;
mod powerbi;
mod sources;
mod sso;
mod transfer;
pub use cluster::*;
pub use displays::*;
pub use guards::*;
pub use installation::*;
pub use powerbi::*;
pub use sources::*;
pub use sso::*;
pub use transfer::*;

use crate::{
    Actor, AuditFilter, Capacity, CapacityChange, CapacityEvent, Dataset, Grantee, IdentitySeen,
    KeyCreator, NewApiKey, NewGroup, NewReport, NewSession, NewUser, ReportChange, RlsAssignment,
    Store, StoreError, StoredSigningKey, TokenEvent, TokenEventFilter, UserChange,
};

pub(crate) fn actor() -> Actor {
    Actor { id: "tester".into(), label: "tester@example.com".into(), at: Utc::now() }
}

pub(crate) fn new_user(email: &str, role: Role) -> NewUser {
    NewUser {
        email: email.into(),
        name: email.split('@').next().unwrap_or(email).into(),
        role,
        password_hash: "$argon2id$fake".into(),
        blocked: false,
        expires_at: None,
    }
}

pub(crate) async fn org(store: &dyn Store, name: &str) -> OrgId {
    store.create_organization(&actor(), name).await.expect("create organization").id
}

pub(crate) async fn user(store: &dyn Store, org: OrgId, email: &str) -> UserId {
    store.create_user(org, &actor(), &new_user(email, Role::Viewer)).await.expect("create user").id
}

pub async fn migrations_apply_once(store: &dyn Store) {
    assert_eq!(store.migrate().await.expect("migrate"), 0, "already migrated at open");
    store.ping().await.expect("ping");
}

pub async fn users_round_trip_with_every_field(store: &dyn Store) {
    let org = org(store, "Org").await;
    let expiry = Utc::now() + Duration::days(3);
    let mut new = new_user("ada@example.com", Role::Contributor);
    new.expires_at = Some(expiry);
    let created = store.create_user(org, &actor(), &new).await.unwrap();
    let read = store.get_user(org, created.id).await.unwrap();
    assert_eq!(read.email, "ada@example.com");
    assert_eq!(read.role, Role::Contributor);
    assert_eq!(read.expires_at.map(|t| t.timestamp_millis()), Some(expiry.timestamp_millis()));
    assert!(!read.blocked);

    let change = UserChange {
        role: Some(Role::Admin),
        blocked: Some(true),
        expires_at: Some(None),
        ..Default::default()
    };
    let updated = store.update_user(org, &actor(), created.id, &change).await.unwrap();
    assert_eq!((updated.role, updated.blocked, updated.expires_at), (Role::Admin, true, None));
    assert_eq!(store.get_user(org, created.id).await.unwrap().role, Role::Admin);

    let login = store.find_login("ada@example.com").await.unwrap().expect("login record");
    assert_eq!(login.password_hash, "$argon2id$fake");
    assert!(store.find_login("nobody@example.com").await.unwrap().is_none());
}

pub async fn email_is_unique_across_the_installation(store: &dyn Store) {
    let first = org(store, "First").await;
    let second = org(store, "Second").await;
    user(store, first, "same@example.com").await;
    let err =
        store.create_user(second, &actor(), &new_user("same@example.com", Role::Viewer)).await;
    assert!(matches!(err, Err(StoreError::Conflict { field: "email" })), "{err:?}");
    let other = user(store, second, "other@example.com").await;
    let change = UserChange { email: Some("same@example.com".into()), ..Default::default() };
    let err = store.update_user(second, &actor(), other, &change).await;
    assert!(matches!(err, Err(StoreError::Conflict { field: "email" })), "{err:?}");
}

pub async fn one_organization_cannot_reach_another_organizations_data(store: &dyn Store) {
    let acme = org(store, "Acme").await;
    let globex = org(store, "Globex").await;
    let acme_user = user(store, acme, "a@acme.example.com").await;
    let globex_user = user(store, globex, "g@globex.example.com").await;
    let acme_report = store
        .create_report(
            acme,
            &actor(),
            &NewReport { name: "Sales".into(), description: String::new(), owner_id: None },
        )
        .await
        .unwrap();
    let acme_group = store
        .create_group(
            acme,
            &actor(),
            &NewGroup { name: "Staff".into(), description: String::new() },
        )
        .await
        .unwrap();

    assert!(matches!(store.get_user(globex, acme_user).await, Err(StoreError::NotFound)));
    assert!(matches!(store.get_report(globex, acme_report.id).await, Err(StoreError::NotFound)));
    assert!(matches!(store.get_group(globex, acme_group.id).await, Err(StoreError::NotFound)));
    assert!(store.list_reports(globex).await.unwrap().is_empty());
    assert_eq!(store.list_users(globex).await.unwrap().len(), 1);
    assert!(matches!(
        store.delete_user(globex, &actor(), acme_user).await,
        Err(StoreError::NotFound)
    ));
    // Granting across tenants is refused, whichever side is foreign.
    let cross = store
        .set_report_access(acme, &actor(), acme_report.id, Grantee::User(globex_user), true)
        .await;
    assert!(matches!(cross, Err(StoreError::NotFound)));
    let cross = store
        .set_report_access(globex, &actor(), acme_report.id, Grantee::User(globex_user), true)
        .await;
    assert!(matches!(cross, Err(StoreError::NotFound)));
    let cross = store.add_group_member(acme, &actor(), acme_group.id, globex_user).await;
    assert!(matches!(cross, Err(StoreError::NotFound)));
    assert!(matches!(
        store.report_for_user(globex, globex_user, acme_report.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.report_gate(globex, globex_user, acme_report.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(
        store
            .list_audit(globex, &AuditFilter { limit: 100, ..Default::default() })
            .await
            .unwrap()
            .iter()
            .all(|e| e.entity_id != acme_report.id.to_string())
    );
}

pub async fn report_access_is_the_union_of_direct_and_group_grants(store: &dyn Store) {
    let org = org(store, "Org").await;
    let direct = user(store, org, "direct@example.com").await;
    let member = user(store, org, "member@example.com").await;
    let outsider = user(store, org, "outsider@example.com").await;
    let report = store
        .create_report(
            org,
            &actor(),
            &NewReport { name: "Q1".into(), description: "".into(), owner_id: Some(direct) },
        )
        .await
        .unwrap();
    let group = store
        .create_group(org, &actor(), &NewGroup { name: "Team".into(), description: "".into() })
        .await
        .unwrap();
    store.add_group_member(org, &actor(), group.id, member).await.unwrap();
    store.set_report_access(org, &actor(), report.id, Grantee::User(direct), true).await.unwrap();
    store
        .set_report_access(org, &actor(), report.id, Grantee::Group(group.id), true)
        .await
        .unwrap();

    for (user, expected) in [(direct, true), (member, true), (outsider, false)] {
        let (read, may) = store.report_for_user(org, user, report.id).await.unwrap();
        assert_eq!((read.id, may), (report.id, expected));
        let gate = store.report_gate(org, user, report.id).await.unwrap();
        assert_eq!((gate.id, gate.capacity_id, gate.granted), (report.id, None, expected));
        assert_eq!(store.reports_for_user(org, user).await.unwrap().len(), usize::from(expected));
    }
    assert_eq!(store.organization_of_report(report.id).await.unwrap(), org);
    assert!(matches!(
        store.organization_of_report(ReportId::generate()).await,
        Err(crate::StoreError::NotFound)
    ));
    let access = store.report_access(org, report.id).await.unwrap();
    assert_eq!(access.users.len(), 1);
    assert_eq!(access.groups.len(), 1);
    assert_eq!(store.get_group(org, group.id).await.unwrap().member_count, 1);
    assert_eq!(store.groups_of_user(org, member).await.unwrap().len(), 1);

    store.remove_group_member(org, &actor(), group.id, member).await.unwrap();
    assert!(!store.report_for_user(org, member, report.id).await.unwrap().1);
    store.add_group_member(org, &actor(), group.id, member).await.unwrap();
    store.delete_group(org, &actor(), group.id).await.unwrap();
    assert!(!store.report_for_user(org, member, report.id).await.unwrap().1);
    store.set_report_access(org, &actor(), report.id, Grantee::User(direct), false).await.unwrap();
    assert!(!store.report_for_user(org, direct, report.id).await.unwrap().1);
    assert!(!store.report_gate(org, direct, report.id).await.unwrap().granted);

    let renamed = store
        .update_report(
            org,
            &actor(),
            report.id,
            &ReportChange { name: Some("Q2".into()), description: None },
        )
        .await
        .unwrap();
    assert_eq!(renamed.name, "Q2");
    store.delete_report(org, &actor(), report.id).await.unwrap();
    assert!(store.list_reports(org).await.unwrap().is_empty());
}

pub async fn permissions_are_the_union_of_direct_and_group_grants(store: &dyn Store) {
    let org = org(store, "Org").await;
    let ada = user(store, org, "ada@example.com").await;
    let bob = user(store, org, "bob@example.com").await;
    let group = store
        .create_group(
            org,
            &actor(),
            &NewGroup { name: "Night shift".into(), description: "".into() },
        )
        .await
        .unwrap();
    store.add_group_member(org, &actor(), group.id, bob).await.unwrap();
    store
        .set_permission(org, &actor(), Permission::CapacityTurnOn, Grantee::User(ada), true)
        .await
        .unwrap();
    store
        .set_permission(org, &actor(), Permission::CapacityKeepOn, Grantee::Group(group.id), true)
        .await
        .unwrap();
    store.add_group_member(org, &actor(), group.id, ada).await.unwrap();

    assert_eq!(
        store.effective_permissions(org, ada).await.unwrap(),
        vec![Permission::CapacityTurnOn, Permission::CapacityKeepOn]
    );
    assert_eq!(
        store.effective_permissions(org, bob).await.unwrap(),
        vec![Permission::CapacityKeepOn]
    );
    assert_eq!(
        store.direct_permissions(org, Grantee::User(ada)).await.unwrap(),
        vec![Permission::CapacityTurnOn]
    );
    store
        .set_permission(org, &actor(), Permission::CapacityKeepOn, Grantee::Group(group.id), false)
        .await
        .unwrap();
    assert!(store.effective_permissions(org, bob).await.unwrap().is_empty());
}

pub async fn failed_logins_lock_at_the_threshold_and_success_resets_the_count(store: &dyn Store) {
    let org = org(store, "Org").await;
    let id = user(store, org, "ada@example.com").await;
    let rule = LockoutRule::default();
    // Stores keep milliseconds.
    let now = chrono::DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap();
    let unlocked = Gate::Check { locks: None };
    for _ in 0..4 {
        assert_eq!(store.begin_login_attempt(id, &rule, now).await.unwrap(), unlocked);
    }
    store.record_successful_login(id).await.unwrap();
    for _ in 0..4 {
        assert_eq!(store.begin_login_attempt(id, &rule, now).await.unwrap(), unlocked);
    }
    let until = now + rule.lock_for;
    let fifth = store.begin_login_attempt(id, &rule, now).await.unwrap();
    assert_eq!(fifth, Gate::Check { locks: Some(until) }, "the fifth is checked and locks");
    let sixth = store.begin_login_attempt(id, &rule, now).await.unwrap();
    assert_eq!(sixth, Gate::Locked(until), "the sixth is not checked");
    let user = store.get_user(org, id).await.unwrap();
    assert!(user.is_locked_at(now));
    // A password reset lifts the lock.
    let reset = UserChange { password_hash: Some("$argon2id$new".into()), ..Default::default() };
    let user = store.update_user(org, &actor(), id, &reset).await.unwrap();
    assert!(!user.is_locked_at(now));
}

pub async fn parallel_login_attempts_are_counted_one_after_the_other(store: &dyn Store) {
    let org = org(store, "Org").await;
    let id = user(store, org, "ada@example.com").await;
    let rule = LockoutRule::default();
    let now = Utc::now();
    let attempts = (0..64).map(|_| store.begin_login_attempt(id, &rule, now));
    let gates = futures_util::future::join_all(attempts).await;
    let checked = gates.iter().filter(|gate| matches!(gate, Ok(Gate::Check { .. }))).count();
    assert_eq!(checked, 5, "exactly the threshold is admitted: {gates:?}");
}

pub async fn sessions_are_found_by_hash_and_end_with_their_user(store: &dyn Store) {
    let org = org(store, "Org").await;
    let id = user(store, org, "ada@example.com").await;
    let created = Utc::now();
    let session = NewSession {
        token_hash: vec![7; 32],
        user_id: id,
        created_at: created,
        user_agent: None,
        ip: None,
    };
    store.create_session(&session).await.unwrap();
    let found = store.find_session(&[7; 32]).await.unwrap().expect("session");
    assert_eq!(found.user.id, id);
    assert_eq!(found.org_name, "Org");
    assert_eq!(found.settings.session_idle_timeout_minutes, 480);
    let later = created + Duration::minutes(5);
    store.touch_session(&[7; 32], later).await.unwrap();
    let found = store.find_session(&[7; 32]).await.unwrap().expect("session");
    assert_eq!(found.last_seen_at.timestamp_millis(), later.timestamp_millis());
    assert!(store.find_session(&[8; 32]).await.unwrap().is_none());

    store.delete_session(&[7; 32]).await.unwrap();
    assert!(store.find_session(&[7; 32]).await.unwrap().is_none());
    store.create_session(&session).await.unwrap();
    store.delete_user(org, &actor(), id).await.unwrap();
    assert!(store.find_session(&[7; 32]).await.unwrap().is_none());
}

pub async fn changes_of_password_block_expiry_role_or_email_end_sessions_a_rename_does_not(
    store: &dyn Store,
) {
    let org = org(store, "Org").await;
    let id = user(store, org, "ada@example.com").await;
    let now = Utc::now();
    let cases: [(&str, UserChange, bool); 6] = [
        ("name", UserChange { name: Some("Ada L.".into()), ..Default::default() }, false),
        ("password", UserChange { password_hash: Some("$a$2".into()), ..Default::default() }, true),
        ("role", UserChange { role: Some(Role::Contributor), ..Default::default() }, true),
        ("email", UserChange { email: Some("ada@b.example".into()), ..Default::default() }, true),
        ("blocked", UserChange { blocked: Some(true), ..Default::default() }, true),
        (
            "expired",
            UserChange {
                blocked: Some(false),
                expires_at: Some(Some(now - Duration::minutes(1))),
                ..Default::default()
            },
            true,
        ),
    ];
    for (n, (what, change, ends)) in cases.into_iter().enumerate() {
        let hash = vec![40 + n as u8; 32];
        let session = NewSession {
            token_hash: hash.clone(),
            user_id: id,
            created_at: now,
            user_agent: None,
            ip: None,
        };
        store.create_session(&session).await.unwrap();
        store.update_user(org, &actor(), id, &change).await.unwrap();
        let still = store.find_session(&hash).await.unwrap().is_some();
        assert_eq!(still, !ends, "after a change of {what}");
    }
}

pub async fn revoked_api_keys_are_not_found(store: &dyn Store) {
    let org = org(store, "Org").await;
    let key = store.create_api_key(org, &actor(), &new_api_key("CI", vec![1; 32])).await.unwrap();
    assert_eq!(store.find_api_key(&[1; 32]).await.unwrap().map(|k| k.key.id), Some(key.id));
    store.touch_api_key(key.id, Utc::now()).await.unwrap();
    assert!(store.list_api_keys(org).await.unwrap()[0].last_used_at.is_some());
    store.revoke_api_key(org, &actor(), key.id).await.unwrap();
    assert!(store.find_api_key(&[1; 32]).await.unwrap().is_none());
    assert!(store.list_api_keys(org).await.unwrap()[0].revoked_at.is_some());
}

pub(crate) fn new_api_key(name: &str, secret_hash: Vec<u8>) -> NewApiKey {
    NewApiKey {
        name: name.into(),
        prefix: "vtr_abcd".into(),
        secret_hash,
        scope: ApiKeyScope::Admin,
        reports: None,
        expires_at: None,
        wake_capacity: false,
        keep_capacity_on: false,
        created_by_user: None,
    }
}

pub async fn api_keys_keep_their_scope_reports_and_creator_whose_account_decides(
    store: &dyn Store,
) {
    let other = org(store, "Other").await;
    let org = org(store, "Org").await;
    let admin = store
        .create_user(org, &actor(), &new_user("admin@example.com", Role::Admin))
        .await
        .unwrap()
        .id;
    let report = |org: OrgId, name: &'static str| async move {
        store
            .create_report(
                org,
                &actor(),
                &NewReport { name: name.into(), description: String::new(), owner_id: None },
            )
            .await
            .unwrap()
            .id
    };
    let (sales, stock, foreign) =
        (report(org, "Sales").await, report(org, "Stock").await, report(other, "Theirs").await);
    let expires = Utc::now() + Duration::days(30);
    let embed = NewApiKey {
        scope: ApiKeyScope::Embed,
        reports: Some(vec![sales, sales]),
        expires_at: Some(expires),
        wake_capacity: true,
        created_by_user: Some(admin),
        ..new_api_key("Host app", vec![2; 32])
    };
    let created = store.create_api_key(org, &actor(), &embed).await.unwrap();
    let found = store.find_api_key(&[2; 32]).await.unwrap().expect("found by its secret");
    assert_eq!((found.key.id, &found.key.reports), (created.id, &created.reports));
    assert_eq!(found.key.scope, ApiKeyScope::Embed);
    assert_eq!(found.key.reports, Some(vec![sales]), "each report once");
    assert!(found.key.covers_report(sales) && !found.key.covers_report(stock));
    assert_eq!(
        found.key.expires_at.map(|t| t.timestamp_millis()),
        Some(expires.timestamp_millis())
    );
    assert!((found.key.wake_capacity, found.key.keep_capacity_on) == (true, false));
    assert_eq!(
        found.creator,
        KeyCreator::Account { role: Role::Admin, blocked: false, expires_at: None }
    );
    assert!(found.creator.vouches_at(Utc::now()));
    assert_eq!((found.org_name.as_str(), found.org_suspended), ("Org", false));
    assert_eq!(store.list_api_keys(org).await.unwrap(), vec![found.key.clone()]);

    // Another organization's report is not found, and no key is made.
    let theirs = NewApiKey { reports: Some(vec![sales, foreign]), ..new_api_key("X", vec![3; 32]) };
    assert!(matches!(
        store.create_api_key(org, &actor(), &theirs).await,
        Err(StoreError::NotFound)
    ));
    assert!(store.find_api_key(&[3; 32]).await.unwrap().is_none());
    assert_eq!(store.list_api_keys(org).await.unwrap().len(), 1);

    // The creator's account as it stands decides.
    let block = UserChange { blocked: Some(true), ..Default::default() };
    store.update_user(org, &actor(), admin, &block).await.unwrap();
    let creator = store.find_api_key(&[2; 32]).await.unwrap().unwrap().creator;
    assert!(matches!(creator, KeyCreator::Account { blocked: true, .. }));
    assert!(!creator.vouches_at(Utc::now()));
    store.delete_user(org, &actor(), admin).await.unwrap();
    let creator = store.find_api_key(&[2; 32]).await.unwrap().unwrap().creator;
    assert_eq!(creator, KeyCreator::Deleted);
    assert!(!creator.vouches_at(Utc::now()));

    // A listed report that is deleted leaves the list, not all reports.
    store.delete_report(org, &actor(), sales).await.unwrap();
    assert_eq!(store.find_api_key(&[2; 32]).await.unwrap().unwrap().key.reports, Some(vec![]));
}

pub async fn a_host_apps_users_are_kept_per_organization_by_the_hosts_own_id(store: &dyn Store) {
    let other = org(store, "Other").await;
    let org = org(store, "Org").await;
    let at = Utc::now();
    let seen = |external: &str, name: Option<&str>, offset: i64| IdentitySeen {
        external_id: external.into(),
        name: name.map(str::to_string),
        key: None,
        at: at + Duration::seconds(offset),
    };
    let first = store.identity_seen(org, &seen("cust-42", Some("Ada"), 0)).await.unwrap();
    assert_eq!((first.external_id.as_str(), first.name.as_str()), ("cust-42", "Ada"));
    let again = store.identity_seen(org, &seen("cust-42", None, 60)).await.unwrap();
    assert_eq!(again.id, first.id, "the same host id is the same identity");
    assert_eq!(again.name, "Ada", "a name not given is kept");
    assert_eq!(again.last_seen_at.timestamp(), (at + Duration::seconds(60)).timestamp());
    assert_eq!(again.first_seen_at.timestamp(), at.timestamp());
    let earlier = store.identity_seen(org, &seen("cust-42", Some("Ada L."), 30)).await.unwrap();
    assert_eq!(earlier.name, "Ada L.");
    assert_eq!(earlier.last_seen_at, again.last_seen_at, "last seen never goes back");
    let theirs = store.identity_seen(other, &seen("cust-42", None, 0)).await.unwrap();
    assert_ne!(theirs.id, first.id, "another organization's cust-42 is another identity");
    store.identity_seen(org, &seen("cust-7", None, 90)).await.unwrap();

    let listed = store.list_identities(org, 10).await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|i| i.external_id.as_str()).collect();
    assert_eq!(ids, ["cust-7", "cust-42"], "latest seen first, this organization's only");
    assert_eq!(store.find_identity(org, "cust-42").await.unwrap().map(|i| i.id), Some(first.id));
    assert!(store.find_identity(org, "nobody").await.unwrap().is_none());
    assert_eq!(store.find_identity(other, "cust-7").await.unwrap(), None);

    let event = TokenEvent {
        id: 0,
        org_id: Some(org),
        at,
        kind: "issued".into(),
        user_id: None,
        identity_id: Some(first.id),
        report_id: None,
        token_id: Some("jti".into()),
        reason: None,
        ip: None,
        user_agent: None,
        actor: None,
        user_label: None,
        report_label: None,
    };
    store.insert_token_events(&[event]).await.unwrap();
    let filter = TokenEventFilter { user: Some("cust-42".into()), limit: 10, ..Default::default() };
    let events = store.list_token_events(org, &filter).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].identity_id, Some(first.id));
    assert_eq!(events[0].user_label.as_deref(), Some("identity cust-42"));
}

pub async fn every_change_is_audited_with_actor_and_old_and_new_values(store: &dyn Store) {
    let org = org(store, "Org").await;
    let id = user(store, org, "ada@example.com").await;
    let change = UserChange {
        role: Some(Role::Contributor),
        password_hash: Some("$argon2id$secret-hash".into()),
        ..Default::default()
    };
    store.update_user(org, &actor(), id, &change).await.unwrap();
    let mut settings = store.get_organization(org).await.unwrap().settings;
    settings.session_idle_timeout_minutes = 15;
    store.update_settings(org, &actor(), &settings).await.unwrap();
    assert_eq!(
        store.get_organization(org).await.unwrap().settings.session_idle_timeout_minutes,
        15
    );

    let all =
        store.list_audit(org, &AuditFilter { limit: 50, ..Default::default() }).await.unwrap();
    assert_eq!(all.len(), 3, "{all:#?}");
    assert_eq!(all[0].entity_type, "settings");
    let update =
        all.iter().find(|e| e.action == "updated" && e.entity_type == "user").expect("update");
    assert_eq!(update.actor_label, "tester@example.com");
    assert_eq!(update.old_value.as_ref().unwrap()["role"], "Viewer");
    assert_eq!(update.new_value.as_ref().unwrap()["role"], "Contributor");
    assert_eq!(update.new_value.as_ref().unwrap()["password"], "changed");
    assert!(!format!("{all:?}").contains("secret-hash"), "hashes never reach the audit log");

    let users_only =
        AuditFilter { entity_type: Some("user".into()), limit: 50, ..Default::default() };
    assert_eq!(store.list_audit(org, &users_only).await.unwrap().len(), 2);
    let by_text = AuditFilter { text: Some("ADA@".into()), limit: 50, ..Default::default() };
    assert_eq!(store.list_audit(org, &by_text).await.unwrap().len(), 2);
    let future = AuditFilter {
        since: Some(Utc::now() + Duration::hours(1)),
        limit: 50,
        ..Default::default()
    };
    assert!(store.list_audit(org, &future).await.unwrap().is_empty());
    let by_actor = AuditFilter { actor: Some("nobody".into()), limit: 50, ..Default::default() };
    assert!(store.list_audit(org, &by_actor).await.unwrap().is_empty());
}

pub async fn group_names_are_unique_within_an_organization(store: &dyn Store) {
    let first = org(store, "First").await;
    let second = org(store, "Second").await;
    let new = NewGroup { name: "Ops".into(), description: "".into() };
    store.create_group(first, &actor(), &new).await.unwrap();
    let err = store.create_group(first, &actor(), &new).await;
    assert!(matches!(err, Err(StoreError::Conflict { field: "name" })), "{err:?}");
    store.create_group(second, &actor(), &new).await.expect("same name in another org");
}

pub async fn signing_keys_round_trip_and_retire(store: &dyn Store) {
    let at = Utc::now();
    let key = |kid: &str, offset: i64| StoredSigningKey {
        kid: kid.into(),
        public_key: vec![1; 32],
        sealed_private_key: vec![2; 60],
        created_at: at + Duration::seconds(offset),
        retired_at: None,
    };
    store.insert_signing_key(&key("b", 10)).await.unwrap();
    store.insert_signing_key(&key("a", 0)).await.unwrap();
    let err = store.insert_signing_key(&key("a", 5)).await;
    assert!(matches!(err, Err(StoreError::Conflict { field: "kid" })), "{err:?}");
    let keys = store.list_signing_keys().await.unwrap();
    assert_eq!(keys.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(), ["a", "b"], "oldest first");
    assert_eq!(keys[0].sealed_private_key, vec![2; 60]);
    store.retire_signing_key("a", at).await.unwrap();
    let keys = store.list_signing_keys().await.unwrap();
    assert!(keys[0].retired_at.is_some() && keys[1].retired_at.is_none());
}

pub async fn revocations_keep_the_latest_not_before_per_scope(store: &dyn Store) {
    let user = UserId::generate();
    let org = OrgId::generate();
    let scope = RevocationScope::User(user);
    store.record_revocation(&Revocation { scope, not_before: 2_000 }).await.unwrap();
    store.record_revocation(&Revocation { scope, not_before: 1_000 }).await.unwrap();
    let org_scope = RevocationScope::Organization(org);
    store.record_revocation(&Revocation { scope: org_scope, not_before: 500 }).await.unwrap();
    // A host app's user with the same id as a user is another scope.
    let identity = RevocationScope::Identity(user.as_uuid().into());
    store.record_revocation(&Revocation { scope: identity, not_before: 700 }).await.unwrap();
    let all = store.list_revocations(0).await.unwrap();
    assert!(all.contains(&Revocation { scope, not_before: 2_000 }), "{all:?}");
    assert!(all.contains(&Revocation { scope: org_scope, not_before: 500 }));
    assert!(all.contains(&Revocation { scope: identity, not_before: 700 }));
    assert_eq!(all.len(), 3);
    assert_eq!(
        store.list_revocations(1_000).await.unwrap(),
        vec![Revocation { scope, not_before: 2_000 }]
    );
}

pub async fn user_expiries_list_every_user_with_an_expiry_date(store: &dyn Store) {
    let org = org(store, "Org").await;
    user(store, org, "forever@example.com").await;
    let mut new = new_user("temp@example.com", Role::Viewer);
    let expiry = Utc::now() + Duration::days(1);
    new.expires_at = Some(expiry);
    let temp = store.create_user(org, &actor(), &new).await.unwrap();
    let expiries = store.user_expiries().await.unwrap();
    assert_eq!(expiries.len(), 1);
    assert_eq!(expiries[0].0, temp.id);
    assert_eq!(expiries[0].1.timestamp_millis(), expiry.timestamp_millis());
}

pub async fn token_events_are_listed_per_organization_with_filters_and_labels(store: &dyn Store) {
    let org_a = org(store, "A").await;
    let org_b = org(store, "B").await;
    let ada = user(store, org_a, "ada@example.com").await;
    let report = store
        .create_report(
            org_a,
            &actor(),
            &NewReport { name: "Sales".into(), description: String::new(), owner_id: None },
        )
        .await
        .unwrap();
    let at = Utc::now();
    let event = |org: Option<OrgId>, kind: &str, reason: Option<&str>, offset: i64| TokenEvent {
        id: 0,
        org_id: org,
        at: at + Duration::seconds(offset),
        kind: kind.into(),
        user_id: Some(ada),
        identity_id: None,
        report_id: Some(report.id),
        token_id: Some("jti-1".into()),
        reason: reason.map(str::to_string),
        ip: Some("127.0.0.1".into()),
        user_agent: Some("TV".into()),
        actor: None,
        user_label: None,
        report_label: None,
    };
    store
        .insert_token_events(&[
            event(Some(org_a), "issued", None, 0),
            event(Some(org_a), "rejected", Some("expired"), 1),
            event(Some(org_b), "issued", None, 2),
            event(None, "rejected", Some("signature"), 3),
        ])
        .await
        .unwrap();
    let all = TokenEventFilter { limit: 100, ..Default::default() };
    let listed = store.list_token_events(org_a, &all).await.unwrap();
    assert_eq!(listed.len(), 2, "only A's events; unverifiable ones belong to no organization");
    assert_eq!(listed[0].kind, "rejected", "newest first");
    assert_eq!(listed[0].user_label.as_deref(), Some("ada@example.com"));
    assert_eq!(listed[0].report_label.as_deref(), Some("Sales"));
    assert_eq!(listed[0].ip.as_deref(), Some("127.0.0.1"));
    let rejected =
        TokenEventFilter { kind: Some("rejected".into()), limit: 100, ..Default::default() };
    assert_eq!(store.list_token_events(org_a, &rejected).await.unwrap().len(), 1);
    let by_user = TokenEventFilter { user: Some("ADA".into()), limit: 100, ..Default::default() };
    assert_eq!(store.list_token_events(org_a, &by_user).await.unwrap().len(), 2);
    let by_reason =
        TokenEventFilter { reason: Some("expired".into()), limit: 100, ..Default::default() };
    assert_eq!(store.list_token_events(org_a, &by_reason).await.unwrap().len(), 1);
    let by_report = TokenEventFilter { report: Some(report.id), limit: 1, ..Default::default() };
    assert_eq!(store.list_token_events(org_a, &by_report).await.unwrap().len(), 1, "limit applies");
    let later = TokenEventFilter {
        since: Some(at + Duration::milliseconds(500)),
        limit: 100,
        ..Default::default()
    };
    assert_eq!(store.list_token_events(org_a, &later).await.unwrap().len(), 1);
}

pub async fn datasets_are_kept_per_organization_with_unique_names(store: &dyn Store) {
    let org_a = org(store, "A").await;
    let org_b = org(store, "B").await;
    let dataset = |name: &str| Dataset {
        id: DatasetId::generate(),
        org_id: org_a,
        name: name.into(),
        format: "parquet".into(),
        location: "datasets/x.parquet".into(),
        columns: serde_json::json!([{ "name": "region", "kind": "text" }]),
        row_count: 1_000_000,
        created_at: Utc::now(),
        version: 1,
        updated_at: Utc::now(),
        source: None,
    };
    let sales = store.create_dataset(org_a, &actor(), &dataset("Sales")).await.unwrap();
    let err = store.create_dataset(org_a, &actor(), &dataset("Sales")).await;
    assert!(matches!(err, Err(StoreError::Conflict { field: "name" })), "{err:?}");
    store.create_dataset(org_b, &actor(), &dataset("Sales")).await.expect("same name elsewhere");
    let read = store.get_dataset(org_a, sales.id).await.unwrap();
    assert_eq!((read.row_count, read.columns[0]["name"].as_str()), (1_000_000, Some("region")));
    assert!(matches!(store.get_dataset(org_b, sales.id).await, Err(StoreError::NotFound)));
    assert_eq!(store.list_datasets(org_a).await.unwrap().len(), 1);
    assert_eq!(store.all_datasets().await.unwrap().len(), 2);
    assert!(matches!(
        store.delete_dataset(org_b, &actor(), sales.id).await,
        Err(StoreError::NotFound)
    ));
    store.delete_dataset(org_a, &actor(), sales.id).await.unwrap();
    assert!(store.list_datasets(org_a).await.unwrap().is_empty());
}

pub async fn report_definitions_are_stored_replaced_and_audited(store: &dyn Store) {
    let org = org(store, "Org").await;
    let other = self::org(store, "Other").await;
    let report = store
        .create_report(
            org,
            &actor(),
            &NewReport { name: "Sales".into(), description: String::new(), owner_id: None },
        )
        .await
        .unwrap();
    assert_eq!(report.definition, None);
    let definition = serde_json::json!({ "dataset": "d", "pages": [] });
    let saved =
        store.set_report_definition(org, &actor(), report.id, Some(&definition)).await.unwrap();
    assert_eq!(saved.definition.as_ref(), Some(&definition));
    assert_eq!(
        store.get_report(org, report.id).await.unwrap().definition,
        Some(definition.clone())
    );
    assert!(matches!(
        store.set_report_definition(other, &actor(), report.id, Some(&definition)).await,
        Err(StoreError::NotFound)
    ));
    let all = store
        .list_audit(
            org,
            &AuditFilter { entity_type: Some("report".into()), limit: 10, ..Default::default() },
        )
        .await
        .unwrap();
    assert_eq!(all[0].action, "definitionChanged");
    assert_eq!(all[0].new_value, Some(definition));
}

pub async fn rls_roles_and_attributes_union_over_groups_and_the_users_own_win(store: &dyn Store) {
    let org = org(store, "Org").await;
    let ada = user(store, org, "ada@example.com").await;
    let group = |name: &'static str| async move {
        store
            .create_group(
                org,
                &actor(),
                &NewGroup { name: name.into(), description: String::new() },
            )
            .await
            .unwrap()
            .id
    };
    let north = group("North team").await;
    let all = group("Everyone").await;
    store.add_group_member(org, &actor(), north, ada).await.unwrap();
    store.add_group_member(org, &actor(), all, ada).await.unwrap();
    let assign = |roles: &[&str], attributes: &[(&str, &str)]| RlsAssignment {
        roles: roles.iter().map(|r| r.to_string()).collect(),
        attributes: attributes.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
    };
    store
        .set_rls_assignment(
            org,
            &actor(),
            Grantee::Group(north),
            &assign(&["Own region"], &[("region", "North"), ("tier", "A")]),
        )
        .await
        .unwrap();
    store
        .set_rls_assignment(
            org,
            &actor(),
            Grantee::Group(all),
            &assign(&["Viewer"], &[("tier", "B")]),
        )
        .await
        .unwrap();
    store
        .set_rls_assignment(
            org,
            &actor(),
            Grantee::User(ada),
            &assign(&["Analyst"], &[("region", "South")]),
        )
        .await
        .unwrap();
    let effective = store.effective_rls(org, ada).await.unwrap();
    assert_eq!(effective.roles, ["Analyst", "Own region", "Viewer"]);
    let report = store
        .create_report(
            org,
            &actor(),
            &NewReport { name: "Sales".into(), description: "".into(), owner_id: None },
        )
        .await
        .unwrap();
    assert_eq!(
        store.report_gate(org, ada, report.id).await.unwrap().identity,
        effective,
        "the token path's gate carries the same identity"
    );
    assert_eq!(
        effective.attributes.get("region").map(String::as_str),
        Some("South"),
        "the user's own wins"
    );
    assert_eq!(
        effective.attributes.get("tier").map(String::as_str),
        Some("B"),
        "between groups, the one whose name sorts first (Everyone) wins"
    );
    let elsewhere = store.create_organization(&actor(), "Elsewhere").await.unwrap().id;
    assert!(matches!(store.effective_rls(elsewhere, ada).await, Err(StoreError::NotFound)));
    let plain = user(store, org, "plain@example.com").await;
    let none = store.effective_rls(org, plain).await.unwrap();
    assert!(none.roles.is_empty() && none.attributes.is_empty());
    assert_eq!(store.report_gate(org, plain, report.id).await.unwrap().identity, none);
    assert_eq!(
        store.rls_assignment(org, Grantee::Group(north)).await.unwrap(),
        assign(&["Own region"], &[("region", "North"), ("tier", "A")])
    );
    // Replacing is whole: roles and attributes not given are removed.
    store.set_rls_assignment(org, &actor(), Grantee::User(ada), &assign(&[], &[])).await.unwrap();
    assert_eq!(
        store.rls_assignment(org, Grantee::User(ada)).await.unwrap(),
        RlsAssignment::default()
    );
    store.remove_group_member(org, &actor(), north, ada).await.unwrap();
    let effective = store.effective_rls(org, ada).await.unwrap();
    assert_eq!(effective.roles, ["Viewer"]);
    assert_eq!(effective.attributes.get("tier").map(String::as_str), Some("B"));
    let changes = AuditFilter { text: Some("rlsRoles".into()), limit: 10, ..Default::default() };
    assert_eq!(store.list_audit(org, &changes).await.unwrap().len(), 4, "every change audited");
}

fn capacity(org: OrgId, name: &str) -> Capacity {
    Capacity {
        id: CapacityId::generate(),
        org_id: org,
        name: name.into(),
        provider: "simulated".into(),
        // Kept and read back as it was, on every backend.
        azure: Some(crate::AzureCapacity {
            kind: crate::AzureCapacityKind::Fabric,
            subscription_id: "00000000-0000-0000-0000-000000000001".into(),
            resource_group: "analytics".into(),
            name: name.to_lowercase().replace(' ', ""),
        }),
        state: CapacityState::Running,
        mode: CapacityMode::OnDemand,
        idle_minutes: 30,
        schedule: vec![WeeklyWindow {
            day: chrono::Weekday::Mon,
            start: chrono::NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
            end: chrono::NaiveTime::from_hms_opt(18, 0, 0).unwrap(),
        }],
        time_zone: "Europe/Paris".into(),
        hourly_price: 2.5,
        wake_from_viewer: true,
        state_since: Utc::now(),
        last_activity: None,
        created_at: Utc::now(),
    }
}

pub async fn capacities_round_trip_per_organization_and_audit_their_settings(store: &dyn Store) {
    let org_a = org(store, "A").await;
    let org_b = org(store, "B").await;
    let created = store.create_capacity(org_a, &actor(), &capacity(org_a, "Main")).await.unwrap();
    let err = store.create_capacity(org_a, &actor(), &capacity(org_a, "Main")).await;
    assert!(matches!(err, Err(StoreError::Conflict { field: "name" })), "{err:?}");
    let read = store.get_capacity(org_a, created.id).await.unwrap();
    assert_eq!(
        (read.mode, read.idle_minutes, read.schedule.len()),
        (CapacityMode::OnDemand, 30, 1)
    );
    assert!(matches!(store.get_capacity(org_b, created.id).await, Err(StoreError::NotFound)));
    let change = CapacityChange {
        mode: Some(CapacityMode::Schedule),
        idle_minutes: Some(45),
        ..Default::default()
    };
    let updated = store.update_capacity(org_a, &actor(), created.id, &change).await.unwrap();
    assert_eq!(
        (updated.mode, updated.idle_minutes, updated.hourly_price),
        (CapacityMode::Schedule, 45, 2.5)
    );
    assert!(matches!(
        store.update_capacity(org_b, &actor(), created.id, &change).await,
        Err(StoreError::NotFound)
    ));
    let audit =
        store.list_audit(org_a, &AuditFilter { limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(audit[0].new_value.as_ref().unwrap()["idleMinutes"], 45);
    assert_eq!(store.list_capacities(org_b).await.unwrap().len(), 0);
    assert_eq!(store.all_capacities().await.unwrap().len(), 1);

    let report = store
        .create_report(
            org_a,
            &actor(),
            &NewReport { name: "R".into(), description: String::new(), owner_id: None },
        )
        .await
        .unwrap();
    let placed =
        store.set_report_capacity(org_a, &actor(), report.id, Some(created.id)).await.unwrap();
    assert_eq!(placed.capacity_id, Some(created.id));
    assert_eq!(store.get_report(org_a, report.id).await.unwrap().capacity_id, Some(created.id));
    let foreign = store.create_capacity(org_b, &actor(), &capacity(org_b, "Other")).await.unwrap();
    assert!(matches!(
        store.set_report_capacity(org_a, &actor(), report.id, Some(foreign.id)).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn capacity_transitions_happen_once_and_record_their_event(store: &dyn Store) {
    let org = org(store, "Org").await;
    let created = store
        .create_capacity(
            org,
            &actor(),
            &Capacity { state: CapacityState::Paused, ..capacity(org, "Main") },
        )
        .await
        .unwrap();
    let event = |state, reason: &str| CapacityEvent {
        id: 0,
        capacity_id: created.id,
        at: Utc::now(),
        state,
        reason: reason.into(),
        actor: Some("ada@example.com".into()),
        detail: None,
    };
    let resume = event(CapacityState::Resuming, "demand");
    let first = store.transition_capacity(&[CapacityState::Paused], &resume).await.unwrap();
    let second = store.transition_capacity(&[CapacityState::Paused], &resume).await.unwrap();
    assert!(first && !second, "only one of two identical transitions happens");
    assert!(
        store
            .transition_capacity(
                &[CapacityState::Resuming],
                &event(CapacityState::Running, "demand")
            )
            .await
            .unwrap()
    );
    assert_eq!(store.get_capacity(org, created.id).await.unwrap().state, CapacityState::Running);
    let events = store.capacity_events(org, created.id, 10).await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.state).collect::<Vec<_>>(),
        [CapacityState::Running, CapacityState::Resuming]
    );
    assert_eq!(events[1].actor.as_deref(), Some("ada@example.com"));
    assert_eq!(created.azure, capacity(org, "Main").azure, "the Azure resource is kept");
    assert_eq!(store.get_capacity(org, created.id).await.unwrap().azure, created.azure);

    // A note joins the timeline and moves nothing.
    let since = store.get_capacity(org, created.id).await.unwrap().state_since;
    let note = CapacityEvent {
        detail: Some("Azure is throttling requests (429)".into()),
        ..event(CapacityState::Running, "provider")
    };
    store.note_capacity_event(&note).await.unwrap();
    let read = store.get_capacity(org, created.id).await.unwrap();
    assert_eq!((read.state, read.state_since), (CapacityState::Running, since));
    let latest = &store.capacity_events(org, created.id, 1).await.unwrap()[0];
    assert_eq!(latest.detail, note.detail);

    let later = Utc::now() + Duration::minutes(5);
    store.record_capacity_activity(created.id, &[], later).await.unwrap();
    store.record_capacity_activity(created.id, &[], later - Duration::minutes(3)).await.unwrap();
    let read = store.get_capacity(org, created.id).await.unwrap();
    assert_eq!(
        read.last_activity.map(|t| t.timestamp_millis()),
        Some(later.timestamp_millis()),
        "never backwards"
    );
}

pub async fn capacities_are_deleted_only_once_no_report_runs_on_them(store: &dyn Store) {
    let org_a = org(store, "A").await;
    let org_b = org(store, "B").await;
    let created = store.create_capacity(org_a, &actor(), &capacity(org_a, "Main")).await.unwrap();
    let new = NewReport { name: "R".into(), description: String::new(), owner_id: None };
    let report = store.create_report(org_a, &actor(), &new).await.unwrap();
    store.set_report_capacity(org_a, &actor(), report.id, Some(created.id)).await.unwrap();
    let refused = store.delete_capacity(org_a, &actor(), created.id).await;
    assert!(matches!(refused, Err(StoreError::Conflict { field: "reports" })), "{refused:?}");
    assert!(matches!(
        store.delete_capacity(org_b, &actor(), created.id).await,
        Err(StoreError::NotFound)
    ));
    store.get_capacity(org_a, created.id).await.expect("still there");

    store.set_report_capacity(org_a, &actor(), report.id, None).await.unwrap();
    store.delete_capacity(org_a, &actor(), created.id).await.unwrap();
    assert!(matches!(store.get_capacity(org_a, created.id).await, Err(StoreError::NotFound)));
    assert!(matches!(
        store.capacity_events(org_a, created.id, 10).await,
        Err(StoreError::NotFound)
    ));
    let audit =
        store.list_audit(org_a, &AuditFilter { limit: 1, ..Default::default() }).await.unwrap();
    assert_eq!((audit[0].entity_type.as_str(), audit[0].action.as_str()), ("capacity", "deleted"));
}

pub async fn capacity_keepers_are_listed_latest_first_and_per_organization(store: &dyn Store) {
    let org_a = org(store, "A").await;
    let org_b = org(store, "B").await;
    let created = store.create_capacity(org_a, &actor(), &capacity(org_a, "Main")).await.unwrap();
    let start = Utc::now();
    let at = |minutes: i64| start + Duration::minutes(minutes);
    store.record_capacity_activity(created.id, &["tv@example.com"], at(1)).await.unwrap();
    store.record_capacity_activity(created.id, &["ada@example.com"], at(2)).await.unwrap();
    store.record_capacity_activity(created.id, &["tv@example.com"], at(5)).await.unwrap();
    store.record_capacity_activity(created.id, &["tv@example.com"], at(3)).await.unwrap();
    let listed = store.capacity_keepers(org_a, created.id, start).await.unwrap();
    let listed: Vec<(&str, i64)> =
        listed.iter().map(|(who, when)| (who.as_str(), when.timestamp_millis())).collect();
    assert_eq!(
        listed,
        [
            ("tv@example.com", at(5).timestamp_millis()),
            ("ada@example.com", at(2).timestamp_millis())
        ],
        "one line each, latest first, never backwards"
    );
    assert_eq!(store.capacity_keepers(org_a, created.id, at(4)).await.unwrap().len(), 1);
    let read = store.get_capacity(org_a, created.id).await.unwrap();
    assert_eq!(read.last_activity.map(|t| t.timestamp_millis()), Some(at(5).timestamp_millis()));
    // Several keepers in one write (the open reports of a node, written down together).
    store.record_capacity_activity(created.id, &["kiosk-1", "kiosk-2"], at(6)).await.unwrap();
    let together = store.capacity_keepers(org_a, created.id, at(6)).await.unwrap();
    let mut names: Vec<&str> = together.iter().map(|(who, _)| who.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["kiosk-1", "kiosk-2"]);
    assert!(matches!(
        store.capacity_keepers(org_b, created.id, start).await,
        Err(StoreError::NotFound)
    ));
}

/// Runs the whole suite; `$make` builds a fresh, migrated store for each case.
#[macro_export]
macro_rules! store_conformance_tests {
    ($make:expr) => {
        $crate::store_conformance_tests!(@cases $make;
            migrations_apply_once,
            users_round_trip_with_every_field,
            email_is_unique_across_the_installation,
            one_organization_cannot_reach_another_organizations_data,
            report_access_is_the_union_of_direct_and_group_grants,
            permissions_are_the_union_of_direct_and_group_grants,
            failed_logins_lock_at_the_threshold_and_success_resets_the_count,
            parallel_login_attempts_are_counted_one_after_the_other,
            sessions_are_found_by_hash_and_end_with_their_user,
            changes_of_password_block_expiry_role_or_email_end_sessions_a_rename_does_not,
            revoked_api_keys_are_not_found,
            api_keys_keep_their_scope_reports_and_creator_whose_account_decides,
            a_host_apps_users_are_kept_per_organization_by_the_hosts_own_id,
            every_change_is_audited_with_actor_and_old_and_new_values,
            group_names_are_unique_within_an_organization,
            signing_keys_round_trip_and_retire,
            revocations_keep_the_latest_not_before_per_scope,
            user_expiries_list_every_user_with_an_expiry_date,
            token_events_are_listed_per_organization_with_filters_and_labels,
            datasets_are_kept_per_organization_with_unique_names,
            report_definitions_are_stored_replaced_and_audited,
            rls_roles_and_attributes_union_over_groups_and_the_users_own_win,
            capacities_round_trip_per_organization_and_audit_their_settings,
            capacity_transitions_happen_once_and_record_their_event,
            capacities_are_deleted_only_once_no_report_runs_on_them,
            capacity_keepers_are_listed_latest_first_and_per_organization,
            setup_happens_once_even_when_raced,
            operators_are_granted_once_and_the_last_one_stays,
            organization_names_are_unique_in_any_case,
            suspending_an_organization_ends_its_sessions_and_marks_new_ones,
            the_user_limit_refuses_one_user_too_many,
            deleting_an_organization_removes_everything_of_it_but_its_installation_audit,
            own_password_change_ends_the_other_sessions_only,
            a_password_link_sets_the_password_once,
            displays_are_users_of_their_own_kind_that_never_sign_in_and_join_groups,
            connections_are_per_organization_audited_without_passwords_and_kept_while_read,
            dataset_data_is_replaced_one_version_after_the_other,
            refreshes_are_recorded_newest_first_and_bounded,
            a_dataset_is_renamed_and_its_refresh_schedule_changed_audited,
            a_display_credential_rotates_and_the_one_before_stays_valid_until_its_time,
            what_a_display_says_of_itself_is_kept_and_unpairing_removes_its_user,
            changes_are_read_in_order_after_a_sequence_number,
            a_reader_resuming_after_its_last_sequence_number_misses_no_racing_change,
            a_lease_has_one_holder_until_it_expires_or_is_given_up,
            racing_nodes_take_a_free_lease_once,
            a_power_bi_tenant_is_kept_per_organization_replaced_and_audited_without_its_secret,
            a_report_imported_from_power_bi_keeps_where_it_lives_there,
            an_sso_provider_is_kept_per_organization_with_its_secret_sealed_and_never_audited,
            a_domain_leads_to_one_organization_and_only_once_verified,
            a_providers_subject_is_linked_to_one_user_per_issuer,
            what_a_scim_provider_knows_is_kept_per_organization_with_unique_user_names,
            an_allowance_is_spent_per_key_and_refilled_by_the_rule,
            racing_attempts_spend_an_allowance_exactly_once_each,
            a_strangers_email_locks_at_the_threshold_even_when_raced,
            guards_are_pruned_once_forgetting_them_loses_nothing,
            an_import_into_a_store_that_holds_anything_is_refused_and_changes_nothing,
            a_backup_naming_a_table_or_column_the_store_does_not_have_is_refused
        );
        $crate::store_conformance_tests!(@pairs $make;
            an_installation_exported_into_an_empty_store_arrives_whole_and_goes_on
        );
    };
    (@pairs $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let (from, _from_guard) = $make.await;
                let (to, _to_guard) = $make.await;
                $crate::conformance::$case(&*from, &*to).await;
            }
        )*
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let (store, _guard) = $make.await;
                $crate::conformance::$case(&*store).await;
            }
        )*
    };
}
