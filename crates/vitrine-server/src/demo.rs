//! The demo: a sales organization with groups, a million-row dataset, multi-page reports (one
//! with row-level security by region), an account for every role, a regional user and a TV
//! display; plus a second organization so that tenant isolation can be seen.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};
use vitrine_core::capacity::CapacityMode;
use vitrine_core::{DatasetId, GroupId, OrgId, OrgSettings, Permission, ReportId, Role};
use vitrine_engine::{DataFormat, DatasetInfo, demo_data};
use vitrine_store::{
    Actor, CapacityChange, Grantee, NewGroup, NewReport, NewUser, RlsAssignment, Store, StoreError,
    UserChange,
};

use crate::auth::password::PasswordHasher;
use crate::error::ApiError;
use crate::services::capacities::new_capacity;

pub const MAIN_ORG: &str = "Northwind Traders";
pub const SECOND_ORG: &str = "Acme Corporation";
/// The demo dataset's size; `vitrine demo --rows` can ask for more (or, for quick tests, fewer).
pub const DEMO_ROWS: usize = 1_000_000;
/// The demo's capacity: the built-in engine, on demand.
pub const DEMO_CAPACITY: &str = "Built-in engine";
const DEMO_IDLE_MINUTES: u32 = 60;
const DEMO_HOURLY_PRICE: f64 = 8.0;
/// The region `regional@example.com` is restricted to.
pub const REGIONAL_REGION: &str = "North";

/// The demo accounts: email, role, organization name.
pub const ACCOUNTS: &[(&str, Role, &str)] = &[
    ("admin@example.com", Role::Admin, MAIN_ORG),
    ("contributor@example.com", Role::Contributor, MAIN_ORG),
    ("viewer@example.com", Role::Viewer, MAIN_ORG),
    ("regional@example.com", Role::Viewer, MAIN_ORG),
    ("tv@example.com", Role::Viewer, MAIN_ORG),
    ("admin@acme.example.com", Role::Admin, SECOND_ORG),
];

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("password hashing failed: {0}")]
    Hashing(String),
    #[error("demo data: {0}")]
    Data(String),
}

impl From<ApiError> for DemoError {
    fn from(error: ApiError) -> Self {
        DemoError::Hashing(error.message)
    }
}

/// What the demo needs besides the store.
pub struct DemoSetup<'a> {
    pub passwords: &'a PasswordHasher,
    pub data_dir: &'a Path,
    pub password: &'a str,
    pub rows: usize,
}

