//! The public JSON API contract: users, groups, reports, access, permissions, settings,
//! audit, API keys, roles and tenant isolation.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn names(list: &Value) -> Vec<String> {
    let mut names: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn admin_creates_reads_updates_and_deletes_a_user() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let response = admin
        .post(
            "/api/v1/users",
            json!({ "email": "New.Person@Example.com", "name": "New Person", "role": "Contributor",
                    "password": "a-long-password", "expiresAt": "2027-01-31" }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["email"], "new.person@example.com");
    assert_eq!(created["role"], "Contributor");
    assert_eq!(created["expiresAt"], "2027-01-31T23:59:59.000Z");
    let id = created["id"].as_str().unwrap();

    let read = admin.json(&format!("/api/v1/users/{id}")).await;
    assert_eq!(read["name"], "New Person");
    assert_eq!(read["groups"], json!([]));

    let updated: Value = admin
        .patch(
            &format!("/api/v1/users/{id}"),
            json!({ "name": "Renamed", "role": "viewer", "expiresAt": null }),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (updated["name"].as_str(), updated["role"].as_str()),
        (Some("Renamed"), Some("Viewer"))
    );
    assert_eq!(updated["expiresAt"], Value::Null);

    app.sign_in_with("new.person@example.com", "a-long-password").await.expect("new user signs in");
    let response = admin
        .patch(&format!("/api/v1/users/{id}"), json!({ "password": "another-password" }))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(app.sign_in_with("new.person@example.com", "a-long-password").await.is_err());
    app.sign_in_with("new.person@example.com", "another-password")
        .await
        .expect("new password works");

    assert_eq!(admin.delete(&format!("/api/v1/users/{id}")).await.status(), StatusCode::NO_CONTENT);
    expect_error(
        admin.get(&format!("/api/v1/users/{id}")).await,
        StatusCode::NOT_FOUND,
        "NotFound",
    )
    .await;
}

#[tokio::test]
async fn bad_user_input_names_the_field_and_changes_nothing() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let before = admin.json("/api/v1/users").await;
    let cases = [
        (json!({ "name": "x", "password": "long-enough" }), "email"),
        (json!({ "email": "not-an-email", "password": "long-enough" }), "email"),
        (json!({ "email": "a@example.com", "password": 12_345_678 }), "password"),
        (json!({ "email": "a@example.com", "password": "short" }), "password"),
        (json!({ "email": "a@example.com", "password": "long-enough", "role": "Owner" }), "role"),
        (
            json!({ "email": "a@example.com", "password": "long-enough", "blocked": "yes" }),
            "blocked",
        ),
        (
            json!({ "email": "a@example.com", "password": "long-enough", "expiresAt": "soon" }),
            "expiresAt",
        ),
        (json!({ "email": "a@example.com", "password": "long-enough", "name": "" }), "name"),
        (
            json!({ "email": "a@example.com", "password": "long-enough", "name": "x".repeat(300) }),
            "name",
        ),
        (
            json!({ "email": "a@example.com", "password": "long-enough", "isAdmin": true }),
            "isAdmin",
        ),
    ];
    for (body, field) in cases {
        let response = admin.post("/api/v1/users", body.clone()).await;
        let error = expect_error(response, StatusCode::BAD_REQUEST, "InvalidInput").await;
        assert_eq!(error["error"]["field"], field, "{body}");
    }
    let duplicate =
        admin.post("/api/v1/users", json!({ "email": VIEWER, "password": "long-enough" })).await;
    let error = expect_error(duplicate, StatusCode::CONFLICT, "InvalidInput").await;
    assert_eq!(error["error"]["field"], "email");
    // The email is unique across organizations too.
    let acme = app.sign_in(ACME_ADMIN).await;
    let across =
        acme.post("/api/v1/users", json!({ "email": VIEWER, "password": "long-enough" })).await;
    assert_eq!(across.status(), StatusCode::CONFLICT);

    let viewer_id = admin.id_of("/api/v1/users", "email", VIEWER).await;
    let patch = admin
        .patch(
            &format!("/api/v1/users/{viewer_id}"),
            json!({ "name": "Changed", "role": "Superuser" }),
        )
        .await;
    assert_eq!(
        expect_error(patch, StatusCode::BAD_REQUEST, "InvalidInput").await["error"]["field"],
        "role"
    );
    assert_eq!(admin.json("/api/v1/users").await, before, "no rejected request changed anything");
}

