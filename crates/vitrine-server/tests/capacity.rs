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
    let now = app.clock_now();
    let capacity = Capacity {
        id: CapacityId::generate(),
        org_id: org,
        name: format!("Simulated {}", CapacityId::generate()),
        provider: "simulated".into(),
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
    };
    app.store.create_capacity(org, &vitrine_store::Actor::system(now), &capacity).await.unwrap()
}

fn controller(app: &TestApp, timeout_ms: u64) -> Arc<CapacityController> {
    let local = Arc::new(LocalProvider::new(
        app.store.clone(),
        app.state.engine.clone(),
        app.data_dir().to_path_buf(),
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
        let now = app.store.get_capacity(capacity.org_id, capacity.id).await.unwrap();
        if now.state == state {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("capacity never reached {state:?}");
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
    assert_eq!(
        app.store.get_capacity(capacity.org_id, capacity.id).await.unwrap().state,
        CapacityState::Running
    );
    app.clock.advance(Span::seconds(1));
    controller.tick().await.unwrap();
    controller.tick().await.unwrap();
    wait_for(&app, &capacity, CapacityState::Paused).await;
    let pauses =
        events(&app, &capacity).await.iter().filter(|e| e.state == CapacityState::Pausing).count();
    assert_eq!(pauses, 1, "deciding twice pauses once");
    assert_eq!(events(&app, &capacity).await[0].reason, "inactivity");
    assert_eq!(
        app.store.get_capacity(manual.org_id, manual.id).await.unwrap().state,
        CapacityState::Running,
        "manual stays on"
    );

    // Activity of a permitted user keeps it on: recorded activity restarts the idle time.
    let kept = simulated(&app, CapacityState::Running, CapacityMode::OnDemand).await;
    app.clock.advance(Span::minutes(20));
    app.store.record_capacity_activity(kept.id, app.clock_now()).await.unwrap();
    app.clock.advance(Span::minutes(20));
    controller.tick().await.unwrap();
    assert_eq!(
        app.store.get_capacity(kept.org_id, kept.id).await.unwrap().state,
        CapacityState::Running
    );
}
