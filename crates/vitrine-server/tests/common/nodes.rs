//! Real `vitrine serve` processes on one database and data directory, as an operator runs
//! them: for the several-node tests and the backup and copy tests.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::postgres::PgPool;

use super::{PASSWORD, Session};

/// The master key every node of a test installation shares (base64 of 32 bytes).
pub const MASTER_KEY: &str = "bm9kZXMtc2hhcmUtb25lLW1hc3Rlci1rZXktLS0tLS0=";

/// A fresh PostgreSQL schema's URL, with an application name that finds its connections.
pub async fn fresh_postgres() -> String {
    let application = format!("nodes-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    format!(
        "{}&application_name={application}",
        vitrine_store_postgres::test_database::fresh_schema_url().await.expect("PostgreSQL")
    )
}

/// An installation of several nodes: its database (a schema of its own), its data directory.
pub struct Installation {
    pub url: String,
    pub data: tempfile::TempDir,
    config: std::path::PathBuf,
    /// Names this installation's connections in `pg_stat_activity`.
    pub application: String,
}

impl Installation {
    /// A new installation on PostgreSQL (a schema of its own) seeded with the demo's
    /// organizations, accounts and reports.
    pub async fn seeded() -> Self {
        let data = tempfile::tempdir().expect("temp dir");
        Self::seeded_in(fresh_postgres().await, data).await
    }

    /// The same on SQLite, in the data directory.
    pub async fn seeded_on_sqlite() -> Self {
        let data = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", data.path().join("vitrine.db").display());
        Self::seeded_in(url, data).await
    }

    /// An installation on `url` and `data`, seeded unless the database holds one already.
    pub async fn seeded_in(url: String, data: tempfile::TempDir) -> Self {
        let installation = Self::existing(url, data);
        let store = vitrine_server::database::open(&installation.url).await.expect("store");
        let passwords = vitrine_server::auth::password::PasswordHasher::start(2, 16);
        let setup = vitrine_server::demo::DemoSetup {
            passwords: &passwords,
            data_dir: installation.data.path(),
            password: PASSWORD,
            rows: 2_000,
        };
        let actor = vitrine_store::Actor::system(chrono::Utc::now());
        vitrine_server::demo::seed(&*store, &setup, &actor).await.expect("seed");
        store.close().await;
        installation
    }

    /// The installation already in `url` and `data`, as it is.
    pub fn existing(url: String, data: tempfile::TempDir) -> Self {
        let application = url
            .split("application_name=")
            .nth(1)
            .map(|name| name.split('&').next().unwrap_or_default().to_string())
            .unwrap_or_default();
        let config = data.path().join("vitrine.toml");
        std::fs::write(
            &config,
            "[limits]\nsign_in_per_minute = 100000\nfailed_auth_per_minute = 100000\n",
        )
        .expect("config");
        Self { url, data, config, application }
    }

    /// Sets `[limits]` of every node started from now on: `limits` over the tests' defaults
    /// (throttles out of the way).
    pub fn set_limits(&self, limits: &[(&str, u64)]) {
        let mut all: std::collections::BTreeMap<&str, u64> =
            [("sign_in_per_minute", 100_000), ("failed_auth_per_minute", 100_000)].into();
        all.extend(limits.iter().copied());
        let lines: String = all.iter().map(|(key, value)| format!("{key} = {value}\n")).collect();
        std::fs::write(&self.config, format!("[limits]\n{lines}")).expect("config");
    }

    /// Runs a `vitrine` command on this installation, as an operator beside its nodes would.
    pub fn command(&self, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_vitrine"))
            .args(args)
            .env("VITRINE_DATABASE", &self.url)
            .env("VITRINE_DATA_DIR", self.data.path())
            .env("VITRINE_MASTER_KEY", MASTER_KEY)
            .output()
            .expect("vitrine")
    }

    pub fn start(&self) -> Node {
        self.start_with(&[])
    }

    /// A node with environment variables of its own (a data directory, a dataset storage).
    pub fn start_with(&self, environment: &[(&str, String)]) -> Node {
        let mut child = Command::new(env!("CARGO_BIN_EXE_vitrine"))
            .args(["serve", "--config"])
            .arg(&self.config)
            .env("VITRINE_DATABASE", &self.url)
            .env("VITRINE_DATA_DIR", self.data.path())
            .env("VITRINE_MASTER_KEY", MASTER_KEY)
            .env("VITRINE_LISTEN", "127.0.0.1:0")
            .env("VITRINE_LOG", "info")
            .env("VITRINE_LOG_FORMAT", "json")
            .envs(environment.iter().map(|(key, value)| (*key, value.as_str())))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("vitrine serve");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (address_sender, address) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().expect("stderr");
        let kept = Arc::clone(&log);
        // Reads the log to its end, so that the node never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("Vitrine is listening") {
                    let found = serde_json::from_str::<Value>(&line)
                        .ok()
                        .and_then(|entry| entry["fields"]["address"].as_str().map(str::to_string));
                    let _ = address_sender.send(found.unwrap_or_default());
                }
                kept.lock().unwrap().push(line);
            }
        });
        let address = address.recv_timeout(Duration::from_secs(60)).unwrap_or_else(|_| {
            panic!("the node did not start:\n{}", log.lock().unwrap().join("\n"))
        });
        Node { child, base: format!("http://{address}"), log }
    }

    pub async fn database(&self) -> PgPool {
        PgPool::connect(&self.url).await.expect("database")
    }

    /// The node name holding the installation's lease, if any.
    pub async fn leader(&self, pool: &PgPool) -> Option<String> {
        sqlx::query_scalar(
            "SELECT holder FROM leases WHERE name = 'installation'
               AND expires_at > (extract(epoch FROM clock_timestamp()) * 1000)::bigint",
        )
        .fetch_optional(pool)
        .await
        .expect("leases")
    }
}

