//! Displays over HTTP: a screen paired by the code it shows, its own credential (collected
//! once, rotated, never bound by session timeouts), what it shows and may open, its
//! row-level security, and unpairing that ends everything at once.

mod common;

use std::time::Duration;

use chrono::Duration as Span;
use common::*;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

/// A screen that asked for a code: the code and its secret.
async fn screen_code(app: &TestApp) -> (String, String) {
    let started = app.anonymous().post(app.url("/api/v1/display/pairings")).send().await.unwrap();
    assert_eq!(started.status(), StatusCode::CREATED);
    let body: Value = started.json().await.unwrap();
    (body["code"].as_str().unwrap().into(), body["secret"].as_str().unwrap().into())
}

async fn claim(app: &TestApp, secret: &str) -> Response {
    app.anonymous()
        .post(app.url("/api/v1/display/pairings/claim"))
        .json(&json!({ "secret": secret }))
        .send()
        .await
        .unwrap()
}

/// As the screen holding `credential`.
async fn as_screen(
    app: &TestApp,
    credential: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Response {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = app.anonymous().request(method, app.url(path)).bearer_auth(credential);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

/// Pairs a new screen showing `show`; answers the display and the screen's credential.
async fn paired(
    app: &TestApp,
    admin: &Session,
    name: &str,
    show: Value,
    groups: Value,
) -> (Value, String) {
    let (code, secret) = screen_code(app).await;
    let made = admin
        .post(
            "/api/v1/displays/pair",
            json!({ "code": code, "name": name, "show": show, "groups": groups }),
        )
        .await;
    assert_eq!(made.status(), StatusCode::CREATED);
    let display: Value = made.json().await.unwrap();
    let collected = claim(app, &secret).await;
    assert_eq!(collected.status(), StatusCode::OK);
    let credential =
        collected.json::<Value>().await.unwrap()["credential"].as_str().unwrap().to_string();
    (display, credential)
}

async fn token(app: &TestApp, credential: &str, report: &str) -> Response {
    as_screen(app, credential, "POST", "/api/v1/display/token", Some(json!({ "report": report })))
        .await
}

/// Reads server-sent events until one named `until` arrives or `within` passes.
async fn heard(response: &mut Response, until: &str, within: Duration) -> Vec<(String, String)> {
    let deadline = tokio::time::Instant::now() + within;
    let (mut buffer, mut events) = (String::new(), Vec::new());
    while let Ok(Ok(Some(chunk))) = tokio::time::timeout_at(deadline, response.chunk()).await {
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let field = |name: &str| {
                block.lines().find_map(|line| line.strip_prefix(name)).map(|v| v.trim().to_string())
            };
            let Some(event) = field("event:") else { continue };
            let done = event == until;
            events.push((event, field("data:").unwrap_or_default()));
            if done {
                return events;
            }
        }
    }
    events
}

#[tokio::test]
async fn a_screen_is_paired_by_its_code_collects_its_credential_once_and_opens_only_what_it_shows()
{
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let warehouse = admin.id_of("/api/v1/reports", "name", "Warehouse operations").await;
    let executive = admin.id_of("/api/v1/reports", "name", "Executive summary").await;
    let (code, secret) = screen_code(&app).await;
    assert_eq!(code.len(), 6);
    assert_eq!(claim(&app, &secret).await.status(), StatusCode::ACCEPTED, "waiting");

    // Typed loosely, as someone reads it off a screen across the room.
    let typed = format!("{}-{}", code[..3].to_lowercase(), &code[3..]);
    let made = admin
        .post(
            "/api/v1/displays/pair",
            json!({ "code": typed, "name": "Dock TV", "show": { "report": warehouse } }),
        )
        .await;
    assert_eq!(made.status(), StatusCode::CREATED);
    let display: Value = made.json().await.unwrap();
    assert_eq!(display["name"], "Dock TV");
    assert_eq!(display["pairedBy"], ADMIN);
    let collected = claim(&app, &secret).await;
    assert_eq!(collected.status(), StatusCode::OK);
    let body: Value = collected.json().await.unwrap();
    let credential = body["credential"].as_str().unwrap().to_string();
    assert_eq!(body["display"]["name"], "Dock TV");
    assert_eq!(claim(&app, &secret).await.status(), StatusCode::NOT_FOUND, "handed over once");
    // The code is used: entering it again pairs nothing.
    let again = admin
        .post(
            "/api/v1/displays/pair",
            json!({ "code": code, "name": "Twice", "show": { "report": warehouse } }),
        )
        .await;
    assert_eq!(
        expect_error(again, StatusCode::BAD_REQUEST, "InvalidInput").await["error"]["field"],
        "code"
    );

    let me = as_screen(&app, &credential, "GET", "/api/v1/display/me", None).await;
    assert_eq!(me.status(), StatusCode::OK);
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["show"], json!({ "report": warehouse }));
    assert_eq!(me["rotate"], false);
    // What it shows it may open, and nothing else.
    let granted = token(&app, &credential, &warehouse).await;
    assert_eq!(granted.status(), StatusCode::OK);
    let refused = token(&app, &credential, &executive).await;
    expect_error(refused, StatusCode::FORBIDDEN, "NoAccess").await;
    // The credential opens the display's endpoints only; a wrong one opens nothing.
    assert_eq!(
        as_screen(&app, &credential, "GET", "/api/v1/me", None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let wrong = as_screen(&app, "not-a-credential", "GET", "/api/v1/display/me", None).await;
    expect_error(wrong, StatusCode::UNAUTHORIZED, "Unauthenticated").await;

    // It is not a person: not among the users, and it cannot sign in.
    let users = admin.json("/api/v1/users").await;
    assert!(users.as_array().unwrap().iter().all(|u| u["id"] != display["id"]));
    let signed = app
        .anonymous()
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({ "email": display["handle"], "password": "anything-at-all" }))
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), StatusCode::UNAUTHORIZED);

    // Its health: online once it said how it is, with its browser.
    let beat = app
        .anonymous()
        .post(app.url("/api/v1/display/heartbeat"))
        .bearer_auth(&credential)
        .header("User-Agent", "Kiosk Chromium")
        .json(&json!({ "state": "showing", "detail": "Warehouse operations" }))
        .send()
        .await
        .unwrap();
    assert_eq!(beat.status(), StatusCode::OK);
    let listed = admin.json("/api/v1/displays").await;
    let listed = &listed.as_array().unwrap()[0];
    assert_eq!(
        (listed["status"].as_str(), listed["state"].as_str()),
        (Some("online"), Some("showing"))
    );
    assert_eq!(listed["browser"], "Kiosk Chromium");
    app.clock.advance(Span::minutes(4));
    let later = admin.json(&format!("/api/v1/displays/{}", display["id"].as_str().unwrap())).await;
    assert_eq!(later["status"], "offline");
    assert!(later["offlineSince"].is_string());

    // The audit names the display.
    let audit = admin.json("/api/v1/audit?limit=20").await;
    assert!(audit.to_string().contains("display paired"), "{audit}");
    // The token audit is written in batches, in the background.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let events = loop {
        let events = admin.json("/api/v1/audit/tokens?user=Dock").await;
        if !events.as_array().unwrap().is_empty() || std::time::Instant::now() > deadline {
            break events;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(events.as_array().unwrap().iter().any(|e| e["user"] == "display Dock TV"), "{events}");
}

