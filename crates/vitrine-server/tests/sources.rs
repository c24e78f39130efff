//! Live sources against this machine's real PostgreSQL and MariaDB: connections (the
//! password never answered back or audited), direct datasets whose every visual reaches the
//! source as one SQL query with row-level security, grouping and limit pushed down (proved
//! from the source's side: PostgreSQL's wire protocol through a tap, MariaDB's statement
//! log), imported datasets refreshed on demand and on a schedule with their history, and a
//! source that is down.

mod common;

use std::time::Duration;

use chrono::Duration as Span;
use common::sources::*;
use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn token_of(session: &Session, report: &str) -> String {
    let issued = session.post(&format!("/api/v1/reports/{report}/token"), json!({})).await;
    assert_eq!(issued.status(), StatusCode::OK, "{:?}", issued.text().await);
    issued.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string()
}

async fn query(app: &TestApp, token: &str, report: &str, visual: &str) -> reqwest::Response {
    app.anonymous()
        .post(app.url(&format!("/api/v1/embed/reports/{report}/query")))
        .bearer_auth(token)
        .json(&json!({ "page": "main", "visual": visual }))
        .send()
        .await
        .unwrap()
}

async fn rows(app: &TestApp, token: &str, report: &str, visual: &str) -> Vec<Value> {
    let answer = query(app, token, report, visual).await;
    assert_eq!(answer.status(), StatusCode::OK, "{:?}", answer.text().await);
    answer.json::<Value>().await.unwrap()["rows"].as_array().unwrap().clone()
}

/// The revenue of each region, as PostgreSQL computes it.
async fn pg_revenue_by_region(source: &PgSource) -> Vec<(String, f64)> {
    sqlx::query_as::<_, (String, f64)>(
        "SELECT region, sum(revenue)::float8 FROM sales GROUP BY region ORDER BY 2 DESC",
    )
    .fetch_all(&source.pool)
    .await
    .unwrap()
}

fn as_pairs(rows: &[Value]) -> Vec<(String, f64)> {
    rows.iter().map(|r| (r[0].as_str().unwrap().to_string(), r[1].as_f64().unwrap())).collect()
}

async fn create_dataset(admin: &Session, body: Value) -> Value {
    let created = admin.post("/api/v1/datasets", body).await;
    assert_eq!(created.status(), StatusCode::CREATED, "{:?}", created.text().await);
    created.json().await.unwrap()
}

