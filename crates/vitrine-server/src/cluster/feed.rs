//! The change feed: what one node changed that other nodes keep in memory, appended to the
//! store's sequence-numbered feed and read by every other node in order. A node reads after
//! each announcement (PostgreSQL `NOTIFY`) and, whether or not one came, every
//! [`CATCH_UP`] (half a second): a lost announcement, a dropped listening connection or a
//! database restart delays a change by that interval at most, never loses it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use vitrine_core::token::{Revocation, RevocationScope};
use vitrine_core::{ConnectionId, DatasetId, IdentityId, OrgId, ReportId, UserId};
use vitrine_store::{Store, StoreResult};

use crate::AppState;
use crate::notices::Notice;

/// The longest a change waits for another node when its announcement is lost: short enough
/// that a revocation still reaches every node within a second by reading alone (two small
/// reads a second per node).
pub const CATCH_UP: Duration = Duration::from_millis(500);
/// Changes read at once while catching up.
const BATCH: u32 = 500;
/// Announced changes waiting to be appended; past this they are dropped (and counted): they
/// are notices to viewers, which re-read on their next refresh anyway.
const QUEUE: usize = 4096;
/// How long the feed keeps changes: enough for any node to catch up after a pause.
pub const KEPT_FOR: chrono::Duration = chrono::Duration::hours(1);

/// A change other nodes must know of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Change {
    /// Tokens of `scope` issued before `not_before` (Unix ms) are refused.
    #[serde(rename_all = "camelCase")]
    Revocation { scope: Scope, not_before: i64 },
    /// A user's tokens die with the account at this time (none: no expiry).
    #[serde(rename_all = "camelCase")]
    UserExpiry { user: UserId, expires_at: Option<DateTime<Utc>> },
    /// A notice for the organization's open viewers (their live channels).
    Notice { org: OrgId, notice: Notice },
    /// Signing keys were added or retired: reload them now.
    Keys,
    /// A dataset's data or source changed, or it was deleted: close it; it opens again from
    /// its record on its next query.
    Dataset { dataset: DatasetId },
    /// A connection changed or was deleted: its pool is rebuilt on next use.
    Connection { connection: ConnectionId },
}

/// [`RevocationScope`] as the feed writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "camelCase")]
pub enum Scope {
    User(UserId),
    Identity(IdentityId),
    Organization(OrgId),
    Report(ReportId),
}

impl From<RevocationScope> for Scope {
    fn from(scope: RevocationScope) -> Self {
        match scope {
            RevocationScope::User(id) => Scope::User(id),
            RevocationScope::Identity(id) => Scope::Identity(id),
            RevocationScope::Organization(id) => Scope::Organization(id),
            RevocationScope::Report(id) => Scope::Report(id),
        }
    }
}

impl From<Scope> for RevocationScope {
    fn from(scope: Scope) -> Self {
        match scope {
            Scope::User(id) => RevocationScope::User(id),
            Scope::Identity(id) => RevocationScope::Identity(id),
            Scope::Organization(id) => RevocationScope::Organization(id),
            Scope::Report(id) => RevocationScope::Report(id),
        }
    }
}

impl From<Revocation> for Change {
    fn from(revocation: Revocation) -> Self {
        Change::Revocation { scope: revocation.scope.into(), not_before: revocation.not_before }
    }
}

/// This node's end of the feed: it appends what this node changed.
pub struct ChangeFeed {
    store: Arc<dyn Store>,
    node: String,
    queue: mpsc::Sender<Change>,
    /// The feed's last change when this node started: what came before is in what it loaded.
    start: i64,
    dropped: AtomicU64,
}

