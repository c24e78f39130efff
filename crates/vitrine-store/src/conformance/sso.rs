//! Organizations' single sign-on providers.

use std::collections::BTreeMap;

use vitrine_core::Role;

use crate::conformance::{actor, org, user};
use crate::{AuditFilter, NewGroup, SsoPreset, SsoSettings, Store, StoreError};

fn settings(domains: &[&str]) -> SsoSettings {
    SsoSettings {
        preset: SsoPreset::Generic,
        issuer: "https://id.acme.example".into(),
        client_id: "vitrine".into(),
        scopes: vec!["openid".into(), "email".into(), "profile".into()],
        required: false,
        groups_claim: None,
        default_role: Role::Viewer,
        domains: domains.iter().map(|d| d.to_string()).collect(),
        groups: BTreeMap::new(),
    }
}

pub async fn an_sso_provider_is_kept_per_organization_with_its_secret_sealed_and_never_audited(
    store: &dyn Store,
) {
    let acme = org(store, "Acme").await;
    let globex = org(store, "Globex").await;
    assert_eq!(store.sso_provider(acme).await.unwrap(), None);
    let missing_secret = store.set_sso_provider(acme, &actor(), &settings(&[]), None, false).await;
    assert!(matches!(missing_secret, Err(StoreError::NotFound)), "a first provider needs a secret");

    let sales = store
        .create_group(acme, &actor(), &NewGroup { name: "Sales".into(), description: "".into() })
        .await
        .unwrap();
    let mut wanted = settings(&["acme.example", "acme.test"]);
    wanted.required = true;
    wanted.groups_claim = Some("groups".into());
    wanted.default_role = Role::Contributor;
    wanted.groups.insert("sales-team".into(), sales.id);
    let set =
        store.set_sso_provider(acme, &actor(), &wanted, Some(b"sealed-1"), false).await.unwrap();
    assert_eq!(set.settings, wanted, "every setting read back");
    assert_eq!(set.secret_sealed, b"sealed-1");
    assert!(
        set.domains.iter().all(|d| d.verified_at.is_none()),
        "new domains wait for an operator"
    );
    assert_eq!(store.sso_provider(acme).await.unwrap(), Some(set.clone()));
    assert_eq!(store.sso_provider(globex).await.unwrap(), None, "per organization");

    // No secret keeps the one stored.
    let mut renamed = wanted.clone();
    renamed.client_id = "vitrine-2".into();
    let kept = store.set_sso_provider(acme, &actor(), &renamed, None, false).await.unwrap();
    assert_eq!(kept.secret_sealed, b"sealed-1");
    assert_eq!(kept.settings.client_id, "vitrine-2");

    let filter = AuditFilter { entity_type: Some("sso".into()), limit: 10, ..Default::default() };
    let audit = store.list_audit(acme, &filter).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["updated", "created"], "newest first");
    assert_eq!(audit[0].new_value.as_ref().unwrap()["secret"], "kept");
    assert_eq!(audit[1].new_value.as_ref().unwrap()["secret"], "changed");
    assert_eq!(audit[0].old_value.as_ref().unwrap()["clientId"], "vitrine");
    for entry in &audit {
        let text = format!("{:?} {:?}", entry.old_value, entry.new_value);
        assert!(!text.contains("sealed"), "the secret is never audited: {text}");
    }

    // A deleted group leaves the mapping.
    store.delete_group(acme, &actor(), sales.id).await.unwrap();
    assert!(store.sso_provider(acme).await.unwrap().unwrap().settings.groups.is_empty());

    store.delete_sso_provider(acme, &actor()).await.unwrap();
    assert_eq!(store.sso_provider(acme).await.unwrap(), None);
    assert!(matches!(store.delete_sso_provider(acme, &actor()).await, Err(StoreError::NotFound)));
}

pub async fn a_domain_leads_to_one_organization_and_only_once_verified(store: &dyn Store) {
    let acme = org(store, "Acme").await;
    let globex = org(store, "Globex").await;
    store
        .set_sso_provider(acme, &actor(), &settings(&["acme.example"]), Some(b"s"), false)
        .await
        .unwrap();
    assert_eq!(store.sso_provider_for_domain("acme.example").await.unwrap(), None, "unverified");

    let taken = store
        .set_sso_provider(globex, &actor(), &settings(&["acme.example"]), Some(b"s"), true)
        .await;
    assert!(matches!(taken, Err(StoreError::Conflict { field: "domains" })), "{taken:?}");
    assert_eq!(store.sso_provider(globex).await.unwrap(), None, "a refused change saves nothing");

    assert!(matches!(
        store.verify_sso_domain(globex, &actor(), "acme.example").await,
        Err(StoreError::NotFound)
    ));
    store.verify_sso_domain(acme, &actor(), "acme.example").await.unwrap();
    let found = store.sso_provider_for_domain("acme.example").await.unwrap().unwrap();
    assert_eq!(found.org_id, acme);
    assert!(found.owns_domain("acme.example"));

    // Kept domains keep their verification; a new one set by an operator is verified at once.
    let both = settings(&["acme.example", "acme.dev"]);
    let updated = store.set_sso_provider(acme, &actor(), &both, None, true).await.unwrap();
    assert!(updated.owns_domain("acme.example") && updated.owns_domain("acme.dev"));
    let dropped =
        store.set_sso_provider(acme, &actor(), &settings(&[]), None, false).await.unwrap();
    assert!(dropped.domains.is_empty());
    assert_eq!(store.sso_provider_for_domain("acme.example").await.unwrap(), None);
}

