//! One node leads: it holds the installation's lease in the store, renews it every
//! [`RENEW_EVERY`], and counts itself leader only while its last renewal is younger than the
//! lease less a margin, so that it stops acting before another node may take over. A node
//! that dies stops renewing; another takes the lease once it expires — within
//! [`LEASE_MS`] + [`RENEW_EVERY`] (25 s) of the last renewal.
//!
//! Leading decides who acts, not whether an act is right: capacity transitions are
//! compare-and-set in the store, so even two nodes that both believed they led (a paused
//! process waking after its lease expired) could not take one decision twice.

use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use vitrine_store::Store;

use crate::AppState;

/// The lease that makes a node the installation's leader.
pub const LEASE: &str = "installation";
/// How long a renewal holds the lease.
pub const LEASE_MS: i64 = 20_000;
/// How often the leader renews, and others try to take over.
pub const RENEW_EVERY: Duration = Duration::from_secs(5);
/// A leader stops counting itself leader this long before its lease expires.
const MARGIN: Duration = Duration::from_secs(3);

pub struct Leadership {
    node: String,
    /// Until when this node leads, by its own monotonic clock.
    until: Mutex<Option<Instant>>,
}

impl Leadership {
    pub fn new(node: String) -> Self {
        Self { node, until: Mutex::new(None) }
    }

    pub fn is_leader(&self) -> bool {
        self.until
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some_and(|until| Instant::now() < until)
    }

    /// Takes or renews the lease; returns whether this node just became leader.
    pub async fn renew(&self, store: &dyn Store) -> bool {
        let asked = Instant::now();
        let was = self.is_leader();
        let held = store.hold_lease(LEASE, &self.node, LEASE_MS).await;
        let mut until = self.until.lock().unwrap_or_else(|p| p.into_inner());
        match &held {
            // Counted from before the request: the database's expiry is at least this late.
            Ok(true) => {
                let lease = Duration::from_millis(LEASE_MS.unsigned_abs());
                *until = Some(asked + lease.saturating_sub(MARGIN));
            }
            // Another node holds it: this one stops leading now.
            Ok(false) => *until = None,
            // The database is away: leading ends by itself when the last renewal runs out.
            Err(error) => tracing::warn!(%error, "could not renew the leader's lease"),
        }
        matches!(held, Ok(true)) && !was
    }

    /// Gives the lease up (at shutdown), so another node leads at once.
    pub async fn resign(&self, store: &dyn Store) {
        *self.until.lock().unwrap_or_else(|p| p.into_inner()) = None;
        if let Err(error) = store.release_lease(LEASE, &self.node).await {
            tracing::warn!(%error, "could not give up the leader's lease");
        }
    }
}

/// Takes the lease at once (a single node leads from its first moment), then keeps renewing
/// it; `on_lead` runs each time this node becomes leader.
pub async fn spawn_lease<F, Fut>(state: AppState, on_lead: F)
where
    F: Fn(AppState) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let leadership = Arc::clone(&state.leadership);
    if leadership.renew(&*state.store).await {
        tracing::info!(node = %state.feed.node(), "this node leads the installation");
        on_lead(state.clone()).await;
    }
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(RENEW_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            let was = leadership.is_leader();
            if leadership.renew(&*state.store).await {
                tracing::info!(node = %state.feed.node(), "this node leads the installation");
                on_lead(state.clone()).await;
            } else if was && !leadership.is_leader() {
                tracing::warn!(node = %state.feed.node(), "this node no longer leads");
            }
            if leadership.is_leader() {
                let now = chrono::Utc::now();
                super::feed::prune(&*state.store, now).await;
                if let Err(error) = state.store.prune_guards(now).await {
                    tracing::warn!(%error, "could not prune the sign-in guards");
                }
            }
        }
    });
}
