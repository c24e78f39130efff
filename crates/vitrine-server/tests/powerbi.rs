//! An organization's Power BI tenant, against the stand-in for Entra ID and Power BI: tested
//! before it is saved, its secret sealed and never answered, its reports listed with one
//! access token until that token nears its end.

mod common;

use std::sync::Arc;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use vitrine_azure_standin::{Settings, World};
use vitrine_server::config::ConfigLayer;

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const CLIENT: &str = "6731de76-14a6-49ae-97bc-6eba6914391e";
const SECRET: &str = "the~right.secret-Value_42";

/// The stand-in on a port of its own, and a server whose Microsoft clouds are the stand-in.
async fn with_standin(entra: Option<&str>) -> (TestApp, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    // The stand-in's clock starts where the server's does, so expirations compare.
    let settings = Settings {
        client_secret: Some(SECRET.into()),
        transition: chrono::Duration::seconds(1),
        starts_at: Some(
            chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 3, 2, 9, 0, 0).unwrap(),
        ),
        ..Default::default()
    };
    tokio::spawn(vitrine_azure_standin::serve(listener, Arc::new(World::demo(settings))));
    let (cloud, entra) = (base.clone(), entra.map_or(base.clone(), str::to_string));
    let app = spawn_app_with(move |layer| ConfigLayer {
        powerbi_api_url: Some(cloud.clone()),
        entra_url: Some(entra),
        arm_url: Some(cloud),
        ..layer
    })
    .await;
    (app, base)
}

fn connect_body(secret: &str) -> Value {
    json!({ "tenantId": TENANT, "clientId": CLIENT, "clientSecret": secret })
}

