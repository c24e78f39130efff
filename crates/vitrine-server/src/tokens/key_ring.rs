//! The Ed25519 keys embed tokens are signed with. The newest key signs; older keys keep
//! verifying until every token they can have signed has expired, then are retired. A running
//! server re-reads the keys every few seconds, so a key made by `vitrine keys rotate` signs
//! within seconds, on every node.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use ed25519_dalek::{SigningKey, VerifyingKey};
use rand::RngCore;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use vitrine_core::Clock;
use vitrine_core::settings::TOKEN_LIFETIME_MINUTES;
use vitrine_core::token::{KeyLookup, LEEWAY_SECONDS};
use vitrine_store::{Store, StoreError, StoredSigningKey};

use super::master_key::{MasterKey, MasterKeyError};

/// How often a running server looks for new or retired keys.
pub const RELOAD_EVERY: Duration = Duration::from_secs(2);
/// A superseded key still verifies for the longest token lifetime plus this margin (other
/// nodes may sign with it until they next reload).
const RETIRE_MARGIN_SECONDS: i64 = 300;

#[derive(Debug, thiserror::Error)]
pub enum KeyRingError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    MasterKey(#[from] MasterKeyError),
    #[error("signing key {0} is malformed")]
    Malformed(String),
}

/// The keys in use at one moment.
pub struct KeySet {
    pub signing_kid: String,
    pub signing_key: SigningKey,
    verifying: HashMap<String, VerifyingKey>,
    /// The public keys as a JSON Web Key Set.
    pub jwks: Value,
    /// Which keys (and retirements) this set was built from, to notice changes cheaply.
    fingerprint: Vec<(String, bool)>,
}

impl KeyLookup for KeySet {
    fn verifying_key(&self, kid: &str) -> Option<&VerifyingKey> {
        self.verifying.get(kid)
    }
}

pub struct KeyRing {
    store: Arc<dyn Store>,
    master: MasterKey,
    clock: Arc<dyn Clock>,
    current: RwLock<Arc<KeySet>>,
}

/// A key id derived from the public key: 16 URL-safe characters.
fn key_id(public: &VerifyingKey) -> String {
    URL_SAFE_NO_PAD.encode(&Sha256::digest(public.as_bytes())[..12])
}

/// Makes a new key pair, seals its private half and stores it; returns its id.
pub async fn create_key(
    store: &dyn Store,
    master: &MasterKey,
    now: DateTime<Utc>,
) -> Result<String, KeyRingError> {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let signing = SigningKey::from_bytes(&secret);
    let kid = key_id(&signing.verifying_key());
    let stored = StoredSigningKey {
        kid: kid.clone(),
        public_key: signing.verifying_key().as_bytes().to_vec(),
        sealed_private_key: master.seal(&kid, &secret)?,
        created_at: now,
        retired_at: None,
    };
    store.insert_signing_key(&stored).await?;
    Ok(kid)
}

/// Keys that can no longer have signed an unexpired token: superseded by a newer key longer
/// ago than the longest token lifetime (plus a margin).
pub fn keys_to_retire(keys: &[StoredSigningKey], now: DateTime<Utc>) -> Vec<String> {
    let horizon = chrono::Duration::minutes(TOKEN_LIFETIME_MINUTES.max)
        + chrono::Duration::seconds(LEEWAY_SECONDS + RETIRE_MARGIN_SECONDS);
    let mut live: Vec<&StoredSigningKey> = keys.iter().filter(|k| k.retired_at.is_none()).collect();
    live.sort_by_key(|k| k.created_at);
    live.windows(2)
        .filter(|pair| now > pair[1].created_at + horizon)
        .map(|pair| pair[0].kid.clone())
        .collect()
}

