//! Admin Portal › Datasets: upload files, add datasets of a connection (direct or imported),
//! replace a file dataset's data, refresh an imported one and read its history.

use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use maud::{Markup, html};
use serde_json::{Map, Value};
use vitrine_core::source::{RefreshTrigger, SourceMode};
use vitrine_core::{ContentScope, DatasetId, Fields, Role};
use vitrine_store::Dataset;

use super::{DoneQuery, content_scope, done, flash_of, windows_text, windows_value};
use crate::app::AppState;
use crate::auth::{Caller, PortalCaller};
use crate::error::{ApiError, ErrorCode};
use crate::portal::layout::{Flash, Section, action_button, csrf_field, date, flash, page};
use crate::portal::{FormData, OnPage, PortalResult};
use crate::services::{datasets, parse_id, sources};

/// How a dataset gets its rows, in words.
fn kind_label(dataset: &Dataset) -> &'static str {
    match dataset.source.as_ref().map(|s| s.mode) {
        None => "file",
        Some(SourceMode::Direct) => "direct",
        Some(SourceMode::Imported) => "imported",
    }
}

pub async fn list(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    query: DoneQuery,
) -> PortalResult {
    let scope = content_scope(&caller)?;
    render_list(&state, &caller, &scope, flash_of(&query), StatusCode::OK).await
}

async fn render_list(
    state: &AppState,
    caller: &Caller,
    scope: &ContentScope,
    notice: Flash,
    status: StatusCode,
) -> PortalResult {
    let list = state.store.list_datasets(scope.org_id()).await.on_page(caller)?;
    let connections = state.store.list_connections(scope.org_id()).await.on_page(caller)?;
    let admin = caller.principal.role == Role::Admin;
    let body = html! {
        div.page-head {
            h1 { "Datasets" }
            p.muted { "The data reports are built on: files kept as Parquet on disk, or tables and queries of your own databases, read where they live." }
        }
        (flash(&notice))
        section.card {
            @if list.is_empty() { p.muted { "No datasets yet." } } @else {
                table {
                    thead { tr { th { "Name" } th { "Kind" } th.num { "Rows" } th.num { "Columns" } th.num { "Version" } th { "Updated" } } }
                    tbody {
                        @for dataset in &list {
                            tr {
                                td { a href={ "/admin/datasets/" (dataset.id) } { (dataset.name) } }
                                td { (kind_label(dataset)) }
                                td.num { @if kind_label(dataset) == "direct" { "—" } @else { (dataset.row_count) } }
                                td.num { (dataset.columns.as_array().map(|c| c.len()).unwrap_or(0)) }
                                td.num { (dataset.version) }
                                td { (date(dataset.updated_at)) }
                            }
                        }
                    }
                }
            }
        }
        section.card {
            h2 { "Upload a file" }
            p.muted { "A CSV file with a header row, or a Parquet file. A CSV file is converted to Parquet while it uploads; nothing is held in memory, so files far larger than the server's memory are fine." }
            form.grid-form method="post" action="/admin/datasets" enctype="multipart/form-data" {
                (csrf_field(caller))
                label { "Name" input type="text" name="name" required; }
                label.wide { "File" input type="file" name="file" accept=".csv,.parquet" required; }
                div.form-actions { button.primary type="submit" { "Upload" } }
            }
        }
        section.card {
            h2 { "From a database" }
            @if connections.is_empty() {
                p.muted {
                    "Connect a PostgreSQL or MySQL/MariaDB database first"
                    @if admin { " in " a href="/admin/connections" { "Connections" } } @else { " (an administrator does this)" }
                    "."
                }
            } @else {
                p.muted { "Direct: every visual is one query of the database, filters and row-level security included, so reports always show the data as it is now. Imported: the rows are copied here on a schedule or when you ask, and reports read the copy." }
                form.grid-form method="post" action="/admin/datasets/source" {
                    (csrf_field(caller))
                    label { "Name" input type="text" name="name" required; }
                    label { "Connection"
                        select name="connection" required {
                            @for connection in &connections { option value=(connection.id) { (connection.name) } }
                        }
                    }
                    label { "Table or view" input type="text" name="table" placeholder="schema.table"; }
                    label.wide { "Or a read-only query" textarea name="sql" rows="3" placeholder="SELECT …" {} }
                    label { "Mode"
                        select name="mode" {
                            option value="direct" { "direct" }
                            option value="imported" { "imported" }
                        }
                    }
                    label { "Refresh every (minutes, imported)" input type="number" name="refreshEveryMinutes" min="5"; }
                    label.wide { "Refresh windows (imported; one per line, e.g. Mon 06:00-07:00)"
                        textarea name="refreshWindows" rows="2" placeholder="Mon 06:00-07:00" {} }
                    div.form-actions { button.primary type="submit" { "Add dataset" } }
                }
                @if admin { p.muted { a href="/admin/connections" { "Manage connections" } } }
            }
        }
    };
    Ok((status, page(Some(caller), "Datasets", Some(Section::Datasets), body)).into_response())
}

