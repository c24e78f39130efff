//! Health, metrics, graceful shutdown and the command line.

mod common;

use std::process::{Command, Stdio};

use common::*;
use reqwest::StatusCode;
use serde_json::json;
use vitrine_server::config::ConfigLayer;

#[tokio::test]
async fn healthz_answers_ok() {
    let app = spawn_app().await;
    let response = app.anonymous().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<serde_json::Value>().await.unwrap()["status"], "ok");
}

#[tokio::test]
async fn metrics_count_requests_by_route_pattern_and_sign_ins_by_outcome() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let viewer_id = admin.id_of("/api/v1/users", "email", VIEWER).await;
    admin.get(&format!("/api/v1/users/{viewer_id}")).await;
    let _ = app.sign_in_with(ADMIN, "wrong-password").await;
    let text = app.metrics().await;
    assert!(text.contains("route=\"/api/v1/users/{id}\""), "{text}");
    assert!(!text.contains(&viewer_id), "raw paths never become labels");
    assert!(text.contains("vitrine_http_request_duration_seconds_bucket"));
    assert!(text.contains("vitrine_sign_ins_total{outcome=\"success\"} 1"), "{text}");
    assert!(text.contains("vitrine_sign_ins_total{outcome=\"failure\"} 1"), "{text}");
}

#[tokio::test]
async fn metrics_need_the_metrics_token_and_are_not_served_without_one() {
    let app = spawn_app().await;
    let anonymous = app.anonymous().get(app.url("/metrics")).send().await.unwrap();
    expect_error(anonymous, StatusCode::UNAUTHORIZED, "Unauthenticated").await;
    let wrong =
        app.anonymous().get(app.url("/metrics")).bearer_auth("not-the-token").send().await.unwrap();
    expect_error(wrong, StatusCode::UNAUTHORIZED, "Unauthenticated").await;
    assert!(app.metrics().await.contains("vitrine_http_requests_total"));
    let untokened = spawn_app_with(|layer| ConfigLayer { limits: None, ..layer }).await;
    let response = untokened.anonymous().get(untokened.url("/metrics")).send().await.unwrap();
    expect_error(response, StatusCode::NOT_FOUND, "NotFound").await;
}

#[tokio::test]
async fn graceful_shutdown_keeps_every_acknowledged_write() {
    let mut app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let mut writes = tokio::task::JoinSet::new();
    for index in 0..20 {
        let client = admin.client.clone();
        let (url, csrf) = (app.url("/api/v1/groups"), admin.csrf.clone());
        writes.spawn(async move {
            client
                .post(url)
                .header("X-CSRF-Token", csrf)
                .json(&json!({ "name": format!("Shift {index}") }))
                .send()
                .await
                .map(|r| r.status())
        });
    }
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    app.stop().await;
    let acknowledged = writes
        .join_all()
        .await
        .into_iter()
        .filter(|r| matches!(r, Ok(StatusCode::CREATED)))
        .count();
    assert!(acknowledged > 0, "some writes were in flight");
    // The store was closed by the shutdown; reopen the same file to read what was kept.
    let kept = reopen_and_count_groups(&app).await;
    assert!(kept >= acknowledged, "{kept} groups kept, {acknowledged} acknowledged");
}

async fn reopen_and_count_groups(app: &TestApp) -> usize {
    let url = app.database_url();
    let store = vitrine_server::database::open(&url).await.expect("reopen");
    let mut count = 0;
    for org in store.list_organizations().await.unwrap() {
        count += store
            .list_groups(org.id)
            .await
            .unwrap()
            .iter()
            .filter(|g| g.name.starts_with("Shift "))
            .count();
    }
    count
}

fn vitrine() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vitrine"))
}

#[tokio::test]
async fn healthcheck_command_exits_zero_only_when_the_server_answers() {
    let app = spawn_app().await;
    let url = app.base.clone();
    let ok = tokio::task::spawn_blocking(move || {
        vitrine().args(["healthcheck", "--url", &url]).output().unwrap()
    })
    .await
    .unwrap();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let down = vitrine().args(["healthcheck", "--url", "http://127.0.0.1:1"]).output().unwrap();
    assert!(!down.status.success());
}

