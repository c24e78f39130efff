//! A dataset's data replaced in place: checked against the reports that read it, switched in
//! at once for every query (the result cache forgets the old answers), the old file removed,
//! each version in the audit.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::Value;

const VISITS: &[u8] = b"city,visits,day\nOslo,3,2024-01-05\nBergen,5,2024-02-10\n";

async fn total(app: &TestApp, session: &Session, report: &str) -> Value {
    card_total(&app.url(""), session, report).await
}

async fn visits_dataset(session: &Session) -> String {
    let created = upload(session, "Visits", "visits.csv", VISITS).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    created.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn new_data_replaces_a_dataset_in_place_and_its_reports_show_it_at_once() {
    let app = spawn_app().await;
    let contributor = app.sign_in(CONTRIBUTOR).await;
    let id = visits_dataset(&contributor).await;
    let report = card_report(&contributor, "Visits", &id, "visits").await;
    assert_eq!(total(&app, &contributor, &report).await, 8);

    let more = b"city,visits,day,note\nOslo,3,2024-01-05,x\nBergen,5,2024-02-10,y\nTromso,100,2024-03-01,z\n";
    let replaced = replace_data(&contributor, &id, "visits.csv", more).await;
    assert_eq!(replaced.status(), StatusCode::OK, "{:?}", replaced.text().await);
    let dataset: Value = replaced.json().await.unwrap();
    assert_eq!((dataset["version"].as_u64(), dataset["rowCount"].as_u64()), (Some(2), Some(3)));
    assert_eq!(dataset["columns"].as_array().unwrap().len(), 4, "a new column is welcome");
    assert_eq!(total(&app, &contributor, &report).await, 108, "the next query reads version 2");

    let dir = app.data_dir().join("datasets").join(&id);
    let files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert!(
        files.len() == 1 && files[0].starts_with("v2-") && files[0].ends_with(".parquet"),
        "version 1 is gone once no query reads it: {files:?}"
    );

    let admin = app.sign_in(ADMIN).await;
    let audit = admin.json("/api/v1/audit?entityType=dataset").await;
    let entries = audit.as_array().unwrap();
    let replaced = entries.iter().find(|e| e["action"] == "data replaced").expect("audited");
    assert_eq!(replaced["oldValue"]["version"], 1);
    assert_eq!(replaced["newValue"]["version"], 2);
    assert_eq!(replaced["newValue"]["rows"], 3);
}

#[tokio::test]
async fn new_data_lacking_a_column_a_report_uses_is_refused_naming_the_report_and_changes_nothing()
{
    let app = spawn_app().await;
    let contributor = app.sign_in(CONTRIBUTOR).await;
    let id = visits_dataset(&contributor).await;
    let report = card_report(&contributor, "City visits", &id, "visits").await;
    let without = b"city,day\nOslo,2024-01-05\n";
    let refused = replace_data(&contributor, &id, "visits.csv", without).await;
    let body = expect_error(refused, StatusCode::CONFLICT, "InvalidInput").await;
    assert_eq!(body["error"]["field"], "file");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("City visits") && message.contains("visits"), "{message}");
    let dataset = contributor.json(&format!("/api/v1/datasets/{id}")).await;
    assert_eq!(dataset["version"], 1);
    assert_eq!(total(&app, &contributor, &report).await, 8);

    for (file_name, content, field) in [
        ("visits.txt", &b"a,b\n1,2\n"[..], "file"),
        ("visits.csv", &b"city,visits\n"[..], "file"),
        ("visits.parquet", &b"not parquet"[..], "file"),
    ] {
        let refused = replace_data(&contributor, &id, file_name, content).await;
        let body = expect_error(refused, StatusCode::BAD_REQUEST, "InvalidInput").await;
        assert_eq!(body["error"]["field"], field, "{file_name}");
    }
    let unknown =
        replace_data(&contributor, "00000000-0000-7000-8000-000000000000", "v.csv", VISITS).await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let acme = app.sign_in(ACME_ADMIN).await;
    let foreign = replace_data(&acme, &id, "visits.csv", VISITS).await;
    assert_eq!(foreign.status(), StatusCode::NOT_FOUND, "another organization's dataset");
    let viewer = app.sign_in(VIEWER).await;
    let forbidden = replace_data(&viewer, &id, "visits.csv", VISITS).await;
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    assert_eq!(contributor.json(&format!("/api/v1/datasets/{id}")).await["version"], 1);
    let leftovers: Vec<_> = std::fs::read_dir(app.data_dir().join("datasets"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".upload"))
        .collect();
    assert!(leftovers.is_empty(), "refused uploads leave nothing behind");
}