/// Seeds an empty store; on a store that already holds organizations, only resets the demo
/// accounts' passwords so that the printed password works.
pub async fn seed(
    store: &dyn Store,
    setup: &DemoSetup<'_>,
    actor: &Actor,
) -> Result<(), DemoError> {
    if !store.list_organizations().await?.is_empty() {
        return reset_passwords(store, setup, actor).await;
    }
    let northwind = store.create_organization(actor, MAIN_ORG).await?;
    let acme = store.create_organization(actor, SECOND_ORG).await?;
    let mut users = BTreeMap::new();
    for (email, role, org_name) in ACCOUNTS {
        let org = if *org_name == MAIN_ORG { northwind.id } else { acme.id };
        let new = NewUser {
            email: email.to_string(),
            name: display_name(email),
            role: *role,
            password_hash: setup.passwords.hash(setup.password).await?,
            blocked: false,
            expires_at: None,
        };
        users.insert(*email, store.create_user(org, actor, &new).await?.id);
    }
    let user = |email: &str| users[email];
    // The demo's administrator also operates the installation (Installation › Organizations).
    store.grant_operator(actor, user("admin@example.com")).await?;

    let org = northwind.id;
    let sales = group(store, org, actor, "Sales team", "Account managers and sales leads.").await?;
    let operations =
        group(store, org, actor, "Operations", "Warehouse and logistics staff.").await?;
    let executives =
        group(store, org, actor, "Executives", "Leadership; may start the capacity.").await?;
    let displays =
        group(store, org, actor, "Displays", "TVs and wallboards that stay on all day.").await?;
    for (group, member) in [
        (sales, "viewer@example.com"),
        (operations, "viewer@example.com"),
        (executives, "admin@example.com"),
        (sales, "contributor@example.com"),
        (displays, "tv@example.com"),
    ] {
        store.add_group_member(org, actor, group, user(member)).await?;
    }
    for permission in Permission::ALL {
        store.set_permission(org, actor, permission, Grantee::Group(executives), true).await?;
    }
    store
        .set_permission(org, actor, Permission::CapacityKeepOn, Grantee::Group(displays), true)
        .await?;

    // Row-level security: most people see every region; regional@ sees only North.
    let everything =
        RlsAssignment { roles: vec!["All regions".into()], attributes: BTreeMap::new() };
    for group in [sales, executives, displays, operations] {
        store.set_rls_assignment(org, actor, Grantee::Group(group), &everything).await?;
    }
    let own_region = RlsAssignment {
        roles: vec!["Own region".into()],
        attributes: BTreeMap::from([("region".to_string(), REGIONAL_REGION.to_string())]),
    };
    store
        .set_rls_assignment(org, actor, Grantee::User(user("regional@example.com")), &own_region)
        .await?;

    let dataset = sales_dataset(store, setup, org, actor).await?;
    let contributor = Some(user("contributor@example.com"));
    let reports = [
        (
            "Sales overview",
            "Revenue, units and margin by month, region, channel and product.",
            sales_overview(dataset),
        ),
        (
            "Regional performance",
            "Each region's figures; regional managers see only their own.",
            regional(dataset),
        ),
        ("Warehouse operations", "Units shipped, for the warehouse wallboard.", warehouse(dataset)),
        ("Executive summary", "Company-wide figures for the leadership team.", executive(dataset)),
    ];
    let mut ids: BTreeMap<&str, ReportId> = BTreeMap::new();
    for (name, description, definition) in reports {
        let new =
            NewReport { name: name.into(), description: description.into(), owner_id: contributor };
        let report = store.create_report(org, actor, &new).await?;
        store.set_report_definition(org, actor, report.id, Some(&definition)).await?;
        ids.insert(name, report.id);
    }
    let grants: [(&str, Grantee); 8] = [
        ("Sales overview", Grantee::Group(sales)),
        ("Sales overview", Grantee::Group(executives)),
        ("Sales overview", Grantee::Group(displays)),
        ("Regional performance", Grantee::Group(sales)),
        ("Regional performance", Grantee::User(user("regional@example.com"))),
        ("Warehouse operations", Grantee::Group(operations)),
        ("Warehouse operations", Grantee::Group(displays)),
        ("Executive summary", Grantee::Group(executives)),
    ];
    for (report, grantee) in grants {
        store.set_report_access(org, actor, ids[report], grantee, true).await?;
    }
    // Screens are left open: the timed token update keeps them signed in and their tokens fresh.
    let settings = OrgSettings { token_update_every_minutes: Some(50), ..OrgSettings::default() };
    store.update_settings(org, actor, &settings).await?;

    // Every report runs on the built-in engine, on demand: it pauses after an hour nobody holding
    // capacity.keepOn looks (longer than the 50-minute timed update, so the warehouse TV keeps
    // it on), and executives start it again by opening a report.
    let engine = CapacityChange {
        mode: Some(CapacityMode::OnDemand),
        idle_minutes: Some(DEMO_IDLE_MINUTES),
        hourly_price: Some(DEMO_HOURLY_PRICE),
        ..CapacityChange::default()
    };
    let capacity =
        new_capacity(org, DEMO_CAPACITY.into(), "local", engine, settings.time_zone, actor.at);
    let capacity = store.create_capacity(org, actor, &capacity).await?;
    for report in ids.values() {
        store.set_report_capacity(org, actor, *report, Some(capacity.id)).await?;
    }

    let acme_report = NewReport {
        name: "Acme KPIs".into(),
        description: "Only Acme's users can ever see this report.".into(),
        owner_id: Some(user("admin@acme.example.com")),
    };
    let report = store.create_report(acme.id, actor, &acme_report).await?;
    store
        .set_report_access(
            acme.id,
            actor,
            report.id,
            Grantee::User(user("admin@acme.example.com")),
            true,
        )
        .await?;
    Ok(())
}

