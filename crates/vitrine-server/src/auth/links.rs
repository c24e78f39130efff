//! Emailed links that let a person choose a password: invitations (7 days) and password
//! resets (1 hour). A link is stateless: it carries the user, its kind and its expiry, sealed
//! by an HMAC (key derived from the master key) over those and the user's email and current
//! password hash. Nothing is stored, so asking for a reset writes nothing; a link works once,
//! because using it changes the password hash it is bound to (and the store sets the new
//! password only if the hash is still the one the link was checked against).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use vitrine_core::{OrgId, UserId};
use vitrine_store::User;

const VERSION: u8 = 1;
/// version, kind, organization, user, expiry, MAC.
const LENGTH: usize = 1 + 1 + 16 + 16 + 8 + 32;
/// Longer input is refused before decoding.
pub const MAX_TOKEN_CHARS: usize = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    Invitation,
    PasswordReset,
}

impl LinkKind {
    pub fn lifetime(self) -> Duration {
        match self {
            LinkKind::Invitation => Duration::days(7),
            LinkKind::PasswordReset => Duration::hours(1),
        }
    }

    fn byte(self) -> u8 {
        match self {
            LinkKind::Invitation => 1,
            LinkKind::PasswordReset => 2,
        }
    }

    /// The page the link opens; the token travels in the fragment, which browsers never send
    /// to a server or put in a Referer.
    pub fn path(self) -> &'static str {
        match self {
            LinkKind::Invitation => "/welcome",
            LinkKind::PasswordReset => "/password/reset",
        }
    }
}

/// What a link claims, before it is checked against the user it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkClaims {
    pub kind: LinkKind,
    pub org: OrgId,
    pub user: UserId,
    pub expires_at: DateTime<Utc>,
    mac: [u8; 32],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("this link is not valid")]
    Malformed,
    #[error("this link has expired")]
    Expired,
    /// Used already, made for an older password or email, or not made by this server.
    #[error("this link was already used or is no longer valid")]
    Spent,
}

#[derive(Clone)]
pub struct LinkKeys {
    key: [u8; 32],
}

impl std::fmt::Debug for LinkKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkKeys(…)")
    }
}

