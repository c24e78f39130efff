//! Accounts people manage themselves (name, password, sessions), and invitations and
//! password resets sent through a real SMTP server (aiosmtpd) and used once.

mod common;

use std::time::Instant;

use chrono::Duration;
use common::mail::{MailCatcher, link};
use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use vitrine_server::config::SmtpLayer;

async fn spawn_with_mail() -> (TestApp, MailCatcher) {
    let mail = MailCatcher::start().await;
    let port = mail.port;
    let app = spawn_app_with(move |layer| vitrine_server::config::ConfigLayer {
        smtp: Some(SmtpLayer {
            host: Some("127.0.0.1".into()),
            port: Some(port),
            tls: Some("none".into()),
            from: Some("Vitrine <bi@example.com>".into()),
            ..Default::default()
        }),
        ..layer
    })
    .await;
    (app, mail)
}

fn token_of(url: &str) -> String {
    url.split_once('#').expect("a link with its token in the fragment").1.to_string()
}

async fn post_anonymous(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.anonymous().post(app.url(path)).json(&body).send().await.unwrap()
}

#[tokio::test]
async fn a_name_and_a_password_are_changed_by_their_owner_and_other_sessions_end() {
    let app = spawn_app().await;
    let here = app.sign_in(VIEWER).await;
    let elsewhere = app.sign_in(VIEWER).await;
    let renamed = here.patch("/api/v1/me", json!({ "name": "Vera V." })).await;
    assert_eq!(renamed.status(), StatusCode::OK);
    assert_eq!(renamed.json::<Value>().await.unwrap()["user"]["name"], "Vera V.");

    let wrong = here
        .patch("/api/v1/me", json!({ "password": "a-new-password", "currentPassword": "nope" }))
        .await;
    let body = expect_error(wrong, StatusCode::BAD_REQUEST, "InvalidInput").await;
    assert_eq!(body["error"]["field"], "currentPassword");
    let short =
        here.patch("/api/v1/me", json!({ "password": "short", "currentPassword": PASSWORD })).await;
    assert_eq!(
        expect_error(short, StatusCode::BAD_REQUEST, "InvalidInput").await["error"]["field"],
        "password"
    );
    let role = here.patch("/api/v1/me", json!({ "role": "Admin" })).await;
    assert_eq!(
        expect_error(role, StatusCode::BAD_REQUEST, "InvalidInput").await["error"]["field"],
        "role"
    );
    assert_eq!(elsewhere.get("/api/v1/me").await.status(), StatusCode::OK, "nothing changed yet");

    let changed = here
        .patch("/api/v1/me", json!({ "password": "a-new-password", "currentPassword": PASSWORD }))
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    assert_eq!(here.get("/api/v1/me").await.status(), StatusCode::OK, "this session stays");
    expect_error(elsewhere.get("/api/v1/me").await, StatusCode::UNAUTHORIZED, "Unauthenticated")
        .await;
    assert!(app.sign_in_with(VIEWER, PASSWORD).await.is_err(), "the old password is gone");
    app.sign_in_with(VIEWER, "a-new-password").await.expect("the new password works");
}

