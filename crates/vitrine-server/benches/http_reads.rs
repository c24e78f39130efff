//! Load generator on loopback for portal and API reads, against the release `vitrine demo`
//! binary running as its own process. Prints p50/p99 latency per route beside a baseline
//! measured in the same run (an unauthenticated 404 from the API router: the HTTP stack and
//! the client, no authentication, no database), and the server's resident memory: an empty
//! server idle, the demo idle and after the load.
//!
//!     cargo bench -p vitrine-server --bench http_reads

mod demo;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::Client;
use serde_json::{Value, json};

use demo::{Demo, PASSWORD};

const WARMUP: usize = 200;
const SAMPLES: usize = 3000;

/// Resident memory of a process, in MiB: all of it, then the part that is its own (heap, data)
/// and the part that maps files (the binary's code, shared and reclaimable).
#[derive(Clone, Copy)]
struct Resident {
    total: f64,
    anonymous: f64,
    file: f64,
}

impl Resident {
    fn of(pid: u32) -> Self {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|line| line.starts_with(name))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse::<f64>().ok())
                .map(|kib| kib / 1024.0)
                .unwrap_or(f64::NAN)
        };
        Self { total: field("VmRSS:"), anonymous: field("RssAnon:"), file: field("RssFile:") }
    }

    fn row(&self, what: &str) -> String {
        format!("| {what} | {:.1} | {:.1} | {:.1} |", self.total, self.anonymous, self.file)
    }
}

/// `vitrine serve` on an empty data directory, idle: the server's own cost without data.
fn empty_server_idle() -> Resident {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut server = Command::new(env!("CARGO_BIN_EXE_vitrine"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("VITRINE_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start vitrine serve");
    std::thread::sleep(Duration::from_secs(3));
    let resident = Resident::of(server.id());
    let _ = server.kill();
    let _ = server.wait();
    resident
}

async fn sign_in(base: &str, email: &str) -> Client {
    let client = Client::builder().cookie_store(true).build().expect("client");
    let response = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "email": email, "password": PASSWORD }))
        .send()
        .await
        .expect("login");
    assert!(response.status().is_success(), "sign in {email}");
    client
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn measure(client: &Client, url: &str, expected: u16) -> (Duration, Duration) {
    for _ in 0..WARMUP {
        client.get(url).send().await.expect("warmup").bytes().await.expect("body");
    }
    let mut samples = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let started = Instant::now();
        let response = client.get(url).send().await.expect("request");
        let status = response.status().as_u16();
        response.bytes().await.expect("body");
        samples.push(started.elapsed());
        assert_eq!(status, expected, "{url}");
    }
    samples.sort();
    (percentile(&samples, 0.5), percentile(&samples, 0.99))
}

const LOGIN_SAMPLES: usize = 4;

/// Median time of a failed sign-in. Few samples per run: the fifth wrong password in a row
/// would lock the account and change the answer.
async fn login_p50(base: &str, email: &str) -> Duration {
    let client = Client::new();
    let mut samples = Vec::new();
    for _ in 0..LOGIN_SAMPLES {
        let started = Instant::now();
        let response = client
            .post(format!("{base}/api/v1/auth/login"))
            .json(&json!({ "email": email, "password": "wrong-password" }))
            .send()
            .await
            .expect("login");
        assert_eq!(response.status().as_u16(), 401);
        response.bytes().await.expect("body");
        samples.push(started.elapsed());
    }
    samples.sort();
    percentile(&samples, 0.5)
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let demo = Demo::start(&[]);
    let (pid, base) = (demo.pid(), demo.base.clone());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = Resident::of(pid);

    let admin = sign_in(&base, "admin@example.com").await;
    let viewer = sign_in(&base, "viewer@example.com").await;
    let users: Value =
        admin.get(format!("{base}/api/v1/users")).send().await.unwrap().json().await.unwrap();
    let user_id = users[0]["id"].as_str().expect("a user id").to_string();

    let baseline = measure(&Client::new(), &format!("{base}/api/v1/baseline-404"), 404).await;
    let routes: Vec<(&str, &Client, String)> = vec![
        ("GET / (Reports Portal, viewer)", &viewer, format!("{base}/")),
        ("GET /api/v1/reports (viewer)", &viewer, format!("{base}/api/v1/reports")),
        ("GET /api/v1/me (viewer)", &viewer, format!("{base}/api/v1/me")),
        ("GET /api/v1/users (admin)", &admin, format!("{base}/api/v1/users")),
        ("GET /api/v1/users/{id} (admin)", &admin, format!("{base}/api/v1/users/{user_id}")),
        ("GET /admin/users (admin)", &admin, format!("{base}/admin/users")),
        ("GET /admin/users/{id} (admin)", &admin, format!("{base}/admin/users/{user_id}")),
        ("GET /admin/audit (admin)", &admin, format!("{base}/admin/audit")),
    ];
    println!("| Route | p50 ms | p99 ms | p50 / baseline |");
    println!("|---|---:|---:|---:|");
    println!(
        "| baseline: unauthenticated API 404 | {} | {} | 1.00 |",
        ms(baseline.0),
        ms(baseline.1)
    );
    for (name, client, url) in &routes {
        let (p50, p99) = measure(client, url, 200).await;
        println!(
            "| {name} | {} | {} | {:.2} |",
            ms(p50),
            ms(p99),
            p50.as_secs_f64() / baseline.0.as_secs_f64()
        );
    }
    let loaded = Resident::of(pid);

    // Sign-in answers for an unknown email and a wrong password: same answer, same work.
    let (unknown, wrong) = (
        login_p50(&base, "nobody@example.com").await,
        login_p50(&base, "contributor@example.com").await,
    );
    println!();
    println!("| Sign-in attempt (p50 of {LOGIN_SAMPLES}) | ms |");
    println!("|---|---:|");
    println!("| unknown email | {} |", ms(unknown));
    println!("| known email, wrong password | {} |", ms(wrong));
    println!("| ratio | {:.2} |", wrong.as_secs_f64() / unknown.as_secs_f64());
    println!();
    drop(demo);
    println!();
    println!("| Resident memory, MiB | total | own (anonymous) | files (code) |");
    println!("|---|---:|---:|---:|");
    println!("{}", empty_server_idle().row("`vitrine serve`, empty data directory, idle"));
    println!("{}", idle.row("`vitrine demo` (1,000,000 rows in memory), idle after start"));
    println!("{}", loaded.row("`vitrine demo`, after the load"));
}
