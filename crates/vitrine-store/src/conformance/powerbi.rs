//! Organizations' Power BI tenants.

use crate::conformance::{actor, org};
use crate::{AuditFilter, Store};

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