#[tokio::test]
async fn a_wrong_code_or_show_is_refused_naming_its_field_and_guessing_codes_is_throttled() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let report = admin.id_of("/api/v1/reports", "name", "Sales overview").await;
    let (code, secret) = screen_code(&app).await;
    for (body, field) in [
        (json!({ "code": code, "name": "TV", "show": { "report": "nope" } }), "show"),
        (json!({ "code": code, "name": "TV", "show": { "playlist": [] } }), "show"),
        (
            json!({ "code": code, "name": "TV", "show": { "report": report, "page": "no-such-page" } }),
            "show",
        ),
        (
            json!({ "code": code, "name": "TV", "show": { "playlist": [{ "report": report, "seconds": 1 }] } }),
            "show",
        ),
        (json!({ "code": code, "name": "", "show": { "report": report } }), "name"),
        (
            json!({ "code": code, "name": "TV", "show": { "report": report }, "groups": ["x"] }),
            "groups",
        ),
        (
            json!({ "code": code, "name": "TV", "show": { "report": report }, "colour": 1 }),
            "colour",
        ),
    ] {
        let refused = admin.post("/api/v1/displays/pair", body).await;
        let error = expect_error(refused, StatusCode::BAD_REQUEST, "InvalidInput").await;
        assert_eq!(error["error"]["field"], field, "{error}");
    }
    assert!(admin.json("/api/v1/displays").await.as_array().unwrap().is_empty(), "nothing paired");
    assert_eq!(claim(&app, &secret).await.status(), StatusCode::ACCEPTED, "its code still waits");

    for guess in 0..10 {
        let wrong = admin
            .post("/api/v1/displays/pair", json!({ "code": format!("WRONG{guess}"), "name": "TV", "show": { "report": report } }))
            .await;
        expect_error(wrong, StatusCode::BAD_REQUEST, "InvalidInput").await;
    }
    let held = admin
        .post(
            "/api/v1/displays/pair",
            json!({ "code": code, "name": "TV", "show": { "report": report } }),
        )
        .await;
    expect_error(held, StatusCode::TOO_MANY_REQUESTS, "RateLimited").await;
    // Another organization is not held up by these guesses, and cannot see this one's screens.
    let acme = app.sign_in(ACME_ADMIN).await;
    assert!(acme.json("/api/v1/displays").await.as_array().unwrap().is_empty());
    let viewer = app.sign_in(VIEWER).await;
    expect_error(viewer.get("/api/v1/displays").await, StatusCode::FORBIDDEN, "Forbidden").await;
}

