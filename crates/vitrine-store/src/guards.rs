//! The guards every node shares: allowances (sign-in attempts per address, password-reset mails
//! per address) and the lockout of emails that belong to nobody. On one database, a client
//! spending its allowance on one node has spent it on all, and an email locked on one node
//! answers `AccountLocked` on every other, exactly as a real account would.
//!
//! The rules are the core's ([`AllowanceRule`], [`LockoutRule`]); a backend only keeps each
//! key's record and makes concurrent attempts on one key take their turn.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use vitrine_core::allowance::AllowanceRule;
use vitrine_core::lockout::{Gate, LockoutRule};

use crate::StoreResult;

#[async_trait]
pub trait GuardStore: Send + Sync {
    /// Takes one attempt from `key`'s allowance under `rule`: false when none is left. A
    /// refused attempt writes nothing.
    async fn take_allowance(
        &self,
        key: &str,
        rule: &AllowanceRule,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Counts a sign-in attempt on an email no account has (`key`: a digest of it) under
    /// `rule`, as [`crate::UserStore::begin_login_attempt`] counts one on an account.
    /// The count is forgotten once `forget_after` has passed without an attempt.
    async fn begin_stranger_attempt(
        &self,
        key: &str,
        rule: &LockoutRule,
        now: DateTime<Utc>,
        forget_after: chrono::Duration,
    ) -> StoreResult<Gate>;
    /// Forgets allowances whole again and strangers' counts past their time, as of `now`;
    /// returns how many records went.
    async fn prune_guards(&self, now: DateTime<Utc>) -> StoreResult<u64>;
}

/// When a stranger's count may be forgotten: `forget_after` past its last attempt, or past
/// the end of its lock.
pub fn stranger_forget_at(
    attempts: &vitrine_core::lockout::Attempts,
    now: DateTime<Utc>,
    forget_after: chrono::Duration,
) -> DateTime<Utc> {
    attempts.locked_until.map_or(now, |until| until.max(now)) + forget_after
}
