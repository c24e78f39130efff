//! Real databases for the live-source tests: a fresh PostgreSQL or MariaDB database per test
//! on this machine's servers (scripts/test starts them when they are not running), with a
//! small sales table, and a wire tap in front of PostgreSQL that records what the source
//! receives and how many rows it sends back.

#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use sqlx::{MySqlPool, PgPool};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::Session;

pub const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/test";
pub const MYSQL_ADMIN: &str = "mysql://root@127.0.0.1:3306/test";
/// Rows of the sales table.
pub const ROWS: i64 = 3_000;

pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}

/// A fresh PostgreSQL database holding `sales`.
pub struct PgSource {
    pub database: String,
    pub pool: PgPool,
    admin: PgPool,
}

impl PgSource {
    pub async fn new() -> Self {
        let admin = PgPool::connect(PG_ADMIN)
            .await
            .expect("PostgreSQL on 127.0.0.1:5432 (scripts/test starts it)");
        let database = unique_name("vitrine_src");
        sqlx::query(&format!("CREATE DATABASE {database}")).execute(&admin).await.unwrap();
        let pool = PgPool::connect(&format!("postgres://postgres@127.0.0.1:5432/{database}"))
            .await
            .unwrap();
        sqlx::query(
            "CREATE TABLE sales (day date NOT NULL, region text NOT NULL, product varchar(40),
                                 units integer, revenue numeric(12,2), paid boolean,
                                 at timestamptz, blob bytea)",
        )
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO sales
             SELECT date '2025-01-01' + (i % 90), (ARRAY['North','South','East'])[1 + i % 3],
                    'P' || (i % 5), 1 + i % 4, (10 + i % 7)::numeric + 0.25, i % 2 = 0,
                    timestamptz '2025-01-01 00:00:00+00' + i * interval '1 hour', '\\x00'
             FROM generate_series(0, $1::int - 1) AS g(i)",
        )
        .bind(ROWS as i32)
        .execute(&pool)
        .await
        .unwrap();
        Self { database, pool, admin }
    }

    pub async fn drop(self) {
        self.pool.close().await;
        let _ = sqlx::query(&format!("DROP DATABASE {} WITH (FORCE)", self.database))
            .execute(&self.admin)
            .await;
    }
}

/// A fresh MariaDB database holding `sales`.
pub struct MySource {
    pub database: String,
    pub pool: MySqlPool,
    admin: MySqlPool,
}

impl MySource {
    pub async fn new() -> Self {
        let admin = MySqlPool::connect(MYSQL_ADMIN)
            .await
            .expect("MariaDB on 127.0.0.1:3306 (scripts/test starts it)");
        let database = unique_name("vitrine_src");
        sqlx::query(&format!("CREATE DATABASE {database}")).execute(&admin).await.unwrap();
        let pool =
            MySqlPool::connect(&format!("mysql://root@127.0.0.1:3306/{database}")).await.unwrap();
        sqlx::query(
            "CREATE TABLE sales (day date NOT NULL, region varchar(20) NOT NULL,
                                 product varchar(40), units int, revenue decimal(12,2),
                                 paid boolean, at datetime)",
        )
        .execute(&pool)
        .await
        .unwrap();
        let mut connection = pool.acquire().await.unwrap();
        sqlx::query("SET SESSION max_recursive_iterations = 100000")
            .execute(&mut *connection)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO sales
             WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ? - 1)
             SELECT DATE_ADD('2025-01-01', INTERVAL i % 90 DAY),
                    ELT(1 + i % 3, 'North', 'South', 'East'), CONCAT('P', i % 5), 1 + i % 4,
                    10 + i % 7 + 0.25, i % 2 = 0, DATE_ADD('2025-01-01', INTERVAL i HOUR)
             FROM n",
        )
        .bind(ROWS)
        .execute(&mut *connection)
        .await
        .unwrap();
        drop(connection);
        Self { database, pool, admin }
    }

    pub async fn drop(self) {
        self.pool.close().await;
        let _ = sqlx::query(&format!("DROP DATABASE {}", self.database)).execute(&self.admin).await;
    }
}

/// The sales report over `dataset`: a card, bars by region, a line by month, a slicer, and
/// row-level security by region.
pub fn sales_report(dataset: &str) -> Value {
    json!({
        "dataset": dataset,
        "pages": [{
            "id": "main", "title": "Main",
            "slicers": [{ "column": "product" }],
            "visuals": [
                { "id": "total", "type": "card", "title": "Revenue",
                  "measures": [{ "column": "revenue", "agg": "sum" }, { "column": "units", "agg": "count" }] },
                { "id": "by-region", "type": "bar", "title": "By region", "dimension": { "column": "region" },
                  "measures": [{ "column": "revenue", "agg": "sum" }] },
                { "id": "monthly", "type": "line", "title": "Monthly", "dimension": { "column": "day", "grain": "month" },
                  "measures": [{ "column": "units", "agg": "sum" }] }
            ]
        }],
        "roles": [
            { "name": "All regions", "filters": [] },
            { "name": "Own region", "filters": [{ "column": "region", "attribute": "region" }] }
        ]
    })
}