#[tokio::test]
async fn a_csv_is_converted_while_it_streams_in_and_a_bad_value_names_its_row() {
    let app = spawn_app().await;
    let contributor = app.sign_in(CONTRIBUTOR).await;
    let mut text = String::from("region,units\n");
    // Past the first 4 MB the columns' types are read from.
    for i in 0..1_000_000 {
        text.push_str(&format!("R{},{}\n", i % 7, i % 13));
    }
    let created = upload(&contributor, "Units", "units.csv", text.as_bytes()).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let dataset: Value = created.json().await.unwrap();
    assert_eq!(dataset["format"], "parquet");
    assert_eq!(dataset["rowCount"], 1_000_000);
    let id = dataset["id"].as_str().unwrap();
    let stored = std::fs::metadata(version_file(&app, id, 1)).unwrap();
    assert!(
        stored.len() < text.len() as u64 / 4,
        "{} bytes for {} of CSV",
        stored.len(),
        text.len()
    );

    text.push_str("R1,many\n");
    let refused = upload(&contributor, "Broken", "broken.csv", text.as_bytes()).await;
    let body = expect_error(refused, StatusCode::BAD_REQUEST, "InvalidInput").await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("near data row"), "{message}");
    assert!(!message.contains('/'), "no server path: {message}");
}

/// The files of `dir/datasets/{id}`, by name.
fn files_of(dir: &std::path::Path, id: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir.join("datasets").join(id)) else { return Vec::new() };
    let mut names: Vec<String> =
        entries.map(|e| e.unwrap().file_name().to_string_lossy().to_string()).collect();
    names.sort();
    names
}

/// Waits (up to five seconds) until `dir` holds exactly the files `wanted` accepts.
async fn until_files(dir: &std::path::Path, id: &str, wanted: impl Fn(&[String]) -> bool) {
    for _ in 0..100 {
        if wanted(&files_of(dir, id)) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the files of dataset {id} are {:?}", files_of(dir, id));
}

/// `dataset_storage` sends dataset files through `object_store` (here its local file system, as
/// a bucket would be): uploads, queries, replacements and deletions all go to the store, and the
/// data directory keeps no dataset file and no leftover upload.
#[tokio::test]
async fn with_dataset_storage_set_files_live_in_the_object_store_and_nowhere_else() {
    let storage = tempfile::tempdir().unwrap();
    let url = url::Url::from_directory_path(storage.path()).unwrap().to_string();
    let app = spawn_app_with(move |layer| vitrine_server::config::ConfigLayer {
        dataset_storage: Some(url),
        ..layer
    })
    .await;
    let contributor = app.sign_in(CONTRIBUTOR).await;
    let id = visits_dataset(&contributor).await;
    let report = card_report(&contributor, "Visits", &id, "visits").await;
    assert_eq!(total(&app, &contributor, &report).await, 8, "read from the store");
    let stored = files_of(storage.path(), &id);
    assert!(stored.len() == 1 && stored[0].starts_with("v1-"), "{stored:?}");
    assert!(files_of(app.data_dir(), &id).is_empty(), "nothing in the data directory");

    let more = b"city,visits,day\nOslo,3,2024-01-05\nBergen,5,2024-02-10\nTromso,100,2024-03-01\n";
    let replaced = replace_data(&contributor, &id, "visits.csv", more).await;
    assert_eq!(replaced.status(), StatusCode::OK, "{:?}", replaced.text().await);
    assert_eq!(total(&app, &contributor, &report).await, 108, "version 2, from the store");
    until_files(storage.path(), &id, |f| f.len() == 1 && f[0].starts_with("v2-")).await;

    let deleted = contributor.delete(&format!("/api/v1/reports/{report}")).await;
    assert!(deleted.status().is_success());
    let deleted = contributor.delete(&format!("/api/v1/datasets/{id}")).await;
    assert!(deleted.status().is_success(), "{:?}", deleted.text().await);
    until_files(storage.path(), &id, <[String]>::is_empty).await;
    let uploads: Vec<_> = std::fs::read_dir(app.data_dir().join("uploads")).unwrap().collect();
    assert!(uploads.is_empty(), "converted uploads do not stay behind: {uploads:?}");
}