pub async fn a_providers_subject_is_linked_to_one_user_per_issuer(store: &dyn Store) {
    let acme = org(store, "Acme").await;
    let globex = org(store, "Globex").await;
    let ada = user(store, acme, "ada@acme.example").await;
    let bob = user(store, acme, "bob@acme.example").await;
    let issuer = "https://id.acme.example";
    assert_eq!(store.sso_identity(acme, issuer, "sub-1").await.unwrap(), None);
    store.link_sso_identity(acme, issuer, "sub-1", ada).await.unwrap();
    assert_eq!(store.sso_identity(acme, issuer, "sub-1").await.unwrap(), Some(ada));
    assert_eq!(store.sso_identity(acme, "https://other.example", "sub-1").await.unwrap(), None);
    assert_eq!(store.sso_identity(globex, issuer, "sub-1").await.unwrap(), None);
    store.link_sso_identity(acme, issuer, "sub-1", bob).await.unwrap();
    assert_eq!(store.sso_identity(acme, issuer, "sub-1").await.unwrap(), Some(bob), "relinked");
    store.delete_user(acme, &actor(), bob).await.unwrap();
    assert_eq!(
        store.sso_identity(acme, issuer, "sub-1").await.unwrap(),
        None,
        "gone with the user"
    );
}

pub async fn what_a_scim_provider_knows_is_kept_per_organization_with_unique_user_names(
    store: &dyn Store,
) {
    use crate::{ScimGroup, ScimUser};
    let acme = org(store, "Acme").await;
    let globex = org(store, "Globex").await;
    let ada = user(store, acme, "ada@acme.example").await;
    let bob = user(store, acme, "bob@acme.example").await;
    let gus = user(store, globex, "gus@globex.example").await;
    let known = ScimUser {
        user_id: ada,
        user_name: "ada".into(),
        external_id: Some("00u1".into()),
        attributes: serde_json::json!({ "name": { "givenName": "Ada" } }),
    };
    store.set_scim_user(acme, &known).await.unwrap();
    assert_eq!(store.scim_users(acme).await.unwrap(), std::slice::from_ref(&known));
    assert!(store.scim_users(globex).await.unwrap().is_empty(), "per organization");
    assert_eq!(store.scim_user(acme, ada).await.unwrap().as_ref(), Some(&known));
    assert_eq!(store.scim_user(acme, bob).await.unwrap(), None);
    assert_eq!(store.scim_user(globex, ada).await.unwrap(), None, "per organization");
    assert_eq!(store.scim_user_named(acme, "ADA").await.unwrap().as_ref(), Some(&known));
    assert_eq!(store.scim_user_named(acme, "bob").await.unwrap(), None);
    assert_eq!(store.scim_user_named(globex, "ada").await.unwrap(), None, "per organization");
    let taken = ScimUser { user_id: bob, ..known.clone() };
    assert!(matches!(
        store.set_scim_user(acme, &taken).await,
        Err(StoreError::Conflict { field: "userName" })
    ));
    // The same userName in another organization is another person.
    store.set_scim_user(globex, &ScimUser { user_id: gus, ..known.clone() }).await.unwrap();
    let foreign = ScimUser { user_id: gus, user_name: "gus".into(), ..known.clone() };
    assert!(matches!(store.set_scim_user(acme, &foreign).await, Err(StoreError::NotFound)));
    let renamed = ScimUser { user_name: "ada.l".into(), external_id: None, ..known };
    store.set_scim_user(acme, &renamed).await.unwrap();
    assert_eq!(store.scim_users(acme).await.unwrap(), [renamed]);

    let group = store
        .create_group(acme, &actor(), &NewGroup { name: "Sales".into(), description: "".into() })
        .await
        .unwrap();
    let known = ScimGroup { group_id: group.id, external_id: Some("g-1".into()) };
    store.set_scim_group(acme, &known).await.unwrap();
    assert_eq!(store.scim_group(acme, group.id).await.unwrap().as_ref(), Some(&known));
    assert_eq!(store.scim_group(globex, group.id).await.unwrap(), None, "per organization");
    assert_eq!(store.scim_groups(acme).await.unwrap(), [known]);
    let renamed = store.rename_group(acme, &actor(), group.id, "Sales EMEA").await.unwrap();
    assert_eq!(renamed.name, "Sales EMEA");
    let other = store
        .create_group(acme, &actor(), &NewGroup { name: "Ops".into(), description: "".into() })
        .await
        .unwrap();
    assert!(matches!(
        store.rename_group(acme, &actor(), other.id, "Sales EMEA").await,
        Err(StoreError::Conflict { field: "name" })
    ));
    store.delete_group(acme, &actor(), group.id).await.unwrap();
    store.delete_user(acme, &actor(), ada).await.unwrap();
    assert!(store.scim_groups(acme).await.unwrap().is_empty(), "gone with the group");
    assert!(store.scim_users(acme).await.unwrap().is_empty(), "gone with the user");
}