#[tokio::test]
async fn the_last_active_administrator_cannot_be_removed_or_demoted() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let me = admin.user["id"].as_str().unwrap().to_string();
    let demote = admin.patch(&format!("/api/v1/users/{me}"), json!({ "role": "Viewer" })).await;
    expect_error(demote, StatusCode::BAD_REQUEST, "InvalidInput").await;
    let block = admin.patch(&format!("/api/v1/users/{me}"), json!({ "blocked": true })).await;
    expect_error(block, StatusCode::BAD_REQUEST, "InvalidInput").await;
    let delete_self = admin.delete(&format!("/api/v1/users/{me}")).await;
    expect_error(delete_self, StatusCode::BAD_REQUEST, "InvalidInput").await;

    let second = admin
        .post(
            "/api/v1/users",
            json!({ "email": "second@example.com", "password": "long-enough", "role": "Admin" }),
        )
        .await;
    assert_eq!(second.status(), StatusCode::CREATED);
    let demote =
        admin.patch(&format!("/api/v1/users/{me}"), json!({ "role": "Contributor" })).await;
    assert_eq!(demote.status(), StatusCode::OK, "another admin remains");
}

#[tokio::test]
async fn viewers_and_contributors_are_refused_admin_calls_with_forbidden() {
    let app = spawn_app().await;
    let viewer = app.sign_in(VIEWER).await;
    let contributor = app.sign_in(CONTRIBUTOR).await;
    let admin_only = [
        ("GET", "/api/v1/users"),
        ("POST", "/api/v1/users"),
        ("GET", "/api/v1/groups"),
        ("POST", "/api/v1/groups"),
        ("GET", "/api/v1/settings"),
        ("PATCH", "/api/v1/settings"),
        ("GET", "/api/v1/audit"),
        ("GET", "/api/v1/api-keys"),
        ("PUT", "/api/v1/permissions/capacity.turnOn/users/00000000-0000-0000-0000-000000000000"),
    ];
    for session in [&viewer, &contributor] {
        for (method, path) in admin_only {
            let method: reqwest::Method = method.parse().unwrap();
            let body = (method != reqwest::Method::GET).then(|| json!({}));
            let response = session.send(method.clone(), path, body).await;
            expect_error(response, StatusCode::FORBIDDEN, "Forbidden").await;
        }
    }
    let create = viewer.post("/api/v1/reports", json!({ "name": "Mine" })).await;
    expect_error(create, StatusCode::FORBIDDEN, "Forbidden").await;
    let create = contributor.post("/api/v1/reports", json!({ "name": "Contributed" })).await;
    assert_eq!(create.status(), StatusCode::CREATED, "contributors manage reports");
}

#[tokio::test]
async fn report_access_is_the_union_of_user_and_group_grants() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let user: Value = admin
        .post("/api/v1/users", json!({ "email": "pat@example.com", "password": "pat-password" }))
        .await
        .json()
        .await
        .unwrap();
    let user_id = user["id"].as_str().unwrap();
    let pat = app.sign_in_with("pat@example.com", "pat-password").await.unwrap();
    assert_eq!(pat.json("/api/v1/reports").await, json!([]));

    let report: Value = admin
        .post("/api/v1/reports", json!({ "name": "Night shift", "description": "Shift KPIs" }))
        .await
        .json()
        .await
        .unwrap();
    let report_id = report["id"].as_str().unwrap();
    expect_error(
        pat.get(&format!("/api/v1/reports/{report_id}")).await,
        StatusCode::FORBIDDEN,
        "NoAccess",
    )
    .await;

    let group: Value =
        admin.post("/api/v1/groups", json!({ "name": "Night" })).await.json().await.unwrap();
    let group_id = group["id"].as_str().unwrap();
    assert_eq!(
        admin.put(&format!("/api/v1/groups/{group_id}/members/{user_id}")).await.status(),
        StatusCode::NO_CONTENT
    );
    let grant = admin.put(&format!("/api/v1/reports/{report_id}/access/groups/{group_id}")).await;
    assert_eq!(grant.status(), StatusCode::NO_CONTENT);
    assert_eq!(names(&pat.json("/api/v1/reports").await), ["Night shift"]);
    assert_eq!(pat.json(&format!("/api/v1/reports/{report_id}")).await["name"], "Night shift");

    let direct = admin.put(&format!("/api/v1/reports/{report_id}/access/users/{user_id}")).await;
    assert_eq!(direct.status(), StatusCode::NO_CONTENT);
    let access = admin.json(&format!("/api/v1/reports/{report_id}/access")).await;
    assert_eq!(access["users"].as_array().unwrap().len(), 1);
    assert_eq!(access["groups"].as_array().unwrap().len(), 1);

    admin.delete(&format!("/api/v1/groups/{group_id}/members/{user_id}")).await;
    assert_eq!(
        names(&pat.json("/api/v1/reports").await),
        ["Night shift"],
        "still granted directly"
    );
    admin.delete(&format!("/api/v1/reports/{report_id}/access/users/{user_id}")).await;
    assert_eq!(pat.json("/api/v1/reports").await, json!([]));

    admin.put(&format!("/api/v1/groups/{group_id}/members/{user_id}")).await;
    assert_eq!(pat.json("/api/v1/reports").await.as_array().unwrap().len(), 1);
    assert_eq!(
        admin.delete(&format!("/api/v1/groups/{group_id}")).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        pat.json("/api/v1/reports").await,
        json!([]),
        "deleting the group removes its grants"
    );
}

