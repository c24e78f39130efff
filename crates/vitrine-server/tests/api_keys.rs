//! API keys with scopes: what an admin, embed or read key may call, expiry, and the rule that a
//! key works only while the administrator who made it may act.

mod common;

use chrono::Duration;
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Creates a key as `session`; answers its secret and the key as listed.
async fn create_key(session: &Session, body: Value) -> (String, Value) {
    let response = session.post("/api/v1/api-keys", body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    (created["key"].as_str().unwrap().to_string(), created)
}

async fn with_key(
    app: &TestApp,
    key: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> u16 {
    let mut request = app.anonymous().request(method, app.url(path)).header("X-API-Key", key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn a_read_key_only_reads_and_an_embed_key_makes_no_other_api_call() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let (read, _) = create_key(&admin, json!({ "name": "Dashboard sync", "scope": "read" })).await;
    let (embed, created) =
        create_key(&admin, json!({ "name": "Host app", "scope": "embed" })).await;
    assert_eq!(created["scope"], "embed");
    let groups_before = admin.json("/api/v1/groups").await.as_array().unwrap().len();

    assert_eq!(with_key(&app, &read, Method::GET, "/api/v1/users", None).await, 200);
    assert_eq!(with_key(&app, &read, Method::GET, "/api/v1/audit", None).await, 200);
    let group = Some(json!({ "name": "Made by a read key" }));
    assert_eq!(with_key(&app, &read, Method::POST, "/api/v1/groups", group.clone()).await, 403);
    let key_by_key = Some(json!({ "name": "Escalation" }));
    assert_eq!(with_key(&app, &read, Method::POST, "/api/v1/api-keys", key_by_key).await, 403);

    for (method, path, body) in [
        (Method::GET, "/api/v1/users", None),
        (Method::GET, "/api/v1/reports", None),
        (Method::GET, "/api/v1/me", None),
        (Method::POST, "/api/v1/groups", group.clone()),
        (Method::POST, "/api/v1/tokens/revoke", None),
    ] {
        assert_eq!(
            with_key(&app, &embed, method.clone(), path, body).await,
            403,
            "{method} {path}"
        );
    }
    let refused = app
        .anonymous()
        .get(app.url("/api/v1/users"))
        .header("X-API-Key", &embed)
        .send()
        .await
        .unwrap();
    let body = expect_error(refused, StatusCode::FORBIDDEN, "Forbidden").await;
    assert!(body["error"]["message"].as_str().unwrap().contains("embed tokens"));
    assert_eq!(
        admin.json("/api/v1/groups").await.as_array().unwrap().len(),
        groups_before,
        "nothing was created"
    );
}

#[tokio::test]
async fn a_key_stops_working_when_its_administrator_is_blocked_demoted_or_deleted() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let created: Value = admin
        .post(
            "/api/v1/users",
            json!({ "email": "ops@example.com", "password": PASSWORD, "role": "Admin" }),
        )
        .await
        .json()
        .await
        .unwrap();
    let ops_id = created["id"].as_str().unwrap().to_string();
    let ops = app.sign_in("ops@example.com").await;
    let (key, listed) = create_key(&ops, json!({ "name": "Ops script" })).await;
    assert_eq!(listed["createdBy"], "ops@example.com");
    // A key made with a key acts for the administrator behind the first one.
    let made_by_key: Value = app
        .anonymous()
        .post(app.url("/api/v1/api-keys"))
        .header("X-API-Key", &key)
        .json(&json!({ "name": "Made by the script" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let second = made_by_key["key"].as_str().unwrap().to_string();
    let works = |key: String| {
        let app = &app;
        async move { with_key(app, &key, Method::GET, "/api/v1/users", None).await }
    };
    assert_eq!((works(key.clone()).await, works(second.clone()).await), (200, 200));

    let user = format!("/api/v1/users/{ops_id}");
    for (change, undo) in [
        (json!({ "blocked": true }), json!({ "blocked": false })),
        (json!({ "role": "Viewer" }), json!({ "role": "Admin" })),
        (json!({ "expiresAt": "2020-01-01" }), json!({ "expiresAt": null })),
    ] {
        assert_eq!(admin.patch(&user, change.clone()).await.status(), StatusCode::OK, "{change}");
        assert_eq!((works(key.clone()).await, works(second.clone()).await), (401, 401), "{change}");
        assert_eq!(admin.patch(&user, undo).await.status(), StatusCode::OK);
        assert_eq!((works(key.clone()).await, works(second.clone()).await), (200, 200), "{change}");
    }
    assert_eq!(admin.delete(&user).await.status(), StatusCode::NO_CONTENT);
    let refused = app
        .anonymous()
        .get(app.url("/api/v1/users"))
        .header("X-API-Key", &key)
        .send()
        .await
        .unwrap();
    let body = expect_error(refused, StatusCode::UNAUTHORIZED, "Unauthenticated").await;
    assert!(body["error"]["message"].as_str().unwrap().contains("administrator who made it"));
    assert_eq!(works(second).await, 401);
}

#[tokio::test]
async fn a_key_expires_and_is_listed_with_its_scope_reports_expiry_and_maker() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let report = admin.id_of("/api/v1/reports", "name", "Sales overview").await;
    let expires = (app.clock_now() + Duration::days(2)).to_rfc3339();
    let (key, _) = create_key(
        &admin,
        json!({ "name": "Partner portal", "scope": "embed", "reports": [report],
                "expiresAt": expires, "wakeCapacity": true }),
    )
    .await;
    let (admin_key, _) = create_key(&admin, json!({ "name": "Sync", "expiresAt": expires })).await;
    let listed = admin.json("/api/v1/api-keys").await;
    let partner =
        listed.as_array().unwrap().iter().find(|k| k["name"] == "Partner portal").unwrap();
    assert_eq!(partner["scope"], "embed");
    assert_eq!(partner["reports"], json!([report]));
    assert_eq!(partner["createdBy"], ADMIN);
    assert_eq!(
        (partner["wakeCapacity"].clone(), partner["keepCapacityOn"].clone()),
        (json!(true), json!(false))
    );
    assert!(partner["expiresAt"].as_str().is_some());
    assert!(partner.get("key").is_none(), "the secret is shown only once");

    assert_eq!(with_key(&app, &admin_key, Method::GET, "/api/v1/users", None).await, 200);
    app.clock.advance(Duration::days(3));
    let refused = app
        .anonymous()
        .get(app.url("/api/v1/users"))
        .header("X-API-Key", &admin_key)
        .send()
        .await
        .unwrap();
    let body = expect_error(refused, StatusCode::UNAUTHORIZED, "Unauthenticated").await;
    assert!(body["error"]["message"].as_str().unwrap().contains("expired"));
    drop(key);
}

#[tokio::test]
async fn a_key_asked_for_wrongly_is_refused_naming_the_field_and_none_is_made() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let acme = app.sign_in(ACME_ADMIN).await;
    let theirs = acme.json("/api/v1/reports").await[0]["id"].as_str().unwrap().to_string();
    let ours = admin.json("/api/v1/reports").await[0]["id"].as_str().unwrap().to_string();
    for (body, field) in [
        (json!({ "name": "K", "scope": "owner" }), "scope"),
        (json!({ "name": "K", "scope": "admin", "reports": [ours] }), "reports"),
        (json!({ "name": "K", "scope": "embed", "reports": [theirs] }), "reports"),
        (json!({ "name": "K", "scope": "embed", "reports": [ours, theirs] }), "reports"),
        (json!({ "name": "K", "scope": "embed", "reports": "all" }), "reports"),
        (json!({ "name": "K", "scope": "embed", "reports": ["not-an-id"] }), "reports"),
        (json!({ "name": "K", "expiresAt": "2020-01-01" }), "expiresAt"),
        (json!({ "name": "K", "expiresAt": "tomorrow" }), "expiresAt"),
        (json!({ "name": "K", "wakeCapacity": "yes" }), "wakeCapacity"),
        (json!({ "name": "K", "owner": "me" }), "owner"),
    ] {
        let response = admin.post("/api/v1/api-keys", body.clone()).await;
        let error = expect_error(response, StatusCode::BAD_REQUEST, "InvalidInput").await;
        assert_eq!(error["error"]["field"], field, "{body}");
    }
    assert!(admin.json("/api/v1/api-keys").await.as_array().unwrap().is_empty());
}