/// `POST /admin/datasets`: the multipart form carries the CSRF token as its `csrf` part.
pub async fn create(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    form: Multipart,
) -> PortalResult {
    let scope = content_scope(&caller)?;
    let result = async {
        let (csrf, upload) = crate::api::read_portal_upload(&state, form).await?;
        caller.check_csrf(csrf.as_deref())?;
        let name = upload.name.unwrap_or_default();
        let file = upload.file.ok_or_else(|| ApiError::invalid("file", "is required"))?;
        datasets::add_upload(&state, &scope, &caller, &name, file).await
    }
    .await;
    match result {
        Ok(dataset) => Ok(done(&format!("/admin/datasets/{}", dataset.id), "created")),
        Err(e) if e.code == ErrorCode::CsrfRejected => Err(e).on_page(&caller),
        Err(e) => render_list(&state, &caller, &scope, Flash::error(e.message), e.status).await,
    }
}

/// Form fields as the API's JSON: numbers where the API takes numbers (text that is not a
/// number goes through as text, for the service to refuse naming the field).
pub(super) fn form_fields(form: &FormData, text: &[&str], numbers: &[&str]) -> Fields {
    let mut map = Map::new();
    for name in text {
        if let Some(value) = form.get(name).filter(|v| !v.trim().is_empty()) {
            map.insert(name.to_string(), Value::String(value.to_string()));
        }
    }
    for name in numbers {
        if let Some(value) = form.get(name).map(str::trim).filter(|v| !v.is_empty()) {
            let number = value.parse::<i64>().map(Value::from);
            map.insert(name.to_string(), number.unwrap_or_else(|_| Value::String(value.into())));
        }
    }
    Fields::from_map(map)
}

/// `POST /admin/datasets/source`: a dataset of a connection.
pub async fn create_source(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    form: FormData,
) -> PortalResult {
    form.check_csrf(&caller)?;
    let scope = content_scope(&caller)?;
    let mut input = form_fields(
        &form,
        &["name", "connection", "table", "sql", "mode"],
        &["refreshEveryMinutes"],
    );
    if let Some(text) = form.get("refreshWindows").filter(|t| !t.trim().is_empty()) {
        input.insert("refreshWindows", windows_value(text));
    }
    match sources::create_dataset(&state, &scope, &caller, &input).await {
        Ok(dataset) => Ok(done(&format!("/admin/datasets/{}", dataset.id), "created")),
        Err(e) => render_list(&state, &caller, &scope, Flash::error(e.message), e.status).await,
    }
}

pub async fn show(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Path(id): Path<String>,
    query: DoneQuery,
) -> PortalResult {
    let scope = content_scope(&caller)?;
    let id: DatasetId = parse_id(&id, "dataset").on_page(&caller)?;
    render_show(&state, &caller, &scope, id, flash_of(&query), StatusCode::OK).await
}

