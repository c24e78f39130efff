//! The token service: issues embed tokens, verifies them on every request that reads report
//! data, and takes them back. Verification reads only memory: keys, the revocation index and
//! a cache of tokens already verified.

pub mod audit;
mod cache;
pub mod key_ring;
pub mod master_key;
pub mod request_info;
pub mod revoker;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, Utc};
use uuid::Uuid;
use vitrine_core::token::{
    self, AUDIENCE, AccessLevel, EmbedClaims, RefreshPolicy, RlsIdentity, Snapshot, Subject,
    TokenError, TokenPolicy,
};
use vitrine_core::{Clock, OrgId, ReportId};
use vitrine_store::{Store, StoreError};

use self::audit::TokenAudit;
use self::cache::VerifiedTokens;
use self::key_ring::{KeyRing, KeyRingError};
use self::master_key::MasterKey;
use self::revoker::Revoker;
use crate::metrics::Metrics;

#[derive(Debug, thiserror::Error)]
pub enum TokenSetupError {
    #[error(transparent)]
    Keys(#[from] KeyRingError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The least life answered for a Power BI token, whatever its `expiration` reads on this
/// server's clock.
pub const MIN_POWER_BI_LIFE_SECONDS: u32 = 60;

/// A freshly issued token and what the viewer needs to keep it fresh.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    pub token_id: Uuid,
    pub expires_at: DateTime<Utc>,
    pub expires_in_seconds: u32,
    pub refresh: RefreshPolicy,
    /// The user already held a live token for this report: this one replaces it.
    pub refreshed: bool,
    /// Power BI's own token, for a report imported from Power BI.
    pub powerbi: Option<crate::services::powerbi::EmbedGrant>,
}

impl IssuedToken {
    /// Hands out Power BI's token with this one: the pair lives as long as the shorter, so
    /// that the viewer replaces both before either expires. Power BI's `expiration` is read on
    /// Power BI's clock: when ours is ahead of it, the token is still given
    /// [`MIN_POWER_BI_LIFE_SECONDS`] (the report says `TokenExpired` if it really has none),
    /// never zero, which would have viewers ask again without pause.
    pub fn pair_with(&mut self, grant: crate::services::powerbi::EmbedGrant, now: DateTime<Utc>) {
        if grant.expires_at < self.expires_at {
            let left = (grant.expires_at - now).num_seconds().clamp(0, i64::from(u32::MAX)) as u32;
            if left < MIN_POWER_BI_LIFE_SECONDS {
                tracing::warn!(expires = %grant.expires_at, "Power BI's token ends within a minute by this server's clock: are the clocks apart?");
            }
            self.expires_in_seconds =
                self.expires_in_seconds.min(left.max(MIN_POWER_BI_LIFE_SECONDS));
            self.expires_at = grant.expires_at;
        }
        self.powerbi = Some(grant);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error(transparent)]
    Encode(#[from] serde_json::Error),
    #[error("the token would be {0} bytes, over the verifier's limit")]
    TooLarge(usize),
    #[error("a token opens 1 to {max} reports, not {0}", max = token::MAX_REPORTS_PER_TOKEN)]
    Reports(usize),
}

/// A refused token, with its claims when they are authentic (signature verified).
#[derive(Debug, Clone)]
pub struct Rejection {
    pub error: TokenError,
    pub claims: Option<Arc<EmbedClaims>>,
}

/// What a token opens, and for whom.
pub struct Grant {
    pub org: OrgId,
    pub subject: Subject,
    pub reports: Vec<ReportId>,
    pub rls: RlsIdentity,
    /// See [`EmbedClaims::keeps_capacity_on`]; false for signed-in users.
    pub keeps_capacity_on: bool,
}

pub struct TokenService {
    pub keys: Arc<KeyRing>,
    pub revoker: Revoker,
    pub audit: TokenAudit,
    /// Authentic tokens already audited as refused.
    pub rejections: audit::RecentRejections,
    /// Refusals of requests that prove nobody: logged sampled, never stored.
    pub anonymous_failures: audit::SampledLog,
    verified: VerifiedTokens,
    /// The expiry of the latest token issued per user and report, to tell refreshes apart.
    latest: Mutex<HashMap<(Subject, ReportId), i64>>,
    issuer: String,
    metrics: Arc<Metrics>,
}

impl TokenService {
    pub async fn start(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
        master: MasterKey,
        issuer: String,
        feed: Arc<crate::cluster::ChangeFeed>,
    ) -> Result<Self, TokenSetupError> {
        let keys = Arc::new(KeyRing::open(Arc::clone(&store), master, Arc::clone(&clock)).await?);
        keys.spawn_reloader();
        let revoker = Revoker::load(Arc::clone(&store), clock, feed).await?;
        let audit = TokenAudit::start(store, Arc::clone(&metrics));
        Ok(Self {
            keys,
            revoker,
            audit,
            rejections: Default::default(),
            anonymous_failures: Default::default(),
            verified: VerifiedTokens::default(),
            latest: Mutex::new(HashMap::new()),
            issuer,
            metrics,
        })
    }

