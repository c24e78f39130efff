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
    let settings = Settings { client_secret: Some(SECRET.into()), ..Default::default() };
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
    let grants = || async {
        reqwest::get(format!("{standin}/__standin/grants"))
            .await
            .unwrap()
            .json::<u32>()
            .await
            .unwrap()
    };
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