#[tokio::test]
async fn unpairing_a_display_ends_its_screen_and_its_report_within_a_second() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let report = admin.id_of("/api/v1/reports", "name", "Warehouse operations").await;
    let (display, credential) =
        paired(&app, &admin, "Lobby", json!({ "report": report }), json!([])).await;
    let embed_token =
        token(&app, &credential, &report).await.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string();
    let mut report_channel = app
        .anonymous()
        .get(app.url("/api/v1/embed/live"))
        .bearer_auth(&embed_token)
        .send()
        .await
        .unwrap();
    heard(&mut report_channel, "ready", Duration::from_secs(1)).await;
    let mut own = as_screen(&app, &credential, "GET", "/api/v1/display/live", None).await;
    assert_eq!(own.status(), StatusCode::OK);
    heard(&mut own, "ready", Duration::from_secs(1)).await;

    let gone = admin.delete(&format!("/api/v1/displays/{}", display["id"].as_str().unwrap())).await;
    assert_eq!(gone.status(), StatusCode::NO_CONTENT);
    let said = heard(&mut own, "unpaired", Duration::from_secs(1)).await;
    assert_eq!(said.last().map(|(event, _)| event.as_str()), Some("unpaired"));
    let said = heard(&mut report_channel, "revoked", Duration::from_secs(1)).await;
    assert_eq!(said.last().map(|(event, _)| event.as_str()), Some("revoked"));
    let me = as_screen(&app, &credential, "GET", "/api/v1/display/me", None).await;
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    expect_error(
        token(&app, &credential, &report).await,
        StatusCode::UNAUTHORIZED,
        "Unauthenticated",
    )
    .await;
}

#[tokio::test]
async fn changing_what_a_display_shows_reaches_its_screen_and_moves_what_it_may_open() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let warehouse = admin.id_of("/api/v1/reports", "name", "Warehouse operations").await;
    let sales = admin.id_of("/api/v1/reports", "name", "Sales overview").await;
    let (display, credential) =
        paired(&app, &admin, "Hall", json!({ "report": warehouse }), json!([])).await;
    let mut own = as_screen(&app, &credential, "GET", "/api/v1/display/live", None).await;
    heard(&mut own, "ready", Duration::from_secs(1)).await;
    let playlist = json!({ "playlist": [{ "report": sales, "seconds": 30 }, { "report": sales, "seconds": 60 }] });
    let changed = admin
        .patch(
            &format!("/api/v1/displays/{}", display["id"].as_str().unwrap()),
            json!({ "show": playlist }),
        )
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    let said = heard(&mut own, "show", Duration::from_secs(1)).await;
    let (event, data) = said.last().expect("an event");
    assert_eq!(event, "show");
    assert_eq!(serde_json::from_str::<Value>(data).unwrap()["show"], playlist);
    assert_eq!(token(&app, &credential, &sales).await.status(), StatusCode::OK);
    expect_error(token(&app, &credential, &warehouse).await, StatusCode::FORBIDDEN, "NoAccess")
        .await;
}

