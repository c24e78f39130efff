//! SCIM 2.0 provisioning against the real server: only an API key of scope `scim` provisions;
//! users are made, found and changed as Entra ID and Okta do it; deactivating a user ends their
//! sessions and revokes their tokens; a member a provider takes out of a group loses what the
//! group gave. The whole protocol is also checked by the PyPI conformance client `scim2-cli`
//! in e2e/tests/scim.test.mjs.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn scim_key(admin: &Session, scope: &str) -> String {
    let response =
        admin.post("/api/v1/api-keys", json!({ "name": "Provider", "scope": scope })).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    created["key"].as_str().unwrap().to_string()
}

/// A SCIM call with `key` as the bearer; answers the status and the body.
async fn scim(
    app: &TestApp,
    key: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = app
        .anonymous()
        .request(method, app.url(&format!("/scim/v2{path}")))
        .header("Authorization", format!("Bearer {key}"));
    if let Some(body) = body {
        request = request.header("Content-Type", "application/scim+json").body(body.to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    if status != StatusCode::NO_CONTENT {
        let kind = response.headers()["content-type"].to_str().unwrap().to_string();
        assert_eq!(kind, "application/scim+json", "{path}");
    }
    let text = response.text().await.unwrap();
    (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() })
}

fn patch(operations: Value) -> Value {
    json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations })
}

async fn find_user(app: &TestApp, key: &str, filter: &str) -> Value {
    let query = format!("/Users?filter={}", urlencode(filter));
    let (status, list) = scim(app, key, Method::GET, &query, None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["totalResults"], 1, "{filter}: {list}");
    list["Resources"][0].clone()
}

fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// A server, a scim key of Northwind, and its viewer holding a token for "Sales overview".
async fn with_viewer_reading_sales() -> (TestApp, String, Session, String, String) {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let key = scim_key(&admin, "scim").await;
    let viewer = app.sign_in(VIEWER).await;
    let sales = viewer.id_of("/api/v1/reports", "name", "Sales overview").await;
    let token = viewer.token(&sales).await["token"].as_str().unwrap().to_string();
    (app, key, viewer, sales, token)
}