    /// Signs a token of `grant` (at least one report), dated `snapshot`: the caller took the
    /// snapshot before it read the access it checked, so a change made since revokes this token.
    pub fn issue(
        &self,
        grant: Grant,
        policy: TokenPolicy,
        snapshot: Snapshot,
        now: DateTime<Utc>,
    ) -> Result<IssuedToken, IssueError> {
        let Grant { org, subject, reports, rls, keeps_capacity_on } = grant;
        let Some(&first) =
            reports.first().filter(|_| reports.len() <= token::MAX_REPORTS_PER_TOKEN)
        else {
            return Err(IssueError::Reports(reports.len()));
        };
        let now_seconds = now.timestamp();
        let iat_ms = snapshot.millis();
        let iat = iat_ms.div_euclid(1000);
        let exp = now_seconds + i64::from(policy.lifetime_seconds);
        let claims = EmbedClaims {
            iss: self.issuer.clone(),
            aud: AUDIENCE.to_string(),
            sub: subject,
            org,
            reports,
            access: AccessLevel::View,
            rls,
            iat,
            iat_ms,
            nbf: iat,
            exp,
            jti: Uuid::now_v7(),
            keeps_capacity_on,
        };
        let keys = self.keys.current();
        let token = token::seal(&claims, &keys.signing_kid, &keys.signing_key)?;
        if token.len() > token::MAX_TOKEN_BYTES {
            // Identities are bounded where they are assigned; this is the last line of defence
            // against handing out a token that every request would refuse.
            return Err(IssueError::TooLarge(token.len()));
        }
        let refreshed = {
            let mut latest = self.latest.lock().unwrap_or_else(|poison| poison.into_inner());
            if latest.len() > 100_000 {
                latest.retain(|_, exp| *exp > now_seconds);
            }
            // Told apart by the first report: a token for several counts as a refresh of the
            // one before it for the same first report.
            latest.insert((subject, first), exp).is_some_and(|previous| previous > now_seconds)
        };
        if refreshed {
            self.metrics.token_refreshed();
        } else {
            self.metrics.token_issued();
        }
        Ok(IssuedToken {
            token,
            token_id: claims.jti,
            expires_at: DateTime::from_timestamp(exp, 0).unwrap_or(now),
            expires_in_seconds: policy.lifetime_seconds,
            refresh: policy.refresh(),
            refreshed,
            powerbi: None,
        })
    }

    /// Checks a presented token: signature (or the cache of verified tokens), time, revocation.
    pub fn verify(&self, presented: &str, now: i64) -> Result<Arc<EmbedClaims>, Rejection> {
        let started = Instant::now();
        let result = self.verify_uncounted(presented, now);
        self.metrics.token_verification(started.elapsed());
        if let Err(rejection) = &result {
            self.metrics.token_rejected(rejection.error.reason());
        }
        result
    }

    fn verify_uncounted(&self, presented: &str, now: i64) -> Result<Arc<EmbedClaims>, Rejection> {
        let cached = self.verified.get(presented);
        let seen_before = cached.is_some();
        let claims = match cached {
            Some(claims) => claims,
            None => Arc::new(
                token::open(presented, &*self.keys.current())
                    .map_err(|error| Rejection { error, claims: None })?,
            ),
        };
        let refuse = |error| Rejection { error, claims: Some(Arc::clone(&claims)) };
        token::check_time(&claims, now).map_err(refuse)?;
        self.revoker.index.check(&claims, now).map_err(refuse)?;
        if !seen_before {
            self.verified.insert(presented, Arc::clone(&claims), now);
        }
        Ok(claims)
    }
}
