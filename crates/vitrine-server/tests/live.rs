//! What an open report's live channel says besides revocation: its definition changed, the
//! organization's token settings changed, a capacity changed state — only for its own
//! organization and report — and, after a reconnect, what it missed.

mod common;

use std::time::Duration;

use common::sse::events_until;
use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

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
async fn a_capacity_changing_state_is_told_to_the_open_reports_running_on_it() {
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

/// Open reports and capacities: a report open by a viewer who may keep its capacity on keeps it
/// on, whatever the timed update's interval; one open by anyone else does not.
mod open_reports {
    use super::*;
    use chrono::Duration as Span;

    /// A simulated capacity pausing after `idle` minutes, with "Sales overview" placed on it,
    /// and tokens updated only every 50 minutes: far longer than it stays idle.
    async fn wallboard_capacity(admin: &Session, idle: u32) -> (String, String) {
        let report = admin.id_of("/api/v1/reports", "name", "Sales overview").await;
        let created = admin
            .post(
                "/api/v1/capacities",
                json!({ "name": "Wallboards", "provider": "simulated", "idleMinutes": idle }),
            )
            .await;
        assert_eq!(created.status(), StatusCode::CREATED);
        let capacity = created.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
        let placed = admin
            .patch(&format!("/api/v1/reports/{report}"), json!({ "capacityId": capacity }))
            .await;
        assert_eq!(placed.status(), StatusCode::OK);
        let every = admin.patch("/api/v1/settings", json!({ "tokenUpdateEveryMinutes": 50 })).await;
        assert_eq!(every.status(), StatusCode::OK);
        (capacity, report)
    }

    async fn state_of(admin: &Session, capacity: &str) -> String {
        let read = admin.json(&format!("/api/v1/capacities/{capacity}")).await;
        read["state"].as_str().unwrap().to_string()
    }

    /// Moves the clock on a minute at a time for `minutes`, a scheduler pass after each; the
    /// states seen.
    async fn minutes_pass(
        app: &TestApp,
        admin: &Session,
        capacity: &str,
        minutes: u32,
    ) -> Vec<String> {
        let mut seen = Vec::new();
        for _ in 0..minutes {
            app.clock.advance(Span::minutes(1));
            app.state.capacities.tick().await.unwrap();
            seen.push(state_of(admin, capacity).await);
        }
        seen
    }

    /// Waits until the server has let go of every channel on `capacity` (it notices a closed
    /// connection on its own).
    async fn until_closed(app: &TestApp, capacity: &str) {
        let id = capacity.parse().unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !app.state.capacities.presence.keepers(id).is_empty() {
            assert!(tokio::time::Instant::now() < deadline, "the closed channel is still present");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn a_report_open_by_a_keep_on_viewer_keeps_its_capacity_on_between_timed_updates_and_it_pauses_once_closed()
     {
        let app = spawn_app().await;
        let admin = app.sign_in(ADMIN).await;
        let (capacity, report) = wallboard_capacity(&admin, 5).await;
        // tv@example.com holds capacity.keepOn through the Displays group.
        let tv = app.sign_in("tv@example.com").await;
        let token = tv.token(&report).await["token"].as_str().unwrap().to_string();
        let mut live = channel(&app, &token, None).await;
        events_until(&mut live, "ready", SECOND).await;

        // Half an hour with no token request: six times its idle minutes.
        let seen = minutes_pass(&app, &admin, &capacity, 30).await;
        assert!(seen.iter().all(|s| s == "Running"), "{seen:?}");
        let org = app.store.list_organizations().await.unwrap()[0].id;
        let since = app.clock_now() - Span::minutes(1);
        let keepers = app.store.capacity_keepers(org, capacity.parse().unwrap(), since).await;
        let keepers: Vec<String> = keepers.unwrap().into_iter().map(|(who, _)| who).collect();
        assert_eq!(keepers, ["tv@example.com"], "named as keeping it on (Admin › Capacity)");

        drop(live);
        until_closed(&app, &capacity).await;
        let seen = minutes_pass(&app, &admin, &capacity, 5).await;
        assert_eq!(seen[..4], ["Running"; 4], "{seen:?}");
        assert_ne!(seen[4], "Running", "paused its idle minutes after the report closed: {seen:?}");
    }

    #[tokio::test]
    async fn a_report_open_by_a_viewer_without_keep_on_lets_its_capacity_pause() {
        let app = spawn_app().await;
        let admin = app.sign_in(ADMIN).await;
        let (capacity, report) = wallboard_capacity(&admin, 5).await;
        let viewer = app.sign_in(VIEWER).await;
        let token = viewer.token(&report).await["token"].as_str().unwrap().to_string();
        let mut live = channel(&app, &token, None).await;
        events_until(&mut live, "ready", SECOND).await;
        assert!(app.state.capacities.presence.keepers(capacity.parse().unwrap()).is_empty());
        let seen = minutes_pass(&app, &admin, &capacity, 5).await;
        assert_ne!(seen[4], "Running", "{seen:?}");
    }

    #[tokio::test]
    async fn a_host_apps_user_keeps_a_capacity_on_only_when_their_embed_key_says_so() {
        let app = spawn_app().await;
        let admin = app.sign_in(ADMIN).await;
        let (capacity, report) = wallboard_capacity(&admin, 5).await;
        let mut channels = Vec::new();
        for (name, keeps_on) in [("kiosks", true), ("customers", false)] {
            let made = admin
                .post(
                    "/api/v1/api-keys",
                    json!({ "name": name, "scope": "embed", "keepCapacityOn": keeps_on }),
                )
                .await;
            assert_eq!(made.status(), StatusCode::CREATED);
            let key = made.json::<Value>().await.unwrap()["key"].as_str().unwrap().to_string();
            let minted = app
                .anonymous()
                .post(app.url("/api/v1/embed/tokens"))
                .header("X-API-Key", key)
                .json(&json!({ "reports": [report], "identity": { "id": format!("{name}-1") } }))
                .send()
                .await
                .unwrap();
            assert_eq!(minted.status(), StatusCode::OK);
            let token =
                minted.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string();
            let mut live = channel(&app, &token, None).await;
            events_until(&mut live, "ready", SECOND).await;
            channels.push((live, token));
        }
        let keepers = app.state.capacities.presence.keepers(capacity.parse().unwrap());
        assert_eq!(keepers, ["identity kiosks-1"]);
        let seen = minutes_pass(&app, &admin, &capacity, 30).await;
        assert!(seen.iter().all(|s| s == "Running"), "{seen:?}");

        // Their queries count as activity too: the kiosk's, not the customer's.
        let read = |app: &TestApp| {
            let store = app.store.clone();
            let id = capacity.parse().unwrap();
            async move {
                let org = store.list_organizations().await.unwrap()[0].id;
                store.get_capacity(org, id).await.unwrap().last_activity
            }
        };
        app.clock.advance(Span::seconds(30));
        let before = read(&app).await;
        for (_, token) in channels.iter().rev() {
            let asked = app
                .anonymous()
                .post(app.url(&format!("/api/v1/embed/reports/{report}/query")))
                .bearer_auth(token)
                .json(&json!({ "page": "overview", "visual": "revenue" }))
                .send()
                .await
                .unwrap();
            assert_eq!(asked.status(), StatusCode::OK);
            let after = read(&app).await;
            if token == &channels[0].1 {
                assert_eq!(after, Some(app.clock_now()), "the kiosk's query is activity");
            } else {
                assert_eq!(after, before, "the customer's query is not");
            }
        }
    }

    #[tokio::test]
    async fn an_open_report_hears_only_its_own_capacity_and_follows_its_report_to_another() {
        let app = spawn_app().await;
        let admin = app.sign_in(ADMIN).await;
        let demo = admin.json("/api/v1/capacities").await[0]["id"].as_str().unwrap().to_string();
        let (wallboards, report) = wallboard_capacity(&admin, 5).await;
        let tv = app.sign_in("tv@example.com").await;
        let token = tv.token(&report).await["token"].as_str().unwrap().to_string();
        let mut live = channel(&app, &token, None).await;
        events_until(&mut live, "ready", SECOND).await;

        // The demo's capacity changing state is none of its business.
        let paused = admin.post(&format!("/api/v1/capacities/{demo}/pause"), json!({})).await;
        assert_eq!(paused.status(), StatusCode::OK);
        let quiet = events_until(&mut live, "capacity", Duration::from_millis(400)).await;
        assert!(quiet.iter().all(|e| e.event != "capacity"), "{quiet:?}");
        let resumed = admin.post(&format!("/api/v1/capacities/{demo}/resume"), json!({})).await;
        assert_eq!(resumed.status(), StatusCode::OK);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while state_of(&admin, &demo).await != "Running" {
            assert!(tokio::time::Instant::now() < deadline, "the demo's capacity did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        // Moved to the demo's capacity: told so, and present there instead.
        let moved =
            admin.patch(&format!("/api/v1/reports/{report}"), json!({ "capacityId": demo })).await;
        assert_eq!(moved.status(), StatusCode::OK);
        let heard = events_until(&mut live, "changed", SECOND).await;
        assert_eq!(heard.last().unwrap().event, "changed");
        let presence = &app.state.capacities.presence;
        assert_eq!(presence.keepers(demo.parse().unwrap()), ["tv@example.com"]);
        assert!(presence.keepers(wallboards.parse().unwrap()).is_empty());
        let paused = admin.post(&format!("/api/v1/capacities/{demo}/pause"), json!({})).await;
        assert_eq!(paused.status(), StatusCode::OK);
        let heard = events_until(&mut live, "capacity", SECOND).await;
        let data: Value = serde_json::from_str(&heard.last().unwrap().data).unwrap();
        assert_eq!(data["capacityId"], demo.as_str());
    }
}

#[tokio::test]
async fn an_open_report_hears_that_its_dataset_has_new_data_within_a_second() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let created = upload(&admin, "Visits", "visits.csv", b"city,visits\nOslo,3\n").await;
    let dataset = created.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let report = card_report(&admin, "Visits", &dataset, "visits").await;
    let token = admin.token(&report).await["token"].as_str().unwrap().to_string();
    let mut live = channel(&app, &token, None).await;
    events_until(&mut live, "ready", SECOND).await;
    let replaced = replace_data(&admin, &dataset, "visits.csv", b"city,visits\nOslo,4\n").await;
    assert_eq!(replaced.status(), StatusCode::OK);
    let heard = events_until(&mut live, "changed", SECOND).await;
    let changed = heard.last().expect("an event");
    assert_eq!(changed.event, "changed");
    let data: Value = serde_json::from_str(&changed.data).unwrap();
    assert_eq!(data["reportId"], report.as_str());
}
