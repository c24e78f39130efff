//! Admin Portal › API keys: created here, shown once, revoked here.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use maud::html;
use vitrine_core::{AdminScope, ReportId};

use super::{DoneQuery, admin_scope, done, flash_of};
use crate::app::AppState;
use crate::auth::{Caller, PortalCaller, api_key};
use crate::portal::layout::{Flash, Section, action_button, csrf_field, date, flash, page};
use crate::portal::{FormData, OnPage, PortalResult};
use crate::services::parse_id;

pub async fn list(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    query: DoneQuery,
) -> PortalResult {
    let scope = admin_scope(&caller)?;
    render(&state, &caller, &scope, flash_of(&query), None, StatusCode::OK).await
}

async fn render(
    state: &AppState,
    caller: &Caller,
    scope: &AdminScope,
    notice: Flash,
    new_secret: Option<(&str, &str)>,
    status: StatusCode,
) -> PortalResult {
    let keys = state.store.list_api_keys(scope.org_id()).await.on_page(caller)?;
    let reports = state.store.list_reports(scope.org_id()).await.on_page(caller)?;
    let report_name = |id: &ReportId| {
        reports.iter().find(|r| r.id == *id).map(|r| r.name.as_str()).unwrap_or("a deleted report")
    };
    let now = state.clock.now();
    let body = html! {
        div.page-head {
            h1 { "API keys" }
            p.muted { "Scripts, integrations and host apps call the JSON API with a key in the " code { "X-API-Key" } " header. An " strong { "admin" } " key acts as an administrator of this organization; an " strong { "embed" } " key may only mint embed tokens for a host app's users; a " strong { "read" } " key may only read. A key works only while the administrator who made it is an active administrator." }
        }
        (flash(&notice))
        @if let Some((name, secret)) = new_secret {
            section.card.secret {
                h2 { "Key “" (name) "” created" }
                p { "Copy it now: it is shown only once and cannot be recovered." }
                pre.secret-value { code { (secret) } }
            }
        }
        section.card {
            @if keys.is_empty() { p.muted { "No API keys yet." } } @else {
                table {
                    thead { tr { th { "Name" } th { "Key" } th { "Scope" } th { "Created" } th { "Last used" } th { "Status" } th {} } }
                    tbody {
                        @for key in &keys {
                            tr {
                                td { (key.name) }
                                td { code { (key.prefix) "…" } }
                                td {
                                    (key.scope.as_str())
                                    @if let Some(listed) = &key.reports {
                                        br; span.muted { @if listed.is_empty() { "no report left" } @else {
                                            (listed.iter().map(report_name).collect::<Vec<_>>().join(", "))
                                        } }
                                    }
                                    @if key.wake_capacity || key.keep_capacity_on {
                                        br; span.muted { "capacity: "
                                            (match (key.wake_capacity, key.keep_capacity_on) {
                                                (true, true) => "wakes and keeps on",
                                                (true, false) => "wakes",
                                                _ => "keeps on",
                                            }) }
                                    }
                                }
                                td { (date(key.created_at)) br; span.muted { "by " (key.created_by) } }
                                td { @if let Some(at) = key.last_used_at { (date(at)) } @else { span.muted { "Never" } } }
                                td {
                                    @if key.revoked_at.is_some() { span.badge.danger { "Revoked" } }
                                    @else if key.expired_at(now) { span.badge.danger { "Expired" } }
                                    @else {
                                        span.badge.ok { "Active" }
                                        @if let Some(at) = key.expires_at { br; span.muted { "until " (date(at)) } }
                                    }
                                }
                                td.actions {
                                    @if key.revoked_at.is_none() {
                                        (action_button(caller, &format!("/admin/api-keys/{}/revoke", key.id), "Revoke", "small danger"))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        section.card {
            h2 { "Create a key" }
            form.grid-form method="post" action="/admin/api-keys" {
                (csrf_field(caller))
                label { "Name" input type="text" name="name" placeholder="e.g. Nightly sync" required; }
                label { "Scope"
                    select name="scope" {
                        option value="admin" { "admin — everything" }
                        option value="embed" { "embed — tokens only" }
                        option value="read" { "read — read only" }
                        option value="scim" { "scim — user provisioning (SCIM)" }
                    }
                }
                label { "Expires on (optional)" input type="date" name="expiresAt"; }
                @if !reports.is_empty() {
                    fieldset.full {
                        legend { "Reports an embed key may mint tokens for (none ticked: all)" }
                        @for report in &reports {
                            label.check { input type="checkbox" name="reports" value=(report.id); " " (report.name) }
                        }
                    }
                }
                label.check { input type="checkbox" name="wakeCapacity" value="true"; " Tokens it mints may start a paused capacity" }
                label.check { input type="checkbox" name="keepCapacityOn" value="true"; " Tokens it mints keep a running capacity on" }
                div.form-actions { button.primary type="submit" { "Create key" } }
            }
        }
    };
    Ok((status, page(Some(caller), "API keys", Some(Section::ApiKeys), body)).into_response())
}

/// Reads the portal's form; no report ticked means all of them.
fn request_from_form(form: &FormData) -> Result<api_key::KeyRequest, crate::error::ApiError> {
    let scope = api_key::scope(form.get("scope").unwrap_or("admin"))?;
    let ticked =
        form.all("reports").into_iter().map(api_key::report_id).collect::<Result<Vec<_>, _>>()?;
    let expires_at = match form.get("expiresAt").map(str::trim) {
        None | Some("") => None,
        Some(raw) => Some(vitrine_core::validate::expiry("expiresAt", raw)?),
    };
    Ok(api_key::KeyRequest {
        name: form.get("name").unwrap_or_default().to_string(),
        scope,
        reports: (!ticked.is_empty()).then_some(ticked),
        expires_at,
        wake_capacity: form.get("wakeCapacity").is_some(),
        keep_capacity_on: form.get("keepCapacityOn").is_some(),
    })
}

pub async fn create(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    form: FormData,
) -> PortalResult {
    form.check_csrf(&caller)?;
    let scope = admin_scope(&caller)?;
    let created = match request_from_form(&form) {
        Ok(request) => api_key::create(&state, &scope, &caller, request).await,
        Err(error) => Err(error),
    };
    match created {
        Ok((key, secret)) => {
            let created = Some((key.name.as_str(), secret.as_str()));
            render(&state, &caller, &scope, Flash::default(), created, StatusCode::CREATED).await
        }
        Err(e) => render(&state, &caller, &scope, Flash::error(e.message), None, e.status).await,
    }
}

pub async fn revoke(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Path(id): Path<String>,
    form: FormData,
) -> PortalResult {
    form.check_csrf(&caller)?;
    let scope = admin_scope(&caller)?;
    let id = parse_id(&id, "API key").on_page(&caller)?;
    let actor = caller.actor(state.clock.now());
    state.store.revoke_api_key(scope.org_id(), &actor, id).await.on_page(&caller)?;
    Ok(done("/admin/api-keys", "revoked"))
}
