//! Embed tokens over HTTP: issuing, the token format, verification answers, the attack corpus,
//! revocation within a second for every trigger, key rotation, audit and metrics.

mod common;

use std::time::{Duration as StdDuration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use common::*;
use ed25519_dalek::Signer;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn decode_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token with any header and claims, signed with the server's current key.
fn forge(app: &TestApp, header: &Value, claims: &Value) -> String {
    let input =
        format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
    let keys = app.tokens.keys.current();
    format!("{input}.{}", b64(&keys.signing_key.sign(input.as_bytes()).to_bytes()))
}

async fn expect_token_error(response: reqwest::Response, status: StatusCode, code: &str) {
    let challenge =
        response.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_string());
    let challenge = challenge.unwrap_or_else(|| panic!("{code}: no WWW-Authenticate header"));
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    let expected =
        if status == StatusCode::FORBIDDEN { "insufficient_scope" } else { "invalid_token" };
    assert!(challenge.contains(&format!("error=\"{expected}\"")), "{challenge}");
    expect_error(response, status, code).await;
}

async fn report_id(session: &Session, name: &str) -> String {
    session.id_of("/api/v1/reports", "name", name).await
}

#[tokio::test]
async fn issuing_answers_the_token_its_expiry_and_the_refresh_policy() {
    let app = spawn_app().await;
    let viewer = app.sign_in(VIEWER).await;
    let report = report_id(&viewer, "Sales overview").await;
    let body = viewer.token(&report).await;
    assert_eq!(body["expiresInSeconds"], 3600);
    assert_eq!(
        body["refresh"],
        json!({ "everySeconds": 3000, "beforeExpirySeconds": 600 }),
        "the demo's timed update"
    );
    assert_eq!(body["expiration"], "2026-03-02T10:00:00.000Z", "RFC 3339 UTC, one hour from now");
    let token = body["token"].as_str().unwrap();
    assert_eq!(decode_part(token, 1)["jti"], body["tokenId"]);

    let admin = app.sign_in(ADMIN).await;
    let off = admin.patch("/api/v1/settings", json!({ "tokenUpdateEveryMinutes": null })).await;
    assert_eq!(off.status(), StatusCode::OK);
    assert_eq!(viewer.token(&report).await["refresh"]["everySeconds"], Value::Null);
    let settings = json!({ "tokenLifetimeMinutes": 20, "tokenUpdateEveryMinutes": 15 });
    assert_eq!(admin.patch("/api/v1/settings", settings).await.status(), StatusCode::OK);
    let body = viewer.token(&report).await;
    assert_eq!(body["expiresInSeconds"], 1200);
    assert_eq!(body["refresh"], json!({ "everySeconds": 900, "beforeExpirySeconds": 300 }));
}

#[tokio::test]
async fn tokens_are_eddsa_jws_of_our_own_type_with_every_claim() {
    let app = spawn_app().await;
    let viewer = app.sign_in(VIEWER).await;
    let report = report_id(&viewer, "Sales overview").await;
    let token = viewer.token(&report).await["token"].as_str().unwrap().to_string();
    assert_eq!(token.split('.').count(), 3);
    let header = decode_part(&token, 0);
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["typ"], "vitrine-embed+jwt");
    let jwks: Value = app
        .anonymous()
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("kid in JWKS");
    assert_eq!(
        (key["kty"].as_str(), key["crv"].as_str(), key["alg"].as_str()),
        (Some("OKP"), Some("Ed25519"), Some("EdDSA"))
    );
    assert_eq!(URL_SAFE_NO_PAD.decode(key["x"].as_str().unwrap()).unwrap().len(), 32);
    assert!(key.get("d").is_none(), "never the private key");

    let claims = decode_part(&token, 1);
    assert_eq!(claims["iss"], app.base.as_str());
    assert_eq!(claims["aud"], "vitrine-embed");
    assert_eq!(claims["sub"], viewer.user["id"]);
    assert_eq!(claims["org"], viewer.json("/api/v1/me").await["organization"]["id"]);
    assert_eq!(claims["reports"], serde_json::json!([report]));
    assert_eq!(claims["access"], "View");
    assert_eq!(claims["rls"]["username"], VIEWER);
    assert!(claims["rls"]["roles"].is_array() && claims["rls"]["attributes"].is_object());
    let iat = claims["iat"].as_i64().unwrap();
    assert_eq!(claims["nbf"].as_i64(), Some(iat));
    assert_eq!(claims["exp"].as_i64(), Some(iat + 3600));
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() == 36));
}

