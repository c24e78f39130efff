//! The release `vitrine demo` a load generator measures: its own process, on a free port,
//! every account's password [`PASSWORD`]; stopped when dropped.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub const PASSWORD: &str = "bench-password-1";

pub struct Demo {
    pub child: Child,
    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub base: String,
}

impl Demo {
    /// Starts `vitrine demo` with `args` added, and waits until it prints its address.
    pub fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_vitrine"))
            .args(["demo", "--port", "0", "--password", PASSWORD])
            .args(args)
            .env("VITRINE_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start vitrine demo");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let first = lines.next();
        // The demo goes on printing: a closed pipe would end it.
        std::thread::spawn(move || lines.for_each(drop));
        let base = first
            .and_then(Result::ok)
            .and_then(|line| {
                line.strip_prefix("Vitrine demo is running at ")
                    .map(|u| u.trim_end_matches('/').to_string())
            })
            .expect("demo URL");
        Self { child, base }
    }

    #[allow(dead_code)] // not every load generator reads the server's memory
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client signed in as `email` (it keeps the session's cookie), and the session's CSRF
/// token.
#[allow(dead_code)] // not every load generator signs in
pub async fn sign_in(base: &str, email: &str) -> (reqwest::Client, String) {
    let client = reqwest::Client::builder().cookie_store(true).build().expect("client");
    let login: serde_json::Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({ "email": email, "password": PASSWORD }))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("login body");
    let csrf = login["csrfToken"].as_str().expect("csrf").to_string();
    (client, csrf)
}

/// Signs `email` in and asks for an embed token for the report named `report_name`;
/// answers the report's id and the token.
#[allow(dead_code)] // not every load generator queries a report
pub async fn token_for(base: &str, email: &str, report_name: &str) -> (String, String) {
    let (client, csrf) = sign_in(base, email).await;
    let reports: serde_json::Value = client
        .get(format!("{base}/api/v1/reports"))
        .send()
        .await
        .expect("reports")
        .json()
        .await
        .expect("list");
    let report = reports
        .as_array()
        .and_then(|list| list.iter().find(|r| r["name"] == report_name))
        .and_then(|r| r["id"].as_str())
        .expect("report")
        .to_string();
    let issued: serde_json::Value = client
        .post(format!("{base}/api/v1/reports/{report}/token"))
        .header("X-CSRF-Token", csrf)
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("token body");
    (report, issued["token"].as_str().expect("token").to_string())
}
