//! Which tokens are no longer good, kept in memory so that verification never waits on the
//! database. A revocation is a "not before" time for a user, an organization or a report:
//! tokens issued earlier are refused. Revocations are plain values, so the same events that
//! update this node can be stored and sent to other nodes.

use std::collections::HashMap;
use std::sync::RwLock;

use super::{EmbedClaims, TokenError};
use crate::ids::{OrgId, ReportId, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RevocationScope {
    User(UserId),
    Organization(OrgId),
    Report(ReportId),
}

/// Tokens of `scope` issued before `not_before` (Unix seconds) are revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revocation {
    pub scope: RevocationScope,
    pub not_before: i64,
}

impl Revocation {
    /// A revocation taking effect at `at_millis`. Rounded up to the next whole second: a token
    /// issued in the same second, before the change, has `iat` below it; the issuer never
    /// issues a token with `iat` below it (see [`RevocationIndex::earliest_iat`]).
    pub fn at(scope: RevocationScope, at_millis: i64) -> Self {
        Self {
            scope,
            not_before: at_millis.div_euclid(1000) + i64::from(at_millis.rem_euclid(1000) != 0),
        }
    }
}

#[derive(Debug, Default)]
pub struct RevocationIndex {
    not_before: RwLock<HashMap<RevocationScope, i64>>,
    /// Users' expiry dates (Unix seconds): their tokens die with their accounts.
    user_expiry: RwLock<HashMap<UserId, i64>>,
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poison| poison.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|poison| poison.into_inner())
}

impl RevocationIndex {
    /// Records a revocation; an earlier one never undoes a later one.
    pub fn apply(&self, revocation: Revocation) {
        let mut map = write(&self.not_before);
        let entry = map.entry(revocation.scope).or_insert(revocation.not_before);
        *entry = (*entry).max(revocation.not_before);
    }

    pub fn set_user_expiry(&self, user: UserId, expires_at: Option<i64>) {
        let mut map = write(&self.user_expiry);
        match expires_at {
            Some(at) => map.insert(user, at),
            None => map.remove(&user),
        };
    }

    /// `Revoked` when a revocation or the user's expiry applies to these claims at `now`.
    pub fn check(&self, claims: &EmbedClaims, now: i64) -> Result<(), TokenError> {
        if claims.iat < self.earliest_iat(claims.org, claims.sub, claims.report) {
            return Err(TokenError::Revoked);
        }
        if read(&self.user_expiry).get(&claims.sub).is_some_and(|expiry| now >= *expiry) {
            return Err(TokenError::Revoked);
        }
        Ok(())
    }

    /// The earliest `iat` a token for this user and report may carry and still be valid.
    pub fn earliest_iat(&self, org: OrgId, user: UserId, report: ReportId) -> i64 {
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

    fn claims(iat: i64) -> EmbedClaims {
        EmbedClaims {
            iss: "http://vitrine.test".into(),
            aud: crate::token::AUDIENCE.into(),
            sub: UserId::generate(),
            org: OrgId::generate(),
            report: ReportId::generate(),
            access: AccessLevel::View,
            rls: RlsIdentity::default(),
            iat,
            nbf: iat,
            exp: iat + 3600,
            jti: uuid::Uuid::now_v7(),
        }
    }

    #[test]
    fn tokens_issued_before_a_revocation_of_their_user_org_or_report_are_revoked() {
        let index = RevocationIndex::default();
        let token = claims(1_000);
        assert_eq!(index.check(&token, 1_001), Ok(()));
        for scope in [
            RevocationScope::User(token.sub),
            RevocationScope::Organization(token.org),
            RevocationScope::Report(token.report),
        ] {
            let index = RevocationIndex::default();
            index.apply(Revocation::at(scope, 1_000_500));
            assert_eq!(index.check(&token, 1_001), Err(TokenError::Revoked), "{scope:?}");
            assert_eq!(index.earliest_iat(token.org, token.sub, token.report), 1_001);
            let reissued = EmbedClaims { iat: 1_001, nbf: 1_001, ..token.clone() };
            assert_eq!(index.check(&reissued, 1_001), Ok(()), "a token issued after it is good");
        }
        index.apply(Revocation::at(RevocationScope::User(UserId::generate()), 2_000_000));
        assert_eq!(index.check(&token, 1_001), Ok(()), "other users' revocations do not apply");
    }

    #[test]
    fn a_revocation_in_the_same_second_revokes_tokens_issued_before_it_in_that_second() {
        // Issued at 1000.2 s (iat 1000), revoked at 1000.5 s: not_before rounds up to 1001.
        let revocation =
            Revocation::at(RevocationScope::Organization(OrgId::generate()), 1_000_500);
        assert_eq!(revocation.not_before, 1_001);
        assert_eq!(
            Revocation::at(RevocationScope::Organization(OrgId::generate()), 1_000_000).not_before,
            1_000
        );
    }

    #[test]
    fn later_revocations_win_and_earlier_ones_never_undo_them() {
        let index = RevocationIndex::default();
        let token = claims(1_500);
        index.apply(Revocation { scope: RevocationScope::User(token.sub), not_before: 2_000 });
        index.apply(Revocation { scope: RevocationScope::User(token.sub), not_before: 1_000 });
        assert_eq!(index.check(&token, 1_600), Err(TokenError::Revoked));
    }

    #[test]
    fn tokens_die_with_their_users_expiry_date() {
        let index = RevocationIndex::default();
        let token = claims(1_000);
        index.set_user_expiry(token.sub, Some(1_100));
        assert_eq!(index.check(&token, 1_099), Ok(()));
        assert_eq!(index.check(&token, 1_100), Err(TokenError::Revoked));
        index.set_user_expiry(token.sub, None);
        assert_eq!(index.check(&token, 5_000), Ok(()));
    }
}
