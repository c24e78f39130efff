//! The engine against real DataFusion tables: loading CSV and Parquet, visual queries,
//! filters, time grains, limits and row-level security.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use vitrine_core::token::RlsIdentity;
use vitrine_engine::definition::TimeGrain;
use vitrine_engine::{
    DataFile, DataFormat, Engine, EngineError, QueryRequest, ReportDefinition, RlsError, demo_data,
    storage,
};

const CSV: &str = "date,region,product,units,revenue
2024-01-05,North,Bike,2,2000.50
2024-01-20,North,Helmet,5,250.00
2024-02-03,South,Bike,1,1000.00
2024-02-10,South,Lock,10,100.25
2024-03-15,East,Bike,3,3000.00
";

fn definition() -> ReportDefinition {
    ReportDefinition::from_json(json!({
        "dataset": "sales",
        "pages": [{
            "id": "main", "title": "Main",
            "slicers": [{ "column": "product" }],
            "visuals": [
                { "id": "total", "type": "card", "title": "Revenue",
                  "measures": [{ "column": "revenue", "agg": "sum" }, { "column": "units", "agg": "count" }] },
                { "id": "by-region", "type": "bar", "title": "By region", "dimension": { "column": "region" },
                  "measures": [{ "column": "revenue", "agg": "sum" }] },
                { "id": "monthly", "type": "line", "title": "Monthly", "dimension": { "column": "date", "grain": "month" },
                  "measures": [{ "column": "units", "agg": "sum" }] },
                { "id": "top", "type": "table", "title": "Top", "dimension": { "column": "product" },
                  "measures": [{ "column": "units", "agg": "max" }, { "column": "region", "agg": "countDistinct" }], "limit": 2 }
            ]
        }]
    }))
    .unwrap()
}

fn with_roles(roles: Value) -> ReportDefinition {
    let mut value = serde_json::to_value(definition()).unwrap();
    value["roles"] = roles;
    ReportDefinition::from_json(value).unwrap()
}

fn identity(roles: &[&str], attributes: &[(&str, &str)]) -> RlsIdentity {
    RlsIdentity {
        username: "ada@example.com".into(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        attributes: attributes
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
    }
}

fn request(visual: &str, filters: Value) -> QueryRequest {
    serde_json::from_value(json!({ "page": "main", "visual": visual, "filters": filters })).unwrap()
}

/// The test rows as an upload becomes: converted to a dataset file, opened from disk.
async fn engine() -> (Engine, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.parquet");
    storage::convert_csv(CSV.as_bytes(), &path).unwrap();
    let engine = Engine::new();
    let info =
        engine.open_file("sales", DataFile::owned(path, DataFormat::Parquet), 1).await.unwrap();
    assert_eq!(info.row_count, 5);
    definition().validate(&info).unwrap();
    (engine, dir)
}

#[tokio::test]
async fn a_registered_csv_file_is_scanned_where_it_lies() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sales.csv");
    std::fs::write(&path, CSV).unwrap();
    let engine = Engine::new();
    let file = DataFile::registered(path.clone(), DataFormat::Csv);
    let info = engine.open_file("sales", file, 1).await.unwrap();
    assert_eq!(info.row_count, 5);
    let result = engine
        .query(&definition(), &request("total", json!([])), &identity(&[], &[]))
        .await
        .unwrap();
    assert_eq!(result.rows, vec![vec![json!(6350.75), json!(5)]]);
    assert!(engine.retire("sales"));
    assert!(path.exists(), "a registered file is never removed");
}

#[tokio::test]
async fn a_card_sums_and_counts_everything() {
    let (engine, _dir) = engine().await;
    let result = engine
        .query(&definition(), &request("total", json!([])), &identity(&[], &[]))
        .await
        .unwrap();
    assert_eq!(result.rows, vec![vec![json!(6350.75), json!(5)]]);
    assert_eq!(result.columns[0].label, "Sum of revenue");
    assert!(!result.truncated);
}

