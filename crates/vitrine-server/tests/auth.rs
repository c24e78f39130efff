//! Sign-in, sessions, lockout, timeouts and CSRF, against the real server.

mod common;

use chrono::Duration;
use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn login_returns_user_and_csrf_token_and_sets_a_safe_session_cookie() {
    let app = spawn_app().await;
    let response = app
        .anonymous()
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({ "email": "Admin@Example.com ", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("vitrine_session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/")
    );
    assert!(!cookie.contains("Secure"), "plain http public URL: no Secure flag");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["email"], ADMIN);
    assert_eq!(body["user"]["role"], "Admin");
    assert!(body["user"].get("passwordHash").is_none());
    assert!(body["csrfToken"].as_str().is_some_and(|t| t.len() >= 32));
}

#[tokio::test]
async fn cookie_is_secure_when_the_public_url_is_https() {
    let app = spawn_app_with(|layer| vitrine_server::config::ConfigLayer {
        public_url: Some("https://bi.example.com".into()),
        ..layer
    })
    .await;
    let response = app
        .anonymous()
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({ "email": ADMIN, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
}

#[tokio::test]
async fn session_is_stored_only_as_a_hash_of_the_cookie() {
    let app = spawn_app().await;
    let response = app
        .anonymous()
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({ "email": ADMIN, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    let token = cookie.trim_start_matches("vitrine_session=").split(';').next().unwrap();
    assert!(app.store.find_session(token.as_bytes()).await.unwrap().is_none());
    let hash = vitrine_server::auth::sha256(token);
    assert!(app.store.find_session(&hash).await.unwrap().is_some());
}

#[tokio::test]
async fn unknown_email_and_wrong_password_get_the_same_answer() {
    let app = spawn_app().await;
    let wrong = app.sign_in_with(ADMIN, "not-the-password").await.err().unwrap();
    let unknown = app.sign_in_with("nobody@example.com", "not-the-password").await.err().unwrap();
    assert_eq!(wrong.status(), unknown.status());
    let wrong: Value = wrong.json().await.unwrap();
    let unknown: Value = unknown.json().await.unwrap();
    assert_eq!(wrong, unknown);
    assert_eq!(wrong["error"]["code"], "InvalidCredentials");
}

#[tokio::test]
async fn five_wrong_passwords_lock_the_account_for_thirty_minutes() {
    let app = spawn_app().await;
    for attempt in 1..=4 {
        let response = app.sign_in_with(VIEWER, "wrong-password").await.err().unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }
    let fifth = app.sign_in_with(VIEWER, "wrong-password").await.err().unwrap();
    expect_error(fifth, StatusCode::LOCKED, "AccountLocked").await;
    let right = app
        .sign_in_with(VIEWER, PASSWORD)
        .await
        .err()
        .expect("locked even with the right password");
    expect_error(right, StatusCode::LOCKED, "AccountLocked").await;

    app.clock.advance(Duration::minutes(29));
    let still = app.sign_in_with(VIEWER, PASSWORD).await.err().expect("still locked");
    assert_eq!(still.status(), StatusCode::LOCKED);
    app.clock.advance(Duration::minutes(2));
    app.sign_in_with(VIEWER, PASSWORD).await.expect("unlocked after 30 minutes");
}

#[tokio::test]
async fn a_right_password_resets_the_count_of_wrong_ones() {
    let app = spawn_app().await;
    for _ in 0..4 {
        app.sign_in_with(VIEWER, "wrong-password").await.err().unwrap();
    }
    app.sign_in_with(VIEWER, PASSWORD).await.expect("fourth failure does not lock");
    for _ in 0..4 {
        app.sign_in_with(VIEWER, "wrong-password").await.err().unwrap();
    }
    app.sign_in_with(VIEWER, PASSWORD).await.expect("count restarted");
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = spawn_app().await;
    let session = app.sign_in(ADMIN).await;
    assert_eq!(session.get("/api/v1/me").await.status(), StatusCode::OK);
    let response = session.post("/api/v1/auth/logout", json!({})).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    expect_error(session.get("/api/v1/me").await, StatusCode::UNAUTHORIZED, "Unauthenticated")
        .await;
}

#[tokio::test]
async fn idle_sessions_end_after_the_organizations_idle_timeout() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let response =
        admin.patch("/api/v1/settings", json!({ "sessionIdleTimeoutMinutes": 10 })).await;
    assert_eq!(response.status(), StatusCode::OK);
    let viewer = app.sign_in(VIEWER).await;
    app.clock.advance(Duration::minutes(9));
    assert_eq!(viewer.get("/api/v1/me").await.status(), StatusCode::OK, "used within the timeout");
    app.clock.advance(Duration::minutes(9));
    assert_eq!(
        viewer.get("/api/v1/me").await.status(),
        StatusCode::OK,
        "activity restarted the timer"
    );
    app.clock.advance(Duration::minutes(11));
    expect_error(viewer.get("/api/v1/me").await, StatusCode::UNAUTHORIZED, "Unauthenticated").await;
}

#[tokio::test]
async fn sessions_end_after_the_absolute_timeout_even_when_used() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let response =
        admin.patch("/api/v1/settings", json!({ "sessionAbsoluteTimeoutHours": 2 })).await;
    assert_eq!(response.status(), StatusCode::OK);
    let viewer = app.sign_in(VIEWER).await;
    for _ in 0..7 {
        app.clock.advance(Duration::minutes(17));
        assert_eq!(viewer.get("/api/v1/me").await.status(), StatusCode::OK);
    }
    app.clock.advance(Duration::minutes(2));
    expect_error(viewer.get("/api/v1/me").await, StatusCode::UNAUTHORIZED, "Unauthenticated").await;
}

#[tokio::test]
async fn blocking_a_user_refuses_sign_in_and_ends_their_sessions() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let viewer = app.sign_in(VIEWER).await;
    let id = admin.id_of("/api/v1/users", "email", VIEWER).await;
    let response = admin.patch(&format!("/api/v1/users/{id}"), json!({ "blocked": true })).await;
    assert_eq!(response.status(), StatusCode::OK);
    expect_error(viewer.get("/api/v1/me").await, StatusCode::UNAUTHORIZED, "Unauthenticated").await;
    let refused = app.sign_in_with(VIEWER, PASSWORD).await.err().unwrap();
    expect_error(refused, StatusCode::FORBIDDEN, "Forbidden").await;
    let wrong = app.sign_in_with(VIEWER, "wrong-password").await.err().unwrap();
    expect_error(wrong, StatusCode::UNAUTHORIZED, "InvalidCredentials").await;
}

#[tokio::test]
async fn users_past_their_expiry_date_cannot_sign_in_or_keep_a_session() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let viewer = app.sign_in(VIEWER).await;
    let id = admin.id_of("/api/v1/users", "email", VIEWER).await;
    let expiry = (app.clock_now() + Duration::hours(1)).to_rfc3339();
    let response =
        admin.patch(&format!("/api/v1/users/{id}"), json!({ "expiresAt": expiry })).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(viewer.get("/api/v1/me").await.status(), StatusCode::OK);
    app.clock.advance(Duration::minutes(61));
    expect_error(viewer.get("/api/v1/me").await, StatusCode::UNAUTHORIZED, "Unauthenticated").await;
    let refused = app.sign_in_with(VIEWER, PASSWORD).await.err().unwrap();
    expect_error(refused, StatusCode::FORBIDDEN, "Forbidden").await;
}

