//! An organization's single sign-on settings through the API: checked field by field, tested
//! by discovery before they are saved, the secret sealed and never answered; domains that lead
//! to one organization only once an operator verified them; passwords refused where single
//! sign-on is required (operators excepted). The sign-in itself, against a real OpenID
//! provider in a browser, is in e2e/tests/sso.test.mjs.
//!
//! The issuer here is a discovery document served by the test (the format of OpenID Connect
//! Discovery 1.0): enough for the settings, which only read it.

mod common;

use axum::Json;
use axum::routing::get;
use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// An issuer on a port of its own that answers discovery and an empty key set.
async fn issuer() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let document = json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/auth"),
        "token_endpoint": format!("{base}/token"),
        "jwks_uri": format!("{base}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    });
    let app = axum::Router::new()
        .route("/.well-known/openid-configuration", get(move || async move { Json(document) }))
        .route("/jwks", get(|| async { Json(json!({ "keys": [] })) }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

/// Acme's id in the operators' list of organizations.
fn acme_id(organizations: &Value) -> String {
    let acme = organizations.as_array().unwrap().iter().find(|o| o["name"] == "Acme Corporation");
    acme.unwrap()["id"].as_str().unwrap().to_string()
}

fn settings(issuer: &str) -> Value {
    json!({
        "issuer": issuer,
        "clientId": "vitrine",
        "clientSecret": "s3cret-value-never-shown",
        "domains": ["Acme.Example.com", "acme.example.com"],
    })
}

#[tokio::test]
async fn a_provider_is_read_before_it_is_saved_and_its_secret_is_never_answered() {
    let app = spawn_app().await;
    let issuer = issuer().await;
    let admin = app.sign_in(ACME_ADMIN).await;
    let none = admin.get("/api/v1/sso").await;
    expect_error(none, StatusCode::NOT_FOUND, "NotFound").await;

    // Nothing answers there: nothing is saved.
    let nowhere = admin.put_json("/api/v1/sso", settings("http://127.0.0.1:9")).await;
    let body = expect_error(nowhere, StatusCode::BAD_GATEWAY, "IdentityProviderUnavailable").await;
    assert_eq!(body["error"]["field"], "issuer");
    assert_eq!(admin.get("/api/v1/sso").await.status(), StatusCode::NOT_FOUND);

    let set = admin.put_json("/api/v1/sso", settings(&issuer)).await;
    assert_eq!(set.status(), StatusCode::OK);
    let shown = set.text().await.unwrap();
    assert!(!shown.contains("s3cret"), "the secret is never answered: {shown}");
    let shown: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["issuer"], issuer.as_str());
    assert_eq!(shown["scopes"], json!(["openid", "email", "profile"]), "the default scopes");
    assert_eq!(shown["domains"], json!([{ "domain": "acme.example.com", "verified": false }]));
    assert_eq!(shown["defaultRole"], "Viewer");
    assert_eq!(shown["redirectUri"], app.url("/auth/oidc/callback"));
    assert!(shown["signInUrl"].as_str().unwrap().contains("/sso/"));

    // A field left out keeps its value, the secret too.
    let changed = admin.put_json("/api/v1/sso", json!({ "clientId": "vitrine-2" })).await;
    assert_eq!(changed.status(), StatusCode::OK);
    let changed: Value = changed.json().await.unwrap();
    assert_eq!(
        (changed["clientId"].as_str(), changed["issuer"].as_str()),
        (Some("vitrine-2"), Some(issuer.as_str()))
    );

    let audit = admin.json("/api/v1/audit?entityType=sso").await;
    let text = audit.to_string();
    assert!(!text.contains("s3cret") && text.contains("vitrine-2"), "{text}");

    assert_eq!(admin.delete("/api/v1/sso").await.status(), StatusCode::NO_CONTENT);
    assert_eq!(admin.get("/api/v1/sso").await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn wrong_settings_name_their_field_and_change_nothing() {
    let app = spawn_app().await;
    let issuer = issuer().await;
    let admin = app.sign_in(ACME_ADMIN).await;
    let cases = [
        (
            json!({ "issuer": "http://id.example.com", "clientId": "a", "clientSecret": "b" }),
            "issuer",
        ),
        (json!({ "issuer": issuer, "clientSecret": "b" }), "clientId"),
        (json!({ "issuer": issuer, "clientId": "a" }), "clientSecret"),
        (
            json!({ "issuer": issuer, "clientId": "a", "clientSecret": "b", "preset": "okta" }),
            "preset",
        ),
        (
            json!({ "issuer": issuer, "clientId": "a", "clientSecret": "b", "domains": ["acme"] }),
            "domains",
        ),
        (
            json!({ "issuer": issuer, "clientId": "a", "clientSecret": "b", "scopes": ["a b"] }),
            "scopes",
        ),
        (
            json!({ "issuer": issuer, "clientId": "a", "clientSecret": "b", "defaultRole": "Owner" }),
            "defaultRole",
        ),
        (
            json!({ "issuer": issuer, "clientId": "a", "clientSecret": "b", "groups": { "x": "nope" }, "groupsClaim": "groups" }),
            "groups.x",
        ),
        (
            json!({ "issuer": issuer, "clientId": "a", "clientSecret": "b", "groups": {} , "groupsClaim": "a b" }),
            "groupsClaim",
        ),
        (
            json!({ "issuer": issuer, "clientId": "a", "clientSecret": "b", "colour": "red" }),
            "colour",
        ),
    ];
    for (body, field) in cases {
        let answer = admin.put_json("/api/v1/sso", body.clone()).await;
        let error = expect_error(answer, StatusCode::BAD_REQUEST, "InvalidInput").await;
        assert_eq!(error["error"]["field"], field, "{body}");
    }
    assert_eq!(admin.get("/api/v1/sso").await.status(), StatusCode::NOT_FOUND, "nothing saved");

    // A group of another organization is not one of this organization's.
    let northwind = app.sign_in(ADMIN).await;
    let theirs = northwind.id_of("/api/v1/groups", "name", "Sales team").await;
    let mut body = settings(&issuer);
    body["groupsClaim"] = json!("groups");
    body["groups"] = json!({ "sales": theirs });
    let answer = admin.put_json("/api/v1/sso", body).await;
    let error = expect_error(answer, StatusCode::BAD_REQUEST, "InvalidInput").await;
    assert_eq!(error["error"]["field"], "groups.sales");

    // Viewers and API keys of other scopes may not.
    let viewer = app.sign_in(VIEWER).await;
    assert_eq!(
        viewer.put_json("/api/v1/sso", settings(&issuer)).await.status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn a_domain_leads_to_one_organization_and_only_an_operator_verifies_it() {
    let app = spawn_app().await;
    let issuer = issuer().await;
    let acme = app.sign_in(ACME_ADMIN).await;
    assert_eq!(acme.put_json("/api/v1/sso", settings(&issuer)).await.status(), StatusCode::OK);

    // The operator's organization claims the same domain: refused, nothing changed.
    let operator = app.sign_in(ADMIN).await;
    let taken = operator.put_json("/api/v1/sso", settings(&issuer)).await;
    let error = expect_error(taken, StatusCode::CONFLICT, "InvalidInput").await;
    assert_eq!(error["error"]["field"], "domains");
    assert_eq!(operator.get("/api/v1/sso").await.status(), StatusCode::NOT_FOUND);

    // The sign-in form's single sign-on does not lead an unverified domain anywhere.
    let anonymous = app.anonymous();
    let form = [("email", "ana@acme.example.com"), ("password", ""), ("sso", "1")];
    let before = anonymous.post(app.url("/login")).form(&form).send().await.unwrap();
    assert_eq!(before.status(), StatusCode::BAD_REQUEST);
    assert!(before.text().await.unwrap().contains("No organization signs in with single sign-on"));

    let orgs = operator.json("/api/v1/installation/organizations").await;
    let acme_id = acme_id(&orgs);
    let path =
        format!("/api/v1/installation/organizations/{acme_id}/sso-domains/acme.example.com/verify");
    assert_eq!(
        acme.post(&path, json!({})).await.status(),
        StatusCode::FORBIDDEN,
        "not an operator"
    );
    let unknown =
        format!("/api/v1/installation/organizations/{acme_id}/sso-domains/other.example/verify");
    assert_eq!(operator.post(&unknown, json!({})).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(operator.post(&path, json!({})).await.status(), StatusCode::NO_CONTENT);
    let shown = acme.json("/api/v1/sso").await;
    assert_eq!(shown["domains"], json!([{ "domain": "acme.example.com", "verified": true }]));

    // Verified, it leads to the organization's "Sign in with …" page, whose button starts the
    // sign-in with the email as the hint; writing nothing (the flow's state travels in a
    // sealed cookie).
    let after = anonymous.post(app.url("/login")).form(&form).send().await.unwrap();
    assert_eq!(after.status(), StatusCode::OK);
    let page = after.text().await.unwrap();
    assert!(
        page.contains("Acme Corporation") && page.contains("Sign in with single sign-on"),
        "{page}"
    );
    let location = format!("/auth/oidc/start?org={acme_id}&login_hint=ana%40acme.example.com");
    assert!(page.contains(&location.replace('&', "&amp;")), "{page}");
    let start = anonymous.get(app.url(&location)).send().await.unwrap();
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    let cookie = start.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.starts_with("vitrine_oidc=")
            && cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let to = url::Url::parse(start.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(to.as_str().split('?').next().unwrap(), format!("{issuer}/auth"));
    let query: std::collections::HashMap<_, _> = to.query_pairs().into_owned().collect();
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["client_id"], "vitrine");
    assert_eq!(query["redirect_uri"], app.url("/auth/oidc/callback"));
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["login_hint"], "ana@acme.example.com");
    for needed in ["state", "nonce", "code_challenge"] {
        assert!(query[needed].len() >= 22, "{needed} is random: {query:?}");
    }
    assert!(query["scope"].split(' ').any(|s| s == "openid"));
}

#[tokio::test]
async fn a_callback_without_the_flows_cookie_or_with_another_state_signs_nobody_in() {
    let app = spawn_app().await;
    let issuer = issuer().await;
    let acme = app.sign_in(ACME_ADMIN).await;
    assert_eq!(acme.put_json("/api/v1/sso", settings(&issuer)).await.status(), StatusCode::OK);
    let orgs = app.sign_in(ADMIN).await.json("/api/v1/installation/organizations").await;
    let acme_id = acme_id(&orgs);
    let browser = app.anonymous();
    // The organization's page hands a path of this server on to the flow, and nothing else.
    let page = |back: &str| {
        let url = app.url(&format!(
            "/sso/{acme_id}?return={}",
            form_urlencoded::byte_serialize(back.as_bytes()).collect::<String>()
        ));
        let browser = browser.clone();
        async move { browser.get(url).send().await.unwrap().text().await.unwrap() }
    };
    assert!(page("/reports/r1").await.contains("return=%2Freports%2Fr1"));
    for elsewhere in ["//evil.example/x", "https://evil.example/"] {
        assert!(!page(elsewhere).await.contains("return="), "{elsewhere}");
    }
    let callback =
        browser.get(app.url("/auth/oidc/callback?code=abc&state=xyz")).send().await.unwrap();
    assert_eq!(callback.status(), StatusCode::UNAUTHORIZED);
    assert!(callback.text().await.unwrap().contains("Start it again"));

    let start =
        browser.get(app.url(&format!("/auth/oidc/start?org={acme_id}"))).send().await.unwrap();
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    let cookie =
        start.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let forged = browser
        .get(app.url("/auth/oidc/callback?code=abc&state=not-the-state"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(
        forged.status(),
        StatusCode::UNAUTHORIZED,
        "another state is refused before the code is used"
    );
    let mut tampered = cookie.clone();
    tampered.push('A');
    let broken = browser
        .get(app.url("/auth/oidc/callback?code=abc&state=x"))
        .header("cookie", tampered)
        .send()
        .await
        .unwrap();
    assert_eq!(broken.status(), StatusCode::UNAUTHORIZED);
    let denied = browser
        .get(app.url("/auth/oidc/callback?error=access_denied&error_description=The+user+said+no"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);
    assert!(denied.text().await.unwrap().contains("The user said no"));
}

#[tokio::test]
async fn where_single_sign_on_is_required_passwords_are_refused_but_an_operators() {
    let app = spawn_app().await;
    let issuer = issuer().await;
    let acme = app.sign_in(ACME_ADMIN).await;
    let mut body = settings(&issuer);
    body["required"] = json!(true);
    assert_eq!(acme.put_json("/api/v1/sso", body).await.status(), StatusCode::OK);

    // By the organization the account is of (the domain is not verified yet).
    let refused = app.sign_in_with(ACME_ADMIN, PASSWORD).await.err().expect("refused");
    expect_error(refused, StatusCode::FORBIDDEN, "SsoRequired").await;
    // An email of nobody at a domain not verified yet is just a wrong one.
    let stranger = app.sign_in_with("nobody@acme.example.com", PASSWORD).await.err().unwrap();
    expect_error(stranger, StatusCode::UNAUTHORIZED, "InvalidCredentials").await;

    // Verified, the domain refuses every password of it before checking it.
    let operator = app.sign_in(ADMIN).await;
    let orgs = operator.json("/api/v1/installation/organizations").await;
    let acme_id = acme_id(&orgs);
    let path =
        format!("/api/v1/installation/organizations/{acme_id}/sso-domains/acme.example.com/verify");
    assert_eq!(operator.post(&path, json!({})).await.status(), StatusCode::NO_CONTENT);
    let stranger = app.sign_in_with("nobody@acme.example.com", PASSWORD).await.err().unwrap();
    expect_error(stranger, StatusCode::FORBIDDEN, "SsoRequired").await;

    // The operator's own organization requiring it leaves the operator their password.
    let mut theirs = settings(&issuer);
    theirs["domains"] = json!(["example.com"]);
    theirs["required"] = json!(true);
    assert_eq!(operator.put_json("/api/v1/sso", theirs).await.status(), StatusCode::OK);
    assert!(app.sign_in_with(ADMIN, PASSWORD).await.is_ok(), "operators keep their password");
    let viewer = app.sign_in_with(VIEWER, PASSWORD).await.err().unwrap();
    expect_error(viewer, StatusCode::FORBIDDEN, "SsoRequired").await;
}
