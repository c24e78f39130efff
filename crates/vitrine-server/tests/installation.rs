//! The installation: first-run set-up (API, page and command line), operators and the
//! organizations they create, limit, suspend and delete, never reading their content.

mod common;

use std::process::Command;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn vitrine() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vitrine"))
}

#[tokio::test]
async fn first_run_needs_the_logged_code_creates_the_operator_and_happens_once() {
    let app = spawn_empty_app_with(|layer| layer).await;
    let code = app.setup_code.clone().expect("an empty store arms set-up");
    let client = app.anonymous();
    let page = client.get(app.url("/setup")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let setup = |code: &str| {
        json!({ "code": code, "organization": "Initech", "email": "Peter@Initech.example",
                "name": "Peter", "password": "tps-reports-1999" })
    };
    let wrong =
        client.post(app.url("/api/v1/setup")).json(&setup("WRONGCODE")).send().await.unwrap();
    let body = expect_error(wrong, StatusCode::BAD_REQUEST, "InvalidInput").await;
    assert_eq!(body["error"]["field"], "code");
    assert!(app.store.list_organizations().await.unwrap().is_empty(), "nothing created");

    // The code is accepted with the spacing or case a person types it in.
    let typed = format!("{} {}", &code[..6].to_lowercase(), &code[6..]);
    let done = client.post(app.url("/api/v1/setup")).json(&setup(&typed)).send().await.unwrap();
    assert_eq!(done.status(), StatusCode::CREATED);
    let body: Value = done.json().await.unwrap();
    assert_eq!(body["organization"]["name"], "Initech");
    assert_eq!(body["user"]["email"], "peter@initech.example");
    assert_eq!(body["user"]["role"], "Admin");
    assert_eq!(body["user"]["operator"], true);

    let again = client.post(app.url("/api/v1/setup")).json(&setup(&code)).send().await.unwrap();
    expect_error(again, StatusCode::NOT_FOUND, "NotFound").await;
    let page = client.get(app.url("/setup")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::NOT_FOUND, "the set-up page is gone for good");

    let peter = app.sign_in_with("peter@initech.example", "tps-reports-1999").await.unwrap();
    let me = peter.json("/api/v1/me").await;
    assert_eq!(me["organization"]["name"], "Initech");
    let orgs = peter.json("/api/v1/installation/organizations").await;
    assert_eq!(orgs.as_array().map(Vec::len), Some(1));
    let audit = peter.json("/api/v1/installation/audit").await;
    assert!(audit.as_array().unwrap().iter().any(|e| e["action"] == "set up"), "{audit}");
}

#[tokio::test]
async fn bad_setup_input_names_the_field_and_creates_nothing() {
    let app = spawn_empty_app_with(|layer| layer).await;
    let code = app.setup_code.clone().unwrap();
    let client = app.anonymous();
    let base = json!({ "code": code, "organization": "Initech", "email": "p@initech.example",
                       "password": "tps-reports-1999" });
    for (field, value) in [
        ("organization", json!("")),
        ("email", json!("not-an-email")),
        ("password", json!("short")),
        ("organisation", json!("typo")),
    ] {
        let mut body = base.clone();
        body[field] = value;
        let refused = client.post(app.url("/api/v1/setup")).json(&body).send().await.unwrap();
        let error = expect_error(refused, StatusCode::BAD_REQUEST, "InvalidInput").await;
        assert_eq!(error["error"]["field"], field);
    }
    assert!(app.store.list_organizations().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_setup_command_is_idempotent_and_refuses_a_different_setup() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let run = |org: &str, email: &str| {
        vitrine()
            .args(["setup", "--org", org, "--admin-email", email, "--data-dir", dir])
            .env("VITRINE_SETUP_ADMIN_PASSWORD", "correct-horse-battery")
            .env("VITRINE_LOG", "error")
            .output()
            .expect("vitrine setup")
    };
    let first = run("Initech", "peter@initech.example");
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(String::from_utf8_lossy(&first.stdout).contains("Set up: organization Initech"));
    let same = run("Initech", "peter@initech.example");
    assert!(same.status.success(), "the same set-up again is not an error");
    assert!(String::from_utf8_lossy(&same.stdout).contains("Already set up"));
    let other = run("Globex", "hank@globex.example");
    assert!(!other.status.success(), "a different set-up is refused");
    assert!(String::from_utf8_lossy(&other.stderr).contains("set up already"));

    // The password can also come on standard input.
    let piped = tempfile::tempdir().unwrap();
    let mut child = vitrine()
        .args(["setup", "--org", "Globex", "--admin-email", "hank@globex.example"])
        .args(["--data-dir", piped.path().to_str().unwrap()])
        .env_remove("VITRINE_SETUP_ADMIN_PASSWORD")
        .env("VITRINE_LOG", "error")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"hammock-district-9\n").unwrap();
    assert!(child.wait_with_output().unwrap().status.success());

    // Both installations serve the accounts they were set up with.
    let store =
        vitrine_server::database::open(&format!("sqlite://{dir}/vitrine.db")).await.unwrap();
    let login = store.find_login("peter@initech.example").await.unwrap().expect("account");
    assert!(login.user.operator);
    assert_eq!(store.list_organizations().await.unwrap().len(), 1);
    store.close().await;

    // `operators add` needs an existing account; `remove` keeps the last operator.
    let add = vitrine()
        .args(["operators", "add", "--email", "nobody@x.example", "--data-dir", dir])
        .output()
        .unwrap();
    assert!(!add.status.success());
    let remove = vitrine()
        .args(["operators", "remove", "--email", "peter@initech.example", "--data-dir", dir])
        .output()
        .unwrap();
    assert!(!remove.status.success());
    assert!(String::from_utf8_lossy(&remove.stderr).contains("last operator"));
}

/// An operator (the demo's admin@example.com) creates an organization whose invited admin
/// sets a password; the operator then suspends and reinstates it.
#[tokio::test]
async fn an_operator_creates_an_organization_and_suspending_it_locks_its_people_out_at_once() {
    let app = spawn_app().await;
    let operator = app.sign_in(ADMIN).await;
    let created = operator
        .post(
            "/api/v1/installation/organizations",
            json!({ "name": "Globex", "adminEmail": "hank@globex.example", "limits": { "maxUsers": 5 } }),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    let org = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["limits"]["maxUsers"], 5);
    assert_eq!(created["admin"]["passwordSet"], false);
    assert_eq!(created["invitation"]["emailed"], false, "no SMTP in this test");
    let url = created["invitation"]["url"].as_str().unwrap();
    let token = url.split_once("/welcome#").expect("invitation URL with a fragment").1;

    let accept = app
        .anonymous()
        .post(app.url("/api/v1/auth/invitation/accept"))
        .json(&json!({ "token": token, "password": "globex-hammocks" }))
        .send()
        .await
        .unwrap();
    assert_eq!(accept.status(), StatusCode::OK);
    let hank = app.sign_in_with("hank@globex.example", "globex-hammocks").await.unwrap();
    let report = hank.post("/api/v1/reports", json!({ "name": "Hammock sales" })).await;
    assert_eq!(report.status(), StatusCode::CREATED);
    let report: Value = report.json().await.unwrap();
    let report_id = report["id"].as_str().unwrap();
    let token = hank.token(report_id).await["token"].as_str().unwrap().to_string();
    assert_eq!(embed(&app, &token, report_id).await.status(), StatusCode::OK);

    let capacity = hank.post("/api/v1/capacities", json!({ "name": "Globex engine" })).await;
    assert_eq!(capacity.status(), StatusCode::CREATED);
    let capacity: Value = capacity.json().await.unwrap();
    assert_eq!(capacity["state"], "Running");
    let capacity: vitrine_core::CapacityId = capacity["id"].as_str().unwrap().parse().unwrap();

    let suspended = operator
        .patch(&format!("/api/v1/installation/organizations/{org}"), json!({ "suspended": true }))
        .await;
    assert_eq!(suspended.status(), StatusCode::OK);
    assert_eq!(suspended.json::<Value>().await.unwrap()["suspended"], true);
    let org_id: vitrine_core::OrgId = org.parse().unwrap();
    let state = app.store.get_capacity(org_id, capacity).await.unwrap().state;
    assert!(
        matches!(
            state,
            vitrine_core::capacity::CapacityState::Pausing
                | vitrine_core::capacity::CapacityState::Paused
        ),
        "its capacities pause: {state:?}"
    );
    // At once: the session is gone, the token refused, and signing in is refused.
    expect_error(hank.get("/api/v1/me").await, StatusCode::UNAUTHORIZED, "Unauthenticated").await;
    expect_error(embed(&app, &token, report_id).await, StatusCode::UNAUTHORIZED, "TokenRevoked")
        .await;
    let Err(refused) = app.sign_in_with("hank@globex.example", "globex-hammocks").await else {
        panic!("a suspended organization's user signed in");
    };
    expect_error(refused, StatusCode::FORBIDDEN, "OrganizationSuspended").await;
    // Other organizations are untouched.
    assert_eq!(app.sign_in(ACME_ADMIN).await.get("/api/v1/me").await.status(), StatusCode::OK);

    let reinstated = operator
        .patch(&format!("/api/v1/installation/organizations/{org}"), json!({ "suspended": false }))
        .await;
    assert_eq!(reinstated.status(), StatusCode::OK);
    let hank = app.sign_in_with("hank@globex.example", "globex-hammocks").await.unwrap();
    assert_eq!(hank.get("/api/v1/me").await.status(), StatusCode::OK);
    let actions: Vec<String> = operator
        .json("/api/v1/installation/audit")
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(actions[..2], ["reinstated", "suspended"], "{actions:?}");
}

#[tokio::test]
async fn an_operator_sees_counts_but_never_an_organizations_reports() {
    let app = spawn_app().await;
    let operator = app.sign_in(ADMIN).await;
    let acme_admin = app.sign_in(ACME_ADMIN).await;
    let acme_report = acme_admin.post("/api/v1/reports", json!({ "name": "Acme secrets" })).await;
    let acme_report: Value = acme_report.json().await.unwrap();
    let acme_report = acme_report["id"].as_str().unwrap();
    let acme =
        acme_admin.json("/api/v1/me").await["organization"]["id"].as_str().unwrap().to_string();

    let view = operator.json(&format!("/api/v1/installation/organizations/{acme}")).await;
    let org: vitrine_core::OrgId = acme.parse().unwrap();
    let reports = app.store.list_reports(org).await.unwrap().len();
    assert_eq!(view["usage"]["reports"], reports);
    let text = view.to_string();
    assert!(!text.contains("Acme secrets") && !text.contains(acme_report), "{text}");
    let report = operator.get(&format!("/api/v1/reports/{acme_report}")).await;
    expect_error(report, StatusCode::NOT_FOUND, "NotFound").await;
    let token = operator.post(&format!("/api/v1/reports/{acme_report}/token"), json!({})).await;
    expect_error(token, StatusCode::NOT_FOUND, "NotFound").await;

    // Administrators who are not operators, and API keys, have no installation API.
    let forbidden = acme_admin.get("/api/v1/installation/organizations").await;
    expect_error(forbidden, StatusCode::FORBIDDEN, "Forbidden").await;
    let key = operator.post("/api/v1/api-keys", json!({ "name": "ops script" })).await;
    let key: Value = key.json().await.unwrap();
    let with_key = app
        .anonymous()
        .get(app.url("/api/v1/installation/organizations"))
        .header("X-API-Key", key["key"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    expect_error(with_key, StatusCode::FORBIDDEN, "Forbidden").await;
}

#[tokio::test]
async fn deleting_an_organization_needs_its_name_typed_and_removes_everything_of_it() {
    let app = spawn_app().await;
    let operator = app.sign_in(ADMIN).await;
    let acme_admin = app.sign_in(ACME_ADMIN).await;
    let acme =
        acme_admin.json("/api/v1/me").await["organization"]["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/installation/organizations/{acme}");

    let unconfirmed = operator.delete(&format!("{path}?confirm=Acme")).await;
    let body = expect_error(unconfirmed, StatusCode::BAD_REQUEST, "InvalidInput").await;
    assert_eq!(body["error"]["field"], "confirm");
    assert_eq!(acme_admin.get("/api/v1/me").await.status(), StatusCode::OK, "nothing changed");

    let own = operator.json("/api/v1/me").await["organization"]["id"].as_str().unwrap().to_string();
    let refused = operator
        .delete(&format!("/api/v1/installation/organizations/{own}?confirm=Northwind%20Traders"))
        .await;
    expect_error(refused, StatusCode::BAD_REQUEST, "InvalidInput").await;

    let deleted = operator.delete(&format!("{path}?confirm=Acme%20Corporation")).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    expect_error(acme_admin.get("/api/v1/me").await, StatusCode::UNAUTHORIZED, "Unauthenticated")
        .await;
    assert!(app.store.find_login(ACME_ADMIN).await.unwrap().is_none());
    expect_error(operator.get(&path).await, StatusCode::NOT_FOUND, "NotFound").await;
    let audit = operator.json("/api/v1/installation/audit").await;
    assert_eq!(audit[0]["action"], "deleted");
    assert_eq!(audit[0]["oldValue"]["name"], "Acme Corporation");
}

#[tokio::test]
async fn the_user_limit_refuses_one_user_too_many_naming_the_limit() {
    let app = spawn_app().await;
    let operator = app.sign_in(ADMIN).await;
    let acme_admin = app.sign_in(ACME_ADMIN).await;
    let acme =
        acme_admin.json("/api/v1/me").await["organization"]["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/installation/organizations/{acme}");
    let bad = operator.patch(&path, json!({ "limits": { "maxUsers": 0 } })).await;
    let body = expect_error(bad, StatusCode::BAD_REQUEST, "InvalidInput").await;
    assert_eq!(body["error"]["field"], "limits.maxUsers");
    let set = operator.patch(&path, json!({ "limits": { "maxUsers": 2 } })).await;
    assert_eq!(set.status(), StatusCode::OK);
    let second = acme_admin.post("/api/v1/users", json!({ "email": "b@acme.example.com" })).await;
    assert_eq!(second.status(), StatusCode::CREATED);
    let third = acme_admin.post("/api/v1/users", json!({ "email": "c@acme.example.com" })).await;
    let body = expect_error(third, StatusCode::CONFLICT, "LimitReached").await;
    assert_eq!(body["error"]["field"], "maxUsers");
    assert!(app.store.find_login("c@acme.example.com").await.unwrap().is_none());
}

/// A CSV of `rows` rows, about 40 bytes each.
fn csv(rows: usize) -> Vec<u8> {
    let mut text = String::from("city,visits,day\n");
    for i in 0..rows {
        text.push_str(&format!("City number {i:08},{},2024-01-{:02}\n", i % 97, i % 28 + 1));
    }
    text.into_bytes()
}

#[tokio::test]
async fn the_storage_limit_refuses_an_upload_that_would_pass_it_and_memory_is_no_limit_of_theirs() {
    let app = spawn_app().await;
    let operator = app.sign_in(ADMIN).await;
    let acme_admin = app.sign_in(ACME_ADMIN).await;
    let acme =
        acme_admin.json("/api/v1/me").await["organization"]["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/installation/organizations/{acme}");
    let before = acme_admin.json("/api/v1/datasets").await.as_array().unwrap().len();

    let set = operator.patch(&path, json!({ "limits": { "maxDatasetMegabytes": 1 } })).await;
    assert_eq!(set.status(), StatusCode::OK);
    let small = upload(&acme_admin, "Small", "small.csv", &csv(100)).await;
    assert_eq!(small.status(), StatusCode::CREATED);
    // Counted as stored: Parquet, well under the CSV's 13 MB, but over 1 MB.
    let large = upload(&acme_admin, "Large", "large.csv", &csv(400_000)).await;
    let body = expect_error(large, StatusCode::CONFLICT, "LimitReached").await;
    assert_eq!(body["error"]["field"], "maxDatasetMegabytes");

    // Datasets are read from disk, so operators no longer set a memory limit per organization.
    let set = operator.patch(&path, json!({ "limits": { "maxMemoryMegabytes": 1 } })).await;
    let body = expect_error(set, StatusCode::BAD_REQUEST, "InvalidInput").await;
    assert_eq!(body["error"]["field"], "limits.maxMemoryMegabytes");
    let after = acme_admin.json("/api/v1/datasets").await.as_array().unwrap().len();
    assert_eq!(after, before + 1, "only the small dataset was added");
    let files = std::fs::read_dir(app.data_dir().join("datasets")).unwrap().count();
    assert_eq!(
        files,
        app.store
            .all_datasets()
            .await
            .unwrap()
            .iter()
            .filter(|d| !d.location.starts_with('/'))
            .count(),
        "refused files are removed"
    );
}

/// Reads a live channel until `event` arrives, or gives up after `within`.
async fn wait_for_event(
    response: &mut reqwest::Response,
    event: &str,
    within: std::time::Duration,
) -> bool {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + within;
    while let Ok(Ok(Some(chunk))) = tokio::time::timeout_at(deadline, response.chunk()).await {
        seen.push_str(&String::from_utf8_lossy(&chunk));
        if seen.contains(&format!("event: {event}")) {
            return true;
        }
    }
    false
}

#[tokio::test]
async fn an_open_reports_live_channel_says_revoked_within_a_second_of_suspension() {
    let app = spawn_app().await;
    let operator = app.sign_in(ADMIN).await;
    let acme_admin = app.sign_in(ACME_ADMIN).await;
    let acme =
        acme_admin.json("/api/v1/me").await["organization"]["id"].as_str().unwrap().to_string();
    let reports = acme_admin.json("/api/v1/reports").await;
    let report = reports[0]["id"].as_str().unwrap().to_string();
    let token = acme_admin.token(&report).await["token"].as_str().unwrap().to_string();
    let live = || app.anonymous().get(app.url("/api/v1/embed/live")).bearer_auth(&token).send();
    let mut channel = live().await.unwrap();
    assert_eq!(channel.status(), StatusCode::OK);
    assert!(channel.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let second = std::time::Duration::from_secs(1);
    assert!(wait_for_event(&mut channel, "ready", second).await);
    // Nothing is said while access stands.
    assert!(!wait_for_event(&mut channel, "revoked", std::time::Duration::from_millis(300)).await);

    let suspended = operator
        .patch(&format!("/api/v1/installation/organizations/{acme}"), json!({ "suspended": true }))
        .await;
    assert_eq!(suspended.status(), StatusCode::OK);
    assert!(wait_for_event(&mut channel, "revoked", second).await, "revoked within a second");
    // A revoked token opens no new channel, and the URL never carries one.
    expect_error(live().await.unwrap(), StatusCode::UNAUTHORIZED, "TokenRevoked").await;
    let in_url = app
        .anonymous()
        .get(app.url(&format!("/api/v1/embed/live?access_token={token}")))
        .send()
        .await
        .unwrap();
    expect_error(in_url, StatusCode::UNAUTHORIZED, "TokenInvalid").await;
}