impl KeyRing {
    /// Loads the keys, creating the first one on a new installation.
    pub async fn open(
        store: Arc<dyn Store>,
        master: MasterKey,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, KeyRingError> {
        let mut keys = store.list_signing_keys().await?;
        if keys.iter().all(|k| k.retired_at.is_some()) {
            let kid = create_key(&*store, &master, clock.now()).await?;
            tracing::info!(%kid, "created the first token signing key");
            keys = store.list_signing_keys().await?;
        }
        let set = build(&master, &keys)?;
        Ok(Self { store, master, clock, current: RwLock::new(Arc::new(set)) })
    }

    pub fn current(&self) -> Arc<KeySet> {
        Arc::clone(&self.current.read().unwrap_or_else(|poison| poison.into_inner()))
    }

    /// Retires expired keys and picks up new ones.
    pub async fn reload(&self) -> Result<(), KeyRingError> {
        let mut keys = self.store.list_signing_keys().await?;
        let now = self.clock.now();
        let retire = keys_to_retire(&keys, now);
        for kid in &retire {
            self.store.retire_signing_key(kid, now).await?;
            tracing::info!(%kid, "retired a token signing key: every token it signed has expired");
        }
        if !retire.is_empty() {
            keys = self.store.list_signing_keys().await?;
        }
        if fingerprint(&keys) != self.current().fingerprint {
            let set = build(&self.master, &keys)?;
            tracing::info!(kid = %set.signing_kid, "token signing keys reloaded");
            *self.current.write().unwrap_or_else(|poison| poison.into_inner()) = Arc::new(set);
        }
        Ok(())
    }

    /// Reloads every [`RELOAD_EVERY`] until the process ends.
    pub fn spawn_reloader(self: &Arc<Self>) {
        let ring = Arc::clone(self);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(RELOAD_EVERY);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                if let Err(error) = ring.reload().await {
                    tracing::warn!(%error, "could not reload token signing keys");
                }
            }
        });
    }
}

fn fingerprint(keys: &[StoredSigningKey]) -> Vec<(String, bool)> {
    keys.iter().map(|k| (k.kid.clone(), k.retired_at.is_some())).collect()
}

fn build(master: &MasterKey, keys: &[StoredSigningKey]) -> Result<KeySet, KeyRingError> {
    let live: Vec<&StoredSigningKey> = keys.iter().filter(|k| k.retired_at.is_none()).collect();
    let newest = live
        .iter()
        .max_by_key(|k| k.created_at)
        .ok_or_else(|| KeyRingError::Malformed("none".into()))?;
    let secret: [u8; 32] = master
        .unseal(&newest.kid, &newest.sealed_private_key)?
        .try_into()
        .map_err(|_| KeyRingError::Malformed(newest.kid.clone()))?;
    let signing_key = SigningKey::from_bytes(&secret);
    let mut verifying = HashMap::new();
    let mut jwks = Vec::new();
    for key in &live {
        let bytes: [u8; 32] = key
            .public_key
            .as_slice()
            .try_into()
            .map_err(|_| KeyRingError::Malformed(key.kid.clone()))?;
        let public = VerifyingKey::from_bytes(&bytes)
            .map_err(|_| KeyRingError::Malformed(key.kid.clone()))?;
        jwks.push(json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": URL_SAFE_NO_PAD.encode(bytes),
            "kid": key.kid,
            "alg": "EdDSA",
            "use": "sig",
        }));
        verifying.insert(key.kid.clone(), public);
    }
    if signing_key.verifying_key() != verifying[&newest.kid] {
        return Err(KeyRingError::Malformed(newest.kid.clone()));
    }
    Ok(KeySet {
        signing_kid: newest.kid.clone(),
        signing_key,
        verifying,
        jwks: json!({ "keys": jwks }),
        fingerprint: fingerprint(keys),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kid: &str, created: DateTime<Utc>) -> StoredSigningKey {
        StoredSigningKey {
            kid: kid.into(),
            public_key: vec![],
            sealed_private_key: vec![],
            created_at: created,
            retired_at: None,
        }
    }

    #[test]
    fn a_superseded_key_retires_only_after_the_longest_token_it_signed_has_expired() {
        let t0 = Utc::now();
        let keys = vec![key("old", t0), key("new", t0 + chrono::Duration::hours(1))];
        let superseded = t0 + chrono::Duration::hours(1);
        let day = chrono::Duration::minutes(1440);
        assert!(
            keys_to_retire(&keys, superseded + day).is_empty(),
            "a 24 h token may still be alive"
        );
        assert!(keys_to_retire(&keys, superseded + day + chrono::Duration::seconds(60)).is_empty());
        assert_eq!(
            keys_to_retire(&keys, superseded + day + chrono::Duration::minutes(10)),
            ["old"]
        );
        assert!(keys_to_retire(&keys[..1], t0 + day * 30).is_empty(), "the only key never retires");
    }
}
