//! The pages a host app's page frames: the embed page, whose framing policy names exactly the
//! organization's `embedAllowedOrigins`, and the SDK, importable from any origin.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn frame_ancestors(response: &reqwest::Response) -> String {
    let policy = response.headers()["content-security-policy"].to_str().unwrap();
    policy
        .split(';')
        .map(str::trim)
        .find_map(|part| part.strip_prefix("frame-ancestors "))
        .unwrap_or_else(|| panic!("no frame-ancestors in {policy}"))
        .to_string()
}

#[tokio::test]
async fn the_embed_page_may_be_framed_by_exactly_the_allowed_origins_and_no_other_page_may() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let report = admin.id_of("/api/v1/reports", "name", "Sales overview").await;
    let embed_page = format!("/embed/reports/{report}");

    // None allowed yet: nobody but Vitrine's own pages (a display's) may frame it.
    let page = app.anonymous().get(app.url(&embed_page)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(frame_ancestors(&page), "'self'");

    let changed = admin
        .patch(
            "/api/v1/settings",
            json!({ "embedAllowedOrigins": ["https://App.example.com", "http://localhost:3000"] }),
        )
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    let settings: Value = changed.json().await.unwrap();
    assert_eq!(
        settings["embedAllowedOrigins"],
        json!(["https://app.example.com", "http://localhost:3000"])
    );

    let page = app.anonymous().get(app.url(&embed_page)).send().await.unwrap();
    assert_eq!(frame_ancestors(&page), "'self' https://app.example.com http://localhost:3000");
    assert!(page.headers().get("x-frame-options").is_none(), "X-Frame-Options would forbid it");
    assert!(page.headers().get("set-cookie").is_none(), "the embed page needs no cookie");
    assert_eq!(page.headers()["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    assert!(html.contains("data-embed=\"1\""));
    assert!(html.contains("data-allowed-origins=\"[&quot;https://app.example.com&quot;"), "{html}");

    // Every other page, the portal's viewer of the same report included, keeps 'none'.
    for path in ["/", &format!("/reports/{report}"), "/api/v1/me", "/healthz"] {
        let response = admin.get(path).await;
        assert_eq!(frame_ancestors(&response), "'none'", "{path}");
        assert_eq!(response.headers()["x-frame-options"], "DENY", "{path}");
    }
    // Another organization's allowed origins do not reach this one's reports.
    let acme = app.sign_in(ACME_ADMIN).await;
    let acme_report = acme.json("/api/v1/reports").await[0]["id"].as_str().unwrap().to_string();
    let page = app
        .anonymous()
        .get(app.url(&format!("/embed/reports/{acme_report}")))
        .send()
        .await
        .unwrap();
    assert_eq!(frame_ancestors(&page), "'self'");
}

#[tokio::test]
async fn an_embed_page_of_no_report_is_not_found_and_cannot_be_framed() {
    let app = spawn_app().await;
    for path in ["/embed/reports/not-an-id", "/embed/reports/00000000-0000-4000-8000-000000000000"]
    {
        let page = app.anonymous().get(app.url(path)).send().await.unwrap();
        assert!(matches!(page.status(), StatusCode::NOT_FOUND | StatusCode::BAD_REQUEST), "{path}");
        assert_eq!(frame_ancestors(&page), "'none'");
        assert_eq!(page.headers()["x-frame-options"], "DENY");
    }
}

#[tokio::test]
async fn a_bad_list_of_allowed_origins_is_refused_naming_the_field_and_changes_nothing() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let ok = admin
        .patch("/api/v1/settings", json!({ "embedAllowedOrigins": ["https://app.example.com"] }))
        .await;
    assert_eq!(ok.status(), StatusCode::OK);
    for bad in [
        json!("https://app.example.com"),
        json!(["https://app.example.com/path"]),
        json!(["https://*.example.com"]),
        json!(["not an origin"]),
        json!([42]),
    ] {
        let response = admin.patch("/api/v1/settings", json!({ "embedAllowedOrigins": bad })).await;
        let body = expect_error(response, StatusCode::BAD_REQUEST, "InvalidInput").await;
        assert_eq!(body["error"]["field"], "embedAllowedOrigins", "{bad}");
    }
    let settings = admin.json("/api/v1/settings").await;
    assert_eq!(settings["embedAllowedOrigins"], json!(["https://app.example.com"]));
}

#[tokio::test]
async fn the_sdk_and_its_types_are_served_to_any_origin() {
    let app = spawn_app().await;
    let sdk = app
        .anonymous()
        .get(app.url("/sdk/v1/vitrine-embed.js"))
        .header("Origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(sdk.status(), StatusCode::OK);
    assert_eq!(sdk.headers()["access-control-allow-origin"], "*");
    assert!(sdk.headers()["content-type"].to_str().unwrap().starts_with("text/javascript"));
    let code = sdk.text().await.unwrap();
    assert!(code.contains("export function embed("));
    assert!(code.len() < 15 * 1024, "the SDK is {} bytes", code.len());
    let types = app.anonymous().get(app.url("/sdk/v1/vitrine-embed.d.ts")).send().await.unwrap();
    assert_eq!(types.status(), StatusCode::OK);
    assert!(types.text().await.unwrap().contains("export function embed(element: HTMLElement"));
    let missing = app.anonymous().get(app.url("/sdk/v1/other.js")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn settings_embedding_takes_one_origin_per_line_and_refuses_a_bad_one_naming_it() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let page = admin.get("/admin/settings").await.text().await.unwrap();
    assert!(page.contains("Origins allowed to embed reports"));
    let saved = admin
        .form(
            "/admin/settings",
            &[(
                "embedAllowedOrigins",
                "https://app.example.com\r\n\r\n  http://localhost:3000 \r\n",
            )],
        )
        .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let settings = admin.json("/api/v1/settings").await;
    assert_eq!(
        settings["embedAllowedOrigins"],
        json!(["https://app.example.com", "http://localhost:3000"])
    );
    let page = admin.get("/admin/settings").await.text().await.unwrap();
    assert!(page.contains("https://app.example.com\nhttp://localhost:3000"), "shown back");

    let bad = admin
        .form("/admin/settings", &[("embedAllowedOrigins", "https://app.example.com/x")])
        .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(bad.text().await.unwrap().contains("without a path"));
    let cleared = admin.form("/admin/settings", &[("embedAllowedOrigins", "")]).await;
    assert_eq!(cleared.status(), StatusCode::SEE_OTHER);
    assert_eq!(admin.json("/api/v1/settings").await["embedAllowedOrigins"], json!([]));
}
