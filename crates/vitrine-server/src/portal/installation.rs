//! Installation › Organizations and Installation › Audit: the operators' pages. They show
//! organizations with their limits and counts, never their reports or data.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use maud::{Markup, html};
use vitrine_core::{OperatorScope, OrgId};

use super::admin::{DoneQuery, flash_of};
use super::layout::{Area, Flash, action_button, csrf_field, date, flash, page_in};
use super::{FormData, OnPage, PortalError, PortalResult};
use crate::app::AppState;
use crate::auth::{Caller, PortalCaller};
use crate::services::accounts::LinkOffer;
use crate::services::installation::{self, OrganizationView};
use crate::services::parse_id;

fn operator(caller: &Caller) -> Result<OperatorScope, PortalError> {
    caller.principal.operator().on_page(caller)
}

fn nav(current: &str) -> Markup {
    html! {
        nav.tabs aria-label="Installation" {
            a href="/installation" aria-current=[(current == "organizations").then_some("page")] { "Organizations" }
            a href="/installation/audit" aria-current=[(current == "audit").then_some("page")] { "Audit log" }
        }
    }
}

fn count(n: u64, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

fn limit(value: Option<u32>, unit: &str) -> String {
    match value {
        Some(value) => format!("{value}{unit}"),
        None => "no limit".into(),
    }
}

fn status(org: &OrganizationView) -> Markup {
    if org.organization.is_suspended() {
        html! { span.badge.danger { "Suspended" } }
    } else {
        html! { span.badge.ok { "Active" } }
    }
}

pub async fn list(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    query: DoneQuery,
) -> PortalResult {
    let scope = operator(&caller)?;
    let notice = flash_of(&query);
    render_list(&state, &caller, &scope, notice, None, StatusCode::OK).await
}

async fn render_list(
    state: &AppState,
    caller: &Caller,
    scope: &OperatorScope,
    notice: Flash,
    invitation: Option<(String, LinkOffer)>,
    status_code: StatusCode,
) -> PortalResult {
    let organizations = installation::list(state, scope).await.on_page(caller)?;
    let body = html! {
        div.page-head { h1 { "Installation" } p.muted { "Organizations of this installation. As an operator you manage them, not their reports or data." } }
        (nav("organizations"))
        (flash(&notice))
        @if let Some((email, offer)) = &invitation {
            section.card.secret {
                h2 { "Invitation for " (email) }
                @if offer.emailed { p { "Sent by email. You can also pass on this link; it works once, until " (date(offer.expires_at)) "." } }
                @else { p { "Email is not configured: pass on this link yourself. It works once, until " (date(offer.expires_at)) "." } }
                pre.secret-value.invitation-link { (offer.url) }
            }
        }
        section.card {
            table {
                thead { tr { th { "Organization" } th { "Status" } th.num { "Users" } th.num { "Reports" } th.num { "Datasets" } th { "Limits" } th { "Created" } } }
                tbody {
                    @for org in &organizations {
                        tr {
                            td { a href={ "/installation/organizations/" (org.organization.id) } { (org.organization.name) } }
                            td { (status(org)) }
                            td.num { (org.usage.users) }
                            td.num { (org.usage.reports) }
                            td.num { (org.usage.datasets) }
                            td.muted { "users " (limit(org.organization.limits.max_users, "")) " · storage " (limit(org.organization.limits.max_dataset_megabytes, " MB")) }
                            td.nowrap { (date(org.organization.created_at)) }
                        }
                    }
                }
            }
        }
        section.card {
            h2 { "Add an organization" }
            form.grid-form method="post" action="/installation/organizations" {
                (csrf_field(caller))
                label { "Name" input type="text" name="name" required; }
                label { "First administrator's email" input type="email" name="adminEmail" placeholder="Optional: invited by email"; }
                label { "Their name" input type="text" name="adminName" placeholder="Optional"; }
                div.form-actions { button.primary type="submit" { "Add organization" } }
            }
        }
    };
    Ok((status_code, page_in(Area::Installation, Some(caller), "Installation", None, body))
        .into_response())
}

pub async fn create(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    form: FormData,
) -> PortalResult {
    form.check_csrf(&caller)?;
    let scope = operator(&caller)?;
    let input = form.to_fields(&["name"], &["adminEmail", "adminName"], &[]);
    let created = match installation::create(&state, &scope, &caller, &input).await {
        Ok(created) => created,
        Err(e) => {
            return render_list(&state, &caller, &scope, Flash::error(e.message), None, e.status)
                .await;
        }
    };
    let (org, admin) = created;
    let invitation = match admin {
        Some(admin) => {
            let offer = crate::services::accounts::invite(&state, &org.name, &admin)
                .await
                .on_page(&caller)?;
            Some((admin.email, offer))
        }
        None => None,
    };
    let notice = Flash::notice(format!("Organization {} created.", org.name));
    render_list(&state, &caller, &scope, notice, invitation, StatusCode::CREATED).await
}

pub async fn show(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Path(id): Path<String>,
    query: DoneQuery,
) -> PortalResult {
    let scope = operator(&caller)?;
    let id: OrgId = parse_id(&id, "organization").on_page(&caller)?;
    let notice = flash_of(&query);
    render_detail(&state, &caller, &scope, id, notice, StatusCode::OK).await
}

async fn render_detail(
    state: &AppState,
    caller: &Caller,
    scope: &OperatorScope,
    id: OrgId,
    notice: Flash,
    status_code: StatusCode,
) -> PortalResult {
    let view = installation::show(state, scope, id).await.on_page(caller)?;
    let org = &view.organization;
    let base = format!("/installation/organizations/{id}");
    let own = scope.principal().org_id == id;
    let number = |value: Option<u32>| value.map(|v| v.to_string()).unwrap_or_default();
    let sso = state.store.sso_provider(id).await.on_page(caller)?;
    let body = html! {
        nav.crumbs { a href="/installation" { "Installation" } " / " (org.name) }
        div.page-head { h1 { (org.name) " " (status(&view)) } p.muted { (count(view.usage.users, "user")) " · " (count(view.usage.reports, "report")) " · " (count(view.usage.datasets, "dataset")) " · created " (date(org.created_at)) } }
        (flash(&notice))
        section.card {
            h2 { "Name and limits" }
            form.grid-form method="post" action=(base) {
                (csrf_field(caller))
                label { "Name" input type="text" name="name" value=(org.name) required; }
                label { "Users at most" input type="number" name="maxUsers" min="1" value=(number(org.limits.max_users)) placeholder="No limit"; }
                label { "Dataset storage (MB)" input type="number" name="maxDatasetMegabytes" min="1" value=(number(org.limits.max_dataset_megabytes)) placeholder="No limit"; }
                div.form-actions { button.primary type="submit" { "Save" } }
            }
        }
        @if let Some(sso) = &sso {
            section.card {
                h2 { "Sign-in domains" }
                p.muted { "The organization signs in with " code { (sso.settings.issuer) } ". A domain leads the sign-in page to it, and lets it make accounts, once you verified that the organization owns it (for instance by a DNS record or a contract)." }
                @if sso.domains.is_empty() { p.muted { "It listed no domain." } }
                table {
                    tbody {
                        @for domain in &sso.domains {
                            tr {
                                td { (domain.domain) }
                                td { @match domain.verified_at { Some(at) => { "Verified " (date(at)) }, None => span.muted { "Not verified" } } }
                                td.actions {
                                    @if domain.verified_at.is_none() {
                                        (action_button(caller, &format!("{base}/sso-domains/{}/verify", domain.domain), "Verify", "primary"))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if !own {
            section.card {
                @if org.is_suspended() {
                    h2 { "Suspended" }
                    p.muted { "Since " (org.suspended_at.map(date).unwrap_or_default()) ". Nobody of this organization can sign in." }
                    (action_button(caller, &format!("{base}/reinstate"), "Reinstate", "primary"))
                } @else {
                    h2 { "Suspend" }
                    p.muted { "Its users are signed out and cannot sign in, its open reports lose access within a second, its API keys stop working and its capacities pause. Reinstating undoes it; nothing is deleted." }
                    (action_button(caller, &format!("{base}/suspend"), "Suspend organization", "danger"))
                }
            }
            section.card.danger-zone {
                h2 { "Delete organization" }
                p.muted { "Deletes its users, groups, reports, datasets, capacities and audit log, irreversibly. The installation audit keeps a record." }
                form.inline-form method="post" action={ (base) "/delete" } {
                    (csrf_field(caller))
                    label { span { "Type " strong { (org.name) } " to confirm" } input type="text" name="confirm" autocomplete="off" required; }
                    button.danger type="submit" { "Delete for good" }
                }
            }
        } @else {
            p.muted { "This is your own organization: you cannot suspend or delete it." }
        }
    };
    Ok((status_code, page_in(Area::Installation, Some(caller), &org.name, None, body))
        .into_response())
}

async fn apply(
    state: &AppState,
    caller: &Caller,
    id: &str,
    input: vitrine_core::Fields,
    done: &str,
) -> PortalResult {
    let scope = operator(caller)?;
    let id: OrgId = parse_id(id, "organization").on_page(caller)?;
    match installation::update(state, &scope, caller, id, &input).await {
        Ok(_) => {
            Ok(Redirect::to(&format!("/installation/organizations/{id}?done={done}"))
                .into_response())
        }
        Err(e) => render_detail(state, caller, &scope, id, Flash::error(e.message), e.status).await,
    }
}

pub async fn update(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Path(id): Path<String>,
    form: FormData,
) -> PortalResult {
    form.check_csrf(&caller)?;
    let mut limits = serde_json::Map::new();
    for field in vitrine_core::OrgLimits::FIELDS {
        let value = match form.get(field).map(str::trim).filter(|v| !v.is_empty()) {
            None => serde_json::Value::Null,
            Some(raw) => match raw.parse::<i64>() {
                Ok(n) => serde_json::Value::from(n),
                Err(_) => serde_json::Value::String(raw.to_string()),
            },
        };
        limits.insert(field.to_string(), value);
    }
    let mut input = form.to_fields(&["name"], &[], &[]).into_value();
    input["limits"] = serde_json::Value::Object(limits);
    let input = vitrine_core::Fields::from_value(input).on_page(&caller)?;
    apply(&state, &caller, &id, input, "saved").await
}

fn suspension(suspended: bool) -> vitrine_core::Fields {
    vitrine_core::Fields::from_map(
        [("suspended".to_string(), serde_json::Value::Bool(suspended))].into_iter().collect(),
    )
}

/// `POST /installation/organizations/{id}/sso-domains/{domain}/verify`.
pub async fn verify_domain(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Path((id, domain)): Path<(String, String)>,
    form: FormData,
) -> PortalResult {
    form.check_csrf(&caller)?;
    let scope = operator(&caller)?;
    let org: OrgId = parse_id(&id, "organization").on_page(&caller)?;
    match crate::services::sso::verify_domain(&state, &caller, org, &domain).await {
        Ok(()) => {
            Ok(Redirect::to(&format!("/installation/organizations/{org}?done=saved"))
                .into_response())
        }
        Err(error) => {
            render_detail(&state, &caller, &scope, org, Flash::error(error.message), error.status)
                .await
        }
    }
}

pub async fn suspend(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Path(id): Path<String>,
    form: FormData,
) -> PortalResult {
    form.check_csrf(&caller)?;
    apply(&state, &caller, &id, suspension(true), "suspended").await
}

pub async fn reinstate(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Path(id): Path<String>,
    form: FormData,
) -> PortalResult {
    form.check_csrf(&caller)?;
    apply(&state, &caller, &id, suspension(false), "reinstated").await
}

pub async fn delete(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Path(id): Path<String>,
    form: FormData,
) -> PortalResult {
    form.check_csrf(&caller)?;
    let scope = operator(&caller)?;
    let id: OrgId = parse_id(&id, "organization").on_page(&caller)?;
    let confirm = form.get("confirm").unwrap_or_default();
    match installation::delete(&state, &scope, &caller, id, confirm).await {
        Ok(()) => Ok(Redirect::to("/installation?done=organization-deleted").into_response()),
        Err(e) => {
            render_detail(&state, &caller, &scope, id, Flash::error(e.message), e.status).await
        }
    }
}

pub async fn audit(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
) -> PortalResult {
    operator(&caller)?;
    let entries = state.store.list_installation_audit(500).await.on_page(&caller)?;
    let body = html! {
        div.page-head { h1 { "Installation" } p.muted { "Everything operators did, newest first." } }
        (nav("audit"))
        section.card {
            table.audit {
                thead { tr { th { "When" } th { "Who" } th { "What" } th { "Details" } } }
                tbody {
                    @for entry in &entries {
                        tr {
                            td.nowrap { (date(entry.at)) }
                            td { (entry.actor_label) }
                            td { (entry.entity_type) " " (entry.action) }
                            td { code { (entry.new_value.as_ref().or(entry.old_value.as_ref()).map(|v| v.to_string()).unwrap_or_default()) } }
                        }
                    }
                }
            }
        }
    };
    Ok(page_in(Area::Installation, Some(&caller), "Installation audit", None, body).into_response())
}