/// Adds a connection through the API; answers its id.
pub async fn connect(admin: &Session, kind: &str, port: u16, database: &str, user: &str) -> String {
    let created = admin
        .post(
            "/api/v1/connections",
            json!({ "name": unique_name("db"), "kind": kind, "host": "127.0.0.1", "port": port,
                    "database": database, "user": user, "password": "", "tls": "disable" }),
        )
        .await;
    assert_eq!(created.status(), 201, "{:?}", created.text().await);
    created.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string()
}

/// A report over `dataset` with the sales definition, opened to every user named.
pub async fn report_over(admin: &Session, dataset: &str, viewers: &[&str]) -> String {
    let created = admin.post("/api/v1/reports", json!({ "name": unique_name("Sales") })).await;
    assert_eq!(created.status(), 201);
    let report = created.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let saved = admin
        .put_json(&format!("/api/v1/reports/{report}/definition"), sales_report(dataset))
        .await;
    assert_eq!(saved.status(), 200, "{:?}", saved.text().await);
    let users = admin.json("/api/v1/users").await;
    for email in viewers {
        let user = users
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["email"] == *email)
            .and_then(|u| u["id"].as_str())
            .unwrap();
        let granted = admin.put(&format!("/api/v1/reports/{report}/access/users/{user}")).await;
        assert!(granted.status().is_success());
    }
    report
}

/// Everything a PostgreSQL server was sent and answered through the tap.
#[derive(Default)]
pub struct WireLog {
    /// The SQL text of every statement parsed or sent as a simple query.
    pub statements: Mutex<Vec<String>>,
    /// Statements run (Execute messages and simple queries).
    pub runs: AtomicUsize,
    /// Rows the server sent back (DataRow messages).
    pub rows: AtomicUsize,
}

impl WireLog {
    pub fn statements(&self) -> Vec<String> {
        self.statements.lock().unwrap().clone()
    }

    pub fn runs(&self) -> usize {
        self.runs.load(Ordering::SeqCst)
    }

    pub fn rows(&self) -> usize {
        self.rows.load(Ordering::SeqCst)
    }

    pub fn clear(&self) {
        self.statements.lock().unwrap().clear();
        self.runs.store(0, Ordering::SeqCst);
        self.rows.store(0, Ordering::SeqCst);
    }
}

/// A TCP tap in front of PostgreSQL (127.0.0.1:5432) that reads the protocol's messages as
/// they pass (the connection must not use TLS); answers its port and its log.
pub async fn pg_tap() -> (u16, Arc<WireLog>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let log = Arc::new(WireLog::default());
    let shared = Arc::clone(&log);
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let log = Arc::clone(&shared);
            tokio::spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect("127.0.0.1:5432").await else {
                    return;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                let up = pipe(client_read, server_write, Arc::clone(&log), true);
                let down = pipe(server_read, client_write, log, false);
                let _ = tokio::join!(up, down);
            });
        }
    });
    (port, log)
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    log: Arc<WireLog>,
    frontend: bool,
) {
    let mut pending: Vec<u8> = Vec::new();
    // The frontend's first message (the startup packet) has no type byte.
    let mut started = !frontend;
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => read,
        };
        if to.write_all(&buffer[..read]).await.is_err() {
            return;
        }
        pending.extend_from_slice(&buffer[..read]);
        loop {
            if !started {
                if pending.len() < 4 {
                    break;
                }
                let length = u32::from_be_bytes(pending[..4].try_into().unwrap()) as usize;
                if pending.len() < length {
                    break;
                }
                pending.drain(..length);
                started = true;
                continue;
            }
            if pending.len() < 5 {
                break;
            }
            let kind = pending[0];
            let length = u32::from_be_bytes(pending[1..5].try_into().unwrap()) as usize;
            if pending.len() < 1 + length {
                break;
            }
            let body: Vec<u8> = pending[5..1 + length].to_vec();
            pending.drain(..1 + length);
            match (frontend, kind) {
                (true, b'Q') => {
                    log.runs.fetch_add(1, Ordering::SeqCst);
                    log.statements.lock().unwrap().push(cstring(&body, 0));
                }
                (true, b'P') => {
                    let name_end = body.iter().position(|b| *b == 0).unwrap_or(0);
                    log.statements.lock().unwrap().push(cstring(&body, name_end + 1));
                }
                (true, b'E') => {
                    log.runs.fetch_add(1, Ordering::SeqCst);
                }
                (false, b'D') => {
                    log.rows.fetch_add(1, Ordering::SeqCst);
                }
                _ => {}
            }
        }
    }
}

fn cstring(bytes: &[u8], start: usize) -> String {
    let rest = bytes.get(start..).unwrap_or_default();
    let end = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
    String::from_utf8_lossy(&rest[..end]).to_string()
}
