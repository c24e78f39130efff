//! Admin Portal › Audit log: who changed what and when, filterable, exportable as CSV.

use std::collections::HashMap;

use axum::extract::{Query, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use maud::{Markup, html};
use serde_json::Value;

use super::admin_scope;
use crate::app::AppState;
use crate::auth::PortalCaller;
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
    let export =
        format!("/admin/audit/export.csv{}", raw.map(|q| format!("?{q}")).unwrap_or_default());
    let selected = get("entityType");
    let body = html! {
        div.page-head { h1 { "Audit log" } p.muted { "Every change to users, groups, reports, permissions, settings and API keys: who, when, before and after." } }
        (flash(&notice))
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
                    a.button href=(export) { "Export CSV" }
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
    Ok((status, page(Some(&caller), "Audit log", Some(Section::Audit), body)).into_response())
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
