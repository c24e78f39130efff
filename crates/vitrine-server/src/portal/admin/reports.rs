//! Admin Portal › Reports: metadata and who may open each report.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use maud::html;
use vitrine_core::{ContentScope, ReportId};
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
    render_list(&state, &caller, &scope, flash_of(&query), StatusCode::OK).await
}

async fn render_list(
    state: &AppState,
    caller: &Caller,
    scope: &ContentScope,
    notice: Flash,
    status: StatusCode,
) -> PortalResult {
    let reports = state.store.list_reports(scope.org_id()).await.on_page(caller)?;
    let body = html! {
        div.page-head { h1 { "Reports" } p.muted { "Every report of your organization, and who may open it." } }
        (flash(&notice))
        section.card {
            @if reports.is_empty() { p.muted { "No reports yet." } } @else {
                table {
                    thead { tr { th { "Name" } th { "Description" } th { "Updated" } } }
                    tbody {
                        @for report in &reports {
                            tr {
                                td { a href={ "/admin/reports/" (report.id) } { (report.name) } }
                                td.muted { (report.description) }
                                td { (date(report.updated_at)) }
                            }
                        }
                    }
                }
            }
        }
        section.card {
            h2 { "Add a report" }
            form.grid-form method="post" action="/admin/reports" {
                (csrf_field(caller))
                label { "Name" input type="text" name="name" required; }
                label.wide { "Description" input type="text" name="description" placeholder="Optional"; }
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
    match services::reports::create(&state, &scope, &caller, &input).await {
        Ok(report) => Ok(done(&format!("/admin/reports/{}", report.id), "created")),
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
    let base = format!("/admin/reports/{id}");
    let body = html! {
        nav.crumbs { a href="/admin/reports" { "Reports" } " / " (report.name) }
        div.page-head { h1 { (report.name) } p { a href={ "/reports/" (id) } { "Open in the Reports Portal →" } } }
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
    let input = form.to_fields(&["name", "description"], &[], &[]);
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
