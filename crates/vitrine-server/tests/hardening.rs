//! Hostile input and the promises it must not break: strangers' emails answer like real
//! ones, sign-in floods are throttled per client, cross-site posts are refused, and changes
//! of an account end its sessions.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use vitrine_server::config::ConfigLayer;

async fn login(
    app: &TestApp,
    email: &str,
    password: &str,
    forwarded: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .anonymous()
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({ "email": email, "password": password }));
    if let Some(address) = forwarded {
        request = request.header("x-forwarded-for", address);
    }
    request.send().await.unwrap()
}

async fn answer(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn an_unknown_email_answers_exactly_like_a_known_one_locked_included() {
    let app = spawn_app().await;
    for attempt in 1..=7 {
        let known = answer(login(&app, VIEWER, "wrong-password-1", None).await).await;
        let unknown =
            answer(login(&app, "stranger@example.com", "wrong-password-1", None).await).await;
        assert_eq!(known, unknown, "attempt {attempt}");
        let expected = if attempt < 5 { StatusCode::UNAUTHORIZED } else { StatusCode::LOCKED };
        assert_eq!(known.0, expected, "attempt {attempt}: {:?}", known.1);
    }
}

fn throttled(per_minute: u32, trusted: &[&str]) -> impl FnOnce(ConfigLayer) -> ConfigLayer {
    let trusted: Vec<String> = trusted.iter().map(|s| s.to_string()).collect();
    with_limits(move |limits| {
        limits.sign_in_per_minute = Some(per_minute);
        limits.trusted_proxies = Some(trusted);
    })
}

#[tokio::test]
async fn a_sign_in_flood_from_one_address_is_throttled_without_locking_the_account_or_others() {
    let app = spawn_app_with(throttled(3, &["127.0.0.1"])).await;
    let flooder = Some("203.0.113.7");
    let mut statuses = Vec::new();
    for _ in 0..10 {
        statuses.push(login(&app, ADMIN, "wrong-password-1", flooder).await.status());
    }
    assert_eq!(&statuses[..3], &[StatusCode::UNAUTHORIZED; 3], "{statuses:?}");
    assert!(statuses[3..].iter().all(|s| *s == StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
    let response = login(&app, ADMIN, "wrong-password-1", flooder).await;
    expect_error(response, StatusCode::TOO_MANY_REQUESTS, "RateLimited").await;
    // Someone else, elsewhere, signs in to the same account at once: not locked, not starved.
    let elsewhere = login(&app, ADMIN, PASSWORD, Some("198.51.100.20")).await;
    assert_eq!(elsewhere.status(), StatusCode::OK);
}

#[tokio::test]
async fn forwarded_addresses_from_an_untrusted_peer_do_not_escape_the_throttle() {
    let app = spawn_app_with(throttled(3, &[])).await;
    let mut statuses = Vec::new();
    for n in 0..5 {
        let forged = format!("192.0.2.{n}");
        statuses.push(login(&app, VIEWER, "wrong-password-1", Some(&forged)).await.status());
    }
    assert_eq!(statuses[3], StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
}

#[tokio::test]
async fn cross_site_sign_in_posts_are_refused_same_site_ones_pass() {
    let app = spawn_app().await;
    let body = json!({ "email": ADMIN, "password": PASSWORD });
    let client = app.anonymous();
    let post = || client.post(app.url("/api/v1/auth/login")).json(&body);
    let evil = post().header("origin", "https://evil.example").send().await.unwrap();
    expect_error(evil, StatusCode::FORBIDDEN, "CsrfRejected").await;
    let fetch_metadata = post().header("sec-fetch-site", "cross-site").send().await.unwrap();
    expect_error(fetch_metadata, StatusCode::FORBIDDEN, "CsrfRejected").await;
    let form = client
        .post(app.url("/login"))
        .header("origin", "https://evil.example")
        .form(&[("email", ADMIN), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::FORBIDDEN, "the portal's form too");
    let own = post().header("origin", app.base.as_str()).send().await.unwrap();
    assert_eq!(own.status(), StatusCode::OK);
    let same_origin = post().header("sec-fetch-site", "same-origin").send().await.unwrap();
    assert_eq!(same_origin.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_change_of_role_email_block_or_expiry_ends_the_users_sessions_a_rename_does_not() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let viewer_id = admin.id_of("/api/v1/users", "email", VIEWER).await;
    let path = format!("/api/v1/users/{viewer_id}");
    let cases = [
        (json!({ "name": "Vera Viewer" }), true),
        (json!({ "role": "Contributor" }), false),
        (json!({ "email": "vera@example.com" }), false),
        (json!({ "blocked": true }), false),
        (json!({ "blocked": false, "expiresAt": "2026-03-02T08:00:00Z" }), false),
    ];
    let mut email = VIEWER.to_string();
    for (change, keeps) in cases {
        let _ = admin.patch(&path, json!({ "blocked": false, "expiresAt": null })).await;
        let session = app.sign_in(&email).await;
        let report = session.id_of("/api/v1/reports", "name", "Sales overview").await;
        let response = admin.patch(&path, change.clone()).await;
        assert_eq!(response.status(), StatusCode::OK, "{change}");
        email = response.json::<Value>().await.unwrap()["email"].as_str().unwrap().to_string();
        let me = session.get("/api/v1/me").await.status();
        assert_eq!(me == StatusCode::OK, keeps, "{change}: /me answered {me}");
        let token = session.post(&format!("/api/v1/reports/{report}/token"), json!({})).await;
        assert_eq!(token.status() == StatusCode::OK, keeps, "{change}: no new tokens");
    }
}

fn roles(count: usize, chars: usize) -> Value {
    json!({ "roles": (0..count).map(|n| format!("{n:03}{}", "r".repeat(chars - 3))).collect::<Vec<_>>() })
}

#[tokio::test]
async fn identities_too_large_for_a_token_are_refused_where_assigned_and_what_fits_works() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let viewer_id = admin.id_of("/api/v1/users", "email", VIEWER).await;
    let own = format!("/api/v1/users/{viewer_id}/rls");
    // 45 roles of 190 characters made a 12 KB token that every request refused.
    let error = expect_error(
        admin.put_json(&own, roles(45, 190)).await,
        StatusCode::BAD_REQUEST,
        "InvalidInput",
    )
    .await;
    assert_eq!(error["error"]["field"], "roles");
    assert_eq!(admin.json(&own).await["roles"], json!([]), "nothing changed");
    // Half of it fits; the group then adds the other half: refused for the group's members.
    assert_eq!(admin.put_json(&own, roles(18, 190)).await.status(), StatusCode::OK);
    let ops = admin.id_of("/api/v1/groups", "name", "Operations").await;
    let group = format!("/api/v1/groups/{ops}/rls");
    let mut more = roles(18, 190);
    more["roles"] = json!(
        more["roles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| format!("g{}", r.as_str().unwrap()))
            .collect::<Vec<_>>()
    );
    let error = expect_error(
        admin.put_json(&group, more.clone()).await,
        StatusCode::BAD_REQUEST,
        "InvalidInput",
    )
    .await;
    assert!(error["error"]["message"].as_str().unwrap().contains(VIEWER), "{error}");
    // A group that already has them cannot take the user in.
    let lonely = admin.post("/api/v1/groups", json!({ "name": "Big roles" })).await;
    let big = lonely.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    assert_eq!(
        admin.put_json(&format!("/api/v1/groups/{big}/rls"), more).await.status(),
        StatusCode::OK
    );
    let join = admin.put(&format!("/api/v1/groups/{big}/members/{viewer_id}")).await;
    let error = expect_error(join, StatusCode::BAD_REQUEST, "InvalidInput").await;
    assert_eq!(error["error"]["field"], "user");
    // What was accepted makes tokens that work.
    let viewer = app.sign_in(VIEWER).await;
    let report = viewer.id_of("/api/v1/reports", "name", "Sales overview").await;
    let token = viewer.token(&report).await["token"].as_str().unwrap().to_string();
    assert_eq!(embed(&app, &token, &report).await.status(), StatusCode::OK);
}

async fn token_event_rows(app: &TestApp) -> i64 {
    app.tokens.audit.flush().await;
    let url = app.database_url();
    let count = "SELECT COUNT(*) FROM token_events";
    if url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        sqlx::query_scalar(count).fetch_one(&pool).await.unwrap()
    } else {
        let pool = sqlx::SqlitePool::connect(&format!("{url}?mode=ro")).await.unwrap();
        sqlx::query_scalar(count).fetch_one(&pool).await.unwrap()
    }
}

#[tokio::test]
async fn garbage_tokens_cost_no_write_and_a_replayed_refused_token_one() {
    let app =
        spawn_app_with(with_limits(|limits| limits.failed_auth_per_minute = Some(1_000))).await;
    let viewer = app.sign_in(VIEWER).await;
    let report = viewer.id_of("/api/v1/reports", "name", "Sales overview").await;
    let before = token_event_rows(&app).await;
    let mut statuses = std::collections::BTreeMap::new();
    for n in 0..2_000 {
        let response = embed(&app, &format!("garbage.{n}.token"), &report).await;
        *statuses.entry(response.status().as_u16()).or_insert(0) += 1;
    }
    assert_eq!(statuses, [(401, 1_000), (429, 1_000)].into(), "throttled after 1,000 a minute");
    assert_eq!(token_event_rows(&app).await, before, "not one row for requests that prove nobody");
    let counted: f64 = app
        .metrics()
        .await
        .lines()
        .filter(|line| line.starts_with("vitrine_tokens_rejected_total{"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(counted >= 1_000.0, "refusals are counted in metrics ({counted})");
    // A real token, expired, presented fifty times: one row in its organization's audit.
    let token = viewer.token(&report).await["token"].as_str().unwrap().to_string();
    app.clock.advance(chrono::Duration::hours(2));
    let issued = token_event_rows(&app).await;
    for _ in 0..50 {
        assert_eq!(embed(&app, &token, &report).await.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(token_event_rows(&app).await, issued + 1);
}

#[tokio::test]
async fn a_token_audit_batch_the_store_refuses_is_retried_not_dropped() {
    if on_postgres("a_token_audit_batch_the_store_refuses_is_retried_not_dropped") {
        return;
    }
    let app = spawn_app().await;
    let viewer = app.sign_in(VIEWER).await;
    let report = viewer.id_of("/api/v1/reports", "name", "Sales overview").await;
    let before = token_event_rows(&app).await;
    // The table goes away for a moment, as a real failing write would make the batch fail.
    let pool = sqlx::SqlitePool::connect(&app.database_url()).await.unwrap();
    sqlx::query("ALTER TABLE token_events RENAME TO token_events_away")
        .execute(&pool)
        .await
        .unwrap();
    viewer.token(&report).await;
    tokio::time::sleep(std::time::Duration::from_millis(450)).await;
    sqlx::query("ALTER TABLE token_events_away RENAME TO token_events")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    assert_eq!(token_event_rows(&app).await, before + 1, "stored on a later try");
    let metrics = app.metrics().await;
    assert!(!metrics.contains("vitrine_token_audit_retries_total 0"), "{metrics}");
    assert!(metrics.contains("vitrine_token_audit_dropped_total 0"), "{metrics}");
}

fn stray_uploads(app: &TestApp) -> Vec<String> {
    let dir = app.data_dir().join("datasets");
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|name| name.starts_with(".upload-"))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn uploads_with_two_files_or_oversized_text_parts_are_refused_and_leave_nothing_behind() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let csv: &[u8] = b"a,b\n1,2\n";
    let two = upload_parts(
        &admin,
        &[("name", None, b"Two"), ("file", Some("a.csv"), csv), ("file", Some("b.csv"), csv)],
    )
    .await;
    let error = expect_error(two, StatusCode::BAD_REQUEST, "InvalidInput").await;
    assert_eq!(error["error"]["field"], "file");
    let long_name = vec![b'n'; 64 * 1024];
    let long =
        upload_parts(&admin, &[("name", None, &long_name), ("file", Some("a.csv"), csv)]).await;
    let error = expect_error(long, StatusCode::BAD_REQUEST, "InvalidInput").await;
    assert_eq!(error["error"]["field"], "name");
    let names = upload_parts(&admin, &[("name", None, b"A"), ("name", None, b"B")]).await;
    expect_error(names, StatusCode::BAD_REQUEST, "InvalidInput").await;
    assert_eq!(stray_uploads(&app), Vec::<String>::new(), "no temporary file is left");
    let datasets = admin.json("/api/v1/datasets").await;
    assert!(datasets.as_array().unwrap().iter().all(|d| d["name"] != "Two"), "nothing stored");
}

#[tokio::test]
async fn every_entity_type_in_the_audit_can_be_filtered_by_capacity_included() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let capacity = admin.id_of("/api/v1/capacities", "name", DEMO_CAPACITY).await;
    let change =
        admin.patch(&format!("/api/v1/capacities/{capacity}"), json!({ "idleMinutes": 45 })).await;
    assert_eq!(change.status(), StatusCode::OK);
    let entries = admin.json("/api/v1/audit?limit=1000").await;
    let kinds: std::collections::BTreeSet<String> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["entityType"].as_str().unwrap().to_string())
        .collect();
    assert!(kinds.contains("capacity"), "{kinds:?}");
    for kind in kinds {
        let filtered = admin.get(&format!("/api/v1/audit?entityType={kind}")).await;
        assert_eq!(filtered.status(), StatusCode::OK, "entityType={kind}");
        let filtered: Value = filtered.json().await.unwrap();
        assert!(!filtered.as_array().unwrap().is_empty(), "entityType={kind}");
    }
}

/// A small Parquet file of `rows` constant values: kilobytes on disk, 8 bytes a row loaded.
fn constant_parquet(rows: usize) -> Vec<u8> {
    use datafusion::arrow::array::Int64Array;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::arrow::record_batch::RecordBatch;
    use datafusion::parquet::arrow::ArrowWriter;
    let schema = std::sync::Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
    let chunk = 1_000_000;
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![std::sync::Arc::new(Int64Array::from(vec![7i64; chunk]))],
    )
    .unwrap();
    let mut bytes = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut bytes, schema, None).unwrap();
    for _ in 0..rows / chunk {
        writer.write(&batch).unwrap();
    }
    writer.close().unwrap();
    bytes
}

fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

#[tokio::test]
async fn a_tiny_parquet_file_of_millions_of_rows_is_stored_and_read_in_bounded_memory() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let bomb = constant_parquet(5_000_000);
    assert!(bomb.len() < 1024 * 1024, "{} bytes on disk", bomb.len());
    let resident_before = resident_bytes();
    let created = upload(&admin, "Bomb", "bomb.parquet", &bomb).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let dataset: Value = created.json().await.unwrap();
    assert_eq!(dataset["rowCount"], 5_000_000);
    let grown = resident_bytes().saturating_sub(resident_before);
    // Five million rows of eight bytes would be 40 MB in memory; they are rewritten a batch at a time.
    assert!(grown < 30 * 1024 * 1024, "resident memory grew by {grown} bytes");
    assert!(app.state.engine.info(dataset["id"].as_str().unwrap()).is_none(), "nothing opened");
}

#[tokio::test]
async fn a_restart_opens_no_dataset_until_a_report_asks_for_it() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let report = admin.id_of("/api/v1/reports", "name", "Sales overview").await;
    let dataset = admin.id_of("/api/v1/datasets", "name", "Sales").await;
    let app = app.restart().await;
    assert!(app.state.engine.info(&dataset).is_none(), "a restart reads no data");
    let admin = app.sign_in(ADMIN).await;
    let token = admin.post(&format!("/api/v1/reports/{report}/token"), json!({})).await;
    let token = token.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string();
    let answer = overview_visual(&app, &token, &report, "revenue").await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(app.state.engine.info(&dataset).is_some(), "opened by the first query");
}

#[tokio::test]
async fn bodies_that_are_not_declared_json_or_name_a_key_twice_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let groups_before = admin.json("/api/v1/groups").await;
    let raw = |content_type: &'static str, body: &'static str| {
        admin
            .client
            .post(app.url("/api/v1/groups"))
            .header("X-CSRF-Token", &admin.csrf)
            .header("Content-Type", content_type)
            .body(body)
            .send()
    };
    for content_type in ["text/plain", "application/x-www-form-urlencoded", "application/jsonx"] {
        let refused = raw(content_type, r#"{"name":"Plain"}"#).await.unwrap();
        let error = expect_error(refused, StatusCode::UNSUPPORTED_MEDIA_TYPE, "InvalidInput").await;
        assert_eq!(error["error"]["field"], "Content-Type", "{content_type}: {error}");
    }
    // A proxy reading the first and this server the last would each see another group.
    for twice in [
        r#"{"name":"First","name":"Second"}"#,
        r#"{"name":"N","description":"a","description":"b"}"#,
    ] {
        let refused = raw("application/json", twice).await.unwrap();
        let error = expect_error(refused, StatusCode::BAD_REQUEST, "InvalidInput").await;
        assert_eq!(error["error"]["field"], "body", "{error}");
        assert!(error["error"]["message"].as_str().unwrap().contains("twice"), "{error}");
    }
    let accepted = raw("application/json; charset=utf-8", r#"{"name":"Declared"}"#).await.unwrap();
    assert_eq!(accepted.status(), StatusCode::CREATED);
    let groups_after = admin.json("/api/v1/groups").await;
    assert_eq!(groups_after.as_array().unwrap().len(), groups_before.as_array().unwrap().len() + 1);
}

#[tokio::test]
async fn an_upload_announcing_more_than_the_limit_is_refused_before_its_body_is_sent() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app().await;
    let login = reqwest::Client::new()
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({ "email": ADMIN, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    let session =
        login.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let csrf = login.json::<Value>().await.unwrap()["csrfToken"].as_str().unwrap().to_string();
    let address = app.base.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /api/v1/datasets HTTP/1.1\r\nHost: {address}\r\nContent-Type: multipart/form-data; boundary=x\r\n\
         Content-Length: {}\r\nCookie: {session}\r\nX-CSRF-Token: {csrf}\r\n\r\n",
        vitrine_server::api::MAX_UPLOAD_BYTES + 1,
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0; 1024];
    // Not a byte of the body is sent: the answer must come from the announced length alone.
    let read = tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut answer))
        .await
        .expect("answered before the body")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
}
