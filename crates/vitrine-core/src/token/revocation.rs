//! Which tokens are no longer good, kept in memory so that verification never waits on the
//! database. A revocation is a "not before" instant for a user, an organization or a report:
//! tokens issued earlier are refused. Revocations are plain values, so the same events that
//! update this node can be stored and sent to other nodes.
//!
//! Instants are Unix milliseconds on one logical clock that never runs backwards and orders
//! every snapshot and every revocation of this node strictly:
//!
//! - a token request takes a [`Snapshot`] *before* it reads anything it decides access with
//!   (the session, the grants, the row-level-security roles), and the token is dated with it;
//! - a revocation, made *after* the change it stands for is stored, is dated later than every
//!   snapshot taken so far, and every later snapshot is dated at or after it.
//!
//! So whatever the interleaving, a token whose reads may have missed a change is dated before
//! the revocation that follows the change, and refused; a token dated at or after it read the
//! changed state. This holds within one millisecond and under a test clock that stands still.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicI64, Ordering};

use super::{EmbedClaims, Subject, TokenError};
use crate::ids::{IdentityId, OrgId, ReportId, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RevocationScope {
    User(UserId),
    /// A host app's user, whose tokens an embed key minted.
    Identity(IdentityId),
    Organization(OrgId),
    Report(ReportId),
}

impl From<Subject> for RevocationScope {
    fn from(subject: Subject) -> Self {
        match subject {
            Subject::User(id) => RevocationScope::User(id),
            Subject::Identity(id) => RevocationScope::Identity(id),
        }
    }
}

/// Tokens of `scope` issued before `not_before` (Unix milliseconds) are revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revocation {
    pub scope: RevocationScope,
    pub not_before: i64,
}

/// The instant a request began to read the state it decides access with. A token issued for
/// the request is dated with it, never later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Snapshot(i64);

impl Snapshot {
    /// Unix milliseconds on the index's logical clock.
    pub fn millis(self) -> i64 {
        self.0
    }
}

#[derive(Debug)]
pub struct RevocationIndex {
    not_before: RwLock<HashMap<RevocationScope, i64>>,
    /// Users' expiry dates (Unix seconds): their tokens die with their accounts.
    user_expiry: RwLock<HashMap<UserId, i64>>,
    /// The logical clock: the latest snapshot or revocation instant of this node.
    clock: AtomicI64,
}

