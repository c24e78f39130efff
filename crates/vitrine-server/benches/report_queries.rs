//! Report queries over the demo's 1,000,000 rows: one aggregate visual through HTTP (token
//! verification, row-level security, JSON; the result cache off) beside the same filtered
//! group-by run on bare DataFusion over the same Parquet file in the same run; and a whole
//! report page (every visual and slicer of "Sales overview", requested at once as the viewer
//! does).
//!
//!     cargo bench -p vitrine-server --bench report_queries
//!
//! Budgets: the visual within 1.3 × the bare query; a whole page under 100 ms.

mod demo;

use std::time::{Duration, Instant};

use datafusion::functions_aggregate::expr_fn::sum;
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext, col, ident, lit};
use demo::{Demo, token_for};
use reqwest::Client;
use serde_json::{Value, json};

const RUNS: usize = 60;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

/// The demo's dataset file, in the data directory the demo was started with.
fn demo_file(data_dir: &std::path::Path) -> String {
    let datasets = data_dir.join("datasets");
    let dir = std::fs::read_dir(&datasets).expect("datasets").flatten().find(|e| e.path().is_dir());
    // Versions are named `v<n>-<content hash>.parquet`.
    let file = std::fs::read_dir(dir.expect("a dataset").path())
        .expect("the dataset's directory")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("v1")))
        .expect("version 1's file");
    file.to_string_lossy().to_string()
}

async fn bare_datafusion(file: &str) -> Duration {
    let partitions = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let context =
        SessionContext::new_with_config(SessionConfig::new().with_target_partitions(partitions));
    let query = || async {
        context
            .read_parquet(file, ParquetReadOptions::default())
            .await
            .expect("read")
            .filter(ident("region").eq(lit("North")))
            .expect("filter")
            .aggregate(vec![ident("country").alias("d")], vec![sum(ident("revenue")).alias("m0")])
            .expect("aggregate")
            .sort(vec![col("m0").sort(false, true)])
            .expect("sort")
            .collect()
            .await
            .expect("collect")
    };
    for _ in 0..5 {
        query().await;
    }
    let mut samples = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        let batches = query().await;
        samples.push(started.elapsed());
        assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 3);
    }
    median(samples)
}

/// The demo in `data_dir`, without the result cache: the bench measures the work.
fn start_demo(data_dir: &std::path::Path) -> Demo {
    let config = data_dir.join("bench.toml");
    std::fs::write(&config, "[limits]\nresult_cache_seconds = 0\n").expect("config");
    Demo::start(&["--data-dir", &data_dir.to_string_lossy(), "--config", &config.to_string_lossy()])
}

async fn query(client: &Client, base: &str, report: &str, token: &str, body: Value) -> Value {
    let response = client
        .post(format!("{base}/api/v1/embed/reports/{report}/query"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("query");
    assert!(response.status().is_success(), "{}", response.status());
    response.json().await.expect("result")
}

#[tokio::main]
async fn main() {
    let data_dir = tempfile::tempdir().expect("data dir");
    let server = start_demo(data_dir.path());
    let base = server.base.clone();
    let client = Client::new();

    // One visual: revenue by country for the regional manager, whose row-level security keeps
    // only the North region (the same filter the bare query applies).
    let (regional, token) = token_for(&base, "regional@example.com", "Regional performance").await;
    let visual = json!({ "page": "region", "visual": "by-country" });
    // The first queries open the dataset and warm the page cache and the footer cache.
    for _ in 0..5 {
        query(&client, &base, &regional, &token, visual.clone()).await;
    }
    let bare = bare_datafusion(&demo_file(data_dir.path())).await;
    let mut samples = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        let result = query(&client, &base, &regional, &token, visual.clone()).await;
        samples.push(started.elapsed());
        assert_eq!(result["rows"].as_array().map(Vec::len), Some(3), "three North countries");
    }
    let http = median(samples);

    // A whole page: every visual and slicer of Sales overview at once, as the viewer asks.
    let (sales, token) = token_for(&base, "viewer@example.com", "Sales overview").await;
    let mut bodies: Vec<Value> = ["revenue", "units", "orders", "trend", "by-region", "by-channel"]
        .iter()
        .map(|v| json!({ "page": "overview", "visual": v }))
        .collect();
    bodies.extend(["region", "channel"].iter().map(|s| json!({ "page": "overview", "slicer": s })));
    let mut pages = Vec::new();
    for run in 0..(RUNS / 2 + 3) {
        let started = Instant::now();
        let mut requests = tokio::task::JoinSet::new();
        for body in &bodies {
            let (client, base, sales, token, body) =
                (client.clone(), base.clone(), sales.clone(), token.clone(), body.clone());
            requests.spawn(async move { query(&client, &base, &sales, &token, body).await });
        }
        let answers = requests.join_all().await;
        if run >= 3 {
            pages.push(started.elapsed());
        }
        assert_eq!(answers.len(), 8);
    }
    let page = median(pages);

    println!("| Measurement (median of {RUNS}) | ms | ratio |");
    println!("|---|---:|---:|");
    println!(
        "| bare DataFusion over the same Parquet file: revenue by country, region = North, 1,000,000 rows | {} | 1.00 |",
        ms(bare)
    );
    println!(
        "| HTTP visual query, same aggregate (token, RLS, JSON, loopback) | {} | {:.2} |",
        ms(http),
        http.as_secs_f64() / bare.as_secs_f64()
    );
    println!(
        "| whole page: 6 visuals + 2 slicers of Sales overview, in parallel | {} | |",
        ms(page)
    );
}
