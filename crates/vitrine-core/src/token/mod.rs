//! Embed tokens: what they claim, how they are sealed and how they are checked.
//!
//! The envelope is a compact JWS signed with Ed25519, implemented here on `ed25519-dalek`
//! rather than through a general JWT library. A general library accepts many algorithms and
//! header shapes and must be configured to refuse them; this envelope knows exactly one: the
//! header is `{"alg":"EdDSA","typ":"vitrine-embed+jwt","kid":…}` and nothing else (so `jku`,
//! `x5u`, `jwk` and `crit` cannot even be expressed), the key comes only from our own key ring
//! by `kid`, and signatures are checked with `verify_strict`, which refuses weak keys and
//! malleable signatures. What is not parsed cannot be misconfigured.

mod envelope;
mod policy;
mod revocation;
#[cfg(test)]
mod tests;

pub use envelope::{KeyLookup, check_time, open, seal, unseal};
pub use policy::{RefreshPolicy, TokenPolicy};
pub use revocation::{Revocation, RevocationIndex, RevocationScope, Snapshot};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ids::{IdentityId, OrgId, ReportId, UserId};

/// The `typ` header of every embed token; a plain `JWT` is refused.
pub const TOKEN_TYPE: &str = "vitrine-embed+jwt";
/// The `aud` claim: embed tokens are for Vitrine's embed endpoints only.
pub const AUDIENCE: &str = "vitrine-embed";
/// Tokens larger than this are refused before any parsing.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// The largest row-level-security identity (as JSON) a token carries. With the other claims,
/// the longest issuer and the signature it keeps every token under [`MAX_TOKEN_BYTES`]; the
/// identity is bounded where roles, attributes and memberships are assigned.
pub const MAX_RLS_IDENTITY_BYTES: usize = 4 * 1024;
/// The longest issuer (the public URL) a token carries.
pub const MAX_ISSUER_BYTES: usize = 512;
/// Tolerated clock difference when checking `nbf` and `exp`.
pub const LEEWAY_SECONDS: i64 = 30;

/// What the token lets its holder do with the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AccessLevel {
    View,
}

/// The row-level-security identity the report's data is filtered by.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RlsIdentity {
    pub username: String,
    pub roles: Vec<String>,
    pub attributes: BTreeMap<String, String>,
}

impl RlsIdentity {
    /// The identity's size in a token's claims, as JSON.
    pub fn encoded_len(&self) -> usize {
        serde_json::to_vec(self).map(|json| json.len()).unwrap_or(usize::MAX)
    }

    /// The smallest identity that holds everything of `self` and `other`: roles of both,
    /// and per attribute the longer value. Its size bounds any mix of the two.
    pub fn covering(mut self, other: &RlsIdentity) -> RlsIdentity {
        for role in &other.roles {
            if !self.roles.contains(role) {
                self.roles.push(role.clone());
            }
        }
        for (name, value) in &other.attributes {
            let entry = self.attributes.entry(name.clone()).or_default();
            if value.len() > entry.len() {
                *entry = value.clone();
            }
        }
        self
    }
}

/// The claims of an embed token. Times are Unix seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbedClaims {
    pub iss: String,
    pub aud: String,
    pub sub: Subject,
    pub org: OrgId,
    /// The reports the token opens: one for a signed-in user, those asked for by a host app.
    /// Tokens made before several reports were possible name one, as `report`.
    #[serde(alias = "report", deserialize_with = "one_or_many")]
    pub reports: Vec<ReportId>,
    pub access: AccessLevel,
    pub rls: RlsIdentity,
    pub iat: i64,
    /// The issue instant in milliseconds, which revocations are compared with; `iat` is its
    /// whole seconds.
    #[serde(rename = "iatMs")]
    pub iat_ms: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: Uuid,
    /// A host app's user whose embed key lets its users keep a capacity on: their open report
    /// counts as activity. A signed-in user's permissions are read when needed instead, so
    /// this is never set for them.
    #[serde(rename = "keepOn", default, skip_serializing_if = "std::ops::Not::not")]
    pub keeps_capacity_on: bool,
}

impl EmbedClaims {
    /// Whether the token opens `report`.
    pub fn opens(&self, report: ReportId) -> bool {
        self.reports.contains(&report)
    }
}

/// Whom a token is for: a user of Vitrine, or a host app's user an embed key minted it for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subject {
    User(UserId),
    Identity(IdentityId),
}

/// How a host app's user is told apart from a user in `sub`.
const IDENTITY_PREFIX: &str = "identity:";

impl Serialize for Subject {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Subject::User(id) => serializer.collect_str(id),
            Subject::Identity(id) => serializer.collect_str(&format_args!("{IDENTITY_PREFIX}{id}")),
        }
    }
}

impl<'de> Deserialize<'de> for Subject {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        let parsed = match raw.strip_prefix(IDENTITY_PREFIX) {
            Some(id) => id.parse().map(Subject::Identity),
            None => raw.parse().map(Subject::User),
        };
        parsed.map_err(|_| serde::de::Error::custom("sub is not a subject"))
    }
}

impl Subject {
    pub fn user(self) -> Option<UserId> {
        match self {
            Subject::User(id) => Some(id),
            Subject::Identity(_) => None,
        }
    }

    pub fn identity(self) -> Option<IdentityId> {
        match self {
            Subject::Identity(id) => Some(id),
            Subject::User(_) => None,
        }
    }
}

/// The most reports one token opens: with the largest identity and the longest issuer, every
/// token stays under [`MAX_TOKEN_BYTES`].
pub const MAX_REPORTS_PER_TOKEN: usize = 16;

/// `reports` as a list, or one report as the tokens before lists carried it; at least one, at
/// most [`MAX_REPORTS_PER_TOKEN`].
fn one_or_many<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<ReportId>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(ReportId),
        Many(Vec<ReportId>),
    }
    let reports = match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(report) => vec![report],
        OneOrMany::Many(reports) => reports,
    };
    if reports.is_empty() || reports.len() > MAX_REPORTS_PER_TOKEN {
        return Err(serde::de::Error::custom("a token opens 1 to 16 reports"));
    }
    Ok(reports)
}

/// Why a token is refused. `Invalid` carries a reason for logs and audit, never for clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid: {0}")]
    Invalid(&'static str),
    #[error("the token was revoked")]
    Revoked,
}

impl TokenError {
    /// A short, stable reason for metrics and the audit log.
    pub fn reason(&self) -> &'static str {
        match self {
            TokenError::Expired => "expired",
            TokenError::Invalid(reason) => reason,
            TokenError::Revoked => "revoked",
        }
    }
}