impl Default for RevocationIndex {
    fn default() -> Self {
        Self {
            not_before: RwLock::default(),
            user_expiry: RwLock::default(),
            clock: AtomicI64::new(i64::MIN),
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
    /// Moves the logical clock to `max(clock, at_least)` and answers the new value.
    fn advance(&self, at_least: impl Fn(i64) -> i64) -> i64 {
        let previous = self
            .clock
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |clock| {
                Some(clock.max(at_least(clock)))
            })
            .unwrap_or_else(|clock| clock);
        previous.max(at_least(previous))
    }

    /// A snapshot for a request starting at `now_millis`: at or after every revocation made
    /// so far, so tokens dated with it are not refused by them.
    pub fn snapshot(&self, now_millis: i64) -> Snapshot {
        Snapshot(self.advance(|_| now_millis))
    }

    /// A revocation of `scope` made at `now_millis`: later than `now_millis` and than every
    /// snapshot taken so far. Make it only once the change it stands for is stored.
    pub fn revocation_at(&self, scope: RevocationScope, now_millis: i64) -> Revocation {
        let not_before =
            self.advance(|clock| clock.saturating_add(1).max(now_millis.saturating_add(1)));
        Revocation { scope, not_before }
    }

    /// Records a revocation; an earlier one never undoes a later one. Snapshots taken after
    /// this are dated at or after it (this matters for revocations loaded or received).
    pub fn apply(&self, revocation: Revocation) {
        self.advance(|_| revocation.not_before);
        let mut map = write(&self.not_before);
        let entry = map.entry(revocation.scope).or_insert(revocation.not_before);
        *entry = (*entry).max(revocation.not_before);
    }

    /// Whether a token for this subject and these reports dated `snapshot` would be refused:
    /// a change that revokes it was made after the snapshot, so what the request read may be
    /// stale.
    pub fn revoked_since(
        &self,
        org: OrgId,
        subject: Subject,
        reports: &[ReportId],
        snapshot: Snapshot,
    ) -> bool {
        snapshot.0 < self.earliest_issue(org, subject, reports)
    }

    pub fn set_user_expiry(&self, user: UserId, expires_at: Option<i64>) {
        let mut map = write(&self.user_expiry);
        match expires_at {
            Some(at) => map.insert(user, at),
            None => map.remove(&user),
        };
    }

    /// `Revoked` when a revocation or the user's expiry applies to these claims at `now`
    /// (Unix seconds). A revocation of any of the token's reports refuses the whole token.
    pub fn check(&self, claims: &EmbedClaims, now: i64) -> Result<(), TokenError> {
        if claims.iat_ms < self.earliest_issue(claims.org, claims.sub, &claims.reports) {
            return Err(TokenError::Revoked);
        }
        if let Subject::User(user) = claims.sub
            && read(&self.user_expiry).get(&user).is_some_and(|expiry| now >= *expiry)
        {
            return Err(TokenError::Revoked);
        }
        Ok(())
    }

    /// The earliest issue instant a token for this subject and these reports may carry and
    /// be valid.
    fn earliest_issue(&self, org: OrgId, subject: Subject, reports: &[ReportId]) -> i64 {
        let map = read(&self.not_before);
        [RevocationScope::Organization(org), subject.into()]
            .into_iter()
            .chain(reports.iter().map(|report| RevocationScope::Report(*report)))
            .filter_map(|scope| map.get(&scope).copied())
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
            sub: Subject::User(UserId::generate()),
            org: OrgId::generate(),
            reports: vec![ReportId::generate()],
            access: AccessLevel::View,
            rls: RlsIdentity::default(),
            iat: iat_ms / 1000,
            iat_ms,
            nbf: iat_ms / 1000,
            exp: iat_ms / 1000 + 3600,
            jti: uuid::Uuid::now_v7(),
            keeps_capacity_on: false,
        }
    }

    #[test]
    fn tokens_issued_before_a_revocation_of_their_user_org_or_report_are_revoked() {
        let token = claims(1_000_000);
        for scope in [
            token.sub.into(),
            RevocationScope::Organization(token.org),
            RevocationScope::Report(token.reports[0]),
        ] {
            let index = RevocationIndex::default();
            assert_eq!(index.check(&token, 1_001), Ok(()));
            index.apply(index.revocation_at(scope, 1_000_500));
            assert_eq!(index.check(&token, 1_001), Err(TokenError::Revoked), "{scope:?}");
            let instant = index.snapshot(1_000_500).millis();
            assert_eq!(instant, 1_000_501, "a token issued after it is dated at it");
            let reissued = EmbedClaims { iat_ms: instant, ..token.clone() };
            assert_eq!(index.check(&reissued, 1_001), Ok(()), "{scope:?}");
        }
        let index = RevocationIndex::default();
        index.apply(index.revocation_at(RevocationScope::User(UserId::generate()), 2_000_000));
        assert_eq!(index.check(&token, 1_001), Ok(()), "other users' revocations do not apply");
    }

    #[test]
    fn a_host_apps_users_tokens_are_revoked_by_their_identity_and_by_any_of_their_reports() {
        let identity = IdentityId::generate();
        let (first, second) = (ReportId::generate(), ReportId::generate());
        let token = EmbedClaims {
            sub: Subject::Identity(identity),
            reports: vec![first, second],
            ..claims(1_000_000)
        };
        for scope in [
            RevocationScope::Identity(identity),
            RevocationScope::Report(first),
            RevocationScope::Report(second),
            RevocationScope::Organization(token.org),
        ] {
            let index = RevocationIndex::default();
            assert_eq!(index.check(&token, 1_001), Ok(()));
            index.apply(index.revocation_at(scope, 1_000_500));
            assert_eq!(index.check(&token, 1_001), Err(TokenError::Revoked), "{scope:?}");
        }
        let index = RevocationIndex::default();
        index.apply(
            index.revocation_at(RevocationScope::Identity(IdentityId::generate()), 2_000_000),
        );
        index.apply(index.revocation_at(RevocationScope::Report(ReportId::generate()), 2_000_000));
        assert_eq!(index.check(&token, 1_001), Ok(()), "another identity's, another report's");
        // An identity and a user never share a revocation, whatever their ids.
        let same_uuid = Subject::User(UserId::from(identity.as_uuid()));
        index.apply(index.revocation_at(same_uuid.into(), 3_000_000));
        assert_eq!(index.check(&token, 1_001), Ok(()));
    }