#[tokio::test]
async fn bars_group_by_their_dimension_largest_first() {
    let (engine, _dir) = engine().await;
    let result = engine
        .query(&definition(), &request("by-region", json!([])), &identity(&[], &[]))
        .await
        .unwrap();
    assert_eq!(
        result.rows,
        vec![
            vec![json!("East"), json!(3000.0)],
            vec![json!("North"), json!(2250.5)],
            vec![json!("South"), json!(1100.25)]
        ]
    );
}

#[tokio::test]
async fn filters_keep_only_matching_rows_and_only_on_filterable_columns() {
    let (engine, _dir) = engine().await;
    let bikes = request("by-region", json!([{ "column": "product", "values": ["Bike"] }]));
    let result = engine.query(&definition(), &bikes, &identity(&[], &[])).await.unwrap();
    assert_eq!(result.rows.len(), 3);
    assert_eq!(result.rows[0], vec![json!("East"), json!(3000.0)]);
    let by_click = request("total", json!([{ "column": "region", "values": ["North", "South"] }]));
    let result = engine.query(&definition(), &by_click, &identity(&[], &[])).await.unwrap();
    assert_eq!(result.rows[0][1], json!(4));

    let hidden = request("total", json!([{ "column": "revenue", "values": [100.25] }]));
    let error = engine.query(&definition(), &hidden, &identity(&[], &[])).await.unwrap_err();
    assert_eq!(error, EngineError::FilterNotAllowed("revenue".into()));
    let object = request("total", json!([{ "column": "region", "values": [{ "$ne": 1 }] }]));
    assert!(matches!(
        engine.query(&definition(), &object, &identity(&[], &[])).await,
        Err(EngineError::InvalidFilter(_))
    ));
    let injection =
        request("total", json!([{ "column": "region", "values": ["North' OR '1'='1"] }]));
    let result = engine.query(&definition(), &injection, &identity(&[], &[])).await.unwrap();
    assert_eq!(result.rows[0][1], json!(0), "a value is only ever a value");
}

#[tokio::test]
async fn time_grains_group_dates_by_month_in_order() {
    let (engine, _dir) = engine().await;
    let result = engine
        .query(&definition(), &request("monthly", json!([])), &identity(&[], &[]))
        .await
        .unwrap();
    assert_eq!(
        result.rows,
        vec![
            vec![json!("2024-01-01"), json!(7)],
            vec![json!("2024-02-01"), json!(11)],
            vec![json!("2024-03-01"), json!(3)]
        ]
    );
    assert_eq!(result.columns[0].grain, Some(TimeGrain::Month), "shown as a period");
}

#[tokio::test]
async fn every_grain_groups_by_the_first_day_of_its_period() {
    let (engine, _dir) = engine().await;
    let expected = [
        ("day", vec!["2024-01-05", "2024-01-20", "2024-02-03", "2024-02-10", "2024-03-15"]),
        // Mondays: 2024-01-01, 2024-01-15, 2024-01-29, 2024-02-05, 2024-03-11.
        ("week", vec!["2024-01-01", "2024-01-15", "2024-01-29", "2024-02-05", "2024-03-11"]),
        ("quarter", vec!["2024-01-01"]),
        ("year", vec!["2024-01-01"]),
    ];
    for (grain, days) in expected {
        let mut value = serde_json::to_value(definition()).unwrap();
        value["pages"][0]["visuals"][2]["dimension"]["grain"] = json!(grain);
        let report = ReportDefinition::from_json(value).unwrap();
        let result = engine
            .query(&report, &request("monthly", json!([])), &identity(&[], &[]))
            .await
            .unwrap();
        let got: Vec<&str> = result.rows.iter().map(|r| r[0].as_str().unwrap()).collect();
        assert_eq!(got, days, "{grain}");
    }
}

#[tokio::test]
async fn results_are_cut_at_the_visuals_limit() {
    let (engine, _dir) = engine().await;
    let result =
        engine.query(&definition(), &request("top", json!([])), &identity(&[], &[])).await.unwrap();
    assert_eq!(result.rows.len(), 2);
    assert!(result.truncated);
    assert_eq!(result.rows[0], vec![json!("Lock"), json!(10), json!(1)]);
}