pub struct Node {
    child: Child,
    pub base: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Node {
    /// The lines of this node's log that say `level` ("ERROR", "WARN"…).
    pub fn logged(&self, level: &str) -> Vec<String> {
        let wanted = format!("\"level\":\"{level}\"");
        self.log.lock().unwrap().iter().filter(|line| line.contains(&wanted)).cloned().collect()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Whether this process is the one a lease holder's name names (`host-pid-suffix`).
    pub fn is(&self, holder: &str) -> bool {
        holder.contains(&format!("-{}-", self.child.id()))
    }

    pub async fn sign_in(&self, email: &str) -> Session {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let response = client
            .post(self.url("/api/v1/auth/login"))
            .json(&json!({ "email": email, "password": PASSWORD }))
            .send()
            .await
            .expect("login");
        assert_eq!(response.status(), StatusCode::OK, "sign in {email} on {}", self.base);
        let body: Value = response.json().await.expect("login body");
        Session {
            client,
            csrf: body["csrfToken"].as_str().expect("csrf").to_string(),
            base: self.base.clone(),
            user: body["user"].clone(),
        }
    }

    /// The same signed-in browser, talking to this node (sessions live in the database).
    pub fn takes(&self, session: &Session) -> Session {
        Session {
            client: session.client.clone(),
            csrf: session.csrf.clone(),
            base: self.base.clone(),
            user: session.user.clone(),
        }
    }

    /// The demo report's revenue card, asked with `token`.
    pub async fn revenue(&self, token: &str, report: &str) -> StatusCode {
        reqwest::Client::new()
            .post(self.url(&format!("/api/v1/embed/reports/{report}/query")))
            .bearer_auth(token)
            .json(&json!({ "page": "overview", "visual": "revenue" }))
            .send()
            .await
            .expect("query")
            .status()
    }

    pub async fn embed(&self, token: &str, report: &str) -> StatusCode {
        reqwest::Client::new()
            .get(self.url(&format!("/api/v1/embed/reports/{report}")))
            .bearer_auth(token)
            .send()
            .await
            .expect("embed request")
            .status()
    }

    pub fn kill(&mut self) {
        // SIGKILL: no shutdown, no lease given up.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!("--- log of {} ---\n{}", self.base, self.log.lock().unwrap().join("\n"));
        }
    }
}

/// A PostgreSQL server of the test's own (initdb in a temporary directory, its own port), so
/// that a test may stop and restart it without disturbing the machine's.
pub struct PrivatePostgres {
    dir: tempfile::TempDir,
    pub port: u16,
    bin: std::path::PathBuf,
}

impl PrivatePostgres {
    pub fn start() -> Self {
        let bin = Command::new("pg_config")
            .arg("--bindir")
            .output()
            .ok()
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
            .filter(|dir| !dir.is_empty())
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| "/usr/lib/postgresql/15/bin".into());
        let dir = tempfile::Builder::new().prefix("vitrine-pg-").tempdir().expect("temp dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let server = Self { dir, port, bin };
        if is_root() {
            // PostgreSQL refuses to run as root: the cluster belongs to `postgres`.
            let owned = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(server.dir.path())
                .status()
                .expect("chown");
            assert!(owned.success());
        }
        let data = server.data().display().to_string();
        server.run("initdb", &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"]);
        server.pg_ctl("start");
        server
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server as a crash would (no checkpoint), then starts it again.
    pub fn crash_and_restart(&self) {
        let data = self.data().display().to_string();
        self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
        self.pg_ctl("start");
    }

    fn data(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }

    fn pg_ctl(&self, action: &str) {
        let data = self.data().display().to_string();
        let log = self.dir.path().join("log").display().to_string();
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {}",
            self.port,
            self.dir.path().display()
        );
        self.run("pg_ctl", &["-D", &data, "-l", &log, "-o", &options, "-w", action]);
    }

    fn run(&self, program: &str, args: &[&str]) {
        let path = self.bin.join(program);
        let output = if is_root() {
            Command::new("runuser").args(["-u", "postgres", "--"]).arg(&path).args(args).output()
        } else {
            Command::new(&path).args(args).output()
        }
        .expect("PostgreSQL's programs (Debian's postgresql package)");
        assert!(
            output.status.success(),
            "{program}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let data = self.data().display().to_string();
        let path = self.bin.join("pg_ctl");
        let args = ["-D", data.as_str(), "-m", "immediate", "stop"];
        let _ = if is_root() {
            Command::new("runuser").args(["-u", "postgres", "--"]).arg(&path).args(args).output()
        } else {
            Command::new(&path).args(args).output()
        };
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false)
}