impl ChangeFeed {
    /// Opens the feed for `node`. Call it before loading what the feed keeps up to date, so
    /// that a change made in between is read again rather than missed.
    pub async fn open(store: Arc<dyn Store>, node: String) -> StoreResult<Arc<Self>> {
        let start = store.last_change_seq().await?;
        let (queue, announced) = mpsc::channel(QUEUE);
        let feed = Arc::new(Self { store, node, queue, start, dropped: AtomicU64::new(0) });
        tokio::spawn(append_announced(Arc::clone(&feed.store), feed.node.clone(), announced));
        Ok(feed)
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    /// Appends `change` now: the caller answers only once other nodes can read it (a
    /// revocation must not be acknowledged before it can reach them).
    pub async fn publish(&self, change: &Change) -> StoreResult<i64> {
        append(&*self.store, &self.node, change).await
    }

    /// Queues `change` to be appended in order, without waiting.
    pub fn announce(&self, change: Change) {
        if self.queue.try_send(change).is_err() {
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::warn!(dropped, "change feed queue full: a change was not sent to other nodes");
        }
    }
}

/// Appends `change` to the feed, dated by the wall clock: the feed's times only decide when
/// it is pruned, whatever clock the node's rules run on.
async fn append(store: &dyn Store, node: &str, change: &Change) -> StoreResult<i64> {
    let body = serde_json::to_string(change)
        .map_err(|e| vitrine_store::StoreError::Backend(e.to_string()))?;
    store.append_change(node, Utc::now(), &body).await
}

/// Appends queued changes one after the other, retrying while the database is away.
async fn append_announced(
    store: Arc<dyn Store>,
    node: String,
    mut announced: mpsc::Receiver<Change>,
) {
    while let Some(change) = announced.recv().await {
        let mut wait = Duration::from_millis(100);
        loop {
            match append(&*store, &node, &change).await {
                Ok(_) => break,
                Err(error) if wait < Duration::from_secs(30) => {
                    tracing::warn!(%error, "could not append to the change feed; retrying");
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
                Err(error) => {
                    tracing::error!(%error, "a change was not sent to other nodes");
                    break;
                }
            }
        }
    }
}

/// Reads every other node's changes and applies them here, until the process ends.
pub fn spawn_follower(state: AppState) {
    tokio::spawn(async move {
        let mut last = state.feed.start;
        loop {
            let mut signals = match state.store.change_signals().await {
                Ok(signals) => signals,
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for changes; reading the feed meanwhile");
                    catch_up(&state, &mut last).await;
                    tokio::time::sleep(CATCH_UP).await;
                    continue;
                }
            };
            loop {
                let lost = tokio::select! {
                    signal = signals.wait() => signal.is_err(),
                    () = tokio::time::sleep(CATCH_UP) => false,
                };
                catch_up(&state, &mut last).await;
                if lost {
                    tracing::warn!("lost the change announcements; listening again");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    break;
                }
            }
        }
    });
}

/// Applies the changes after `last` that other nodes made.
async fn catch_up(state: &AppState, last: &mut i64) {
    loop {
        let changes = match state.store.changes_after(*last, BATCH).await {
            Ok(changes) => changes,
            Err(error) => {
                tracing::warn!(%error, "could not read the change feed");
                return;
            }
        };
        let full = changes.len() == BATCH as usize;
        for record in changes {
            *last = record.seq;
            if record.node == state.feed.node {
                continue;
            }
            match serde_json::from_str::<Change>(&record.body) {
                Ok(change) => apply(state, change).await,
                // A newer node's change this one does not know: nothing of it is kept here.
                Err(error) => {
                    tracing::debug!(%error, seq = record.seq, "skipped an unknown change")
                }
            }
        }
        if !full {
            return;
        }
    }
}

async fn apply(state: &AppState, change: Change) {
    match change {
        Change::Revocation { scope, not_before } => {
            state.tokens.revoker.apply(Revocation { scope: scope.into(), not_before });
        }
        Change::UserExpiry { user, expires_at } => {
            state.tokens.revoker.apply_user_expiry(user, expires_at);
        }
        Change::Notice { org, notice } => {
            // A report's definition or capacity changed there.
            if let Notice::Report { report } = &notice {
                state.reads.forget_report(*report);
            }
            state.notices.publish_here(org, notice)
        }
        Change::Keys => {
            if let Err(error) = state.tokens.keys.reload().await {
                tracing::warn!(%error, "could not reload token signing keys");
            }
        }
        Change::Dataset { dataset } => {
            state.engine.close(&dataset.to_string());
        }
        Change::Connection { connection } => state.sources.forget(connection),
    }
}

/// Forgets changes older than [`KEPT_FOR`]; the leader calls it.
pub async fn prune(store: &dyn Store, now: DateTime<Utc>) {
    match store.prune_changes(now - KEPT_FOR).await {
        Ok(0) => {}
        Ok(pruned) => tracing::debug!(pruned, "pruned the change feed"),
        Err(error) => tracing::warn!(%error, "could not prune the change feed"),
    }
}
