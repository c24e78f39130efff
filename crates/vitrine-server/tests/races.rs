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

/// A host app's mints for one of its users racing the revocation of that user's tokens, round
/// after round: every token answered before the revocation was sent is refused once it has
/// been answered, tokens minted while it lands are refused or valid but never fail the
/// request, and a mint after the answer works (the host may sign them in again at once).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn host_app_mints_racing_an_identity_revocation_never_outlive_it() {
    const ROUNDS: usize = 300;
    const RACING: usize = 4;
    let app = std::sync::Arc::new(spawn_app().await);
    let admin = app.sign_in(ADMIN).await;
    let report = admin.id_of("/api/v1/reports", "name", "Executive summary").await;
    let created = admin.post("/api/v1/api-keys", json!({ "name": "Host", "scope": "embed" })).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let key: serde_json::Value = created.json().await.unwrap();
    let key = std::sync::Arc::new(key["key"].as_str().unwrap().to_string());
    let mint = {
        let (app, key, report) = (app.clone(), key.clone(), report.clone());
        move || {
            let (app, key, report) = (app.clone(), key.clone(), report.clone());
            async move {
                let body = json!({ "reports": [report], "identity": { "id": "racer", "roles": ["All regions"] } });
                let response = app
                    .anonymous()
                    .post(app.url("/api/v1/embed/tokens"))
                    .header("X-API-Key", key.as_str())
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), StatusCode::OK, "a mint failed");
                let body: serde_json::Value = response.json().await.unwrap();
                body["token"].as_str().unwrap().to_string()
            }
        }
    };
    let revoke = || async {
        app.anonymous()
            .post(app.url("/api/v1/embed/identities/racer/revoke-tokens"))
            .header("X-API-Key", key.as_str())
            .send()
            .await
            .unwrap()
            .status()
    };
    let (mut survived, mut revoked_racing) = (0, 0);
    for round in 0..ROUNDS {
        let before = mint().await;
        let racing: Vec<_> = (0..RACING).map(|_| tokio::spawn(mint())).collect();
        if round % 2 == 1 {
            tokio::task::yield_now().await;
        }
        assert_eq!(revoke().await, StatusCode::NO_CONTENT);
        let response = embed(&app, &before, &report).await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "round {round}: a token minted before the revocation still opens the report"
        );
        for request in racing {
            let token = request.await.unwrap();
            match embed(&app, &token, &report).await.status() {
                StatusCode::OK => survived += 1,
                StatusCode::UNAUTHORIZED => revoked_racing += 1,
                other => panic!("round {round}: a racing token answered {other}"),
            }
        }
        let after = mint().await;
        assert_eq!(
            embed(&app, &after, &report).await.status(),
            StatusCode::OK,
            "round {round}: a token minted after the revocation was answered is refused"
        );
    }
    assert!(survived + revoked_racing == ROUNDS * RACING);
    eprintln!("racing mints: {survived} minted after the revocation, {revoked_racing} revoked");
}