#[tokio::test]
async fn people_see_their_own_sessions_and_end_them() {
    let app = spawn_app().await;
    let here = app.sign_in(VIEWER).await;
    let other = app.sign_in(VIEWER).await;
    let third = app.sign_in(VIEWER).await;
    let admin = app.sign_in(ADMIN).await;
    let sessions = here.json("/api/v1/me/sessions").await;
    let items = sessions["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "only their own: {sessions}");
    assert_eq!(items.iter().filter(|s| s["current"] == true).count(), 1);
    let text = sessions.to_string();
    assert!(!text.contains(&here.csrf), "no secret in the list");

    // End the "other" session by id: find it as the one that is current from there.
    let other_id = other.json("/api/v1/me/sessions").await["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let ended = here.delete(&format!("/api/v1/me/sessions/{other_id}")).await;
    assert_eq!(ended.status(), StatusCode::NO_CONTENT);
    expect_error(other.get("/api/v1/me").await, StatusCode::UNAUTHORIZED, "Unauthenticated").await;
    // Nobody ends someone else's session.
    let admins = admin.json("/api/v1/me/sessions").await;
    let admin_session = admins["items"][0]["id"].as_str().unwrap();
    let refused = here.delete(&format!("/api/v1/me/sessions/{admin_session}")).await;
    expect_error(refused, StatusCode::NOT_FOUND, "NotFound").await;

    let rest = here.post("/api/v1/me/sessions/end-others", json!({})).await;
    assert_eq!(rest.json::<Value>().await.unwrap()["ended"], 1);
    expect_error(third.get("/api/v1/me").await, StatusCode::UNAUTHORIZED, "Unauthenticated").await;
    assert_eq!(here.get("/api/v1/me").await.status(), StatusCode::OK);
    assert_eq!(admin.get("/api/v1/me").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_invited_user_chooses_a_password_by_the_emailed_link_once() {
    let (app, mail) = spawn_with_mail().await;
    let admin = app.sign_in(ADMIN).await;
    let created =
        admin.post("/api/v1/users", json!({ "email": "nina@example.com", "name": "Nina" })).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["passwordSet"], false);
    assert_eq!(created["invitation"]["emailed"], true);
    // Invited, the account cannot sign in with any password.
    assert!(app.sign_in_with("nina@example.com", "").await.is_err());

    let message = mail.wait_for("nina@example.com", 1).await;
    assert!(message.contains("Northwind Traders"), "in the organization's name: {message}");
    assert!(message.contains("text/plain") && message.contains("text/html"));
    let url = link(&message, &format!("{}/welcome#", app.base));
    assert_eq!(url, created["invitation"]["url"]);
    let token = token_of(&url);

    let short = post_anonymous(
        &app,
        "/api/v1/auth/invitation/accept",
        json!({ "token": token, "password": "short" }),
    )
    .await;
    expect_error(short, StatusCode::BAD_REQUEST, "InvalidInput").await;
    let accepted = post_anonymous(
        &app,
        "/api/v1/auth/invitation/accept",
        json!({ "token": token, "password": "nina-chose-this" }),
    )
    .await;
    assert_eq!(accepted.status(), StatusCode::OK);
    app.sign_in_with("nina@example.com", "nina-chose-this").await.expect("signs in");

    let again = post_anonymous(
        &app,
        "/api/v1/auth/invitation/accept",
        json!({ "token": token, "password": "someone-else-now" }),
    )
    .await;
    expect_error(again, StatusCode::GONE, "LinkInvalid").await;
    app.sign_in_with("nina@example.com", "nina-chose-this").await.expect("password unchanged");
    // An invitation link does not reset passwords, and garbage is refused alike.
    let wrong_kind = post_anonymous(
        &app,
        "/api/v1/auth/password-reset/complete",
        json!({ "token": token, "password": "someone-else-now" }),
    )
    .await;
    expect_error(wrong_kind, StatusCode::GONE, "LinkInvalid").await;
    let audit = admin.json("/api/v1/audit?entityType=user").await;
    assert!(audit.to_string().contains("invitation accepted"), "{audit}");
}

#[tokio::test]
async fn an_invitation_expires_after_seven_days() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let created: Value = admin
        .post("/api/v1/users", json!({ "email": "late@example.com" }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(created["invitation"]["emailed"], false, "no SMTP: the link is for copying");
    let token = token_of(created["invitation"]["url"].as_str().unwrap());
    app.clock.advance(Duration::days(7));
    let late = post_anonymous(
        &app,
        "/api/v1/auth/invitation/accept",
        json!({ "token": token, "password": "too-late-now" }),
    )
    .await;
    expect_error(late, StatusCode::GONE, "LinkExpired").await;
    // The administrator (signed in again after a week) makes a new one, which works.
    let admin = app.sign_in(ADMIN).await;
    let id = created["id"].as_str().unwrap();
    let fresh: Value = admin
        .post(&format!("/api/v1/users/{id}/invitation"), json!({}))
        .await
        .json()
        .await
        .unwrap();
    let token = token_of(fresh["url"].as_str().unwrap());
    let accepted = post_anonymous(
        &app,
        "/api/v1/auth/invitation/accept",
        json!({ "token": token, "password": "just-in-time" }),
    )
    .await;
    assert_eq!(accepted.status(), StatusCode::OK);
    // Once a password is set, there is nothing to invite to.
    let refused = admin.post(&format!("/api/v1/users/{id}/invitation"), json!({})).await;
    expect_error(refused, StatusCode::CONFLICT, "InvalidInput").await;
}

#[tokio::test]
async fn a_reset_link_works_once_within_the_hour_and_signs_the_user_out_everywhere() {
    let (app, mail) = spawn_with_mail().await;
    let signed_in = app.sign_in(VIEWER).await;
    let asked =
        post_anonymous(&app, "/api/v1/auth/password-reset", json!({ "email": VIEWER })).await;
    assert_eq!(asked.status(), StatusCode::ACCEPTED);
    let message = mail.wait_for(VIEWER, 1).await;
    let token = token_of(&link(&message, &format!("{}/password/reset#", app.base)));

    let done = post_anonymous(
        &app,
        "/api/v1/auth/password-reset/complete",
        json!({ "token": token, "password": "brand-new-secret" }),
    )
    .await;
    assert_eq!(done.status(), StatusCode::OK);
    expect_error(signed_in.get("/api/v1/me").await, StatusCode::UNAUTHORIZED, "Unauthenticated")
        .await;
    app.sign_in_with(VIEWER, "brand-new-secret").await.expect("the new password works");
    let again = post_anonymous(
        &app,
        "/api/v1/auth/password-reset/complete",
        json!({ "token": token, "password": "another-secret" }),
    )
    .await;
    expect_error(again, StatusCode::GONE, "LinkInvalid").await;

    // A second link, used after its hour, is refused.
    post_anonymous(&app, "/api/v1/auth/password-reset", json!({ "email": VIEWER })).await;
    let message = mail.wait_for(VIEWER, 2).await;
    let token = token_of(&link(&message, &format!("{}/password/reset#", app.base)));
    app.clock.advance(Duration::minutes(61));
    let late = post_anonymous(
        &app,
        "/api/v1/auth/password-reset/complete",
        json!({ "token": token, "password": "another-secret" }),
    )
    .await;
    expect_error(late, StatusCode::GONE, "LinkExpired").await;
    app.sign_in_with(VIEWER, "brand-new-secret").await.expect("unchanged");
}

#[tokio::test]
async fn forgot_password_answers_alike_and_in_the_same_time_for_unknown_emails() {
    let (app, mail) = spawn_with_mail().await;
    let ask = |email: &'static str| {
        let app = &app;
        async move {
            let started = Instant::now();
            let response =
                post_anonymous(app, "/api/v1/auth/password-reset", json!({ "email": email })).await;
            let elapsed = started.elapsed();
            let status = response.status();
            (status, response.text().await.unwrap(), elapsed)
        }
    };
    let (known_status, known_body, _) = ask(CONTRIBUTOR).await;
    let (unknown_status, unknown_body, _) = ask("nobody@example.com").await;
    assert_eq!(known_status, unknown_status);
    assert_eq!(known_body, unknown_body, "the same words either way");

    // Interleaved, many times: the medians stay close. (Both paths do the same reads and the
    // same HMAC; the email leaves from a queue.)
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for _ in 0..40 {
        known.push(ask(CONTRIBUTOR).await.2);
        unknown.push(ask("nobody@example.com").await.2);
    }
    known.sort();
    unknown.sort();
    let (k, u) = (known[20].as_secs_f64(), unknown[20].as_secs_f64());
    assert!((k - u).abs() < 0.002 + 0.5 * k.min(u), "median known {k:.6}s vs unknown {u:.6}s");
    // The throttle sent at most three emails to the known address this hour.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(mail.messages_to(CONTRIBUTOR).len(), 3);
    assert!(mail.messages_to("nobody@example.com").is_empty());
    let bad = post_anonymous(&app, "/api/v1/auth/password-reset", json!({ "email": "nope" })).await;
    let body = expect_error(bad, StatusCode::BAD_REQUEST, "InvalidInput").await;
    assert_eq!(body["error"]["field"], "email");
}
