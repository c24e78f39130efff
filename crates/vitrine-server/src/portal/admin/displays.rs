//! Admin Portal › Displays: the screens paired by a code, how each is (online, offline since,
//! what it said last, its browser), pairing a new one, and unpairing.

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use maud::html;
use serde_json::{Value, json};
use vitrine_core::Fields;

use super::{DoneQuery, admin_scope, done, flash_of};
use crate::app::AppState;
use crate::auth::PortalCaller;
use crate::portal::layout::{Section, csrf_field, date, flash, page};
use crate::portal::{FormData, OnPage, PortalResult};
use crate::services::{displays, parse_id};

pub async fn list(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    query: DoneQuery,
) -> PortalResult {
    let scope = admin_scope(&caller)?;
    let all = state.store.list_displays(scope.org_id()).await.on_page(&caller)?;
    let reports = state.store.list_reports(scope.org_id()).await.on_page(&caller)?;
    let groups = state.store.list_groups(scope.org_id()).await.on_page(&caller)?;
    let report_name = |id: &str| {
        reports
            .iter()
            .find(|r| r.id.to_string() == id)
            .map_or("a deleted report", |r| r.name.as_str())
    };
    let shows = |show: &Value| -> String {
        if let Some(id) = show.get("report").and_then(Value::as_str) {
            return report_name(id).to_string();
        }
        let items = show.get("playlist").and_then(Value::as_array).cloned().unwrap_or_default();
        let names: Vec<String> = items
            .iter()
            .map(|item| {
                let id = item.get("report").and_then(Value::as_str).unwrap_or_default();
                format!(
                    "{} ({} s)",
                    report_name(id),
                    item.get("seconds").and_then(Value::as_i64).unwrap_or(0)
                )
            })
            .collect();
        format!("Playlist: {}", names.join(", "))
    };
    let now = state.clock.now();
    let body = html! {
        div.page-head {
            h1 { "Displays" }
            p.muted { "A TV or wallboard opens " code { "/display" } " on this Vitrine and shows a large code. Enter it here: the screen shows its report by itself, with a credential of its own that no session timeout ends. Unpairing blanks it within a second." }
        }
        (flash(&flash_of(&query)))
        section.card {
            h2 { "Pair a screen" }
            form.grid method="post" action="/admin/displays/pair" {
                (csrf_field(&caller))
                label { "Code on the screen" input type="text" name="code" required autocomplete="off" maxlength="20"; }
                label { "Name" input type="text" name="name" required maxlength="200" placeholder="Dock 3 TV"; }
                label { "Report" select name="report" required {
                    @for report in &reports { option value=(report.id) { (report.name) } }
                } }
                label { "Next page every (seconds, empty: stay on the first)" input type="number" name="pageSeconds" min="10" max="86400"; }
                fieldset.wide {
                    legend { "Groups (row-level-security roles, capacity.keepOn)" }
                    @for group in &groups {
                        label.check { input type="checkbox" name="groups" value=(group.id); (group.name) }
                    }
                }
                div.form-actions { button.primary type="submit" { "Pair" } }
            }
            p.muted { "A playlist of several reports is set with " code { "PATCH /api/v1/displays/{id}" } " (docs/api.md)." }
        }
        section.card {
            @if all.is_empty() { p.muted { "No screen is paired yet." } } @else {
                table {
                    thead { tr { th { "Display" } th { "Shows" } th { "State" } th { "Last seen" } th { "Browser" } th {} } }
                    tbody {
                        @for display in &all {
                            @let offline = displays::offline_since(display, now);
                            tr data-display=(display.id) {
                                td { (display.name) br; span.muted { "paired " (date(display.paired_at)) " by " (display.paired_by) } }
                                td { (shows(&display.show)) }
                                td {
                                    @if let Some(since) = offline {
                                        strong.danger { "Offline" } " since " (date(since))
                                    } @else {
                                        (display.last_state.as_deref().unwrap_or("connecting"))
                                        // The screen names the report it shows by its id.
                                        @if let Some(detail) = &display.last_detail {
                                            br; span.muted { (reports.iter().find(|r| r.id.to_string() == *detail).map_or(detail.as_str(), |r| r.name.as_str())) }
                                        }
                                    }
                                }
                                td { @if let Some(seen) = display.last_seen_at { (date(seen)) } @else { "never" } }
                                td.muted { (display.user_agent.as_deref().unwrap_or("—")) }
                                td.actions {
                                    details.change {
                                        summary.button.small { "Change" }
                                        form method="post" action=(format!("/admin/displays/{}", display.id)) {
                                            (csrf_field(&caller))
                                            label { "Name" input type="text" name="name" value=(display.name) required maxlength="200"; }
                                            @let current = display.show.get("report").and_then(Value::as_str).unwrap_or_default();
                                            label { "Report" select name="report" required {
                                                @for report in &reports {
                                                    @let id = report.id.to_string();
                                                    option value=(id) selected[id == current] { (report.name) }
                                                }
                                            } }
                                            label { "Next page every (seconds)" input type="number" name="pageSeconds" min="10" max="86400" value=[display.show.get("pageSeconds").and_then(Value::as_i64)]; }
                                            button.primary.small type="submit" { "Save" }
                                        }
                                    }
                                    form.inline method="post" action=(format!("/admin/displays/{}/unpair", display.id)) {
                                        (csrf_field(&caller))
                                        button.small.danger type="submit" { "Unpair" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page(Some(&caller), "Displays", Some(Section::Displays), body).into_response())
}

/// What the form says to show: a report, its pages in turn every `pageSeconds`.
fn show_of(form: &FormData) -> Value {
    let mut show = json!({ "report": form.get("report").unwrap_or_default() });
    if let Some(every) = form.get("pageSeconds").map(str::trim).filter(|v| !v.is_empty()) {
        show["pageSeconds"] = every.parse::<i64>().map_or_else(|_| Value::from(every), Value::from);
    }
    show
}

fn fields(value: Value) -> Fields {
    Fields::from_map(value.as_object().cloned().unwrap_or_default())
}

pub async fn pair(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    form: FormData,
) -> PortalResult {
    form.check_csrf(&caller)?;
    let scope = admin_scope(&caller)?;
    let input = fields(json!({
        "code": form.get("code").unwrap_or_default(),
        "name": form.get("name").unwrap_or_default(),
        "show": show_of(&form),
        "groups": form.all("groups"),
    }));
    displays::pair(&state, &scope, &caller, &input).await.on_page(&caller)?;
    Ok(done("/admin/displays", "created"))
}

/// Renames a display or changes what it shows; its screen follows within seconds.
pub async fn update(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Path(id): Path<String>,
    form: FormData,
) -> PortalResult {
    form.check_csrf(&caller)?;
    let scope = admin_scope(&caller)?;
    let id = parse_id(&id, "display").on_page(&caller)?;
    let input =
        fields(json!({ "name": form.get("name").unwrap_or_default(), "show": show_of(&form) }));
    displays::update(&state, &scope, &caller, id, &input).await.on_page(&caller)?;
    Ok(done("/admin/displays", "saved"))
}

pub async fn unpair(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Path(id): Path<String>,
    form: FormData,
) -> PortalResult {
    form.check_csrf(&caller)?;
    let scope = admin_scope(&caller)?;
    let id = parse_id(&id, "display").on_page(&caller)?;
    displays::unpair(&state, &scope, &caller, id).await.on_page(&caller)?;
    Ok(done("/admin/displays", "deleted"))
}
