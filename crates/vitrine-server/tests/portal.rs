//! The server-rendered portals over HTTP: sign-in form, role checks, CSRF on forms, and the
//! Admin Portal's forms reaching the same rules as the API.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::json;

const ADMIN_PAGES: [&str; 8] = [
    "/admin",
    "/admin/users",
    "/admin/groups",
    "/admin/reports",
    "/admin/settings",
    "/admin/api-keys",
    "/admin/audit",
    "/admin/audit/export.csv",
];

#[tokio::test]
async fn home_shows_sign_in_to_visitors_and_the_reports_portal_after_sign_in() {
    let app = spawn_app().await;
    let browser = app.anonymous();
    let page = browser.get(app.url("/")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("<form class=\"card\" method=\"post\" action=\"/login\">"), "{page}");

    let response = browser
        .post(app.url("/login"))
        .form(&[("email", VIEWER), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(response.headers()["set-cookie"].to_str().unwrap().contains("HttpOnly"));
    let portal = browser.get(app.url("/")).send().await.unwrap().text().await.unwrap();
    assert!(portal.contains("Sales overview") && portal.contains("Warehouse operations"));
    assert!(!portal.contains("Executive summary"), "not granted to the viewer");
    assert!(!portal.contains("href=\"/admin\""), "no Admin link for viewers");
}

#[tokio::test]
async fn wrong_password_on_the_sign_in_form_shows_an_error_and_sets_no_cookie() {
    let app = spawn_app().await;
    let response = app
        .anonymous()
        .post(app.url("/login"))
        .form(&[("email", ADMIN), ("password", "nope-nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().get("set-cookie").is_none());
    let page = response.text().await.unwrap();
    assert!(page.contains("Wrong email or password."));
    assert!(page.contains("value=\"admin@example.com\""), "the email is kept");
}

#[tokio::test]
async fn viewers_are_refused_every_admin_page_and_visitors_are_sent_to_sign_in() {
    let app = spawn_app().await;
    let viewer = app.sign_in(VIEWER).await;
    for path in ADMIN_PAGES {
        let response = viewer.get(path).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
        assert!(response.text().await.unwrap().contains("Not allowed"), "{path}");
    }
    let visitor = app.anonymous();
    for path in ADMIN_PAGES {
        let response = visitor.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(response.headers()["location"], "/");
    }
}

#[tokio::test]
async fn contributors_reach_only_the_reports_section_of_the_admin_portal() {
    let app = spawn_app().await;
    let contributor = app.sign_in(CONTRIBUTOR).await;
    assert_eq!(contributor.get("/admin/reports").await.status(), StatusCode::OK);
    let home = contributor.get("/admin").await;
    assert_eq!(home.headers()["location"], "/admin/reports");
    for path in
        ["/admin/users", "/admin/groups", "/admin/settings", "/admin/api-keys", "/admin/audit"]
    {
        assert_eq!(contributor.get(path).await.status(), StatusCode::FORBIDDEN, "{path}");
    }
}

#[tokio::test]
async fn admin_pages_render_for_administrators() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let checks = [
        ("/admin/users", "viewer@example.com"),
        ("/admin/groups", "Sales team"),
        ("/admin/reports", "Sales overview"),
        ("/admin/settings", "Sign out after inactivity"),
        ("/admin/api-keys", "Create a key"),
        ("/admin/audit", "Audit log"),
    ];
    for (path, text) in checks {
        let response = admin.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let page = response.text().await.unwrap();
        assert!(page.contains(text), "{path} shows {text}");
        assert!(
            page.contains(&format!("value=\"{}\"", admin.csrf)),
            "{path} forms carry the CSRF token"
        );
    }
    let user_id = admin.id_of("/api/v1/users", "email", VIEWER).await;
    let page = admin.get(&format!("/admin/users/{user_id}")).await.text().await.unwrap();
    assert!(page.contains("Vera Viewer") && page.contains("capacity.keepOn"));
}

#[tokio::test]
async fn portal_forms_without_the_csrf_field_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let forged = admin
        .client
        .post(app.url("/admin/groups"))
        .form(&[("name", "Forged"), ("description", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(forged.text().await.unwrap().contains("CsrfRejected"));
    let groups = admin.json("/api/v1/groups").await;
    assert!(!groups.as_array().unwrap().iter().any(|g| g["name"] == "Forged"));
    let logout = admin.client.post(app.url("/logout")).form(&[("x", "y")]).send().await.unwrap();
    assert_eq!(logout.status(), StatusCode::FORBIDDEN);
    assert_eq!(admin.get("/api/v1/me").await.status(), StatusCode::OK, "still signed in");
}

#[tokio::test]
async fn admin_creates_a_user_and_grants_a_report_through_the_forms() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let created = admin
        .form(
            "/admin/users",
            &[
                ("email", "kim@example.com"),
                ("name", "Kim"),
                ("role", "Viewer"),
                ("password", "kim-password"),
                ("expiresAt", ""),
            ],
        )
        .await;
    assert_eq!(created.status(), StatusCode::SEE_OTHER);
    let location = created.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with("/admin/users/") && location.ends_with("?done=created"),
        "{location}"
    );
    let page = admin.get(&location).await.text().await.unwrap();
    assert!(page.contains("Created."));

    let user_id = admin.id_of("/api/v1/users", "email", "kim@example.com").await;
    let report_id = admin.id_of("/api/v1/reports", "name", "Executive summary").await;
    let grant = admin
        .form(
            &format!("/admin/reports/{report_id}/access"),
            &[("grantee", &format!("user:{user_id}"))],
        )
        .await;
    assert_eq!(grant.status(), StatusCode::SEE_OTHER);
    let kim = app.sign_in_with("kim@example.com", "kim-password").await.unwrap();
    assert_eq!(kim.json("/api/v1/reports").await[0]["name"], "Executive summary");
    let page = kim.get(&format!("/reports/{report_id}")).await;
    assert_eq!(page.status(), StatusCode::OK);

    let bad = admin
        .form(
            "/admin/users",
            &[("email", "nope"), ("role", "Viewer"), ("password", "kim-password")],
        )
        .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(bad.text().await.unwrap().contains("email: must be an email address"));
}

#[tokio::test]
async fn settings_form_refuses_bad_values_naming_the_field() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let bad = admin
        .form(
            "/admin/settings",
            &[("sessionIdleTimeoutMinutes", "0"), ("sessionAbsoluteTimeoutHours", "720")],
        )
        .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(bad.text().await.unwrap().contains("sessionIdleTimeoutMinutes"));
    let text = admin
        .form(
            "/admin/settings",
            &[("sessionIdleTimeoutMinutes", "ten"), ("sessionAbsoluteTimeoutHours", "720")],
        )
        .await;
    assert_eq!(text.status(), StatusCode::BAD_REQUEST);
    assert_eq!(admin.json("/api/v1/settings").await["sessionIdleTimeoutMinutes"], 480);
    let ok = admin
        .form(
            "/admin/settings",
            &[("sessionIdleTimeoutMinutes", "90"), ("sessionAbsoluteTimeoutHours", "720")],
        )
        .await;
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    assert_eq!(admin.json("/api/v1/settings").await["sessionIdleTimeoutMinutes"], 90);
}

#[tokio::test]
async fn api_keys_created_in_the_portal_are_shown_once() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let created = admin.form("/admin/api-keys", &[("name", "Wallboard sync")]).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let page = created.text().await.unwrap();
    let start = page.find("vtr_").expect("secret shown");
    let key: String = page[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    let list = admin.get("/admin/api-keys").await.text().await.unwrap();
    assert!(!list.contains(&key), "the secret is not shown again");
    let works =
        app.anonymous().get(app.url("/api/v1/me")).header("X-API-Key", &key).send().await.unwrap();
    assert_eq!(works.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_embed_key_made_in_the_portal_keeps_the_reports_ticked_its_expiry_and_capacity_rights() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let report = admin.id_of("/api/v1/reports", "name", "Sales overview").await;
    let created = admin
        .form(
            "/admin/api-keys",
            &[
                ("name", "Partner portal"),
                ("scope", "embed"),
                ("reports", &report),
                ("expiresAt", "2099-12-31"),
                ("keepCapacityOn", "true"),
            ],
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let page = created.text().await.unwrap();
    assert!(
        page.contains("Sales overview") && page.contains("keeps on"),
        "listed with its reports"
    );
    let key = &admin.json("/api/v1/api-keys").await[0];
    assert_eq!(key["scope"], "embed");
    assert_eq!(key["reports"], json!([report]));
    assert_eq!(key["expiresAt"], "2099-12-31T23:59:59.000Z");
    assert_eq!(
        (key["wakeCapacity"].clone(), key["keepCapacityOn"].clone()),
        (json!(false), json!(true))
    );

    let refused = admin.form("/admin/api-keys", &[("name", "Bad"), ("scope", "root")]).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(refused.text().await.unwrap().contains("scope"));
    assert_eq!(admin.json("/api/v1/api-keys").await.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn audit_page_filters_and_exports_csv() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    admin.post("/api/v1/groups", json!({ "name": "Auditors" })).await;
    let page = admin.get("/admin/audit?entityType=group&q=Auditors").await.text().await.unwrap();
    assert!(page.contains("Auditors"));
    assert!(page.contains("/admin/audit/export.csv?entityType=group&amp;q=Auditors"));
    let csv = admin.get("/admin/audit/export.csv?entityType=group&q=Auditors").await;
    assert_eq!(csv.status(), StatusCode::OK);
    assert!(csv.headers()["content-disposition"].to_str().unwrap().contains("attachment"));
    let body = csv.text().await.unwrap();
    assert_eq!(body.lines().count(), 2, "{body}");
    assert!(body.contains("Auditors"));
}

#[tokio::test]
async fn responses_carry_security_headers() {
    let app = spawn_app().await;
    let response = app.anonymous().get(app.url("/")).send().await.unwrap();
    let headers = response.headers();
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert!(headers["content-security-policy"].to_str().unwrap().contains("default-src 'self'"));
}

#[tokio::test]
async fn the_settings_page_sets_the_token_lifetime_and_the_timed_update() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let page = admin.get("/admin/settings").await.text().await.unwrap();
    assert!(page.contains("Update Token every") && page.contains("TVs") || page.contains("TV"));
    assert!(page.contains("capacity.keepOn"), "the page states the capacity trade-off");
    let fields = |lifetime: &'static str, every: &'static str| {
        [
            ("sessionIdleTimeoutMinutes", "480"),
            ("sessionAbsoluteTimeoutHours", "720"),
            ("tokenLifetimeMinutes", lifetime),
            ("tokenUpdateEveryMinutes", every),
        ]
    };
    assert_eq!(
        admin.form("/admin/settings", &fields("60", "50")).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(admin.json("/api/v1/settings").await["tokenUpdateEveryMinutes"], 50);
    let too_long = admin.form("/admin/settings", &fields("60", "60")).await;
    assert_eq!(too_long.status(), StatusCode::BAD_REQUEST);
    assert!(too_long.text().await.unwrap().contains("tokenUpdateEveryMinutes"));
    assert_eq!(
        admin.json("/api/v1/settings").await["tokenUpdateEveryMinutes"],
        50,
        "nothing saved"
    );
    assert_eq!(
        admin.form("/admin/settings", &fields("45", "")).await.status(),
        StatusCode::SEE_OTHER
    );
    let settings = admin.json("/api/v1/settings").await;
    assert_eq!(
        (settings["tokenLifetimeMinutes"].as_i64(), settings["tokenUpdateEveryMinutes"].is_null()),
        (Some(45), true)
    );
}

#[tokio::test]
async fn the_settings_page_sets_the_time_zone_and_turns_waking_from_the_viewer_off() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let page = admin.get("/admin/settings").await.text().await.unwrap();
    assert!(page.contains("Time zone") && page.contains("capacity.turnOn"));
    let form = |zone: &'static str| {
        [
            ("sessionIdleTimeoutMinutes", "480"),
            ("sessionAbsoluteTimeoutHours", "720"),
            ("tokenLifetimeMinutes", "60"),
            ("tokenUpdateEveryMinutes", "50"),
            ("timeZone", zone),
            // The checkbox is shown and left unticked: the browser sends only the marker.
            ("capacityWakeFromViewerShown", "1"),
        ]
    };
    let bad = admin.form("/admin/settings", &form("Mars/Olympus")).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(bad.text().await.unwrap().contains("timeZone"));
    let unchanged = admin.json("/api/v1/settings").await;
    assert_eq!(
        (unchanged["timeZone"].as_str(), unchanged["capacityWakeFromViewer"].as_bool()),
        (Some("UTC"), Some(true))
    );
    let ok = admin.form("/admin/settings", &form("Europe/Paris")).await;
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    let saved = admin.json("/api/v1/settings").await;
    assert_eq!(
        (saved["timeZone"].as_str(), saved["capacityWakeFromViewer"].as_bool()),
        (Some("Europe/Paris"), Some(false))
    );
    let page = admin.get("/admin/settings").await.text().await.unwrap();
    assert!(page.contains(r#"value="Europe/Paris""#), "the page shows the saved zone");
}

#[tokio::test]
async fn revoke_buttons_take_tokens_back_and_show_in_the_token_audit_page() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let viewer = app.sign_in(VIEWER).await;
    let report = viewer.id_of("/api/v1/reports", "name", "Sales overview").await;
    let token = viewer.token(&report).await["token"].as_str().unwrap().to_string();
    let viewer_id = admin.id_of("/api/v1/users", "email", VIEWER).await;
    let revoked = admin.form(&format!("/admin/users/{viewer_id}/revoke-tokens"), &[]).await;
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    assert_eq!(embed(&app, &token, &report).await.status(), StatusCode::UNAUTHORIZED);

    let fresh = viewer.token(&report).await["token"].as_str().unwrap().to_string();
    assert_eq!(embed(&app, &fresh, &report).await.status(), StatusCode::OK);
    let all = admin.form("/admin/tokens/revoke", &[]).await;
    assert_eq!(all.headers()["location"], "/admin/settings?done=tokens-revoked");
    assert_eq!(embed(&app, &fresh, &report).await.status(), StatusCode::UNAUTHORIZED);
    let forged = admin
        .client
        .post(app.url("/admin/tokens/revoke"))
        .form(&[("x", "y")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN, "CSRF applies to the revoke buttons");
    let as_viewer = viewer.form("/admin/tokens/revoke", &[]).await;
    assert_eq!(as_viewer.status(), StatusCode::FORBIDDEN);

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    loop {
        let page = admin.get("/admin/audit/tokens?kind=revoked").await.text().await.unwrap();
        if page.matches("kind-revoked").count() >= 2 {
            assert!(page.contains("all tokens revoked by an administrator"));
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{page}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let csv = admin.get("/admin/audit/tokens/export.csv").await.text().await.unwrap();
    assert!(
        csv.starts_with("time,event,user,userId,report,reportId,tokenId,reason,ip,userAgent,by")
    );
    let issues =
        csv.lines().filter(|l| l.contains(",issued,") || l.contains(",refreshed,")).count();
    assert_eq!(issues, 2, "two tokens issued: {csv}");
}

#[tokio::test]
async fn the_definition_editor_checks_previews_and_saves() {
    let app = spawn_app().await;
    let contributor = app.sign_in(CONTRIBUTOR).await;
    let report = contributor.id_of("/api/v1/reports", "name", "Executive summary").await;
    let page = contributor.get(&format!("/admin/reports/{report}/definition")).await;
    assert_eq!(page.status(), StatusCode::OK);
    let text = page.text().await.unwrap();
    assert!(
        text.contains("&quot;dataset&quot;") && text.contains("Revenue by year"),
        "the saved definition is shown"
    );

    let definition = contributor.json(&format!("/api/v1/reports/{report}/definition")).await;
    let mut changed = definition.clone();
    changed["pages"][0]["title"] = json!("Board summary");
    let body = serde_json::to_string_pretty(&changed).unwrap();
    let checked = contributor
        .form(
            &format!("/admin/reports/{report}/definition"),
            &[("definition", &body), ("action", "check")],
        )
        .await;
    assert_eq!(checked.status(), StatusCode::OK);
    let text = checked.text().await.unwrap();
    assert!(text.contains("The definition is valid"), "{text}");
    assert!(text.contains("Preview") && text.contains("Revenue by year"));
    assert_eq!(
        contributor.json(&format!("/api/v1/reports/{report}/definition")).await,
        definition,
        "checking saves nothing"
    );

    let mut broken = definition.clone();
    broken["pages"][0]["visuals"][0]["measures"][0]["column"] = json!("revenu");
    let body = serde_json::to_string(&broken).unwrap();
    let refused = contributor
        .form(
            &format!("/admin/reports/{report}/definition"),
            &[("definition", &body), ("action", "save")],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(refused.text().await.unwrap().contains("unknown column `revenu`"));

    let body = serde_json::to_string(&changed).unwrap();
    let saved = contributor
        .form(
            &format!("/admin/reports/{report}/definition"),
            &[("definition", &body), ("action", "save")],
        )
        .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let now = contributor.json(&format!("/api/v1/reports/{report}/definition")).await;
    assert_eq!(now["pages"][0]["title"], "Board summary");
    let viewer = app.sign_in(VIEWER).await;
    assert_eq!(
        viewer.get(&format!("/admin/reports/{report}/definition")).await.status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn row_level_security_forms_assign_roles_and_attributes_and_revoke_tokens() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let regional_id = admin.id_of("/api/v1/users", "email", "regional@example.com").await;
    let page = admin.get(&format!("/admin/users/{regional_id}")).await.text().await.unwrap();
    assert!(
        page.contains("Row-level security") && page.contains("region = North"),
        "the assignment is shown"
    );

    let regional = app.sign_in("regional@example.com").await;
    let report = regional.id_of("/api/v1/reports", "name", "Regional performance").await;
    let token = regional.token(&report).await["token"].as_str().unwrap().to_string();
    let saved = admin
        .form(
            &format!("/admin/users/{regional_id}/rls"),
            &[("roles", "Own region"), ("attributes", "region = South\n")],
        )
        .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        embed(&app, &token, &report).await.status(),
        StatusCode::UNAUTHORIZED,
        "old token revoked"
    );
    let rls = admin.json(&format!("/api/v1/users/{regional_id}/rls")).await;
    assert_eq!(rls["attributes"]["region"], "South");

    let bad = admin
        .form(
            &format!("/admin/users/{regional_id}/rls"),
            &[("roles", "Own region"), ("attributes", "no equals sign")],
        )
        .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        admin.json(&format!("/api/v1/users/{regional_id}/rls")).await["attributes"]["region"],
        "South",
        "nothing saved"
    );

    let group = admin.id_of("/api/v1/groups", "name", "Operations").await;
    let saved = admin
        .form(
            &format!("/admin/groups/{group}/rls"),
            &[("roles", "All regions, Night shift"), ("attributes", "")],
        )
        .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        admin.json(&format!("/api/v1/groups/{group}/rls")).await["roles"],
        json!(["All regions", "Night shift"])
    );
}

#[tokio::test]
async fn datasets_are_uploaded_through_the_portal_form_with_its_csrf_field() {
    let app = spawn_app().await;
    let contributor = app.sign_in(CONTRIBUTOR).await;
    assert!(
        contributor.get("/admin/datasets").await.text().await.unwrap().contains("Upload a file")
    );
    let multipart = |csrf: Option<&str>| {
        let boundary = "vitrine-test-boundary";
        let mut body = String::new();
        if let Some(csrf) = csrf {
            body += &format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n"
            );
        }
        body += &format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nStores\r\n"
        );
        body += &format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"stores.csv\"\r\nContent-Type: text/csv\r\n\r\nstore,region,area\nOslo,North,120\nMadrid,South,300\n\r\n"
        );
        body += &format!("--{boundary}--\r\n");
        (format!("multipart/form-data; boundary={boundary}"), body)
    };
    let (content_type, body) = multipart(None);
    let forged = contributor
        .client
        .post(app.url("/admin/datasets"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(
        contributor
            .json("/api/v1/datasets")
            .await
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["name"] != "Stores")
    );

    let (content_type, body) = multipart(Some(&contributor.csrf));
    let uploaded = contributor
        .client
        .post(app.url("/admin/datasets"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), StatusCode::SEE_OTHER);
    let location = uploaded.headers()["location"].to_str().unwrap().to_string();
    let page = contributor.get(&location).await.text().await.unwrap();
    assert!(page.contains("2 rows") && page.contains("area") && page.contains("integer"), "{page}");
}
