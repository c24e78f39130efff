//! Admin Portal › Capacity: each capacity's state and switches, its mode and schedule, who is
//! keeping it on, its hours and savings this month, and its timeline.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{Datelike, Duration, TimeZone, Utc};
use maud::{Markup, html};
use serde_json::{Map, Value, json};
use vitrine_core::capacity::{self, CapacityMode, CapacityState};
use vitrine_core::{AdminScope, CapacityId, Fields};
use vitrine_store::CapacityEvent;

use super::{DoneQuery, admin_scope, done, flash_of, windows_text, windows_value};
use crate::app::AppState;
use crate::auth::{Caller, PortalCaller};
use crate::portal::layout::{Flash, Section, action_button, csrf_field, date, flash, page};
use crate::portal::{FormData, OnPage, PortalResult};
use crate::services::{capacities, parse_id};

pub(super) fn state_badge(state: CapacityState) -> Markup {
    let class = match state {
        CapacityState::Running => "badge ok",
        CapacityState::Paused => "badge",
        CapacityState::Failed => "badge danger",
        CapacityState::Resuming | CapacityState::Pausing => "badge warn",
    };
    html! { span class=(class) { (state.as_str()) } }
}

/// The timeline in the product's words.
fn event_label(event: &CapacityEvent) -> String {
    let by = |verb: &str| match event.reason.as_str() {
        "manual" => format!("{verb} manually"),
        "demand" => format!("{verb} by demand"),
        "schedule" => format!("{verb} by schedule"),
        "inactivity" => format!("{verb} by inactivity"),
        "restart" => format!("{verb} after a restart"),
        "keeper returned" => format!("{verb}: a screen that keeps it on came back"),
        other => format!("{verb} ({other})"),
    };
    match event.state {
        CapacityState::Running => by("Started"),
        CapacityState::Resuming => by("Starting"),
        CapacityState::Paused => by("Paused"),
        CapacityState::Pausing => by("Pausing"),
        CapacityState::Failed => "Failed".to_string(),
    }
}

pub async fn list(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    query: DoneQuery,
) -> PortalResult {
    let scope = admin_scope(&caller)?;
    render_list(&state, &caller, &scope, flash_of(&query), StatusCode::OK).await
}

async fn render_list(
    state: &AppState,
    caller: &Caller,
    scope: &AdminScope,
    notice: Flash,
    status: StatusCode,
) -> PortalResult {
    let list = state.store.list_capacities(scope.org_id()).await.on_page(caller)?;
    let reports = state.store.list_reports(scope.org_id()).await.on_page(caller)?;
    let runs = |id: CapacityId| reports.iter().filter(|r| r.capacity_id == Some(id)).count();
    let body = html! {
        div.page-head { h1 { "Capacity" } p.muted { "The compute your reports run on. It costs money for every hour it is on, used or not." } }
        (flash(&notice))
        @if list.is_empty() {
            section.card.empty { h2 { "No capacity" } p { "Reports run on the built-in engine, always on. Create a capacity to let it pause when nobody looks." } }
        }
        @for capacity in &list {
            section.card {
                h2 { a href={ "/admin/capacities/" (capacity.id) } { (capacity.name) } " " (state_badge(capacity.state)) }
                p.muted {
                    "Mode: " (mode_label(capacity.mode)) " · pauses after " (capacity.idle_minutes) " idle minutes · " (capacity.provider)
                    " · " (runs(capacity.id)) @if runs(capacity.id) == 1 { " report" } @else { " reports" }
                }
            }
        }
        section.card {
            h2 { "Create a capacity" }
            p.muted {
                "It starts running. Place reports on it under " a href="/admin/reports" { "Reports" }
                " › a report › Runs on (or with " code { "PATCH /api/v1/reports/{id}" } " and " code { "capacityId" } ")."
            }
            form.grid-form method="post" action="/admin/capacities" {
                (csrf_field(caller))
                label { "Name" input type="text" name="name" required; }
                label { "Provider"
                    select name="provider" {
                        option value="local" selected { "local — the built-in engine" }
                        option value="azure" { "azure — a Power BI Embedded or Fabric capacity" }
                        option value="simulated" { "simulated — does nothing, for trying out schedules" }
                    }
                }
                fieldset.azure {
                    legend { "Azure (for provider azure; switched with the Power BI service principal)" }
                    label { "Kind"
                        select name="azureKind" {
                            option value="powerBiEmbedded" { "Power BI Embedded (A SKU)" }
                            option value="fabric" { "Fabric (F SKU)" }
                        }
                    }
                    label { "Subscription ID" input type="text" name="azureSubscriptionId" autocomplete="off"; }
                    label { "Resource group" input type="text" name="azureResourceGroup" autocomplete="off"; }
                    label { "Capacity name in Azure" input type="text" name="azureName" autocomplete="off"; }
                }
                label { "Mode"
                    select name="mode" {
                        @for mode in CapacityMode::ALL { option value=(mode.as_str()) selected[mode == CapacityMode::OnDemand] { (mode_label(mode)) } }
                    }
                }
                label { "Pause after (minutes without activity)" input type="number" name="idleMinutes" value="60" min="1" max="1440" required; }
                label { "Time zone" input type="text" name="timeZone" value="UTC" required; }
                label { "Price per hour" input type="number" name="hourlyPrice" value="0" min="0" step="0.01" required; }
                label.check { input type="checkbox" name="wakeFromViewer" checked; "Users holding capacity.turnOn may start it by opening a report" }
                div.form-actions { button.primary type="submit" { "Create capacity" } }
            }
        }
    };
    Ok((status, page(Some(caller), "Capacity", Some(Section::Capacity), body)).into_response())
}

