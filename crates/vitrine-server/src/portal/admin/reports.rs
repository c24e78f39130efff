//! Admin Portal › Reports: metadata and who may open each report.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use maud::html;
use vitrine_core::{ContentScope, DatasetId, ReportId};
use vitrine_store::Grantee;

use super::{DoneQuery, content_scope, done, flash_of};
use crate::app::AppState;
use crate::auth::{Caller, PortalCaller};
use crate::error::ApiError;
use crate::portal::layout::{Flash, Section, action_button, csrf_field, date, flash, page};
use crate::portal::{FormData, OnPage, PortalError, PortalResult};
use crate::services::{self, parse_id};

pub async fn list(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    query: DoneQuery,
) -> PortalResult {
    let scope = content_scope(&caller)?;
    let chosen = query.get("dataset").cloned();
    render_list(&state, &caller, &scope, flash_of(&query), StatusCode::OK, chosen).await
}

async fn render_list(
    state: &AppState,
    caller: &Caller,
    scope: &ContentScope,
    notice: Flash,
    status: StatusCode,
    chosen_dataset: Option<String>,
) -> PortalResult {
    let reports = state.store.list_reports(scope.org_id()).await.on_page(caller)?;
    let datasets = state.store.list_datasets(scope.org_id()).await.on_page(caller)?;
    let chosen = chosen_dataset.as_deref().unwrap_or_default();
    // Administrators also see where each report runs (capacities cost money).
    let capacities = if caller.principal.admin().is_ok() {
        Some(state.store.list_capacities(scope.org_id()).await.on_page(caller)?)
    } else {
        None
    };
    let body = html! {
        div.page-head { h1 { "Reports" } p.muted { "Every report of your organization, and who may open it." } }
        (flash(&notice))
        section.card {
            @if reports.is_empty() { p.muted { "No reports yet." } } @else {
                table {
                    thead { tr { th { "Name" } th { "Description" } @if capacities.is_some() { th { "Runs on" } } th { "Updated" } } }
                    tbody {
                        @for report in &reports {
                            tr {
                                td { a href={ "/admin/reports/" (report.id) } { (report.name) } }
                                td.muted { (report.description) }
                                @if let Some(capacities) = &capacities {
                                    td {
                                        @match capacities.iter().find(|c| Some(c.id) == report.capacity_id) {
                                            Some(capacity) => {
                                                a href={ "/admin/capacities/" (capacity.id) } { (capacity.name) }
                                                " " (super::capacities::state_badge(capacity.state))
                                            }
                                            None => span.muted { "always on" },
                                        }
                                    }
                                }
                                td { (date(report.updated_at)) }
                            }
                        }
                    }
                }
            }
        }
        section.card #add-report {
            h2 { "Add a report" }
            form.grid-form method="post" action="/admin/reports" {
                (csrf_field(caller))
                label { "Name" input type="text" name="name" required; }
                label.wide { "Description" input type="text" name="description" placeholder="Optional"; }
                label { "Start from dataset"
                    select name="dataset" {
                        option value="" { "Choose in the editor" }
                        @for dataset in &datasets {
                            option value=(dataset.id) selected[dataset.id.to_string() == chosen] { (dataset.name) }
                        }
                    }
                }
                div.form-actions { button.primary type="submit" { "Add report" } }
            }
        }
    };
    Ok((status, page(Some(caller), "Reports", Some(Section::Reports), body)).into_response())
}

pub async fn create(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    form: FormData,
) -> PortalResult {
    form.check_csrf(&caller)?;
    let scope = content_scope(&caller)?;
    let input = form.to_fields(&["name", "description"], &[], &[]);
    // A dataset to start from opens the editor with a first page on it; one that is not a
    // dataset id is left for the editor to choose.
    let dataset = form.get("dataset").and_then(|raw| raw.parse::<DatasetId>().ok());
    match services::reports::create(&state, &scope, &caller, &input).await {
        Ok(report) => match dataset {
            Some(dataset) => Ok(Redirect::to(&format!(
                "/admin/reports/{}/definition?dataset={dataset}&done=created",
                report.id
            ))
            .into_response()),
            None => Ok(done(&format!("/admin/reports/{}", report.id), "created")),
        },
        Err(e) => {
            let chosen = dataset.map(|d| d.to_string());
            render_list(&state, &caller, &scope, Flash::error(e.message), e.status, chosen).await
        }
    }
}

