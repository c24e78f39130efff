//! Which tokens are no longer good, kept in memory so that verification never waits on the
//! database. A revocation is a "not before" instant for a user, an organization or a report:
//! tokens issued earlier are refused. Revocations are plain values, so the same events that
//! update this node can be stored and sent to other nodes.
//!
//! Instants are Unix milliseconds, and the index keeps revocations and issues strictly
//! ordered: a revocation is always later than every token issued before it, and a token issued
//! after a revocation is always dated at or after it, even within one millisecond (or under a
//! test clock that does not move).

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicI64, Ordering};

use super::{EmbedClaims, TokenError};
use crate::ids::{OrgId, ReportId, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RevocationScope {
    User(UserId),
    Organization(OrgId),
    Report(ReportId),
}

/// Tokens of `scope` issued before `not_before` (Unix milliseconds) are revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revocation {
    pub scope: RevocationScope,
    pub not_before: i64,
}

#[derive(Debug)]
pub struct RevocationIndex {
    not_before: RwLock<HashMap<RevocationScope, i64>>,
    /// Users' expiry dates (Unix seconds): their tokens die with their accounts.
    user_expiry: RwLock<HashMap<UserId, i64>>,
    /// The latest issue instant handed out by this node.
    last_issued: AtomicI64,
}

impl Default for RevocationIndex {
    fn default() -> Self {
        Self {
            not_before: RwLock::default(),
            user_expiry: RwLock::default(),
            last_issued: AtomicI64::new(i64::MIN),
        }
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poison| poison.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|poison| poison.into_inner())
}

impl RevocationIndex {
    /// A revocation of `scope` made at `now_millis`: later than `now_millis` and than every
    /// token this node has issued.
    pub fn revocation_at(&self, scope: RevocationScope, now_millis: i64) -> Revocation {
        let after_issued = self.last_issued.load(Ordering::SeqCst).saturating_add(1);
        Revocation { scope, not_before: now_millis.saturating_add(1).max(after_issued) }
    }

    /// Records a revocation; an earlier one never undoes a later one.
    pub fn apply(&self, revocation: Revocation) {
        let mut map = write(&self.not_before);
        let entry = map.entry(revocation.scope).or_insert(revocation.not_before);
        *entry = (*entry).max(revocation.not_before);
    }

    /// The instant to date a new token for this user and report with: now, or the latest
    /// revocation that applies to it if that is later.
    pub fn issue_instant(
        &self,
        org: OrgId,
        user: UserId,
        report: ReportId,
        now_millis: i64,
    ) -> i64 {
        let instant = now_millis.max(self.earliest_issue(org, user, report));
        self.last_issued.fetch_max(instant, Ordering::SeqCst);
        instant
    }

    pub fn set_user_expiry(&self, user: UserId, expires_at: Option<i64>) {
        let mut map = write(&self.user_expiry);
        match expires_at {
            Some(at) => map.insert(user, at),
            None => map.remove(&user),
        };
    }

    /// `Revoked` when a revocation or the user's expiry applies to these claims at `now`
    /// (Unix seconds).
    pub fn check(&self, claims: &EmbedClaims, now: i64) -> Result<(), TokenError> {
        if claims.iat_ms < self.earliest_issue(claims.org, claims.sub, claims.report) {
            return Err(TokenError::Revoked);
        }
        if read(&self.user_expiry).get(&claims.sub).is_some_and(|expiry| now >= *expiry) {
            return Err(TokenError::Revoked);
        }
        Ok(())
    }

