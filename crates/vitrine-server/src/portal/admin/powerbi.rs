//! Admin Portal › Power BI: the organization's Power BI tenant (an Entra ID service
//! principal, tested before it is saved, its secret sealed and never shown again) and the
//! reports it sees, each imported as a Vitrine report with one button.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use maud::html;
use serde_json::json;
use vitrine_core::AdminScope;

use super::{DoneQuery, admin_scope, done, flash_of, posted};
use crate::app::AppState;
use crate::auth::{Caller, PortalCaller};
use crate::error::ErrorCode;
use crate::portal::layout::{Flash, Section, csrf_field, date, flash, page};
use crate::portal::{FormData, OnPage, PortalResult};
use crate::services::powerbi;

pub async fn show(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    query: DoneQuery,
) -> PortalResult {
    let scope = admin_scope(&caller)?;
    render(&state, &caller, &scope, flash_of(&query), StatusCode::OK).await
}

async fn render(
    state: &AppState,
    caller: &Caller,
    scope: &AdminScope,
    notice: Flash,
    status: StatusCode,
) -> PortalResult {
    let org = scope.org_id();
    let tenant = state.store.powerbi_tenant(org).await.on_page(caller)?;
    // What Power BI lists now; a fault shows on the page instead of failing it.
    let (found, fault) = match &tenant {
        None => (Vec::new(), None),
        Some(_) => match powerbi::reports(state, org).await {
            Ok(found) => (found, None),
            Err(error) => (Vec::new(), Some(error.message)),
        },
    };
    let imported: Vec<(String, vitrine_store::Report)> = state
        .store
        .list_reports(org)
        .await
        .on_page(caller)?
        .into_iter()
        .filter_map(|report| report.powerbi.clone().map(|link| (link.report_id, report)))
        .collect();
    let body = html! {
        div.page-head {
            h1 { "Power BI" }
            p.muted { "Show your Power BI reports through Vitrine, with Vitrine's access, audit, row-level security and token keeper. Vitrine signs in to Power BI as an Entra ID service principal; see docs/powerbi.md for its set-up." }
        }
        (flash(&notice))
        @if let Some(fault) = &fault { p.flash.error role="alert" { (fault) } }
        @if let Some(tenant) = &tenant {
            section.card {
                h2 { "Connected tenant" }
                dl.kv {
                    dt { "Tenant" } dd { code { (tenant.tenant_id) } }
                    dt { "Client id" } dd { code { (tenant.client_id) } }
                    dt { "Client secret" } dd { "Sealed on the server; never shown again." }
                    dt { "Connected" } dd { (date(tenant.updated_at)) }
                }
            }
            section.card {
                h2 { "Reports the service principal sees" }
                @if found.is_empty() && fault.is_none() {
                    p.muted { "None yet: in Power BI, add the service principal to each workspace (Manage access, Member or Contributor)." }
                } @else if !found.is_empty() {
                    table {
                        thead { tr { th { "Report" } th { "Workspace" } th { "In Vitrine" } th {} } }
                        tbody {
                            @for (workspace, report) in &found {
                                tr {
                                    td { (report.name) }
                                    td { (workspace.name) }
                                    td {
                                        @match imported.iter().find(|(id, _)| *id == report.id) {
                                            Some((_, ours)) => a href={ "/admin/reports/" (ours.id) } { (ours.name) },
                                            None => span.muted { "Not imported" },
                                        }
                                    }
                                    td.actions {
                                        form.inline method="post" action="/admin/powerbi/import" {
                                            (csrf_field(caller))
                                            input type="hidden" name="workspaceId" value=(workspace.id);
                                            input type="hidden" name="reportId" value=(report.id);
                                            input type="hidden" name="name" value=(report.name);
                                            button type="submit" {
                                                @if imported.iter().any(|(id, _)| *id == report.id) { "Import again" } @else { "Import" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        section.card {
            h2 { @if tenant.is_some() { "Replace the service principal" } @else { "Connect a tenant" } }
            p.muted { "Vitrine signs in with these, lists the principal's workspaces, and saves nothing unless that works." }
            form.grid-form method="post" action="/admin/powerbi" {
                (csrf_field(caller))
                label { "Directory (tenant) ID" input type="text" name="tenantId" required placeholder="contoso.onmicrosoft.com or a GUID"; }
                label { "Application (client) ID" input type="text" name="clientId" required autocomplete="off"; }
                label { "Client secret (its Value)" input type="password" name="clientSecret" required autocomplete="new-password"; }
                div.form-actions { button.primary type="submit" { "Test and connect" } }
            }
        }
    };
    Ok((status, page(Some(caller), "Power BI", Some(Section::PowerBi), body)).into_response())
}

/// `POST /admin/powerbi`: connects (or replaces) the tenant after testing it.
pub async fn connect(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    form: FormData,
) -> PortalResult {
    let (scope, input) = posted(&form, &caller, |field| {
        json!({
            "tenantId": field("tenantId"),
            "clientId": field("clientId"),
            "clientSecret": field("clientSecret"),
        })
    })?;
    match powerbi::connect(&state, &scope, &caller, &input).await {
        Ok(_) => Ok(done("/admin/powerbi", "saved")),
        Err(error) => {
            let status = if error.code == ErrorCode::PowerBiUnavailable {
                StatusCode::BAD_GATEWAY
            } else {
                error.status
            };
            render(&state, &caller, &scope, Flash::error(error.message), status).await
        }
    }
}

/// `POST /admin/powerbi/import`: one of the principal's reports becomes a Vitrine report.
pub async fn import(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    form: FormData,
) -> PortalResult {
    let (scope, input) = posted(&form, &caller, |field| {
        json!({
            "name": field("name"),
            "powerbi": { "workspaceId": field("workspaceId"), "reportId": field("reportId") },
        })
    })?;
    match powerbi::import_report(&state, &caller, &input).await {
        Ok(report) => {
            Ok(Redirect::to(&format!("/admin/reports/{}?done=created", report.id)).into_response())
        }
        Err(error) => {
            render(&state, &caller, &scope, Flash::error(error.message), error.status).await
        }
    }
}