#[test]
fn migrate_command_creates_and_migrates_the_database_in_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let output = vitrine()
        .args(["migrate", "--data-dir"])
        .arg(dir.path())
        .env_remove("VITRINE_DATABASE")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(dir.path().join("vitrine.db").exists());
    let again = vitrine().args(["migrate", "--data-dir"]).arg(dir.path()).output().unwrap();
    assert!(again.status.success(), "migrating twice is harmless");
}

#[test]
fn serve_takes_settings_from_file_then_environment_then_flags() {
    let dir = tempfile::tempdir().unwrap();
    let from_file = dir.path().join("from-file");
    let from_flag = dir.path().join("from-flag");
    let config = dir.path().join("vitrine.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:1\"\ndata_dir = \"{}\"\nlog_format = \"json\"\n",
            from_file.display()
        ),
    )
    .unwrap();
    let mut child = vitrine()
        .args(["serve", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(&from_flag)
        .env("VITRINE_LISTEN", "127.0.0.1:0")
        .env("VITRINE_SURPRISE", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
    let mut seen = Vec::new();
    let address = loop {
        let line = lines.next().expect("server output").unwrap();
        seen.push(line.clone());
        if line.contains("Vitrine is listening") {
            let value: serde_json::Value =
                serde_json::from_str(&line).expect("json logs from the file");
            break value["fields"]["address"].as_str().unwrap().to_string();
        }
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(seen.iter().any(|l| l.contains("unknown environment variable VITRINE_SURPRISE")));
    assert!(
        address.starts_with("127.0.0.1:") && address != "127.0.0.1:1",
        "env overrides file: {address}"
    );
    assert!(from_flag.join("vitrine.db").exists(), "flag overrides file");
    assert!(!from_file.exists());
}

#[test]
fn demo_prints_its_url_and_every_account() {
    let mut child = vitrine()
        .args(["demo", "--port", "0", "--password", "demo-password"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines: Vec<String> = std::io::BufRead::lines(std::io::BufReader::new(stdout))
        .map_while(Result::ok)
        .take_while(|line| !line.starts_with("Press Ctrl+C"))
        .collect();
    let url = lines[0].trim_start_matches("Vitrine demo is running at ").to_string();
    let health = Command::new(env!("CARGO_BIN_EXE_vitrine"))
        .args(["healthcheck", "--url", &url])
        .output()
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(url.starts_with("http://127.0.0.1:"), "{lines:?}");
    let text = lines.join("\n");
    for account in [
        "admin@example.com",
        "contributor@example.com",
        "viewer@example.com",
        "admin@acme.example.com",
    ] {
        assert!(text.contains(account), "{text}");
    }
    assert!(text.contains("demo-password"));
    assert!(health.status.success());
}

#[tokio::test]
async fn datasets_registered_from_the_command_line_are_read_from_their_path() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("targets.csv");
    std::fs::write(&csv, "region,target\nNorth,100\nSouth,250\n").unwrap();
    let data_dir = app.data_dir().to_path_buf();
    let database = app.database_url();
    let file = csv.clone();
    let output = tokio::task::spawn_blocking(move || {
        vitrine()
            .args(["datasets", "add", "--org", "Northwind Traders", "--name", "Targets", "--file"])
            .arg(&file)
            .arg("--data-dir")
            .arg(&data_dir)
            .env("VITRINE_DATABASE", &database)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("2 rows"));

    let admin = app.sign_in(ADMIN).await;
    let datasets = admin.json("/api/v1/datasets").await;
    let targets =
        datasets.as_array().unwrap().iter().find(|d| d["name"] == "Targets").expect("listed");
    assert_eq!(targets["rowCount"], 2);
    let report = admin.id_of("/api/v1/reports", "name", "Executive summary").await;
    let definition = json!({
        "dataset": targets["id"],
        "pages": [{ "id": "t", "title": "Targets", "visuals": [
            { "id": "total", "type": "card", "title": "Target", "measures": [{ "column": "target", "agg": "sum" }] }
        ]}]
    });
    let saved = admin
        .send(
            reqwest::Method::PUT,
            &format!("/api/v1/reports/{report}/definition"),
            Some(definition),
        )
        .await;
    assert_eq!(saved.status(), StatusCode::OK, "{}", saved.text().await.unwrap());
    let token = admin.token(&report).await["token"].as_str().unwrap().to_string();
    let result: serde_json::Value = app
        .anonymous()
        .post(app.url(&format!("/api/v1/embed/reports/{report}/query")))
        .bearer_auth(&token)
        .json(&json!({ "page": "t", "visual": "total" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(result["rows"], json!([[350]]));

    let missing = vitrine()
        .args(["datasets", "add", "--org", "Nobody", "--name", "X", "--file"])
        .arg(&csv)
        .output()
        .unwrap();
    assert!(!missing.status.success());
}

#[tokio::test]
async fn keys_rotate_without_the_servers_master_key_is_refused_and_adds_nothing() {
    let mut app = spawn_app().await;
    let database = app.database_url();
    app.stop().await;
    let dir = app.data_dir().to_path_buf();
    std::fs::rename(dir.join("master.key"), dir.join("master.key.away")).unwrap();
    let rotate = |dir: &std::path::Path| {
        vitrine()
            .args(["keys", "rotate", "--data-dir"])
            .arg(dir)
            .env("VITRINE_DATABASE", &database)
            .env_remove("VITRINE_MASTER_KEY")
            .output()
            .unwrap()
    };
    let output = rotate(&dir);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("master.key") && stderr.contains("VITRINE_MASTER_KEY"), "{stderr}");
    assert!(!dir.join("master.key").exists(), "no new master key was made");
    let store = vitrine_server::database::open(&app.database_url()).await.unwrap();
    assert_eq!(store.list_signing_keys().await.unwrap().len(), 1, "no key was added");
    store.close().await;
    std::fs::rename(dir.join("master.key.away"), dir.join("master.key")).unwrap();
    let output = rotate(&dir);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

/// The value of the sample `name` in metrics `text`.
fn sample(text: &str, name: &str) -> f64 {
    let line = text.lines().find(|line| line.split(' ').next() == Some(name));
    line.and_then(|line| line.split(' ').nth(1)?.parse().ok())
        .unwrap_or_else(|| panic!("{name} in\n{text}"))
}

#[tokio::test]
async fn metrics_show_the_engine_s_column_result_and_plan_caches() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let report = admin.id_of("/api/v1/reports", "name", "Sales overview").await;
    let token = admin.token(&report).await["token"].as_str().unwrap().to_string();
    for _ in 0..2 {
        let response = overview_visual(&app, &token, &report, "revenue").await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let text = app.metrics().await;
    // The first query ran and decoded the revenue column; the second was answered from the
    // result cache without a scan.
    assert_eq!(sample(&text, "vitrine_result_cache_misses_total"), 1.0);
    assert_eq!(sample(&text, "vitrine_result_cache_hits_total"), 1.0);
    assert!(sample(&text, "vitrine_column_cache_misses_total") >= 1.0, "{text}");
    assert_eq!(sample(&text, "vitrine_column_cache_hits_total"), 0.0);
    assert!(sample(&text, "vitrine_column_cache_bytes") > 0.0, "{text}");
    assert!(sample(&text, "vitrine_column_cache_chunks") >= 1.0, "{text}");
    // The one run planned the visual and kept its plan.
    assert_eq!(sample(&text, "vitrine_plan_cache_misses_total"), 1.0);
    assert_eq!(sample(&text, "vitrine_plan_cache_hits_total"), 0.0);
    assert_eq!(sample(&text, "vitrine_plan_cache_plans"), 1.0);
}
