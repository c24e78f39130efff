//! Per-client throttles and the lockout of emails that belong to nobody, all in bounded
//! memory. A client is its address: the connection's peer, or the address a trusted proxy
//! puts in `X-Forwarded-For` (never a header from anyone else).

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use chrono::{DateTime, Utc};
use vitrine_core::lockout::{Attempts, Gate, LockoutRule};

use crate::app::AppState;

/// The most clients (or unknown emails) any one table here remembers.
const MAX_ENTRIES: usize = 100_000;

/// The client's address as this server believes it, put in every request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

/// The address of the client: the peer, unless the peer is a trusted proxy, in which case
/// the right-most address of `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[ipnet::IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    let mut client = peer;
    for hop in forwarded.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !is_trusted(&ip) {
                    break;
                }
            }
            // A hop we cannot read ends what we can believe.
            Err(_) => break,
        }
    }
    client
}

/// Middleware: resolves the client's address once per request.
pub async fn resolve_client(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer =
        request.extensions().get::<ConnectInfo<std::net::SocketAddr>>().map(|info| info.0.ip());
    if let Some(peer) = peer {
        let address = client_address(peer, request.headers(), &state.config.limits.trusted_proxies);
        request.extensions_mut().insert(ClientAddress(address));
    }
    next.run(request).await
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: DateTime<Utc>,
}

/// A token bucket per key: `per_minute` requests a minute, in bursts of as many.
pub struct Throttle<K> {
    per_minute: f64,
    buckets: Mutex<HashMap<K, Bucket>>,
}

impl<K: Eq + Hash + Copy> Throttle<K> {
    pub fn per_minute(per_minute: u32) -> Self {
        Self { per_minute: f64::from(per_minute.max(1)), buckets: Mutex::default() }
    }

    fn refilled(&self, bucket: Bucket, now: DateTime<Utc>) -> f64 {
        let elapsed = (now - bucket.at).num_milliseconds().max(0) as f64 / 60_000.0;
        (bucket.tokens + elapsed * self.per_minute).min(self.per_minute)
    }

    /// Takes one request from `key`'s allowance; `false` when there is none left.
    pub fn allow(&self, key: K, now: DateTime<Utc>) -> bool {
        let mut buckets = self.buckets.lock().unwrap_or_else(|poison| poison.into_inner());
        if buckets.len() >= MAX_ENTRIES && !buckets.contains_key(&key) {
            // Forget the clients whose allowance is whole again: they lose nothing.
            buckets.retain(|_, bucket| self.refilled(*bucket, now) < self.per_minute);
            if buckets.len() >= MAX_ENTRIES {
                buckets.clear();
            }
        }
        let fresh = Bucket { tokens: self.per_minute, at: now };
        let bucket = buckets.entry(key).or_insert(fresh);
        let tokens = self.refilled(*bucket, now);
        let allowed = tokens >= 1.0;
        *bucket = Bucket { tokens: if allowed { tokens - 1.0 } else { tokens }, at: now };
        allowed
    }

    /// Whether `key` has allowance left, without taking any.
    pub fn has_allowance(&self, key: K, now: DateTime<Utc>) -> bool {
        let buckets = self.buckets.lock().unwrap_or_else(|poison| poison.into_inner());
        buckets.get(&key).is_none_or(|bucket| self.refilled(*bucket, now) >= 1.0)
    }
}

/// Lockouts of emails that belong to no account, so that a stranger's email answers exactly
/// as a real one would, `AccountLocked` included. Keyed by a hash of the email.
#[derive(Default)]
pub struct UnknownEmails {
    attempts: Mutex<HashMap<[u8; 32], Attempts>>,
}

impl UnknownEmails {
    pub fn attempt(&self, email: &str, rule: &LockoutRule, now: DateTime<Utc>) -> Gate {
        let key: [u8; 32] = sha2::Digest::finalize(
            <sha2::Sha256 as sha2::Digest>::new_with_prefix(email.as_bytes()),
        )
        .into();
        let mut attempts = self.attempts.lock().unwrap_or_else(|poison| poison.into_inner());
        if attempts.len() >= MAX_ENTRIES && !attempts.contains_key(&key) {
            attempts.retain(|_, entry| entry.locked_until.is_some_and(|until| now < until));
            if attempts.len() >= MAX_ENTRIES {
                attempts.clear();
            }
        }
        let current = attempts.get(&key).copied().unwrap_or_default();
        let (next, gate) = rule.attempt(current, now);
        attempts.insert(key, next);
        gate
    }
}

/// The server's throttles, sized from `[limits]`.
pub struct Guards {
    pub sign_in: Throttle<IpAddr>,
    pub failed_auth: Throttle<IpAddr>,
    pub unknown_emails: UnknownEmails,
    pub lockout: LockoutRule,
}

impl Guards {
    pub fn new(limits: &crate::config::Limits) -> Self {
        Self {
            sign_in: Throttle::per_minute(limits.sign_in_per_minute),
            failed_auth: Throttle::per_minute(limits.failed_auth_per_minute),
            unknown_emails: UnknownEmails::default(),
            lockout: LockoutRule::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<ipnet::IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    fn forwarded(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", value.parse().unwrap());
        headers
    }

    #[test]
    fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
        let peer: IpAddr = "10.0.0.5".parse().unwrap();
        let headers = forwarded("198.51.100.7, 203.0.113.9");
        assert_eq!(client_address(peer, &headers, &[]), peer, "no proxy is trusted");
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_address(peer, &headers, &trusted),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        let chain = nets(&["10.0.0.0/8", "203.0.113.9/32"]);
        assert_eq!(
            client_address(peer, &headers, &chain),
            "198.51.100.7".parse::<IpAddr>().unwrap(),
            "trusted hops are skipped from the right"
        );
        assert_eq!(client_address(peer, &forwarded("garbage"), &trusted), peer);
    }

    #[test]
    fn a_throttle_allows_its_rate_refills_and_stays_bounded() {
        let throttle = Throttle::per_minute(3);
        let now = Utc::now();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert!((0..3).all(|_| throttle.allow(ip, now)));
        assert!(!throttle.allow(ip, now));
        assert!(throttle.allow("192.0.2.2".parse().unwrap(), now), "others are not affected");
        assert!(throttle.allow(ip, now + chrono::Duration::seconds(20)), "one a third of a minute");
        for n in 0..(MAX_ENTRIES as u32 + 10) {
            throttle.allow(IpAddr::from(n.to_be_bytes()), now);
        }
        assert!(throttle.buckets.lock().unwrap().len() <= MAX_ENTRIES);
    }
}