#[tokio::test]
async fn viewers_see_only_granted_reports_and_admins_see_all() {
    let app = spawn_app().await;
    let viewer = app.sign_in(VIEWER).await;
    assert_eq!(
        names(&viewer.json("/api/v1/reports").await),
        ["Regional performance", "Sales overview", "Warehouse operations"]
    );
    let admin = app.sign_in(ADMIN).await;
    assert_eq!(admin.json("/api/v1/reports").await.as_array().unwrap().len(), 4);
    let report = admin.json("/api/v1/reports").await[0].clone();
    for key in ["id", "name", "description", "ownerId", "createdAt", "updatedAt"] {
        assert!(report.get(key).is_some(), "report has {key}");
    }
}

#[tokio::test]
async fn permissions_are_granted_to_users_and_groups_and_unioned() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let viewer_id = admin.id_of("/api/v1/users", "email", VIEWER).await;
    let viewer = app.sign_in(VIEWER).await;
    assert_eq!(viewer.json("/api/v1/me").await["permissions"], json!([]));

    let grant = admin.put(&format!("/api/v1/permissions/capacity.keepOn/users/{viewer_id}")).await;
    assert_eq!(grant.status(), StatusCode::NO_CONTENT);
    let ops = admin.id_of("/api/v1/groups", "name", "Operations").await;
    let grant = admin.put(&format!("/api/v1/permissions/capacity.turnOn/groups/{ops}")).await;
    assert_eq!(grant.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        viewer.json("/api/v1/me").await["permissions"],
        json!(["capacity.turnOn", "capacity.keepOn"])
    );
    let user = admin.json(&format!("/api/v1/users/{viewer_id}")).await;
    assert_eq!(user["permissions"], json!(["capacity.keepOn"]));
    assert_eq!(
        admin.json(&format!("/api/v1/groups/{ops}")).await["permissions"],
        json!(["capacity.turnOn"])
    );

    admin.delete(&format!("/api/v1/permissions/capacity.keepOn/users/{viewer_id}")).await;
    assert_eq!(viewer.json("/api/v1/me").await["permissions"], json!(["capacity.turnOn"]));

    let unknown =
        admin.put(&format!("/api/v1/permissions/capacity.destroy/users/{viewer_id}")).await;
    let error = expect_error(unknown, StatusCode::BAD_REQUEST, "InvalidInput").await;
    assert_eq!(error["error"]["field"], "permission");
}

