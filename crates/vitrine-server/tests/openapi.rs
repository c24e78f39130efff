//! The API's published contract: the OpenAPI document, its reference page, and refusals that
//! keep to the documented error shape. (Schemathesis checks every answer against the document:
//! scripts/api-contract.)

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::Value;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

async fn document(app: &TestApp) -> Value {
    let response = app.anonymous().get(app.url("/api/v1/openapi.json")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    response.json().await.unwrap()
}

#[tokio::test]
async fn the_openapi_document_is_served_without_sign_in_and_describes_the_routes_that_answer() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["servers"][0]["url"], "/api/v1");
    let token = &doc["paths"]["/reports/{id}/token"]["post"];
    assert_eq!(token["responses"]["200"]["content"]["application/json"]["schema"]["$ref"], {
        "#/components/schemas/EmbedToken"
    });
    for scheme in ["session", "csrf", "apiKey", "embedToken"] {
        assert!(doc["components"]["securitySchemes"][scheme].is_object(), "{scheme}");
    }
    // Every documented operation is routed: none answers the API's "no such endpoint".
    let admin = app.sign_in(ADMIN).await;
    let paths = doc["paths"].as_object().unwrap();
    for (path, item) in paths {
        let concrete =
            path.split('/')
                .map(|part| {
                    if part.starts_with('{') {
                        "01a23733-fd3b-7463-9919-4c3d14f4d10a"
                    } else {
                        part
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
        for method in METHODS.iter().filter(|m| item[**m].is_object()) {
            if *method == "post" && path == "/auth/logout" {
                continue;
            }
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let response = admin.send(method.clone(), &format!("/api/v1{concrete}"), None).await;
            let body: Value = response.json().await.unwrap_or(Value::Null);
            assert_ne!(
                body["error"]["message"], "No such API endpoint.",
                "{method} {path} is documented but not routed"
            );
        }
    }
}

#[tokio::test]
async fn the_reference_page_shows_every_operation_and_shape_of_the_document() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let response = app.anonymous().get(app.url("/api/v1/reference")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let page = response.text().await.unwrap();
    for item in doc["paths"].as_object().unwrap().values() {
        for method in METHODS.iter().filter(|m| item[**m].is_object()) {
            let id = item[*method]["operationId"].as_str().unwrap();
            assert!(page.contains(&format!("id=\"{id}\"")), "{id} is not on the page");
        }
    }
    for name in doc["components"]["schemas"].as_object().unwrap().keys() {
        assert!(page.contains(&format!("id=\"schema-{name}\"")), "shape {name} is missing");
    }
}

#[tokio::test]
async fn the_frameworks_own_refusals_answer_the_documented_json_error() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let response = admin
        .client
        .post(app.url("/api/v1/datasets"))
        .header("X-CSRF-Token", &admin.csrf)
        .header("Content-Type", "multipart/form-data")
        .body("no boundary")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "InvalidInput");
    assert_eq!(body["error"]["field"], "body");
}

#[tokio::test]
async fn audit_filters_given_twice_or_blank_are_refused_naming_the_filter() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    for (query, field) in [
        ("limit=5&limit=6", "limit"),
        ("limit=", "limit"),
        ("since=%20", "since"),
        ("q=a&q=b", "q"),
    ] {
        for path in ["/api/v1/audit", "/api/v1/audit/tokens"] {
            let response = admin.get(&format!("{path}?{query}")).await;
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}?{query}");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"]["field"], field, "{path}?{query}");
        }
    }
    assert_eq!(admin.get("/api/v1/audit?limit=5&q=").await.status(), StatusCode::OK);
}
