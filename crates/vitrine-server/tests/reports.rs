//! Report content over HTTP: the embed definition, visual and slicer queries, row-level
//! security, revocation on RLS changes, definition checks, dataset uploads and query input
//! validation.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration as StdDuration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

const REGIONS: [&str; 5] = ["Central", "East", "North", "South", "West"];
const NORTH_COUNTRIES: [&str; 3] = ["Finland", "Norway", "Sweden"];
const CHANNELS: [&str; 3] = ["Online", "Partner", "Retail"];
const CATEGORIES: [&str; 5] = ["Accessories", "Bikes", "Clothing", "Components", "Electronics"];

async fn report_id(session: &Session, name: &str) -> String {
    session.id_of("/api/v1/reports", "name", name).await
}

async fn token_for(session: &Session, report: &str) -> String {
    session.token(report).await["token"].as_str().expect("token").to_string()
}

/// The claims (middle part) of a token.
fn claims(token: &str) -> Value {
    let part = token.split('.').nth(1).expect("claims part");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
}

async fn query(app: &TestApp, token: &str, report: &str, body: &Value) -> Response {
    app.anonymous()
        .post(app.url(&format!("/api/v1/embed/reports/{report}/query")))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .expect("query request")
}

/// A query that must succeed; answers its `{"columns","rows","truncated"}`.
async fn run(app: &TestApp, token: &str, report: &str, body: Value) -> Value {
    let response = query(app, token, report, &body).await;
    let status = response.status();
    let result: Value = response.json().await.expect("query body is JSON");
    assert_eq!(status, StatusCode::OK, "{body} answered {result}");
    assert!(result["rows"].is_array() && result["columns"].is_array(), "{result}");
    assert!(result["truncated"].is_boolean(), "{result}");
    result
}

async fn visual(app: &TestApp, token: &str, report: &str, page: &str, visual: &str) -> Value {
    run(app, token, report, json!({ "page": page, "visual": visual })).await
}

fn rows(result: &Value) -> &Vec<Value> {
    result["rows"].as_array().expect("rows")
}

/// The first cell of every row, as text.
fn labels(result: &Value) -> Vec<String> {
    rows(result)
        .iter()
        .map(|row| row[0].as_str().unwrap_or_else(|| panic!("text label in {row}")).to_string())
        .collect()
}

fn label_set(result: &Value) -> BTreeSet<String> {
    labels(result).into_iter().collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn number(value: &Value) -> f64 {
    value.as_f64().unwrap_or_else(|| panic!("{value} is not a number"))
}

/// The sum of one column over every row.
fn column_total(result: &Value, column: usize) -> f64 {
    rows(result).iter().map(|row| number(&row[column])).sum()
}

/// The value of a one-row, one-measure card.
fn card(result: &Value) -> f64 {
    assert_eq!(rows(result).len(), 1, "a card answers one row: {result}");
    number(&rows(result)[0][0])
}

/// The value a labelled row holds in its first measure.
fn value_of(result: &Value, label: &str) -> f64 {
    let row = rows(result)
        .iter()
        .find(|row| row[0] == label)
        .unwrap_or_else(|| panic!("no {label} in {result}"));
    number(&row[1])
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 0.01_f64.max(b.abs() * 1e-9)
}

/// Nothing of the data: no rows, or only empty or zero cells (a card over no rows).
fn assert_nothing(result: &Value, what: &str) {
    for row in rows(result) {
        let empty = row.as_array().unwrap().iter().all(|c| c.is_null() || c.as_f64() == Some(0.0));
        assert!(empty, "{what}: shows data {result}");
    }
}

async fn put_json(session: &Session, path: &str, body: Value) -> Response {
    session.send(Method::PUT, path, Some(body)).await
}

/// Asserts `InvalidInput` on `field` and returns the message.
async fn expect_invalid(response: Response, field: &str) -> String {
    let body = expect_error(response, StatusCode::BAD_REQUEST, "InvalidInput").await;
    assert_eq!(body["error"]["field"], field, "{body}");
    body["error"]["message"].as_str().unwrap().to_string()
}

/// Creates a user of `role` with the test password; answers their id.
async fn create_user(admin: &Session, email: &str, role: &str) -> String {
    let response = admin
        .post("/api/v1/users", json!({ "email": email, "role": role, "password": PASSWORD }))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED, "create {email}");
    let body: Value = response.json().await.unwrap();
    body["id"].as_str().unwrap().to_string()
}