/// Generates the sales data a batch at a time into a dataset file and registers it.
async fn sales_dataset(
    store: &dyn Store,
    setup: &DemoSetup<'_>,
    org: OrgId,
    actor: &Actor,
) -> Result<DatasetId, DemoError> {
    let id = DatasetId::generate();
    let rows = setup.rows;
    let location = crate::services::datasets::location_of(id, 1);
    let path = setup.data_dir.join(&location);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| DemoError::Data(e.to_string()))?;
    }
    let info: DatasetInfo =
        tokio::task::spawn_blocking(move || demo_data::write_parquet(&path, rows))
            .await
            .map_err(|e| DemoError::Data(e.to_string()))?
            .map_err(DemoError::Data)?;
    let dataset = crate::services::datasets::record(
        org,
        id,
        "Sales".into(),
        DataFormat::Parquet,
        location,
        &info,
        actor.at,
    );
    store.create_dataset(org, actor, &dataset).await?;
    Ok(id)
}

fn sum(column: &str, label: &str) -> Value {
    json!({ "column": column, "agg": "sum", "label": label })
}

fn sales_overview(dataset: DatasetId) -> Value {
    json!({
        "dataset": dataset,
        "pages": [
            {
                "id": "overview", "title": "Overview",
                "slicers": [{ "column": "region", "title": "Region" }, { "column": "channel", "title": "Channel" }],
                "visuals": [
                    { "id": "revenue", "type": "card", "title": "Revenue", "measures": [sum("revenue", "Revenue")] },
                    { "id": "units", "type": "card", "title": "Units sold", "measures": [sum("units", "Units")] },
                    { "id": "orders", "type": "card", "title": "Orders", "measures": [{ "column": "units", "agg": "count", "label": "Orders" }] },
                    { "id": "trend", "type": "line", "title": "Revenue by month", "dimension": { "column": "date", "grain": "month" }, "measures": [sum("revenue", "Revenue")] },
                    { "id": "by-region", "type": "bar", "title": "Revenue by region", "dimension": { "column": "region" }, "measures": [sum("revenue", "Revenue")] },
                    { "id": "by-channel", "type": "donut", "title": "Revenue by channel", "dimension": { "column": "channel" }, "measures": [sum("revenue", "Revenue")] }
                ]
            },
            {
                "id": "products", "title": "Products",
                "slicers": [{ "column": "category", "title": "Category" }, { "column": "region", "title": "Region" }],
                "visuals": [
                    { "id": "by-category", "type": "bar", "title": "Revenue by category", "dimension": { "column": "category" }, "measures": [sum("revenue", "Revenue")] },
                    { "id": "top-products", "type": "table", "title": "Products", "dimension": { "column": "product" },
                      "measures": [sum("revenue", "Revenue"), sum("units", "Units"), sum("cost", "Cost")], "limit": 20 },
                    { "id": "by-country", "type": "bar", "title": "Units by country", "dimension": { "column": "country" }, "measures": [sum("units", "Units")] }
                ]
            }
        ]
    })
}

