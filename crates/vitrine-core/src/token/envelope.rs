//! The compact JWS envelope: `base64url(header).base64url(claims).base64url(signature)`.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::{AUDIENCE, EmbedClaims, LEEWAY_SECONDS, MAX_TOKEN_BYTES, TOKEN_TYPE, TokenError};

const ALGORITHM: &str = "EdDSA";
const MAX_KID_BYTES: usize = 64;

/// Finds a verifying key by its `kid` among the keys we made ourselves.
pub trait KeyLookup {
    fn verifying_key(&self, kid: &str) -> Option<&VerifyingKey>;
}

impl KeyLookup for HashMap<String, VerifyingKey> {
    fn verifying_key(&self, kid: &str) -> Option<&VerifyingKey> {
        self.get(kid)
    }
}

#[derive(Serialize)]
struct HeaderOut<'a> {
    alg: &'static str,
    typ: &'static str,
    kid: &'a str,
}

/// Exactly these three fields; anything else (`jku`, `x5u`, `jwk`, `crit`, …) is refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderIn {
    alg: String,
    typ: String,
    kid: String,
}

/// Signs `claims` with `key`, naming it `kid`.
pub fn seal(
    claims: &EmbedClaims,
    kid: &str,
    key: &SigningKey,
) -> Result<String, serde_json::Error> {
    let header = serde_json::to_vec(&HeaderOut { alg: ALGORITHM, typ: TOKEN_TYPE, kid })?;
    let payload = serde_json::to_vec(claims)?;
    let mut token = String::with_capacity(128 + payload.len() * 4 / 3);
    URL_SAFE_NO_PAD.encode_string(header, &mut token);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(payload, &mut token);
    let signature = key.sign(token.as_bytes());
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature.to_bytes(), &mut token);
    Ok(token)
}

fn decode(part: &str, what: &'static str) -> Result<Vec<u8>, TokenError> {
    // The engine refuses padding and non-canonical trailing bits, so every token has exactly
    // one encoding.
    URL_SAFE_NO_PAD.decode(part).map_err(|_| TokenError::Invalid(what))
}

/// Checks a token completely: size, shape, header, key, signature, claims, audience and time.
/// Revocation is checked separately, against the [`super::RevocationIndex`].
pub fn unseal(token: &str, keys: &impl KeyLookup, now: i64) -> Result<EmbedClaims, TokenError> {
    let claims = open(token, keys)?;
    check_time(&claims, now)?;
    Ok(claims)
}

/// `nbf` and `exp`, with [`LEEWAY_SECONDS`] of tolerance.
pub fn check_time(claims: &EmbedClaims, now: i64) -> Result<(), TokenError> {
    if claims.nbf > now + LEEWAY_SECONDS {
        return Err(TokenError::Invalid("not yet valid"));
    }
    if claims.exp + LEEWAY_SECONDS <= now {
        return Err(TokenError::Expired);
    }
    Ok(())
}

/// Everything but time: size, shape, header, key, signature, claims and audience. The claims
/// it returns are authentic, so they can be trusted when reporting a later refusal.
pub fn open(token: &str, keys: &impl KeyLookup) -> Result<EmbedClaims, TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::Invalid("too large"));
    }
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Invalid("malformed"));
    };
    let header: HeaderIn = serde_json::from_slice(&decode(header_b64, "malformed header")?)
        .map_err(|_| TokenError::Invalid("unexpected header"))?;
    if header.alg != ALGORITHM {
        return Err(TokenError::Invalid("algorithm"));
    }
    if header.typ != TOKEN_TYPE {
        return Err(TokenError::Invalid("type"));
    }
    if header.kid.len() > MAX_KID_BYTES {
        return Err(TokenError::Invalid("unknown key"));
    }
    let key = keys.verifying_key(&header.kid).ok_or(TokenError::Invalid("unknown key"))?;
    let signature = Signature::from_slice(&decode(signature_b64, "malformed signature")?)
        .map_err(|_| TokenError::Invalid("malformed signature"))?;
    let signed = &token.as_bytes()[..header_b64.len() + 1 + payload_b64.len()];
    key.verify_strict(signed, &signature).map_err(|_| TokenError::Invalid("signature"))?;

    let claims: EmbedClaims = serde_json::from_slice(&decode(payload_b64, "malformed claims")?)
        .map_err(|_| TokenError::Invalid("claims"))?;
    if claims.aud != AUDIENCE {
        return Err(TokenError::Invalid("audience"));
    }
    if claims.iat != claims.iat_ms.div_euclid(1000) {
        return Err(TokenError::Invalid("claims"));
    }
    Ok(claims)
}
