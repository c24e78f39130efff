//! Tokens already verified, so that a viewer's repeated requests cost a lookup instead of a
//! signature check. Only the signature work is saved: time and revocation are checked on every
//! use.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use vitrine_core::token::EmbedClaims;

const CAPACITY: usize = 100_000;

#[derive(Default)]
pub struct VerifiedTokens {
    tokens: RwLock<HashMap<Box<str>, Arc<EmbedClaims>>>,
}

impl VerifiedTokens {
    pub fn get(&self, token: &str) -> Option<Arc<EmbedClaims>> {
        self.tokens.read().unwrap_or_else(|poison| poison.into_inner()).get(token).cloned()
    }

    /// Remembers a verified token; when full, forgets the expired ones (or, failing that, all).
    pub fn insert(&self, token: &str, claims: Arc<EmbedClaims>, now: i64) {
        let mut tokens = self.tokens.write().unwrap_or_else(|poison| poison.into_inner());
        if tokens.len() >= CAPACITY {
            tokens.retain(|_, claims| claims.exp > now);
            if tokens.len() >= CAPACITY {
                tokens.clear();
            }
        }
        tokens.insert(token.into(), claims);
    }
}
