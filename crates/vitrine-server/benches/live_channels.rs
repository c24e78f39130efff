//! Load generator on loopback for the live channel: 10,000 open channels on one release
//! `vitrine demo` (its own process), the server's resident memory per channel, and the time
//! from a revocation's request to its `revoked` event at every affected channel — one host-app
//! user's 100 channels (while 9,900 others stay open), then all of them at once.
//!
//!     cargo bench -p vitrine-server --bench live_channels

mod demo;

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::Client;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use demo::{Demo, sign_in};
const IDENTITIES: usize = 100;
const CHANNELS_PER_IDENTITY: usize = 100;
const CHANNELS: usize = IDENTITIES * CHANNELS_PER_IDENTITY;

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|kib| kib.parse::<f64>().ok())
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// One channel: waits for `ready`, counts it, then sends when `revoked` arrived.
async fn channel(
    client: Client,
    url: String,
    token: String,
    ready: Arc<AtomicUsize>,
    identity: usize,
    revoked: mpsc::UnboundedSender<(usize, Instant)>,
) {
    let mut response = client
        .get(url)
        .bearer_auth(token)
        .header("Accept", "text/event-stream")
        .send()
        .await
        .expect("live channel");
    assert_eq!(response.status(), 200, "live channel refused");
    let mut seen = String::new();
    let mut counted = false;
    while let Ok(Some(chunk)) = response.chunk().await {
        seen.push_str(&String::from_utf8_lossy(&chunk));
        if !counted && seen.contains("event: ready") {
            counted = true;
            ready.fetch_add(1, Ordering::SeqCst);
        }
        if seen.contains("event: revoked") {
            let _ = revoked.send((identity, Instant::now()));
            return;
        }
        if seen.len() > 4096 {
            seen.drain(..seen.len() - 64);
        }
    }
}

fn summary(what: &str, sent: Instant, arrivals: &[Instant]) -> String {
    let mut times: Vec<Duration> = arrivals.iter().map(|at| at.duration_since(sent)).collect();
    times.sort();
    format!(
        "| {what} | {} | {} | {} | {} |",
        times.len(),
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.99)),
        ms(*times.last().expect("events"))
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() {
    let mut config = tempfile::NamedTempFile::new().expect("config file");
    writeln!(config, "[limits]\nmax_connections = 12000").expect("write config");
    let config_path = config.path().to_str().expect("a UTF-8 path").to_string();
    let demo = Demo::start(&["--rows", "20000", "--config", &config_path]);
    let (pid, base) = (demo.pid(), demo.base.clone());

    // An embed key, and one token for each of 100 host-app users.
    let (admin, csrf) = sign_in(&base, "admin@example.com").await;
    let reports: Value =
        admin.get(format!("{base}/api/v1/reports")).send().await.unwrap().json().await.unwrap();
    let report = reports[0]["id"].as_str().expect("a report").to_string();
    let key: Value = admin
        .post(format!("{base}/api/v1/api-keys"))
        .header("X-CSRF-Token", &csrf)
        .json(&json!({ "name": "bench", "scope": "embed" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = key["key"].as_str().expect("key").to_string();
    let plain = Client::new();
    let mut tokens = Vec::new();
    for n in 0..IDENTITIES {
        let body = json!({ "reports": [report], "identity": { "id": format!("user-{n}"), "roles": ["All regions"] } });
        let answer: Value = plain
            .post(format!("{base}/api/v1/embed/tokens"))
            .header("X-API-Key", &key)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        tokens.push(answer["token"].as_str().expect("token").to_string());
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = rss_mib(pid);

    // 10,000 channels, each on its own connection.
    let ready = Arc::new(AtomicUsize::new(0));
    let (events, mut arrivals) = mpsc::unbounded_channel();
    let opening = Instant::now();
    let url = format!("{base}/api/v1/embed/live");
    for n in 0..CHANNELS {
        let identity = n % IDENTITIES;
        let client = Client::builder().pool_max_idle_per_host(0).build().expect("client");
        tokio::spawn(channel(
            client,
            url.clone(),
            tokens[identity].clone(),
            ready.clone(),
            identity,
            events.clone(),
        ));
        if n % 500 == 499 {
            while ready.load(Ordering::SeqCst) + 250 < n {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
    while ready.load(Ordering::SeqCst) < CHANNELS {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let opened = opening.elapsed();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let open = rss_mib(pid);

    // One host-app user's tokens revoked: their 100 channels hear it; 9,900 stay open.
    let sent = Instant::now();
    let status = plain
        .post(format!("{base}/api/v1/embed/identities/user-0/revoke-tokens"))
        .header("X-API-Key", &key)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 204);
    let mut one = Vec::new();
    while one.len() < CHANNELS_PER_IDENTITY {
        let (identity, at) = arrivals.recv().await.expect("event");
        assert_eq!(identity, 0, "only user-0's channels are revoked");
        one.push(at);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(arrivals.try_recv().is_err(), "no other channel heard a revocation");

    // Every token of the organization revoked: the 9,900 others hear it.
    let sent_all = Instant::now();
    let status = admin
        .post(format!("{base}/api/v1/tokens/revoke"))
        .header("X-CSRF-Token", &csrf)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 204);
    let mut all = Vec::new();
    while all.len() < CHANNELS - CHANNELS_PER_IDENTITY {
        let (_, at) = arrivals.recv().await.expect("event");
        all.push(at);
    }
    drop(demo);

    println!("{CHANNELS} live channels opened in {:.1} s", opened.as_secs_f64());
    println!();
    println!("| Resident memory of the server, MiB | |");
    println!("|---|---:|");
    println!("| before the channels (demo, 20,000 rows) | {before:.1} |");
    println!("| with {CHANNELS} channels open | {open:.1} |");
    println!("| per channel | {:.1} KiB |", (open - before) * 1024.0 / CHANNELS as f64);
    println!();
    println!(
        "| Revocation → `revoked` event at each affected channel | channels | p50 ms | p99 ms | max ms |"
    );
    println!("|---|---:|---:|---:|---:|");
    println!("{}", summary("one host-app user (9,900 others open)", sent, &one));
    println!("{}", summary("every token of the organization", sent_all, &all));
}
