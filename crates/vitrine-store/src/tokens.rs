//! What embed tokens are signed and checked with: the signing keys, revocations and users'
//! expiry dates.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use vitrine_core::UserId;
use vitrine_core::token::Revocation;

use crate::{StoreResult, StoredSigningKey};

#[async_trait]
pub trait TokenStore: Send + Sync {
    // Embed token signing keys (installation level).
    async fn insert_signing_key(&self, key: &StoredSigningKey) -> StoreResult<()>;
    /// Every key, retired ones included, oldest first.
    async fn list_signing_keys(&self) -> StoreResult<Vec<StoredSigningKey>>;
    async fn retire_signing_key(&self, kid: &str, at: DateTime<Utc>) -> StoreResult<()>;

    // Token revocations: a later "not before" replaces an earlier one, never the reverse.
    async fn record_revocation(&self, revocation: &Revocation) -> StoreResult<()>;
    /// Revocations whose "not before" is at or after `since` (Unix milliseconds); older ones
    /// can no longer affect a token that has not expired.
    async fn list_revocations(&self, since: i64) -> StoreResult<Vec<Revocation>>;
    /// Every user with an expiry date, for the in-memory revocation index.
    async fn user_expiries(&self) -> StoreResult<Vec<(UserId, DateTime<Utc>)>>;
}