/// Polls the embed endpoint until the token is refused with `TokenRevoked`; fails after 1 s.
async fn assert_revoked_within_a_second(app: &TestApp, token: &str, report: &str, what: &str) {
    let started = Instant::now();
    loop {
        let response = embed(app, token, report).await;
        if response.status() == StatusCode::UNAUTHORIZED {
            expect_error(response, StatusCode::UNAUTHORIZED, "TokenRevoked").await;
            break;
        }
        assert_eq!(response.status(), StatusCode::OK, "{what}");
        assert!(started.elapsed() < StdDuration::from_secs(1), "{what}: still accepted after 1 s");
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
    assert!(started.elapsed() < StdDuration::from_secs(1), "{what}: refused only after 1 s");
}

async fn embed_json(app: &TestApp, token: &str, report: &str) -> Value {
    let response = embed(app, token, report).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

const VISITS_CSV: &[u8] =
    b"city,visits,day\nOslo,3,2024-01-01\nBergen,5,2024-01-02\nOslo,4,2024-01-03\n";

#[tokio::test]
async fn a_viewers_token_reads_the_pages_and_every_visual_of_sales_overview_consistently() {
    let app = spawn_app().await;
    let viewer = app.sign_in(VIEWER).await;
    let report = report_id(&viewer, "Sales overview").await;
    let token = token_for(&viewer, &report).await;

    let body = embed_json(&app, &token, &report).await;
    let definition = &body["definition"];
    let keys: Vec<&String> = definition.as_object().expect("definition").keys().collect();
    assert_eq!(keys, ["pages", "rowLevelSecurity"], "no dataset id, no roles: {definition}");
    assert_eq!(definition["rowLevelSecurity"], false);
    let pages = definition["pages"].as_array().unwrap();
    let page_ids: Vec<&str> = pages.iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(page_ids, ["overview", "products"]);
    assert_eq!(pages[0]["slicers"][0], json!({ "column": "region", "title": "Region" }));

    // Every visual of every page answers rows shaped like its definition.
    let mut results = std::collections::HashMap::new();
    let mut count = 0;
    for page in pages {
        let page_id = page["id"].as_str().unwrap();
        for definition in page["visuals"].as_array().unwrap() {
            let id = definition["id"].as_str().unwrap();
            let result = visual(&app, &token, &report, page_id, id).await;
            let measures = definition["measures"].as_array().unwrap();
            let dimension = &definition["dimension"];
            let width = measures.len() + usize::from(!dimension.is_null());
            let columns = result["columns"].as_array().unwrap();
            assert_eq!(columns.len(), width, "{page_id}/{id}: {result}");
            if !dimension.is_null() {
                assert_eq!(columns[0]["name"], dimension["column"], "{page_id}/{id}");
            }
            for (i, measure) in measures.iter().enumerate() {
                let column = &columns[width - measures.len() + i];
                assert_eq!(column["label"], measure["label"], "{page_id}/{id}");
                assert_eq!(column["name"], measure["column"], "{page_id}/{id}");
            }
            assert!(!rows(&result).is_empty(), "{page_id}/{id} answered no rows");
            assert!(rows(&result).iter().all(|r| r.as_array().unwrap().len() == width));
            assert_eq!(result["truncated"], false, "{page_id}/{id}");
            if matches!(definition["type"].as_str(), Some("bar" | "donut" | "table")) {
                let first: Vec<f64> = rows(&result).iter().map(|r| number(&r[1])).collect();
                assert!(first.windows(2).all(|w| w[0] >= w[1]), "{page_id}/{id} largest first");
            }
            results.insert(format!("{page_id}/{id}"), result);
            count += 1;
        }
    }
    assert_eq!(count, 9, "every visual of both pages");

    let revenue = card(&results["overview/revenue"]);
    assert!(revenue > 0.0);
    for (key, column) in [
        ("overview/by-region", 1),
        ("overview/by-channel", 1),
        ("overview/trend", 1),
        ("products/by-category", 1),
        ("products/top-products", 1),
    ] {
        let total = column_total(&results[key], column);
        assert!(close(total, revenue), "{key}: {total} ≠ card {revenue}");
    }
    let units = card(&results["overview/units"]);
    assert_eq!(results["overview/units"]["rows"][0][0].as_i64(), Some(units as i64), "integer");
    assert_eq!(column_total(&results["products/by-country"], 1), units);
    assert_eq!(column_total(&results["products/top-products"], 2), units);
    assert_eq!(card(&results["overview/orders"]), TEST_ROWS as f64, "a count of every row");
    let costs = column_total(&results["products/top-products"], 3);
    assert!(costs > 0.0 && costs < revenue, "cost {costs} below revenue {revenue}");

    assert_eq!(label_set(&results["overview/by-region"]), set(&REGIONS));
    assert_eq!(label_set(&results["overview/by-channel"]), set(&CHANNELS));
    assert_eq!(label_set(&results["products/by-category"]), set(&CATEGORIES));
    assert_eq!(rows(&results["products/by-country"]).len(), 15);
    assert_eq!(rows(&results["products/top-products"]).len(), 20, "all 20 products");

    let kinds = |key: &str| -> Vec<String> {
        results[key]["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["kind"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(kinds("overview/trend"), ["date", "decimal"]);
    assert_eq!(kinds("overview/by-region"), ["text", "decimal"]);
    assert_eq!(kinds("overview/orders"), ["integer"]);
    assert_eq!(kinds("products/top-products"), ["text", "decimal", "integer", "decimal"]);

    // The line is in date order: one point per month of the three years.
    let months = labels(&results["overview/trend"]);
    assert_eq!(months.len(), 36, "{months:?}");
    assert!(months.windows(2).all(|w| w[0] < w[1]), "line not ordered by date: {months:?}");
    assert_eq!((months[0].as_str(), months[35].as_str()), ("2023-01-01", "2025-12-01"));

    // A filter narrows every visual the same way.
    let north = value_of(&results["overview/by-region"], "North");
    let filters = json!([{ "column": "region", "values": ["North"] }]);
    let body = json!({ "page": "overview", "visual": "revenue", "filters": filters });
    assert!(close(card(&run(&app, &token, &report, body).await), north));
    let body = json!({ "page": "overview", "visual": "by-channel", "filters": filters });
    assert!(close(column_total(&run(&app, &token, &report, body).await, 1), north));
    let two = json!([{ "column": "region", "values": ["North", "South"] }]);
    let body = json!({ "page": "overview", "visual": "by-region", "filters": two });
    assert_eq!(label_set(&run(&app, &token, &report, body).await), set(&["North", "South"]));
}

/// `definition` with one page `main` of the cards `visuals` (id, column, aggregate).
fn cards(dataset: &str, visuals: &[(&str, &str, &str)]) -> Value {
    let visuals: Vec<Value> = visuals
        .iter()
        .map(|(id, column, agg)| {
            json!({ "id": id, "type": "card", "title": id,
                    "measures": [{ "column": column, "agg": agg }] })
        })
        .collect();
    json!({ "dataset": dataset, "pages": [{ "id": "main", "title": "Main", "visuals": visuals }] })
}

#[tokio::test]
async fn a_kept_report_is_forgotten_when_saved_here_and_read_again_when_a_query_names_what_it_lacks()
 {
    let app = spawn_app().await;
    // Queries keep the report they read: with an hour instead of a second, only forgetting or
    // reading again can explain a change being seen.
    app.state.reads.keep_reads_for(StdDuration::from_secs(3600));
    let contributor = app.sign_in(CONTRIBUTOR).await;
    let uploaded =
        upload(&contributor, "Visits", "v.csv", b"city,visits\nOslo,3\nBergen,5\n").await;
    let dataset = uploaded.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let report = card_report(&contributor, "Visits", &dataset, "visits").await;
    let token = token_for(&contributor, &report).await;
    let total =
        || async { visual(&app, &token, &report, "main", "total").await["rows"][0][0].clone() };
    assert_eq!(total().await, 8);

    // Saved on this node: forgotten at once.
    let counting = cards(&dataset, &[("total", "visits", "count")]);
    let saved =
        put_json(&contributor, &format!("/api/v1/reports/{report}/definition"), counting).await;
    assert_eq!(saved.status(), StatusCode::OK);
    assert_eq!(total().await, 2, "the definition saved here counts");

    // Saved by another node whose change this node has not heard of yet: written to the
    // store directly, behind this node's back.
    let id: vitrine_core::ReportId = report.parse().unwrap();
    let org = app.store.organization_of_report(id).await.unwrap();
    let actor = vitrine_store::Actor::system(app.clock_now());
    let elsewhere =
        cards(&dataset, &[("total", "visits", "sum"), ("cities", "city", "countDistinct")]);
    app.store.set_report_definition(org, &actor, id, Some(&elsewhere)).await.unwrap();
    assert_eq!(total().await, 2, "within its second, the kept report answers");
    let cities = visual(&app, &token, &report, "main", "cities").await;
    assert_eq!(cities["rows"][0][0], 2, "a visual the kept report lacks: read again, not refused");
    assert_eq!(total().await, 8, "and the report read again answers from then on");
    let unknown =
        query(&app, &token, &report, &json!({ "page": "main", "visual": "nowhere" })).await;
    expect_invalid(unknown, "visual").await;
}

#[tokio::test]
async fn row_level_security_shows_the_regional_user_only_north_whatever_they_filter() {
    let app = spawn_app().await;
    let regional = app.sign_in(REGIONAL).await;
    let viewer = app.sign_in(VIEWER).await;
    let report = report_id(&regional, "Regional performance").await;
    let token = token_for(&regional, &report).await;
    let everything = token_for(&viewer, &report).await;

    let body = embed_json(&app, &token, &report).await;
    assert_eq!(body["definition"]["rowLevelSecurity"], true);
    assert_eq!(body["definition"].as_object().unwrap().len(), 2, "{body}");
    let text = body.to_string();
    assert!(
        !text.contains("Own region") && !text.contains("attribute"),
        "RLS rules stay on the server: {text}"
    );

    // viewer@ holds "All regions" through their groups: every region, every country.
    let all_regions = visual(&app, &everything, &report, "region", "by-region").await;
    assert_eq!(label_set(&all_regions), set(&REGIONS));
    let all_countries = visual(&app, &everything, &report, "region", "by-country").await;
    assert_eq!(rows(&all_countries).len(), 15);
    let north_revenue = value_of(&all_regions, "North");
    let north_cost = {
        let filters = json!([{ "column": "region", "values": ["North"] }]);
        card(
            &run(
                &app,
                &everything,
                &report,
                json!({ "page": "region", "visual": "margin", "filters": filters }),
            )
            .await,
        )
    };
    let total = column_total(&all_regions, 1);
    assert!(north_revenue > 0.0 && north_revenue < total / 2.0);

    // regional@ sees North, and only North, in every visual of both pages.
    let by_region = visual(&app, &token, &report, "region", "by-region").await;
    assert_eq!(labels(&by_region), ["North"]);
    assert!(close(value_of(&by_region, "North"), north_revenue));
    let by_country = visual(&app, &token, &report, "region", "by-country").await;
    assert_eq!(label_set(&by_country), set(&NORTH_COUNTRIES));
    assert!(close(card(&visual(&app, &token, &report, "region", "revenue").await), north_revenue));
    assert!(close(card(&visual(&app, &token, &report, "region", "margin").await), north_cost));
    let trend = visual(&app, &token, &report, "region", "trend").await;
    assert_eq!(rows(&trend).len(), 12, "twelve quarters");
    assert!(close(column_total(&trend, 1), north_revenue));
    let by_product = visual(&app, &token, &report, "margin", "by-product").await;
    assert!(close(column_total(&by_product, 1), north_revenue));
    assert!(close(column_total(&by_product, 2), north_cost));
    let by_channel = visual(&app, &token, &report, "margin", "by-channel").await;
    assert!(close(column_total(&by_channel, 1), north_revenue));

    // Forged filters narrow within the user's rows; they never widen them.
    let south = json!([{ "column": "region", "values": ["South"] }]);
    for (page, id) in [
        ("region", "by-region"),
        ("region", "by-country"),
        ("region", "revenue"),
        ("region", "margin"),
        ("region", "trend"),
        ("margin", "by-product"),
        ("margin", "by-channel"),
    ] {
        let body = json!({ "page": page, "visual": id, "filters": south });
        let response = query(&app, &token, &report, &body).await;
        if page == "margin" {
            // region is not filterable on the margin page: refused, not applied.
            expect_invalid(response, "filters").await;
            continue;
        }
        assert_eq!(response.status(), StatusCode::OK, "{page}/{id}");
        let result: Value = response.json().await.unwrap();
        assert_nothing(&result, &format!("{page}/{id} filtered to South"));
    }
    let wider =
        json!([{ "column": "region", "values": ["North", "South", "East", "West", "Central"] }]);
    let body = json!({ "page": "region", "visual": "by-region", "filters": wider });
    assert_eq!(labels(&run(&app, &token, &report, body).await), ["North"]);
    let empty = json!([{ "column": "region", "values": [] }]);
    let body = json!({ "page": "region", "visual": "by-region", "filters": empty });
    assert_eq!(labels(&run(&app, &token, &report, body).await), ["North"]);
    let body = json!({ "page": "region", "slicer": "channel", "filters": south });
    assert_eq!(rows(&run(&app, &token, &report, body).await).len(), 0, "no South channels");
}

#[tokio::test]
async fn without_an_rls_role_nobody_reads_the_report_not_even_an_administrator() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let report = report_id(&admin, "Regional performance").await;
    let sales = report_id(&admin, "Sales overview").await;

    let roleless = create_user(&admin, "roleless@example.com", "Viewer").await;
    let grant = format!("/api/v1/reports/{report}/access/users/{roleless}");
    assert_eq!(admin.put(&grant).await.status(), StatusCode::NO_CONTENT);
    let session = app.sign_in("roleless@example.com").await;
    let token = token_for(&session, &report).await;
    assert_eq!(claims(&token)["rls"]["roles"], json!([]));
    assert_eq!(embed(&app, &token, &report).await.status(), StatusCode::OK, "the report opens");
    for body in [
        json!({ "page": "region", "visual": "revenue" }),
        json!({ "page": "region", "visual": "by-region" }),
        json!({ "page": "margin", "visual": "by-product" }),
        json!({ "page": "region", "slicer": "channel" }),
    ] {
        let response = query(&app, &token, &report, &body).await;
        let challenge = response.headers().get("www-authenticate").cloned();
        expect_error(response, StatusCode::FORBIDDEN, "NoRlsRole").await;
        let challenge = challenge.expect("WWW-Authenticate").to_str().unwrap().to_string();
        assert!(challenge.contains("insufficient_scope"), "{challenge}");
    }

    // A fresh administrator in no group opens every report, but holds no role of this one.
    create_user(&admin, "second.admin@example.com", "Admin").await;
    let second = app.sign_in("second.admin@example.com").await;
    let token = token_for(&second, &report).await;
    assert_eq!(claims(&token)["rls"]["roles"], json!([]));
    let body = json!({ "page": "region", "visual": "by-region" });
    expect_error(query(&app, &token, &report, &body).await, StatusCode::FORBIDDEN, "NoRlsRole")
        .await;
    // A report without row-level security stays open to them.
    let token = token_for(&second, &sales).await;
    let result = visual(&app, &token, &sales, "overview", "by-region").await;
    assert_eq!(label_set(&result), set(&REGIONS));

    // admin@ holds "All regions" through Executives and sees every region.
    let token = token_for(&admin, &report).await;
    assert_eq!(claims(&token)["rls"]["roles"], json!(["All regions"]));
    let result = visual(&app, &token, &report, "region", "by-region").await;
    assert_eq!(label_set(&result), set(&REGIONS));
}

#[tokio::test]
async fn changing_a_users_rls_revokes_their_tokens_and_new_tokens_carry_the_change() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let regional = app.sign_in(REGIONAL).await;
    let viewer = app.sign_in(VIEWER).await;
    let regional_id = admin.id_of("/api/v1/users", "email", REGIONAL).await;
    let report = report_id(&admin, "Regional performance").await;
    let token = token_for(&regional, &report).await;
    let bystander = token_for(&viewer, &report).await;
    let rls = claims(&token)["rls"].clone();
    assert_eq!(rls["roles"], json!(["Own region"]));
    assert_eq!(rls["attributes"], json!({ "region": "North" }));
    let path = format!("/api/v1/users/{regional_id}/rls");
    let current = admin.json(&path).await;
    assert_eq!(current["roles"], json!(["Own region"]));
    assert_eq!(current["attributes"], json!({ "region": "North" }));

    // Saving the same assignment changes nothing and takes nothing back.
    let same = json!({ "roles": ["Own region"], "attributes": { "region": "North" } });
    assert_eq!(put_json(&admin, &path, same).await.status(), StatusCode::OK);
    tokio::time::sleep(StdDuration::from_millis(200)).await;
    assert_eq!(embed(&app, &token, &report).await.status(), StatusCode::OK, "unchanged: kept");

    let south = json!({ "roles": ["Own region"], "attributes": { "region": "South" } });
    let response = put_json(&admin, &path, south.clone()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap(), south);
    assert_revoked_within_a_second(&app, &token, &report, "attribute changed").await;
    let body = json!({ "page": "region", "visual": "by-region" });
    expect_error(
        query(&app, &token, &report, &body).await,
        StatusCode::UNAUTHORIZED,
        "TokenRevoked",
    )
    .await;
    assert_eq!(
        embed(&app, &bystander, &report).await.status(),
        StatusCode::OK,
        "others keep theirs"
    );

    let fresh = token_for(&regional, &report).await;
    assert_eq!(claims(&fresh)["rls"]["attributes"], json!({ "region": "South" }));
    assert_eq!(claims(&fresh)["rls"]["roles"], json!(["Own region"]));
    assert_eq!(labels(&visual(&app, &fresh, &report, "region", "by-region").await), ["South"]);

    // A role whose attribute the user lacks matches no row (not every row).
    let bare = json!({ "roles": ["Own region"], "attributes": {} });
    assert_eq!(put_json(&admin, &path, bare).await.status(), StatusCode::OK);
    assert_revoked_within_a_second(&app, &fresh, &report, "attribute removed").await;
    let fresh = token_for(&regional, &report).await;
    assert_eq!(claims(&fresh)["rls"]["attributes"], json!({}));
    let result = visual(&app, &fresh, &report, "region", "by-region").await;
    assert_nothing(&result, "role without its attribute");
    assert_nothing(&visual(&app, &fresh, &report, "region", "revenue").await, "card");

    // Roles taken away: NoRlsRole with the new token.
    assert_eq!(put_json(&admin, &path, json!({ "roles": [] })).await.status(), StatusCode::OK);
    assert_revoked_within_a_second(&app, &fresh, &report, "roles removed").await;
    let fresh = token_for(&regional, &report).await;
    assert_eq!(claims(&fresh)["rls"]["roles"], json!([]));
    expect_error(query(&app, &fresh, &report, &body).await, StatusCode::FORBIDDEN, "NoRlsRole")
        .await;

    // Bad input changes nothing; viewers may not touch RLS.
    let message =
        expect_invalid(put_json(&admin, &path, json!({ "roles": "All regions" })).await, "roles")
            .await;
    assert!(message.contains("roles"), "{message}");
    let nested = json!({ "attributes": { "region": { "name": "North" } } });
    expect_invalid(put_json(&admin, &path, nested).await, "attributes").await;
    expect_invalid(put_json(&admin, &path, json!({ "groups": [] })).await, "groups").await;
    assert_eq!(admin.json(&path).await["roles"], json!([]));
    let refused = put_json(&viewer, &path, json!({ "roles": ["All regions"] })).await;
    expect_error(refused, StatusCode::FORBIDDEN, "Forbidden").await;
    expect_error(viewer.get(&path).await, StatusCode::FORBIDDEN, "Forbidden").await;
    assert_eq!(embed(&app, &bystander, &report).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn changing_a_groups_rls_revokes_its_members_tokens_and_only_theirs() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let viewer = app.sign_in(VIEWER).await;
    let contributor = app.sign_in(CONTRIBUTOR).await;
    let regional = app.sign_in(REGIONAL).await;
    let report = report_id(&admin, "Regional performance").await;
    let sales_team = admin.id_of("/api/v1/groups", "name", "Sales team").await;
    let viewer_token = token_for(&viewer, &report).await;
    let contributor_token = token_for(&contributor, &report).await;
    let outsider = token_for(&regional, &report).await;
    assert_eq!(claims(&contributor_token)["rls"]["roles"], json!(["All regions"]));

    let path = format!("/api/v1/groups/{sales_team}/rls");
    assert_eq!(admin.json(&path).await, json!({ "roles": ["All regions"], "attributes": {} }));
    let east = json!({ "roles": ["Own region"], "attributes": { "region": "East" } });
    let response = put_json(&admin, &path, east.clone()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(admin.json(&path).await, east);
    assert_revoked_within_a_second(&app, &viewer_token, &report, "viewer's group changed").await;
    assert_revoked_within_a_second(&app, &contributor_token, &report, "contributor's group").await;
    assert_eq!(embed(&app, &outsider, &report).await.status(), StatusCode::OK, "not a member");

    // contributor@ is only in Sales team: East now.
    let fresh = token_for(&contributor, &report).await;
    assert_eq!(claims(&fresh)["rls"]["roles"], json!(["Own region"]));
    assert_eq!(claims(&fresh)["rls"]["attributes"], json!({ "region": "East" }));
    assert_eq!(labels(&visual(&app, &fresh, &report, "region", "by-region").await), ["East"]);
    // viewer@ still holds "All regions" through Operations; roles widen, they do not narrow.
    let fresh = token_for(&viewer, &report).await;
    let rls = &claims(&fresh)["rls"];
    assert_eq!(rls["roles"], json!(["All regions", "Own region"]));
    assert_eq!(rls["attributes"], json!({ "region": "East" }));
    let result = visual(&app, &fresh, &report, "region", "by-region").await;
    assert_eq!(label_set(&result), set(&REGIONS));

    let refused = put_json(&viewer, &path, json!({ "roles": [] })).await;
    expect_error(refused, StatusCode::FORBIDDEN, "Forbidden").await;
    let acme = app.sign_in(ACME_ADMIN).await;
    expect_error(
        put_json(&acme, &path, json!({ "roles": [] })).await,
        StatusCode::NOT_FOUND,
        "NotFound",
    )
    .await;
    assert_eq!(admin.json(&path).await, east, "refused changes change nothing");
}

#[tokio::test]
async fn definitions_are_checked_against_the_dataset_and_a_refused_one_saves_nothing() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let report = report_id(&admin, "Sales overview").await;
    let path = format!("/api/v1/reports/{report}/definition");
    let original = admin.json(&path).await;
    assert_eq!(original["pages"][0]["visuals"][1]["measures"][0]["column"], "units");

    let mut typo = original.clone();
    typo["pages"][0]["visuals"][1]["measures"][0]["column"] = json!("revenu");
    let message = expect_invalid(put_json(&admin, &path, typo).await, "definition").await;
    assert!(
        message.contains("pages[0].visuals[1].measures[0].column")
            && message.contains("unknown column `revenu`"),
        "{message}"
    );
    assert!(message.contains("revenue"), "lists the dataset's columns: {message}");

    let mut slicer = original.clone();
    slicer["pages"][1]["slicers"][0]["column"] = json!("segment");
    let message = expect_invalid(put_json(&admin, &path, slicer).await, "definition").await;
    assert!(message.contains("pages[1].slicers[0].column") && message.contains("`segment`"));

    let mut median = original.clone();
    median["pages"][0]["visuals"][0]["measures"][0]["agg"] = json!("median");
    let message = expect_invalid(put_json(&admin, &path, median).await, "definition").await;
    assert!(message.contains("median"), "{message}");

    let mut gauge = original.clone();
    gauge["pages"][0]["visuals"][0]["type"] = json!("gauge");
    let message = expect_invalid(put_json(&admin, &path, gauge).await, "definition").await;
    assert!(message.contains("gauge"), "{message}");

    let mut text_sum = original.clone();
    text_sum["pages"][0]["visuals"][0]["measures"][0]["column"] = json!("region");
    let message = expect_invalid(put_json(&admin, &path, text_sum).await, "definition").await;
    assert!(message.contains("pages[0].visuals[0].measures[0].agg"), "{message}");

    let mut foreign_dataset = original.clone();
    foreign_dataset["dataset"] = json!("0190b6a4-0000-7000-8000-000000000000");
    let message =
        expect_invalid(put_json(&admin, &path, foreign_dataset).await, "definition").await;
    assert!(message.contains("dataset"), "{message}");

    let regional = report_id(&admin, "Regional performance").await;
    let regional_path = format!("/api/v1/reports/{regional}/definition");
    let regional_original = admin.json(&regional_path).await;
    let mut role = regional_original.clone();
    role["roles"][1]["filters"][0]["column"] = json!("zone");
    let message = expect_invalid(put_json(&admin, &regional_path, role).await, "definition").await;
    assert!(message.contains("roles[1].filters[0].column") && message.contains("`zone`"));

    let not_json = admin
        .client
        .put(app.url(&path))
        .header("X-CSRF-Token", &admin.csrf)
        .header("Content-Type", "application/json")
        .body("{\"pages\": [")
        .send()
        .await
        .unwrap();
    expect_invalid(not_json, "definition").await;
    expect_invalid(put_json(&admin, &path, json!([])).await, "definition").await;

    assert_eq!(admin.json(&path).await, original, "nothing refused was saved");
    assert_eq!(admin.json(&regional_path).await, regional_original);

    // Viewers neither read nor write definitions; other organizations do not see them.
    let viewer = app.sign_in(VIEWER).await;
    expect_error(
        put_json(&viewer, &path, original.clone()).await,
        StatusCode::FORBIDDEN,
        "Forbidden",
    )
    .await;
    expect_error(viewer.get(&path).await, StatusCode::FORBIDDEN, "Forbidden").await;
    let acme = app.sign_in(ACME_ADMIN).await;
    expect_error(acme.get(&path).await, StatusCode::NOT_FOUND, "NotFound").await;
    expect_error(put_json(&acme, &path, original.clone()).await, StatusCode::NOT_FOUND, "NotFound")
        .await;

    // Acme has no dataset: Northwind's is not theirs to use.
    let acme_report = report_id(&acme, "Acme KPIs").await;
    let acme_path = format!("/api/v1/reports/{acme_report}/definition");
    expect_error(acme.get(&acme_path).await, StatusCode::NOT_FOUND, "NotFound").await;
    let message =
        expect_invalid(put_json(&acme, &acme_path, original.clone()).await, "definition").await;
    assert!(
        message.contains("dataset") && message.contains(original["dataset"].as_str().unwrap()),
        "{message}"
    );
    expect_error(acme.get(&acme_path).await, StatusCode::NOT_FOUND, "NotFound").await;
    // And its embed answers no definition, and queries say so without a server error.
    let token = token_for(&acme, &acme_report).await;
    assert_eq!(embed_json(&app, &token, &acme_report).await["definition"], Value::Null);
    let body = json!({ "page": "overview", "visual": "revenue" });
    expect_error(query(&app, &token, &acme_report, &body).await, StatusCode::NOT_FOUND, "NotFound")
        .await;
    assert_eq!(admin.json(&path).await, original);
}

#[tokio::test]
async fn a_valid_definition_change_is_saved_and_served_through_the_embed_endpoint() {
    let app = spawn_app().await;
    let contributor = app.sign_in(CONTRIBUTOR).await;
    let viewer = app.sign_in(VIEWER).await;
    let report = report_id(&contributor, "Sales overview").await;
    let path = format!("/api/v1/reports/{report}/definition");
    let mut definition = contributor.json(&path).await;
    definition["pages"][0]["title"] = json!("At a glance");
    definition["pages"][0]["visuals"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "id": "average", "type": "card", "title": "Average sale",
                      "measures": [{ "column": "revenue", "agg": "avg", "label": "Average" }] }));
    definition["pages"][1]["visuals"][1]["limit"] = json!(5);
    let response = put_json(&contributor, &path, definition.clone()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap(), definition);
    assert_eq!(contributor.json(&path).await, definition);

    let token = token_for(&viewer, &report).await;
    let body = embed_json(&app, &token, &report).await;
    assert_eq!(body["definition"]["pages"][0]["title"], "At a glance");
    assert_eq!(body["definition"]["pages"][0]["visuals"][6]["id"], "average");
    let average = visual(&app, &token, &report, "overview", "average").await;
    assert_eq!(
        average["columns"][0],
        json!({ "name": "revenue", "label": "Average", "kind": "decimal" })
    );
    let revenue = card(&visual(&app, &token, &report, "overview", "revenue").await);
    assert!(close(card(&average) * TEST_ROWS as f64, revenue), "avg × rows = sum");
    let top = visual(&app, &token, &report, "products", "top-products").await;
    assert_eq!(rows(&top).len(), 5);
    assert_eq!(top["truncated"], true, "20 products cut to 5");

    // A visual that was removed is no longer queryable.
    let mut fewer = definition.clone();
    fewer["pages"][0]["visuals"].as_array_mut().unwrap().retain(|v| v["id"] != "orders");
    assert_eq!(put_json(&contributor, &path, fewer).await.status(), StatusCode::OK);
    let body = json!({ "page": "overview", "visual": "orders" });
    expect_invalid(query(&app, &token, &report, &body).await, "visual").await;
}

#[tokio::test]
async fn contributors_upload_datasets_that_reports_use_and_other_organizations_never_see() {
    let app = spawn_app().await;
    let contributor = app.sign_in(CONTRIBUTOR).await;
    let response = upload(&contributor, "Visits", "visits.csv", VISITS_CSV).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let dataset: Value = response.json().await.unwrap();
    assert_eq!(dataset["name"], "Visits");
    assert_eq!(dataset["format"], "parquet", "a CSV upload is kept as Parquet");
    assert_eq!(dataset["rowCount"], 3);
    assert_eq!(
        dataset["columns"],
        json!([{ "name": "city", "kind": "text" }, { "name": "visits", "kind": "integer" },
               { "name": "day", "kind": "date" }])
    );
    let id = dataset["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/datasets/{id}");
    assert_eq!(contributor.json(&path).await, dataset);
    let listed = contributor.json("/api/v1/datasets").await;
    let names: BTreeSet<&str> =
        listed.as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert_eq!(names, BTreeSet::from(["Sales", "Visits"]));
    let file = common::version_file(&app, &id, 1);
    assert!(file.exists(), "kept in the data directory");

    // A report on it.
    let created = contributor.post("/api/v1/reports", json!({ "name": "Visits" })).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let report = created.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let definition = json!({
        "dataset": id,
        "pages": [{ "id": "main", "title": "Visits", "slicers": [{ "column": "city" }], "visuals": [
            { "id": "total", "type": "card", "title": "Visits", "measures": [{ "column": "visits", "agg": "sum" }] },
            { "id": "by-city", "type": "bar", "title": "By city", "dimension": { "column": "city" },
              "measures": [{ "column": "visits", "agg": "sum" }] },
            { "id": "daily", "type": "line", "title": "Daily", "dimension": { "column": "day", "grain": "day" },
              "measures": [{ "column": "visits", "agg": "max" }] },
            { "id": "by-day", "type": "bar", "title": "By day", "dimension": { "column": "day" },
              "measures": [{ "column": "visits", "agg": "sum" }] },
            { "id": "by-count", "type": "table", "title": "By count", "dimension": { "column": "visits" },
              "measures": [{ "column": "city", "agg": "count" }] }
        ]}]
    });
    let saved =
        put_json(&contributor, &format!("/api/v1/reports/{report}/definition"), definition).await;
    assert_eq!(saved.status(), StatusCode::OK);
    let token = token_for(&contributor, &report).await;
    assert_eq!(card(&visual(&app, &token, &report, "main", "total").await), 12.0);
    let by_city = visual(&app, &token, &report, "main", "by-city").await;
    assert_eq!(by_city["rows"], json!([["Oslo", 7], ["Bergen", 5]]));
    assert_eq!(by_city["columns"][1]["label"], "Sum of visits");
    let daily = visual(&app, &token, &report, "main", "daily").await;
    assert_eq!(daily["rows"], json!([["2024-01-01", 3], ["2024-01-02", 5], ["2024-01-03", 4]]));
    let slicer = run(&app, &token, &report, json!({ "page": "main", "slicer": "city" })).await;
    assert_eq!(slicer["rows"], json!([["Bergen"], ["Oslo"]]));
    assert_eq!(slicer["columns"][0]["label"], "city", "no title: the column name");
    // Filters are typed by the column: text, dates and numbers.
    let filtered = |visual: &str, column: &str, values: Value| json!({ "page": "main", "visual": visual, "filters": [{ "column": column, "values": values }] });
    let oslo = run(&app, &token, &report, filtered("total", "city", json!(["Oslo"]))).await;
    assert_eq!(card(&oslo), 7.0);
    let day = run(&app, &token, &report, filtered("by-day", "day", json!(["2024-01-02"]))).await;
    assert_eq!(day["rows"], json!([["2024-01-02", 5]]));
    let count = run(&app, &token, &report, filtered("by-count", "visits", json!([5, "4"]))).await;
    assert_eq!(count["rows"], json!([[4, 1], [5, 1]]));
    for (visual, column, values) in [
        ("by-day", "day", json!(["2024-13-45"])),
        ("by-day", "day", json!(["yesterday"])),
        ("by-count", "visits", json!(["abc"])),
        ("by-count", "visits", json!([1.5])),
        ("by-count", "visits", json!(["99999999999999999999"])),
        ("by-count", "visits", json!([true])),
    ] {
        let response = query(&app, &token, &report, &filtered(visual, column, values)).await;
        let message = expect_invalid(response, "filters").await;
        assert!(message.contains(&format!("`{column}`")), "{message}");
    }

    // Refused uploads.
    let text = upload(&contributor, "Notes", "visits.txt", VISITS_CSV).await;
    expect_invalid(text, "file").await;
    let no_extension = upload(&contributor, "Notes", "visits", VISITS_CSV).await;
    expect_invalid(no_extension, "file").await;
    let not_parquet = upload(&contributor, "Notes", "visits.parquet", VISITS_CSV).await;
    expect_invalid(not_parquet, "file").await;
    let nameless = upload_parts(&contributor, &[("file", Some("visits.csv"), VISITS_CSV)]).await;
    expect_invalid(nameless, "name").await;
    let fileless = upload_parts(&contributor, &[("name", None, b"Notes")]).await;
    expect_invalid(fileless, "file").await;
    let duplicate = upload(&contributor, "Visits", "again.csv", VISITS_CSV).await;
    assert_eq!(duplicate.status(), StatusCode::CONFLICT);
    let no_csrf = contributor
        .client
        .post(app.url("/api/v1/datasets"))
        .header("Content-Type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(multipart(&[("name", None, b"Forged"), ("file", Some("f.csv"), VISITS_CSV)]))
        .send()
        .await
        .unwrap();
    expect_error(no_csrf, StatusCode::FORBIDDEN, "CsrfRejected").await;
    let viewer = app.sign_in(VIEWER).await;
    let refused = upload(&viewer, "Mine", "mine.csv", VISITS_CSV).await;
    expect_error(refused, StatusCode::FORBIDDEN, "Forbidden").await;
    expect_error(viewer.get("/api/v1/datasets").await, StatusCode::FORBIDDEN, "Forbidden").await;
    expect_error(viewer.get(&path).await, StatusCode::FORBIDDEN, "Forbidden").await;
    let after = contributor.json("/api/v1/datasets").await;
    assert_eq!(after.as_array().unwrap().len(), 2, "nothing refused was stored: {after}");

    // Another organization can neither see, use nor delete it.
    let acme = app.sign_in(ACME_ADMIN).await;
    assert_eq!(acme.json("/api/v1/datasets").await, json!([]));
    expect_error(acme.get(&path).await, StatusCode::NOT_FOUND, "NotFound").await;
    expect_error(acme.delete(&path).await, StatusCode::NOT_FOUND, "NotFound").await;
    let acme_report = report_id(&acme, "Acme KPIs").await;
    let stolen = json!({ "dataset": id, "pages": [{ "id": "p", "title": "P", "visuals": [
        { "id": "v", "type": "card", "title": "V", "measures": [{ "column": "visits", "agg": "sum" }] }] }] });
    let acme_path = format!("/api/v1/reports/{acme_report}/definition");
    let message = expect_invalid(put_json(&acme, &acme_path, stolen).await, "definition").await;
    assert!(message.contains("dataset"), "{message}");
    assert_eq!(contributor.json(&path).await, dataset, "still there");

    // Deleting it.
    expect_error(viewer.delete(&path).await, StatusCode::FORBIDDEN, "Forbidden").await;
    assert_eq!(contributor.delete(&path).await.status(), StatusCode::NO_CONTENT);
    expect_error(contributor.get(&path).await, StatusCode::NOT_FOUND, "NotFound").await;
    expect_error(contributor.delete(&path).await, StatusCode::NOT_FOUND, "NotFound").await;
    assert!(!file.exists(), "its file is removed");
    assert_eq!(dataset_names(&contributor).await, [json!("Sales")]);
    // The report that used it answers an error, not a server failure.
    let response =
        query(&app, &token, &report, &json!({ "page": "main", "visual": "total" })).await;
    assert!(response.status().is_client_error(), "{}", response.status());
}

#[tokio::test]
async fn query_input_is_validated_and_never_makes_the_server_fail() {
    let app = spawn_app().await;
    let viewer = app.sign_in(VIEWER).await;
    let report = report_id(&viewer, "Sales overview").await;
    let token = token_for(&viewer, &report).await;
    let q = |body: Value| {
        let (app, token, report) = (&app, token.clone(), report.clone());
        async move { query(app, &token, &report, &body).await }
    };

    let message =
        expect_invalid(q(json!({ "page": "nope", "visual": "revenue" })).await, "page").await;
    assert!(message.contains("nope"), "{message}");
    let message =
        expect_invalid(q(json!({ "page": "overview", "visual": "nope" })).await, "visual").await;
    assert!(message.contains("nope"), "{message}");
    // A visual of another page is not on this one.
    expect_invalid(q(json!({ "page": "overview", "visual": "top-products" })).await, "visual")
        .await;
    expect_invalid(q(json!({ "page": "overview", "slicer": "product" })).await, "slicer").await;
    expect_invalid(q(json!({ "page": "overview", "slicer": "category" })).await, "slicer").await;

    let filter = |column: &str, values: Value| json!({ "page": "overview", "visual": "by-region", "filters": [{ "column": column, "values": values }] });
    let message = expect_invalid(q(filter("revenue", json!([100]))).await, "filters").await;
    assert!(message.contains("revenue"), "{message}");
    // The line's grouped date and the other page's dimensions are not filters here.
    expect_invalid(q(filter("date", json!(["2024-01-01"]))).await, "filters").await;
    expect_invalid(q(filter("product", json!(["Helmet"]))).await, "filters").await;
    expect_invalid(q(filter("nonexistent", json!(["x"]))).await, "filters").await;
    expect_invalid(q(filter("region", json!([{ "name": "North" }]))).await, "filters").await;
    expect_invalid(q(filter("region", json!([["North"]]))).await, "filters").await;
    expect_invalid(q(filter("region", json!([null]))).await, "filters").await;
    expect_invalid(q(filter("region", json!(["North", { "$ne": "x" }]))).await, "filters").await;
    let many: Vec<String> = (0..1001).map(|i| format!("r{i}")).collect();
    expect_invalid(q(filter("region", json!(many))).await, "filters").await;
    let twenty_one: Vec<Value> =
        (0..21).map(|_| json!({ "column": "region", "values": ["North"] })).collect();
    let body = json!({ "page": "overview", "visual": "revenue", "filters": twenty_one });
    expect_invalid(q(body).await, "filters").await;

    // Exactly one of visual and slicer.
    let both = json!({ "page": "overview", "visual": "revenue", "slicer": "region" });
    let response = q(both).await;
    expect_error(response, StatusCode::BAD_REQUEST, "InvalidInput").await;
    let neither = q(json!({ "page": "overview" })).await;
    expect_error(neither, StatusCode::BAD_REQUEST, "InvalidInput").await;

    // Malformed bodies are refused as input; none of them is a server failure.
    let bodies = [
        json!({ "page": "overview", "visual": "revenue", "colour": "red" }),
        json!({ "visual": "revenue" }),
        json!({ "page": 1, "visual": "revenue" }),
        json!({ "page": null, "visual": "revenue" }),
        json!({ "page": "overview", "visual": ["revenue"] }),
        json!({ "page": "overview", "visual": "revenue", "filters": null }),
        json!({ "page": "overview", "visual": "revenue", "filters": { "region": "North" } }),
        json!({ "page": "overview", "visual": "revenue", "filters": [{ "column": "region" }] }),
        json!({ "page": "overview", "visual": "revenue", "filters": [{ "column": "region", "values": "North" }] }),
        json!({ "page": "overview", "visual": "revenue", "filters": [{ "column": "region", "values": ["North"], "op": "ne" }] }),
        json!({ "page": "overview", "visual": "revenue", "filters": ["region"] }),
        json!([]),
        json!("overview"),
    ];
    for body in bodies {
        let response = q(body.clone()).await;
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} → {answer}");
        assert_eq!(answer["error"]["code"], "InvalidInput", "{body} → {answer}");
    }
    // Odd but well-formed values match nothing; none of them fails the server.
    let region = |values: Value| json!({ "page": "overview", "visual": "by-region", "filters": [{ "column": "region", "values": values }] });
    let hostile = [
        region(json!(["' OR 1=1 --"])),
        region(json!(["North') OR ('1'='1"])),
        region(json!([1e308, -0, true, 12.5])),
        region(json!(["\u{0}", "North\"", "", " North"])),
        json!({ "page": "overview", "visual": "by-region", "filters": [
            { "column": "region", "values": ["North"] }, { "column": "region", "values": ["South"] }] }),
    ];
    for body in hostile {
        let result = run(&app, &token, &report, body.clone()).await;
        assert_nothing(&result, &body.to_string());
    }
    for body in [
        json!({ "page": "../overview", "visual": "revenue" }),
        json!({ "page": "overview", "visual": "x".repeat(100_000) }),
        json!({ "page": "overview", "slicer": "region", "filters": [{ "column": "region", "values": [{}] }] }),
        json!({ "page": "overview", "slicer": "region", "filters": [{ "column": "revenue", "values": [1] }] }),
    ] {
        let status = q(body.clone()).await.status();
        assert!(status == StatusCode::OK || status == StatusCode::BAD_REQUEST, "{status}");
    }
    for (content_type, raw) in [
        ("application/json", "{\"page\": \"overview\", "),
        ("application/json", ""),
        ("application/json", "\u{feff}{}"),
        ("text/plain", "page=overview&visual=revenue"),
    ] {
        let response = app
            .anonymous()
            .post(app.url(&format!("/api/v1/embed/reports/{report}/query")))
            .bearer_auth(&token)
            .header("Content-Type", content_type)
            .body(raw)
            .send()
            .await
            .unwrap();
        if content_type == "text/plain" {
            // A body that does not say it is JSON is not read at all.
            let answer =
                expect_error(response, StatusCode::UNSUPPORTED_MEDIA_TYPE, "InvalidInput").await;
            assert_eq!(answer["error"]["field"], "Content-Type", "{answer}");
        } else {
            expect_invalid(response, "body").await;
        }
    }
    // Without a token, nothing is validated, let alone run.
    let response = app
        .anonymous()
        .post(app.url(&format!("/api/v1/embed/reports/{report}/query")))
        .json(&json!({ "page": "overview", "visual": "revenue" }))
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::UNAUTHORIZED, "TokenInvalid").await;
    // The valid query still works afterwards.
    assert_eq!(card(&visual(&app, &token, &report, "overview", "orders").await), TEST_ROWS as f64);
}

