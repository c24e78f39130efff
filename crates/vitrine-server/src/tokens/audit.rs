//! The token audit trail, written off the request path: requests drop events into a bounded
//! queue and one task stores them in batches. When the queue is full an event is counted as
//! dropped rather than slowing or failing the request.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use vitrine_store::{Store, TokenEvent};

use crate::metrics::Metrics;

const QUEUE_CAPACITY: usize = 16_384;
const BATCH_SIZE: usize = 512;
/// How long the writer gathers events before storing a batch.
const BATCH_WINDOW: Duration = Duration::from_millis(100);

enum Message {
    Event(Box<TokenEvent>),
    Flush(oneshot::Sender<()>),
}

#[derive(Clone)]
pub struct TokenAudit {
    queue: mpsc::Sender<Message>,
    metrics: Arc<Metrics>,
}

impl TokenAudit {
    pub fn start(store: Arc<dyn Store>, metrics: Arc<Metrics>) -> Self {
        let (queue, inbox) = mpsc::channel(QUEUE_CAPACITY);
        tokio::spawn(write_batches(store, inbox, Arc::clone(&metrics)));
        Self { queue, metrics }
    }

    pub fn record(&self, event: TokenEvent) {
        if self.queue.try_send(Message::Event(Box::new(event))).is_err() {
            self.metrics.token_audit_dropped();
        }
    }

    /// Waits until every event recorded so far is stored.
    pub async fn flush(&self) {
        let (done, stored) = oneshot::channel();
        if self.queue.send(Message::Flush(done)).await.is_ok() {
            let _ = stored.await;
        }
    }
}

/// How often a batch is tried before its events are counted as dropped, and the first pause.
const WRITE_ATTEMPTS: u32 = 5;
const FIRST_RETRY: Duration = Duration::from_millis(200);

/// Stores a batch, trying again with doubling pauses (0.2 s … 1.6 s) while the store fails.
async fn store_batch(store: &dyn Store, batch: &[TokenEvent], metrics: &Metrics) {
    let mut pause = FIRST_RETRY;
    for attempt in 1..=WRITE_ATTEMPTS {
        match store.insert_token_events(batch).await {
            Ok(()) => return,
            Err(error) if attempt < WRITE_ATTEMPTS => {
                metrics.token_audit_retried();
                tracing::warn!(%error, attempt, events = batch.len(), "token audit batch not stored; retrying");
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            Err(error) => {
                tracing::error!(%error, events = batch.len(), "token audit batch dropped after retries");
                for _ in batch {
                    metrics.token_audit_dropped();
                }
            }
        }
    }
}

async fn write_batches(
    store: Arc<dyn Store>,
    mut inbox: mpsc::Receiver<Message>,
    metrics: Arc<Metrics>,
) {
    let mut batch = Vec::with_capacity(BATCH_SIZE);
    let mut waiting = Vec::new();
    while let Some(first) = inbox.recv().await {
        let deadline = tokio::time::Instant::now() + BATCH_WINDOW;
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Event(event) => batch.push(*event),
                // A flush ends the batch at once.
                Message::Flush(done) => {
                    waiting.push(done);
                    break;
                }
            }
            if batch.len() >= BATCH_SIZE {
                break;
            }
            next = tokio::time::timeout_at(deadline, inbox.recv()).await.ok().flatten();
        }
        if !batch.is_empty() {
            store_batch(&*store, &batch, &metrics).await;
        }
        batch.clear();
        for done in waiting.drain(..) {
            let _ = done.send(());
        }
    }
}

/// The rejections of authentic tokens already audited, so that one token presented again and
/// again (an expired one on a forgotten tab, or replayed) costs one audit row, not one each.
#[derive(Default)]
pub struct RecentRejections {
    seen: std::sync::Mutex<std::collections::HashSet<(uuid::Uuid, &'static str)>>,
}

impl RecentRejections {
    const CAPACITY: usize = 50_000;

    /// True the first time this token is refused for this reason (until the set is full).
    pub fn first_time(&self, token: uuid::Uuid, reason: &'static str) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|poison| poison.into_inner());
        if seen.len() >= Self::CAPACITY {
            seen.clear();
        }
        seen.insert((token, reason))
    }
}

/// Logs refusals of requests that prove nobody (garbage tokens, tokens in URLs): at most one
/// line a second, saying how many there were. They are counted in metrics and never stored.
#[derive(Default)]
pub struct SampledLog {
    state: std::sync::Mutex<(Option<std::time::Instant>, u64)>,
}

impl SampledLog {
    pub fn anonymous_failure(&self, reason: &str, address: Option<std::net::IpAddr>) {
        let mut state = self.state.lock().unwrap_or_else(|poison| poison.into_inner());
        state.1 += 1;
        let due = state.0.is_none_or(|last| last.elapsed() >= Duration::from_secs(1));
        if due {
            let count = std::mem::take(&mut state.1);
            state.0 = Some(std::time::Instant::now());
            drop(state);
            tracing::info!(reason, client = ?address, count, "refused unauthenticated requests (sampled)");
        }
    }
}
