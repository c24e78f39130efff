//! The demo organization: groups, reports and accounts for every role, plus a second
//! organization so that tenant isolation can be seen.

use vitrine_core::{OrgId, Permission, Role};
use vitrine_store::{Actor, Grantee, NewGroup, NewReport, NewUser, Store, StoreError, UserChange};

use crate::auth::password::PasswordHasher;
use crate::error::ApiError;

pub const MAIN_ORG: &str = "Northwind Traders";
pub const SECOND_ORG: &str = "Acme Corporation";

/// The demo accounts: email, role, organization name.
pub const ACCOUNTS: &[(&str, Role, &str)] = &[
    ("admin@example.com", Role::Admin, MAIN_ORG),
    ("contributor@example.com", Role::Contributor, MAIN_ORG),
    ("viewer@example.com", Role::Viewer, MAIN_ORG),
    ("admin@acme.example.com", Role::Admin, SECOND_ORG),
];

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

impl From<ApiError> for DemoError {
    fn from(error: ApiError) -> Self {
        DemoError::Hashing(error.message)
    }
}

/// Seeds an empty store; on a store that already holds organizations, only resets the demo
/// accounts' passwords so that the printed password works.
pub async fn seed(
    store: &dyn Store,
    passwords: &PasswordHasher,
    password: &str,
    actor: &Actor,
) -> Result<(), DemoError> {
    let existing = store.list_organizations().await?;
    if !existing.is_empty() {
        return reset_passwords(store, passwords, password, actor).await;
    }
    let northwind = store.create_organization(MAIN_ORG).await?;
    let acme = store.create_organization(SECOND_ORG).await?;
    let mut ids = Vec::new();
    for (email, role, org_name) in ACCOUNTS {
        let org = if *org_name == MAIN_ORG { northwind.id } else { acme.id };
        let new = NewUser {
            email: email.to_string(),
            name: display_name(email, *role),
            role: *role,
            password_hash: passwords.hash(password).await?,
            blocked: false,
            expires_at: None,
        };
        ids.push(store.create_user(org, actor, &new).await?.id);
    }
    let (admin, contributor, viewer) = (ids[0], ids[1], ids[2]);

    let org = northwind.id;
    let sales = group(store, org, actor, "Sales team", "Account managers and sales leads.").await?;
    let operations =
        group(store, org, actor, "Operations", "Warehouse and logistics staff.").await?;
    let executives =
        group(store, org, actor, "Executives", "Leadership; may start the capacity.").await?;
    store.add_group_member(org, actor, sales, viewer).await?;
    store.add_group_member(org, actor, operations, viewer).await?;
    store.add_group_member(org, actor, executives, admin).await?;
    store.add_group_member(org, actor, sales, contributor).await?;
    for permission in Permission::ALL {
        store.set_permission(org, actor, permission, Grantee::Group(executives), true).await?;
    }

    let reports = [
        (
            "Sales overview",
            "Revenue, units and margin by month, region and channel.",
            vec![sales, executives],
        ),
        (
            "Regional performance",
            "How each region performs against the others.",
            vec![sales, executives],
        ),
        (
            "Warehouse operations",
            "Orders shipped and backlog, for the warehouse wallboard.",
            vec![operations],
        ),
        ("Executive summary", "Company-wide figures for the leadership team.", vec![executives]),
    ];
    for (name, description, groups) in reports {
        let new = NewReport {
            name: name.into(),
            description: description.into(),
            owner_id: Some(contributor),
        };
        let report = store.create_report(org, actor, &new).await?;
        for group in groups {
            store.set_report_access(org, actor, report.id, Grantee::Group(group), true).await?;
        }
    }

    let acme_report = NewReport {
        name: "Acme KPIs".into(),
        description: "Only Acme's users can ever see this report.".into(),
        owner_id: Some(ids[3]),
    };
    let report = store.create_report(acme.id, actor, &acme_report).await?;
    store.set_report_access(acme.id, actor, report.id, Grantee::User(ids[3]), true).await?;
    Ok(())
}

async fn group(
    store: &dyn Store,
    org: OrgId,
    actor: &Actor,
    name: &str,
    description: &str,
) -> Result<vitrine_core::GroupId, StoreError> {
    let new = NewGroup { name: name.into(), description: description.into() };
    Ok(store.create_group(org, actor, &new).await?.id)
}

async fn reset_passwords(
    store: &dyn Store,
    passwords: &PasswordHasher,
    password: &str,
    actor: &Actor,
) -> Result<(), DemoError> {
    for (email, _, _) in ACCOUNTS {
        if let Some(login) = store.find_login(email).await? {
            let change = UserChange {
                password_hash: Some(passwords.hash(password).await?),
                ..Default::default()
            };
            store.update_user(login.user.org_id, actor, login.user.id, &change).await?;
        }
    }
    Ok(())
}

fn display_name(email: &str, role: Role) -> String {
    match (email, role) {
        ("admin@acme.example.com", _) => "Acme Admin".into(),
        (_, Role::Admin) => "Ada Admin".into(),
        (_, Role::Contributor) => "Cory Contributor".into(),
        (_, Role::Viewer) => "Vera Viewer".into(),
    }
}