#[tokio::test]
async fn a_displays_credential_rotates_daily_outlives_every_session_limit_and_the_old_one_lasts_an_hour()
 {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let report = admin.id_of("/api/v1/reports", "name", "Warehouse operations").await;
    let (_, mut credential) =
        paired(&app, &admin, "Gate", json!({ "report": report }), json!([])).await;
    // Forty days: longer than any session may last (30 days by default); a rotation a day.
    for _ in 0..40 {
        app.clock.advance(Span::hours(24));
        let me = as_screen(&app, &credential, "GET", "/api/v1/display/me", None).await;
        assert_eq!(me.status(), StatusCode::OK);
        assert_eq!(me.json::<Value>().await.unwrap()["rotate"], true);
        let rotated =
            as_screen(&app, &credential, "POST", "/api/v1/display/credential", None).await;
        assert_eq!(rotated.status(), StatusCode::OK);
        let old = std::mem::replace(
            &mut credential,
            rotated.json::<Value>().await.unwrap()["credential"].as_str().unwrap().to_string(),
        );
        assert_ne!(old, credential);
        // Restarted before it kept the new one: the old one still works, for an hour.
        let before = as_screen(&app, &old, "GET", "/api/v1/display/me", None).await;
        assert_eq!(before.json::<Value>().await.unwrap()["rotate"], true, "told to rotate again");
        app.clock.advance(Span::minutes(61));
        let late = as_screen(&app, &old, "GET", "/api/v1/display/me", None).await;
        assert_eq!(late.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(token(&app, &credential, &report).await.status(), StatusCode::OK);
}

/// The "by region" rows of "Regional performance" the display's token reads.
async fn regions(app: &TestApp, credential: &str, report: &str) -> Response {
    let granted = token(app, credential, report).await;
    assert_eq!(granted.status(), StatusCode::OK);
    let embed_token = granted.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string();
    app.anonymous()
        .post(app.url(&format!("/api/v1/embed/reports/{report}/query")))
        .bearer_auth(&embed_token)
        .json(&json!({ "page": "region", "visual": "by-region" }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_displays_row_level_security_role_limits_its_rows() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let report = admin.id_of("/api/v1/reports", "name", "Regional performance").await;
    let (display, credential) =
        paired(&app, &admin, "South TV", json!({ "report": report }), json!([])).await;
    // No role on a report with row-level security: refused, never all rows.
    expect_error(regions(&app, &credential, &report).await, StatusCode::FORBIDDEN, "NoRlsRole")
        .await;
    let id = display["id"].as_str().unwrap();
    let set = admin
        .put_json(
            &format!("/api/v1/users/{id}/rls"),
            json!({ "roles": ["Own region"], "attributes": { "region": "South" } }),
        )
        .await;
    assert_eq!(set.status(), StatusCode::OK);
    let rows = regions(&app, &credential, &report).await;
    assert_eq!(rows.status(), StatusCode::OK);
    let body: Value = rows.json().await.unwrap();
    let regions: Vec<&str> =
        body["rows"].as_array().unwrap().iter().map(|row| row[0].as_str().unwrap()).collect();
    assert_eq!(regions, ["South"]);
}

#[tokio::test]
async fn administrators_pair_list_and_unpair_screens_in_admin_displays() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let report = admin.id_of("/api/v1/reports", "name", "Warehouse operations").await;
    let group = admin.id_of("/api/v1/groups", "name", "Displays").await;
    let (code, secret) = screen_code(&app).await;
    let page = admin.get("/admin/displays").await.text().await.unwrap();
    assert!(page.contains("No screen is paired yet"), "{page}");

    let wrong = admin
        .form("/admin/displays/pair", &[("code", "NOPE00"), ("name", "TV"), ("report", &report)])
        .await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    let paired = admin
        .form(
            "/admin/displays/pair",
            &[
                ("code", &code),
                ("name", "Dock TV"),
                ("report", &report),
                ("pageSeconds", "30"),
                ("groups", &group),
            ],
        )
        .await;
    assert_eq!(paired.status(), StatusCode::SEE_OTHER);
    let claimed = claim(&app, &secret).await;
    assert_eq!(claimed.status(), StatusCode::OK, "the screen collects it");
    let listed = admin.json("/api/v1/displays").await;
    let display = &listed.as_array().unwrap()[0];
    assert_eq!(display["show"], json!({ "report": report, "pageSeconds": 30 }));
    let id = display["id"].as_str().unwrap().to_string();
    let members = admin.json(&format!("/api/v1/groups/{group}")).await;
    assert!(members.to_string().contains(&id), "joined Displays: {members}");
    let page = admin.get("/admin/displays").await.text().await.unwrap();
    assert!(page.contains("Dock TV") && page.contains("Warehouse operations"), "{page}");
    assert!(page.contains("connecting"), "not heard from yet");
    // What the screen says, with the report named rather than its id.
    let beat = json!({ "state": "showing", "detail": report });
    let credential =
        claimed.json::<Value>().await.unwrap()["credential"].as_str().unwrap().to_string();
    as_screen(&app, &credential, "POST", "/api/v1/display/heartbeat", Some(beat)).await;
    let page = admin.get("/admin/displays").await.text().await.unwrap();
    assert!(page.contains("showing") && !page.contains(&format!(">{report}<")), "{page}");

    // Changed from the portal: a page of another report; the screen hears it.
    let sales = admin.id_of("/api/v1/reports", "name", "Sales overview").await;
    let definition = admin.json(&format!("/api/v1/reports/{sales}/definition")).await;
    let page_id = definition["pages"][0]["id"].as_str().unwrap().to_string();
    let changed = admin
        .form(
            &format!("/admin/displays/{id}"),
            &[("name", "Dock TV"), ("report", &sales), ("pageSeconds", "")],
        )
        .await;
    assert_eq!(changed.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        admin.json(&format!("/api/v1/displays/{id}")).await["show"],
        json!({ "report": sales })
    );
    let on_page = admin
        .patch(
            &format!("/api/v1/displays/{id}"),
            json!({ "show": { "report": sales, "page": page_id } }),
        )
        .await;
    assert_eq!(on_page.status(), StatusCode::OK);

    let gone = admin.form(&format!("/admin/displays/{id}/unpair"), &[]).await;
    assert_eq!(gone.status(), StatusCode::SEE_OTHER);
    assert!(admin.json("/api/v1/displays").await.as_array().unwrap().is_empty());
    // Viewers see no such page.
    let viewer = app.sign_in(VIEWER).await;
    assert_eq!(viewer.get("/admin/displays").await.status(), StatusCode::FORBIDDEN);
}

/// A stand-in for the operators' alerting endpoint: it keeps the JSON bodies posted to it.
async fn alert_receiver() -> (String, std::sync::Arc<std::sync::Mutex<Vec<Value>>>) {
    let heard = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = std::sync::Arc::clone(&heard);
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let kept = std::sync::Arc::clone(&kept);
            async move {
                kept.lock().unwrap().push(body);
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{address}/hook"), heard)
}

#[tokio::test]
async fn a_display_offline_longer_than_the_set_time_is_counted_and_reported_once_and_again_when_back()
 {
    let (hook, heard) = alert_receiver().await;
    let app = spawn_app_with(move |mut layer| {
        layer.displays = Some(vitrine_server::config::DisplaysLayer {
            alert_webhook: Some(hook),
            offline_alert_minutes: Some(10),
        });
        layer
    })
    .await;
    let admin = app.sign_in(ADMIN).await;
    let report = admin.id_of("/api/v1/reports", "name", "Warehouse operations").await;
    let (display, credential) =
        paired(&app, &admin, "Dock TV", json!({ "report": report }), json!([])).await;
    let beat = || async {
        let body = json!({ "state": "showing", "detail": "Warehouse operations" });
        let answer =
            as_screen(&app, &credential, "POST", "/api/v1/display/heartbeat", Some(body)).await;
        assert_eq!(answer.status(), StatusCode::OK);
    };
    beat().await;
    let watch = || vitrine_server::services::displays::watch(&app.state);
    watch().await.unwrap();
    assert!(app.metrics().await.contains("vitrine_displays{status=\"online\"} 1"));
    assert!(heard.lock().unwrap().is_empty());

    // Offline after three minutes, reported after ten.
    app.clock.advance(Span::minutes(9));
    watch().await.unwrap();
    assert!(app.metrics().await.contains("vitrine_displays{status=\"offline\"} 1"));
    assert!(heard.lock().unwrap().is_empty(), "not yet ten minutes");
    app.clock.advance(Span::minutes(2));
    watch().await.unwrap();
    watch().await.unwrap();
    let alerts = heard.lock().unwrap().clone();
    assert_eq!(alerts.len(), 1, "once: {alerts:?}");
    assert_eq!(alerts[0]["event"], "display.offline");
    assert_eq!(alerts[0]["display"]["id"], display["id"]);
    assert_eq!(alerts[0]["display"]["name"], "Dock TV");
    assert_eq!(alerts[0]["display"]["lastState"], "showing");
    assert_eq!(alerts[0]["organization"]["name"], "Northwind Traders");
    assert!(!alerts[0].to_string().contains(&credential), "never the credential");

    beat().await;
    watch().await.unwrap();
    watch().await.unwrap();
    let alerts = heard.lock().unwrap().clone();
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    assert_eq!(alerts[1]["event"], "display.online");
    assert!(
        app.metrics().await.contains("vitrine_display_alerts_total{reason=\"display.online\"} 1")
    );
}

#[tokio::test]
async fn a_display_allowed_to_keep_its_capacity_on_is_never_stranded_by_an_outage() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let report = admin.id_of("/api/v1/reports", "name", "Warehouse operations").await;
    let group = admin.id_of("/api/v1/groups", "name", "Displays").await;
    let capacity = admin.json("/api/v1/capacities").await[0]["id"].as_str().unwrap().to_string();
    // The Displays group holds capacity.keepOn (not turnOn).
    let (display, credential) =
        paired(&app, &admin, "Dock TV", json!({ "report": report }), json!([group])).await;
    assert_eq!(token(&app, &credential, &report).await.status(), StatusCode::OK);

    // The screen is unreachable for longer than the capacity's idle hour: it pauses.
    app.clock.advance(Span::minutes(61));
    app.state.capacities.tick().await.unwrap();
    let state =
        || async { admin.json(&format!("/api/v1/capacities/{capacity}")).await["state"].clone() };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while state().await != "Paused" {
        assert!(tokio::time::Instant::now() < deadline, "it pauses");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Back: its next token request brings the capacity back by itself.
    let back = token(&app, &credential, &report).await;
    expect_error(back, StatusCode::SERVICE_UNAVAILABLE, "CapacityStarting").await;
    let events = admin.json(&format!("/api/v1/capacities/{capacity}/events")).await;
    let resumed = events.as_array().unwrap().iter().find(|e| e["state"] == "Resuming").unwrap();
    assert_eq!(resumed["reason"], "keeper returned");
    assert_eq!(resumed["by"], display["handle"]);
}

#[tokio::test]
async fn an_organization_pairs_at_most_a_thousand_displays() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let report = admin.id_of("/api/v1/reports", "name", "Sales overview").await;
    let org = app.store.list_organizations().await.unwrap()[0].id;
    let actor = vitrine_store::Actor::system(app.clock_now());
    for n in 0..vitrine_server::services::displays::MAX_DISPLAYS_PER_ORG {
        let new = vitrine_store::NewDisplay {
            name: format!("TV {n}"),
            show: json!({ "report": report }),
            credential_hash: format!("credential {n}").into_bytes(),
            groups: Vec::new(),
        };
        app.store.create_display(org, &actor, &new).await.unwrap();
    }
    let (code, secret) = screen_code(&app).await;
    let refused = admin
        .post(
            "/api/v1/displays/pair",
            json!({ "code": code, "name": "One more", "show": { "report": report } }),
        )
        .await;
    let error = expect_error(refused, StatusCode::CONFLICT, "LimitReached").await;
    assert!(error["error"]["message"].as_str().unwrap().contains("1000"), "{error}");
    assert_eq!(claim(&app, &secret).await.status(), StatusCode::ACCEPTED, "its code still waits");
}
