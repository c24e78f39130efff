//! What an open report's live channel says besides revocation: its definition changed, the
//! organization's token settings changed, a capacity changed state — only for its own
//! organization and report — and, after a reconnect, what it missed.

mod common;

use std::time::Duration;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// One server-sent event.
#[derive(Debug)]
struct Sse {
    event: String,
    data: String,
    id: Option<String>,
}

/// Reads events until one named `until` arrives or `within` passes; returns all of them.
async fn events_until(response: &mut reqwest::Response, until: &str, within: Duration) -> Vec<Sse> {
    let deadline = tokio::time::Instant::now() + within;
    let (mut buffer, mut events) = (String::new(), Vec::new());
    while let Ok(Ok(Some(chunk))) = tokio::time::timeout_at(deadline, response.chunk()).await {
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let mut sse = Sse { event: "message".into(), data: String::new(), id: None };
            for line in block.lines() {
                if let Some(value) = line.strip_prefix("event:") {
                    sse.event = value.trim().into();
                } else if let Some(value) = line.strip_prefix("data:") {
                    sse.data = value.trim().into();
                } else if let Some(value) = line.strip_prefix("id:") {
                    sse.id = Some(value.trim().into());
                }
            }
            if block.lines().all(|line| line.starts_with(':')) {
                continue;
            }
            let done = sse.event == until;
            events.push(sse);
            if done {
                return events;
            }
        }
    }
    events
}

async fn channel(app: &TestApp, token: &str, last_event_id: Option<&str>) -> reqwest::Response {
    let mut request = app.anonymous().get(app.url("/api/v1/embed/live")).bearer_auth(token);
    if let Some(id) = last_event_id {
        request = request.header("Last-Event-ID", id);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response
}

const SECOND: Duration = Duration::from_secs(1);

#[tokio::test]
async fn an_open_report_hears_its_definition_and_its_organizations_settings_change_and_nothing_of_others()
 {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let sales = admin.id_of("/api/v1/reports", "name", "Sales overview").await;
    let executive = admin.id_of("/api/v1/reports", "name", "Executive summary").await;
    let token = admin.token(&sales).await["token"].as_str().unwrap().to_string();
    let mut live = channel(&app, &token, None).await;
    let ready = events_until(&mut live, "ready", SECOND).await;
    assert!(ready.last().unwrap().id.is_some(), "ready carries the event id to resume from");

    // Another report's definition and another organization's settings: not a word.
    let definition = admin.json(&format!("/api/v1/reports/{executive}/definition")).await;
    let saved =
        admin.put_json(&format!("/api/v1/reports/{executive}/definition"), definition).await;
    assert_eq!(saved.status(), StatusCode::OK);
    let acme = app.sign_in(ACME_ADMIN).await;
    let acme_settings = acme.patch("/api/v1/settings", json!({ "tokenLifetimeMinutes": 30 })).await;
    assert_eq!(acme_settings.status(), StatusCode::OK);
    let quiet = events_until(&mut live, "never", Duration::from_millis(400)).await;
    assert!(quiet.is_empty(), "{quiet:?}");

    // This report's definition: `changed`, within a second.
    let definition = admin.json(&format!("/api/v1/reports/{sales}/definition")).await;
    let saved = admin.put_json(&format!("/api/v1/reports/{sales}/definition"), definition).await;
    assert_eq!(saved.status(), StatusCode::OK);
    let heard = events_until(&mut live, "changed", SECOND).await;
    let changed = heard.last().expect("an event");
    assert_eq!(changed.event, "changed");
    let data: Value = serde_json::from_str(&changed.data).unwrap();
    assert_eq!(data["reportId"], sales.as_str());

    // The organization's token settings: `settings`.
    let patched = admin.patch("/api/v1/settings", json!({ "tokenUpdateEveryMinutes": 20 })).await;
    assert_eq!(patched.status(), StatusCode::OK);
    assert_eq!(events_until(&mut live, "settings", SECOND).await.last().unwrap().event, "settings");
}

#[tokio::test]
async fn a_capacity_changing_state_is_told_to_its_organizations_open_reports() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let report = admin.id_of("/api/v1/reports", "name", "Sales overview").await;
    let capacity = admin.json("/api/v1/capacities").await[0]["id"].as_str().unwrap().to_string();
    let token = admin.token(&report).await["token"].as_str().unwrap().to_string();
    let mut live = channel(&app, &token, None).await;
    events_until(&mut live, "ready", SECOND).await;
    let paused = admin.post(&format!("/api/v1/capacities/{capacity}/pause"), json!({})).await;
    assert_eq!(paused.status(), StatusCode::OK);
    let heard = events_until(&mut live, "capacity", SECOND).await;
    let event = heard.last().expect("an event");
    assert_eq!(event.event, "capacity");
    let data: Value = serde_json::from_str(&event.data).unwrap();
    assert_eq!(data["capacityId"], capacity.as_str());
    assert!(["Pausing", "Paused"].contains(&data["state"].as_str().unwrap()), "{data}");
}

#[tokio::test]
async fn a_reconnecting_channel_is_sent_what_it_missed_or_told_to_resync() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let report = admin.id_of("/api/v1/reports", "name", "Sales overview").await;
    let token = admin.token(&report).await["token"].as_str().unwrap().to_string();
    let mut live = channel(&app, &token, None).await;
    let ready = events_until(&mut live, "ready", SECOND).await;
    let last = ready.last().unwrap().id.clone().unwrap();
    drop(live);

    // While it was away: the definition changed, then the settings.
    let definition = admin.json(&format!("/api/v1/reports/{report}/definition")).await;
    let saved = admin.put_json(&format!("/api/v1/reports/{report}/definition"), definition).await;
    assert_eq!(saved.status(), StatusCode::OK);
    let patched = admin.patch("/api/v1/settings", json!({ "tokenUpdateEveryMinutes": 20 })).await;
    assert_eq!(patched.status(), StatusCode::OK);

    let mut back = channel(&app, &token, Some(&last)).await;
    let heard = events_until(&mut back, "settings", SECOND).await;
    let names: Vec<&str> = heard.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(names, ["ready", "changed", "settings"]);
    let ids: Vec<u64> = heard.iter().map(|e| e.id.as_ref().unwrap().parse().unwrap()).collect();
    assert!(ids[1] > last.parse().unwrap() && ids[2] > ids[1], "{ids:?}");

    // An id this server never gave (another process's, say): read everything again.
    let mut lost = channel(&app, &token, Some("1")).await;
    let heard = events_until(&mut lost, "resync", SECOND).await;
    let names: Vec<&str> = heard.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(names, ["ready", "resync"]);
}