#[tokio::test]
async fn row_level_security_filters_every_query_and_refuses_users_without_a_role() {
    let (engine, _dir) = engine().await;
    let report = with_roles(json!([
        { "name": "Everything", "filters": [] },
        { "name": "Own region", "filters": [{ "column": "region", "attribute": "region" }] }
    ]));
    let north = identity(&["Own region"], &[("region", "North")]);
    let total = engine.query(&report, &request("total", json!([])), &north).await.unwrap();
    assert_eq!(total.rows[0], vec![json!(2250.5), json!(2)]);
    let bars = engine.query(&report, &request("by-region", json!([])), &north).await.unwrap();
    assert_eq!(bars.rows, vec![vec![json!("North"), json!(2250.5)]]);
    // A forged filter for another region cannot widen access: it only narrows.
    let forged = request("total", json!([{ "column": "region", "values": ["South", "East"] }]));
    assert_eq!(engine.query(&report, &forged, &north).await.unwrap().rows[0][1], json!(0));

    let everything = engine
        .query(&report, &request("total", json!([])), &identity(&["Everything"], &[]))
        .await
        .unwrap();
    assert_eq!(everything.rows[0][1], json!(5));
    let both = engine
        .query(
            &report,
            &request("total", json!([])),
            &identity(&["Everything", "Own region"], &[("region", "North")]),
        )
        .await
        .unwrap();
    assert_eq!(both.rows[0][1], json!(5), "roles widen access");

    let no_role =
        engine.query(&report, &request("total", json!([])), &identity(&["Other"], &[])).await;
    assert_eq!(no_role.unwrap_err(), EngineError::Rls(RlsError::NoRole));
    let no_attribute =
        engine.query(&report, &request("total", json!([])), &identity(&["Own region"], &[])).await;
    assert_eq!(no_attribute.unwrap().rows[0][1], json!(0), "a missing attribute matches no row");
}

#[tokio::test]
async fn slicers_list_their_values_under_the_other_filters_and_rls() {
    let (engine, _dir) = engine().await;
    let slicer = |filters: Value| -> QueryRequest {
        serde_json::from_value(json!({ "page": "main", "slicer": "product", "filters": filters }))
            .unwrap()
    };
    let all = engine.query(&definition(), &slicer(json!([])), &identity(&[], &[])).await.unwrap();
    assert_eq!(all.rows, vec![vec![json!("Bike")], vec![json!("Helmet")], vec![json!("Lock")]]);
    let own = slicer(
        json!([{ "column": "product", "values": ["Bike"] }, { "column": "region", "values": ["North"] }]),
    );
    let north = engine.query(&definition(), &own, &identity(&[], &[])).await.unwrap();
    assert_eq!(
        north.rows,
        vec![vec![json!("Bike")], vec![json!("Helmet")]],
        "its own filter is ignored"
    );
    let report = with_roles(
        json!([{ "name": "Own region", "filters": [{ "column": "region", "attribute": "region" }] }]),
    );
    let south = engine
        .query(&report, &slicer(json!([])), &identity(&["Own region"], &[("region", "South")]))
        .await
        .unwrap();
    assert_eq!(south.rows, vec![vec![json!("Bike")], vec![json!("Lock")]]);
    let not_a_slicer: QueryRequest =
        serde_json::from_value(json!({ "page": "main", "slicer": "region" })).unwrap();
    assert_eq!(
        engine.query(&definition(), &not_a_slicer, &identity(&[], &[])).await.unwrap_err(),
        EngineError::UnknownSlicer("region".into())
    );
}

#[tokio::test]
async fn unknown_pages_and_visuals_are_named() {
    let (engine, _dir) = engine().await;
    let bad_page: QueryRequest =
        serde_json::from_value(json!({ "page": "nope", "visual": "total" })).unwrap();
    assert_eq!(
        engine.query(&definition(), &bad_page, &identity(&[], &[])).await.unwrap_err(),
        EngineError::UnknownPage("nope".into())
    );
    let bad_visual = request("nope", json!([]));
    assert_eq!(
        engine.query(&definition(), &bad_visual, &identity(&[], &[])).await.unwrap_err(),
        EngineError::UnknownVisual("nope".into())
    );
    assert!(engine.close("sales"));
    let unloaded =
        engine.query(&definition(), &request("total", json!([])), &identity(&[], &[])).await;
    assert_eq!(unloaded.unwrap_err(), EngineError::NotLoaded("sales".into()));
}

