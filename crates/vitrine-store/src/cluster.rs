//! What several nodes on one database share besides the data: a feed of changes that every node
//! reads in order (revocations, key rotations, notices for open viewers, datasets to reopen),
//! and leases that let exactly one node at a time run a once-per-installation job.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::StoreResult;

/// One change in the feed, as the node that made it described it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRecord {
    /// Increases with every change, in the order the changes were committed.
    pub seq: i64,
    /// The node that made it (it has applied it already).
    pub node: String,
    pub at: DateTime<Utc>,
    /// The change itself, serialized by the server; the store does not read it.
    pub body: String,
}

#[async_trait]
pub trait ClusterStore {
    /// Appends a change after every change committed before it, and wakes the nodes that
    /// listen; returns its sequence number.
    async fn append_change(&self, node: &str, at: DateTime<Utc>, body: &str) -> StoreResult<i64>;
    /// The changes after `seq`, oldest first, at most `limit`.
    async fn changes_after(&self, seq: i64, limit: u32) -> StoreResult<Vec<ChangeRecord>>;
    /// The sequence number of the latest change (0 when there is none): where a starting node
    /// begins reading, since what came before is already in what it loads at start.
    async fn last_change_seq(&self) -> StoreResult<i64>;
    /// Forgets changes made before `before`; returns how many.
    async fn prune_changes(&self, before: DateTime<Utc>) -> StoreResult<u64>;
    /// Wake-ups when a change is appended on any node. A backend with no way to push them
    /// (SQLite: one node) answers a signal that never fires, and readers poll.
    async fn change_signals(&self) -> StoreResult<Box<dyn ChangeSignals>>;
    /// Takes the lease `name` for `holder`, or renews it, for `ttl_ms` from the database's own
    /// clock (nodes' clocks may differ): true when `holder` holds it now. Another holder's
    /// lease is taken only once it has expired.
    async fn hold_lease(&self, name: &str, holder: &str, ttl_ms: i64) -> StoreResult<bool>;
    /// Gives the lease up, if `holder` holds it, so another node takes it at once.
    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()>;
}

#[async_trait]
pub trait ChangeSignals: Send {
    /// Waits until a change may have been appended: one was announced, or the announcing
    /// channel was lost and re-established (announcements in between are lost: read the feed).
    async fn wait(&mut self) -> StoreResult<()>;
}

/// The signals of a backend that announces nothing.
pub struct NoSignals;

#[async_trait]
impl ChangeSignals for NoSignals {
    async fn wait(&mut self) -> StoreResult<()> {
        std::future::pending().await
    }
}