#[tokio::test]
async fn settings_are_validated_whole_and_every_bad_value_names_its_field() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let defaults = admin.json("/api/v1/settings").await;
    assert_eq!(
        defaults,
        json!({
            "sessionIdleTimeoutMinutes": 480,
            "sessionAbsoluteTimeoutHours": 720,
            "tokenLifetimeMinutes": 60,
            "tokenUpdateEveryMinutes": 50,
            "timeZone": "UTC",
            "capacityWakeFromViewer": true,
            "embedAllowedOrigins": []
        }),
        "the demo turns the timed token update on"
    );
    let bad = [
        json!({ "sessionIdleTimeoutMinutes": 0 }),
        json!({ "sessionIdleTimeoutMinutes": -5 }),
        json!({ "sessionIdleTimeoutMinutes": 43201 }),
        json!({ "sessionIdleTimeoutMinutes": "60" }),
        json!({ "sessionIdleTimeoutMinutes": 12.5 }),
        json!({ "sessionIdleTimeoutMinutes": 1e40 }),
        json!({ "sessionIdleTimeoutMinutes": 30, "sessionAbsoluteTimeoutHours": 9000 }),
        json!({ "sessionTimeout": 30 }),
        json!({ "tokenLifetimeMinutes": 0 }),
        json!({ "tokenLifetimeMinutes": -60 }),
        json!({ "tokenLifetimeMinutes": 1441 }),
        json!({ "tokenLifetimeMinutes": "60" }),
        json!({ "tokenLifetimeMinutes": 59.5 }),
        json!({ "tokenLifetimeMinutes": 1e30 }),
        json!({ "tokenLifetimeMinutes": null }),
        json!({ "tokenUpdateEveryMinutes": 0 }),
        json!({ "tokenUpdateEveryMinutes": -1 }),
        json!({ "tokenUpdateEveryMinutes": 60 }),
        json!({ "tokenUpdateEveryMinutes": 90 }),
        json!({ "tokenUpdateEveryMinutes": "50" }),
        json!({ "tokenUpdateEveryMinutes": 49.9 }),
        json!({ "tokenUpdateEveryMinutes": 99999999999999999999u128 as f64 }),
        json!({ "tokenLifetimeMinutes": 30, "tokenUpdateEveryMinutes": 30 }),
        json!({ "sessionIdleTimeoutMinutes": 30, "tokenUpdateEveryMinutes": 75 }),
        json!({ "timeZone": "Mars/Olympus" }),
        json!({ "timeZone": null }),
        json!({ "capacityWakeFromViewer": "no" }),
        json!({ "sessionIdleTimeoutMinutes": 30, "capacityWakeFromViewer": 0 }),
    ];
    for body in bad {
        let response = admin.patch("/api/v1/settings", body.clone()).await;
        let error = expect_error(response, StatusCode::BAD_REQUEST, "InvalidInput").await;
        let field = error["error"]["field"].as_str().unwrap().to_string();
        assert!(body.get(&field).is_some(), "{field} names a field of {body}");
    }
    assert_eq!(admin.json("/api/v1/settings").await, defaults, "nothing saved");
    let saved = admin.patch("/api/v1/settings", json!({ "sessionIdleTimeoutMinutes": 30 })).await;
    assert_eq!(saved.json::<Value>().await.unwrap()["sessionIdleTimeoutMinutes"], 30);
    let timed = admin
        .patch(
            "/api/v1/settings",
            json!({ "tokenLifetimeMinutes": 30, "tokenUpdateEveryMinutes": 20 }),
        )
        .await;
    let timed: Value = timed.json().await.unwrap();
    assert_eq!(
        (timed["tokenLifetimeMinutes"].as_i64(), timed["tokenUpdateEveryMinutes"].as_i64()),
        (Some(30), Some(20))
    );
    let off = admin.patch("/api/v1/settings", json!({ "tokenUpdateEveryMinutes": null })).await;
    assert_eq!(off.json::<Value>().await.unwrap()["tokenUpdateEveryMinutes"], Value::Null);
    let acme = app.sign_in(ACME_ADMIN).await;
    assert_eq!(
        acme.json("/api/v1/settings").await["sessionIdleTimeoutMinutes"],
        480,
        "per organization"
    );
}

