//! The attack corpus against the envelope: every forged, altered or malformed token is refused
//! with the right error, and a valid one is accepted.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::*;

const NOW: i64 = 1_800_000_000;
const KID: &str = "k1";

fn keys() -> (SigningKey, HashMap<String, VerifyingKey>) {
    let signing = SigningKey::from_bytes(&[7u8; 32]);
    let ring = HashMap::from([(KID.to_string(), signing.verifying_key())]);
    (signing, ring)
}

fn claims() -> EmbedClaims {
    EmbedClaims {
        iss: "http://vitrine.test".into(),
        aud: AUDIENCE.into(),
        sub: Subject::User(crate::UserId::generate()),
        org: crate::OrgId::generate(),
        reports: vec![crate::ReportId::generate()],
        access: AccessLevel::View,
        rls: RlsIdentity {
            username: "ada@example.com".into(),
            roles: vec![],
            attributes: Default::default(),
        },
        iat: NOW,
        iat_ms: NOW * 1000 + 250,
        nbf: NOW,
        exp: NOW + 3600,
        jti: uuid::Uuid::now_v7(),
        keeps_capacity_on: false,
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token with any header and claims, correctly signed by our key.
fn signed(header: &Value, claims: &Value, key: &SigningKey) -> String {
    let input =
        format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
    let signature = key.sign(input.as_bytes());
    format!("{input}.{}", b64(&signature.to_bytes()))
}

fn header() -> Value {
    json!({ "alg": "EdDSA", "typ": TOKEN_TYPE, "kid": KID })
}

fn claims_json() -> Value {
    serde_json::to_value(claims()).unwrap()
}

fn invalid(token: &str) {
    let (_, ring) = keys();
    match unseal(token, &ring, NOW) {
        Err(TokenError::Invalid(_)) => {}
        other => panic!("expected Invalid for {token:.120}…, got {other:?}"),
    }
}

#[test]
fn a_sealed_token_unseals_to_the_same_claims() {
    let (key, ring) = keys();
    let claims = claims();
    let token = seal(&claims, KID, &key).unwrap();
    assert_eq!(unseal(&token, &ring, NOW), Ok(claims));
}

#[test]
fn alg_none_in_any_case_is_refused_with_or_without_a_signature() {
    let (key, _) = keys();
    for alg in ["none", "None", "NONE"] {
        let header = json!({ "alg": alg, "typ": TOKEN_TYPE, "kid": KID });
        let unsigned = format!(
            "{}.{}.",
            b64(header.to_string().as_bytes()),
            b64(claims_json().to_string().as_bytes())
        );
        invalid(&unsigned);
        invalid(unsigned.trim_end_matches('.'));
        invalid(&signed(&header, &claims_json(), &key));
    }
}

#[test]
fn hs256_signed_with_the_public_key_is_refused() {
    let (key, _) = keys();
    let public = key.verifying_key().to_bytes();
    for secret in [public.to_vec(), b64(&public).into_bytes()] {
        let header = json!({ "alg": "HS256", "typ": TOKEN_TYPE, "kid": KID });
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims_json().to_string().as_bytes())
        );
        let mut mac = Hmac::<Sha256>::new_from_slice(&secret).unwrap();
        mac.update(input.as_bytes());
        invalid(&format!("{input}.{}", b64(&mac.finalize().into_bytes())));
    }
}

#[test]
fn other_algorithms_unknown_keys_and_hostile_kids_are_refused() {
    let (key, _) = keys();
    for alg in ["RS256", "ES256", "EdDSA ", "eddsa", "HS512", "PS256"] {
        invalid(&signed(
            &json!({ "alg": alg, "typ": TOKEN_TYPE, "kid": KID }),
            &claims_json(),
            &key,
        ));
    }
    for kid in [
        "k2",
        "../../etc/passwd",
        "' OR '1'='1",
        "k1\u{0}",
        "k1; DROP TABLE signing_keys",
        "",
        &"k".repeat(5000),
    ] {
        invalid(&signed(
            &json!({ "alg": "EdDSA", "typ": TOKEN_TYPE, "kid": kid }),
            &claims_json(),
            &key,
        ));
    }
    invalid(&signed(&json!({ "alg": "EdDSA", "typ": TOKEN_TYPE, "kid": 1 }), &claims_json(), &key));
    // A token signed by a key that is not ours, under our kid.
    let stranger = SigningKey::from_bytes(&[9u8; 32]);
    invalid(&signed(&header(), &claims_json(), &stranger));
}

