//! Capacities driven through the controller against the real store: one transition at a time,
//! failing and hanging providers, a restart mid-transition, and the scheduler's idle pause.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::Duration as Span;
use common::*;
use vitrine_core::capacity::{CapacityMode, CapacityState};
use vitrine_core::{CapacityId, Clock, OrgId};
use vitrine_server::capacity::{CapacityController, LocalProvider};
use vitrine_store::{Capacity, CapacityEvent};

async fn org_of(app: &TestApp) -> OrgId {
    app.store.list_organizations().await.unwrap()[0].id
}

async fn simulated(app: &TestApp, state: CapacityState, mode: CapacityMode) -> Capacity {
    let org = org_of(app).await;
    let capacity = simulated_shape(org, app.clock_now(), state, mode);
    app.store
        .create_capacity(org, &vitrine_store::Actor::system(app.clock_now()), &capacity)
        .await
        .unwrap()
}

/// A `simulated` capacity in Europe/Paris at 3.00 an hour, created at `now`.
fn simulated_shape(
    org: OrgId,
    now: chrono::DateTime<chrono::Utc>,
    state: CapacityState,
    mode: CapacityMode,
) -> Capacity {
    Capacity {
        id: CapacityId::generate(),
        org_id: org,
        name: format!("Simulated {}", CapacityId::generate()),
        provider: "simulated".into(),
        azure: None,
        state,
        mode,
        idle_minutes: 30,
        schedule: Vec::new(),
        time_zone: "Europe/Paris".into(),
        hourly_price: 3.0,
        wake_from_viewer: true,
        state_since: now,
        last_activity: None,
        created_at: now,
    }
}

fn controller(app: &TestApp, timeout_ms: u64) -> Arc<CapacityController> {
    let local = Arc::new(LocalProvider::new(
        app.store.clone(),
        app.state.engine.clone(),
        app.state.files.clone(),
        app.state.dataset_loading.clone(),
    ));
    let clock: Arc<dyn Clock> = app.clock.clone();
    Arc::new(CapacityController::new(app.store.clone(), clock, local).with_timing(
        Duration::from_millis(timeout_ms),
        3,
        Duration::from_millis(10),
    ))
}