#[tokio::test]
async fn the_demo_dataset_round_trips_through_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sales.parquet");
    let written = demo_data::write_parquet(&path, 10_000).unwrap();
    assert_eq!(written.row_count, 10_000);
    let engine = Engine::new();
    let info =
        engine.open_file("sales", DataFile::owned(path, DataFormat::Parquet), 1).await.unwrap();
    assert_eq!(info, written);
    let names: Vec<&str> = info.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        ["date", "region", "country", "product", "category", "channel", "units", "revenue", "cost"]
    );
    assert_eq!(
        demo_data::generate(10_000).unwrap(),
        demo_data::generate(10_000).unwrap(),
        "the same rows every time"
    );
    let result = engine
        .query(&definition_for_demo(), &request("total", json!([])), &identity(&[], &[]))
        .await
        .unwrap();
    assert_eq!(result.rows[0][1], json!(10_000));
}

fn definition_for_demo() -> ReportDefinition {
    ReportDefinition::from_json(json!({
        "dataset": "sales",
        "pages": [{ "id": "main", "title": "Main", "visuals": [
            { "id": "total", "type": "card", "title": "Revenue",
              "measures": [{ "column": "revenue", "agg": "sum" }, { "column": "units", "agg": "count" }] }
        ]}]
    }))
    .unwrap()
}

#[tokio::test]
async fn a_query_past_the_engines_memory_pool_fails_cleanly_and_the_next_one_with_room_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sales.parquet");
    demo_data::write_parquet(&path, 200_000).unwrap();
    let definition = ReportDefinition::from_json(json!({
        "dataset": "sales",
        "pages": [{ "id": "main", "title": "Main", "visuals": [
            { "id": "by-day", "type": "table", "title": "By day", "dimension": { "column": "date" },
              "measures": [{ "column": "country", "agg": "countDistinct" }], "limit": 100000 }
        ]}]
    }))
    .unwrap();
    let tight = Engine::with_query_memory(Some(64 * 1024));
    tight
        .open_file("sales", DataFile::registered(path.clone(), DataFormat::Parquet), 1)
        .await
        .unwrap();
    let refused =
        tight.query(&definition, &request("by-day", json!([])), &identity(&[], &[])).await;
    match refused {
        Err(EngineError::Failed(message)) => {
            assert!(message.to_lowercase().contains("resources exhausted"), "{message}")
        }
        other => panic!("expected a clean failure, got {other:?}"),
    }
    let roomy = Engine::with_query_memory(Some(512 * 1024 * 1024));
    roomy.open_file("sales", DataFile::registered(path, DataFormat::Parquet), 1).await.unwrap();
    let result = roomy.query(&definition, &request("by-day", json!([])), &identity(&[], &[])).await;
    assert!(!result.unwrap().rows.is_empty());
}

/// Writes the test rows with one more row of `extra` units as version `version`'s file.
fn version_file(dir: &std::path::Path, version: u64, extra: u32) -> std::path::PathBuf {
    let path = dir.join(format!("v{version}.parquet"));
    let text = format!("{CSV}2024-04-01,West,Bike,{extra},10.00\n");
    storage::convert_csv(text.as_bytes(), &path).unwrap();
    path
}