#[test]
fn key_url_embedded_key_and_critical_headers_are_refused() {
    let (key, _) = keys();
    let extras = [
        ("jku", json!("https://attacker.example/jwks.json")),
        ("x5u", json!("https://attacker.example/cert.pem")),
        (
            "jwk",
            json!({ "kty": "OKP", "crv": "Ed25519", "x": b64(&key.verifying_key().to_bytes()) }),
        ),
        ("crit", json!(["exp"])),
        ("x5c", json!(["MIIB"])),
    ];
    for (name, value) in extras {
        let mut header = header();
        header[name] = value;
        invalid(&signed(&header, &claims_json(), &key));
    }
    // Duplicate header fields cannot smuggle a second algorithm past the check.
    let duplicate = format!(
        "{{\"alg\":\"EdDSA\",\"alg\":\"none\",\"typ\":\"{TOKEN_TYPE}\",\"kid\":\"{KID}\"}}"
    );
    let input =
        format!("{}.{}", b64(duplicate.as_bytes()), b64(claims_json().to_string().as_bytes()));
    invalid(&format!("{input}.{}", b64(&key.sign(input.as_bytes()).to_bytes())));
}

#[test]
fn expired_tokens_are_expired_and_future_ones_not_yet_valid() {
    let (key, ring) = keys();
    let expired = EmbedClaims { exp: NOW - LEEWAY_SECONDS, ..claims() };
    assert_eq!(unseal(&seal(&expired, KID, &key).unwrap(), &ring, NOW), Err(TokenError::Expired));
    let within_leeway = EmbedClaims { exp: NOW - LEEWAY_SECONDS + 1, ..claims() };
    assert!(unseal(&seal(&within_leeway, KID, &key).unwrap(), &ring, NOW).is_ok());
    let future = EmbedClaims { nbf: NOW + LEEWAY_SECONDS + 1, ..claims() };
    assert_eq!(
        unseal(&seal(&future, KID, &key).unwrap(), &ring, NOW),
        Err(TokenError::Invalid("not yet valid"))
    );
}

#[test]
fn times_of_the_wrong_json_type_and_missing_or_wrong_audience_or_type_are_refused() {
    let (key, _) = keys();
    let mut cases = Vec::new();
    for field in ["exp", "nbf", "iat"] {
        for value in [json!(NOW.to_string()), json!(NOW as f64 + 0.5), json!(null), json!(1e300)] {
            let mut claims = claims_json();
            claims[field] = value;
            cases.push(claims);
        }
        let mut claims = claims_json();
        claims.as_object_mut().unwrap().remove(field);
        cases.push(claims);
    }
    let mut no_aud = claims_json();
    no_aud.as_object_mut().unwrap().remove("aud");
    cases.push(no_aud);
    let mut wrong_aud = claims_json();
    wrong_aud["aud"] = json!("some-other-api");
    cases.push(wrong_aud);
    let mut array_aud = claims_json();
    array_aud["aud"] = json!([AUDIENCE]);
    cases.push(array_aud);
    let mut extra = claims_json();
    extra["admin"] = json!(true);
    cases.push(extra);
    for claims in cases {
        invalid(&signed(&header(), &claims, &key));
    }
    let mut no_typ = header();
    no_typ.as_object_mut().unwrap().remove("typ");
    invalid(&signed(&no_typ, &claims_json(), &key));
    for typ in ["JWT", "jwt", "at+jwt"] {
        invalid(&signed(&json!({ "alg": "EdDSA", "typ": typ, "kid": KID }), &claims_json(), &key));
    }
}

#[test]
fn truncated_extended_and_oversized_tokens_are_refused_unread() {
    let (key, _) = keys();
    let token = seal(&claims(), KID, &key).unwrap();
    for cut in [1, 10, token.len() / 2, token.len() - 1] {
        invalid(&token[..cut]);
    }
    invalid(&format!("{token}.extra"));
    invalid(&format!("{token}."));
    invalid(&format!(".{token}"));
    invalid("");
    invalid("..");
    invalid("not a token");
    let huge_header = b64(&vec![b'a'; 1024 * 1024]);
    invalid(&format!("{huge_header}.{}", token.split_once('.').unwrap().1));
    let padded = format!("{token}{}", " ".repeat(MAX_TOKEN_BYTES));
    assert_eq!(unseal(&padded, &keys().1, NOW), Err(TokenError::Invalid("too large")));
}

