//! Starts the real server on 127.0.0.1:0 with a fresh SQLite database and the demo data, and
//! gives tests an HTTP client per user.
#![allow(dead_code)]

pub mod nodes;
pub mod sse;

pub mod mail;
pub mod sources;

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use vitrine_core::ManualClock;
use vitrine_server::config::{ConfigLayer, LimitsLayer, ServerConfig};
use vitrine_server::{AppState, demo};
use vitrine_store::{Actor, Store};

pub const PASSWORD: &str = "correct-horse-battery";
/// The bearer token `/metrics` asks for in tests.
pub const METRICS_TOKEN: &str = "metrics-token-for-tests";
/// The demo dataset's size in tests: enough for every region, country and product.
pub const TEST_ROWS: usize = 20_000;
pub const ADMIN: &str = "admin@example.com";
pub const CONTRIBUTOR: &str = "contributor@example.com";
pub const REGIONAL: &str = "regional@example.com";
pub const VIEWER: &str = "viewer@example.com";
pub const ACME_ADMIN: &str = "admin@acme.example.com";
#[allow(unused_imports)]
pub use vitrine_server::demo::DEMO_CAPACITY;

pub struct TestApp {
    pub base: String,
    pub store: Arc<dyn Store>,
    pub clock: Arc<ManualClock>,
    pub tokens: Arc<vitrine_server::tokens::TokenService>,
    /// The running server's services, for tests that drive them directly.
    pub state: AppState,
    /// The one-time set-up code, on an empty store.
    pub setup_code: Option<String>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    database: String,
    _data: tempfile::TempDir,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|layer| layer).await
}

pub async fn spawn_app_with(adjust: impl FnOnce(ConfigLayer) -> ConfigLayer) -> TestApp {
    let data = tempfile::tempdir().expect("temp dir");
    let clock = Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()));
    launch(data, clock, true, adjust).await
}

/// A server on an empty store, as on first run: no organization, no account; the set-up
/// code is armed, as `vitrine serve` does, and kept in [`TestApp::setup_code`].
pub async fn spawn_empty_app_with(adjust: impl FnOnce(ConfigLayer) -> ConfigLayer) -> TestApp {
    let data = tempfile::tempdir().expect("temp dir");
    let clock = Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()));
    launch(data, clock, false, adjust).await
}

/// Adjusts the `[limits]` of a test server, keeping the tests' defaults (wide-open throttles,
/// the metrics token) for whatever `adjust` leaves alone.
pub fn with_limits(
    adjust: impl FnOnce(&mut LimitsLayer),
) -> impl FnOnce(ConfigLayer) -> ConfigLayer {
    move |mut layer| {
        adjust(layer.limits.get_or_insert_with(LimitsLayer::default));
        layer
    }
}

/// The names of the caller's datasets, in the order listed.
/// The `name` of every item the list at `path` answers.
pub async fn names_at(session: &Session, path: &str) -> Vec<String> {
    let list = session.json(path).await;
    list.as_array()
        .expect("a list")
        .iter()
        .map(|item| item["name"].as_str().unwrap().to_string())
        .collect()
}

pub async fn dataset_names(session: &Session) -> Vec<Value> {
    let list = session.json("/api/v1/datasets").await;
    list.as_array().expect("a list").iter().map(|d| d["name"].clone()).collect()
}

