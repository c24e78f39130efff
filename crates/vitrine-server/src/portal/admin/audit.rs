//! Admin Portal › Audit log: entity changes (who changed what and when) and token events
//! (issues, refreshes, rejections, revocations), each filterable and exportable as CSV.

use std::collections::HashMap;

use axum::extract::{Query, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use maud::{Markup, html};
use serde_json::Value;

use super::admin_scope;
use crate::app::AppState;
use crate::auth::{Caller, PortalCaller};
use crate::portal::layout::{Flash, Section, date, flash, page};
use crate::portal::{OnPage, PortalResult};
use crate::services::audit;

fn value(value: &Option<Value>) -> Markup {
    match value {
        None => html! { span.muted { "—" } },
        Some(Value::Object(map)) => html! {
            dl.kv { @for (key, v) in map { dt { (key) } dd { (plain(v)) } } }
        },
        Some(other) => html! { (plain(other)) },
    }
}

fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "—".into(),
        other => other.to_string(),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tab {
    Changes,
    Tokens,
}

fn tabs(current: Tab) -> Markup {
    html! {
        nav.tabs aria-label="Audit trails" {
            a href="/admin/audit" aria-current=[(current == Tab::Changes).then_some("page")] { "Changes" }
            a href="/admin/audit/tokens" aria-current=[(current == Tab::Tokens).then_some("page")] { "Token events" }
        }
    }
}

fn audit_page(
    caller: &Caller,
    tab: Tab,
    notice: Flash,
    status: StatusCode,
    content: Markup,
) -> PortalResult {
    let body = html! {
        div.page-head {
            h1 { "Audit log" }
            p.muted { "Every change to users, groups, reports, permissions, settings and API keys, and every embed token issued, refreshed, refused or revoked." }
        }
        (tabs(tab))
        (flash(&notice))
        (content)
    };
    Ok((status, page(Some(caller), "Audit log", Some(Section::Audit), body)).into_response())
}

fn export_link(path: &str, raw_query: Option<String>) -> String {
    format!("{path}{}", raw_query.map(|q| format!("?{q}")).unwrap_or_default())
}

pub async fn list(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Query(query): Query<HashMap<String, String>>,
    RawQuery(raw): RawQuery,
) -> PortalResult {
    let scope = admin_scope(&caller)?;
    let get = |name: &str| query.get(name).cloned().unwrap_or_default();
    let (entries, notice, status) = match audit::filter_from_query(&query, audit::DEFAULT_LIMIT) {
        Ok(filter) => {
            let entries = state.store.list_audit(scope.org_id(), &filter).await.on_page(&caller)?;
            (entries, Flash::default(), StatusCode::OK)
        }
        Err(e) => (Vec::new(), Flash::error(e.message), e.status),
    };
    let selected = get("entityType");
    let content = html! {
        section.card {
            form.filters method="get" action="/admin/audit" {
                label { "Kind"
                    select name="entityType" {
                        option value="" { "All" }
                        @for kind in audit::ENTITY_TYPES { option value=(kind) selected[selected == kind] { (kind) } }
                    }
                }
                label { "Changed by" input type="text" name="actor" value=(get("actor")) placeholder="email"; }
                label { "Containing" input type="text" name="q" value=(get("q")) placeholder="name, email, id"; }
                label { "From" input type="date" name="since" value=(get("since")); }
                label { "To" input type="date" name="until" value=(get("until")); }
                div.form-actions {
                    button type="submit" { "Filter" }
                    a.button href=(export_link("/admin/audit/export.csv", raw)) { "Export CSV" }
                }
            }
        }
        section.card {
            @if entries.is_empty() { p.muted { "No changes match." } } @else {
                table.audit {
                    thead { tr { th { "When" } th { "Who" } th { "What" } th { "Before" } th { "After" } } }
                    tbody {
                        @for entry in &entries {
                            tr {
                                td.nowrap { (date(entry.at)) }
                                td { (entry.actor_label) }
                                td { span.badge { (entry.entity_type) } " " (entry.action) br; code.muted { (entry.entity_id) } }
                                td { (value(&entry.old_value)) }
                                td { (value(&entry.new_value)) }
                            }
                        }
                    }
                }
            }
        }
    };
    audit_page(&caller, Tab::Changes, notice, status, content)
}

pub async fn export(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Query(query): Query<HashMap<String, String>>,
) -> PortalResult {
    let scope = admin_scope(&caller)?;
    let filter = audit::filter_from_query(&query, audit::MAX_LIMIT).on_page(&caller)?;
    let entries = state.store.list_audit(scope.org_id(), &filter).await.on_page(&caller)?;
    let csv = audit::to_csv(&entries).on_page(&caller)?;
    Ok(crate::api::audit_csv_download(csv, "vitrine-audit.csv"))
}

pub async fn token_events(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Query(query): Query<HashMap<String, String>>,
    RawQuery(raw): RawQuery,
) -> PortalResult {
    let scope = admin_scope(&caller)?;
    let get = |name: &str| query.get(name).cloned().unwrap_or_default();
    let (events, notice, status) =
        match audit::token_filter_from_query(&query, audit::DEFAULT_LIMIT) {
            Ok(filter) => {
                let events = state
                    .store
                    .list_token_events(scope.org_id(), &filter)
                    .await
                    .on_page(&caller)?;
                (events, Flash::default(), StatusCode::OK)
            }
            Err(e) => (Vec::new(), Flash::error(e.message), e.status),
        };
    let selected = get("kind");
    let content = html! {
        section.card {
            form.filters method="get" action="/admin/audit/tokens" {
                label { "Event"
                    select name="kind" {
                        option value="" { "All" }
                        @for kind in audit::TOKEN_EVENT_KINDS { option value=(kind) selected[selected == kind] { (kind) } }
                    }
                }
                label { "User" input type="text" name="user" value=(get("user")) placeholder="email"; }
                label { "Reason" input type="text" name="reason" value=(get("reason")) placeholder="e.g. expired"; }
                label { "From" input type="date" name="since" value=(get("since")); }
                label { "To" input type="date" name="until" value=(get("until")); }
                div.form-actions {
                    button type="submit" { "Filter" }
                    a.button href=(export_link("/admin/audit/tokens/export.csv", raw)) { "Export CSV" }
                }
            }
        }
        section.card {
            @if events.is_empty() { p.muted { "No token events match." } } @else {
                table.audit {
                    thead { tr { th { "When" } th { "Event" } th { "User" } th { "Report" } th { "Reason" } th { "From" } } }
                    tbody {
                        @for event in &events {
                            tr {
                                td.nowrap { (date(event.at)) }
                                td {
                                    span class={ "badge kind-" (event.kind) } { (event.kind) }
                                    @if let Some(token) = &event.token_id {
                                        br; code.muted title={ "token id " (token) } { (token.chars().take(8).collect::<String>()) "…" }
                                    }
                                }
                                td { (event.user_label.as_deref().unwrap_or("—")) }
                                td { (event.report_label.as_deref().unwrap_or("—")) }
                                td {
                                    (event.reason.as_deref().unwrap_or("—"))
                                    @if let Some(actor) = &event.actor { br; span.muted { "by " (actor) } }
                                }
                                td {
                                    (event.ip.as_deref().unwrap_or("—"))
                                    @if let Some(agent) = &event.user_agent { br; span.muted { (agent) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    audit_page(&caller, Tab::Tokens, notice, status, content)
}

pub async fn export_token_events(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Query(query): Query<HashMap<String, String>>,
) -> PortalResult {
    let scope = admin_scope(&caller)?;
    let filter = audit::token_filter_from_query(&query, audit::MAX_LIMIT).on_page(&caller)?;
    let events = state.store.list_token_events(scope.org_id(), &filter).await.on_page(&caller)?;
    let csv = audit::token_events_csv(&events).on_page(&caller)?;
    Ok(crate::api::audit_csv_download(csv, "vitrine-token-audit.csv"))
}