#[tokio::test]
async fn slicers_list_their_values_sorted_under_the_other_filters_and_rls() {
    let app = spawn_app().await;
    let viewer = app.sign_in(VIEWER).await;
    let sales = report_id(&viewer, "Sales overview").await;
    let token = token_for(&viewer, &sales).await;

    let regions =
        run(&app, &token, &sales, json!({ "page": "overview", "slicer": "region" })).await;
    assert_eq!(
        regions["columns"],
        json!([{ "name": "region", "label": "Region", "kind": "text" }])
    );
    assert_eq!(regions["rows"], json!([["Central"], ["East"], ["North"], ["South"], ["West"]]));
    assert_eq!(regions["truncated"], false);
    // A slicer ignores its own filter (so the other choices stay visible) ...
    let own = json!([{ "column": "region", "values": ["North"] }]);
    let body = json!({ "page": "overview", "slicer": "region", "filters": own });
    assert_eq!(run(&app, &token, &sales, body).await["rows"], regions["rows"]);
    // ... and honours the others.
    let body = json!({ "page": "overview", "slicer": "channel", "filters": own });
    assert_eq!(labels(&run(&app, &token, &sales, body).await), CHANNELS);
    let body = json!({ "page": "products", "slicer": "category" });
    assert_eq!(labels(&run(&app, &token, &sales, body).await), CATEGORIES);
    let body = json!({ "page": "products", "slicer": "region",
                       "filters": [{ "column": "country", "values": ["Spain", "Poland"] }] });
    assert_eq!(labels(&run(&app, &token, &sales, body).await), ["East", "South"]);

    // RLS applies to slicers too, but does not hide what the user's rows hold.
    let regional = app.sign_in(REGIONAL).await;
    let report = report_id(&regional, "Regional performance").await;
    let token = token_for(&regional, &report).await;
    let channels =
        run(&app, &token, &report, json!({ "page": "region", "slicer": "channel" })).await;
    assert_eq!(channels["columns"][0]["label"], "Channel");
    assert_eq!(labels(&channels), CHANNELS);
    let categories =
        run(&app, &token, &report, json!({ "page": "margin", "slicer": "category" })).await;
    assert_eq!(labels(&categories), CATEGORIES);
    // A channel filter narrows the regional user's visuals within North.
    let online = json!([{ "column": "channel", "values": ["Online"] }]);
    let all = card(&visual(&app, &token, &report, "region", "revenue").await);
    let body = json!({ "page": "region", "visual": "revenue", "filters": online });
    let part = card(&run(&app, &token, &report, body).await);
    assert!(part > 0.0 && part < all, "Online {part} within North {all}");
    let body = json!({ "page": "region", "visual": "by-region", "filters": online });
    assert_eq!(labels(&run(&app, &token, &report, body).await), ["North"]);
    // The region slicer is not on this report's pages.
    let body = json!({ "page": "region", "slicer": "region" });
    expect_invalid(query(&app, &token, &report, &body).await, "slicer").await;
}

