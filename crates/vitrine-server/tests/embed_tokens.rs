//! Embed tokens a host app's backend mints with an API key for its own users, who have no
//! Vitrine account: row-level security from the identity, the key's reports, revocation by
//! identity, and what is refused.

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

async fn embed_key(admin: &Session, body: Value) -> String {
    let response = admin.post("/api/v1/api-keys", body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json::<Value>().await.unwrap()["key"].as_str().unwrap().to_string()
}

async fn mint(app: &TestApp, key: &str, body: Value) -> Response {
    app.anonymous()
        .post(app.url("/api/v1/embed/tokens"))
        .header("X-API-Key", key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn minted(app: &TestApp, key: &str, body: Value) -> Value {
    let response = mint(app, key, body).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

fn claims(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

async fn query(app: &TestApp, token: &str, report: &str, body: Value) -> Response {
    app.anonymous()
        .post(app.url(&format!("/api/v1/embed/reports/{report}/query")))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// The labels of the "by region" visual of "Regional performance" as `token` sees them.
async fn regions(app: &TestApp, token: &str, report: &str) -> Vec<String> {
    let response =
        query(app, token, report, json!({ "page": "region", "visual": "by-region" })).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let mut labels: Vec<String> = body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row[0].as_str().unwrap().to_string())
        .collect();
    labels.sort();
    labels
}

/// The token audit's events for `query`, once at least `least` are written (it writes in
/// batches, in the background).
async fn token_events(admin: &Session, query: &str, least: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let events = admin.json(&format!("/api/v1/audit/tokens?{query}")).await;
        let events = events.as_array().unwrap().clone();
        if events.len() >= least || std::time::Instant::now() > deadline {
            return events;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn identity(id: &str, roles: &[&str], region: Option<&str>) -> Value {
    let mut identity = json!({ "id": id, "roles": roles });
    if let Some(region) = region {
        identity["attributes"] = json!({ "region": region });
    }
    identity
}

#[tokio::test]
async fn a_host_app_mints_tokens_for_its_user_who_sees_only_the_rows_of_their_identity() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let report = admin.id_of("/api/v1/reports", "name", "Regional performance").await;
    let key = embed_key(
        &admin,
        json!({ "name": "Customer portal", "scope": "embed", "reports": [report] }),
    )
    .await;

    let north = json!({ "reports": [report],
        "identity": { "id": "cust-42", "name": "Customer 42", "roles": ["Own region"],
                      "attributes": { "region": "North" } } });
    let answer = minted(&app, &key, north).await;
    assert_eq!(answer["expiresInSeconds"], 3600, "the organization's lifetime");
    assert!(answer["refresh"]["beforeExpirySeconds"].as_u64().is_some());
    let token = answer["token"].as_str().unwrap();
    let claims = claims(token);
    assert!(claims["sub"].as_str().unwrap().starts_with("identity:"));
    assert_eq!(claims["reports"], json!([report]));
    assert_eq!(claims["rls"]["username"], "cust-42");
    assert_eq!(regions(&app, token, &report).await, ["North"]);

    let everything = minted(
        &app,
        &key,
        json!({ "reports": [report], "identity": identity("cust-7", &["All regions"], None) }),
    )
    .await;
    assert!(regions(&app, everything["token"].as_str().unwrap(), &report).await.len() > 1);

    // No role on a report with row-level security: no rows, never all of them.
    let roleless = minted(
        &app,
        &key,
        json!({ "reports": [report], "identity": identity("cust-0", &[], None) }),
    )
    .await;
    let response = query(
        &app,
        roleless["token"].as_str().unwrap(),
        &report,
        json!({ "page": "region", "visual": "by-region" }),
    )
    .await;
    expect_error(response, StatusCode::FORBIDDEN, "NoRlsRole").await;

    let short = minted(
        &app,
        &key,
        json!({ "reports": [report], "identity": identity("cust-42", &["Own region"], Some("North")),
                "lifetimeMinutes": 10 }),
    )
    .await;
    assert_eq!(short["expiresInSeconds"], 600, "a host app may ask for shorter tokens");
    let long = minted(
        &app,
        &key,
        json!({ "reports": [report], "identity": identity("cust-42", &["Own region"], Some("North")),
                "lifetimeMinutes": 600 }),
    )
    .await;
    assert_eq!(long["expiresInSeconds"], 3600, "never longer than the organization's");

    let events = token_events(&admin, "user=cust-42", 3).await;
    assert_eq!(events.len(), 3, "every token minted for cust-42 is audited: {events:?}");
    assert!(events.iter().all(|e| e["user"] == "identity cust-42" && e["identityId"].is_string()));
    assert!(events.iter().all(|e| e["report"] == "Regional performance"));
}

#[tokio::test]
async fn tokens_are_minted_only_with_a_minting_key_and_only_for_its_reports() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let regional = admin.id_of("/api/v1/reports", "name", "Regional performance").await;
    let sales = admin.id_of("/api/v1/reports", "name", "Sales overview").await;
    let acme = app.sign_in(ACME_ADMIN).await;
    let theirs = acme.json("/api/v1/reports").await[0]["id"].as_str().unwrap().to_string();
    let listed = embed_key(
        &admin,
        json!({ "name": "Regional only", "scope": "embed", "reports": [regional] }),
    )
    .await;
    let all = embed_key(&admin, json!({ "name": "All reports", "scope": "embed" })).await;
    let admin_key = embed_key(&admin, json!({ "name": "Admin" })).await;
    let read_key = embed_key(&admin, json!({ "name": "Read", "scope": "read" })).await;
    let body = |report: &str| json!({ "reports": [report], "identity": { "id": "cust-1" } });

    assert_eq!(mint(&app, &listed, body(&regional)).await.status(), StatusCode::OK);
    expect_error(mint(&app, &listed, body(&sales)).await, StatusCode::FORBIDDEN, "NoAccess").await;
    let both = json!({ "reports": [regional, sales], "identity": { "id": "cust-1" } });
    expect_error(mint(&app, &listed, both.clone()).await, StatusCode::FORBIDDEN, "NoAccess").await;
    let answer = minted(&app, &all, both).await;
    assert_eq!(claims(answer["token"].as_str().unwrap())["reports"], json!([regional, sales]));
    assert_eq!(mint(&app, &admin_key, body(&sales)).await.status(), StatusCode::OK);

    expect_error(mint(&app, &read_key, body(&sales)).await, StatusCode::FORBIDDEN, "Forbidden")
        .await;
    let by_session = admin.post("/api/v1/embed/tokens", body(&sales)).await;
    expect_error(by_session, StatusCode::FORBIDDEN, "Forbidden").await;
    let anonymous = app.anonymous().post(app.url("/api/v1/embed/tokens")).json(&body(&sales));
    expect_error(anonymous.send().await.unwrap(), StatusCode::UNAUTHORIZED, "Unauthenticated")
        .await;
    let error = expect_error(
        mint(&app, &all, body(&theirs)).await,
        StatusCode::BAD_REQUEST,
        "InvalidInput",
    )
    .await;
    assert_eq!(error["error"]["field"], "reports", "another organization's report is no report");
    // The embed key still makes no other call.
    let other =
        app.anonymous().get(app.url("/api/v1/reports")).header("X-API-Key", &all).send().await;
    assert_eq!(other.unwrap().status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn revoking_a_host_apps_user_refuses_their_tokens_at_once_and_no_one_elses() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let report = admin.id_of("/api/v1/reports", "name", "Sales overview").await;
    let key = embed_key(&admin, json!({ "name": "Portal", "scope": "embed" })).await;
    let token_of = |id: &'static str| {
        let (app, key, report) = (&app, key.clone(), report.clone());
        async move {
            let answer =
                minted(app, &key, json!({ "reports": [report], "identity": { "id": id } })).await;
            answer["token"].as_str().unwrap().to_string()
        }
    };
    let (leaving, staying) = (token_of("cust-1").await, token_of("cust-2").await);
    let body = || json!({ "page": "overview", "visual": "revenue" });
    assert_eq!(query(&app, &leaving, &report, body()).await.status(), StatusCode::OK);

    let revoke = |id: &str| {
        app.anonymous()
            .post(app.url(&format!("/api/v1/embed/identities/{id}/revoke-tokens")))
            .header("X-API-Key", &key)
            .send()
    };
    assert_eq!(revoke("cust-1").await.unwrap().status(), StatusCode::NO_CONTENT);
    expect_error(
        query(&app, &leaving, &report, body()).await,
        StatusCode::UNAUTHORIZED,
        "TokenRevoked",
    )
    .await;
    assert_eq!(query(&app, &staying, &report, body()).await.status(), StatusCode::OK);
    let again = token_of("cust-1").await;
    assert_eq!(query(&app, &again, &report, body()).await.status(), StatusCode::OK, "a new token");
    expect_error(revoke("nobody").await.unwrap(), StatusCode::NOT_FOUND, "NotFound").await;
    let events = token_events(&admin, "kind=revoked", 1).await;
    assert_eq!(events[0]["user"], "identity cust-1");
    assert_eq!(events[0]["by"], "API key Portal");
}

#[tokio::test]
async fn a_mint_request_asked_for_wrongly_is_refused_naming_the_field() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let report = admin.id_of("/api/v1/reports", "name", "Sales overview").await;
    let key = embed_key(&admin, json!({ "name": "Portal", "scope": "embed" })).await;
    let many: Vec<String> = (0..17).map(|_| report.clone()).collect();
    let distinct: Vec<String> =
        (0..17).map(|n| format!("01a23b8c-0000-7000-8000-{n:012}")).collect();
    let roles: Vec<String> = (0..51).map(|n| format!("role {n}")).collect();
    let ok = |id: Value| json!({ "reports": [report], "identity": id });
    for (body, field) in [
        (json!({ "identity": { "id": "a" } }), "reports"),
        (json!({ "reports": [], "identity": { "id": "a" } }), "reports"),
        (json!({ "reports": distinct, "identity": { "id": "a" } }), "reports"),
        (json!({ "reports": ["not-an-id"], "identity": { "id": "a" } }), "reports"),
        (json!({ "reports": [report] }), "identity"),
        (ok(json!("cust-1")), "identity"),
        (ok(json!({ "name": "No id" })), "identity.id"),
        (ok(json!({ "id": "" })), "identity.id"),
        (ok(json!({ "id": "a", "email": "a@example.com" })), "identity"),
        (ok(json!({ "id": "a", "roles": roles })), "identity"),
        (ok(json!({ "id": "a", "attributes": { "region": 5 } })), "identity"),
        (
            json!({ "reports": [report], "identity": { "id": "a" }, "lifetimeMinutes": 1 }),
            "lifetimeMinutes",
        ),
        (
            json!({ "reports": [report], "identity": { "id": "a" }, "lifetimeMinutes": 9999 }),
            "lifetimeMinutes",
        ),
        (json!({ "reports": [report], "identity": { "id": "a" }, "user": "a" }), "user"),
    ] {
        let response = mint(&app, &key, body.clone()).await;
        let error = expect_error(response, StatusCode::BAD_REQUEST, "InvalidInput").await;
        assert_eq!(error["error"]["field"], field, "{body}");
    }
    // The same report seventeen times is one report.
    let once = json!({ "reports": many, "identity": { "id": "a" } });
    let answer = minted(&app, &key, once).await;
    assert_eq!(claims(answer["token"].as_str().unwrap())["reports"], json!([report]));
    let events = token_events(&admin, "user=identity%20a", 1).await;
    assert_eq!(events.len(), 1, "the refused requests minted nothing: {events:?}");
}

#[tokio::test]
async fn administrators_see_the_host_apps_users_and_revoke_them_in_the_portal() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let report = admin.id_of("/api/v1/reports", "name", "Sales overview").await;
    let key = embed_key(&admin, json!({ "name": "Partner portal", "scope": "embed" })).await;
    let odd = "cust 9/&#x";
    let mut tokens = Vec::new();
    for (id, name) in [("cust-1", Some("Ada")), (odd, None)] {
        let mut identity = json!({ "id": id });
        if let Some(name) = name {
            identity["name"] = json!(name);
        }
        let answer = minted(&app, &key, json!({ "reports": [report], "identity": identity })).await;
        tokens.push(answer["token"].as_str().unwrap().to_string());
    }
    let listed = admin.json("/api/v1/embed/identities").await;
    let ids: Vec<&str> =
        listed.as_array().unwrap().iter().map(|i| i["externalId"].as_str().unwrap()).collect();
    assert_eq!(ids, [odd, "cust-1"], "latest seen first");
    assert_eq!(listed[1]["name"], "Ada");
    let viewer = app.sign_in(VIEWER).await;
    expect_error(viewer.get("/api/v1/embed/identities").await, StatusCode::FORBIDDEN, "Forbidden")
        .await;

    let page = admin.get("/admin/embedding").await.text().await.unwrap();
    assert!(page.contains("cust-1") && page.contains("Ada") && page.contains("Partner portal"));
    assert!(page.contains("user=identity+cust+9%2F%26%23x"), "the audit link is encoded");
    let revoked = admin.form("/admin/embedding/revoke", &[("identity", odd)]).await;
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    let body = json!({ "page": "overview", "visual": "revenue" });
    expect_error(
        query(&app, &tokens[1], &report, body.clone()).await,
        StatusCode::UNAUTHORIZED,
        "TokenRevoked",
    )
    .await;
    assert_eq!(query(&app, &tokens[0], &report, body).await.status(), StatusCode::OK);
}