#[tokio::test]
async fn a_tenant_is_tested_before_it_is_saved_and_its_secret_is_sealed_and_never_answered() {
    let (app, _) = with_standin(None).await;
    let admin = app.sign_in(ADMIN).await;
    let wrong = admin.put_json("/api/v1/powerbi", connect_body("a-wrong-secret")).await;
    let body = expect_error(wrong, StatusCode::BAD_REQUEST, "InvalidInput").await;
    assert_eq!(body["error"]["field"], "clientSecret");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("AADSTS7000215") && message.contains("Value"), "{message}");
    let nothing = admin.get("/api/v1/powerbi").await;
    assert_eq!(nothing.status(), StatusCode::NOT_FOUND, "a failed test saves nothing");

    let tenant = json!({ "tenantId": "not a tenant", "clientId": CLIENT, "clientSecret": SECRET });
    let refused = admin.put_json("/api/v1/powerbi", tenant).await;
    assert_eq!(
        expect_error(refused, StatusCode::BAD_REQUEST, "InvalidInput").await["error"]["field"],
        "tenantId"
    );

    let connected = admin.put_json("/api/v1/powerbi", connect_body(SECRET)).await;
    assert_eq!(connected.status(), StatusCode::OK);
    let text = connected.text().await.unwrap();
    assert!(!text.contains(SECRET), "the secret is never answered: {text}");
    let connected: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (connected["tenantId"].as_str(), connected["clientId"].as_str()),
        (Some(TENANT), Some(CLIENT))
    );
    assert_eq!(connected["workspaces"], 1);
    let shown = admin.get("/api/v1/powerbi").await.text().await.unwrap();
    assert!(shown.contains(CLIENT) && !shown.contains(SECRET), "{shown}");

    let login = app.store.find_login(ADMIN).await.unwrap().unwrap();
    let stored = app.store.powerbi_tenant(login.user.org_id).await.unwrap().unwrap();
    let sealed = String::from_utf8_lossy(&stored.secret_sealed).to_string();
    assert!(!sealed.contains(SECRET), "sealed at rest");
    let audit = admin.get("/api/v1/audit?entityType=powerbi").await.text().await.unwrap();
    assert!(audit.contains("connected") && !audit.contains(SECRET), "{audit}");

    let viewer = app.sign_in(VIEWER).await;
    assert_eq!(viewer.get("/api/v1/powerbi").await.status(), StatusCode::FORBIDDEN);
    let attempt = viewer.put_json("/api/v1/powerbi", connect_body(SECRET)).await;
    assert_eq!(attempt.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn reports_are_listed_with_one_access_token_until_five_minutes_before_it_expires() {
    let (app, standin) = with_standin(None).await;
    let admin = app.sign_in(ADMIN).await;
    assert_eq!(admin.get("/api/v1/powerbi/reports").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        admin.put_json("/api/v1/powerbi", connect_body(SECRET)).await.status(),
        StatusCode::OK
    );
    let grants = || async { standin_get(&standin, "grants").await.as_u64().unwrap() };
    let after_connecting = grants().await;

    for _ in 0..3 {
        let reports: Value = admin.json("/api/v1/powerbi/reports").await;
        let reports = reports.as_array().unwrap();
        assert_eq!(reports.len(), 2);
        for report in reports {
            assert_eq!(report["workspaceName"], "Contoso Analytics");
            assert!(
                report["embedUrl"]
                    .as_str()
                    .unwrap()
                    .starts_with("https://app.powerbi.com/reportEmbed?")
            );
            assert!(report["reportId"].is_string() && report["datasetId"].is_string());
        }
    }
    assert_eq!(grants().await, after_connecting + 1, "one token for every listing");
    app.clock.advance(chrono::Duration::minutes(54));
    admin.json("/api/v1/powerbi/reports").await;
    assert_eq!(grants().await, after_connecting + 1, "still six minutes of life");
    app.clock.advance(chrono::Duration::minutes(2));
    admin.json("/api/v1/powerbi/reports").await;
    assert_eq!(grants().await, after_connecting + 2, "renewed five minutes before its end");
}

#[tokio::test]
async fn an_unreachable_entra_id_is_a_clear_502_and_saves_nothing() {
    let (app, _) = with_standin(Some("http://127.0.0.1:9")).await;
    let admin = app.sign_in(ADMIN).await;
    let answer = admin.put_json("/api/v1/powerbi", connect_body(SECRET)).await;
    let body = expect_error(answer, StatusCode::BAD_GATEWAY, "PowerBiUnavailable").await;
    assert!(body["error"]["message"].as_str().unwrap().contains("Entra ID"));
    assert_eq!(admin.get("/api/v1/powerbi").await.status(), StatusCode::NOT_FOUND);
}

const WORKSPACE: &str = "f089354e-8366-4e18-aea3-4cb4a3a50b48";
const SALES: &str = "5b218778-e7a5-4d73-8187-f10824047715";
const REGIONAL: &str = "6c329889-f8b6-4e84-9298-0a1935158826";

#[tokio::test]
async fn an_administrator_imports_a_power_bi_report_with_its_embed_url_and_whether_it_needs_an_identity()
 {
    let (app, _) = with_standin(None).await;
    let admin = app.sign_in(ADMIN).await;
    let import = |name: &str, report: &str| json!({ "name": name, "powerbi": { "workspaceId": WORKSPACE, "reportId": report } });
    let early = admin.post("/api/v1/reports", import("Sales", SALES)).await;
    let body = expect_error(early, StatusCode::BAD_REQUEST, "InvalidInput").await;
    assert_eq!(body["error"]["field"], "powerbi", "no tenant yet");
    assert_eq!(
        admin.put_json("/api/v1/powerbi", connect_body(SECRET)).await.status(),
        StatusCode::OK
    );

    let created = admin.post("/api/v1/reports", import("Sales", SALES)).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let sales: Value = created.json().await.unwrap();
    assert_eq!(sales["powerbi"]["reportId"], SALES);
    assert_eq!(sales["powerbi"]["workspaceId"], WORKSPACE);
    assert_eq!(sales["powerbi"]["identityRequired"], false);
    assert!(
        sales["powerbi"]["embedUrl"]
            .as_str()
            .unwrap()
            .starts_with("https://app.powerbi.com/reportEmbed?reportId=")
    );
    let shown = admin.json(&format!("/api/v1/reports/{}", sales["id"].as_str().unwrap())).await;
    assert_eq!(shown["powerbi"], sales["powerbi"]);

    let regional: Value =
        admin.post("/api/v1/reports", import("Regional", REGIONAL)).await.json().await.unwrap();
    assert_eq!(regional["powerbi"]["identityRequired"], true, "its dataset has row-level security");

    let unknown = admin
        .post("/api/v1/reports", import("Ghost", "00000000-0000-4000-8000-000000000001"))
        .await;
    let body = expect_error(unknown, StatusCode::BAD_REQUEST, "InvalidInput").await;
    assert_eq!(body["error"]["field"], "powerbi.reportId");
    let bad = admin
        .post(
            "/api/v1/reports",
            json!({ "name": "Bad", "powerbi": { "workspaceId": "x", "reportId": SALES } }),
        )
        .await;
    assert_eq!(
        expect_error(bad, StatusCode::BAD_REQUEST, "InvalidInput").await["error"]["field"],
        "powerbi.workspaceId"
    );
    let contributor = app.sign_in(CONTRIBUTOR).await;
    let refused = contributor.post("/api/v1/reports", import("Mine", SALES)).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN, "importing is for administrators");
    let names: Vec<String> = admin
        .json("/api/v1/reports")
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    assert!(
        !names.contains(&"Ghost".to_string()) && !names.contains(&"Mine".to_string()),
        "{names:?}"
    );
}