    /// The earliest issue instant a token for this user and report may carry and be valid.
    fn earliest_issue(&self, org: OrgId, user: UserId, report: ReportId) -> i64 {
        let map = read(&self.not_before);
        [
            RevocationScope::Organization(org),
            RevocationScope::User(user),
            RevocationScope::Report(report),
        ]
        .iter()
        .filter_map(|scope| map.get(scope).copied())
        .max()
        .unwrap_or(i64::MIN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::{AccessLevel, RlsIdentity};

    fn claims(iat_ms: i64) -> EmbedClaims {
        EmbedClaims {
            iss: "http://vitrine.test".into(),
            aud: crate::token::AUDIENCE.into(),
            sub: UserId::generate(),
            org: OrgId::generate(),
            report: ReportId::generate(),
            access: AccessLevel::View,
            rls: RlsIdentity::default(),
            iat: iat_ms / 1000,
            iat_ms,
            nbf: iat_ms / 1000,
            exp: iat_ms / 1000 + 3600,
            jti: uuid::Uuid::now_v7(),
        }
    }

    #[test]
    fn tokens_issued_before_a_revocation_of_their_user_org_or_report_are_revoked() {
        let token = claims(1_000_000);
        for scope in [
            RevocationScope::User(token.sub),
            RevocationScope::Organization(token.org),
            RevocationScope::Report(token.report),
        ] {
            let index = RevocationIndex::default();
            assert_eq!(index.check(&token, 1_001), Ok(()));
            index.apply(index.revocation_at(scope, 1_000_500));
            assert_eq!(index.check(&token, 1_001), Err(TokenError::Revoked), "{scope:?}");
            let instant = index.issue_instant(token.org, token.sub, token.report, 1_000_500);
            assert_eq!(instant, 1_000_501, "a token issued after it is dated after it");
            let reissued = EmbedClaims { iat_ms: instant, ..token.clone() };
            assert_eq!(index.check(&reissued, 1_001), Ok(()), "{scope:?}");
        }
        let index = RevocationIndex::default();
        index.apply(index.revocation_at(RevocationScope::User(UserId::generate()), 2_000_000));
        assert_eq!(index.check(&token, 1_001), Ok(()), "other users' revocations do not apply");
    }

    #[test]
    fn revocations_and_issues_stay_ordered_even_when_the_clock_stands_still() {
        let index = RevocationIndex::default();
        let token = claims(5_000);
        let now = 5_000;
        let scope = RevocationScope::User(token.sub);
        let issued_at =
            |index: &RevocationIndex| index.issue_instant(token.org, token.sub, token.report, now);
        let first = EmbedClaims { iat_ms: issued_at(&index), ..token.clone() };
        index.apply(index.revocation_at(scope, now));
        assert_eq!(
            index.check(&first, 5),
            Err(TokenError::Revoked),
            "issued at the same instant, before"
        );
        let second = EmbedClaims { iat_ms: issued_at(&index), ..token.clone() };
        assert_eq!(index.check(&second, 5), Ok(()));
        index.apply(index.revocation_at(RevocationScope::Organization(token.org), now));
        assert_eq!(
            index.check(&second, 5),
            Err(TokenError::Revoked),
            "a second revocation still revokes it"
        );
        let third = EmbedClaims { iat_ms: issued_at(&index), ..token.clone() };
        assert_eq!(index.check(&third, 5), Ok(()));
        assert!(third.iat_ms - now <= 2, "dated at most a few milliseconds ahead");
    }

    #[test]
    fn later_revocations_win_and_earlier_ones_never_undo_them() {
        let index = RevocationIndex::default();
        let token = claims(1_500);
        index.apply(Revocation { scope: RevocationScope::User(token.sub), not_before: 2_000 });
        index.apply(Revocation { scope: RevocationScope::User(token.sub), not_before: 1_000 });
        assert_eq!(index.check(&token, 1), Err(TokenError::Revoked));
    }

    #[test]
    fn tokens_die_with_their_users_expiry_date() {
        let index = RevocationIndex::default();
        let token = claims(1_000_000);
        index.set_user_expiry(token.sub, Some(1_100));
        assert_eq!(index.check(&token, 1_099), Ok(()));
        assert_eq!(index.check(&token, 1_100), Err(TokenError::Revoked));
        index.set_user_expiry(token.sub, None);
        assert_eq!(index.check(&token, 5_000), Ok(()));
    }
}
