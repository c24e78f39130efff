//! Taking tokens back. A revocation is stored first, so that it survives restarts, then takes
//! effect in this node's in-memory index, then is appended to the change feed, so that it
//! reaches other nodes before the change that asked for it answers; a revocation that could not
//! be stored is not applied, and that change answers an error.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use vitrine_core::settings::TOKEN_LIFETIME_MINUTES;
use vitrine_core::token::{LEEWAY_SECONDS, Revocation, RevocationIndex, RevocationScope, Snapshot};
use vitrine_core::{Clock, UserId};
use vitrine_store::{Store, StoreError};

use crate::cluster::{Change, ChangeFeed};

pub struct Revoker {
    store: Arc<dyn Store>,
    /// Carries revocations and expiry dates to the other nodes.
    feed: Arc<ChangeFeed>,
    clock: Arc<dyn Clock>,
    pub index: RevocationIndex,
    /// Counts changes of the index, so that open live channels look again at once.
    changes: tokio::sync::watch::Sender<u64>,
}

impl Revoker {
    /// Loads the revocations that can still matter (younger than the longest token lifetime)
    /// and every user's expiry date.
    pub async fn load(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        feed: Arc<ChangeFeed>,
    ) -> Result<Self, StoreError> {
        let index = RevocationIndex::default();
        let horizon = clock.now()
            - Duration::minutes(TOKEN_LIFETIME_MINUTES.max)
            - Duration::seconds(LEEWAY_SECONDS);
        for revocation in store.list_revocations(horizon.timestamp_millis()).await? {
            index.apply(revocation);
        }
        for (user, expiry) in store.user_expiries().await? {
            index.set_user_expiry(user, Some(expiry.timestamp()));
        }
        Ok(Self { store, feed, clock, index, changes: tokio::sync::watch::Sender::new(0) })
    }

    /// Refuses every token of `scope` issued before now, on this node and (through the feed)
    /// on every other. Call it after the change that revokes is stored: tokens whose snapshot
    /// came before this call are refused. It returns once other nodes can read it.
    pub async fn revoke(&self, scope: RevocationScope) -> Result<(), StoreError> {
        let revocation = self.index.revocation_at(scope, self.clock.now().timestamp_millis());
        self.store.record_revocation(&revocation).await?;
        self.apply(revocation);
        self.feed.publish(&Change::from(revocation)).await?;
        Ok(())
    }

    /// Takes a revocation into this node's index (one made here, or on another node).
    pub fn apply(&self, revocation: Revocation) {
        self.index.apply(revocation);
        self.changed();
    }

    /// The snapshot a request takes before it reads what it decides access with.
    pub fn snapshot(&self) -> Snapshot {
        self.index.snapshot(self.clock.now().timestamp_millis())
    }

    /// Wakes whoever watches for revocations (the live channels).
    fn changed(&self) {
        self.changes.send_modify(|count| *count = count.wrapping_add(1));
    }

    /// A receiver that sees every later change of the index.
    pub fn watch(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    pub async fn revoke_users(&self, users: &[UserId]) -> Result<(), StoreError> {
        for user in users {
            self.revoke(RevocationScope::User(*user)).await?;
        }
        Ok(())
    }

    /// Tokens of a user with an expiry date die with the account.
    pub fn set_user_expiry(&self, user: UserId, expires_at: Option<DateTime<Utc>>) {
        self.apply_user_expiry(user, expires_at);
        self.feed.announce(Change::UserExpiry { user, expires_at });
    }

    /// Takes a user's expiry date into this node's index (from here or another node).
    pub fn apply_user_expiry(&self, user: UserId, expires_at: Option<DateTime<Utc>>) {
        self.index.set_user_expiry(user, expires_at.map(|at| at.timestamp()));
        self.changed();
    }
}