fn regional(dataset: DatasetId) -> Value {
    json!({
        "dataset": dataset,
        "pages": [
            {
                "id": "region", "title": "My region",
                "slicers": [{ "column": "channel", "title": "Channel" }],
                "visuals": [
                    { "id": "revenue", "type": "card", "title": "Revenue", "measures": [sum("revenue", "Revenue")] },
                    { "id": "margin", "type": "card", "title": "Cost", "measures": [sum("cost", "Cost")] },
                    { "id": "trend", "type": "line", "title": "Revenue by quarter", "dimension": { "column": "date", "grain": "quarter" }, "measures": [sum("revenue", "Revenue")] },
                    { "id": "by-country", "type": "bar", "title": "Revenue by country", "dimension": { "column": "country" }, "measures": [sum("revenue", "Revenue")] },
                    { "id": "by-region", "type": "donut", "title": "Revenue by region", "dimension": { "column": "region" }, "measures": [sum("revenue", "Revenue")] }
                ]
            },
            {
                "id": "margin", "title": "Margin",
                "slicers": [{ "column": "category", "title": "Category" }],
                "visuals": [
                    { "id": "by-product", "type": "table", "title": "Revenue and cost by product", "dimension": { "column": "product" },
                      "measures": [sum("revenue", "Revenue"), sum("cost", "Cost")], "limit": 20 },
                    { "id": "by-channel", "type": "bar", "title": "Revenue by channel", "dimension": { "column": "channel" }, "measures": [sum("revenue", "Revenue")] }
                ]
            }
        ],
        "roles": [
            { "name": "All regions", "filters": [] },
            { "name": "Own region", "filters": [{ "column": "region", "attribute": "region" }] }
        ]
    })
}

fn warehouse(dataset: DatasetId) -> Value {
    json!({
        "dataset": dataset,
        "pages": [{
            "id": "floor", "title": "Warehouse floor",
            "visuals": [
                { "id": "units", "type": "card", "title": "Units shipped", "measures": [sum("units", "Units")] },
                { "id": "weekly", "type": "line", "title": "Units by week", "dimension": { "column": "date", "grain": "week" }, "measures": [sum("units", "Units")] },
                { "id": "by-category", "type": "bar", "title": "Units by category", "dimension": { "column": "category" }, "measures": [sum("units", "Units")] }
            ]
        }]
    })
}

fn executive(dataset: DatasetId) -> Value {
    json!({
        "dataset": dataset,
        "pages": [{
            "id": "summary", "title": "Summary",
            "visuals": [
                { "id": "revenue", "type": "card", "title": "Revenue", "measures": [sum("revenue", "Revenue")] },
                { "id": "cost", "type": "card", "title": "Cost", "measures": [sum("cost", "Cost")] },
                { "id": "yearly", "type": "bar", "title": "Revenue by year", "dimension": { "column": "date", "grain": "year" }, "measures": [sum("revenue", "Revenue")] },
                { "id": "by-region", "type": "bar", "title": "Revenue by region", "dimension": { "column": "region" }, "measures": [sum("revenue", "Revenue")] }
            ]
        }]
    })
}

async fn group(
    store: &dyn Store,
    org: OrgId,
    actor: &Actor,
    name: &str,
    description: &str,
) -> Result<GroupId, StoreError> {
    let new = NewGroup { name: name.into(), description: description.into() };
    Ok(store.create_group(org, actor, &new).await?.id)
}

async fn reset_passwords(
    store: &dyn Store,
    setup: &DemoSetup<'_>,
    actor: &Actor,
) -> Result<(), DemoError> {
    for (email, _, _) in ACCOUNTS {
        if let Some(login) = store.find_login(email).await? {
            let hash = setup.passwords.hash(setup.password).await?;
            let change = UserChange { password_hash: Some(hash), ..Default::default() };
            store.update_user(login.user.org_id, actor, login.user.id, &change).await?;
        }
    }
    Ok(())
}

fn display_name(email: &str) -> String {
    match email {
        "admin@acme.example.com" => "Acme Admin",
        "admin@example.com" => "Ada Admin",
        "contributor@example.com" => "Cory Contributor",
        "viewer@example.com" => "Vera Viewer",
        "regional@example.com" => "Rhea Regional",
        "tv@example.com" => "Warehouse TV",
        _ => "Demo user",
    }
    .to_string()
}