#[tokio::test]
async fn issuing_checks_access_csrf_and_who_is_asking() {
    let app = spawn_app().await;
    let viewer = app.sign_in(VIEWER).await;
    let admin = app.sign_in(ADMIN).await;
    let executive = report_id(&admin, "Executive summary").await;
    let sales = report_id(&viewer, "Sales overview").await;
    let refused = viewer.post(&format!("/api/v1/reports/{executive}/token"), json!({})).await;
    expect_error(refused, StatusCode::FORBIDDEN, "NoAccess").await;
    let missing =
        viewer.post("/api/v1/reports/0190b6a4-0000-7000-8000-000000000000/token", json!({})).await;
    expect_error(missing, StatusCode::NOT_FOUND, "NotFound").await;
    let acme = app.sign_in(ACME_ADMIN).await;
    let foreign = acme.post(&format!("/api/v1/reports/{sales}/token"), json!({})).await;
    expect_error(foreign, StatusCode::NOT_FOUND, "NotFound").await;
    let no_csrf = viewer
        .client
        .post(app.url(&format!("/api/v1/reports/{sales}/token")))
        .send()
        .await
        .unwrap();
    expect_error(no_csrf, StatusCode::FORBIDDEN, "CsrfRejected").await;
    let anonymous = app
        .anonymous()
        .post(app.url(&format!("/api/v1/reports/{sales}/token")))
        .send()
        .await
        .unwrap();
    expect_error(anonymous, StatusCode::UNAUTHORIZED, "Unauthenticated").await;
    let key: Value =
        admin.post("/api/v1/api-keys", json!({ "name": "script" })).await.json().await.unwrap();
    let by_key = app
        .anonymous()
        .post(app.url(&format!("/api/v1/reports/{sales}/token")))
        .header("X-API-Key", key["key"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    expect_error(by_key, StatusCode::FORBIDDEN, "Forbidden").await;
    assert_eq!(admin.token(&executive).await["expiresInSeconds"], 3600, "admins open every report");
}

#[tokio::test]
async fn the_embed_endpoint_answers_with_the_report_or_the_precise_refusal() {
    let app = spawn_app().await;
    let viewer = app.sign_in(VIEWER).await;
    let sales = report_id(&viewer, "Sales overview").await;
    let regional = report_id(&viewer, "Regional performance").await;
    let token = viewer.token(&sales).await["token"].as_str().unwrap().to_string();

    let ok = embed(&app, &token, &sales).await;
    assert_eq!(ok.status(), StatusCode::OK);
    let body: Value = ok.json().await.unwrap();
    assert_eq!(body["name"], "Sales overview");

    expect_token_error(embed(&app, &token, &regional).await, StatusCode::FORBIDDEN, "NoAccess")
        .await;
    let missing = app
        .anonymous()
        .get(app.url(&format!("/api/v1/embed/reports/{sales}")))
        .send()
        .await
        .unwrap();
    expect_token_error(missing, StatusCode::UNAUTHORIZED, "TokenInvalid").await;
    let basic = app
        .anonymous()
        .get(app.url(&format!("/api/v1/embed/reports/{sales}")))
        .header("Authorization", format!("Basic {token}"))
        .send()
        .await
        .unwrap();
    expect_token_error(basic, StatusCode::UNAUTHORIZED, "TokenInvalid").await;
    for parameter in ["access_token", "token", "Access_Token"] {
        let in_url = app
            .anonymous()
            .get(app.url(&format!("/api/v1/embed/reports/{sales}?{parameter}={token}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        expect_token_error(in_url, StatusCode::UNAUTHORIZED, "TokenInvalid").await;
    }
    // A session cookie is not an embed token.
    let by_cookie = viewer.get(&format!("/api/v1/embed/reports/{sales}")).await;
    expect_token_error(by_cookie, StatusCode::UNAUTHORIZED, "TokenInvalid").await;

    app.clock.advance(Duration::minutes(60));
    assert_eq!(
        embed(&app, &token, &sales).await.status(),
        StatusCode::OK,
        "within the 30 s leeway"
    );
    app.clock.advance(Duration::seconds(31));
    expect_token_error(embed(&app, &token, &sales).await, StatusCode::UNAUTHORIZED, "TokenExpired")
        .await;
}

#[tokio::test]
async fn the_attack_corpus_is_refused_with_the_right_codes() {
    let app = spawn_app().await;
    let viewer = app.sign_in(VIEWER).await;
    let sales = report_id(&viewer, "Sales overview").await;
    let regional = report_id(&viewer, "Regional performance").await;
    let issued = viewer.token(&sales).await["token"].as_str().unwrap().to_string();
    let header = decode_part(&issued, 0);
    let claims = decode_part(&issued, 1);
    let kid = header["kid"].as_str().unwrap().to_string();
    let now = claims["iat"].as_i64().unwrap();
    let with = |changes: &[(&str, Value)]| {
        let mut c = claims.clone();
        for (k, v) in changes {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(*k);
            } else {
                c[*k] = v.clone();
            }
        }
        c
    };
    let header_with = |changes: &[(&str, Value)]| {
        let mut h = header.clone();
        for (k, v) in changes {
            if v.is_null() {
                h.as_object_mut().unwrap().remove(*k);
            } else {
                h[*k] = v.clone();
            }
        }
        h
    };
    let payload = b64(claims.to_string().as_bytes());
    let mut invalid: Vec<(&str, String)> = Vec::new();
    for alg in ["none", "None", "NONE"] {
        let h = b64(header_with(&[("alg", json!(alg))]).to_string().as_bytes());
        invalid.push(("alg none unsigned", format!("{h}.{payload}.")));
        invalid
            .push(("alg none signed", forge(&app, &header_with(&[("alg", json!(alg))]), &claims)));
    }
    let jwks: Value = app
        .anonymous()
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let public = URL_SAFE_NO_PAD.decode(jwks["keys"][0]["x"].as_str().unwrap()).unwrap();
    {
        use hmac::{Hmac, Mac};
        let h = b64(header_with(&[("alg", json!("HS256"))]).to_string().as_bytes());
        let input = format!("{h}.{payload}");
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&public).unwrap();
        mac.update(input.as_bytes());
        invalid.push((
            "HS256 with the JWKS key",
            format!("{input}.{}", b64(&mac.finalize().into_bytes())),
        ));
    }
    for alg in ["RS256", "ES256"] {
        invalid
            .push(("other algorithm", forge(&app, &header_with(&[("alg", json!(alg))]), &claims)));
    }
    for bad_kid in
        ["unknown", "../../../etc/passwd", "x' OR '1'='1", "k\u{0}id", &format!("{kid}\u{0}")]
    {
        invalid
            .push(("hostile kid", forge(&app, &header_with(&[("kid", json!(bad_kid))]), &claims)));
    }
    for (name, value) in [
        ("jku", json!("https://evil.example/jwks.json")),
        ("x5u", json!("https://evil.example/cert.pem")),
        ("jwk", json!({ "kty": "OKP", "crv": "Ed25519", "x": b64(&public) })),
        ("crit", json!(["exp"])),
    ] {
        invalid.push(("key-fetching header", forge(&app, &header_with(&[(name, value)]), &claims)));
    }
    invalid.push(("nbf in the future", forge(&app, &header, &with(&[("nbf", json!(now + 3600))]))));
    for field in ["exp", "nbf"] {
        invalid.push((
            "time as string",
            forge(&app, &header, &with(&[(field, json!((now + 60).to_string()))])),
        ));
        invalid.push((
            "time as float",
            forge(&app, &header, &with(&[(field, json!(now as f64 + 60.5))])),
        ));
    }
    invalid.push(("missing aud", forge(&app, &header, &with(&[("aud", Value::Null)]))));
    invalid.push(("wrong aud", forge(&app, &header, &with(&[("aud", json!("another-api"))]))));
    invalid.push(("missing typ", forge(&app, &header_with(&[("typ", Value::Null)]), &claims)));
    invalid.push(("plain JWT typ", forge(&app, &header_with(&[("typ", json!("JWT"))]), &claims)));
    invalid.push(("truncated", issued[..issued.len() - 10].to_string()));
    invalid.push(("extra segment", format!("{issued}.AAAA")));
    invalid.push(("9 KiB", format!("{issued}{}", "A".repeat(9 * 1024))));
    for (case, token) in &invalid {
        let response = embed(&app, token, &sales).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{case}");
        expect_token_error(response, StatusCode::UNAUTHORIZED, "TokenInvalid").await;
    }
    let expired = forge(&app, &header, &with(&[("exp", json!(now - 120))]));
    expect_token_error(
        embed(&app, &expired, &sales).await,
        StatusCode::UNAUTHORIZED,
        "TokenExpired",
    )
    .await;
    expect_token_error(embed(&app, &issued, &regional).await, StatusCode::FORBIDDEN, "NoAccess")
        .await;
    let acme = app.sign_in(ACME_ADMIN).await;
    let acme_report = report_id(&acme, "Acme KPIs").await;
    let acme_token = acme.token(&acme_report).await["token"].as_str().unwrap().to_string();
    expect_token_error(embed(&app, &acme_token, &sales).await, StatusCode::FORBIDDEN, "NoAccess")
        .await;

    // A megabyte of header is refused before it reaches the token check, and nothing breaks.
    let huge = format!("{}.{payload}.AAAA", b64(&vec![b'{'; 768 * 1024]));
    let response = app
        .anonymous()
        .get(app.url(&format!("/api/v1/embed/reports/{sales}")))
        .bearer_auth(&huge)
        .send()
        .await;
    assert!(response.map_or(true, |r| r.status().is_client_error()), "1 MB header refused");

    // Every single-byte mutation (each character's low bit flipped).
    let bytes = issued.as_bytes();
    let mut accepted = 0;
    for index in 0..bytes.len() {
        let mut mutated = bytes.to_vec();
        mutated[index] ^= 1;
        let Ok(text) = String::from_utf8(mutated) else { continue };
        let response = embed(&app, &text, &sales).await;
        if response.status().is_success() {
            accepted += 1;
        }
    }
    assert_eq!(accepted, 0, "no mutation of a valid token is accepted");
    assert_eq!(
        embed(&app, &issued, &sales).await.status(),
        StatusCode::OK,
        "the original still works"
    );
}

/// Issues the viewer a token for the report, applies `change`, and asserts the old token is
/// refused with `TokenRevoked` within one second of the change being acknowledged.
async fn assert_revoked_within_a_second(app: &TestApp, token: &str, report: &str, what: &str) {
    let started = Instant::now();
    loop {
        let response = embed(app, token, report).await;
        if response.status() == StatusCode::UNAUTHORIZED {
            expect_token_error(response, StatusCode::UNAUTHORIZED, "TokenRevoked").await;
            break;
        }
        assert!(started.elapsed() < StdDuration::from_secs(1), "{what}: still accepted after 1 s");
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
    assert!(
        started.elapsed() < StdDuration::from_secs(1),
        "{what}: refused only after {:?}",
        started.elapsed()
    );
}

struct RevocationCase {
    app: TestApp,
    admin: Session,
    viewer: Session,
    viewer_id: String,
    report: String,
    token: String,
    /// A token of another user for the same report, which must survive user-level revocations.
    bystander: Option<String>,
}

async fn revocation_case(report_name: &str) -> RevocationCase {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let viewer = app.sign_in(VIEWER).await;
    let viewer_id = admin.id_of("/api/v1/users", "email", VIEWER).await;
    let report = report_id(&admin, report_name).await;
    let token = viewer.token(&report).await["token"].as_str().unwrap().to_string();
    assert_eq!(embed(&app, &token, &report).await.status(), StatusCode::OK);
    let contributor = app.sign_in(CONTRIBUTOR).await;
    let bystander = contributor.token(&report).await["token"].as_str().map(str::to_string);
    RevocationCase { app, admin, viewer, viewer_id, report, token, bystander }
}

impl RevocationCase {
    async fn expect_revoked(&self, what: &str) {
        assert_revoked_within_a_second(&self.app, &self.token, &self.report, what).await;
    }

    async fn expect_bystander_unaffected(&self) {
        let bystander = self.bystander.as_deref().unwrap();
        assert_eq!(embed(&self.app, bystander, &self.report).await.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn removing_a_direct_grant_revokes_within_a_second() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let viewer = app.sign_in(VIEWER).await;
    let viewer_id = admin.id_of("/api/v1/users", "email", VIEWER).await;
    let report = report_id(&admin, "Executive summary").await;
    let grant = format!("/api/v1/reports/{report}/access/users/{viewer_id}");
    assert_eq!(admin.put(&grant).await.status(), StatusCode::NO_CONTENT);
    let token = viewer.token(&report).await["token"].as_str().unwrap().to_string();
    let bystander =
        app.sign_in(CONTRIBUTOR).await.token(&report).await["token"].as_str().unwrap().to_string();
    assert_eq!(admin.delete(&grant).await.status(), StatusCode::NO_CONTENT);
    assert_revoked_within_a_second(&app, &token, &report, "direct grant removed").await;
    assert_eq!(embed(&app, &bystander, &report).await.status(), StatusCode::OK);
    let again = viewer.post(&format!("/api/v1/reports/{report}/token"), json!({})).await;
    expect_error(again, StatusCode::FORBIDDEN, "NoAccess").await;
}

#[tokio::test]
async fn removal_from_the_granting_group_revokes_within_a_second() {
    let case = revocation_case("Warehouse operations").await;
    let ops = case.admin.id_of("/api/v1/groups", "name", "Operations").await;
    let path = format!("/api/v1/groups/{ops}/members/{}", case.viewer_id);
    assert_eq!(case.admin.delete(&path).await.status(), StatusCode::NO_CONTENT);
    case.expect_revoked("removed from group").await;
    case.expect_bystander_unaffected().await;
}

#[tokio::test]
async fn deleting_the_granting_group_or_its_grant_revokes_within_a_second() {
    let case = revocation_case("Warehouse operations").await;
    let ops = case.admin.id_of("/api/v1/groups", "name", "Operations").await;
    assert_eq!(
        case.admin.delete(&format!("/api/v1/groups/{ops}")).await.status(),
        StatusCode::NO_CONTENT
    );
    case.expect_revoked("group deleted").await;

    let case = revocation_case("Warehouse operations").await;
    let ops = case.admin.id_of("/api/v1/groups", "name", "Operations").await;
    let grant = format!("/api/v1/reports/{}/access/groups/{ops}", case.report);
    assert_eq!(case.admin.delete(&grant).await.status(), StatusCode::NO_CONTENT);
    case.expect_revoked("group's grant removed").await;
}

#[tokio::test]
async fn deleting_the_report_revokes_every_token_for_it_within_a_second() {
    let case = revocation_case("Sales overview").await;
    let path = format!("/api/v1/reports/{}", case.report);
    assert_eq!(case.admin.delete(&path).await.status(), StatusCode::NO_CONTENT);
    case.expect_revoked("report deleted").await;
    let bystander = case.bystander.as_deref().unwrap();
    expect_token_error(
        embed(&case.app, bystander, &case.report).await,
        StatusCode::UNAUTHORIZED,
        "TokenRevoked",
    )
    .await;
}

#[tokio::test]
async fn blocking_deleting_or_changing_role_or_password_revokes_within_a_second() {
    let changes = [
        ("blocked", json!({ "blocked": true })),
        ("role changed", json!({ "role": "Contributor" })),
        ("password changed", json!({ "password": "a-brand-new-password" })),
        ("email changed", json!({ "email": "vera@example.com" })),
    ];
    for (what, change) in changes {
        let case = revocation_case("Sales overview").await;
        let path = format!("/api/v1/users/{}", case.viewer_id);
        assert_eq!(case.admin.patch(&path, change).await.status(), StatusCode::OK, "{what}");
        case.expect_revoked(what).await;
        case.expect_bystander_unaffected().await;
    }
    let case = revocation_case("Sales overview").await;
    assert_eq!(
        case.admin.delete(&format!("/api/v1/users/{}", case.viewer_id)).await.status(),
        StatusCode::NO_CONTENT
    );
    case.expect_revoked("user deleted").await;
    case.expect_bystander_unaffected().await;
}

#[tokio::test]
async fn a_renamed_user_keeps_their_tokens_and_a_new_token_works_after_a_revocation() {
    let case = revocation_case("Sales overview").await;
    let path = format!("/api/v1/users/{}", case.viewer_id);
    assert_eq!(
        case.admin.patch(&path, json!({ "name": "Vera V." })).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        embed(&case.app, &case.token, &case.report).await.status(),
        StatusCode::OK,
        "a name is not access"
    );
    case.admin.post(&format!("/api/v1/users/{}/revoke-tokens", case.viewer_id), json!({})).await;
    case.expect_revoked("revoked").await;
    let fresh = case.viewer.token(&case.report).await["token"].as_str().unwrap().to_string();
    assert_eq!(
        embed(&case.app, &fresh, &case.report).await.status(),
        StatusCode::OK,
        "a token issued after it works"
    );
}

#[tokio::test]
async fn reaching_the_expiry_date_revokes_within_a_second() {
    let case = revocation_case("Sales overview").await;
    let expiry = (case.app.clock_now() + Duration::minutes(10)).to_rfc3339();
    let path = format!("/api/v1/users/{}", case.viewer_id);
    assert_eq!(
        case.admin.patch(&path, json!({ "expiresAt": expiry })).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        embed(&case.app, &case.token, &case.report).await.status(),
        StatusCode::OK,
        "not yet expired"
    );
    case.app.clock.advance(Duration::minutes(10));
    case.expect_revoked("expiry date reached").await;
    case.expect_bystander_unaffected().await;
}

#[tokio::test]
async fn administrators_revoke_one_users_or_the_whole_organizations_tokens() {
    let case = revocation_case("Sales overview").await;
    let response = case
        .admin
        .post(&format!("/api/v1/users/{}/revoke-tokens", case.viewer_id), json!({}))
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    case.expect_revoked("user's tokens revoked").await;
    case.expect_bystander_unaffected().await;

    let case = revocation_case("Sales overview").await;
    let acme = case.app.sign_in(ACME_ADMIN).await;
    let acme_report = report_id(&acme, "Acme KPIs").await;
    let acme_token = acme.token(&acme_report).await["token"].as_str().unwrap().to_string();
    assert_eq!(
        case.admin.post("/api/v1/tokens/revoke", json!({})).await.status(),
        StatusCode::NO_CONTENT
    );
    case.expect_revoked("organization's tokens revoked").await;
    let bystander = case.bystander.as_deref().unwrap();
    expect_token_error(
        embed(&case.app, bystander, &case.report).await,
        StatusCode::UNAUTHORIZED,
        "TokenRevoked",
    )
    .await;
    assert_eq!(
        embed(&case.app, &acme_token, &acme_report).await.status(),
        StatusCode::OK,
        "other organizations keep theirs"
    );

    let viewer = case.app.sign_in(VIEWER).await;
    expect_error(
        viewer.post("/api/v1/tokens/revoke", json!({})).await,
        StatusCode::FORBIDDEN,
        "Forbidden",
    )
    .await;
    let foreign =
        acme.post(&format!("/api/v1/users/{}/revoke-tokens", case.viewer_id), json!({})).await;
    expect_error(foreign, StatusCode::NOT_FOUND, "NotFound").await;
}

#[tokio::test]
async fn revocations_survive_a_restart() {
    let case = revocation_case("Sales overview").await;
    case.admin.post(&format!("/api/v1/users/{}/revoke-tokens", case.viewer_id), json!({})).await;
    case.expect_revoked("before restart").await;
    let (token, report, bystander) =
        (case.token.clone(), case.report.clone(), case.bystander.clone().unwrap());
    let app = case.app.restart().await;
    expect_token_error(
        embed(&app, &token, &report).await,
        StatusCode::UNAUTHORIZED,
        "TokenRevoked",
    )
    .await;
    assert_eq!(embed(&app, &bystander, &report).await.status(), StatusCode::OK, "keys survive too");
}

#[tokio::test]
async fn rotated_keys_sign_within_ten_seconds_and_old_tokens_live_until_they_expire() {
    let app = spawn_app().await;
    let viewer = app.sign_in(VIEWER).await;
    let report = report_id(&viewer, "Sales overview").await;
    let old = viewer.token(&report).await["token"].as_str().unwrap().to_string();
    let old_kid = decode_part(&old, 0)["kid"].as_str().unwrap().to_string();

    let data_dir = app.data_dir().to_path_buf();
    let database = app.database_url();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_vitrine"))
            .args(["keys", "rotate", "--data-dir"])
            .arg(data_dir)
            .env("VITRINE_DATABASE", &database)
            .env_remove("VITRINE_MASTER_KEY")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let rotated = Instant::now();
    let new_kid = loop {
        let token = viewer.token(&report).await["token"].as_str().unwrap().to_string();
        let kid = decode_part(&token, 0)["kid"].as_str().unwrap().to_string();
        if kid != old_kid {
            assert_eq!(embed(&app, &token, &report).await.status(), StatusCode::OK);
            break kid;
        }
        assert!(rotated.elapsed() < StdDuration::from_secs(10), "still signing with the old key");
        tokio::time::sleep(StdDuration::from_millis(200)).await;
    };
    let jwks: Value = app
        .anonymous()
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kids: Vec<&str> =
        jwks["keys"].as_array().unwrap().iter().filter_map(|k| k["kid"].as_str()).collect();
    assert!(kids.contains(&old_kid.as_str()) && kids.contains(&new_kid.as_str()), "{kids:?}");

    // The old token lives its full hour: at +0, +30 and +59 minutes.
    for step in [0, 30, 29] {
        app.clock.advance(Duration::minutes(step));
        assert_eq!(
            embed(&app, &old, &report).await.status(),
            StatusCode::OK,
            "old token refused early"
        );
    }
    app.clock.advance(Duration::minutes(2));
    expect_token_error(embed(&app, &old, &report).await, StatusCode::UNAUTHORIZED, "TokenExpired")
        .await;
}

#[tokio::test]
async fn a_different_master_key_cannot_unseal_the_signing_keys() {
    let mut app = spawn_app().await;
    app.stop().await;
    let config =
        vitrine_server::config::ServerConfig::resolve(vitrine_server::config::ConfigLayer {
            data_dir: Some(app.data_dir().to_path_buf()),
            master_key: Some(base64::engine::general_purpose::STANDARD.encode([42u8; 32])),
            ..Default::default()
        })
        .unwrap();
    let store = vitrine_server::database::open(&app.database_url()).await.unwrap();
    let keys = store.list_signing_keys().await.unwrap();
    assert_eq!(keys.len(), 1);
    let public = &keys[0].public_key;
    assert!(!keys[0].sealed_private_key.windows(public.len()).any(|w| w == public.as_slice()));
    let started = vitrine_server::AppState::start(config, store, app.clock.clone()).await;
    assert!(started.is_err(), "the wrong master key is refused at start");
}

#[tokio::test]
async fn issues_refreshes_rejections_and_revocations_are_audited_with_ip_and_user_agent() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let viewer = app.sign_in(VIEWER).await;
    let report = report_id(&viewer, "Sales overview").await;
    let first = viewer.token(&report).await;
    let second = viewer.token(&report).await;
    let tv = app.anonymous();
    let rejected = tv
        .get(app.url(&format!("/api/v1/embed/reports/{report}")))
        .bearer_auth(first["token"].as_str().unwrap())
        .header("User-Agent", "Warehouse TV 1.0")
        .send()
        .await
        .unwrap();
    assert_eq!(rejected.status(), StatusCode::OK);
    app.clock.advance(Duration::minutes(61));
    let expired = tv
        .get(app.url(&format!("/api/v1/embed/reports/{report}")))
        .bearer_auth(first["token"].as_str().unwrap())
        .header("User-Agent", "Warehouse TV 1.0")
        .send()
        .await
        .unwrap();
    assert_eq!(expired.status(), StatusCode::UNAUTHORIZED);
    let viewer_id = admin.id_of("/api/v1/users", "email", VIEWER).await;
    admin.post(&format!("/api/v1/users/{viewer_id}/revoke-tokens"), json!({})).await;

    let deadline = Instant::now() + StdDuration::from_secs(3);
    let events = loop {
        let events = admin.json("/api/v1/audit/tokens").await;
        if events.as_array().unwrap().len() >= 4 || Instant::now() > deadline {
            break events;
        }
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    };
    let kinds: Vec<&str> =
        events.as_array().unwrap().iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(kinds, ["revoked", "rejected", "refreshed", "issued"], "{events:#}");
    let issued = &events[3];
    assert_eq!(issued["user"], VIEWER);
    assert_eq!(issued["report"], "Sales overview");
    assert_eq!(issued["tokenId"], first["tokenId"]);
    assert_eq!(issued["ip"], "127.0.0.1");
    assert_eq!(events[2]["tokenId"], second["tokenId"]);
    let rejection = &events[1];
    assert_eq!(
        (rejection["reason"].as_str(), rejection["userAgent"].as_str()),
        (Some("expired"), Some("Warehouse TV 1.0"))
    );
    assert_eq!(rejection["tokenId"], first["tokenId"]);
    assert_eq!(events[0]["by"], ADMIN);

    let only_rejections = admin.json("/api/v1/audit/tokens?kind=rejected&reason=expired").await;
    assert_eq!(only_rejections.as_array().unwrap().len(), 1);
    let csv = admin.get("/api/v1/audit/tokens?format=csv&kind=issued").await;
    assert!(
        csv.headers()["content-disposition"].to_str().unwrap().contains("vitrine-token-audit.csv")
    );
    let text = csv.text().await.unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.contains(first["tokenId"].as_str().unwrap()));
    let bad = admin.get("/api/v1/audit/tokens?kind=stolen").await;
    assert_eq!(
        expect_error(bad, StatusCode::BAD_REQUEST, "InvalidInput").await["error"]["field"],
        "kind"
    );
    expect_error(viewer.get("/api/v1/audit/tokens").await, StatusCode::FORBIDDEN, "Forbidden")
        .await;
}

#[tokio::test]
async fn token_metrics_count_issues_refreshes_and_rejections_by_reason() {
    let app = spawn_app().await;
    let viewer = app.sign_in(VIEWER).await;
    let report = report_id(&viewer, "Sales overview").await;
    let token = viewer.token(&report).await["token"].as_str().unwrap().to_string();
    viewer.token(&report).await;
    embed(&app, &token, &report).await;
    embed(&app, "garbage", &report).await;
    app.clock.advance(Duration::minutes(61));
    embed(&app, &token, &report).await;
    let text = app.metrics().await;
    assert!(text.contains("vitrine_tokens_issued_total 1"), "{text}");
    assert!(text.contains("vitrine_tokens_refreshed_total 1"), "{text}");
    assert!(text.contains("vitrine_tokens_rejected_total{reason=\"expired\"} 1"), "{text}");
    assert!(text.contains("vitrine_tokens_rejected_total{reason=\"malformed\"} 1"), "{text}");
    assert!(text.contains("vitrine_token_verification_seconds_count 3"), "{text}");
}