async fn wait_for(app: &TestApp, capacity: &Capacity, state: CapacityState) -> Capacity {
    for _ in 0..300 {
        let now = stored(app, capacity).await;
        if now.state == state {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("capacity never reached {state:?}");
}

/// The capacity as the store holds it now.
async fn stored(app: &TestApp, capacity: &Capacity) -> Capacity {
    app.store.get_capacity(capacity.org_id, capacity.id).await.unwrap()
}

async fn events(app: &TestApp, capacity: &Capacity) -> Vec<CapacityEvent> {
    app.store.capacity_events(capacity.org_id, capacity.id, 100).await.unwrap()
}

#[tokio::test]
async fn a_paused_capacity_resumes_through_resuming_and_records_why() {
    let app = spawn_app().await;
    let capacity = simulated(&app, CapacityState::Paused, CapacityMode::OnDemand).await;
    let controller = controller(&app, 1_000);
    let state = controller
        .resume(capacity.org_id, capacity.id, "manual", Some("admin@example.com"))
        .await
        .unwrap();
    assert_eq!(state, CapacityState::Resuming);
    wait_for(&app, &capacity, CapacityState::Running).await;
    let timeline = events(&app, &capacity).await;
    assert_eq!(
        timeline.iter().map(|e| e.state).collect::<Vec<_>>(),
        [CapacityState::Running, CapacityState::Resuming]
    );
    assert!(
        timeline
            .iter()
            .all(|e| e.reason == "manual" && e.actor.as_deref() == Some("admin@example.com"))
    );
    let paused = controller.pause(capacity.org_id, capacity.id, "manual", None).await.unwrap();
    assert_eq!(paused, CapacityState::Pausing);
    wait_for(&app, &capacity, CapacityState::Paused).await;
}

#[tokio::test]
async fn a_thousand_concurrent_opens_of_a_paused_capacity_cause_exactly_one_resume() {
    let app = spawn_app().await;
    let capacity = simulated(&app, CapacityState::Paused, CapacityMode::OnDemand).await;
    let controller = controller(&app, 5_000);
    controller.simulated.set_delays(Duration::from_millis(300), Duration::ZERO);
    let mut opens = tokio::task::JoinSet::new();
    for _ in 0..1_000 {
        let (controller, org, id) = (controller.clone(), capacity.org_id, capacity.id);
        opens.spawn(async move { controller.resume(org, id, "demand", None).await.unwrap() });
    }
    let states = opens.join_all().await;
    assert!(states.iter().all(|s| *s == CapacityState::Resuming), "everyone sees it starting");
    wait_for(&app, &capacity, CapacityState::Running).await;
    let resumes =
        events(&app, &capacity).await.iter().filter(|e| e.state == CapacityState::Resuming).count();
    assert_eq!(resumes, 1);
}

#[tokio::test]
async fn a_failing_provider_ends_in_failed_with_a_clear_message_after_retries() {
    let app = spawn_app().await;
    let capacity = simulated(&app, CapacityState::Paused, CapacityMode::OnDemand).await;
    let controller = controller(&app, 1_000);
    controller.simulated.fail_next(3);
    controller.resume(capacity.org_id, capacity.id, "manual", None).await.unwrap();
    wait_for(&app, &capacity, CapacityState::Failed).await;
    let failure = events(&app, &capacity).await.into_iter().next().unwrap();
    assert_eq!(failure.state, CapacityState::Failed);
    assert!(
        failure.detail.as_deref().unwrap_or_default().contains("could not start after 3 attempts"),
        "{failure:?}"
    );
    // A failed capacity can be started again once the provider works.
    controller.resume(capacity.org_id, capacity.id, "manual", None).await.unwrap();
    wait_for(&app, &capacity, CapacityState::Running).await;

    let flaky = simulated(&app, CapacityState::Paused, CapacityMode::OnDemand).await;
    controller.simulated.fail_next(2);
    controller.resume(flaky.org_id, flaky.id, "manual", None).await.unwrap();
    wait_for(&app, &flaky, CapacityState::Running).await;
}

#[tokio::test]
async fn a_hanging_provider_never_leaves_the_capacity_resuming() {
    let app = spawn_app().await;
    let capacity = simulated(&app, CapacityState::Paused, CapacityMode::OnDemand).await;
    let controller = controller(&app, 50);
    controller.simulated.hang(true);
    controller.resume(capacity.org_id, capacity.id, "manual", None).await.unwrap();
    let failed = wait_for(&app, &capacity, CapacityState::Failed).await;
    assert_eq!(failed.state, CapacityState::Failed);
    let detail = events(&app, &capacity).await[0].detail.clone().unwrap_or_default();
    assert!(detail.contains("did not answer in time"), "{detail}");
}

#[tokio::test]
async fn a_restart_in_the_middle_of_resuming_ends_running() {
    let app = spawn_app().await;
    let capacity = simulated(&app, CapacityState::Resuming, CapacityMode::OnDemand).await;
    let pausing = simulated(&app, CapacityState::Pausing, CapacityMode::OnDemand).await;
    // A fresh controller, as after a restart, finds both mid-transition.
    let controller = controller(&app, 1_000);
    assert_eq!(controller.recover().await.unwrap(), 2);
    wait_for(&app, &capacity, CapacityState::Running).await;
    wait_for(&app, &pausing, CapacityState::Paused).await;
    assert_eq!(events(&app, &capacity).await[0].reason, "restart");
}

#[tokio::test]
async fn the_scheduler_pauses_an_on_demand_capacity_after_exactly_its_idle_minutes() {
    let app = spawn_app().await;
    let capacity = simulated(&app, CapacityState::Running, CapacityMode::OnDemand).await;
    let manual = simulated(&app, CapacityState::Running, CapacityMode::Manual).await;
    let controller = controller(&app, 1_000);
    app.clock.advance(Span::minutes(29) + Span::seconds(59));
    controller.tick().await.unwrap();
    controller.tick().await.unwrap();
    assert_eq!(stored(&app, &capacity).await.state, CapacityState::Running);
    app.clock.advance(Span::seconds(1));
    controller.tick().await.unwrap();
    controller.tick().await.unwrap();
    wait_for(&app, &capacity, CapacityState::Paused).await;
    let pauses =
        events(&app, &capacity).await.iter().filter(|e| e.state == CapacityState::Pausing).count();
    assert_eq!(pauses, 1, "deciding twice pauses once");
    assert_eq!(events(&app, &capacity).await[0].reason, "inactivity");
    assert_eq!(stored(&app, &manual).await.state, CapacityState::Running, "manual stays on");

    // Activity of a permitted user keeps it on: recorded activity restarts the idle time.
    let kept = simulated(&app, CapacityState::Running, CapacityMode::OnDemand).await;
    app.clock.advance(Span::minutes(20));
    app.store.record_capacity_activity(kept.id, &[], app.clock_now()).await.unwrap();
    app.clock.advance(Span::minutes(20));
    controller.tick().await.unwrap();
    assert_eq!(stored(&app, &kept).await.state, CapacityState::Running);
}

#[tokio::test]
async fn a_query_let_through_just_before_the_pause_does_not_open_the_data_again() {
    use vitrine_server::services::datasets::{OpenFor, ensure_open};
    let app = spawn_app().await;
    let org = org_of(&app).await;
    let demo = app.store.list_capacities(org).await.unwrap().remove(0);
    let dataset = app.store.list_datasets(org).await.unwrap().remove(0);
    app.state.capacities.pause(org, demo.id, "inactivity", None).await.unwrap();
    wait_for(&app, &demo, CapacityState::Paused).await;
    assert!(app.state.engine.info(&dataset.id.to_string()).is_none());

    // The gate let the query through a moment ago; it reaches the data after the pause.
    let late = ensure_open(&app.state, &dataset, OpenFor::Viewers).await.unwrap_err();
    assert_eq!(late.code.as_str(), "CapacityNotActive");
    assert!(app.state.engine.info(&dataset.id.to_string()).is_none(), "still closed");
    // An author checking a definition against it still reads it.
    ensure_open(&app.state, &dataset, OpenFor::Authors).await.unwrap();
    assert!(app.state.engine.info(&dataset.id.to_string()).is_some());
}

#[tokio::test]
async fn after_a_restart_a_paused_capacitys_data_stays_closed_until_it_starts() {
    use vitrine_server::services::datasets::{OpenFor, ensure_open};
    let app = spawn_app().await;
    let org = org_of(&app).await;
    let demo = app.store.list_capacities(org).await.unwrap().remove(0);
    let dataset = app.store.list_datasets(org).await.unwrap().remove(0);
    let id = dataset.id.to_string();
    let app = app.restart().await;
    assert!(app.state.engine.info(&id).is_none(), "nothing is opened at start-up");
    ensure_open(&app.state, &dataset, OpenFor::Viewers).await.unwrap();
    assert!(app.state.engine.info(&id).is_some(), "running: opened by a query");

    app.state.capacities.pause(org, demo.id, "manual", None).await.unwrap();
    wait_for(&app, &demo, CapacityState::Paused).await;
    assert!(app.state.engine.info(&id).is_none(), "pausing closed it");
    let app = app.restart().await;
    let refused = ensure_open(&app.state, &dataset, OpenFor::Viewers).await.unwrap_err();
    assert_eq!(refused.code.as_str(), "CapacityNotActive", "paused: stays closed after a restart");
    assert!(app.state.engine.info(&id).is_none());

    app.state.capacities.resume(org, demo.id, "manual", None).await.unwrap();
    wait_for(&app, &demo, CapacityState::Running).await;
    assert!(app.state.engine.info(&id).is_some(), "starting it opens the data");
}

mod api {
    use vitrine_server::services::datasets::{OpenFor, ensure_open};

    use super::*;
    use reqwest::StatusCode;
    use serde_json::{Value, json};

    async fn placed(app: &TestApp, admin: &Session, state: CapacityState) -> (Capacity, String) {
        let capacity = simulated(app, state, CapacityMode::OnDemand).await;
        let report = admin.id_of("/api/v1/reports", "name", "Sales overview").await;
        let response = admin
            .patch(&format!("/api/v1/reports/{report}"), json!({ "capacityId": capacity.id }))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.json::<Value>().await.unwrap()["capacityId"], json!(capacity.id));
        (capacity, report)
    }

    #[tokio::test]
    async fn administrators_read_and_set_capacities_and_bad_settings_name_their_field() {
        let app = spawn_app().await;
        let admin = app.sign_in(ADMIN).await;
        let capacity = simulated(&app, CapacityState::Running, CapacityMode::OnDemand).await;
        let list = admin.json("/api/v1/capacities").await;
        let listed = list.as_array().unwrap().iter().find(|c| c["id"] == json!(capacity.id));
        let listed = listed.expect("the new capacity is listed");
        assert_eq!((&listed["state"], &listed["mode"]), (&json!("Running"), &json!("onDemand")));
        let path = format!("/api/v1/capacities/{}", capacity.id);
        let bad = [
            (json!({ "idleMinutes": 0 }), "idleMinutes"),
            (json!({ "idleMinutes": 1441 }), "idleMinutes"),
            (json!({ "mode": "sometimes" }), "mode"),
            (
                json!({ "schedule": [{ "day": "Funday", "start": "08:00", "end": "18:00" }] }),
                "schedule[0].day",
            ),
            (json!({ "timeZone": "Mars/Olympus" }), "timeZone"),
            (json!({ "hourlyPrice": -1 }), "hourlyPrice"),
            (json!({ "state": "Running" }), "state"),
        ];
        for (body, field) in bad {
            let error = expect_error(
                admin.patch(&path, body.clone()).await,
                StatusCode::BAD_REQUEST,
                "InvalidInput",
            )
            .await;
            assert_eq!(error["error"]["field"], field, "{body}");
        }
        let saved = admin
            .patch(&path, json!({ "mode": "schedule", "idleMinutes": 45, "schedule": [{ "day": "Mon", "start": "08:00", "end": "18:00" }] }))
            .await;
        let saved: Value = saved.json().await.unwrap();
        assert_eq!(
            (saved["mode"].as_str(), saved["idleMinutes"].as_i64()),
            (Some("schedule"), Some(45))
        );
        assert_eq!(saved["schedule"], json!([{ "day": "Mon", "start": "08:00", "end": "18:00" }]));
        for who in [VIEWER, CONTRIBUTOR] {
            let session = app.sign_in(who).await;
            expect_error(
                session.get("/api/v1/capacities").await,
                StatusCode::FORBIDDEN,
                "Forbidden",
            )
            .await;
        }
        let acme = app.sign_in(ACME_ADMIN).await;
        expect_error(acme.get(&path).await, StatusCode::NOT_FOUND, "NotFound").await;
    }

    #[tokio::test]
    async fn administrators_create_capacities_and_bad_ones_name_their_field_and_change_nothing() {
        let app = spawn_app().await;
        let admin = app.sign_in(ADMIN).await;
        let bad = [
            (json!({}), "name"),
            (json!({ "name": "" }), "name"),
            (json!({ "name": "Cloud", "provider": "aws" }), "provider"),
            (json!({ "name": "Cloud", "provider": "azure" }), "azure"),
            (json!({ "name": "Cloud", "idleMinutes": 0 }), "idleMinutes"),
            (json!({ "name": "Cloud", "state": "Paused" }), "state"),
        ];
        for (body, field) in bad {
            let error = expect_error(
                admin.post("/api/v1/capacities", body.clone()).await,
                StatusCode::BAD_REQUEST,
                "InvalidInput",
            )
            .await;
            assert_eq!(error["error"]["field"], field, "{body}");
        }
        let names = |list: Value| -> Vec<String> {
            list.as_array()
                .unwrap()
                .iter()
                .map(|c| c["name"].as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(
            names(admin.json("/api/v1/capacities").await),
            [DEMO_CAPACITY],
            "nothing created"
        );
        let created = admin
            .post(
                "/api/v1/capacities",
                json!({ "name": "Engine", "timeZone": "Europe/Paris", "idleMinutes": 20 }),
            )
            .await;
        assert_eq!(created.status(), StatusCode::CREATED);
        let created: Value = created.json().await.unwrap();
        assert_eq!(
            (&created["provider"], &created["state"], &created["mode"], &created["idleMinutes"]),
            (&json!("local"), &json!("Running"), &json!("onDemand"), &json!(20))
        );
        let again = admin.post("/api/v1/capacities", json!({ "name": "Engine" })).await;
        assert_eq!(again.status(), StatusCode::CONFLICT);
        // Without a time zone of its own, a capacity reads its windows in the organization's.
        let zone = admin.patch("/api/v1/settings", json!({ "timeZone": "America/New_York" })).await;
        assert_eq!(zone.status(), StatusCode::OK);
        let local = admin.post("/api/v1/capacities", json!({ "name": "Night shift" })).await;
        assert_eq!(local.json::<Value>().await.unwrap()["timeZone"], "America/New_York");
        let session = app.sign_in(CONTRIBUTOR).await;
        expect_error(
            session.post("/api/v1/capacities", json!({ "name": "Mine" })).await,
            StatusCode::FORBIDDEN,
            "Forbidden",
        )
        .await;
        let acme = app.sign_in(ACME_ADMIN).await;
        assert_eq!(acme.json("/api/v1/capacities").await, json!([]), "other tenants see none");
    }

    #[tokio::test]
    async fn manual_resume_and_pause_are_recorded_in_the_timeline() {
        let app = spawn_app().await;
        let admin = app.sign_in(ADMIN).await;
        let capacity = simulated(&app, CapacityState::Running, CapacityMode::Manual).await;
        let paused =
            admin.post(&format!("/api/v1/capacities/{}/pause", capacity.id), json!({})).await;
        assert_eq!(paused.json::<Value>().await.unwrap()["state"], "Pausing");
        wait_for(&app, &capacity, CapacityState::Paused).await;
        admin.post(&format!("/api/v1/capacities/{}/resume", capacity.id), json!({})).await;
        wait_for(&app, &capacity, CapacityState::Running).await;
        let timeline = admin.json(&format!("/api/v1/capacities/{}/events", capacity.id)).await;
        let states: Vec<&str> =
            timeline.as_array().unwrap().iter().filter_map(|e| e["state"].as_str()).collect();
        assert_eq!(states, ["Running", "Resuming", "Paused", "Pausing"]);
        assert_eq!(timeline[0]["by"], ADMIN);
        assert_eq!(timeline[0]["reason"], "manual");
    }

    #[tokio::test]
    async fn only_users_allowed_to_turn_it_on_wake_a_paused_capacity_by_opening_a_report() {
        let app = spawn_app().await;
        let admin = app.sign_in(ADMIN).await;
        let viewer = app.sign_in(VIEWER).await;
        let (capacity, report) = placed(&app, &admin, CapacityState::Paused).await;

        let refused = viewer.post(&format!("/api/v1/reports/{report}/token"), json!({})).await;
        let error =
            expect_error(refused, StatusCode::SERVICE_UNAVAILABLE, "CapacityNotActive").await;
        assert_eq!(error["error"]["capacity"]["state"], "Paused");
        assert!(error["error"]["message"].as_str().unwrap().contains("paused to save cost"));
        assert_eq!(stored(&app, &capacity).await.state, CapacityState::Paused, "not woken");

        // The admin is in Executives, which holds capacity.turnOn.
        let waking = admin.post(&format!("/api/v1/reports/{report}/token"), json!({})).await;
        let error = expect_error(waking, StatusCode::SERVICE_UNAVAILABLE, "CapacityStarting").await;
        assert_eq!(error["error"]["capacity"]["state"], "Resuming");
        wait_for(&app, &capacity, CapacityState::Running).await;
        let started = app.store.capacity_events(capacity.org_id, capacity.id, 10).await.unwrap();
        assert_eq!(
            (started[0].reason.as_str(), started[0].actor.as_deref()),
            ("demand", Some(ADMIN))
        );
        let token = viewer.token(&report).await["token"].as_str().unwrap().to_string();
        let answer = overview_visual(&app, &token, &report, "revenue").await;
        assert_eq!(answer.status(), StatusCode::OK);

        // Paused under an open report: its queries are refused until it runs again.
        let controller = app.state.capacities.clone();
        controller.pause(capacity.org_id, capacity.id, "manual", None).await.unwrap();
        wait_for(&app, &capacity, CapacityState::Paused).await;
        let answer = overview_visual(&app, &token, &report, "revenue").await;
        expect_error(answer, StatusCode::SERVICE_UNAVAILABLE, "CapacityNotActive").await;
        // Waking from the viewer can be turned off for everyone.
        let off = admin
            .patch(
                &format!("/api/v1/capacities/{}", capacity.id),
                json!({ "wakeFromViewer": false }),
            )
            .await;
        assert_eq!(off.status(), StatusCode::OK);
        let refused = admin.post(&format!("/api/v1/reports/{report}/token"), json!({})).await;
        expect_error(refused, StatusCode::SERVICE_UNAVAILABLE, "CapacityNotActive").await;
    }

    async fn query(app: &TestApp, token: &str, report: &str) -> reqwest::Response {
        overview_visual(app, token, report, "revenue").await
    }

    async fn token_of(session: &Session, report: &str) -> String {
        session.token(report).await["token"].as_str().unwrap().to_string()
    }

    #[tokio::test]
    async fn the_demo_runs_every_report_on_its_built_in_engine_capacity_on_demand() {
        let app = spawn_app().await;
        let admin = app.sign_in(ADMIN).await;
        let list = admin.json("/api/v1/capacities").await;
        assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
        let demo = &list[0];
        assert_eq!(
            (&demo["name"], &demo["provider"], &demo["mode"], &demo["state"]),
            (&json!(DEMO_CAPACITY), &json!("local"), &json!("onDemand"), &json!("Running"))
        );
        let every = admin.json("/api/v1/settings").await["tokenUpdateEveryMinutes"].as_i64();
        assert!(
            demo["idleMinutes"].as_i64() > every,
            "idle longer than the timed update, so the TV's updates keep it on"
        );
        let reports = admin.json("/api/v1/reports").await;
        assert_eq!(reports.as_array().unwrap().len(), 4);
        for report in reports.as_array().unwrap() {
            assert_eq!(report["capacityId"], demo["id"], "{}", report["name"]);
        }
    }

    #[tokio::test]
    async fn the_demo_capacity_pauses_after_an_idle_hour_frees_its_data_and_an_executive_starts_it()
    {
        let app = spawn_app().await;
        let admin = app.sign_in(ADMIN).await;
        let viewer = app.sign_in(VIEWER).await;
        let demo = app.store.list_capacities(org_of(&app).await).await.unwrap().remove(0);
        let report = viewer.id_of("/api/v1/reports", "name", "Sales overview").await;
        let dataset = admin.id_of("/api/v1/datasets", "name", "Sales").await;

        app.clock.advance(Span::minutes(59));
        let token = token_of(&viewer, &report).await; // viewer@ lacks keepOn: not activity
        app.state.capacities.tick().await.unwrap();
        assert_eq!(query(&app, &token, &report).await.status(), StatusCode::OK, "59 idle minutes");
        app.clock.advance(Span::minutes(1));
        app.state.capacities.tick().await.unwrap();
        wait_for(&app, &demo, CapacityState::Paused).await;
        assert_eq!(events(&app, &demo).await[0].reason, "inactivity");
        assert!(!app.state.engine.close(&dataset), "the paused engine closed the data");
        expect_error(
            query(&app, &token, &report).await,
            StatusCode::SERVICE_UNAVAILABLE,
            "CapacityNotActive",
        )
        .await;

        let refused = viewer.post(&format!("/api/v1/reports/{report}/token"), json!({})).await;
        expect_error(refused, StatusCode::SERVICE_UNAVAILABLE, "CapacityNotActive").await;
        let waking = admin.post(&format!("/api/v1/reports/{report}/token"), json!({})).await;
        expect_error(waking, StatusCode::SERVICE_UNAVAILABLE, "CapacityStarting").await;
        wait_for(&app, &demo, CapacityState::Running).await;
        assert!(app.state.engine.info(&dataset).is_some(), "starting it opened the data");
        let started = events(&app, &demo).await;
        assert_eq!(
            (started[1].reason.as_str(), started[1].actor.as_deref()),
            ("demand", Some(ADMIN))
        );
        let token = token_of(&viewer, &report).await;
        assert_eq!(
            query(&app, &token, &report).await.status(),
            StatusCode::OK,
            "data loaded again"
        );

        let metrics = app.metrics().await;
        for line in [
            r#"vitrine_capacity_transitions_total{state="Pausing",reason="inactivity"} 1"#,
            r#"vitrine_capacity_transitions_total{state="Paused",reason="inactivity"} 1"#,
            r#"vitrine_capacity_transitions_total{state="Resuming",reason="demand"} 1"#,
            r#"vitrine_capacity_transitions_total{state="Running",reason="demand"} 1"#,
            // The open report's query and viewer@'s token request; then admin@'s wake.
            r#"vitrine_capacity_waits_total{code="CapacityNotActive"} 2"#,
            r#"vitrine_capacity_waits_total{code="CapacityStarting"} 1"#,
        ] {
            assert!(metrics.contains(line), "{line} in\n{metrics}");
        }
    }

    #[tokio::test]
    async fn pausing_a_capacity_keeps_the_data_reports_on_a_running_one_still_read() {
        let app = spawn_app().await;
        let admin = app.sign_in(ADMIN).await;
        let side = admin
            .post(
                "/api/v1/capacities",
                json!({ "name": "Side engine", "mode": "manual", "wakeFromViewer": false }),
            )
            .await
            .json::<Value>()
            .await
            .unwrap();
        let summary = admin.id_of("/api/v1/reports", "name", "Executive summary").await;
        let placed = admin
            .patch(&format!("/api/v1/reports/{summary}"), json!({ "capacityId": side["id"] }))
            .await;
        assert_eq!(placed.status(), StatusCode::OK);
        let id: CapacityId = side["id"].as_str().unwrap().parse().unwrap();
        let dataset = app.store.list_datasets(org_of(&app).await).await.unwrap().remove(0);
        ensure_open(&app.state, &dataset, OpenFor::Viewers).await.unwrap();
        admin.post(&format!("/api/v1/capacities/{id}/pause"), json!({})).await;
        let side = app.store.get_capacity(org_of(&app).await, id).await.unwrap();
        wait_for(&app, &side, CapacityState::Paused).await;
        assert!(app.state.engine.info(&dataset.id.to_string()).is_some(), "still open");

        let overview = admin.id_of("/api/v1/reports", "name", "Sales overview").await;
        let token = token_of(&admin, &overview).await;
        assert_eq!(query(&app, &token, &overview).await.status(), StatusCode::OK);
        let refused = admin.post(&format!("/api/v1/reports/{summary}/token"), json!({})).await;
        expect_error(refused, StatusCode::SERVICE_UNAVAILABLE, "CapacityNotActive").await;
    }

    #[tokio::test]
    async fn a_capacity_is_deleted_only_once_no_report_runs_on_it() {
        let app = spawn_app().await;
        let admin = app.sign_in(ADMIN).await;
        let demo = admin.id_of("/api/v1/capacities", "name", DEMO_CAPACITY).await;
        let path = format!("/api/v1/capacities/{demo}");
        for who in [VIEWER, ACME_ADMIN] {
            let session = app.sign_in(who).await;
            let refused = session.delete(&path).await;
            assert!(
                matches!(refused.status(), StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
                "{who}"
            );
        }
        let in_use =
            expect_error(admin.delete(&path).await, StatusCode::CONFLICT, "InvalidInput").await;
        assert_eq!(in_use["error"]["field"], "reports");
        let message = in_use["error"]["message"].as_str().unwrap();
        assert!(message.contains("4 reports") && message.contains("Sales overview"), "{message}");
        assert_eq!(admin.get(&path).await.status(), StatusCode::OK, "still there");

        for report in admin.json("/api/v1/reports").await.as_array().unwrap() {
            let off = admin
                .patch(
                    &format!("/api/v1/reports/{}", report["id"].as_str().unwrap()),
                    json!({ "capacityId": null }),
                )
                .await;
            assert_eq!(off.status(), StatusCode::OK);
        }
        assert_eq!(admin.delete(&path).await.status(), StatusCode::NO_CONTENT);
        expect_error(admin.get(&path).await, StatusCode::NOT_FOUND, "NotFound").await;
        let viewer = app.sign_in(VIEWER).await;
        let report = viewer.id_of("/api/v1/reports", "name", "Sales overview").await;
        let token = token_of(&viewer, &report).await;
        assert_eq!(query(&app, &token, &report).await.status(), StatusCode::OK, "always on now");
    }

    #[tokio::test]
    async fn capacities_sharing_data_that_pause_together_free_it() {
        let app = spawn_app().await;
        let admin = app.sign_in(ADMIN).await;
        let org = org_of(&app).await;
        let side = admin.post("/api/v1/capacities", json!({ "name": "Side engine" })).await;
        let side: CapacityId =
            side.json::<Value>().await.unwrap()["id"].as_str().unwrap().parse().unwrap();
        let summary = admin.id_of("/api/v1/reports", "name", "Executive summary").await;
        admin.patch(&format!("/api/v1/reports/{summary}"), json!({ "capacityId": side })).await;
        let demo = app.store.list_capacities(org).await.unwrap();
        let demo = demo.iter().find(|c| c.name == DEMO_CAPACITY).unwrap().clone();
        let side = app.store.get_capacity(org, side).await.unwrap();
        let stored = app.store.list_datasets(org).await.unwrap().remove(0);
        ensure_open(&app.state, &stored, OpenFor::Viewers).await.unwrap();
        let dataset = stored.id.to_string();
        assert!(app.state.engine.info(&dataset).is_some());

        // One scheduler pass moves both to Pausing before either provider has run.
        let pausing = CapacityEvent {
            id: 0,
            capacity_id: side.id,
            at: app.clock_now(),
            state: CapacityState::Pausing,
            reason: "inactivity".into(),
            actor: None,
            detail: None,
        };
        assert!(app.store.transition_capacity(&[CapacityState::Running], &pausing).await.unwrap());
        app.state.capacities.pause(org, demo.id, "inactivity", None).await.unwrap();
        wait_for(&app, &demo, CapacityState::Paused).await;
        assert!(app.state.engine.info(&dataset).is_none(), "a pausing capacity serves nobody");
    }

    #[tokio::test]
    async fn permission_changes_count_from_the_very_next_request() {
        let app = spawn_app().await;
        // Reads are kept for an hour here: only forgetting them can explain what follows.
        app.state.capacities.gate.keep_reads_for(Duration::from_secs(3600));
        let admin = app.sign_in(ADMIN).await;
        let viewer = app.sign_in(VIEWER).await;
        let (capacity, report) = placed(&app, &admin, CapacityState::Paused).await;
        let path = format!("/api/v1/reports/{report}/token");
        expect_error(
            viewer.post(&path, json!({})).await,
            StatusCode::SERVICE_UNAVAILABLE,
            "CapacityNotActive",
        )
        .await;

        // Granted: the viewer wakes it at once.
        let viewer_id = admin.id_of("/api/v1/users", "email", VIEWER).await;
        let grant = format!("/api/v1/permissions/capacity.turnOn/users/{viewer_id}");
        assert!(admin.put(&grant).await.status().is_success());
        expect_error(
            viewer.post(&path, json!({})).await,
            StatusCode::SERVICE_UNAVAILABLE,
            "CapacityStarting",
        )
        .await;
        wait_for(&app, &capacity, CapacityState::Running).await;
        assert_eq!(events(&app, &capacity).await[1].actor.as_deref(), Some(VIEWER));

        // Revoked: it no longer does.
        app.state.capacities.pause(capacity.org_id, capacity.id, "manual", None).await.unwrap();
        wait_for(&app, &capacity, CapacityState::Paused).await;
        assert!(admin.delete(&grant).await.status().is_success());
        expect_error(
            viewer.post(&path, json!({})).await,
            StatusCode::SERVICE_UNAVAILABLE,
            "CapacityNotActive",
        )
        .await;

        // admin@ holds capacity.turnOn only through Executives: out of the group, no waking.
        let executives = admin.id_of("/api/v1/groups", "name", "Executives").await;
        let admin_id = admin.id_of("/api/v1/users", "email", ADMIN).await;
        expect_error(
            admin.post(&path, json!({})).await,
            StatusCode::SERVICE_UNAVAILABLE,
            "CapacityStarting",
        )
        .await;
        wait_for(&app, &capacity, CapacityState::Running).await;
        app.state.capacities.pause(capacity.org_id, capacity.id, "manual", None).await.unwrap();
        wait_for(&app, &capacity, CapacityState::Paused).await;
        let removed =
            admin.delete(&format!("/api/v1/groups/{executives}/members/{admin_id}")).await;
        assert!(removed.status().is_success(), "{}", removed.status());
        expect_error(
            admin.post(&path, json!({})).await,
            StatusCode::SERVICE_UNAVAILABLE,
            "CapacityNotActive",
        )
        .await;
        assert_eq!(stored(&app, &capacity).await.state, CapacityState::Paused);
    }

    #[tokio::test]
    async fn an_organization_setting_turns_waking_from_the_viewer_off_for_everyone() {
        let app = spawn_app().await;
        let admin = app.sign_in(ADMIN).await;
        let (capacity, report) = placed(&app, &admin, CapacityState::Paused).await;
        let off = admin.patch("/api/v1/settings", json!({ "capacityWakeFromViewer": false })).await;
        assert_eq!(off.status(), StatusCode::OK);
        // admin@ holds capacity.turnOn through Executives, and the capacity allows waking.
        let refused = admin.post(&format!("/api/v1/reports/{report}/token"), json!({})).await;
        let error =
            expect_error(refused, StatusCode::SERVICE_UNAVAILABLE, "CapacityNotActive").await;
        assert_eq!(error["error"]["capacity"]["state"], "Paused");
        assert_eq!(stored(&app, &capacity).await.state, CapacityState::Paused);
        let on = admin.patch("/api/v1/settings", json!({ "capacityWakeFromViewer": true })).await;
        assert_eq!(on.status(), StatusCode::OK);
        let waking = admin.post(&format!("/api/v1/reports/{report}/token"), json!({})).await;
        expect_error(waking, StatusCode::SERVICE_UNAVAILABLE, "CapacityStarting").await;
    }

    #[tokio::test]
    async fn a_paused_scheduled_capacity_says_when_it_is_back_in_its_own_time_zone() {
        let app = spawn_app().await;
        let admin = app.sign_in(ADMIN).await;
        let viewer = app.sign_in(VIEWER).await;
        let (capacity, report) = placed(&app, &admin, CapacityState::Paused).await;
        let windows = json!([{ "day": "Mon", "start": "08:00", "end": "18:00" }]);
        admin
            .patch(
                &format!("/api/v1/capacities/{}", capacity.id),
                json!({ "mode": "schedule", "schedule": windows }),
            )
            .await;
        let refused = viewer.post(&format!("/api/v1/reports/{report}/token"), json!({})).await;
        let error =
            expect_error(refused, StatusCode::SERVICE_UNAVAILABLE, "CapacityNotActive").await;
        let message = error["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("scheduled back on Mon ") && message.contains("08:00 (Europe/Paris)"),
            "{message}"
        );
        assert!(error["error"]["capacity"]["nextStart"].is_string());
    }

    #[tokio::test]
    async fn token_refreshes_of_keep_on_users_count_as_activity_and_others_do_not() {
        let app = spawn_app().await;
        let admin = app.sign_in(ADMIN).await;
        let (capacity, report) = placed(&app, &admin, CapacityState::Running).await;
        let viewer = app.sign_in(VIEWER).await;
        app.clock.advance(Span::minutes(10));
        viewer.token(&report).await;
        assert_eq!(stored(&app, &capacity).await.last_activity, None, "viewer lacks keepOn");
        let tv = app.sign_in("tv@example.com").await;
        tv.token(&report).await;
        let seen = stored(&app, &capacity).await.last_activity;
        assert_eq!(
            seen.map(|t| t.timestamp_millis()),
            Some(app.clock_now().timestamp_millis()),
            "tv holds keepOn via Displays"
        );
    }
}

mod portal {
    use super::*;
    use reqwest::StatusCode;

    #[tokio::test]
    async fn administrators_place_a_report_on_a_capacity_from_its_page_and_a_bad_one_changes_nothing()
     {
        let app = spawn_app().await;
        let admin = app.sign_in(ADMIN).await;
        let capacity = simulated(&app, CapacityState::Running, CapacityMode::Manual).await;
        let report = admin.id_of("/api/v1/reports", "name", "Warehouse operations").await;
        let path = format!("/admin/reports/{report}");
        let page = admin.get(&path).await.text().await.unwrap();
        assert!(page.contains("Runs on") && page.contains(&capacity.name), "the selector lists it");
        let list = admin.get("/admin/reports").await.text().await.unwrap();
        assert!(
            list.contains("<th>Runs on</th>") && list.contains(DEMO_CAPACITY),
            "the list shows where"
        );
        let current = |app: &TestApp| {
            let report = report.clone();
            let store = app.store.clone();
            async move {
                let org = store.list_organizations().await.unwrap()[0].id;
                store.get_report(org, report.parse().unwrap()).await.unwrap()
            }
        };
        let id = capacity.id.to_string();
        let moved = admin
            .form(
                &path,
                &[("name", "Warehouse operations"), ("description", ""), ("capacityId", &id)],
            )
            .await;
        assert_eq!(moved.status(), StatusCode::SEE_OTHER);
        assert_eq!(current(&app).await.capacity_id, Some(capacity.id));

        let unknown = CapacityId::generate().to_string();
        let bad = admin
            .form(&path, &[("name", "Renamed"), ("description", ""), ("capacityId", &unknown)])
            .await;
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
        assert!(bad.text().await.unwrap().contains("capacityId: no such capacity"));
        let after = current(&app).await;
        assert_eq!(
            (after.name.as_str(), after.capacity_id),
            ("Warehouse operations", Some(capacity.id))
        );

        let none = admin
            .form(
                &path,
                &[("name", "Warehouse operations"), ("description", ""), ("capacityId", "")],
            )
            .await;
        assert_eq!(none.status(), StatusCode::SEE_OTHER);
        assert_eq!(current(&app).await.capacity_id, None, "no capacity: always on");

        let contributor = app.sign_in(CONTRIBUTOR).await;
        let page = contributor.get(&path).await.text().await.unwrap();
        assert!(!page.contains("Runs on"), "contributors do not place reports on capacities");
        let refused = contributor
            .form(
                &path,
                &[("name", "Warehouse operations"), ("description", ""), ("capacityId", &id)],
            )
            .await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert_eq!(current(&app).await.capacity_id, None);
    }

    #[tokio::test]
    async fn administrators_create_a_capacity_from_the_portal_and_a_bad_field_changes_nothing() {
        let app = spawn_app().await;
        let admin = app.sign_in(ADMIN).await;
        let fields = |name: &'static str, idle: &'static str| {
            [
                ("name", name),
                ("provider", "simulated"),
                ("mode", "onDemand"),
                ("idleMinutes", idle),
                ("timeZone", "Europe/Paris"),
                ("hourlyPrice", "2.5"),
                ("wakeFromViewer", "on"),
            ]
        };
        let bad = admin.form("/admin/capacities", &fields("Wallboards", "0")).await;
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
        assert!(bad.text().await.unwrap().contains("role=\"alert\">idleMinutes: "));
        let org = org_of(&app).await;
        let others = |list: Vec<Capacity>| -> Vec<Capacity> {
            list.into_iter().filter(|c| c.name != DEMO_CAPACITY).collect()
        };
        assert!(
            others(app.store.list_capacities(org).await.unwrap()).is_empty(),
            "nothing created"
        );

        let created = admin.form("/admin/capacities", &fields("Wallboards", "75")).await;
        assert_eq!(created.status(), StatusCode::SEE_OTHER);
        let list = others(app.store.list_capacities(org).await.unwrap());
        assert_eq!(
            list.iter()
                .map(|c| (c.name.as_str(), c.provider.as_str(), c.mode, c.idle_minutes))
                .collect::<Vec<_>>(),
            [("Wallboards", "simulated", CapacityMode::OnDemand, 75)]
        );
        let location = created.headers()["location"].to_str().unwrap().to_string();
        assert!(location.starts_with(&format!("/admin/capacities/{}", list[0].id)), "{location}");
        let page = admin.get("/admin/capacities").await.text().await.unwrap();
        assert!(page.contains("Wallboards") && page.contains("Create a capacity"));
        assert!(page.contains("local · 4 reports") && page.contains("simulated · 0 reports"));
        let deleted = admin.form(&format!("/admin/capacities/{}/delete", list[0].id), &[]).await;
        assert_eq!(deleted.status(), StatusCode::SEE_OTHER);
        assert!(others(app.store.list_capacities(org).await.unwrap()).is_empty(), "deleted");
        let demo = app.store.list_capacities(org).await.unwrap().remove(0);
        let page = admin.get(&format!("/admin/capacities/{}", demo.id)).await.text().await.unwrap();
        assert!(page.contains("Runs 4 reports: ") && page.contains(">Executive summary</a>"));
        let in_use = admin.form(&format!("/admin/capacities/{}/delete", demo.id), &[]).await;
        assert_eq!(in_use.status(), StatusCode::CONFLICT);
        assert!(in_use.text().await.unwrap().contains("reports: 4 reports run on this capacity"));
        let created = admin.form("/admin/capacities", &fields("Wallboards", "75")).await;
        assert_eq!(created.status(), StatusCode::SEE_OTHER);
        let session = app.sign_in(CONTRIBUTOR).await;
        let refused = session.form("/admin/capacities", &fields("Mine", "30")).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert_eq!(others(app.store.list_capacities(org).await.unwrap()).len(), 1);
    }

    #[tokio::test]
    async fn hours_on_and_off_and_the_money_saved_agree_with_the_timeline() {
        let app = spawn_app().await;
        // 3.00 per hour; on by hand only, so nothing but the switches below changes it.
        let capacity = simulated(&app, CapacityState::Running, CapacityMode::Manual).await;
        let api = format!("/api/v1/capacities/{}", capacity.id);
        // Hours pass between the requests: each signs in anew (sessions time out when idle).
        app.clock.advance(Span::hours(1));
        let admin = app.sign_in(ADMIN).await;
        let paused = admin.post(&format!("{api}/pause"), serde_json::json!({})).await;
        assert_eq!(paused.status(), StatusCode::OK);
        wait_for(&app, &capacity, CapacityState::Paused).await;
        app.clock.advance(Span::hours(10));
        let admin = app.sign_in(ADMIN).await;
        let resumed = admin.post(&format!("{api}/resume"), serde_json::json!({})).await;
        assert_eq!(resumed.status(), StatusCode::OK);
        wait_for(&app, &capacity, CapacityState::Running).await;
        app.clock.advance(Span::hours(2));
        let admin = app.sign_in(ADMIN).await;
        // On 1 h, paused 10 h, on again 2 h: 3.0 on, 10.0 off, 30.00 saved.
        let text =
            admin.get(&format!("/admin/capacities/{}", capacity.id)).await.text().await.unwrap();
        assert!(
            text.contains("<strong>3.0</strong> hours on · <strong>10.0</strong> hours off"),
            "{text}"
        );
        assert!(text.contains("Saved: <strong>30.00</strong>"), "{text}");
        let events = events(&app, &capacity).await;
        assert_eq!(
            events.iter().map(|e| (e.state, e.reason.as_str())).collect::<Vec<_>>(),
            [
                (CapacityState::Running, "manual"),
                (CapacityState::Resuming, "manual"),
                (CapacityState::Paused, "manual"),
                (CapacityState::Pausing, "manual"),
            ]
        );
    }

    #[tokio::test]
    async fn this_month_starts_at_midnight_on_the_first_in_the_capacitys_time_zone() {
        let app = spawn_app().await;
        let org = org_of(&app).await;
        // Now is 2 March 09:00 UTC; paused since February, in Europe/Paris (UTC+1 in March):
        // the month began on 28 February at 23:00 UTC, 34 hours ago (33 if counted in UTC).
        let february = app.clock_now() - Span::days(3);
        let capacity = simulated_shape(org, february, CapacityState::Paused, CapacityMode::Manual);
        let actor = vitrine_store::Actor::system(february);
        let capacity = app.store.create_capacity(org, &actor, &capacity).await.unwrap();
        let admin = app.sign_in(ADMIN).await;
        let text =
            admin.get(&format!("/admin/capacities/{}", capacity.id)).await.text().await.unwrap();
        assert!(
            text.contains("<strong>0.0</strong> hours on · <strong>34.0</strong> hours off"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn the_capacity_page_shows_state_settings_keepers_usage_and_timeline() {
        let app = spawn_app().await;
        let admin = app.sign_in(ADMIN).await;
        let capacity = simulated(&app, CapacityState::Running, CapacityMode::OnDemand).await;
        let page = format!("/admin/capacities/{}", capacity.id);
        let list = admin.get("/admin/capacities").await.text().await.unwrap();
        assert!(list.contains(&capacity.name) && list.contains("Running"));

        let paused = admin.form(&format!("{page}/pause"), &[]).await;
        assert_eq!(paused.status(), StatusCode::SEE_OTHER);
        wait_for(&app, &capacity, CapacityState::Paused).await;
        let text = admin.get(&page).await.text().await.unwrap();
        for expected in
            ["Paused manually", "hours on", "Saved:", "Keeping it on right now", "capacity.keepOn"]
        {
            assert!(text.contains(expected), "{expected}");
        }

        let saved = admin
            .form(
                &page,
                &[
                    ("mode", "schedule"),
                    ("idleMinutes", "20"),
                    ("timeZone", "Europe/Paris"),
                    ("hourlyPrice", "4.5"),
                    ("schedule", "Mon 08:00-18:00\nTue 09:00-17:30\n"),
                    ("wakeFromViewer", "on"),
                ],
            )
            .await;
        assert_eq!(saved.status(), StatusCode::SEE_OTHER);
        let read = stored(&app, &capacity).await;
        assert_eq!(
            (read.mode, read.idle_minutes, read.schedule.len(), read.hourly_price),
            (CapacityMode::Schedule, 20, 2, 4.5)
        );

        // The demo's reports update their token every 50 minutes: 20 idle minutes is too short for a
        // screen whose live channel is blocked.
        let text = admin.get(&page).await.text().await.unwrap();
        assert!(
            text.contains("Screens without their live channel pause between timed updates"),
            "warned at 20 minutes"
        );
        let longer = admin
            .form(
                &page,
                &[
                    ("mode", "schedule"),
                    ("idleMinutes", "60"),
                    ("timeZone", "Europe/Paris"),
                    ("hourlyPrice", "4.5"),
                    ("schedule", "Mon 08:00-18:00\nTue 09:00-17:30\n"),
                    ("wakeFromViewer", "on"),
                ],
            )
            .await;
        assert_eq!(longer.status(), StatusCode::SEE_OTHER);
        let text = admin.get(&page).await.text().await.unwrap();
        assert!(
            !text.contains("Screens without their live channel pause between timed updates"),
            "no warning at 60 minutes"
        );

        let bad = admin
            .form(
                &page,
                &[
                    ("mode", "schedule"),
                    ("idleMinutes", "0"),
                    ("timeZone", "Europe/Paris"),
                    ("hourlyPrice", "1"),
                    ("schedule", ""),
                ],
            )
            .await;
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
        assert!(bad.text().await.unwrap().contains("role=\"alert\">idleMinutes: "));
        assert_eq!(stored(&app, &capacity).await.idle_minutes, 60, "nothing saved");
        for who in [VIEWER, CONTRIBUTOR] {
            let session = app.sign_in(who).await;
            assert_eq!(session.get(&page).await.status(), StatusCode::FORBIDDEN);
        }
    }
}

mod scheduler {
    use super::*;
    use reqwest::StatusCode;
    use serde_json::json;

    async fn on_report(app: &TestApp, capacity: &Capacity) -> String {
        let admin = app.sign_in(ADMIN).await;
        let report = admin.id_of("/api/v1/reports", "name", "Sales overview").await;
        admin
            .patch(&format!("/api/v1/reports/{report}"), json!({ "capacityId": capacity.id }))
            .await;
        report
    }

    /// A day of timed token updates every 50 minutes from `email`, the scheduler running every
    /// 10 minutes; returns the states seen.
    async fn a_day_of_timed_updates(
        app: &TestApp,
        capacity: &Capacity,
        email: &str,
    ) -> Vec<CapacityState> {
        let report = on_report(app, capacity).await;
        let session = app.sign_in(email).await;
        // The admin keeps the idle time above the 50-minute "Update Token every X minutes".
        let change = vitrine_store::CapacityChange { idle_minutes: Some(60), ..Default::default() };
        let actor = vitrine_store::Actor::system(app.clock_now());
        app.store.update_capacity(capacity.org_id, &actor, capacity.id, &change).await.unwrap();
        let controller = controller(app, 1_000);
        // The report opens: the first token.
        let opened = session.post(&format!("/api/v1/reports/{report}/token"), json!({})).await;
        assert_eq!(opened.status(), StatusCode::OK);
        let mut seen = Vec::new();
        for minute in (10..=24 * 60).step_by(10) {
            app.clock.advance(Span::minutes(10));
            if minute % 50 == 0 {
                // The viewer's timed update: a token request with the session, no interaction.
                let update =
                    session.post(&format!("/api/v1/reports/{report}/token"), json!({})).await;
                // A paused capacity answers 503 to those who may not wake it.
                assert!(
                    [StatusCode::OK, StatusCode::SERVICE_UNAVAILABLE].contains(&update.status()),
                    "{}",
                    update.status()
                );
            }
            controller.tick().await.unwrap();
            tokio::time::sleep(Duration::from_millis(5)).await;
            seen.push(stored(app, capacity).await.state);
        }
        seen
    }

    #[tokio::test]
    async fn timed_updates_of_a_keep_on_user_keep_an_on_demand_capacity_on_for_a_day() {
        let app = spawn_app().await;
        let capacity = simulated(&app, CapacityState::Running, CapacityMode::OnDemand).await;
        // tv@example.com holds capacity.keepOn through the Displays group.
        let seen = a_day_of_timed_updates(&app, &capacity, "tv@example.com").await;
        assert!(seen.iter().all(|s| *s == CapacityState::Running), "{seen:?}");
    }

    #[tokio::test]
    async fn the_same_updates_from_a_user_without_keep_on_let_it_pause() {
        let app = spawn_app().await;
        let capacity = simulated(&app, CapacityState::Running, CapacityMode::OnDemand).await;
        let seen = a_day_of_timed_updates(&app, &capacity, VIEWER).await;
        // It pauses an hour after the last activity that counts (its start) and the timed
        // updates that follow neither keep it on nor wake it.
        let paused_at = seen.iter().position(|s| *s == CapacityState::Paused).expect("it pauses");
        assert!(seen[paused_at..].iter().all(|s| *s == CapacityState::Paused), "{seen:?}");
        let first_pause = app
            .store
            .capacity_events(capacity.org_id, capacity.id, 100)
            .await
            .unwrap()
            .into_iter()
            .rev()
            .find(|e| e.state == CapacityState::Pausing)
            .unwrap();
        assert_eq!(first_pause.reason, "inactivity");
    }

    /// The demo's warehouse TV (`capacity.keepOn`, timed update every 50 minutes) and its
    /// on-demand capacity (60 idle minutes), with a 45-minute network loss that covers one
    /// timed update: the capacity pauses for idleness during the outage, and when the network
    /// is back the TV resumes it by itself. A pause by an administrator stands, and says so.
    #[tokio::test]
    async fn the_warehouse_tv_resumes_a_capacity_that_paused_for_idleness_during_its_outage() {
        let app = spawn_app().await;
        let admin = app.sign_in(ADMIN).await;
        let id = admin.id_of("/api/v1/capacities", "name", DEMO_CAPACITY).await;
        let org = org_of(&app).await;
        let capacity = app.store.get_capacity(org, id.parse().unwrap()).await.unwrap();
        assert_eq!(capacity.state, CapacityState::Running);
        let tv = app.sign_in("tv@example.com").await;
        let report = tv.id_of("/api/v1/reports", "name", "Warehouse operations").await;
        let token_path = format!("/api/v1/reports/{report}/token");
        let update = || tv.post(&token_path, json!({}));
        assert_eq!(update().await.status(), StatusCode::OK, "the report opens at minute 0");
        let scheduler = &app.state.capacities;
        // The network is lost from minute 70 to minute 115: the update at minute 100 is lost.
        for minute in (5..=115).step_by(5) {
            app.clock.advance(Span::minutes(5));
            if minute % 50 == 0 && !(70..115).contains(&minute) {
                assert_eq!(update().await.status(), StatusCode::OK, "minute {minute}");
            }
            scheduler.tick().await.unwrap();
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let paused = wait_for(&app, &capacity, CapacityState::Paused).await;
        assert_eq!(events(&app, &paused).await[0].reason, "inactivity");
        // Back on the network at minute 115: its next request resumes the capacity.
        let back = update().await;
        let body = expect_error(back, StatusCode::SERVICE_UNAVAILABLE, "CapacityStarting").await;
        assert_eq!(body["error"]["capacity"]["state"], "Resuming", "{body}");
        wait_for(&app, &capacity, CapacityState::Running).await;
        assert_eq!(update().await.status(), StatusCode::OK, "the report is back by itself");
        let resumed = events(&app, &capacity).await;
        let resuming = resumed.iter().find(|e| e.state == CapacityState::Resuming).unwrap();
        assert_eq!(resuming.reason, "keeper returned");
        assert_eq!(resuming.actor.as_deref(), Some("tv@example.com"));

        // A viewer without keepOn never does the same.
        app.clock.advance(Span::minutes(61));
        scheduler.tick().await.unwrap();
        wait_for(&app, &capacity, CapacityState::Paused).await;
        let viewer = app.sign_in(VIEWER).await;
        let refused = viewer
            .post(
                &token_path.replace(
                    &report,
                    &viewer.id_of("/api/v1/reports", "name", "Sales overview").await,
                ),
                json!({}),
            )
            .await;
        expect_error(refused, StatusCode::SERVICE_UNAVAILABLE, "CapacityNotActive").await;
        assert_eq!(stored(&app, &capacity).await.state, CapacityState::Paused);

        // An administrator's pause stands, and the screen says who paused it.
        assert_eq!(update().await.status(), StatusCode::SERVICE_UNAVAILABLE, "the TV resumes it");
        wait_for(&app, &capacity, CapacityState::Running).await;
        let pause = admin.post(&format!("/api/v1/capacities/{id}/pause"), json!({})).await;
        assert!(pause.status().is_success(), "{}", pause.status());
        wait_for(&app, &capacity, CapacityState::Paused).await;
        let held =
            expect_error(update().await, StatusCode::SERVICE_UNAVAILABLE, "CapacityNotActive")
                .await;
        let message = held["error"]["message"].as_str().unwrap();
        assert!(message.contains("paused by an administrator"), "{message}");
        assert_eq!(held["error"]["capacity"]["pausedFor"], "manual");
        assert_eq!(stored(&app, &capacity).await.state, CapacityState::Paused);
    }

    #[tokio::test]
    async fn a_schedule_window_starts_the_capacity_on_local_time_across_a_daylight_saving_change() {
        let app = spawn_app().await;
        let mut capacity = simulated(&app, CapacityState::Paused, CapacityMode::Schedule).await;
        capacity.schedule = vec![vitrine_core::capacity::WeeklyWindow {
            day: chrono::Weekday::Sun,
            start: chrono::NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
            end: chrono::NaiveTime::from_hms_opt(18, 0, 0).unwrap(),
        }];
        let change = vitrine_store::CapacityChange {
            schedule: Some(capacity.schedule.clone()),
            ..Default::default()
        };
        let actor = vitrine_store::Actor::system(app.clock_now());
        app.store.update_capacity(capacity.org_id, &actor, capacity.id, &change).await.unwrap();
        let controller = controller(&app, 1_000);
        // From 2026-03-02 09:00 UTC to Sunday 2026-03-29 05:59 UTC: 07:59 in Paris, summer time.
        app.clock.advance(Span::days(26) + Span::hours(20) + Span::minutes(59));
        controller.tick().await.unwrap();
        assert_eq!(stored(&app, &capacity).await.state, CapacityState::Paused);
        app.clock.advance(Span::minutes(1));
        controller.tick().await.unwrap();
        controller.tick().await.unwrap();
        wait_for(&app, &capacity, CapacityState::Running).await;
        let events = app.store.capacity_events(capacity.org_id, capacity.id, 10).await.unwrap();
        assert_eq!(events.iter().filter(|e| e.state == CapacityState::Resuming).count(), 1);
        assert_eq!(events[0].reason, "schedule");
        // 18:00 in Paris is 16:00 UTC; with nobody active the idle timer pauses it 30 minutes later.
        app.clock.advance(Span::hours(10) + Span::minutes(29));
        controller.tick().await.unwrap();
        assert_eq!(stored(&app, &capacity).await.state, CapacityState::Running);
        app.clock.advance(Span::minutes(1));
        controller.tick().await.unwrap();
        wait_for(&app, &capacity, CapacityState::Paused).await;
    }
}

#[tokio::test]
async fn one_capacity_the_store_cannot_move_does_not_stop_the_scheduler_for_the_others() {
    if on_postgres("one_capacity_the_store_cannot_move") {
        return;
    }
    let app = spawn_app().await;
    let first = simulated(&app, CapacityState::Running, CapacityMode::OnDemand).await;
    let second = simulated(&app, CapacityState::Running, CapacityMode::OnDemand).await;
    let listed = app.store.all_capacities().await.unwrap();
    let position = |id| listed.iter().position(|c| c.id == id).unwrap();
    let (broken, healthy) =
        if position(first.id) < position(second.id) { (first, second) } else { (second, first) };
    // The store refuses every change of the capacity the pass meets first.
    let pool = sqlx::SqlitePool::connect(&app.database_url()).await.unwrap();
    let trigger = format!(
        "CREATE TRIGGER broken BEFORE UPDATE ON capacities WHEN OLD.id = '{}' \
         BEGIN SELECT RAISE(ABORT, 'this capacity cannot be changed'); END",
        broken.id
    );
    sqlx::query(&trigger).execute(&pool).await.unwrap();
    pool.close().await;
    let controller = controller(&app, 1_000);
    app.clock.advance(Span::minutes(31));
    assert!(controller.tick().await.is_err(), "the failure is still reported");
    wait_for(&app, &healthy, CapacityState::Paused).await;
    assert_eq!(stored(&app, &broken).await.state, CapacityState::Running);
}