    #[test]
    fn revocations_and_issues_stay_ordered_even_when_the_clock_stands_still() {
        let index = RevocationIndex::default();
        let token = claims(5_000);
        let now = 5_000;
        let scope = token.sub.into();
        let issued_at = |index: &RevocationIndex| index.snapshot(now).millis();
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
    fn a_token_whose_snapshot_precedes_a_revocation_is_refused_though_signed_after_it() {
        let index = RevocationIndex::default();
        let token = claims(0);
        // The request reads access at its snapshot; meanwhile the access is removed and the
        // revocation made; the token is signed only afterwards, at a later wall-clock time.
        let snapshot = index.snapshot(10_000);
        index.apply(index.revocation_at(token.sub.into(), 10_000));
        assert!(index.revoked_since(token.org, token.sub, &token.reports, snapshot));
        let signed_late = EmbedClaims { iat_ms: snapshot.millis(), ..token.clone() };
        assert_eq!(index.check(&signed_late, 11), Err(TokenError::Revoked));
        let next = index.snapshot(10_000);
        assert!(!index.revoked_since(token.org, token.sub, &token.reports, next));
    }

    #[test]
    fn snapshots_and_revocations_racing_on_two_threads_stay_ordered() {
        use std::sync::Arc;
        let index = Arc::new(RevocationIndex::default());
        // The latest snapshot taken and the latest revocation applied, published after the
        // fact: a revocation made later must be dated after the one, a snapshot taken later
        // at or after the other.
        let taken = Arc::new(AtomicI64::new(i64::MIN));
        let applied = Arc::new(AtomicI64::new(i64::MIN));
        let scope = RevocationScope::User(UserId::generate());
        let revoking = {
            let (index, taken, applied) = (index.clone(), taken.clone(), applied.clone());
            std::thread::spawn(move || {
                for _ in 0..20_000 {
                    let before = taken.load(Ordering::SeqCst);
                    let revocation = index.revocation_at(scope, 7);
                    assert!(revocation.not_before > before, "dated after every snapshot taken");
                    index.apply(revocation);
                    applied.fetch_max(revocation.not_before, Ordering::SeqCst);
                }
            })
        };
        for _ in 0..20_000 {
            let seen = applied.load(Ordering::SeqCst);
            let snapshot = index.snapshot(7);
            assert!(snapshot.millis() >= seen, "dated at or after every revocation applied");
            taken.fetch_max(snapshot.millis(), Ordering::SeqCst);
        }
        revoking.join().unwrap();
    }

    #[test]
    fn later_revocations_win_and_earlier_ones_never_undo_them() {
        let index = RevocationIndex::default();
        let token = claims(1_500);
        index.apply(Revocation { scope: token.sub.into(), not_before: 2_000 });
        index.apply(Revocation { scope: token.sub.into(), not_before: 1_000 });
        assert_eq!(index.check(&token, 1), Err(TokenError::Revoked));
    }

    #[test]
    fn tokens_die_with_their_users_expiry_date() {
        let index = RevocationIndex::default();
        let token = claims(1_000_000);
        index.set_user_expiry(token.sub.user().unwrap(), Some(1_100));
        assert_eq!(index.check(&token, 1_099), Ok(()));
        assert_eq!(index.check(&token, 1_100), Err(TokenError::Revoked));
        index.set_user_expiry(token.sub.user().unwrap(), None);
        assert_eq!(index.check(&token, 5_000), Ok(()));
    }
}