/// Waits for the dataset's newest refresh to finish; answers it.
async fn finished_refresh(admin: &Session, dataset: &str, count: usize) -> Value {
    for _ in 0..200 {
        let history = admin.json(&format!("/api/v1/datasets/{dataset}/refreshes")).await;
        let list = history.as_array().unwrap();
        if list.len() >= count && list[0]["finishedAt"].is_string() {
            return list[0].clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the refresh of {dataset} did not finish");
}

#[tokio::test]
async fn a_connection_never_answers_or_audits_its_password_and_bad_fields_are_named() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let created = admin
        .post(
            "/api/v1/connections",
            json!({ "name": "Warehouse", "kind": "postgres", "host": "127.0.0.1", "database": "test",
                    "user": "postgres", "password": "s3cret-Pa55" }),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let connection: Value = created.json().await.unwrap();
    assert_eq!(
        (connection["port"].as_u64(), connection["tls"].as_str()),
        (Some(5432), Some("prefer"))
    );
    let id = connection["id"].as_str().unwrap();
    let tested = admin.post(&format!("/api/v1/connections/{id}/test"), json!({})).await;
    let tested: Value = tested.json().await.unwrap();
    assert_eq!(tested["ok"], true, "{tested}");
    assert!(tested["message"].as_str().unwrap().contains("PostgreSQL"), "{tested}");
    let changed = admin.patch(&format!("/api/v1/connections/{id}"), json!({ "port": 1 })).await;
    assert_eq!(changed.status(), StatusCode::OK);
    let tested: Value = admin
        .post(&format!("/api/v1/connections/{id}/test"), json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(tested["ok"], false);
    assert!(tested["message"].as_str().unwrap().contains("Could not connect"), "{tested}");
    let everything = format!(
        "{}{}{}",
        admin.json("/api/v1/connections").await,
        admin.json(&format!("/api/v1/connections/{id}")).await,
        admin.json("/api/v1/audit?entityType=connection").await
    );
    assert!(!everything.contains("s3cret-Pa55"), "{everything}");
    assert!(everything.contains("Warehouse"));

    for (body, field) in [
        (
            json!({ "name": "X", "kind": "oracle", "host": "h", "database": "d", "user": "u", "password": "" }),
            "kind",
        ),
        (
            json!({ "name": "X", "kind": "mysql", "host": "h", "database": "d", "user": "u" }),
            "password",
        ),
        (
            json!({ "name": "X", "kind": "mysql", "host": "h", "database": "d", "user": "u", "password": "", "port": 70000 }),
            "port",
        ),
        (
            json!({ "name": "X", "kind": "mysql", "host": "h", "database": "d", "user": "u", "password": "", "tls": "maybe" }),
            "tls",
        ),
        (
            json!({ "name": "X", "kind": "mysql", "host": "", "database": "d", "user": "u", "password": "" }),
            "host",
        ),
        (
            json!({ "name": "X", "kind": "mysql", "host": "h", "database": "d", "user": "u", "password": "", "extra": 1 }),
            "extra",
        ),
    ] {
        let refused = admin.post("/api/v1/connections", body).await;
        let error = expect_error(refused, StatusCode::BAD_REQUEST, "InvalidInput").await;
        assert_eq!(error["error"]["field"], field);
    }
    let contributor = app.sign_in(CONTRIBUTOR).await;
    let forbidden = contributor.post(&format!("/api/v1/connections/{id}/test"), json!({})).await;
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    assert_eq!(admin.json("/api/v1/connections").await.as_array().unwrap().len(), 1);

    // The connection's page changes it; an empty password field keeps the password.
    let page = admin.get(&format!("/admin/connections/{id}")).await.text().await.unwrap();
    assert!(page.contains("Datasets reading it") && page.contains("127.0.0.1"), "{page}");
    assert!(!page.contains("s3cret-Pa55"));
    let saved = admin
        .form(
            &format!("/admin/connections/{id}"),
            &[
                ("name", "Warehouse (replica)"),
                ("host", "127.0.0.1"),
                ("port", "5432"),
                ("database", "test"),
                ("user", "postgres"),
                ("password", ""),
                ("tls", "disable"),
                ("maxConnections", "2"),
                ("queryTimeoutSeconds", "5"),
            ],
        )
        .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let shown = admin.json(&format!("/api/v1/connections/{id}")).await;
    assert_eq!(
        (shown["name"].as_str(), shown["port"].as_u64(), shown["tls"].as_str()),
        (Some("Warehouse (replica)"), Some(5432), Some("disable"))
    );
    let audit = admin.json("/api/v1/audit?entityType=connection").await;
    let last = &audit.as_array().unwrap()[0];
    assert_eq!(last["newValue"]["name"], "Warehouse (replica)");
    assert_ne!(last["newValue"]["password"], "changed", "the password was kept: {last}");
    let tested = admin.form(&format!("/admin/connections/{id}/test"), &[]).await;
    assert!(tested.text().await.unwrap().contains("Connected: PostgreSQL"));
    let wrong = admin
        .form(&format!("/admin/connections/{id}"), &[("name", "Warehouse"), ("port", "99999")])
        .await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    assert_eq!(admin.json(&format!("/api/v1/connections/{id}")).await, shown, "nothing changed");
    let not_admin = contributor.get(&format!("/admin/connections/{id}")).await;
    assert_eq!(not_admin.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_direct_postgres_dataset_sends_each_visual_as_one_query_with_rls_and_grouping_pushed_down()
 {
    let app = spawn_app_with(with_limits(|limits| limits.result_cache_seconds = Some(0))).await;
    let source = PgSource::new().await;
    let (port, wire) = pg_tap().await;
    let admin = app.sign_in(ADMIN).await;
    let connection = connect(&admin, "postgres", port, &source.database, "postgres").await;
    let dataset = create_dataset(
        &admin,
        json!({ "name": "Live sales", "connection": connection, "table": "public.sales", "mode": "direct" }),
    )
    .await;
    let kinds: Vec<&str> = dataset["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["date", "text", "text", "integer", "decimal", "boolean", "timestamp"],
        "bytea is left out"
    );
    let id = dataset["id"].as_str().unwrap();
    let report = report_over(&admin, id, &[REGIONAL]).await;

    let admin_token = token_of(&admin, &report).await;
    let expected = pg_revenue_by_region(&source).await;
    wire.clear();
    let bars = rows(&app, &admin_token, &report, "by-region").await;
    assert_eq!(as_pairs(&bars), expected);
    assert_eq!(wire.runs(), 1, "one query: {:?}", wire.statements());
    assert_eq!(wire.rows(), 3, "three groups come back, not {} rows", ROWS);
    let sql = wire.statements().join("\n");
    assert!(sql.contains("GROUP BY") && sql.contains("sum("), "{sql}");
    assert!(sql.contains("ORDER BY") && sql.contains("LIMIT"), "{sql}");

    // The regional viewer's row-level security is part of the query the source runs.
    let regional = app.sign_in(REGIONAL).await;
    let token = token_of(&regional, &report).await;
    wire.clear();
    let own = rows(&app, &token, &report, "by-region").await;
    assert_eq!(
        as_pairs(&own),
        expected.iter().filter(|(r, _)| r == "North").cloned().collect::<Vec<_>>()
    );
    let sql = wire.statements().join("\n");
    assert!(sql.contains("'North'"), "the RLS filter is pushed down: {sql}");
    assert_eq!((wire.runs(), wire.rows()), (1, 1));

    // A time grain is computed by the source too.
    wire.clear();
    let monthly = rows(&app, &admin_token, &report, "monthly").await;
    assert_eq!(monthly.len(), 3);
    assert_eq!(monthly[0][0], "2025-01-01");
    assert!(wire.statements().join("\n").contains("date_trunc"), "{:?}", wire.statements());
    assert_eq!(wire.rows(), 3);

    // A change at the source shows at once: the wallboard reads the table as it is now.
    sqlx::query("UPDATE sales SET revenue = revenue + 1000 WHERE region = 'North'")
        .execute(&source.pool)
        .await
        .unwrap();
    let after = rows(&app, &token, &report, "by-region").await;
    assert_eq!(after[0][1].as_f64().unwrap(), own[0][1].as_f64().unwrap() + 1000.0 * 1000.0);
    source.drop().await;
}

#[tokio::test]
async fn a_thousand_screens_asking_for_one_visual_cost_the_source_one_query() {
    let app = spawn_app().await;
    let source = PgSource::new().await;
    let (port, wire) = pg_tap().await;
    let admin = app.sign_in(ADMIN).await;
    let connection = connect(&admin, "postgres", port, &source.database, "postgres").await;
    let dataset = create_dataset(
        &admin,
        json!({ "name": "Live sales", "connection": connection, "table": "sales", "mode": "direct" }),
    )
    .await;
    let report = report_over(&admin, dataset["id"].as_str().unwrap(), &[]).await;
    let token = token_of(&admin, &report).await;
    wire.clear();
    let mut screens = Vec::new();
    for _ in 0..1_000 {
        let (client, url, token) = (
            app.anonymous(),
            app.url(&format!("/api/v1/embed/reports/{report}/query")),
            token.clone(),
        );
        screens.push(tokio::spawn(async move {
            let answer = client
                .post(url)
                .bearer_auth(token)
                .json(&json!({ "page": "main", "visual": "by-region" }))
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), StatusCode::OK);
            answer.json::<Value>().await.unwrap()["rows"].clone()
        }));
    }
    let mut answers = Vec::new();
    for screen in screens {
        answers.push(screen.await.unwrap());
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "every screen got the same rows");
    assert_eq!(wire.runs(), 1, "one source query for a thousand screens");
    source.drop().await;
}

#[tokio::test]
async fn a_direct_mariadb_dataset_and_a_query_dataset_push_the_whole_visual_down() {
    let app = spawn_app_with(with_limits(|limits| limits.result_cache_seconds = Some(0))).await;
    let source = MySource::new().await;
    let admin = app.sign_in(ADMIN).await;
    let connection = connect(&admin, "mysql", 3306, &source.database, "root").await;
    let dataset = create_dataset(
        &admin,
        json!({ "name": "Maria sales", "connection": connection, "table": "sales", "mode": "direct" }),
    )
    .await;
    let kinds: Vec<&str> = dataset["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["date", "text", "text", "integer", "decimal", "boolean", "timestamp"]);
    let report = report_over(&admin, dataset["id"].as_str().unwrap(), &[REGIONAL]).await;
    let regional = app.sign_in(REGIONAL).await;
    let token = token_of(&regional, &report).await;

    sqlx::query("SET GLOBAL log_output = 'TABLE'").execute(&source.pool).await.unwrap();
    sqlx::query("SET GLOBAL general_log = 'ON'").execute(&source.pool).await.unwrap();
    let own = rows(&app, &token, &report, "by-region").await;
    let monthly = rows(&app, &token, &report, "monthly").await;
    let statements: Vec<String> = sqlx::query_scalar(
        "SELECT CONVERT(argument USING utf8mb4) FROM mysql.general_log
         WHERE command_type = 'Execute' AND CONVERT(argument USING utf8mb4) LIKE ?",
    )
    .bind(format!("%`{}`%", "sales"))
    .fetch_all(&source.pool)
    .await
    .unwrap();
    sqlx::query("SET GLOBAL general_log = 'OFF'").execute(&source.pool).await.unwrap();
    let expected: Vec<(String, f64)> = sqlx::query_as(
        "SELECT region, CAST(sum(revenue) AS DOUBLE) FROM sales WHERE region = 'North' GROUP BY region",
    )
    .fetch_all(&source.pool)
    .await
    .unwrap();
    assert_eq!(as_pairs(&own), expected);
    assert_eq!(monthly.len(), 3);
    assert_eq!(monthly[0][0], "2025-01-01");
    let ours: Vec<&String> = statements.iter().filter(|s| s.contains("GROUP BY")).collect();
    assert!(ours.len() >= 2, "{statements:?}");
    assert!(
        ours.iter().all(|s| s.contains("'North'")),
        "the RLS filter is in every query: {ours:?}"
    );
    assert!(
        ours.iter().any(|s| s.contains("MAKEDATE")),
        "the month is computed by MariaDB: {ours:?}"
    );

    // A read-only query as a dataset: sent as a CTE the visual's query reads.
    let query_dataset = create_dataset(
        &admin,
        json!({ "name": "Paid sales", "connection": connection, "mode": "direct",
                "sql": "SELECT day, region, product, units, revenue FROM sales WHERE paid" }),
    )
    .await;
    let paid = report_over(&admin, query_dataset["id"].as_str().unwrap(), &[]).await;
    let total = rows(&app, &token_of(&admin, &paid).await, &paid, "total").await;
    let expected: (f64, i64) =
        sqlx::query_as("SELECT CAST(sum(revenue) AS DOUBLE), count(units) FROM sales WHERE paid")
            .fetch_one(&source.pool)
            .await
            .unwrap();
    assert_eq!((total[0][0].as_f64().unwrap(), total[0][1].as_i64().unwrap()), expected);
    for (sql, hint) in [
        ("DELETE FROM sales", "SELECT"),
        ("SELECT 1; DROP TABLE sales", "SELECT"),
        ("SELECT * FROM sales FOR UPDATE", "lock"),
    ] {
        let refused = admin
            .post(
                "/api/v1/datasets",
                json!({ "name": "Bad", "connection": connection, "mode": "direct", "sql": sql }),
            )
            .await;
        let body = expect_error(refused, StatusCode::BAD_REQUEST, "InvalidInput").await;
        assert_eq!(body["error"]["field"], "sql");
        assert!(body["error"]["message"].as_str().unwrap().contains(hint), "{body}");
    }
    let count: i64 =
        sqlx::query_scalar("SELECT count(*) FROM sales").fetch_one(&source.pool).await.unwrap();
    assert_eq!(count, ROWS, "nothing was written");
    source.drop().await;
}

#[tokio::test]
async fn an_imported_dataset_is_copied_refreshed_on_demand_and_on_schedule_and_keeps_its_last_good_version()
 {
    let app = spawn_app_with(with_limits(|limits| limits.result_cache_seconds = Some(0))).await;
    let source = PgSource::new().await;
    let admin = app.sign_in(ADMIN).await;
    let connection = connect(&admin, "postgres", 5432, &source.database, "postgres").await;
    let dataset = create_dataset(
        &admin,
        json!({ "name": "Imported sales", "connection": connection, "table": "sales",
                "mode": "imported", "refreshEveryMinutes": 60 }),
    )
    .await;
    let id = dataset["id"].as_str().unwrap().to_string();
    let first = finished_refresh(&admin, &id, 1).await;
    assert_eq!(
        (first["trigger"].as_str(), first["rowCount"].as_u64(), first["version"].as_u64()),
        (Some("created"), Some(ROWS as u64), Some(2))
    );
    let report = report_over(&admin, &id, &[]).await;
    let token = token_of(&admin, &report).await;
    let before = rows(&app, &token, &report, "by-region").await;
    assert_eq!(as_pairs(&before), pg_revenue_by_region(&source).await);

    // A change at the source shows after the next refresh, not before.
    sqlx::query("UPDATE sales SET revenue = revenue + 1 WHERE region = 'South'")
        .execute(&source.pool)
        .await
        .unwrap();
    assert_eq!(rows(&app, &token, &report, "by-region").await, before, "the copy is read");
    let asked = admin.post(&format!("/api/v1/datasets/{id}/refresh"), json!({})).await;
    assert_eq!(asked.status(), StatusCode::ACCEPTED);
    let second = finished_refresh(&admin, &id, 2).await;
    assert_eq!((second["trigger"].as_str(), second["version"].as_u64()), (Some("manual"), Some(3)));
    let after = rows(&app, &token, &report, "by-region").await;
    assert_eq!(as_pairs(&after), pg_revenue_by_region(&source).await);
    assert_ne!(after, before);

    // A failed refresh keeps the last good version and says why.
    sqlx::query("ALTER TABLE sales RENAME TO sales_gone").execute(&source.pool).await.unwrap();
    app.clock.advance(Span::minutes(61));
    vitrine_server::services::sources::refresh_due(&app.state).await.unwrap();
    let failed = finished_refresh(&admin, &id, 3).await;
    assert_eq!(failed["trigger"], "schedule");
    assert!(failed["error"].as_str().unwrap().contains("sales"), "{failed}");
    let admin = app.sign_in(ADMIN).await;
    let token = token_of(&admin, &report).await;
    assert_eq!(
        rows(&app, &token, &report, "by-region").await,
        after,
        "the last good version stays"
    );
    let shown = admin.json(&format!("/api/v1/datasets/{id}")).await;
    assert_eq!(shown["version"], 3);
    let page = admin.get(&format!("/admin/datasets/{id}")).await.text().await.unwrap();
    assert!(
        page.contains("Refresh history") && page.contains("failed:"),
        "shown on the dataset's page"
    );

    // Not due again until its interval passed.
    sqlx::query("ALTER TABLE sales_gone RENAME TO sales").execute(&source.pool).await.unwrap();
    vitrine_server::services::sources::refresh_due(&app.state).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        admin.json(&format!("/api/v1/datasets/{id}/refreshes")).await.as_array().unwrap().len(),
        3
    );
    let versions = std::fs::read_dir(app.data_dir().join("datasets").join(&id)).unwrap().count();
    assert_eq!(versions, 1, "replaced versions are removed");
    source.drop().await;
}

/// How many refreshes the dataset's history holds, once the schedule pass has run and any
/// refresh it started has finished (read in a new session: the clock may have moved past the
/// last one's idle timeout).
async fn refreshes_after_schedule_pass(app: &TestApp, id: &str) -> usize {
    vitrine_server::services::sources::refresh_due(&app.state).await.unwrap();
    for _ in 0..200 {
        if !app.state.sources.is_importing(id.parse().unwrap()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let admin = app.sign_in(ADMIN).await;
    admin.json(&format!("/api/v1/datasets/{id}/refreshes")).await.as_array().unwrap().len()
}

#[tokio::test]
async fn an_imported_dataset_refreshes_at_the_start_of_its_weekly_windows_in_their_time_zone() {
    let app = spawn_app().await;
    let source = PgSource::new().await;
    let admin = app.sign_in(ADMIN).await;
    let connection = connect(&admin, "postgres", 5432, &source.database, "postgres").await;
    let dataset = create_dataset(
        &admin,
        json!({ "name": "Mornings", "connection": connection, "table": "sales",
                "mode": "imported" }),
    )
    .await;
    let id = dataset["id"].as_str().unwrap().to_string();
    finished_refresh(&admin, &id, 1).await;
    let before = admin.json(&format!("/api/v1/datasets/{id}")).await;

    // Wrong settings are refused naming the field, and change nothing.
    let backwards = admin
        .patch(
            &format!("/api/v1/datasets/{id}"),
            json!({ "refreshWindows": [{ "day": "Mon", "start": "12:00", "end": "11:00" }] }),
        )
        .await;
    let body = expect_error(backwards, StatusCode::BAD_REQUEST, "InvalidInput").await;
    assert_eq!(body["error"]["field"], "refreshWindows[0].end");
    let zone =
        admin.patch(&format!("/api/v1/datasets/{id}"), json!({ "timeZone": "Mars/Olympus" })).await;
    let body = expect_error(zone, StatusCode::BAD_REQUEST, "InvalidInput").await;
    assert_eq!(body["error"]["field"], "timeZone");
    let often =
        admin.patch(&format!("/api/v1/datasets/{id}"), json!({ "refreshEveryMinutes": 1 })).await;
    let body = expect_error(often, StatusCode::BAD_REQUEST, "InvalidInput").await;
    assert_eq!(body["error"]["field"], "refreshEveryMinutes");
    let unknown = admin.patch(&format!("/api/v1/datasets/{id}"), json!({ "table": "other" })).await;
    expect_error(unknown, StatusCode::BAD_REQUEST, "InvalidInput").await;
    assert_eq!(admin.json(&format!("/api/v1/datasets/{id}")).await, before, "nothing changed");
    let direct = create_dataset(
        &admin,
        json!({ "name": "Live", "connection": connection, "table": "sales", "mode": "direct" }),
    )
    .await;
    let refused = admin
        .patch(
            &format!("/api/v1/datasets/{}", direct["id"].as_str().unwrap()),
            json!({ "refreshEveryMinutes": 30 }),
        )
        .await;
    let body = expect_error(refused, StatusCode::BAD_REQUEST, "InvalidInput").await;
    assert_eq!(body["error"]["field"], "refreshEveryMinutes");

    // Mondays 11:00-12:00 in Berlin: 10:00-11:00 UTC in March. The test clock stands at
    // Monday 2 March 2026, 09:00 UTC.
    let changed = admin
        .patch(
            &format!("/api/v1/datasets/{id}"),
            json!({ "refreshWindows": [{ "day": "Mon", "start": "11:00", "end": "12:00" }],
                    "timeZone": "Europe/Berlin" }),
        )
        .await;
    assert_eq!(changed.status(), StatusCode::OK, "{:?}", changed.text().await);
    let changed: Value = changed.json().await.unwrap();
    assert_eq!(
        changed["source"]["refreshWindows"],
        json!([{ "day": "Mon", "start": "11:00", "end": "12:00" }])
    );
    assert_eq!(changed["source"]["timeZone"], "Europe/Berlin");
    assert_eq!(refreshes_after_schedule_pass(&app, &id).await, 1, "before the window");
    app.clock.advance(Span::minutes(61));
    assert_eq!(refreshes_after_schedule_pass(&app, &id).await, 2, "at its start");
    let admin = app.sign_in(ADMIN).await;
    let scheduled = finished_refresh(&admin, &id, 2).await;
    assert_eq!(scheduled["trigger"], "schedule");
    app.clock.advance(Span::minutes(30));
    assert_eq!(refreshes_after_schedule_pass(&app, &id).await, 2, "once per window");
    app.clock.advance(Span::days(1));
    assert_eq!(refreshes_after_schedule_pass(&app, &id).await, 2, "Tuesday has none");
    app.clock.advance(Span::days(6));
    assert_eq!(refreshes_after_schedule_pass(&app, &id).await, 3, "next Monday's");

    // The dataset's page says when and lets the schedule be changed: every 15 minutes inside
    // Monday's and Tuesday's windows.
    let admin = app.sign_in(ADMIN).await;
    let page = admin.get(&format!("/admin/datasets/{id}")).await.text().await.unwrap();
    assert!(page.contains("weekly window") && page.contains("Next scheduled refresh"), "{page}");
    let saved = admin
        .form(
            &format!("/admin/datasets/{id}"),
            &[
                ("name", "Mornings (quarter-hourly)"),
                ("refreshEveryMinutes", "15"),
                ("timeZone", "Europe/Berlin"),
                ("refreshWindows", "Mon 11:00-12:00\nTue 11:00-12:00"),
            ],
        )
        .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let shown = admin.json(&format!("/api/v1/datasets/{id}")).await;
    assert_eq!(shown["name"], "Mornings (quarter-hourly)");
    assert_eq!(shown["source"]["refreshEveryMinutes"], 15);
    assert_eq!(shown["source"]["refreshWindows"].as_array().unwrap().len(), 2);
    let wrong = admin
        .form(
            &format!("/admin/datasets/{id}"),
            &[("name", "Mornings"), ("refreshEveryMinutes", ""), ("refreshWindows", "Mon 25:00")],
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    assert!(wrong.text().await.unwrap().contains("must be a time such as 08:00"));
    assert_eq!(admin.json(&format!("/api/v1/datasets/{id}")).await, shown, "nothing changed");
    // Still inside this Monday's window (10:31 UTC, refreshed then): every 15 minutes.
    app.clock.advance(Span::minutes(10));
    assert_eq!(refreshes_after_schedule_pass(&app, &id).await, 3, "15 minutes not up");
    app.clock.advance(Span::minutes(6));
    assert_eq!(refreshes_after_schedule_pass(&app, &id).await, 4, "every 15 minutes");
    let admin = app.sign_in(ADMIN).await;
    let audit = admin.json("/api/v1/audit?entityType=dataset").await;
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "changed" && e["newValue"]["refreshEveryMinutes"] == 15),
        "{audit}"
    );
    source.drop().await;
}

#[tokio::test]
async fn a_source_that_is_down_gives_viewers_a_clear_retried_error_without_credentials() {
    let app = spawn_app_with(with_limits(|limits| limits.result_cache_seconds = Some(0))).await;
    let source = PgSource::new().await;
    let (port, _wire) = pg_tap().await;
    let admin = app.sign_in(ADMIN).await;
    let created = admin
        .post(
            "/api/v1/connections",
            json!({ "name": "Flaky", "kind": "postgres", "host": "127.0.0.1", "port": port,
                    "database": source.database, "user": "postgres", "password": "hunter2-secret",
                    "tls": "disable" }),
        )
        .await;
    let connection = created.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let dataset = create_dataset(
        &admin,
        json!({ "name": "Live", "connection": connection, "table": "sales", "mode": "direct" }),
    )
    .await;
    let report = report_over(&admin, dataset["id"].as_str().unwrap(), &[]).await;
    let token = token_of(&admin, &report).await;
    assert_eq!(rows(&app, &token, &report, "total").await.len(), 1);
    // The source goes away: the connection now points at a port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let moved =
        admin.patch(&format!("/api/v1/connections/{connection}"), json!({ "port": closed })).await;
    assert_eq!(moved.status(), StatusCode::OK);
    let down = query(&app, &token, &report, "total").await;
    assert_eq!(down.headers()["retry-after"], "15");
    let body = expect_error(down, StatusCode::SERVICE_UNAVAILABLE, "SourceUnavailable").await;
    assert!(!body.to_string().contains("hunter2"), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("tries again"), "{body}");
    let moved =
        admin.patch(&format!("/api/v1/connections/{connection}"), json!({ "port": port })).await;
    assert_eq!(moved.status(), StatusCode::OK);
    assert_eq!(rows(&app, &token, &report, "total").await.len(), 1, "back by itself");
    source.drop().await;
}