async fn render_show(
    state: &AppState,
    caller: &Caller,
    scope: &ContentScope,
    id: DatasetId,
    notice: Flash,
    status: StatusCode,
) -> PortalResult {
    let dataset = state.store.get_dataset(scope.org_id(), id).await.on_page(caller)?;
    let columns = dataset.columns.as_array().cloned().unwrap_or_default();
    let history = state.store.list_refreshes(scope.org_id(), id, 20).await.on_page(caller)?;
    let connection = match &dataset.source {
        Some(source) => state.store.get_connection(scope.org_id(), source.connection_id).await.ok(),
        None => None,
    };
    let refreshing = state.sources.is_importing(id);
    let org_time_zone =
        state.store.get_organization(scope.org_id()).await.on_page(caller)?.settings.time_zone;
    let next_refresh = dataset
        .source
        .as_ref()
        .and_then(|s| s.refresh_plan())
        .and_then(|plan| plan.next(history.first().map(|r| r.started_at), state.clock.now()));
    let body = html! {
        nav.crumbs { a href="/admin/datasets" { "Datasets" } " / " (dataset.name) }
        div.page-head {
            h1 { (dataset.name) }
            p.muted {
                (kind_label(&dataset)) " · version " (dataset.version)
                @if kind_label(&dataset) != "direct" { " · " (dataset.row_count) " rows" }
                " · updated " (date(dataset.updated_at)) " · id " code { (dataset.id) }
            }
            a.button href={ "/admin/reports?dataset=" (id) "#add-report" } { "New report on this dataset" }
        }
        (flash(&notice))
        @if let Some(source) = &dataset.source {
            section.card {
                h2 { "Source" }
                p {
                    "Connection " strong { (connection.as_ref().map(|c| c.name.as_str()).unwrap_or("(deleted)")) } ", "
                    @if let Some(table) = &source.table { "table " code { (table) } } @else { "a query" }
                    ", " (source.mode.as_str()) "."
                }
                @if let Some(sql) = &source.sql { pre { code { (sql) } } }
                @if source.mode == SourceMode::Imported {
                    p.muted {
                        (refresh_words(source)) " A failed refresh keeps the last good version."
                        @if let Some(at) = next_refresh { " Next scheduled refresh: " (date(at)) "." }
                    }
                    @if refreshing { p.flash.notice role="status" { "A refresh is running." } }
                    @else { (action_button(caller, &format!("/admin/datasets/{id}/refresh"), "Refresh now", "primary")) }
                    (history_table(&history))
                } @else {
                    p.muted { "Every visual is sent to the database as one query; nothing is copied." }
                }
            }
        } @else {
            section.card {
                h2 { "Replace data" }
                p.muted { "Upload a new version of the file. Reports that use a column the new file lacks are named and nothing changes; otherwise the new data replaces the old at once and open reports show it." }
                form.grid-form method="post" action={ "/admin/datasets/" (id) "/data" } enctype="multipart/form-data" {
                    (csrf_field(caller))
                    label.wide { "File" input type="file" name="file" accept=".csv,.parquet" required; }
                    div.form-actions { button.primary type="submit" { "Upload new data" } }
                }
            }
        }
        section.card {
            h2 { "Settings" }
            form.grid-form method="post" action={ "/admin/datasets/" (id) } {
                (csrf_field(caller))
                label { "Name" input type="text" name="name" value=(dataset.name) required; }
                @if let Some(source) = dataset.source.as_ref().filter(|s| s.mode == SourceMode::Imported) {
                    label { "Refresh every (minutes; empty: not by time)"
                        input type="number" name="refreshEveryMinutes" min="5" value=[source.refresh_every_minutes]; }
                    label { "Time zone of the windows"
                        input type="text" name="timeZone" value=(source.refresh_time_zone.as_deref().unwrap_or(org_time_zone.as_str())); }
                    label.wide { "Refresh windows (one per line, e.g. Mon 06:00-07:00: a refresh at each start, and every N minutes inside when set)"
                        textarea name="refreshWindows" rows="3" { (windows_text(&source.refresh_windows)) } }
                }
                div.form-actions { button.primary type="submit" { "Save" } }
            }
        }
        section.card {
            h2 { "Columns" }
            p.muted { "Use these names in report definitions. Sums and averages need numeric columns; time grains need dates." }
            table {
                thead { tr { th { "Column" } th { "Kind" } } }
                tbody {
                    @for column in &columns {
                        tr { td { code { (column["name"].as_str().unwrap_or_default()) } } td { (column["kind"].as_str().unwrap_or_default()) } }
                    }
                }
            }
        }
        section.card.danger-zone {
            h2 { "Delete dataset" }
            p.muted { "Reports built on it stop showing data." }
            (action_button(caller, &format!("/admin/datasets/{id}/delete"), "Delete dataset", "danger"))
        }
    };
    Ok((status, page(Some(caller), &dataset.name, Some(Section::Datasets), body)).into_response())
}

/// How an imported dataset refreshes, in words.
fn refresh_words(source: &vitrine_store::DatasetSource) -> String {
    let windows = source.refresh_windows.len();
    let zone = source.refresh_time_zone.as_deref().unwrap_or("UTC");
    match (source.refresh_every_minutes, windows) {
        (None, 0) => "Refreshed when you ask.".into(),
        (Some(minutes), 0) => format!("Refreshed every {minutes} minutes, and when you ask."),
        (None, n) => format!(
            "Refreshed at the start of each of its {n} weekly window{} ({zone}), and when you ask.",
            if n == 1 { "" } else { "s" }
        ),
        (Some(minutes), n) => format!(
            "Refreshed every {minutes} minutes inside its {n} weekly window{} ({zone}), and when you ask.",
            if n == 1 { "" } else { "s" }
        ),
    }
}

