//! Prometheus metrics: requests and latency by route pattern, sign-ins by outcome, embed
//! tokens, capacity transitions and waits, displays online and offline, and the report
//! engine's column and result caches.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use vitrine_engine::Engine;

use crate::app::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TransitionLabels {
    state: String,
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabels {
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: String,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: HistogramFamily<RouteLabels>,
    sign_ins: Family<OutcomeLabels, Counter>,
    tokens_issued: Counter,
    tokens_refreshed: Counter,
    tokens_rejected: Family<ReasonLabels, Counter>,
    token_verification: Histogram,
    token_audit_dropped: Counter,
    token_audit_retries: Counter,
    capacity_transitions: Family<TransitionLabels, Counter>,
    capacity_waits: Family<CodeLabels, Counter>,
    displays: Family<StatusLabels, prometheus_client::metrics::gauge::Gauge>,
    display_alerts: Family<ReasonLabels, Counter>,
}

fn latency_histogram() -> Histogram {
    // 100 µs to about 1.6 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 15))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("vitrine");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: HistogramFamily<RouteLabels> = Family::new_with_constructor(latency_histogram);
        let sign_ins = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route pattern and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Server time per request, by route pattern",
            latency.clone(),
        );
        registry.register("sign_ins", "Sign-in attempts by outcome", sign_ins.clone());
        let tokens_issued = Counter::default();
        let tokens_refreshed = Counter::default();
        let tokens_rejected = Family::<ReasonLabels, Counter>::default();
        // 1 µs to about 16 ms.
        let token_verification = Histogram::new(exponential_buckets(0.000_001, 2.0, 15));
        let token_audit_dropped = Counter::default();
        registry.register(
            "tokens_issued",
            "Embed tokens issued (first token for a user and report)",
            tokens_issued.clone(),
        );
        registry.register(
            "tokens_refreshed",
            "Embed tokens issued while the previous one was alive",
            tokens_refreshed.clone(),
        );
        registry.register(
            "tokens_rejected",
            "Embed tokens refused, by reason",
            tokens_rejected.clone(),
        );
        registry.register(
            "token_verification_seconds",
            "Time to verify an embed token",
            token_verification.clone(),
        );
        registry.register(
            "token_audit_dropped",
            "Token audit events dropped: the audit queue was full, or the store failed every retry",
            token_audit_dropped.clone(),
        );
        let token_audit_retries = Counter::default();
        registry.register(
            "token_audit_retries",
            "Token audit batches tried again after the store failed",
            token_audit_retries.clone(),
        );
        let capacity_transitions = Family::<TransitionLabels, Counter>::default();
        let capacity_waits = Family::<CodeLabels, Counter>::default();
        registry.register(
            "capacity_transitions",
            "Capacity state changes, by the state entered and why",
            capacity_transitions.clone(),
        );
        registry.register(
            "capacity_waits",
            "Token requests and queries told to wait for their capacity, by answer",
            capacity_waits.clone(),
        );
        let displays = Family::<StatusLabels, prometheus_client::metrics::gauge::Gauge>::default();
        registry.register(
            "displays",
            "Paired displays of the installation, online or offline (not heard from for three minutes)",
            displays.clone(),
        );
        let display_alerts = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "display_alerts",
            "Alerts sent to the displays webhook, by event (display.offline, display.online) or failed",
            display_alerts.clone(),
        );
        Self {
            registry,
            displays,
            display_alerts,
            capacity_transitions,
            capacity_waits,
            requests,
            latency,
            sign_ins,
            tokens_issued,
            tokens_refreshed,
            tokens_rejected,
            token_verification,
            token_audit_dropped,
            token_audit_retries,
        }
    }
}

impl Metrics {
    pub fn sign_in(&self, outcome: &str) {
        self.sign_ins.get_or_create(&OutcomeLabels { outcome: outcome.to_string() }).inc();
    }

    pub fn token_issued(&self) {
        self.tokens_issued.inc();
    }

    pub fn token_refreshed(&self) {
        self.tokens_refreshed.inc();
    }

    pub fn token_rejected(&self, reason: &str) {
        self.tokens_rejected.get_or_create(&ReasonLabels { reason: reason.to_string() }).inc();
    }

