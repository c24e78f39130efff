//! Connections an attacker holds open: half-sent headers, idle keep-alives, stalled bodies
//! and trickling uploads are closed or stopped; connections are capped; shutdown is bounded.

mod common;

use std::time::{Duration, Instant};

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use vitrine_server::config::{ConfigLayer, LimitsLayer};

fn tight(adjust: impl FnOnce(&mut LimitsLayer)) -> impl FnOnce(ConfigLayer) -> ConfigLayer {
    with_limits(|limits| {
        limits.header_read_timeout_seconds = Some(1);
        limits.request_timeout_seconds = Some(1);
        limits.shutdown_grace_seconds = Some(1);
        adjust(limits);
    })
}

fn address(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_string()
}

/// Reads until the server closes the connection (or `within` passes); what it sent.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(String::from_utf8_lossy(&received).into()),
            Ok(Ok(read)) => received.extend_from_slice(&buffer[..read]),
        }
    }
}

#[tokio::test]
async fn connections_that_send_half_a_header_are_closed_after_the_header_timeout() {
    let app = spawn_app_with(tight(|_| {})).await;
    let mut held = Vec::new();
    for _ in 0..200 {
        let mut stream = TcpStream::connect(address(&app)).await.unwrap();
        stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.unwrap();
        held.push(stream);
    }
    for (n, stream) in held.iter_mut().enumerate() {
        let closed = read_until_closed(stream, Duration::from_secs(5)).await;
        assert!(closed.is_some(), "connection {n} is still open after 5 s");
    }
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_timeout() {
    let app = spawn_app_with(tight(|_| {})).await;
    let mut stream = TcpStream::connect(address(&app)).await.unwrap();
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let started = Instant::now();
    let answered = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    let answered = answered.expect("closed once idle");
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
    assert!(started.elapsed() >= Duration::from_millis(900), "kept alive for a while first");
}

#[tokio::test]
async fn a_request_whose_body_stalls_is_stopped_with_408() {
    let app = spawn_app_with(tight(|_| {})).await;
    let mut stream = TcpStream::connect(address(&app)).await.unwrap();
    let head = "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"email\":";
    stream.write_all(head.as_bytes()).await.unwrap();
    let answer = read_until_closed(&mut stream, Duration::from_secs(5)).await.expect("answered");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("RequestTimeout"), "{answer}");
}

#[tokio::test]
async fn an_upload_slower_than_the_minimum_rate_is_stopped_and_leaves_nothing() {
    let app =
        spawn_app_with(tight(|limits| limits.upload_min_bytes_per_second = Some(64 * 1024))).await;
    let mut stream = TcpStream::connect(address(&app)).await.unwrap();
    // A session for the raw connection: its cookie and CSRF token.
    let login = app
        .anonymous()
        .post(app.url("/api/v1/auth/login"))
        .json(&serde_json::json!({ "email": ADMIN, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    let session = login
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let csrf =
        login.json::<serde_json::Value>().await.unwrap()["csrfToken"].as_str().unwrap().to_string();
    let head = format!(
        "POST /api/v1/datasets HTTP/1.1\r\nHost: x\r\nCookie: {session}\r\nX-CSRF-Token: {csrf}\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 10000000\r\n\r\n--b\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nSlow\r\n--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.csv\"\r\n\r\na,b\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let trickle = tokio::spawn(async move {
        for _ in 0..40 {
            if stream.write_all(b"1,2\n").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        read_until_closed(&mut stream, Duration::from_secs(5)).await
    });
    let answer = trickle.await.unwrap().expect("answered");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let uploads = std::fs::read_dir(app.data_dir().join("datasets")).unwrap();
    assert!(
        uploads
            .filter_map(Result::ok)
            .all(|e| !e.file_name().to_string_lossy().starts_with(".upload-"))
    );
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_until_one_closes() {
    let app = spawn_app_with(tight(|limits| {
        limits.max_connections = Some(2);
        limits.header_read_timeout_seconds = Some(30);
    }))
    .await;
    let mut holders = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(address(&app)).await.unwrap();
        stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        holders.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let waiting = tokio::spawn({
        let url = app.url("/healthz");
        async move { reqwest::get(url).await.unwrap().status() }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!waiting.is_finished(), "a third connection is not served while two are held");
    drop(holders);
    let status = tokio::time::timeout(Duration::from_secs(5), waiting).await.unwrap().unwrap();
    assert_eq!(status, reqwest::StatusCode::OK);
}

#[tokio::test]
async fn shutdown_waits_for_open_connections_only_as_long_as_the_grace() {
    let mut app = spawn_app_with(tight(|_| {})).await;
    let viewer = app.sign_in(VIEWER).await;
    let report = viewer.id_of("/api/v1/reports", "name", "Sales overview").await;
    let token = viewer.token(&report).await["token"].as_str().unwrap().to_string();
    // The live channel stays open until the server goes.
    let live = app
        .anonymous()
        .get(app.url("/api/v1/embed/live"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), reqwest::StatusCode::OK);
    let started = Instant::now();
    app.stop().await;
    assert!(started.elapsed() < Duration::from_secs(4), "stopped in {:?}", started.elapsed());
    drop(live);
}
