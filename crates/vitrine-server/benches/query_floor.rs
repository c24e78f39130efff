//! The query API's floor: a visual asked again within the result cache's window (a hit: token,
//! the report and dataset reads, the cache, JSON) against the server's cheapest answer, an
//! unknown API route (routing, the middleware stack, an error body), in the same run and on
//! the same connection, interleaved so that both see the same noise. Their difference is what
//! a hit costs the server beyond HTTP.
//!
//!     cargo bench -p vitrine-server --bench query_floor
//!
//! Budget (issue 13): a result-cache hit under 0.5 ms server time at p50.

mod demo;

use std::time::{Duration, Instant};

use demo::{Demo, token_for};
use reqwest::Client;
use serde_json::json;

const RUNS: usize = 4_000;

fn percentile(samples: &mut [Duration], share: f64) -> Duration {
    samples.sort();
    // The index of a share of at most a few thousand samples: exact as a float.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    let index = ((samples.len() - 1) as f64 * share).round() as usize;
    samples[index]
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let data_dir = tempfile::tempdir().expect("data dir");
    // The demo with its default settings: the result cache on, 30 s.
    let server = Demo::start(&["--data-dir", &data_dir.path().to_string_lossy()]);
    let base = server.base.clone();
    let (report, token) = token_for(&base, "regional@example.com", "Regional performance").await;

    // One connection, kept alive, for both kinds of request.
    let client = Client::builder().pool_max_idle_per_host(1).build().expect("client");
    let visual = json!({ "page": "region", "visual": "by-country" });
    let query = format!("{base}/api/v1/embed/reports/{report}/query");
    let unknown = format!("{base}/api/v1/no-such-route");
    let hit = || async {
        let response =
            client.post(&query).bearer_auth(&token).json(&visual).send().await.expect("query");
        assert!(response.status().is_success(), "{}", response.status());
        let body = response.bytes().await.expect("body");
        assert!(body.len() > 20, "an answer");
    };
    let floor = || async {
        let response = client.get(&unknown).send().await.expect("unknown route");
        assert_eq!(response.status(), 404);
        response.bytes().await.expect("body");
    };
    // The first query opens the dataset and fills the cache; the rest warm the connection.
    for _ in 0..200 {
        hit().await;
        floor().await;
    }
    // The cache keeps an answer 30 s: ask again within each window (a miss every 30 s is
    // part of what viewers see, and is counted).
    let (mut hits, mut floors) = (Vec::with_capacity(RUNS), Vec::with_capacity(RUNS));
    for _ in 0..RUNS {
        let started = Instant::now();
        hit().await;
        hits.push(started.elapsed());
        let started = Instant::now();
        floor().await;
        floors.push(started.elapsed());
    }
    let (hit50, floor50) = (percentile(&mut hits, 0.5), percentile(&mut floors, 0.5));
    let (hit99, floor99) = (percentile(&mut hits, 0.99), percentile(&mut floors, 0.99));
    println!("| Measurement ({RUNS} each, interleaved, one connection) | p50 ms | p99 ms |");
    println!("|---|---:|---:|");
    println!("| an unknown API route (404): the HTTP floor | {} | {} |", ms(floor50), ms(floor99));
    println!(
        "| the same visual asked again (a result-cache hit) | {} | {} |",
        ms(hit50),
        ms(hit99)
    );
    println!(
        "| what a hit costs beyond the floor | **{}** | {} |",
        ms(hit50.saturating_sub(floor50)),
        ms(hit99.saturating_sub(floor99))
    );
}