// The tests below show server bugs found while writing this file; each asserts the intended
// behaviour and is ignored until the bug is fixed.

#[tokio::test]
async fn uploaded_datasets_are_dated_by_the_server_clock() {
    let app = spawn_app().await;
    let contributor = app.sign_in(CONTRIBUTOR).await;
    let response = upload(&contributor, "Visits", "visits.csv", VISITS_CSV).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let dataset: Value = response.json().await.unwrap();
    assert_eq!(
        dataset["createdAt"], "2026-03-02T09:00:00.000Z",
        "the clock every other record uses"
    );
}

#[tokio::test]
async fn an_unreadable_upload_does_not_reveal_server_paths() {
    let app = spawn_app().await;
    let contributor = app.sign_in(CONTRIBUTOR).await;
    let ragged = b"a,b\n1,2\n3\n";
    let message =
        expect_invalid(upload(&contributor, "Ragged", "ragged.csv", ragged).await, "file").await;
    let data_dir = app.data_dir().file_name().unwrap().to_string_lossy().to_string();
    assert!(!message.contains(&data_dir) && !message.contains("datasets/"), "{message}");
}

#[tokio::test]
async fn a_slicer_refuses_invalid_values_for_its_own_column() {
    let app = spawn_app().await;
    let viewer = app.sign_in(VIEWER).await;
    let report = report_id(&viewer, "Sales overview").await;
    let token = token_for(&viewer, &report).await;
    let body = json!({ "page": "overview", "slicer": "region",
                       "filters": [{ "column": "region", "values": [{ "$ne": "x" }] }] });
    expect_invalid(query(&app, &token, &report, &body).await, "filters").await;
}

#[tokio::test]
async fn query_errors_name_their_field_once_and_rightly() {
    let app = spawn_app().await;
    let viewer = app.sign_in(VIEWER).await;
    let report = report_id(&viewer, "Sales overview").await;
    let token = token_for(&viewer, &report).await;
    let body = json!({ "page": "overview", "visual": "by-region",
                       "filters": [{ "column": "revenue", "values": [1] }] });
    let message = expect_invalid(query(&app, &token, &report, &body).await, "filters").await;
    assert!(!message.starts_with("filters: filters:"), "{message}");
    for body in [
        json!({ "page": "overview", "visual": "revenue", "slicer": "region" }),
        json!({ "page": "overview" }),
    ] {
        let response = query(&app, &token, &report, &body).await;
        let error = expect_error(response, StatusCode::BAD_REQUEST, "InvalidInput").await;
        assert_ne!(error["error"]["field"], "filters", "{error}");
    }
}