#[tokio::test]
async fn unsafe_requests_with_a_session_cookie_need_the_csrf_header() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let body = json!({ "name": "Ops" });
    let missing = admin.client.post(app.url("/api/v1/groups")).json(&body).send().await.unwrap();
    expect_error(missing, StatusCode::FORBIDDEN, "CsrfRejected").await;
    let wrong = admin
        .client
        .post(app.url("/api/v1/groups"))
        .header("X-CSRF-Token", "forged")
        .json(&body)
        .send()
        .await
        .unwrap();
    expect_error(wrong, StatusCode::FORBIDDEN, "CsrfRejected").await;
    let other_session = app.sign_in(ADMIN).await;
    let foreign = admin
        .client
        .post(app.url("/api/v1/groups"))
        .header("X-CSRF-Token", &other_session.csrf)
        .json(&body)
        .send()
        .await
        .unwrap();
    expect_error(foreign, StatusCode::FORBIDDEN, "CsrfRejected").await;
    let logout = admin.client.post(app.url("/api/v1/auth/logout")).send().await.unwrap();
    expect_error(logout, StatusCode::FORBIDDEN, "CsrfRejected").await;
    // Nothing was created by the refused requests.
    let groups = admin.json("/api/v1/groups").await;
    assert!(!groups.as_array().unwrap().iter().any(|g| g["name"] == "Ops"));
    assert_eq!(admin.post("/api/v1/groups", body).await.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn me_describes_the_caller_and_refuses_anonymous_requests() {
    let app = spawn_app().await;
    expect_error(
        app.anonymous().get(app.url("/api/v1/me")).send().await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "Unauthenticated",
    )
    .await;
    let admin = app.sign_in(ADMIN).await;
    let me = admin.json("/api/v1/me").await;
    assert_eq!(me["user"]["email"], ADMIN);
    assert_eq!(me["organization"]["name"], "Northwind Traders");
    assert_eq!(me["csrfToken"], admin.csrf.as_str());
    let mut permissions: Vec<&str> =
        me["permissions"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    permissions.sort();
    assert_eq!(
        permissions,
        ["capacity.keepOn", "capacity.turnOn"],
        "granted through the Executives group"
    );
}

#[tokio::test]
async fn a_sign_in_with_what_is_not_an_email_is_refused_naming_the_field_and_never_locks() {
    let app = spawn_app().await;
    for attempt in 1..=7 {
        let response = app.sign_in_with("useratexample.com", "wrong-password").await.err().unwrap();
        let body = expect_error(response, StatusCode::BAD_REQUEST, "InvalidInput").await;
        assert_eq!(body["error"]["field"], "email", "attempt {attempt}");
    }
}

#[tokio::test]
async fn garbage_login_bodies_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let client = app.anonymous();
    let cases = [
        (json!({ "email": ADMIN }), "password"),
        (json!({ "password": PASSWORD }), "email"),
        (json!({ "email": 5, "password": PASSWORD }), "email"),
        (json!([1, 2]), "body"),
        (json!({ "email": ADMIN, "password": PASSWORD, "remember": true }), "remember"),
    ];
    for (body, field) in cases {
        let response = client.post(app.url("/api/v1/auth/login")).json(&body).send().await.unwrap();
        let body = expect_error(response, StatusCode::BAD_REQUEST, "InvalidInput").await;
        assert_eq!(body["error"]["field"], field);
    }
    let response = client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let body = expect_error(response, StatusCode::BAD_REQUEST, "InvalidInput").await;
    assert_eq!(body["error"]["field"], "body");
}