/// A connected tenant with `report` imported and opened to the viewer; the report's id.
async fn imported(app: &TestApp, admin: &Session, name: &str, report: &str) -> String {
    assert_eq!(
        admin.put_json("/api/v1/powerbi", connect_body(SECRET)).await.status(),
        StatusCode::OK
    );
    let body = json!({ "name": name, "powerbi": { "workspaceId": WORKSPACE, "reportId": report } });
    let created: Value = admin.post("/api/v1/reports", body).await.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    let viewer = admin.id_of("/api/v1/users", "email", VIEWER).await;
    let granted = admin.put(&format!("/api/v1/reports/{id}/access/users/{viewer}")).await;
    assert!(granted.status().is_success(), "{}", granted.status());
    let _ = app;
    id
}

async fn embed_tokens(standin: &str) -> Vec<Value> {
    standin_get(standin, "embed-tokens").await.as_array().unwrap().clone()
}

/// Reads the stand-in's `/__standin/{path}`.
async fn standin_get(standin: &str, path: &str) -> Value {
    reqwest::get(format!("{standin}/__standin/{path}")).await.unwrap().json().await.unwrap()
}

/// Steers the stand-in with `POST /__standin/{path}`.
async fn standin_post(standin: &str, path: &str, body: Value) {
    let client = reqwest::Client::new();
    let answer =
        client.post(format!("{standin}/__standin/{path}")).json(&body).send().await.unwrap();
    assert!(answer.status().is_success(), "{path}: {}", answer.status());
}

