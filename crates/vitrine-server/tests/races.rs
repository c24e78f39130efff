//! Promises under concurrency, tested by racing: token requests against the removal of
//! access, parallel wrong passwords against the lockout.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::json;

/// Token requests racing the removal of a direct grant, round after round: whatever the
/// interleaving, once the removal has been answered no token answered 200 opens the report.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tokens_answered_while_access_is_removed_never_outlive_the_removal() {
    const ROUNDS: usize = 1_000;
    const REQUESTS: usize = 4;
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let viewer = std::sync::Arc::new(app.sign_in(VIEWER).await);
    let viewer_id = admin.id_of("/api/v1/users", "email", VIEWER).await;
    let report = admin.id_of("/api/v1/reports", "name", "Executive summary").await;
    let grant = format!("/api/v1/reports/{report}/access/users/{viewer_id}");
    let token_path = format!("/api/v1/reports/{report}/token");
    let (mut issued, mut raced) = (0, 0);
    for round in 0..ROUNDS {
        assert_eq!(admin.put(&grant).await.status(), StatusCode::NO_CONTENT);
        let requests: Vec<_> = (0..REQUESTS)
            .map(|_| {
                let (viewer, path) = (viewer.clone(), token_path.clone());
                tokio::spawn(async move { viewer.post(&path, json!({})).await })
            })
            .collect();
        // Let some requests get under way before the removal lands among them.
        if round % 2 == 1 {
            tokio::task::yield_now().await;
        }
        assert_eq!(admin.delete(&grant).await.status(), StatusCode::NO_CONTENT);
        let mut tokens = Vec::new();
        for request in requests {
            let response = request.await.unwrap();
            match response.status() {
                StatusCode::OK => {
                    let body: serde_json::Value = response.json().await.unwrap();
                    tokens.push(body["token"].as_str().unwrap().to_string());
                }
                StatusCode::FORBIDDEN => raced += 1,
                other => panic!("round {round}: token request answered {other}"),
            }
        }
        for token in tokens {
            issued += 1;
            let response = embed(&app, &token, &report).await;
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "round {round}: a token answered around the removal still opens the report"
            );
        }
    }
    assert!(issued > 0 && raced > 0, "both outcomes seen ({issued} issued, {raced} refused)");
}

async fn parallel_wrong_passwords(app: &TestApp, email: &str, attempts: usize) -> Vec<StatusCode> {
    let requests: Vec<_> = (0..attempts)
        .map(|_| {
            let (client, url) = (app.anonymous(), app.url("/api/v1/auth/login"));
            let body = json!({ "email": email, "password": "wrong-password-guess" });
            tokio::spawn(async move { client.post(url).json(&body).send().await.unwrap().status() })
        })
        .collect();
    let mut statuses = Vec::new();
    for request in requests {
        statuses.push(request.await.unwrap());
    }
    statuses
}

/// 64 wrong passwords at once, for fresh accounts and for an email of nobody, 512 in all:
/// four are answered "wrong", the fifth locks, and no other is checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_wrong_passwords_are_checked_at_most_five_times_per_lock() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    for round in 0..8 {
        let email = if round == 7 {
            "nobody-at-all@example.com".to_string()
        } else {
            let email = format!("target{round}@example.com");
            let body = json!({ "email": email, "password": PASSWORD });
            assert_eq!(admin.post("/api/v1/users", body).await.status(), StatusCode::CREATED);
            email
        };
        let statuses = parallel_wrong_passwords(&app, &email, 64).await;
        let wrong = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
        let locked = statuses.iter().filter(|s| **s == StatusCode::LOCKED).count();
        assert_eq!((wrong, locked), (4, 60), "{email}: {statuses:?}");
        let right = app.sign_in_with(&email, PASSWORD).await;
        assert_eq!(
            right.err().map(|r| r.status()),
            Some(StatusCode::LOCKED),
            "{email} stays locked"
        );
    }
}