/// `POST /admin/datasets/{id}`: the name and, for an imported dataset, its refresh schedule.
pub async fn update(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Path(id): Path<String>,
    form: FormData,
) -> PortalResult {
    form.check_csrf(&caller)?;
    let scope = content_scope(&caller)?;
    let id: DatasetId = parse_id(&id, "dataset").on_page(&caller)?;
    let dataset = state.store.get_dataset(scope.org_id(), id).await.on_page(&caller)?;
    let mut input = Map::new();
    input.insert("name".into(), Value::String(form.get("name").unwrap_or_default().to_string()));
    if dataset.source.as_ref().is_some_and(|s| s.mode == SourceMode::Imported) {
        let every = form.get("refreshEveryMinutes").map(str::trim).unwrap_or_default();
        input.insert(
            "refreshEveryMinutes".into(),
            match every {
                "" => Value::Null,
                text => text.parse::<i64>().map(Value::from).unwrap_or_else(|_| text.into()),
            },
        );
        input.insert(
            "refreshWindows".into(),
            windows_value(form.get("refreshWindows").unwrap_or_default()),
        );
        if let Some(zone) = form.get("timeZone").map(str::trim).filter(|z| !z.is_empty()) {
            input.insert("timeZone".into(), Value::String(zone.to_string()));
        }
    }
    match sources::update_dataset(&state, &scope, &caller, id, &Fields::from_map(input)).await {
        Ok(_) => Ok(done(&format!("/admin/datasets/{id}"), "saved")),
        Err(e) => render_show(&state, &caller, &scope, id, Flash::error(e.message), e.status).await,
    }
}

fn history_table(history: &[vitrine_store::DatasetRefresh]) -> Markup {
    html! {
        h3 { "Refresh history" }
        @if history.is_empty() { p.muted { "No refresh yet." } } @else {
            table {
                thead { tr { th { "Started" } th { "Finished" } th { "Why" } th.num { "Rows" } th.num { "Version" } th { "Outcome" } } }
                tbody {
                    @for refresh in history {
                        tr {
                            td { (date(refresh.started_at)) }
                            td { @if let Some(at) = refresh.finished_at { (date(at)) } @else { "running" } }
                            td { (match refresh.trigger { RefreshTrigger::Created => "first import", RefreshTrigger::Manual => "asked", RefreshTrigger::Schedule => "schedule" }) }
                            td.num { (refresh.row_count.map(|r| r.to_string()).unwrap_or_default()) }
                            td.num { (refresh.version.map(|v| v.to_string()).unwrap_or_default()) }
                            td {
                                @if let Some(error) = &refresh.error { span.error { "failed: " (error) } }
                                @else if refresh.finished_at.is_some() { "ok" }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `POST /admin/datasets/{id}/data`: new data for a file dataset.
pub async fn replace_data(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Path(id): Path<String>,
    form: Multipart,
) -> PortalResult {
    let scope = content_scope(&caller)?;
    let id: DatasetId = parse_id(&id, "dataset").on_page(&caller)?;
    let result = async {
        let (csrf, upload) = crate::api::read_portal_upload(&state, form).await?;
        caller.check_csrf(csrf.as_deref())?;
        let file = upload.file.ok_or_else(|| ApiError::invalid("file", "is required"))?;
        datasets::replace_data(&state, &scope, &caller, id, file).await
    }
    .await;
    match result {
        Ok(_) => Ok(done(&format!("/admin/datasets/{id}"), "replaced")),
        Err(e) if e.code == ErrorCode::CsrfRejected => Err(e).on_page(&caller),
        Err(e) => render_show(&state, &caller, &scope, id, Flash::error(e.message), e.status).await,
    }
}

/// `POST /admin/datasets/{id}/refresh`: starts an import.
pub async fn refresh(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Path(id): Path<String>,
    form: FormData,
) -> PortalResult {
    form.check_csrf(&caller)?;
    let scope = content_scope(&caller)?;
    let id: DatasetId = parse_id(&id, "dataset").on_page(&caller)?;
    let dataset = state.store.get_dataset(scope.org_id(), id).await.on_page(&caller)?;
    let actor = caller.actor(state.clock.now());
    match sources::start_refresh(&state, &dataset, RefreshTrigger::Manual, actor) {
        Ok(()) => Ok(done(&format!("/admin/datasets/{id}"), "refreshing")),
        Err(e) => render_show(&state, &caller, &scope, id, Flash::error(e.message), e.status).await,
    }
}

pub async fn delete(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Path(id): Path<String>,
    form: FormData,
) -> PortalResult {
    form.check_csrf(&caller)?;
    let scope = content_scope(&caller)?;
    let id: DatasetId = parse_id(&id, "dataset").on_page(&caller)?;
    datasets::delete(&state, &scope, &caller, id).await.on_page(&caller)?;
    Ok(done("/admin/datasets", "deleted"))
}