pub async fn show(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Path(id): Path<String>,
    query: DoneQuery,
) -> PortalResult {
    let scope = content_scope(&caller)?;
    let id = report_id(&caller, &id)?;
    render_detail(&state, &caller, &scope, id, flash_of(&query), StatusCode::OK).await
}

async fn render_detail(
    state: &AppState,
    caller: &Caller,
    scope: &ContentScope,
    id: ReportId,
    notice: Flash,
    status: StatusCode,
) -> PortalResult {
    let org = scope.org_id();
    let report = state.store.get_report(org, id).await.on_page(caller)?;
    let access = state.store.report_access(org, id).await.on_page(caller)?;
    let users = state.store.list_users(org).await.on_page(caller)?;
    let groups = state.store.list_groups(org).await.on_page(caller)?;
    // Placing reports on capacities is for administrators: capacities cost money.
    let capacities = if caller.principal.admin().is_ok() {
        Some(state.store.list_capacities(org).await.on_page(caller)?)
    } else {
        None
    };
    let base = format!("/admin/reports/{id}");
    let body = html! {
        nav.crumbs { a href="/admin/reports" { "Reports" } " / " (report.name) }
        div.page-head {
            h1 { (report.name) }
            p {
                a href={ "/reports/" (id) } { "Open in the Reports Portal →" } " · "
                a href={ "/admin/reports/" (id) "/definition" } {
                    @if report.definition.is_some() { "Edit pages and visuals" } @else { "Define pages and visuals" }
                }
            }
        }
        (flash(&notice))
        section.card {
            h2 { "Who may open this report" }
            p.muted { "Administrators and contributors may open every report. Viewers need a grant, to them or to one of their groups." }
            div.two-col {
                div {
                    h3 { "Groups" }
                    @if access.groups.is_empty() { p.muted { "No group." } }
                    ul.grants {
                        @for group in &access.groups {
                            li {
                                span {
                                    a href={ "/admin/groups/" (group.id) } { (group.name) }
                                    span.muted { " · " (group.member_count) @if group.member_count == 1 { " member" } @else { " members" } }
                                }
                                (revoke_button(caller, &base, &format!("group:{}", group.id)))
                            }
                        }
                    }
                }
                div {
                    h3 { "Users" }
                    @if access.users.is_empty() { p.muted { "No individual user." } }
                    ul.grants {
                        @for user in &access.users {
                            li {
                                span { (user.name) span.muted { " <" (user.email) ">" } }
                                (revoke_button(caller, &base, &format!("user:{}", user.id)))
                            }
                        }
                    }
                }
            }
            form.inline-form method="post" action={ (base) "/access" } {
                (csrf_field(caller))
                label { "Grant to"
                    select name="grantee" {
                        optgroup label="Groups" {
                            @for group in groups.iter().filter(|g| !access.groups.iter().any(|a| a.id == g.id)) {
                                option value={ "group:" (group.id) } { (group.name) }
                            }
                        }
                        optgroup label="Users" {
                            @for user in users.iter().filter(|u| !access.users.iter().any(|a| a.id == u.id)) {
                                option value={ "user:" (user.id) } { (user.name) " <" (user.email) ">" }
                            }
                        }
                    }
                }
                button.primary type="submit" { "Grant access" }
            }
        }
        section.card {
            h2 { "Details" }
            form.grid-form method="post" action=(base) {
                (csrf_field(caller))
                label { "Name" input type="text" name="name" value=(report.name) required; }
                label.wide { "Description" input type="text" name="description" value=(report.description); }
                @if let Some(capacities) = &capacities {
                    label {
                        "Runs on"
                        select name="capacityId" {
                            option value="" selected[report.capacity_id.is_none()] { "No capacity (always on)" }
                            @for capacity in capacities {
                                option value=(capacity.id) selected[report.capacity_id == Some(capacity.id)] {
                                    (capacity.name) " (" (super::capacities::mode_label(capacity.mode)) ")"
                                }
                            }
                        }
                    }
                    p.help.wide {
                        "The capacity the report's queries run on. While it is paused, the report waits; see "
                        a href="/admin/capacities" { "Capacity" } "."
                    }
                }
                div.form-actions { button type="submit" { "Save" } }
            }
        }
        section.card.danger-zone {
            h2 { "Delete report" }
            p.muted { "Everyone loses access at once." }
            (action_button(caller, &format!("{base}/delete"), "Delete report", "danger"))
        }
    };
    Ok((status, page(Some(caller), &report.name, Some(Section::Reports), body)).into_response())
}