#[tokio::test]
async fn the_audit_log_records_who_changed_what_with_old_and_new_values() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let viewer_id = admin.id_of("/api/v1/users", "email", VIEWER).await;
    admin
        .patch(
            &format!("/api/v1/users/{viewer_id}"),
            json!({ "role": "Contributor", "password": "brand-new-secret" }),
        )
        .await;
    admin.patch("/api/v1/settings", json!({ "sessionIdleTimeoutMinutes": 45 })).await;

    let entries = admin.json("/api/v1/audit?entityType=user&actor=admin@example.com").await;
    let change =
        entries.as_array().unwrap().iter().find(|e| e["action"] == "updated").expect("user update");
    assert_eq!(change["actor"], ADMIN);
    assert_eq!(change["entityId"], viewer_id.as_str());
    assert_eq!(change["oldValue"]["role"], "Viewer");
    assert_eq!(change["newValue"]["role"], "Contributor");
    assert_eq!(change["newValue"]["password"], "changed");
    let everything = admin.get("/api/v1/audit?limit=1000").await.text().await.unwrap();
    assert!(
        !everything.contains("brand-new-secret") && !everything.contains("$argon2"),
        "no secrets in the audit log"
    );

    let settings = admin.json("/api/v1/audit?entityType=settings&actor=admin@example.com").await;
    assert_eq!(settings[0]["oldValue"]["sessionIdleTimeoutMinutes"], 480);
    assert_eq!(settings[0]["newValue"]["sessionIdleTimeoutMinutes"], 45);

    let csv = admin.get("/api/v1/audit?format=csv&entityType=settings&actor=admin").await;
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let text = csv.text().await.unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("time,actor,actorId,entityType,entityId,action,oldValue,newValue")
    );
    let row = lines.next().expect("one settings change");
    assert!(
        row.contains("admin@example.com") && row.contains("settings") && row.contains("45"),
        "{row}"
    );
    assert_eq!(lines.next(), None);

    let bad = admin.get("/api/v1/audit?entityType=spaceship").await;
    assert_eq!(
        expect_error(bad, StatusCode::BAD_REQUEST, "InvalidInput").await["error"]["field"],
        "entityType"
    );
    let bad = admin.get("/api/v1/audit?since=yesterday").await;
    assert_eq!(
        expect_error(bad, StatusCode::BAD_REQUEST, "InvalidInput").await["error"]["field"],
        "since"
    );
}

#[tokio::test]
async fn nothing_of_one_organization_is_visible_from_another() {
    let app = spawn_app().await;
    let northwind = app.sign_in(ADMIN).await;
    let acme = app.sign_in(ACME_ADMIN).await;
    let viewer_id = northwind.id_of("/api/v1/users", "email", VIEWER).await;
    let report_id = northwind.id_of("/api/v1/reports", "name", "Sales overview").await;
    let group_id = northwind.id_of("/api/v1/groups", "name", "Sales team").await;
    let acme_user = acme.id_of("/api/v1/users", "email", ACME_ADMIN).await;

    assert_eq!(names(&acme.json("/api/v1/reports").await), ["Acme KPIs"]);
    assert_eq!(acme.json("/api/v1/users").await.as_array().unwrap().len(), 1);
    assert_eq!(acme.json("/api/v1/groups").await, json!([]));
    for path in [
        format!("/api/v1/users/{viewer_id}"),
        format!("/api/v1/reports/{report_id}"),
        format!("/api/v1/groups/{group_id}"),
        format!("/api/v1/reports/{report_id}/access"),
    ] {
        expect_error(acme.get(&path).await, StatusCode::NOT_FOUND, "NotFound").await;
    }
    for response in [
        acme.patch(&format!("/api/v1/users/{viewer_id}"), json!({ "blocked": true })).await,
        acme.delete(&format!("/api/v1/users/{viewer_id}")).await,
        acme.put(&format!("/api/v1/reports/{report_id}/access/users/{acme_user}")).await,
        acme.put(&format!("/api/v1/groups/{group_id}/members/{acme_user}")).await,
        acme.delete(&format!("/api/v1/reports/{report_id}")).await,
        acme.put(&format!("/api/v1/permissions/capacity.turnOn/users/{viewer_id}")).await,
    ] {
        expect_error(response, StatusCode::NOT_FOUND, "NotFound").await;
    }
    // Northwind cannot pull Acme's user into its own objects either.
    let cross =
        northwind.put(&format!("/api/v1/reports/{report_id}/access/users/{acme_user}")).await;
    expect_error(cross, StatusCode::NOT_FOUND, "NotFound").await;
    assert!(northwind.json(&format!("/api/v1/users/{viewer_id}")).await["blocked"] == false);
    let audit = acme.get("/api/v1/audit?limit=1000").await.text().await.unwrap();
    assert!(!audit.contains(&viewer_id) && !audit.contains("Sales overview"));
}