impl LinkKeys {
    pub fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    /// A link token for `user`, whose stored password hash is `password_hash` now.
    pub fn issue(
        &self,
        kind: LinkKind,
        user: &User,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> (String, DateTime<Utc>) {
        let expires_at = now + kind.lifetime();
        let mut bytes = Vec::with_capacity(LENGTH);
        bytes.push(VERSION);
        bytes.push(kind.byte());
        bytes.extend_from_slice(user.org_id.as_uuid().as_bytes());
        bytes.extend_from_slice(user.id.as_uuid().as_bytes());
        bytes.extend_from_slice(&expires_at.timestamp_millis().to_be_bytes());
        let mac = self.mac(&bytes, &user.email, password_hash);
        bytes.extend_from_slice(&mac);
        (URL_SAFE_NO_PAD.encode(bytes), expires_at)
    }

    /// Reads a token's claims; checks its form and expiry, not yet its MAC.
    pub fn read(
        &self,
        kind: LinkKind,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<LinkClaims, LinkError> {
        if token.len() > MAX_TOKEN_CHARS {
            return Err(LinkError::Malformed);
        }
        let bytes = URL_SAFE_NO_PAD.decode(token.trim()).map_err(|_| LinkError::Malformed)?;
        if bytes.len() != LENGTH || bytes[0] != VERSION || bytes[1] != kind.byte() {
            return Err(LinkError::Malformed);
        }
        let uuid = |range: std::ops::Range<usize>| {
            uuid::Uuid::from_slice(&bytes[range]).map_err(|_| LinkError::Malformed)
        };
        let org = OrgId::from(uuid(2..18)?);
        let user = UserId::from(uuid(18..34)?);
        let mut expiry = [0u8; 8];
        expiry.copy_from_slice(&bytes[34..42]);
        let expires_at = DateTime::from_timestamp_millis(i64::from_be_bytes(expiry))
            .ok_or(LinkError::Malformed)?;
        let mut mac = [0u8; 32];
        mac.copy_from_slice(&bytes[42..]);
        if now >= expires_at {
            return Err(LinkError::Expired);
        }
        Ok(LinkClaims { kind, org, user, expires_at, mac })
    }

    /// Whether the claims were made for this user as they are now (email and password hash).
    pub fn verify(
        &self,
        claims: &LinkClaims,
        user: &User,
        password_hash: &str,
    ) -> Result<(), LinkError> {
        let mut bytes = Vec::with_capacity(LENGTH - 32);
        bytes.push(VERSION);
        bytes.push(claims.kind.byte());
        bytes.extend_from_slice(claims.org.as_uuid().as_bytes());
        bytes.extend_from_slice(claims.user.as_uuid().as_bytes());
        bytes.extend_from_slice(&claims.expires_at.timestamp_millis().to_be_bytes());
        // `verify_slice` compares in constant time.
        self.hmac(&bytes, &user.email, password_hash)
            .verify_slice(&claims.mac)
            .map_err(|_| LinkError::Spent)
    }

    fn hmac(&self, head: &[u8], email: &str, password_hash: &str) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(head);
        // Lengths first, so that no two (email, hash) pairs feed the same bytes.
        mac.update(&(email.len() as u64).to_be_bytes());
        mac.update(email.as_bytes());
        mac.update(&(password_hash.len() as u64).to_be_bytes());
        mac.update(password_hash.as_bytes());
        mac
    }

    fn mac(&self, head: &[u8], email: &str, password_hash: &str) -> [u8; 32] {
        self.hmac(head, email, password_hash).finalize().into_bytes().into()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use vitrine_core::Role;

    use super::*;

    fn user() -> User {
        let at = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
        User {
            id: UserId::generate(),
            org_id: OrgId::generate(),
            email: "ada@example.com".into(),
            name: "Ada".into(),
            role: Role::Viewer,
            blocked: false,
            expires_at: None,
            locked_until: None,
            created_at: at,
            updated_at: at,
            password_set: false,
            operator: false,
            display: false,
        }
    }

    fn keys() -> LinkKeys {
        LinkKeys::new([7; 32])
    }

    #[test]
    fn a_link_verifies_for_the_user_it_was_made_for_until_it_expires() {
        let user = user();
        let now = user.created_at;
        let (token, expires) = keys().issue(LinkKind::Invitation, &user, "", now);
        assert_eq!(expires, now + Duration::days(7));
        assert!(token.len() <= MAX_TOKEN_CHARS);
        let claims = keys().read(LinkKind::Invitation, &token, now).unwrap();
        assert_eq!((claims.org, claims.user), (user.org_id, user.id));
        keys().verify(&claims, &user, "").unwrap();
        let late = keys().read(LinkKind::Invitation, &token, expires).unwrap_err();
        assert_eq!(late, LinkError::Expired);
    }

    #[test]
    fn a_link_is_spent_once_the_password_or_email_changes() {
        let user = user();
        let (token, _) = keys().issue(LinkKind::PasswordReset, &user, "$old", user.created_at);
        let claims = keys().read(LinkKind::PasswordReset, &token, user.created_at).unwrap();
        assert_eq!(keys().verify(&claims, &user, "$new"), Err(LinkError::Spent));
        let moved = User { email: "eve@example.com".into(), ..user.clone() };
        assert_eq!(keys().verify(&claims, &moved, "$old"), Err(LinkError::Spent));
        let other_key = LinkKeys::new([8; 32]);
        assert_eq!(other_key.verify(&claims, &user, "$old"), Err(LinkError::Spent));
    }

    #[test]
    fn a_link_of_one_kind_does_not_open_the_other_and_garbage_is_malformed() {
        let user = user();
        let (token, _) = keys().issue(LinkKind::PasswordReset, &user, "", user.created_at);
        let wrong = keys().read(LinkKind::Invitation, &token, user.created_at).unwrap_err();
        assert_eq!(wrong, LinkError::Malformed);
        for garbage in ["", "abc", "!!!!", &"A".repeat(500)] {
            let error = keys().read(LinkKind::Invitation, garbage, user.created_at).unwrap_err();
            assert_eq!(error, LinkError::Malformed, "{garbage:?}");
        }
        let mut tampered = token.into_bytes();
        tampered[5] ^= 1;
        let tampered = String::from_utf8(tampered).unwrap();
        let result = keys()
            .read(LinkKind::PasswordReset, &tampered, user.created_at)
            .and_then(|claims| keys().verify(&claims, &user, ""));
        assert!(result.is_err());
    }
}