/// Starts a server on `data`; an existing database is kept (the demo only resets passwords).
async fn launch(
    data: tempfile::TempDir,
    clock: Arc<ManualClock>,
    seed: bool,
    adjust: impl FnOnce(ConfigLayer) -> ConfigLayer,
) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let layer = ConfigLayer {
        listen: Some("127.0.0.1:0".into()),
        public_url: Some(base.clone()),
        data_dir: Some(data.path().to_path_buf()),
        // Every test signs in from 127.0.0.1 under a clock that stands still: the throttles
        // are wide open unless a test narrows them.
        limits: Some(LimitsLayer {
            sign_in_per_minute: Some(100_000),
            failed_auth_per_minute: Some(100_000),
            metrics_token: Some(METRICS_TOKEN.into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut layer = adjust(layer);
    if layer.database.is_none() && std::env::var("VITRINE_TEST_STORE").as_deref() == Ok("postgres")
    {
        // The whole suite against PostgreSQL, a fresh schema per server (not part of the
        // test command's default run; see docs/operations.md).
        let url = vitrine_store_postgres::test_database::fresh_schema_url().await.expect("pg");
        layer.database = Some(url);
    }
    let config = ServerConfig::resolve(layer).expect("config");
    let database = config.database.clone();
    let store = vitrine_server::database::open(&config.database).await.expect("store");
    let state = AppState::start(config, Arc::clone(&store), clock.clone()).await.expect("start");
    let tokens = Arc::clone(&state.tokens);
    let services = state.clone();
    let seeded_at = Actor::system(vitrine_core::Clock::now(&*clock));
    let setup = demo::DemoSetup {
        passwords: &state.passwords,
        data_dir: data.path(),
        password: PASSWORD,
        rows: TEST_ROWS,
    };
    if seed {
        demo::seed(&*store, &setup, &seeded_at).await.expect("seed");
    }
    let setup_code = services.setup.arm(&services).await.expect("arm set-up");
    let (shutdown, signal) = oneshot::channel::<()>();
    let server = tokio::spawn(vitrine_server::serve(listener, state, async {
        let _ = signal.await;
    }));
    TestApp {
        base,
        store,
        clock,
        tokens,
        state: services,
        setup_code,
        shutdown: Some(shutdown),
        server: Some(server),
        database,
        _data: data,
    }
}

impl TestApp {
    pub fn clock_now(&self) -> chrono::DateTime<Utc> {
        use vitrine_core::Clock;
        self.clock.now()
    }

    pub fn data_dir(&self) -> &std::path::Path {
        self._data.path()
    }

    pub fn database_url(&self) -> String {
        self.database.clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The text of `/metrics`, fetched with the metrics token.
    pub async fn metrics(&self) -> String {
        let response = self
            .anonymous()
            .get(self.url("/metrics"))
            .bearer_auth(METRICS_TOKEN)
            .send()
            .await
            .expect("metrics request");
        assert_eq!(response.status(), StatusCode::OK, "metrics");
        response.text().await.expect("metrics text")
    }

    /// A client with its own cookie jar, signed in as nobody.
    pub fn anonymous(&self) -> Client {
        Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
    }

    pub async fn sign_in(&self, email: &str) -> Session {
        self.sign_in_with(email, PASSWORD).await.expect("sign in")
    }

    pub async fn sign_in_with(&self, email: &str, password: &str) -> Result<Session, Response> {
        let client = self.anonymous();
        let response = client
            .post(self.url("/api/v1/auth/login"))
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await
            .expect("login request");
        if response.status() != StatusCode::OK {
            return Err(response);
        }
        let body: Value = response.json().await.expect("login body");
        let csrf = body["csrfToken"].as_str().expect("csrfToken").to_string();
        Ok(Session { client, csrf, base: self.base.clone(), user: body["user"].clone() })
    }

    /// Stops this server and starts a new one on the same data and clock.
    pub async fn restart(self) -> TestApp {
        self.restart_with(|layer| layer).await
    }

    /// [`TestApp::restart`] with other settings.
    pub async fn restart_with(
        mut self,
        adjust: impl FnOnce(ConfigLayer) -> ConfigLayer,
    ) -> TestApp {
        self.stop().await;
        let clock = Arc::clone(&self.clock);
        let dir = std::mem::replace(&mut self._data, tempfile::tempdir().expect("temp dir"));
        let database = self.database.clone();
        launch(dir, clock, true, move |layer| {
            let mut layer = adjust(layer);
            layer.database = layer.database.or(Some(database));
            layer
        })
        .await
    }

    /// Stops the server gracefully and waits for it to finish.
    pub async fn stop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("server result");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// A signed-in browser-like client: cookie jar plus the CSRF token.
pub struct Session {
    pub client: Client,
    pub csrf: String,
    pub base: String,
    pub user: Value,
}

impl Session {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    pub async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Response {
        let mut request =
            self.client.request(method, self.url(path)).header("X-CSRF-Token", &self.csrf);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("request")
    }

    pub async fn post(&self, path: &str, body: Value) -> Response {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Response {
        self.send(reqwest::Method::PATCH, path, Some(body)).await
    }

    pub async fn put(&self, path: &str) -> Response {
        self.send(reqwest::Method::PUT, path, None).await
    }

    pub async fn put_json(&self, path: &str, body: Value) -> Response {
        self.send(reqwest::Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.send(reqwest::Method::DELETE, path, None).await
    }

    /// Submits a portal form the way a browser would, CSRF field included.
    pub async fn form(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        let mut all: Vec<(&str, &str)> = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        self.client.post(self.url(path)).form(&all).send().await.expect("form post")
    }

    pub async fn json(&self, path: &str) -> Value {
        let response = self.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.json().await.expect("json")
    }

    /// The id of the entity in a list whose `key` equals `value`.
    pub async fn id_of(&self, list_path: &str, key: &str, value: &str) -> String {
        let list = self.json(list_path).await;
        list.as_array()
            .and_then(|items| items.iter().find(|item| item[key] == value))
            .and_then(|item| item["id"].as_str())
            .unwrap_or_else(|| panic!("{value} not in {list_path}"))
            .to_string()
    }
}

impl Session {
    /// Asks for an embed token for `report`; panics unless it is issued.
    pub async fn token(&self, report: &str) -> Value {
        let response = self.post(&format!("/api/v1/reports/{report}/token"), json!({})).await;
        assert_eq!(response.status(), StatusCode::OK, "token for {report}");
        response.json().await.expect("token body")
    }
}

/// `GET /api/v1/embed/reports/{report}` with `token` as the bearer.
pub async fn embed(app: &TestApp, token: &str, report: &str) -> Response {
    app.anonymous()
        .get(app.url(&format!("/api/v1/embed/reports/{report}")))
        .bearer_auth(token)
        .send()
        .await
        .expect("embed request")
}

/// A visual of the demo report's overview page, through the query API with `token`.
pub async fn overview_visual(app: &TestApp, token: &str, report: &str, visual: &str) -> Response {
    app.anonymous()
        .post(app.url(&format!("/api/v1/embed/reports/{report}/query")))
        .bearer_auth(token)
        .json(&serde_json::json!({ "page": "overview", "visual": visual }))
        .send()
        .await
        .expect("query request")
}

/// Asserts the stable error shape and returns the body.
pub async fn expect_error(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status, "status for expected {code}");
    let body: Value = response.json().await.expect("error body is JSON");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    body
}

/// Multipart form bodies, as a browser sends an upload.
pub const BOUNDARY: &str = "vitrine-test-boundary-7MA4YWxkTrZu0gW";

/// A multipart/form-data body: (part name, file name, content).
pub fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, file_name, content) in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match file_name {
            Some(file_name) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\n\
                     Content-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

pub async fn upload_parts(session: &Session, parts: &[(&str, Option<&str>, &[u8])]) -> Response {
    session
        .client
        .post(format!("{}/api/v1/datasets", session.base))
        .header("X-CSRF-Token", &session.csrf)
        .header("Content-Type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(multipart(parts))
        .send()
        .await
        .expect("upload request")
}

/// New data for a dataset: `PUT /api/v1/datasets/{id}/data` with one `file` part.
pub async fn replace_data(
    session: &Session,
    id: &str,
    file_name: &str,
    content: &[u8],
) -> Response {
    session
        .client
        .put(format!("{}/api/v1/datasets/{id}/data", session.base))
        .header("X-CSRF-Token", &session.csrf)
        .header("Content-Type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(multipart(&[("file", Some(file_name), content)]))
        .send()
        .await
        .expect("replace request")
}

/// A report named `name` over `dataset` with one card summing `column`; answers its id.
pub async fn card_report(session: &Session, name: &str, dataset: &str, column: &str) -> String {
    let created = session.post("/api/v1/reports", serde_json::json!({ "name": name })).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let report = created.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let definition = serde_json::json!({
        "dataset": dataset,
        "pages": [{ "id": "main", "title": "Main", "visuals": [
            { "id": "total", "type": "card", "title": "Total",
              "measures": [{ "column": column, "agg": "sum" }] }
        ]}]
    });
    let saved = session.put_json(&format!("/api/v1/reports/{report}/definition"), definition).await;
    assert_eq!(saved.status(), StatusCode::OK, "{:?}", saved.text().await);
    report
}

/// The sum the card `total` of `report` shows to `session`, asked of the server at `base`.
pub async fn card_total(base: &str, session: &Session, report: &str) -> Value {
    let token = session.token(report).await["token"].as_str().unwrap().to_string();
    let answer = Client::new()
        .post(format!("{base}/api/v1/embed/reports/{report}/query"))
        .bearer_auth(token)
        .json(&json!({ "page": "main", "visual": "total" }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    answer.json::<Value>().await.unwrap()["rows"][0][0].clone()
}

pub async fn upload(session: &Session, name: &str, file_name: &str, content: &[u8]) -> Response {
    upload_parts(session, &[("name", None, name.as_bytes()), ("file", Some(file_name), content)])
        .await
}

/// The file of version `version` of dataset `id` in the test server's data directory.
pub fn version_file(app: &TestApp, id: &str, version: u64) -> std::path::PathBuf {
    let dir = app.data_dir().join("datasets").join(id);
    let prefix = format!("v{version}-");
    std::fs::read_dir(&dir)
        .expect("the dataset's directory")
        .map(|entry| entry.expect("entry").path())
        .find(|path| path.file_name().is_some_and(|n| n.to_string_lossy().starts_with(&prefix)))
        .unwrap_or_else(|| dir.join(format!("{prefix}missing.parquet")))
}

/// Whether this run puts the test servers on PostgreSQL (`VITRINE_TEST_STORE=postgres`); the
/// few tests that reach into the SQLite file itself say so and stop.
pub fn on_postgres(test: &str) -> bool {
    let on = std::env::var("VITRINE_TEST_STORE").as_deref() == Ok("postgres");
    if on {
        eprintln!("{test}: reaches into the SQLite file; not run on PostgreSQL");
    }
    on
}
