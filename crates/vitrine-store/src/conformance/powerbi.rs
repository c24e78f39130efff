//! Organizations' Power BI tenants.

use crate::conformance::{actor, org};
use crate::{AuditFilter, NewReport, PowerBiLink, Store};

pub async fn a_power_bi_tenant_is_kept_per_organization_replaced_and_audited_without_its_secret(
    store: &dyn Store,
) {
    let acme = org(store, "Acme").await;
    let globex = org(store, "Globex").await;
    assert_eq!(store.powerbi_tenant(acme).await.unwrap(), None);
    let set = store
        .set_powerbi_tenant(acme, &actor(), "contoso.onmicrosoft.com", "app-1", b"sealed-1")
        .await
        .unwrap();
    assert_eq!(
        (set.tenant_id.as_str(), set.client_id.as_str()),
        ("contoso.onmicrosoft.com", "app-1")
    );
    assert_eq!(store.powerbi_tenant(acme).await.unwrap(), Some(set.clone()));
    assert_eq!(store.powerbi_tenant(globex).await.unwrap(), None, "per organization");

    let replaced = store
        .set_powerbi_tenant(acme, &actor(), "contoso.onmicrosoft.com", "app-2", b"sealed-2")
        .await
        .unwrap();
    assert_eq!(replaced.secret_sealed, b"sealed-2");
    assert_eq!(store.powerbi_tenant(acme).await.unwrap().unwrap().client_id, "app-2");

    let filter =
        AuditFilter { entity_type: Some("powerbi".into()), limit: 10, ..Default::default() };
    let audit = store.list_audit(acme, &filter).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["changed", "connected"], "newest first");
    let changed = &audit[0];
    assert_eq!(changed.old_value.as_ref().unwrap()["clientId"], "app-1");
    assert_eq!(changed.new_value.as_ref().unwrap()["secret"], "changed");
    for entry in &audit {
        let text = format!("{:?} {:?}", entry.old_value, entry.new_value);
        assert!(!text.contains("sealed"), "the secret is never audited: {text}");
    }
}

pub async fn a_report_imported_from_power_bi_keeps_where_it_lives_there(store: &dyn Store) {
    let acme = org(store, "Acme").await;
    let other = org(store, "Other").await;
    let link = PowerBiLink {
        workspace_id: "f089354e-8366-4e18-aea3-4cb4a3a50b48".into(),
        report_id: "5b218778-e7a5-4d73-8187-f10824047715".into(),
        dataset_id: "cfafbeb1-8037-4d0c-896e-a46fb27ff229".into(),
        embed_url: "https://app.powerbi.com/reportEmbed?reportId=5b218778".into(),
        identity_required: true,
        roles_required: false,
    };
    let new = NewReport { name: "Sales".into(), description: String::new(), owner_id: None };
    let created = store.create_powerbi_report(acme, &actor(), &new, &link).await.unwrap();
    assert_eq!(created.powerbi.as_ref(), Some(&link));
    let read = store.get_report(acme, created.id).await.unwrap();
    assert_eq!(read.powerbi, Some(link.clone()), "read back whole");
    assert_eq!(store.list_reports(acme).await.unwrap()[0].powerbi, Some(link));
    assert!(store.get_report(other, created.id).await.is_err(), "per organization");
    let own = NewReport { name: "Own".into(), description: String::new(), owner_id: None };
    let own = store.create_report(acme, &actor(), &own).await.unwrap();
    assert_eq!(store.get_report(acme, own.id).await.unwrap().powerbi, None);
    let filter =
        AuditFilter { entity_type: Some("report".into()), limit: 10, ..Default::default() };
    let audit = store.list_audit(acme, &filter).await.unwrap();
    let imported = audit.iter().find(|e| e.entity_id == created.id.to_string()).unwrap();
    assert_eq!(imported.new_value.as_ref().unwrap()["powerbi"]["identityRequired"], true);
}