pub async fn create(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    form: FormData,
) -> PortalResult {
    form.check_csrf(&caller)?;
    let scope = admin_scope(&caller)?;
    let mut input = form_map(&form);
    for name in ["name", "provider"] {
        input.insert(name.into(), json!(form.get(name).unwrap_or_default()));
    }
    if form.get("provider") == Some("azure") {
        let field = |name: &str| form.get(name).unwrap_or_default().trim().to_string();
        input.insert(
            "azure".into(),
            json!({
                "kind": field("azureKind"),
                "subscriptionId": field("azureSubscriptionId"),
                "resourceGroup": field("azureResourceGroup"),
                "name": field("azureName"),
            }),
        );
    }
    match capacities::create(&state, &scope, &caller, &Fields::from_map(input)).await {
        Ok(capacity) => Ok(done(&format!("/admin/capacities/{}", capacity.id), "created")),
        Err(e) => render_list(&state, &caller, &scope, Flash::error(e.message), e.status).await,
    }
}

pub(super) fn mode_label(mode: CapacityMode) -> &'static str {
    match mode {
        CapacityMode::Manual => "manual",
        CapacityMode::OnDemand => "on demand",
        CapacityMode::Schedule => "schedule",
    }
}

async fn render(
    state: &AppState,
    caller: &Caller,
    scope: &AdminScope,
    id: CapacityId,
    notice: Flash,
    status: StatusCode,
) -> PortalResult {
    let capacity = state.store.get_capacity(scope.org_id(), id).await.on_page(caller)?;
    let events = state.store.capacity_events(scope.org_id(), id, 500).await.on_page(caller)?;
    let now = state.clock.now();
    // The month as the capacity's time zone counts it (UTC if the zone cannot be read).
    let month_start = capacity::WeeklySchedule::zone("timeZone", &capacity.time_zone)
        .ok()
        .and_then(|zone| {
            let local = now.with_timezone(&zone);
            let first = chrono::NaiveDate::from_ymd_opt(local.year(), local.month(), 1)?;
            // Where clocks change at midnight, the month begins with the first hour that exists.
            (0..3).find_map(|hour| {
                zone.from_local_datetime(&first.and_hms_opt(hour, 0, 0)?).earliest()
            })
        })
        .map(|start| start.with_timezone(&Utc))
        .or_else(|| Utc.with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0).single())
        .unwrap_or(now);
    let mut changes: Vec<_> = events.iter().map(|e| (e.at, e.state)).collect();
    changes.reverse();
    // The state at the start of the period: the last change before it, or else the state the
    // first change left (a start follows a pause, a pause follows running), or else today's.
    let initial =
        changes.iter().rev().find(|(at, _)| *at <= month_start).map(|(_, s)| *s).unwrap_or_else(
            || match changes.first().map(|(_, s)| *s) {
                Some(CapacityState::Resuming | CapacityState::Running) => CapacityState::Paused,
                Some(_) => CapacityState::Running,
                None => capacity.state,
            },
        );
    let (on, off) = capacity::usage(initial, &changes, month_start.max(capacity.created_at), now);
    let since = now - Duration::minutes(i64::from(capacity.idle_minutes));
    let keepers = state.store.capacity_keepers(scope.org_id(), id, since).await.on_page(caller)?;
    // A keepOn screen whose live channel is blocked is active only at its timed updates: an idle
    // time no longer than the update interval lets the capacity pause between two of them.
    let update_every = state
        .store
        .get_organization(scope.org_id())
        .await
        .on_page(caller)?
        .settings
        .token_update_every_minutes
        .filter(|every| capacity.mode != CapacityMode::Manual && capacity.idle_minutes <= *every);
    let reports: Vec<_> = state
        .store
        .list_reports(scope.org_id())
        .await
        .on_page(caller)?
        .into_iter()
        .filter(|report| report.capacity_id == Some(id))
        .collect();
    let base = format!("/admin/capacities/{id}");
    let body = html! {
        nav.crumbs { a href="/admin/capacities" { "Capacity" } " / " (capacity.name) }
        div.page-head {
            h1 { (capacity.name) " " (state_badge(capacity.state)) }
            p.muted { "Since " (date(capacity.state_since)) " · provider " (capacity.provider) }
            @if let Some(azure) = &capacity.azure {
                p.muted {
                    "Azure: " code { (azure.resource_path()) }
                    " · the state Azure reports is read once a minute; faults and throttling appear in the timeline with the next try."
                }
            }
            p.runs-on {
                @if reports.is_empty() {
                    span.muted { "No report runs on it yet: choose it under Reports › a report › Runs on." }
                } @else {
                    "Runs " (reports.len()) @if reports.len() == 1 { " report: " } @else { " reports: " }
                    @for (i, report) in reports.iter().enumerate() {
                        @if i > 0 { ", " }
                        a href={ "/admin/reports/" (report.id) } { (report.name) }
                    }
                }
            }
        }
        (flash(&notice))
        div.two-col {
            section.card {
                h2 { "Switch" }
                p.muted { "Starting takes a moment; reports on it show “Starting…” meanwhile and appear by themselves." }
                div.form-actions {
                    (action_button(caller, &format!("{base}/resume"), "Start now", "primary"))
                    (action_button(caller, &format!("{base}/pause"), "Pause now", "danger"))
                }
            }
            section.card {
                h2 { "This month" }
                p { strong { (format!("{on:.1}")) } " hours on · " strong { (format!("{off:.1}")) } " hours off" }
                p { "Saved: " strong { (format!("{:.2}", off * capacity.hourly_price)) } span.muted { " at " (capacity.hourly_price) " per hour" } }
            }
        }
        section.card {
            h2 { "Keeping it on right now" }
            @if keepers.is_empty() { p.muted { "Nobody: it pauses after " (capacity.idle_minutes) " minutes without activity (in on-demand mode)." } }
            ul.plain { @for (who, at) in &keepers { li { (who) span.muted { " · active " (date(*at)) } } } }
            p.muted { "Only users holding " code { "capacity.keepOn" } " keep it on: their open reports and their token updates count as activity. Others' activity never resets the idle timer." }
            p.muted { "A screen holding " code { "capacity.keepOn" } " that kept it on during its last run resumes it when that run ended for inactivity (the screen was offline, asleep or restarting), so a wallboard is never stranded. A pause by an administrator or by the schedule stands." }
        }
        section.card {
            h2 { "Mode" }
            form.grid-form method="post" action=(base) {
                (csrf_field(caller))
                label { "Mode"
                    select name="mode" {
                        @for mode in CapacityMode::ALL { option value=(mode.as_str()) selected[mode == capacity.mode] { (mode_label(mode)) } }
                    }
                }
                label { "Pause after (minutes without activity)" input type="number" name="idleMinutes" value=(capacity.idle_minutes) min="1" max="1440" required; }
                label { "Time zone" input type="text" name="timeZone" value=(capacity.time_zone) required; }
                label { "Price per hour" input type="number" name="hourlyPrice" value=(capacity.hourly_price) min="0" step="0.01" required; }
                label.wide { "Weekly schedule (one window per line, e.g. Mon 08:00-18:00)"
                    textarea name="schedule" rows="4" { (windows_text(&capacity.schedule)) } }
                label.check { input type="checkbox" name="wakeFromViewer" checked[capacity.wake_from_viewer]; "Users holding capacity.turnOn may start it by opening a report" }
                div.form-actions { button.primary type="submit" { "Save" } }
            }
            @if let Some(every) = update_every {
                p.help.warning.idle-too-short {
                    strong { "Screens without their live channel pause between timed updates: " }
                    "open reports keep it on through their live channel, but a screen whose channel is blocked (a proxy that cuts event streams) "
                    "counts only at its token updates, every " (every) " minutes (Settings), so it pauses after " (capacity.idle_minutes)
                    " idle minutes between two of them. Set more than " (every) " minutes to keep such screens on too."
                }
            }
            p.help.warning {
                strong { "Note: " }
                "a report left open by a user holding capacity.keepOn keeps an on-demand capacity running, as long as it is open. "
                "To let it pause, grant capacity.keepOn only to the users or screens that must keep it on."
            }
        }
        section.card {
            h2 { "Timeline" }
            @if events.is_empty() { p.muted { "No events yet." } } @else {
                table {
                    thead { tr { th { "When" } th { "Event" } th { "By" } th { "Detail" } } }
                    tbody {
                        @for event in &events {
                            tr {
                                td.nowrap { (date(event.at)) }
                                td { (event_label(event)) }
                                td { (event.actor.as_deref().unwrap_or("—")) }
                                td.muted { (event.detail.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
            }
        }
        section.card.danger-zone {
            h2 { "Delete capacity" }
            p.muted {
                "Deletes the capacity and its timeline. Reports that run on it must first be placed on another capacity, "
                "or on none (Reports › a report › Runs on)."
            }
            (action_button(caller, &format!("{base}/delete"), "Delete capacity", "danger"))
        }
    };
    Ok((status, page(Some(caller), &capacity.name, Some(Section::Capacity), body)).into_response())
}

pub async fn show(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Path(id): Path<String>,
    query: DoneQuery,
) -> PortalResult {
    let scope = admin_scope(&caller)?;
    let id = parse_id(&id, "capacity").on_page(&caller)?;
    render(&state, &caller, &scope, id, flash_of(&query), StatusCode::OK).await
}

/// The settings form as the API's fields: numbers as numbers, schedule lines as windows.
fn form_fields(form: &FormData) -> Fields {
    Fields::from_map(form_map(form))
}

fn form_map(form: &FormData) -> Map<String, Value> {
    let mut map = Map::new();
    for name in ["mode", "timeZone"] {
        if let Some(value) = form.get(name) {
            map.insert(name.into(), json!(value));
        }
    }
    if let Some(raw) = form.get("idleMinutes") {
        map.insert(
            "idleMinutes".into(),
            raw.trim().parse::<i64>().map(Value::from).unwrap_or_else(|_| json!(raw)),
        );
    }
    if let Some(raw) = form.get("hourlyPrice") {
        map.insert(
            "hourlyPrice".into(),
            raw.trim().parse::<f64>().map(Value::from).unwrap_or_else(|_| json!(raw)),
        );
    }
    if let Some(text) = form.get("schedule") {
        map.insert("schedule".into(), windows_value(text));
    }
    map.insert("wakeFromViewer".into(), Value::Bool(form.get("wakeFromViewer").is_some()));
    map
}

pub async fn update(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Path(id): Path<String>,
    form: FormData,
) -> PortalResult {
    form.check_csrf(&caller)?;
    let scope = admin_scope(&caller)?;
    let id: CapacityId = parse_id(&id, "capacity").on_page(&caller)?;
    match capacities::update(&state, &scope, &caller, id, &form_fields(&form)).await {
        Ok(_) => Ok(done(&format!("/admin/capacities/{id}"), "saved")),
        Err(e) => render(&state, &caller, &scope, id, Flash::error(e.message), e.status).await,
    }
}

async fn switch(
    state: AppState,
    caller: Caller,
    id: String,
    form: FormData,
    on: bool,
) -> PortalResult {
    form.check_csrf(&caller)?;
    let scope = admin_scope(&caller)?;
    let id: CapacityId = parse_id(&id, "capacity").on_page(&caller)?;
    capacities::switch(&state, &scope, &caller, id, on).await.on_page(&caller)?;
    Ok(done(&format!("/admin/capacities/{id}"), "saved"))
}

pub async fn delete(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Path(id): Path<String>,
    form: FormData,
) -> PortalResult {
    form.check_csrf(&caller)?;
    let scope = admin_scope(&caller)?;
    let id: CapacityId = parse_id(&id, "capacity").on_page(&caller)?;
    match capacities::delete(&state, &scope, &caller, id).await {
        Ok(()) => Ok(done("/admin/capacities", "deleted")),
        Err(e) => render(&state, &caller, &scope, id, Flash::error(e.message), e.status).await,
    }
}

pub async fn resume(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Path(id): Path<String>,
    form: FormData,
) -> PortalResult {
    switch(state, caller, id, form, true).await
}

pub async fn pause(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Path(id): Path<String>,
    form: FormData,
) -> PortalResult {
    switch(state, caller, id, form, false).await
}