fn revoke_button(caller: &Caller, base: &str, grantee: &str) -> maud::Markup {
    html! {
        form.inline method="post" action={ (base) "/access/remove" } {
            (csrf_field(caller))
            input type="hidden" name="grantee" value=(grantee);
            button.small type="submit" { "Remove" }
        }
    }
}

fn report_id(caller: &Caller, raw: &str) -> Result<ReportId, PortalError> {
    parse_id(raw, "report").on_page(caller)
}

/// `user:<id>` or `group:<id>`.
fn grantee(raw: Option<&str>) -> Result<Grantee, ApiError> {
    let invalid = || ApiError::invalid("grantee", "choose a user or a group");
    let (kind, id) = raw.and_then(|r| r.split_once(':')).ok_or_else(invalid)?;
    match kind {
        "user" => Ok(Grantee::User(id.parse().map_err(|_| invalid())?)),
        "group" => Ok(Grantee::Group(id.parse().map_err(|_| invalid())?)),
        _ => Err(invalid()),
    }
}

pub async fn update(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Path(id): Path<String>,
    form: FormData,
) -> PortalResult {
    form.check_csrf(&caller)?;
    let scope = content_scope(&caller)?;
    let id = report_id(&caller, &id)?;
    let mut input = form.to_fields(&["name", "description"], &[], &[]).into_value();
    if let (Some(raw), Some(map)) = (form.get("capacityId"), input.as_object_mut()) {
        let capacity = if raw.is_empty() { serde_json::Value::Null } else { raw.into() };
        map.insert("capacityId".into(), capacity);
    }
    let input = vitrine_core::Fields::from_value(input).on_page(&caller)?;
    match services::reports::update(&state, &scope, &caller, id, &input).await {
        Ok(_) => Ok(done(&format!("/admin/reports/{id}"), "saved")),
        Err(e) => {
            render_detail(&state, &caller, &scope, id, Flash::error(e.message), e.status).await
        }
    }
}

async fn set_access(
    state: AppState,
    caller: Caller,
    id: String,
    form: FormData,
    granted: bool,
) -> PortalResult {
    form.check_csrf(&caller)?;
    let scope = content_scope(&caller)?;
    let id = report_id(&caller, &id)?;
    let result = match grantee(form.get("grantee")) {
        Ok(grantee) => {
            services::reports::set_access(&state, &scope, &caller, id, grantee, granted).await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => {
            Ok(done(&format!("/admin/reports/{id}"), if granted { "granted" } else { "revoked" }))
        }
        Err(e) => {
            render_detail(&state, &caller, &scope, id, Flash::error(e.message), e.status).await
        }
    }
}

pub async fn grant(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Path(id): Path<String>,
    form: FormData,
) -> PortalResult {
    set_access(state, caller, id, form, true).await
}

pub async fn revoke(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Path(id): Path<String>,
    form: FormData,
) -> PortalResult {
    set_access(state, caller, id, form, false).await
}

pub async fn delete(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Path(id): Path<String>,
    form: FormData,
) -> PortalResult {
    form.check_csrf(&caller)?;
    let scope = content_scope(&caller)?;
    let id = report_id(&caller, &id)?;
    services::reports::delete(&state, &scope, &caller, id).await.on_page(&caller)?;
    Ok(done("/admin/reports", "deleted"))
}

/// A starting point for a new definition on `dataset`: a slicer and a bar by its first text
/// column, a card summing its first number (decimal before integer), and a line by month
/// when it has a date. Placeholders stand where it lacks a kind.
fn template(dataset: Option<&vitrine_store::Dataset>) -> serde_json::Value {
    let dataset_id = dataset.map(|d| d.id.to_string()).unwrap_or_else(|| "<dataset id>".into());
    let columns = dataset.and_then(|d| d.columns.as_array()).map(Vec::as_slice).unwrap_or_default();
    let column = |kinds: &[&str]| {
        kinds
            .iter()
            .find_map(|kind| columns.iter().find(|c| c["kind"] == *kind))
            .and_then(|c| c["name"].as_str())
            .map(str::to_string)
    };
    let placeholder = || "<column>".to_string();
    let text = column(&["text"]).unwrap_or_else(placeholder);
    let number = column(&["decimal", "integer"]).unwrap_or_else(placeholder);
    let sum = serde_json::json!([{ "column": number, "agg": "sum" }]);
    // "Amount by region": column names are often lower case.
    let by = |what: &str| -> String {
        let title = format!("{number} by {what}");
        let mut chars = title.chars();
        chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
    };
    let mut visuals = vec![
        serde_json::json!({ "id": "total", "type": "card", "title": format!("Total {number}"), "measures": sum }),
        serde_json::json!({ "id": "by-group", "type": "bar", "title": by(&text),
            "dimension": { "column": text }, "measures": sum }),
    ];
    if let Some(date) = column(&["date", "timestamp"]) {
        visuals.push(serde_json::json!({ "id": "trend", "type": "line", "title": by("month"),
            "dimension": { "column": date, "grain": "month" }, "measures": sum }));
    }
    serde_json::json!({
        "dataset": dataset_id,
        "pages": [{ "id": "overview", "title": "Overview", "slicers": [{ "column": text }], "visuals": visuals }]
    })
}

/// The dataset a new definition starts from: the one the address names, else the newest.
fn starting_dataset<'a>(
    datasets: &'a [vitrine_store::Dataset],
    named: Option<&str>,
) -> Option<&'a vitrine_store::Dataset> {
    named
        .and_then(|id| datasets.iter().find(|d| d.id.to_string() == id))
        .or_else(|| datasets.iter().max_by_key(|d| d.created_at))
}