#[tokio::test]
async fn api_keys_act_as_an_administrator_of_their_organization_until_revoked() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let created: Value = admin
        .post("/api/v1/api-keys", json!({ "name": "Nightly sync" }))
        .await
        .json()
        .await
        .unwrap();
    let key = created["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("vtr_"));
    let listed = admin.json("/api/v1/api-keys").await;
    assert!(listed[0].get("key").is_none(), "the secret is shown only once");
    assert!(key.starts_with(listed[0]["prefix"].as_str().unwrap()));

    let scripts = app.anonymous();
    let users =
        scripts.get(app.url("/api/v1/users")).header("X-API-Key", &key).send().await.unwrap();
    assert_eq!(users.status(), StatusCode::OK);
    // No CSRF token is needed: a key is not ambient authority like a cookie.
    let group = scripts
        .post(app.url("/api/v1/groups"))
        .header("X-API-Key", &key)
        .json(&json!({ "name": "Made by script" }))
        .send()
        .await
        .unwrap();
    assert_eq!(group.status(), StatusCode::CREATED);
    let audit = admin.json("/api/v1/audit?entityType=group").await;
    assert_eq!(audit[0]["actor"], "API key Nightly sync");
    let reports =
        scripts.get(app.url("/api/v1/reports")).header("X-API-Key", &key).send().await.unwrap();
    assert_eq!(
        reports.json::<Value>().await.unwrap().as_array().unwrap().len(),
        4,
        "its own organization only"
    );

    let id = created["id"].as_str().unwrap();
    assert_eq!(
        admin.delete(&format!("/api/v1/api-keys/{id}")).await.status(),
        StatusCode::NO_CONTENT
    );
    let refused =
        scripts.get(app.url("/api/v1/users")).header("X-API-Key", &key).send().await.unwrap();
    expect_error(refused, StatusCode::UNAUTHORIZED, "Unauthenticated").await;
    let forged = scripts
        .get(app.url("/api/v1/users"))
        .header("X-API-Key", "vtr_forged")
        .send()
        .await
        .unwrap();
    expect_error(forged, StatusCode::UNAUTHORIZED, "Unauthenticated").await;
}

#[tokio::test]
async fn oversized_bodies_unknown_routes_and_malformed_ids_get_clear_errors() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let huge = "x".repeat(2 * 1024 * 1024);
    let response = admin.post("/api/v1/groups", json!({ "name": huge })).await;
    let error = expect_error(response, StatusCode::PAYLOAD_TOO_LARGE, "InvalidInput").await;
    assert_eq!(error["error"]["field"], "body");
    expect_error(admin.get("/api/v1/nothing-here").await, StatusCode::NOT_FOUND, "NotFound").await;
    expect_error(admin.get("/api/v1/users/not-a-uuid").await, StatusCode::NOT_FOUND, "NotFound")
        .await;
    expect_error(admin.get("/api/v1/users/'%20OR%201=1").await, StatusCode::NOT_FOUND, "NotFound")
        .await;
    let nul = admin.post("/api/v1/groups", json!({ "name": "bad\u{0}name" })).await;
    assert_eq!(
        expect_error(nul, StatusCode::BAD_REQUEST, "InvalidInput").await["error"]["field"],
        "name"
    );
    assert_eq!(admin.get("/healthz").await.status(), StatusCode::OK, "the server is still up");
}

#[tokio::test]
async fn junk_input_never_makes_the_server_fail() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let bodies: Vec<Vec<u8>> = vec![
        vec![0xff, 0xfe, 0x00, 0x7b],
        b"{\"email\": \"\\ud800\"}".to_vec(),
        deep.into_bytes(),
        b"{\"name\": 1e999999}".to_vec(),
        b"null".to_vec(),
        Vec::new(),
        "{\"name\": \"😀\u{202e}\"}".as_bytes().to_vec(),
    ];
    let paths = [
        "/api/v1/users",
        "/api/v1/groups",
        "/api/v1/reports",
        "/api/v1/auth/login",
        "/api/v1/api-keys",
    ];
    for path in paths {
        for body in &bodies {
            for method in [reqwest::Method::POST, reqwest::Method::PATCH, reqwest::Method::PUT] {
                let response = admin
                    .client
                    .request(method.clone(), app.url(path))
                    .header("X-CSRF-Token", &admin.csrf)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                assert!(response.status().as_u16() < 500, "{method} {path}: {}", response.status());
            }
        }
    }
    for path in ["/admin/users", "/admin/groups", "/admin/reports", "/admin/settings", "/login"] {
        let response = admin
            .client
            .post(app.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(vec![b'%', 0xff, b'=', b'&', b'&', b'='])
            .send()
            .await
            .unwrap();
        assert!(response.status().as_u16() < 500, "{path}: {}", response.status());
    }
    assert_eq!(admin.get("/healthz").await.status(), StatusCode::OK);
}