#[tokio::test]
async fn only_an_api_key_of_scope_scim_provisions_and_it_does_nothing_else() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let key = scim_key(&admin, "scim").await;
    let anonymous = app.anonymous().get(app.url("/scim/v2/Users")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert!(anonymous.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
    let body: Value = anonymous.json().await.unwrap();
    assert_eq!(body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error");
    assert_eq!(body["status"], "401");

    let admin_key = scim_key(&admin, "admin").await;
    let (status, _) = scim(&app, &admin_key, Method::GET, "/Users", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "an admin key is not a provisioning key");
    let (status, _) = scim(&app, "vtr_not-a-key", Method::GET, "/Users", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // The scim key reaches nothing of the JSON API.
    for (method, path) in [
        (Method::GET, "/api/v1/users"),
        (Method::POST, "/api/v1/groups"),
        (Method::GET, "/api/v1/reports"),
    ] {
        let response = app
            .anonymous()
            .request(method, app.url(path))
            .header("X-API-Key", &key)
            .json(&json!({ "name": "x" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let (status, config) = scim(&app, &key, Method::GET, "/ServiceProviderConfig", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (config["patch"]["supported"].as_bool(), config["bulk"]["supported"].as_bool()),
        (Some(true), Some(false))
    );
}

#[tokio::test]
async fn a_provider_makes_finds_and_changes_a_user_as_entra_id_does() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let key = scim_key(&admin, "scim").await;
    let new_user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "externalId": "8c1f-entra-object-id",
        "userName": "Nina.Novak@example.com",
        "active": true,
        "name": { "givenName": "Nina", "familyName": "Novak" },
        "emails": [{ "value": "Nina.Novak@example.com", "type": "work", "primary": true }],
    });
    let (status, made) = scim(&app, &key, Method::POST, "/Users", Some(new_user.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let id = made["id"].as_str().unwrap().to_string();
    assert_eq!(made["userName"], "Nina.Novak@example.com");
    assert_eq!(made["name"], json!({ "givenName": "Nina", "familyName": "Novak" }));
    assert_eq!(made["meta"]["location"], app.url(&format!("/scim/v2/Users/{id}")));

    // Vitrine's user: the email lower-cased, the name from the given and family names.
    let users = admin.json("/api/v1/users").await;
    let nina = users.as_array().unwrap().iter().find(|u| u["id"] == id.as_str()).unwrap().clone();
    assert_eq!(
        (nina["email"].as_str(), nina["name"].as_str()),
        (Some("nina.novak@example.com"), Some("Nina Novak"))
    );
    let audit = admin.json("/api/v1/audit?entityType=user").await;
    assert!(audit.to_string().contains("API key Provider"), "provisioning is audited as the key");

    // Found as providers look for it.
    assert_eq!(
        find_user(&app, &key, r#"userName eq "nina.novak@example.com""#).await["id"],
        id.as_str()
    );
    assert_eq!(
        find_user(&app, &key, r#"externalId eq "8c1f-entra-object-id""#).await["id"],
        id.as_str()
    );
    // Vitrine's own users are found by their email before a provider ever wrote them.
    let viewer = find_user(&app, &key, &format!(r#"userName eq "{VIEWER}""#)).await;
    assert_eq!(viewer["emails"][0]["value"], VIEWER);
    let (_, none) = scim(
        &app,
        &key,
        Method::GET,
        &format!("/Users?filter={}", urlencode(r#"userName eq "nobody""#)),
        None,
    )
    .await;
    assert_eq!(none["totalResults"], 0);

    // Entra ID's PATCH: op in capitals, the new email by a filtered path.
    let change = patch(json!([
        { "op": "Replace", "path": "emails[type eq \"work\"].value", "value": "nina.kovac@example.com" },
        { "op": "Replace", "path": "name.familyName", "value": "Kovač" },
    ]));
    let (status, changed) =
        scim(&app, &key, Method::PATCH, &format!("/Users/{id}"), Some(change)).await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["emails"][0]["value"], "nina.kovac@example.com");
    let users = admin.json("/api/v1/users").await;
    let nina = users.as_array().unwrap().iter().find(|u| u["id"] == id.as_str()).unwrap().clone();
    assert_eq!(
        (nina["email"].as_str(), nina["name"].as_str()),
        (Some("nina.kovac@example.com"), Some("Nina Kovač"))
    );

    // Taken values are refused as SCIM says, and change nothing.
    let mut twin = new_user.clone();
    twin["emails"] = json!([{ "value": "someone.else@example.com", "primary": true }]);
    let (status, error) = scim(&app, &key, Method::POST, "/Users", Some(twin)).await;
    assert_eq!(
        (status, error["scimType"].as_str()),
        (StatusCode::CONFLICT, Some("uniqueness")),
        "the same userName"
    );
    let mut taken = new_user;
    taken["userName"] = json!("another");
    taken["emails"] = json!([{ "value": VIEWER, "primary": true }]);
    let (status, error) = scim(&app, &key, Method::POST, "/Users", Some(taken)).await;
    assert_eq!(
        (status, error["scimType"].as_str()),
        (StatusCode::CONFLICT, Some("uniqueness")),
        "{error}"
    );
    let (status, error) =
        scim(&app, &key, Method::POST, "/Users", Some(json!({ "userName": "no-email" }))).await;
    assert_eq!(
        (status, error["scimType"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalidValue"))
    );
    let (status, _) =
        scim(&app, &key, Method::GET, "/Users?filter=title%20co%20%22x%22", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, _) = scim(&app, &key, Method::DELETE, &format!("/Users/{id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = scim(&app, &key, Method::GET, &format!("/Users/{id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn deactivating_a_user_ends_their_sessions_and_revokes_their_tokens_at_once() {
    let (app, key, viewer, sales, token) = with_viewer_reading_sales().await;
    assert_eq!(embed(&app, &token, &sales).await.status(), StatusCode::OK);

    let id = find_user(&app, &key, &format!(r#"userName eq "{VIEWER}""#)).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Okta's deactivation: no path, a boolean. (Entra ID sends "False", as the unit tests show.)
    let off = patch(json!([{ "op": "replace", "value": { "active": false } }]));
    let (status, user) = scim(&app, &key, Method::PATCH, &format!("/Users/{id}"), Some(off)).await;
    assert_eq!((status, user["active"].as_bool()), (StatusCode::OK, Some(false)));

    assert_eq!(
        viewer.get("/api/v1/me").await.status(),
        StatusCode::UNAUTHORIZED,
        "the session ended"
    );
    let refused = embed(&app, &token, &sales).await;
    expect_error(refused, StatusCode::UNAUTHORIZED, "TokenRevoked").await;
    assert!(app.sign_in_with(VIEWER, PASSWORD).await.is_err(), "a blocked user cannot sign in");

    let on = patch(json!([{ "op": "Replace", "path": "active", "value": "True" }]));
    let (status, user) = scim(&app, &key, Method::PATCH, &format!("/Users/{id}"), Some(on)).await;
    assert_eq!((status, user["active"].as_bool()), (StatusCode::OK, Some(true)));
    assert!(app.sign_in_with(VIEWER, PASSWORD).await.is_ok(), "active again");
}

#[tokio::test]
async fn a_member_the_provider_takes_out_of_a_group_loses_its_reports_at_once() {
    let (app, key, viewer, sales, token) = with_viewer_reading_sales().await;

    let query = format!("/Groups?filter={}", urlencode(r#"displayName eq "Sales team""#));
    let (_, groups) = scim(&app, &key, Method::GET, &query, None).await;
    assert_eq!(groups["totalResults"], 1, "{groups}");
    let group = groups["Resources"][0].clone();
    let viewer_id = find_user(&app, &key, &format!(r#"userName eq "{VIEWER}""#)).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(group["members"].as_array().unwrap().iter().any(|m| m["value"] == viewer_id.as_str()));

    let leave =
        patch(json!([{ "op": "remove", "path": format!("members[value eq \"{viewer_id}\"]") }]));
    let path = format!("/Groups/{}", group["id"].as_str().unwrap());
    let (status, left) = scim(&app, &key, Method::PATCH, &path, Some(leave)).await;
    assert_eq!(status, StatusCode::OK, "{left}");
    assert!(!left["members"].as_array().unwrap().iter().any(|m| m["value"] == viewer_id.as_str()));
    expect_error(embed(&app, &token, &sales).await, StatusCode::UNAUTHORIZED, "TokenRevoked").await;
    let again = viewer.post(&format!("/api/v1/reports/{sales}/token"), json!({})).await;
    expect_error(again, StatusCode::FORBIDDEN, "NoAccess").await;

    // Added back (Entra ID adds members with a list value).
    let join =
        patch(json!([{ "op": "Add", "path": "members", "value": [{ "value": viewer_id }] }]));
    let (status, _) = scim(&app, &key, Method::PATCH, &path, Some(join)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        viewer.post(&format!("/api/v1/reports/{sales}/token"), json!({})).await.status(),
        StatusCode::OK
    );

    // A group made by the provider, renamed, and deleted.
    let (status, made) = scim(&app, &key, Method::POST, "/Groups", Some(json!({ "displayName": "Finance", "externalId": "g-7", "members": [{ "value": viewer_id }] }))).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let path = format!("/Groups/{}", made["id"].as_str().unwrap());
    let rename =
        patch(json!([{ "op": "replace", "path": "displayName", "value": "Finance EMEA" }]));
    let (status, renamed) = scim(&app, &key, Method::PATCH, &path, Some(rename)).await;
    assert_eq!((status, renamed["displayName"].as_str()), (StatusCode::OK, Some("Finance EMEA")));
    let (status, error) = scim(
        &app,
        &key,
        Method::POST,
        "/Groups",
        Some(json!({ "displayName": "x", "members": [{ "value": "not-a-user" }] })),
    )
    .await;
    assert_eq!(
        (status, error["scimType"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalidValue"))
    );
    let (status, _) = scim(&app, &key, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}