#[test]
fn every_single_byte_mutation_of_a_valid_token_is_refused() {
    let (key, _) = keys();
    let token = seal(&claims(), KID, &key).unwrap();
    let bytes = token.as_bytes();
    let mut tried = 0;
    for index in 0..bytes.len() {
        for replacement in
            [b'A', b'B', b'a', b'z', b'0', b'9', b'-', b'_', b'.', b'=', b'+', b'/', 0u8, 0xff]
        {
            if bytes[index] == replacement {
                continue;
            }
            let mut mutated = bytes.to_vec();
            mutated[index] = replacement;
            if let Ok(text) = std::str::from_utf8(&mutated) {
                invalid(text);
                tried += 1;
            }
        }
        // Flipping the low bit covers the neighbouring character of every position.
        let mut flipped = bytes.to_vec();
        flipped[index] ^= 1;
        if let Ok(text) = std::str::from_utf8(&flipped) {
            invalid(text);
            tried += 1;
        }
    }
    assert!(tried > bytes.len() * 10, "{tried} mutations tried");
}

#[test]
fn a_host_apps_user_is_told_apart_from_a_user_and_tokens_naming_one_report_still_open() {
    let (signing, keys) = keys();
    let identity = crate::IdentityId::generate();
    let reports = vec![crate::ReportId::generate(), crate::ReportId::generate()];
    let external = EmbedClaims { sub: Subject::Identity(identity), reports, ..claims() };
    let opened = open(&seal(&external, KID, &signing).unwrap(), &keys).unwrap();
    assert_eq!(opened, external);
    assert!(opened.opens(external.reports[1]) && !opened.opens(crate::ReportId::generate()));
    let json = serde_json::to_value(&external).unwrap();
    assert_eq!(json["sub"], format!("identity:{identity}"));

    // A token made before lists: `sub` a bare user id, `report` one id.
    let user = crate::UserId::generate();
    let report = crate::ReportId::generate();
    let mut legacy = claims_json();
    let object = legacy.as_object_mut().unwrap();
    object.remove("reports");
    object.insert("report".into(), json!(report.to_string()));
    object.insert("sub".into(), json!(user.to_string()));
    let opened = open(&signed(&header(), &legacy, &signing), &keys).unwrap();
    assert_eq!((opened.sub, opened.reports), (Subject::User(user), vec![report]));

    for bad in [json!("identity:not-a-uuid"), json!("nobody"), json!(7)] {
        let mut claims = claims_json();
        claims["sub"] = bad;
        invalid(&signed(&header(), &claims, &signing));
    }
    let too_many: Vec<String> =
        (0..=MAX_REPORTS_PER_TOKEN).map(|_| crate::ReportId::generate().to_string()).collect();
    for reports in [json!([]), json!(too_many)] {
        let mut claims = claims_json();
        claims["reports"] = reports;
        invalid(&signed(&header(), &claims, &signing));
    }
}

#[test]
fn the_largest_identity_with_the_longest_issuer_seals_under_the_verifiers_limit() {
    let (signing, keys) = keys();
    let mut identity = RlsIdentity { username: "u".repeat(254), ..Default::default() };
    let mut n = 0;
    // Fill with roles of multi-byte characters (escaped by nothing, 3 bytes each) to the limit.
    while identity.encoded_len() < MAX_RLS_IDENTITY_BYTES - 64 {
        identity.roles.push(format!("{n}{}", "é".repeat(30)));
        n += 1;
    }
    let claims = EmbedClaims {
        iss: format!("https://{}", "b".repeat(MAX_ISSUER_BYTES - 8)),
        sub: Subject::Identity(crate::IdentityId::generate()),
        reports: (0..MAX_REPORTS_PER_TOKEN).map(|_| crate::ReportId::generate()).collect(),
        rls: identity,
        keeps_capacity_on: true,
        ..claims()
    };
    let token = seal(&claims, "k1", &signing).unwrap();
    assert!(token.len() <= MAX_TOKEN_BYTES, "{} bytes", token.len());
    assert_eq!(open(&token, &keys).unwrap(), claims);
}