#[tokio::test]
async fn a_new_version_answers_at_once_and_the_replaced_file_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::new().with_result_cache(std::time::Duration::from_secs(60), 1 << 20);
    let v1 = version_file(dir.path(), 1, 1);
    engine.open_file("sales", DataFile::owned(v1.clone(), DataFormat::Parquet), 1).await.unwrap();
    let total = request("total", json!([]));
    let before = engine.query(&definition(), &total, &identity(&[], &[])).await.unwrap();
    assert_eq!(before.rows[0][1], json!(6));
    let v2 = version_file(dir.path(), 2, 2);
    engine.open_file("sales", DataFile::owned(v2.clone(), DataFormat::Parquet), 2).await.unwrap();
    assert!(!v1.exists(), "no query reads version 1: it is gone");
    let after = engine.query(&definition(), &total, &identity(&[], &[])).await.unwrap();
    assert_eq!(after.rows[0][0], json!(6360.75), "the cache forgot version 1's answer");
    assert_eq!(engine.version("sales"), Some(2));
    assert!(engine.close("sales"));
    assert!(v2.exists(), "closing (a paused capacity) keeps the file");
    engine.open_file("sales", DataFile::owned(v2.clone(), DataFormat::Parquet), 2).await.unwrap();
    assert!(engine.retire("sales"));
    assert!(!v2.exists(), "a deleted dataset's file goes");
}

#[tokio::test]
async fn a_thousand_identical_queries_at_once_run_once_and_rls_keeps_users_apart() {
    let (engine, dir) = engine().await;
    drop(engine);
    let engine = std::sync::Arc::new(
        Engine::new().with_result_cache(std::time::Duration::from_secs(60), 1 << 20),
    );
    let path = dir.path().join("v1.parquet");
    engine.open_file("sales", DataFile::registered(path, DataFormat::Parquet), 1).await.unwrap();
    let report = with_roles(
        json!([{ "name": "Own region", "filters": [{ "column": "region", "attribute": "region" }] }]),
    );
    let mut runs = Vec::new();
    for i in 0..1_000 {
        let (engine, report) = (engine.clone(), report.clone());
        // Two users of the North see the same rows and share entries; the South does not.
        let region = if i % 10 == 0 { "South" } else { "North" };
        let user = identity(&["Own region"], &[("region", region)]);
        runs.push(tokio::spawn(async move {
            let result = engine.query(&report, &request("by-region", json!([])), &user).await;
            (region, result.unwrap())
        }));
    }
    for run in runs {
        let (region, result) = run.await.unwrap();
        assert_eq!(result.rows.len(), 1);
        assert_eq!(result.rows[0][0], json!(region), "never another user's rows");
    }
    let stats = engine.result_cache_stats().unwrap();
    assert_eq!(stats.misses, 2, "one run per distinct row-level-security predicate");
    assert_eq!(stats.hits, 998);
}

#[tokio::test]
async fn an_older_version_is_never_opened_over_a_newer_one() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::new();
    let v1 = version_file(dir.path(), 1, 1);
    let v2 = version_file(dir.path(), 2, 2);
    engine.open_file("sales", DataFile::owned(v2.clone(), DataFormat::Parquet), 2).await.unwrap();
    // A query that read the dataset's record before the replacement asks for version 1.
    engine.open_file("sales", DataFile::owned(v1.clone(), DataFormat::Parquet), 1).await.unwrap();
    assert_eq!(engine.version("sales"), Some(2));
    assert!(v2.exists(), "the current version's file is kept");
    let total = engine
        .query(&definition(), &request("total", json!([])), &identity(&[], &[]))
        .await
        .unwrap();
    assert_eq!(total.rows[0][0], json!(6360.75));
}

#[tokio::test]
async fn a_visual_asked_again_runs_its_kept_plan_and_answers_the_same() {
    let (engine, _dir) = engine().await;
    let anyone = identity(&[], &[]);
    let bikes = json!([{ "column": "product", "values": ["Bike"] }]);
    let mut first = Vec::new();
    for (visual, filters) in [("total", json!([])), ("by-region", json!([])), ("top", bikes)] {
        let asked = request(visual, filters);
        let planned = engine.query(&definition(), &asked, &anyone).await.unwrap();
        let kept = engine.query(&definition(), &asked, &anyone).await.unwrap();
        assert_eq!(planned.rows, kept.rows, "{visual}");
        first.push(planned);
    }
    let stats = engine.plan_cache_stats();
    assert_eq!((stats.misses, stats.hits, stats.plans), (3, 3, 3));
    // Other filter values are another plan, with their own answer.
    let locks = request("top", json!([{ "column": "product", "values": ["Lock"] }]));
    let result = engine.query(&definition(), &locks, &anyone).await.unwrap();
    assert_eq!(result.rows, vec![vec![json!("Lock"), json!(10), json!(1)]]);
    assert_ne!(result.rows, first[2].rows);
    assert_eq!(engine.plan_cache_stats().plans, 4);
}

