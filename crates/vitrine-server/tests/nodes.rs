//! Several `vitrine serve` processes on one PostgreSQL database and one data directory, as an
//! operator runs them behind a load balancer: what one node changes, every other node honours
//! within a second, and one node at a time runs the scheduler.

mod common;

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use common::nodes::{Installation, MASTER_KEY, Node, PrivatePostgres};
use common::sse::events_until;
use common::{ADMIN, CONTRIBUTOR, PASSWORD, Session, VIEWER};

async fn first_report(viewer: &Session) -> String {
    let reports = viewer.json("/api/v1/reports").await;
    reports[0]["id"].as_str().expect("a report the viewer may open").to_string()
}

/// How long after `acknowledged` node `on` first refuses `token`.
async fn refused_after(on: &Node, token: &str, report: &str, acknowledged: Instant) -> Duration {
    loop {
        match on.embed(token, report).await {
            StatusCode::UNAUTHORIZED => return acknowledged.elapsed(),
            StatusCode::OK => {}
            other => panic!("unexpected {other}"),
        }
        assert!(acknowledged.elapsed() < Duration::from_secs(10), "never refused");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn wait_for_state(admin: &Session, path: &str, wanted: &str, since: Instant) {
    loop {
        let state = admin.json(path).await["state"].clone();
        if state == wanted {
            return;
        }
        assert!(since.elapsed() < Duration::from_secs(60), "never {wanted}: {state}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_made_on_one_node_is_refused_on_another_within_a_second_every_time() {
    let installation = Installation::seeded().await;
    let (a, _b, c) = (installation.start(), installation.start(), installation.start());
    let admin = a.sign_in(ADMIN).await;
    let viewer_on_c = c.sign_in(VIEWER).await;
    let viewer_id = viewer_on_c.user["id"].as_str().unwrap().to_string();
    let report = first_report(&viewer_on_c).await;

    let mut delays = Vec::new();
    for round in 0..100 {
        let token = viewer_on_c.token(&report).await["token"].as_str().unwrap().to_string();
        assert_eq!(c.embed(&token, &report).await, StatusCode::OK, "round {round}: fresh token");
        let revoked =
            admin.post(&format!("/api/v1/users/{viewer_id}/revoke-tokens"), json!({})).await;
        assert!(revoked.status().is_success(), "round {round}: {}", revoked.status());
        let delay = refused_after(&c, &token, &report, Instant::now()).await;
        assert!(delay < Duration::from_secs(1), "round {round}: refused on C after {delay:?}");
        delays.push(delay);
    }
    delays.sort();
    eprintln!(
        "revocation A -> C: p50 {:?}, p99 {:?}, max {:?}",
        percentile(&delays, 0.5),
        percentile(&delays, 0.99),
        delays[delays.len() - 1]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_locked_on_one_node_is_locked_on_another() {
    let installation = Installation::seeded().await;
    let (a, b) = (installation.start(), installation.start());
    let client = reqwest::Client::new();
    let attempt = |node: &Node, password: &str| {
        client
            .post(node.url("/api/v1/auth/login"))
            .json(&json!({ "email": VIEWER, "password": password }))
            .send()
    };
    let mut last = StatusCode::OK;
    for _ in 0..5 {
        last = attempt(&a, "wrong-password").await.unwrap().status();
    }
    assert_eq!(last, StatusCode::LOCKED, "five wrong passwords lock on A");
    let on_b = attempt(&b, PASSWORD).await.unwrap();
    assert_eq!(on_b.status(), StatusCode::LOCKED, "the right password on B is refused too");
}

/// A stranger's email answers as a real account would on every node (locked on B after five
/// wrong passwords on A), and an address's sign-in attempts are one allowance, wherever
/// they land.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_attempts_and_a_strangers_lock_are_counted_across_nodes() {
    let installation = Installation::seeded().await;
    installation.set_limits(&[("sign_in_per_minute", 6)]);
    let (a, b) = (installation.start(), installation.start());
    let client = reqwest::Client::new();
    let attempt = |node: &Node| {
        client
            .post(node.url("/api/v1/auth/login"))
            .json(&json!({ "email": "nobody@example.com", "password": "a-guess" }))
            .send()
    };
    let mut answers = Vec::new();
    for _ in 0..5 {
        answers.push(attempt(&a).await.unwrap().status());
    }
    assert_eq!(answers[..4], [StatusCode::UNAUTHORIZED; 4]);
    assert_eq!(answers[4], StatusCode::LOCKED, "the fifth wrong password locks, as for anyone");
    assert_eq!(attempt(&b).await.unwrap().status(), StatusCode::LOCKED, "locked on B too");
    // Six attempts a minute from this address: five on A and one on B leave none, although
    // A alone has seen only five.
    let seventh = attempt(&a).await.unwrap();
    assert_eq!(seventh.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_rotated_beside_one_node_signs_and_verifies_on_the_others_within_a_second() {
    let installation = Installation::seeded().await;
    let (a, _b, c) = (installation.start(), installation.start(), installation.start());
    let viewer_on_c = c.sign_in(VIEWER).await;
    let report = first_report(&viewer_on_c).await;

    let rotated = Command::new(env!("CARGO_BIN_EXE_vitrine"))
        .args(["keys", "rotate"])
        .env("VITRINE_DATABASE", &installation.url)
        .env("VITRINE_DATA_DIR", installation.data.path())
        .env("VITRINE_MASTER_KEY", MASTER_KEY)
        .output()
        .expect("vitrine keys rotate");
    assert!(rotated.status.success(), "{}", String::from_utf8_lossy(&rotated.stderr));
    let done = Instant::now();
    let printed = String::from_utf8_lossy(&rotated.stdout).to_string();
    let kid = printed
        .split_whitespace()
        .nth(3)
        .map(|kid| kid.trim_end_matches(':').to_string())
        .expect("the new key's id");

    let kid_of = |token: &str| -> String {
        use base64::Engine;
        let header = token.split('.').next().unwrap();
        let header = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header).unwrap();
        serde_json::from_slice::<Value>(&header).unwrap()["kid"].as_str().unwrap().to_string()
    };
    let token = loop {
        let token = viewer_on_c.token(&report).await["token"].as_str().unwrap().to_string();
        if kid_of(&token) == kid {
            break token;
        }
        assert!(done.elapsed() < Duration::from_secs(1), "C still signs with the old key");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(a.embed(&token, &report).await, StatusCode::OK, "A verifies C's new signature");
    let keys: Value =
        reqwest::get(a.url("/.well-known/jwks.json")).await.unwrap().json().await.unwrap();
    assert!(keys.to_string().contains(&kid), "A publishes the new key: {keys}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_moves_to_another_node_within_30_seconds_of_its_leader_being_killed() {
    let installation = Installation::seeded().await;
    let pool = installation.database().await;
    let mut nodes = [installation.start(), installation.start(), installation.start()];
    let holder = installation.leader(&pool).await.expect("a leader");
    let index = nodes.iter().position(|n| n.is(&holder)).expect("the leader is one of ours");
    let admin = nodes[(index + 1) % 3].sign_in(ADMIN).await;

    // A capacity at rest, paused by hand before the leader dies.
    let created = admin.post("/api/v1/capacities", json!({ "name": "Night shift" })).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let capacity: Value = created.json().await.unwrap();
    let path = format!("/api/v1/capacities/{}", capacity["id"].as_str().unwrap());
    admin.post(&format!("{path}/pause"), json!({})).await;
    wait_for_state(&admin, &path, "Paused", Instant::now()).await;

    nodes[index].kill();
    let killed = Instant::now();
    // Scheduled to run around the clock while nobody may lead yet: whichever node takes over
    // resumes it, once.
    let every_day: Vec<Value> = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        .iter()
        .map(|day| json!({ "day": day, "start": "00:00", "end": "23:59" }))
        .collect();
    let scheduled = admin.patch(&path, json!({ "mode": "schedule", "schedule": every_day })).await;
    assert_eq!(scheduled.status(), StatusCode::OK);

    let successor = loop {
        if let Some(holder) = installation.leader(&pool).await
            && !nodes[index].is(&holder)
        {
            break holder;
        }
        assert!(killed.elapsed() < Duration::from_secs(30), "no node took over");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let took = killed.elapsed();
    assert!(nodes.iter().enumerate().any(|(i, n)| i != index && n.is(&successor)));
    wait_for_state(&admin, &path, "Running", killed).await;
    // Every surviving node has run its scheduler since: the decision still stands once.
    tokio::time::sleep(Duration::from_secs(16)).await;
    let events = admin.json(&format!("{path}/events")).await;
    let resumed = events.as_array().unwrap().iter().filter(|e| e["state"] == "Resuming").count();
    assert_eq!(resumed, 1, "resumed once: {events}");
    eprintln!("scheduler failover: {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_listening_connection_is_killed_still_refuses_within_the_catch_up_interval() {
    let installation = Installation::seeded().await;
    let (a, c) = (installation.start(), installation.start());
    let pool = installation.database().await;
    let admin = a.sign_in(ADMIN).await;
    let viewer_on_c = c.sign_in(VIEWER).await;
    let viewer_id = viewer_on_c.user["id"].as_str().unwrap().to_string();
    let report = first_report(&viewer_on_c).await;

    for round in 0..5 {
        let token = viewer_on_c.token(&report).await["token"].as_str().unwrap().to_string();
        let killed: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE application_name = $1 AND query ILIKE 'LISTEN%'",
        )
        .bind(&installation.application)
        .fetch_all(&pool)
        .await
        .unwrap();
        assert!(killed.iter().filter(|k| **k).count() >= 1, "round {round}: a listener killed");
        let revoked =
            admin.post(&format!("/api/v1/users/{viewer_id}/revoke-tokens"), json!({})).await;
        assert!(revoked.status().is_success());
        let delay = refused_after(&c, &token, &report, Instant::now()).await;
        assert!(
            delay < vitrine_server::cluster::CATCH_UP + Duration::from_millis(500),
            "round {round}: refused after {delay:?}"
        );
    }
    // And the node listens again: the next revocation arrives by announcement.
    let token = viewer_on_c.token(&report).await["token"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let revoked = admin.post(&format!("/api/v1/users/{viewer_id}/revoke-tokens"), json!({})).await;
    assert!(revoked.status().is_success());
    let delay = refused_after(&c, &token, &report, Instant::now()).await;
    assert!(delay < Duration::from_millis(500), "announced again: {delay:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgresql_crash_under_load_loses_no_acknowledged_write_and_every_node_recovers() {
    let postgres = PrivatePostgres::start();
    let installation = Installation::seeded_in(postgres.url(), tempfile::tempdir().unwrap()).await;
    let nodes = Arc::new([installation.start(), installation.start()]);
    let admins = Arc::new([nodes[0].sign_in(ADMIN).await, nodes[1].sign_in(ADMIN).await]);

    // Each node creates groups one after the other; a group counts once a node answered 201.
    let acknowledged: Arc<Mutex<Vec<(usize, String, Instant)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut load = Vec::new();
    for node in 0..2 {
        let (admins, acknowledged, stop) = (admins.clone(), acknowledged.clone(), stop.clone());
        load.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                let name = format!("Node {node} group {n}");
                n += 1;
                let created = tokio::time::timeout(
                    Duration::from_secs(15),
                    admins[node].post("/api/v1/groups", json!({ "name": name })),
                )
                .await;
                if matches!(&created, Ok(response) if response.status() == StatusCode::CREATED) {
                    acknowledged.lock().unwrap().push((node, name, Instant::now()));
                } else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let postgres = tokio::task::spawn_blocking(move || {
        postgres.crash_and_restart();
        postgres
    })
    .await
    .unwrap();
    let restarted = Instant::now();
    // Both nodes write again by themselves.
    loop {
        let after = acknowledged_after(&acknowledged, restarted);
        if after[0] >= 3 && after[1] >= 3 {
            break;
        }
        assert!(restarted.elapsed() < Duration::from_secs(30), "nodes did not recover");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::SeqCst);
    for task in load {
        task.await.unwrap();
    }
    let groups = common::names_at(&admins[0], "/api/v1/groups").await;
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= 10, "{} writes", acknowledged.len());
    for (_, name, _) in &acknowledged {
        assert!(groups.contains(name), "{name} was acknowledged and is lost");
    }

    // And the change feed listens again: a revocation on one node reaches the other.
    let viewer = nodes[1].sign_in(VIEWER).await;
    let viewer_id = viewer.user["id"].as_str().unwrap().to_string();
    let report = first_report(&viewer).await;
    let token = viewer.token(&report).await["token"].as_str().unwrap().to_string();
    let revoked =
        admins[0].post(&format!("/api/v1/users/{viewer_id}/revoke-tokens"), json!({})).await;
    assert!(revoked.status().is_success());
    let delay = refused_after(&nodes[1], &token, &report, Instant::now()).await;
    assert!(delay < Duration::from_secs(1), "after the restart: {delay:?}");
    drop(postgres);
}

fn acknowledged_after(
    acknowledged: &Mutex<Vec<(usize, String, Instant)>>,
    since: Instant,
) -> [usize; 2] {
    let mut counts = [0; 2];
    for (node, _, at) in acknowledged.lock().unwrap().iter() {
        if *at > since {
            counts[*node] += 1;
        }
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_report_on_one_node_hears_what_another_node_changed_within_a_second() {
    let installation = Installation::seeded().await;
    let (a, c) = (installation.start(), installation.start());
    let admin = a.sign_in(ADMIN).await;
    let viewer_on_c = c.sign_in(VIEWER).await;
    let report = first_report(&viewer_on_c).await;
    let token = viewer_on_c.token(&report).await["token"].as_str().unwrap().to_string();
    let mut live = reqwest::Client::new()
        .get(c.url("/api/v1/embed/live"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), StatusCode::OK);
    events_until(&mut live, "ready", Duration::from_secs(1)).await;

    let definition = admin.json(&format!("/api/v1/reports/{report}/definition")).await;
    let saved = admin.put_json(&format!("/api/v1/reports/{report}/definition"), definition).await;
    assert_eq!(saved.status(), StatusCode::OK);
    let heard = events_until(&mut live, "changed", Duration::from_secs(1)).await;
    assert_eq!(heard.last().map(|e| e.event.as_str()), Some("changed"), "{heard:?}");

    let patched = admin.patch("/api/v1/settings", json!({ "tokenUpdateEveryMinutes": 20 })).await;
    assert_eq!(patched.status(), StatusCode::OK);
    let heard = events_until(&mut live, "settings", Duration::from_secs(1)).await;
    assert_eq!(heard.last().map(|e| e.event.as_str()), Some("settings"), "{heard:?}");

    let viewer_id = viewer_on_c.user["id"].as_str().unwrap().to_string();
    let revoked = admin.post(&format!("/api/v1/users/{viewer_id}/revoke-tokens"), json!({})).await;
    assert!(revoked.status().is_success());
    let heard = events_until(&mut live, "revoked", Duration::from_secs(1)).await;
    assert_eq!(heard.last().map(|e| e.event.as_str()), Some("revoked"), "{heard:?}");
}

/// Nodes that share no directory, only the database and an object store for dataset files
/// (`object_store`'s local file system standing in for a bucket): what one node uploads
/// answers on the other, and new data switched in on the other answers on the first at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_without_a_shared_directory_share_dataset_files_through_an_object_store() {
    let installation = Installation::seeded().await;
    let bucket = tempfile::tempdir().unwrap();
    let storage = url::Url::from_directory_path(bucket.path()).unwrap().to_string();
    let (own_a, own_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let node = |own: &tempfile::TempDir| {
        installation.start_with(&[
            ("VITRINE_DATA_DIR", own.path().display().to_string()),
            ("VITRINE_DATASET_STORAGE", storage.clone()),
        ])
    };
    let (a, b) = (node(&own_a), node(&own_b));
    let on_a = a.sign_in(CONTRIBUTOR).await;
    let on_b = b.sign_in(CONTRIBUTOR).await;
    let visits = b"city,visits\nOslo,3\nBergen,5\n";
    let created = common::upload(&on_a, "Visits", "visits.csv", visits).await;
    assert_eq!(created.status(), StatusCode::CREATED, "{:?}", created.text().await);
    let id = created.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let report = common::card_report(&on_a, "Visits", &id, "visits").await;
    assert_eq!(common::card_total(&b.url(""), &on_b, &report).await, 8, "uploaded on A, read on B");
    assert_eq!(common::card_total(&a.url(""), &on_a, &report).await, 8);

    let more = b"city,visits\nOslo,3\nBergen,5\nTromso,100\n";
    let replaced = common::replace_data(&on_b, &id, "visits.csv", more).await;
    assert_eq!(replaced.status(), StatusCode::OK, "{:?}", replaced.text().await);
    assert_eq!(
        common::card_total(&a.url(""), &on_a, &report).await,
        108,
        "replaced on B, read on A"
    );
    for own in [&own_a, &own_b] {
        assert!(!own.path().join("datasets").exists(), "no dataset file in a node's directory");
    }
}

/// One node queries without pause (no result cache, so every query scans) while another
/// switches in new data again and again and removes each replaced file at once: a query
/// whose file goes away under it reads the dataset's record again and answers from the new
/// version. Not one query fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_on_one_node_survive_another_node_replacing_their_data_under_them() {
    let installation = Installation::seeded().await;
    installation.set_limits(&[("result_cache_seconds", 0)]);
    let (a, b) = (installation.start(), installation.start());
    let on_a = a.sign_in(CONTRIBUTOR).await;
    let on_b = b.sign_in(CONTRIBUTOR).await;
    let data = |rows: usize| {
        let mut csv = String::from("city,visits\n");
        for n in 0..rows {
            csv.push_str(&format!("city-{},{}\n", n % 97, n % 10));
        }
        csv.into_bytes()
    };
    let created = common::upload(&on_b, "Visits", "visits.csv", &data(200_000)).await;
    assert_eq!(created.status(), StatusCode::CREATED, "{:?}", created.text().await);
    let id = created.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let report = common::card_report(&on_b, "Visits", &id, "visits").await;
    let token = on_a.token(&report).await["token"].as_str().unwrap().to_string();

    let replacing = Arc::new(AtomicBool::new(true));
    let querying = {
        let (replacing, url) =
            (Arc::clone(&replacing), a.url(&format!("/api/v1/embed/reports/{report}/query")));
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            let (mut answered, mut failed) = (0, Vec::new());
            while replacing.load(Ordering::SeqCst) {
                let answer = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&json!({ "page": "main", "visual": "total" }))
                    .send()
                    .await
                    .unwrap();
                match answer.status() {
                    StatusCode::OK => answered += 1,
                    status => failed.push(format!("{status}: {}", answer.text().await.unwrap())),
                }
            }
            (answered, failed)
        })
    };
    for round in 0..12 {
        let replaced = common::replace_data(&on_b, &id, "visits.csv", &data(200_000 + round)).await;
        assert_eq!(replaced.status(), StatusCode::OK, "{:?}", replaced.text().await);
    }
    replacing.store(false, Ordering::SeqCst);
    let (answered, failed) = querying.await.unwrap();
    assert!(answered >= 12, "{answered} queries answered");
    assert!(
        failed.is_empty(),
        "{} of {} queries failed: {:?}",
        failed.len(),
        answered + failed.len(),
        failed.first()
    );
}
