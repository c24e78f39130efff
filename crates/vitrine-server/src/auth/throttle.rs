//! Per-client throttles and the lockout of emails that belong to nobody. A client is its address: the connection's peer, or the address a trusted proxy
//! puts in `X-Forwarded-For` (never a header from anyone else).

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use vitrine_core::allowance::{Allowance, AllowanceRule};
use vitrine_core::lockout::{Gate, LockoutRule};

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

/// An allowance per key in this node's memory, for what need not be shared: the
/// [`vitrine_core::allowance`] rule, in a bounded table.
pub struct Throttle<K> {
    rule: AllowanceRule,
    buckets: Mutex<HashMap<K, Allowance>>,
}

impl<K: Eq + Hash + Copy> Throttle<K> {
    pub fn per_minute(per_minute: u32) -> Self {
        Self { rule: AllowanceRule::per_minute(per_minute), buckets: Mutex::default() }
    }

    /// Takes one request from `key`'s allowance; `false` when there is none left.
    pub fn allow(&self, key: K, now: DateTime<Utc>) -> bool {
        let mut buckets = self.buckets.lock().unwrap_or_else(|poison| poison.into_inner());
        if buckets.len() >= MAX_ENTRIES && !buckets.contains_key(&key) {
            // Forget the clients whose allowance is whole again: they lose nothing.
            buckets.retain(|_, allowance| self.rule.whole_at(allowance) > now);
            if buckets.len() >= MAX_ENTRIES {
                buckets.clear();
            }
        }
        match self.rule.take(buckets.get(&key).copied(), now) {
            Some(next) => {
                buckets.insert(key, next);
                true
            }
            None => false,
        }
    }
}

/// The sign-in guards. Sign-in attempts per address and the lockout of emails that belong to
/// nobody are kept in the store, so every node on one database counts them together (a lock
/// on one node is a lock on all); failed API credentials are counted per node.
pub struct Guards {
    pub sign_in: AllowanceRule,
    pub failed_auth: Throttle<IpAddr>,
    pub lockout: LockoutRule,
}

/// How long a stranger's count of wrong passwords is kept after its last attempt or lock.
pub const STRANGER_COUNT_KEPT: chrono::Duration = chrono::Duration::days(1);

impl Guards {
    pub fn new(limits: &crate::config::Limits) -> Self {
        Self {
            sign_in: AllowanceRule::per_minute(limits.sign_in_per_minute),
            failed_auth: Throttle::per_minute(limits.failed_auth_per_minute),
            lockout: LockoutRule::default(),
        }
    }

    /// Takes a sign-in attempt from `address`'s allowance, on every node at once.
    pub async fn allow_sign_in(
        &self,
        store: &dyn vitrine_store::Store,
        address: IpAddr,
        now: DateTime<Utc>,
    ) -> vitrine_store::StoreResult<bool> {
        store.take_allowance(&format!("sign-in:{address}"), &self.sign_in, now).await
    }

    /// Counts an attempt on an email that belongs to no account, so that it answers exactly
    /// as a real one would, `AccountLocked` included, on every node. Keyed by its digest.
    pub async fn stranger_attempt(
        &self,
        store: &dyn vitrine_store::Store,
        email: &str,
        now: DateTime<Utc>,
    ) -> vitrine_store::StoreResult<Gate> {
        let digest = crate::auth::sha256(email);
        let key = format!("email:{}", base64::Engine::encode(&URL_SAFE_NO_PAD, digest));
        store.begin_stranger_attempt(&key, &self.lockout, now, STRANGER_COUNT_KEPT).await
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