#[tokio::test]
async fn kept_plans_run_at_once_by_many_queries_each_give_the_whole_answer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sales.parquet");
    demo_data::write_parquet(&path, 200_000).unwrap();
    let engine = std::sync::Arc::new(Engine::new());
    engine.open_file("sales", DataFile::registered(path, DataFormat::Parquet), 1).await.unwrap();
    let report = ReportDefinition::from_json(json!({
        "dataset": "sales",
        "pages": [{ "id": "main", "title": "Main", "visuals": [
            { "id": "total", "type": "card", "title": "Units",
              "measures": [{ "column": "units", "agg": "sum" }, { "column": "units", "agg": "count" }] },
            { "id": "by-region", "type": "bar", "title": "By region", "dimension": { "column": "region" },
              "measures": [{ "column": "units", "agg": "sum" }], "limit": 3 },
            { "id": "monthly", "type": "line", "title": "Monthly", "dimension": { "column": "date", "grain": "month" },
              "measures": [{ "column": "units", "agg": "sum" }] }
        ]}]
    }))
    .unwrap();
    let visuals = ["total", "by-region", "monthly"];
    // Integer sums: the same whichever partition's part arrives first.
    let anyone = identity(&[], &[]);
    let mut expected = Vec::new();
    for visual in visuals {
        expected.push(engine.query(&report, &request(visual, json!([])), &anyone).await.unwrap());
    }
    for round in 0..10 {
        let mut runs = Vec::new();
        for i in 0..24 {
            let (engine, report, anyone) = (engine.clone(), report.clone(), anyone.clone());
            runs.push(tokio::spawn(async move {
                let visual = visuals[i % visuals.len()];
                (i, engine.query(&report, &request(visual, json!([])), &anyone).await.unwrap())
            }));
        }
        for run in runs {
            let (i, result) = run.await.unwrap();
            assert_eq!(result.rows, expected[i % visuals.len()].rows, "round {round}, query {i}");
        }
    }
    let stats = engine.plan_cache_stats();
    assert_eq!((stats.misses, stats.hits), (3, 240));
}

#[tokio::test]
async fn a_new_version_is_planned_afresh_and_the_old_plans_let_its_file_go() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::new();
    let total = request("total", json!([]));
    let anyone = identity(&[], &[]);
    let v1 = version_file(dir.path(), 1, 1);
    engine.open_file("sales", DataFile::owned(v1.clone(), DataFormat::Parquet), 1).await.unwrap();
    for _ in 0..2 {
        let before = engine.query(&definition(), &total, &anyone).await.unwrap();
        assert_eq!(before.rows[0][0], json!(6360.75));
    }
    assert!(engine.column_cache_stats().chunks > 0, "version 1's revenue is held decoded");
    let v2 = dir.path().join("v2.parquet");
    storage::convert_csv(format!("{CSV}2024-04-01,West,Bike,2,99.00\n").as_bytes(), &v2).unwrap();
    engine.open_file("sales", DataFile::owned(v2, DataFormat::Parquet), 2).await.unwrap();
    // No plan holds version 1: its file and its decoded chunks are gone.
    assert!(!v1.exists());
    assert_eq!(engine.column_cache_stats().chunks, 0);
    assert_eq!(engine.plan_cache_stats().plans, 0);
    let after = engine.query(&definition(), &total, &anyone).await.unwrap();
    assert_eq!(after.rows[0][0], json!(6449.75), "version 2's rows");
    let stats = engine.plan_cache_stats();
    assert_eq!((stats.misses, stats.hits, stats.plans), (2, 1, 1));
}