#[tokio::test]
async fn a_power_bi_report_token_carries_power_bis_token_with_the_organizations_lifetime() {
    let began = std::time::Instant::now();
    let (app, standin) = with_standin(None).await;
    let admin = app.sign_in(ADMIN).await;
    let report = imported(&app, &admin, "Sales", SALES).await;
    let shortened = admin
        .patch(
            "/api/v1/settings",
            json!({ "tokenLifetimeMinutes": 10, "tokenUpdateEveryMinutes": 8 }),
        )
        .await;
    assert_eq!(shortened.status(), StatusCode::OK);

    let viewer = app.sign_in(VIEWER).await;
    let token = viewer.token(&report).await;
    let powerbi = &token["powerbi"];
    assert_eq!(powerbi["reportId"], SALES);
    assert!(
        powerbi["embedUrl"].as_str().unwrap().starts_with("https://app.powerbi.com/reportEmbed?")
    );
    let issued = embed_tokens(&standin).await;
    assert_eq!(issued.len(), 1);
    assert_eq!(powerbi["accessToken"], issued[0]["token"], "Power BI's own token, handed on");
    assert_eq!(powerbi["tokenId"], issued[0]["tokenId"]);
    assert_eq!(issued[0]["reports"], json!([SALES]));
    assert_eq!(issued[0]["identities"], json!([]), "no identity for a dataset without RLS");
    // Power BI's expiration is ten minutes away (the organization's lifetime), and the
    // answer counts to the earlier of it and Vitrine's own. The stand-in's clock starts where the server's stands still and
    // then runs in real time, so its "now" is ahead by the seconds this test has taken so far.
    let ran = i64::try_from(began.elapsed().as_secs()).unwrap() + 1;
    let expires = chrono::DateTime::parse_from_rfc3339(powerbi["expiration"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    let left = (expires - app.clock_now()).num_seconds();
    assert!((599..=600 + ran).contains(&left), "{left} seconds left, {ran} run");
    let answered = token["expiresInSeconds"].as_i64().unwrap();
    assert_eq!(answered, left.min(600), "the pair lives as long as the shorter of the two");
    assert!(token["token"].is_string(), "Vitrine's token too, for the live channel");

    // A report of Vitrine's own answers no Power BI part.
    let own = admin.id_of("/api/v1/reports", "name", "Executive summary").await;
    assert!(admin.token(&own).await.get("powerbi").is_none());
}

#[tokio::test]
async fn row_level_security_reaches_power_bi_as_the_users_effective_identity() {
    let (app, standin) = with_standin(None).await;
    let admin = app.sign_in(ADMIN).await;
    let report = imported(&app, &admin, "Regional", REGIONAL).await;
    // Someone in no group, so with no role until given one.
    let body = json!({ "email": "nogroup@example.com", "role": "viewer", "password": PASSWORD });
    let created: Value = admin.post("/api/v1/users", body).await.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    let granted = admin.put(&format!("/api/v1/reports/{report}/access/users/{id}")).await;
    assert!(granted.status().is_success());
    let viewer = app.sign_in("nogroup@example.com").await;
    let refused = viewer.post(&format!("/api/v1/reports/{report}/token"), json!({})).await;
    expect_error(refused, StatusCode::FORBIDDEN, "NoRlsRole").await;
    assert!(embed_tokens(&standin).await.is_empty(), "Power BI was not asked");

    let set = admin
        .put_json(
            &format!("/api/v1/users/{id}/rls"),
            json!({ "roles": ["Own region"], "attributes": { "region": "South" } }),
        )
        .await;
    assert_eq!(set.status(), StatusCode::OK);
    let viewer = app.sign_in("nogroup@example.com").await;
    viewer.token(&report).await;
    let issued = embed_tokens(&standin).await;
    let identity = &issued[0]["identities"][0];
    assert_eq!(identity["username"], "nogroup@example.com");
    assert_eq!(identity["roles"], json!(["Own region"]));
    assert_eq!(identity["datasets"], json!(["4a6b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d"]));
    let custom: Value = serde_json::from_str(identity["customData"].as_str().unwrap()).unwrap();
    assert_eq!(custom, json!({ "region": "South" }));
}

#[tokio::test]
async fn access_taken_back_refuses_the_next_token_without_asking_power_bi() {
    let (app, standin) = with_standin(None).await;
    let admin = app.sign_in(ADMIN).await;
    let report = imported(&app, &admin, "Sales", SALES).await;
    let viewer = app.sign_in(VIEWER).await;
    viewer.token(&report).await;
    let id = admin.id_of("/api/v1/users", "email", VIEWER).await;
    let removed = admin.delete(&format!("/api/v1/reports/{report}/access/users/{id}")).await;
    assert!(removed.status().is_success());
    let refused = viewer.post(&format!("/api/v1/reports/{report}/token"), json!({})).await;
    expect_error(refused, StatusCode::FORBIDDEN, "NoAccess").await;
    assert_eq!(embed_tokens(&standin).await.len(), 1, "no Power BI token for a refused user");
}

#[tokio::test]
async fn power_bi_throttling_a_token_is_a_502_the_viewer_retries_and_the_next_request_succeeds() {
    let (app, standin) = with_standin(None).await;
    let admin = app.sign_in(ADMIN).await;
    let report = imported(&app, &admin, "Sales", SALES).await;
    let viewer = app.sign_in(VIEWER).await;
    let fault = json!({ "api": "powerBi", "status": 429, "retryAfter": 30 });
    standin_post(&standin, "faults", fault).await;
    let throttled = viewer.post(&format!("/api/v1/reports/{report}/token"), json!({})).await;
    let body = expect_error(throttled, StatusCode::BAD_GATEWAY, "PowerBiUnavailable").await;
    assert!(body["error"]["message"].as_str().unwrap().contains("429"), "{body}");
    assert!(viewer.token(&report).await["powerbi"]["accessToken"].is_string());
    // The audit is written in the background: once the second token shows, the first
    // request shows to have issued no Vitrine token either.
    let mut events = Vec::new();
    for _ in 0..100 {
        events = admin
            .json(&format!("/api/v1/audit/tokens?reportId={report}"))
            .await
            .as_array()
            .unwrap()
            .clone();
        if !events.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(events.len(), 1, "{events:?}");
}

#[tokio::test]
async fn an_access_token_power_bi_no_longer_takes_is_replaced_and_the_token_request_succeeds() {
    let (app, standin) = with_standin(None).await;
    let admin = app.sign_in(ADMIN).await;
    let report = imported(&app, &admin, "Sales", SALES).await;
    let viewer = app.sign_in(VIEWER).await;
    viewer.token(&report).await;
    let grants = || async { standin_get(&standin, "grants").await.as_u64().unwrap() };
    let before = grants().await;
    // Power BI's clock runs past the access token's end while Vitrine's cache still holds it.
    standin_post(&standin, "clock", json!({ "seconds": 3700 })).await;
    assert!(viewer.token(&report).await["powerbi"]["accessToken"].is_string());
    assert_eq!(grants().await, before + 1, "one new access token, after Power BI's refusal");
}

#[tokio::test]
async fn only_a_power_bi_reports_page_may_frame_power_bi_and_loads_its_client_library() {
    let (app, _) = with_standin(None).await;
    let admin = app.sign_in(ADMIN).await;
    let report = imported(&app, &admin, "Sales", SALES).await;
    let viewer = app.sign_in(VIEWER).await;
    let page = viewer.get(&format!("/reports/{report}")).await;
    let policy = page.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(policy.contains("frame-src 'self' https://app.powerbi.com"), "{policy}");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert!(page.text().await.unwrap().contains("src=\"/assets/powerbi-client.js\""));

    let own = admin.id_of("/api/v1/reports", "name", "Executive summary").await;
    let page = admin.get(&format!("/reports/{own}")).await;
    let policy = page.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(!policy.contains("frame-src"), "{policy}");
    assert!(!page.text().await.unwrap().contains("powerbi-client"));
    // No library installed on this server: the script is not found (the viewer says why).
    assert_eq!(viewer.get("/assets/powerbi-client.js").await.status(), StatusCode::NOT_FOUND);
}

const SUBSCRIPTION: &str = "00000000-0000-0000-0000-000000000001";

fn azure_capacity(name: &str) -> Value {
    json!({
        "name": "Contoso embedded",
        "hourlyPrice": 1.01,
        "azure": {
            "kind": "powerBiEmbedded",
            "subscriptionId": SUBSCRIPTION,
            "resourceGroup": "analytics",
            "name": name,
        },
    })
}

/// Connects the tenant and adds the stand-in's A-SKU capacity; its id.
async fn connected_capacity(admin: &Session) -> String {
    assert_eq!(
        admin.put_json("/api/v1/powerbi", connect_body(SECRET)).await.status(),
        StatusCode::OK
    );
    let created = admin.post("/api/v1/capacities", azure_capacity("contosoembedded")).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    created["id"].as_str().unwrap().to_string()
}

/// Waits (20 s at most) for the capacity to reach `state`; answers it as read.
async fn until_state(admin: &Session, id: &str, state: &str) -> Value {
    for _ in 0..200 {
        let capacity = admin.json(&format!("/api/v1/capacities/{id}")).await;
        if capacity["state"] == state {
            return capacity;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the capacity never reached {state}");
}

async fn timeline(admin: &Session, id: &str) -> Vec<Value> {
    admin.json(&format!("/api/v1/capacities/{id}/events")).await.as_array().unwrap().clone()
}

#[tokio::test]
async fn an_azure_capacity_is_found_before_it_is_saved_then_paused_and_resumed_through_arm() {
    let (app, standin) = with_standin(None).await;
    let admin = app.sign_in(ADMIN).await;
    let early = admin.post("/api/v1/capacities", azure_capacity("contosoembedded")).await;
    let body = expect_error(early, StatusCode::BAD_REQUEST, "InvalidInput").await;
    assert_eq!(body["error"]["field"], "azure", "no tenant to reach Azure with");
    let id = connected_capacity(&admin).await;

    let unknown = admin.post("/api/v1/capacities", azure_capacity("nosuchcapacity")).await;
    let body = expect_error(unknown, StatusCode::BAD_REQUEST, "InvalidInput").await;
    assert!(body["error"]["message"].as_str().unwrap().contains("has no capacity"), "{body}");
    let mut wrong = azure_capacity("contosoembedded");
    wrong["azure"]["kind"] = json!("gpu");
    let body = expect_error(
        admin.post("/api/v1/capacities", wrong).await,
        StatusCode::BAD_REQUEST,
        "InvalidInput",
    )
    .await;
    assert_eq!(body["error"]["field"], "azure.kind");

    let capacity = admin.json(&format!("/api/v1/capacities/{id}")).await;
    assert_eq!(capacity["provider"], "azure");
    assert_eq!(capacity["azure"]["name"], "contosoembedded");
    assert_eq!(capacity["state"], "Running", "as Azure reports it");

    let paused = admin.post(&format!("/api/v1/capacities/{id}/pause"), json!({})).await;
    assert!(paused.status().is_success(), "{}", paused.status());
    until_state(&admin, &id, "Paused").await;
    let calls = standin_get(&standin, "calls").await;
    let suspend = calls
        .as_array()
        .unwrap()
        .iter()
        .find(|call| {
            call["method"] == "POST" && call["path"].as_str().unwrap().ends_with("/suspend")
        })
        .expect("a suspend call");
    assert_eq!(suspend["status"], 202, "accepted, with a Location to follow");
    assert!(
        calls
            .as_array()
            .unwrap()
            .iter()
            .any(|call| call["path"].as_str().unwrap().contains("/operationresults/")),
        "the operation's Location was polled: {calls}"
    );
    let resumed = admin.post(&format!("/api/v1/capacities/{id}/resume"), json!({})).await;
    assert!(resumed.status().is_success());
    until_state(&admin, &id, "Running").await;
}

#[tokio::test]
async fn azure_throttling_is_waited_out_and_a_refusal_fails_saying_what_to_grant() {
    let (app, standin) = with_standin(None).await;
    let admin = app.sign_in(ADMIN).await;
    let id = connected_capacity(&admin).await;
    standin_post(&standin, "faults", json!({ "status": 429, "retryAfter": 1 })).await;
    admin.post(&format!("/api/v1/capacities/{id}/pause"), json!({})).await;
    until_state(&admin, &id, "Paused").await;
    let noted = timeline(&admin, &id).await;
    assert!(
        noted.iter().any(|event| event["detail"]
            .as_str()
            .is_some_and(|d| d.contains("throttling") && d.contains("next try is in 1 s"))),
        "{noted:?}"
    );

    standin_post(&standin, "faults", json!({ "status": 403, "times": 10 })).await;
    admin.post(&format!("/api/v1/capacities/{id}/resume"), json!({})).await;
    until_state(&admin, &id, "Failed").await;
    let failed = &timeline(&admin, &id).await[0];
    let detail = failed["detail"].as_str().unwrap();
    assert!(detail.contains("AuthorizationFailed") && detail.contains("Contributor"), "{detail}");
}

#[tokio::test]
async fn a_capacity_paused_in_the_azure_portal_is_shown_paused_after_one_scheduler_pass() {
    let (app, standin) = with_standin(None).await;
    let admin = app.sign_in(ADMIN).await;
    let id = connected_capacity(&admin).await;
    let set = |state: &'static str| {
        let url = format!("{standin}/__standin/capacities/contosoembedded/state");
        async move {
            let answer =
                reqwest::Client::new().put(url).json(&json!({ "state": state })).send().await;
            assert!(answer.unwrap().status().is_success());
        }
    };
    set("Paused").await;
    app.state.capacities.tick().await.unwrap();
    let capacity = admin.json(&format!("/api/v1/capacities/{id}")).await;
    assert_eq!(capacity["state"], "Paused");
    let latest = &timeline(&admin, &id).await[0];
    assert_eq!(latest["reason"], "azure");

    set("Running").await;
    app.state.capacities.tick().await.unwrap();
    assert_eq!(
        admin.json(&format!("/api/v1/capacities/{id}")).await["state"],
        "Paused",
        "Azure is asked once a minute, not at every pass"
    );
    app.clock.advance(chrono::Duration::seconds(61));
    app.state.capacities.tick().await.unwrap();
    assert_eq!(admin.json(&format!("/api/v1/capacities/{id}")).await["state"], "Running");
}

#[tokio::test]
async fn the_admin_portal_connects_a_tenant_after_testing_it_and_imports_a_report_with_one_button()
{
    let (app, _) = with_standin(None).await;
    let admin = app.sign_in(ADMIN).await;
    let empty = admin.get("/admin/powerbi").await.text().await.unwrap();
    assert!(empty.contains("Connect a tenant"), "{empty}");

    let fields = |secret: &'static str| {
        [("tenantId", TENANT), ("clientId", CLIENT), ("clientSecret", secret)]
    };
    let wrong = admin.form("/admin/powerbi", &fields("not-the-secret")).await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    let page = wrong.text().await.unwrap();
    assert!(page.contains("AADSTS7000215") && !page.contains("not-the-secret"), "{page}");
    assert_eq!(admin.get("/api/v1/powerbi").await.status(), StatusCode::NOT_FOUND);

    let connected = admin.form("/admin/powerbi", &fields(SECRET)).await;
    assert_eq!(connected.status(), StatusCode::SEE_OTHER);
    let page = admin.get("/admin/powerbi").await.text().await.unwrap();
    assert!(page.contains(CLIENT) && !page.contains(SECRET), "the secret is never shown");
    assert!(page.contains("Sales Overview") && page.contains("Not imported"), "{page}");

    let import = [("workspaceId", WORKSPACE), ("reportId", SALES), ("name", "Sales Overview")];
    let imported = admin.form("/admin/powerbi/import", &import).await;
    assert_eq!(imported.status(), StatusCode::SEE_OTHER);
    let to = imported.headers()["location"].to_str().unwrap().to_string();
    assert!(to.starts_with("/admin/reports/") && to.ends_with("?done=created"), "{to}");
    let report = admin.id_of("/api/v1/reports", "name", "Sales Overview").await;
    assert_eq!(
        admin.json(&format!("/api/v1/reports/{report}")).await["powerbi"]["reportId"],
        SALES
    );
    let page = admin.get("/admin/powerbi").await.text().await.unwrap();
    assert!(page.contains(&format!("/admin/reports/{report}")), "shown as imported");

    // Admin › Capacity adds the tenant's Azure capacity.
    let capacity = [
        ("name", "Contoso A1"),
        ("provider", "azure"),
        ("azureKind", "powerBiEmbedded"),
        ("azureSubscriptionId", SUBSCRIPTION),
        ("azureResourceGroup", "analytics"),
        ("azureName", "contosoembedded"),
        ("mode", "onDemand"),
        ("idleMinutes", "30"),
        ("timeZone", "UTC"),
        ("hourlyPrice", "1.01"),
    ];
    let created = admin.form("/admin/capacities", &capacity).await;
    assert_eq!(created.status(), StatusCode::SEE_OTHER);
    let page =
        admin.get(created.headers()["location"].to_str().unwrap()).await.text().await.unwrap();
    assert!(page.contains("Microsoft.PowerBIDedicated/capacities/contosoembedded"), "{page}");

    let viewer = app.sign_in(VIEWER).await;
    assert_eq!(viewer.get("/admin/powerbi").await.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_power_bi_report_on_a_paused_azure_capacity_waits_for_it_and_a_user_who_may_wakes_it() {
    let (app, standin) = with_standin(None).await;
    let admin = app.sign_in(ADMIN).await;
    let report = imported(&app, &admin, "Sales", SALES).await;
    let capacity = connected_capacity(&admin).await;
    let placed =
        admin.patch(&format!("/api/v1/reports/{report}"), json!({ "capacityId": capacity })).await;
    assert_eq!(placed.status(), StatusCode::OK);
    admin.post(&format!("/api/v1/capacities/{capacity}/pause"), json!({})).await;
    until_state(&admin, &capacity, "Paused").await;
    let before = embed_tokens(&standin).await.len();

    let viewer = app.sign_in(VIEWER).await;
    let refused = viewer.post(&format!("/api/v1/reports/{report}/token"), json!({})).await;
    expect_error(refused, StatusCode::SERVICE_UNAVAILABLE, "CapacityNotActive").await;
    assert_eq!(embed_tokens(&standin).await.len(), before, "Power BI is not asked meanwhile");

    // The admin is in Executives, which holds capacity.turnOn: opening the report resumes
    // the capacity in Azure.
    let waking = admin.post(&format!("/api/v1/reports/{report}/token"), json!({})).await;
    expect_error(waking, StatusCode::SERVICE_UNAVAILABLE, "CapacityStarting").await;
    until_state(&admin, &capacity, "Running").await;
    let calls = standin_get(&standin, "calls").await;
    assert!(
        calls
            .as_array()
            .unwrap()
            .iter()
            .any(|call| call["path"].as_str().unwrap().ends_with("/resume")),
        "{calls}"
    );
    assert!(viewer.token(&report).await["powerbi"]["accessToken"].is_string());
}

#[tokio::test]
async fn a_host_app_mints_a_token_for_a_power_bi_report_alone_with_its_users_identity() {
    let (app, standin) = with_standin(None).await;
    let admin = app.sign_in(ADMIN).await;
    let report = imported(&app, &admin, "Regional", REGIONAL).await;
    let own = admin.id_of("/api/v1/reports", "name", "Executive summary").await;
    let key = admin
        .post(
            "/api/v1/api-keys",
            json!({ "name": "Customer portal", "scope": "embed", "reports": [report, own] }),
        )
        .await;
    assert_eq!(key.status(), StatusCode::CREATED);
    let key = key.json::<Value>().await.unwrap()["key"].as_str().unwrap().to_string();
    let mint = |body: Value| {
        let request =
            app.anonymous().post(app.url("/api/v1/embed/tokens")).header("X-API-Key", &key);
        async move { request.json(&body).send().await.unwrap() }
    };
    let identity =
        json!({ "id": "cust-42", "roles": ["Own region"], "attributes": { "region": "North" } });

    let both = mint(json!({ "reports": [report, own], "identity": identity })).await;
    let body = expect_error(both, StatusCode::BAD_REQUEST, "InvalidInput").await;
    assert_eq!(body["error"]["field"], "reports");

    let answer = mint(json!({ "reports": [report], "identity": identity })).await;
    assert_eq!(answer.status(), StatusCode::OK);
    let answer: Value = answer.json().await.unwrap();
    assert!(answer["powerbi"]["accessToken"].is_string());
    let issued = embed_tokens(&standin).await;
    let effective = &issued.last().unwrap()["identities"][0];
    assert_eq!(effective["username"], "cust-42");
    assert_eq!(effective["roles"], json!(["Own region"]));
}

#[tokio::test]
async fn an_arm_token_azure_no_longer_takes_is_replaced_and_the_pause_goes_through() {
    let (app, standin) = with_standin(None).await;
    let admin = app.sign_in(ADMIN).await;
    let id = connected_capacity(&admin).await;
    // Azure's clock runs past the ARM token's end while Vitrine's cache still holds it.
    standin_post(&standin, "clock", json!({ "seconds": 3700 })).await;
    admin.post(&format!("/api/v1/capacities/{id}/pause"), json!({})).await;
    until_state(&admin, &id, "Paused").await;
}
