//! Moving and keeping an installation with the `vitrine` binary, while its servers run:
//! `store copy` from SQLite to PostgreSQL, `backup` under write load and `restore`.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use common::nodes::{Installation, fresh_postgres};
use common::{ADMIN, Session, VIEWER};

async fn audit_entries(admin: &Session) -> usize {
    admin.json("/api/v1/audit?limit=500").await.as_array().expect("entries").len()
}

fn succeeded(output: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    String::from_utf8_lossy(&output.stdout).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_installation_copied_from_sqlite_to_postgres_keeps_its_sessions_keys_and_audit() {
    let source = Installation::seeded_on_sqlite().await;
    let mut node = source.start();
    let viewer = node.sign_in(VIEWER).await;
    let admin = node.sign_in(ADMIN).await;
    let report = viewer.id_of("/api/v1/reports", "name", "Sales overview").await;
    let token = viewer.token(&report).await["token"].as_str().unwrap().to_string();
    let audited = audit_entries(&admin).await;

    // Copied while the SQLite node still serves.
    let target = fresh_postgres().await;
    let copied = source.command(&["store", "copy", "--from", &source.url, "--to", &target]);
    assert!(succeeded(&copied).contains("Copied"));
    node.kill();

    let Installation { data, .. } = source;
    let moved = Installation::existing(target.clone(), data);
    let on_postgres = moved.start();
    assert_eq!(on_postgres.embed(&token, &report).await, StatusCode::OK, "the keys came along");
    assert_eq!(on_postgres.revenue(&token, &report).await, StatusCode::OK, "and the data");
    let viewer = on_postgres.takes(&viewer);
    assert_eq!(viewer.get("/api/v1/reports").await.status(), StatusCode::OK, "signed in still");
    let admin = on_postgres.takes(&admin);
    assert_eq!(audit_entries(&admin).await, audited, "the whole audit");

    let again = moved.command(&["store", "copy", "--from", &target, "--to", &target]);
    assert!(!again.status.success());
    let said = String::from_utf8_lossy(&again.stderr);
    assert!(said.contains("already holds an installation"), "{said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_write_load_restores_every_acknowledged_write_and_its_tokens_verify() {
    let installation = Installation::seeded().await;
    let node = installation.start();
    let admin = Arc::new(node.sign_in(ADMIN).await);
    let viewer = node.sign_in(VIEWER).await;
    let report = viewer.id_of("/api/v1/reports", "name", "Sales overview").await;
    let token = viewer.token(&report).await["token"].as_str().unwrap().to_string();

    // Groups created one after the other, each noted with when it was acknowledged.
    let acknowledged: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let load = tokio::spawn({
        let (admin, acknowledged, stop) = (admin.clone(), acknowledged.clone(), stop.clone());
        async move {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                let name = format!("Load {n}");
                let created = admin.post("/api/v1/groups", json!({ "name": name })).await;
                assert_eq!(created.status(), StatusCode::CREATED, "{name}");
                acknowledged.lock().unwrap().push((name, Instant::now()));
                n += 1;
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let backup = tempfile::tempdir().unwrap();
    let target = backup.path().join("backup");
    let started = Instant::now();
    let output = tokio::task::spawn_blocking({
        let target = target.to_str().unwrap().to_string();
        let args = ["backup", "--to", &target].map(str::to_string);
        let installation_url = installation.url.clone();
        let data = installation.data.path().to_path_buf();
        move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_vitrine"))
                .args(&args)
                .env("VITRINE_DATABASE", installation_url)
                .env("VITRINE_DATA_DIR", data)
                .env("VITRINE_MASTER_KEY", common::nodes::MASTER_KEY)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let finished = Instant::now();
    succeeded(&output);
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    load.await.unwrap();
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(target.join("manifest.json")).unwrap())
            .unwrap();
    assert!(!manifest["files"].as_array().unwrap().is_empty(), "dataset files: {manifest}");
    assert!(!std::fs::read_dir(&target).unwrap().any(|e| e.unwrap().file_name() == "master.key"));

    let restored = Installation::existing(fresh_postgres().await, tempfile::tempdir().unwrap());
    let output = restored.command(&["restore", "--from", target.to_str().unwrap()]);
    succeeded(&output);
    let again = restored.command(&["restore", "--from", target.to_str().unwrap()]);
    assert!(!again.status.success(), "a second restore into the same database is refused");

    let node = restored.start();
    let admin = node.sign_in(ADMIN).await;
    let groups = common::names_at(&admin, "/api/v1/groups").await;
    let acknowledged = acknowledged.lock().unwrap().clone();
    let before: Vec<&String> =
        acknowledged.iter().filter(|(_, at)| *at < started).map(|(name, _)| name).collect();
    let after: Vec<&String> =
        acknowledged.iter().filter(|(_, at)| *at > finished).map(|(name, _)| name).collect();
    assert!(before.len() >= 5 && !after.is_empty(), "load before and after the backup");
    for name in before {
        assert!(groups.contains(name), "{name}, acknowledged before the backup, is restored");
    }
    for name in after {
        assert!(!groups.contains(name), "{name} came after the backup's snapshot");
    }
    assert_eq!(node.embed(&token, &report).await, StatusCode::OK, "its tokens verify");
    assert_eq!(node.revenue(&token, &report).await, StatusCode::OK, "its data answers");
}