/// Runs every visual of a definition as the editor sees it: a few rows each.
async fn preview(
    state: &AppState,
    caller: &Caller,
    org: vitrine_core::OrgId,
    definition: &vitrine_engine::ReportDefinition,
) -> maud::Markup {
    let identity = match &caller.user {
        Some(user) => crate::services::rls::identity_of(state, org, user).await.ok(),
        None => None,
    };
    let Some(identity) = identity else { return html! {} };
    let mut sections = Vec::new();
    for page in &definition.pages {
        let mut visuals = Vec::new();
        for visual in &page.visuals {
            let request = vitrine_engine::QueryRequest {
                page: page.id.clone(),
                visual: Some(visual.id.clone()),
                slicer: None,
                filters: Vec::new(),
            };
            let result = state.engine.query(definition, &request, &identity).await;
            visuals.push((visual.title.clone(), result));
        }
        sections.push((page.title.clone(), visuals));
    }
    html! {
        section.card {
            h2 { "Preview" }
            p.muted { "The first rows of every visual, as you would see them (with your own row-level security)." }
            @for (page_title, visuals) in &sections {
                h3 { (page_title) }
                div.preview-grid {
                    @for (title, result) in visuals {
                        div.preview {
                            strong { (title) }
                            @match result {
                                Ok(result) => {
                                    table {
                                        thead { tr { @for column in &result.columns { th { (column.label) } } } }
                                        tbody { @for row in result.rows.iter().take(5) { tr { @for cell in row { td { (cell_text(cell)) } } } } }
                                    }
                                }
                                Err(error) => { p.flash.error { (error.to_string()) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A preview cell as a person reads it: numbers with their thousands grouped and at most two
/// decimals ("139,925", "34,997.5"), text as it is, nothing as a dash.
fn cell_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Null => "—".into(),
        serde_json::Value::Number(number) => {
            if let Some(whole) = number.as_i64() {
                grouped(&whole.unsigned_abs().to_string(), "", whole < 0)
            } else if let Some(whole) = number.as_u64() {
                grouped(&whole.to_string(), "", false)
            } else if let Some(value) = number.as_f64().filter(|v| v.is_finite()) {
                let fixed = format!("{:.2}", value.abs());
                let (whole, decimals) = fixed.split_once('.').unwrap_or((fixed.as_str(), ""));
                let decimals = decimals.trim_end_matches('0');
                let negative = value < 0.0 && (whole != "0" || !decimals.is_empty());
                grouped(whole, decimals, negative)
            } else {
                number.to_string()
            }
        }
        other => other.to_string(),
    }
}

/// `digits` with a comma between each group of three, then `decimals` after a point if any.
fn grouped(digits: &str, decimals: &str, negative: bool) -> String {
    let mut text = String::from(if negative { "-" } else { "" });
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            text.push(',');
        }
        text.push(digit);
    }
    if !decimals.is_empty() {
        text.push('.');
        text.push_str(decimals);
    }
    text
}

/// What the editor shows besides the saved report: the text being edited, a notice, and a
/// checked definition to preview.
struct Editing {
    text: Option<String>,
    /// The dataset a report without a definition starts from (`?dataset=`).
    start_from: Option<String>,
    notice: Flash,
    preview: Option<vitrine_engine::ReportDefinition>,
    status: StatusCode,
}

async fn render_definition(
    state: &AppState,
    caller: &Caller,
    scope: &ContentScope,
    id: ReportId,
    editing: Editing,
) -> PortalResult {
    let Editing { text, start_from, notice, preview: preview_of, status } = editing;
    let org = scope.org_id();
    let report = state.store.get_report(org, id).await.on_page(caller)?;
    let datasets = state.store.list_datasets(org).await.on_page(caller)?;
    let text = text.unwrap_or_else(|| {
        let value = report
            .definition
            .clone()
            .unwrap_or_else(|| template(starting_dataset(&datasets, start_from.as_deref())));
        serde_json::to_string_pretty(&value).unwrap_or_default()
    });
    let preview = match &preview_of {
        Some(definition) => preview(state, caller, org, definition).await,
        None => html! {},
    };
    let base = format!("/admin/reports/{id}/definition");
    let body = html! {
        nav.crumbs { a href="/admin/reports" { "Reports" } " / " a href={ "/admin/reports/" (id) } { (report.name) } " / Pages and visuals" }
        div.page-head { h1 { "Pages and visuals" } p.muted { "The report as JSON: pages of visuals (card, bar, line, donut, table) over one dataset, slicers, and row-level-security roles." } }
        (flash(&notice))
        form method="post" action=(base) {
            (csrf_field(caller))
            section.card {
                textarea.code name="definition" rows="28" spellcheck="false" { (text) }
                div.form-actions {
                    button type="submit" name="action" value="check" { "Check and preview" }
                    button.primary type="submit" name="action" value="save" { "Save" }
                }
            }
        }
        (preview)
        section.card {
            h2 { "Reference" }
            p { "Visual " code { "type" } ": card, bar, line, donut, table. Measure " code { "agg" } ": sum, count, avg, min, max, countDistinct. "
                "A dimension may group a date column by " code { "grain" } ": day, week, month, quarter, year. "
                "A role's filters keep the rows whose " code { "column" } " equals the user's " code { "attribute" } " (or " code { "username" } ")." }
            @for dataset in &datasets {
                p { strong { (dataset.name) } " — id " code { (dataset.id) } ": "
                    @for (index, column) in dataset.columns.as_array().cloned().unwrap_or_default().iter().enumerate() {
                        @if index > 0 { ", " }
                        code { (column["name"].as_str().unwrap_or_default()) } span.muted { " (" (column["kind"].as_str().unwrap_or_default()) ")" }
                    }
                }
            }
        }
    };
    Ok((status, page(Some(caller), "Pages and visuals", Some(Section::Reports), body))
        .into_response())
}

/// `GET /admin/reports/{id}/definition`: the editor.
pub async fn definition(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Path(id): Path<String>,
    query: DoneQuery,
) -> PortalResult {
    let scope = content_scope(&caller)?;
    let id = report_id(&caller, &id)?;
    let editing = Editing {
        text: None,
        start_from: query.get("dataset").cloned(),
        notice: flash_of(&query),
        preview: None,
        status: StatusCode::OK,
    };
    render_definition(&state, &caller, &scope, id, editing).await
}

/// `POST /admin/reports/{id}/definition`: check (and preview) or save.
pub async fn save_definition(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Path(id): Path<String>,
    form: FormData,
) -> PortalResult {
    form.check_csrf(&caller)?;
    let scope = content_scope(&caller)?;
    let id = report_id(&caller, &id)?;
    let text = form.get("definition").unwrap_or_default().to_string();
    let saving = form.get("action") == Some("save");
    let parsed = vitrine_core::input::parse_json(text.as_bytes()).map_err(|e| {
        crate::error::ApiError::invalid("definition", format!("is not valid JSON ({e})"))
    });
    let result = match parsed {
        Ok(value) if saving => {
            services::definitions::save(&state, &scope, &caller, id, value).await.map(|_| None)
        }
        Ok(value) => services::definitions::check(&state, scope.org_id(), value).await.map(Some),
        Err(e) => Err(e),
    };
    match result {
        Ok(None) => Ok(done(&format!("/admin/reports/{id}/definition"), "saved")),
        Ok(Some(definition)) => {
            let notice = Flash {
                notice: Some("The definition is valid. Save it to publish.".into()),
                error: None,
            };
            let editing = Editing {
                text: Some(text),
                start_from: None,
                notice,
                preview: Some(definition),
                status: StatusCode::OK,
            };
            render_definition(&state, &caller, &scope, id, editing).await
        }
        Err(e) => {
            let editing = Editing {
                text: Some(text),
                start_from: None,
                notice: Flash::error(e.message),
                preview: None,
                status: e.status,
            };
            render_definition(&state, &caller, &scope, id, editing).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};
    use serde_json::json;
    use vitrine_core::OrgId;

    fn dataset(name: &str, columns: serde_json::Value, age_days: i64) -> vitrine_store::Dataset {
        let at = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap() - Duration::days(age_days);
        vitrine_store::Dataset {
            id: DatasetId::generate(),
            org_id: OrgId::generate(),
            name: name.into(),
            format: "parquet".into(),
            location: String::new(),
            columns,
            row_count: 0,
            created_at: at,
            version: 1,
            updated_at: at,
            source: None,
        }
    }

    #[test]
    fn a_new_definition_sums_the_first_number_by_the_first_text_and_by_month_when_there_is_a_date()
    {
        let columns = json!([
            { "name": "units", "kind": "integer" }, { "name": "shop", "kind": "text" },
            { "name": "price", "kind": "decimal" }, { "name": "sold", "kind": "timestamp" },
        ]);
        let orders = dataset("Orders", columns, 0);
        let draft = template(Some(&orders));
        assert_eq!(draft["dataset"], orders.id.to_string());
        let visuals = &draft["pages"][0]["visuals"];
        assert_eq!(visuals[0]["measures"][0]["column"], "price", "a decimal before an integer");
        assert_eq!(visuals[1]["dimension"]["column"], "shop");
        assert_eq!(visuals[1]["title"], "Price by shop", "a title starts with a capital");
        assert_eq!(visuals[2]["dimension"], json!({ "column": "sold", "grain": "month" }));
        assert_eq!(draft["pages"][0]["slicers"][0]["column"], "shop");

        let counts = dataset("Counts", json!([{ "name": "visits", "kind": "integer" }]), 0);
        let draft = template(Some(&counts));
        let visuals = draft["pages"][0]["visuals"].as_array().unwrap();
        assert_eq!(visuals[0]["measures"][0]["column"], "visits", "an integer when no decimal");
        assert_eq!(visuals[1]["dimension"]["column"], "<column>", "a placeholder for no text");
        assert_eq!(visuals.len(), 2, "no trend without a date");
    }

    #[test]
    fn preview_cells_group_thousands_keep_two_decimals_at_most_and_show_nothing_as_a_dash() {
        let cases = [
            (json!(139925.0), "139,925"),
            (json!(34997.5), "34,997.5"),
            (json!(-1234567), "-1,234,567"),
            (json!(0.126), "0.13"),
            (json!(-2.5), "-2.5"),
            (json!(-0.001), "0"),
            (json!(999), "999"),
            (json!(1000), "1,000"),
            (json!(u64::MAX), "18,446,744,073,709,551,615"),
            (json!("2026-01-01"), "2026-01-01"),
            (json!(null), "—"),
            (json!(true), "true"),
        ];
        for (value, shown) in cases {
            assert_eq!(cell_text(&value), shown, "{value}");
        }
    }

    #[test]
    fn a_new_definition_starts_on_the_dataset_named_else_on_the_newest() {
        let older = dataset("Alpha", json!([]), 3);
        let newer = dataset("Beta", json!([]), 1);
        let datasets = [older.clone(), newer.clone()];
        let named = older.id.to_string();
        assert_eq!(starting_dataset(&datasets, Some(&named)).unwrap().id, older.id);
        assert_eq!(starting_dataset(&datasets, None).unwrap().id, newer.id);
        assert_eq!(starting_dataset(&datasets, Some("not-an-id")).unwrap().id, newer.id);
        assert!(starting_dataset(&[], None).is_none());
    }
}