    pub fn token_verification(&self, elapsed: std::time::Duration) {
        self.token_verification.observe(elapsed.as_secs_f64());
    }

    pub fn token_audit_retried(&self) {
        self.token_audit_retries.inc();
    }

    pub fn token_audit_dropped(&self) {
        self.token_audit_dropped.inc();
    }

    pub fn capacity_transition(&self, state: &str, reason: &str) {
        let labels = TransitionLabels { state: state.to_string(), reason: reason.to_string() };
        self.capacity_transitions.get_or_create(&labels).inc();
    }

    /// `code` is `CapacityNotActive` or `CapacityStarting`.
    pub fn capacity_wait(&self, code: &str) {
        self.capacity_waits.get_or_create(&CodeLabels { code: code.to_string() }).inc();
    }

    /// The displays online and offline, as the last health pass counted them.
    pub fn displays(&self, online: usize, offline: usize) {
        for (status, count) in [("online", online), ("offline", offline)] {
            let labels = StatusLabels { status: status.to_string() };
            self.displays.get_or_create(&labels).set(i64::try_from(count).unwrap_or(i64::MAX));
        }
    }

    /// An alert sent (`display.offline`, `display.online`) or that could not be (`failed`).
    pub fn display_alert(&self, event: &str) {
        self.display_alerts.get_or_create(&ReasonLabels { reason: event.to_string() }).inc();
    }

    /// The metrics, with the figures of `engine`'s caches read at each scrape.
    pub fn with_engine(engine: Arc<Engine>) -> Self {
        let mut metrics = Self::default();
        metrics.registry.register_collector(Box::new(EngineCaches(engine)));
        metrics
    }

    pub fn render(&self) -> String {
        let mut text = String::new();
        if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::error!(%error, "metrics encoding failed");
        }
        text
    }
}

/// Counts and times every request under its route pattern (never its raw path, so ids and
/// probes cannot blow up the label space).
pub async fn track_requests(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    if status >= 500 {
        tracing::warn!(%method, %route, status, elapsed_ms = elapsed.as_millis() as u64, "request failed");
    } else {
        tracing::debug!(%method, %route, status, elapsed_us = elapsed.as_micros() as u64, "request");
    }
    state
        .metrics
        .latency
        .get_or_create(&RouteLabels { method: method.clone(), route: route.clone() })
        .observe(elapsed.as_secs_f64());
    state.metrics.requests.get_or_create(&RequestLabels { method, route, status }).inc();
    response
}

/// The engine's caches, read when metrics are scraped.
struct EngineCaches(Arc<Engine>);

impl fmt::Debug for EngineCaches {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EngineCaches")
    }
}

fn counter(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: u64) -> fmt::Result {
    let counter = ConstCounter::new(value);
    counter.encode(encoder.encode_descriptor(name, help, None, counter.metric_type())?)
}

fn gauge(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: u64) -> fmt::Result {
    let gauge = ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX));
    gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)
}

impl Collector for EngineCaches {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let columns = self.0.column_cache_stats();
        let e = &mut encoder;
        counter(e, "column_cache_hits", "Column chunks scans found decoded", columns.hits)?;
        counter(e, "column_cache_misses", "Column chunks scans decoded", columns.misses)?;
        gauge(e, "column_cache_chunks", "Column chunks the cache holds", columns.chunks)?;
        gauge(e, "column_cache_bytes", "Bytes the column cache holds", columns.bytes)?;
        let plans = self.0.plan_cache_stats();
        counter(e, "plan_cache_hits", "Local queries run from a kept plan", plans.hits)?;
        counter(e, "plan_cache_misses", "Local queries planned", plans.misses)?;
        gauge(e, "plan_cache_plans", "Query plans the cache holds", plans.plans)?;
        if let Some(results) = self.0.result_cache_stats() {
            counter(
                e,
                "result_cache_hits",
                "Visual queries answered from the cache",
                results.hits,
            )?;
            counter(e, "result_cache_misses", "Visual queries run", results.misses)?;
            gauge(e, "result_cache_entries", "Results the cache holds", results.entries)?;
            gauge(e, "result_cache_bytes", "Bytes the result cache holds", results.bytes)?;
        }
        Ok(())
    }
}
