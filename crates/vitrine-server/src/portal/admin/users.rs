//! Admin Portal › Users.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use vitrine_core::{AdminScope, Permission, Role, UserId};
use vitrine_store::{Grantee, User};

use super::{DoneQuery, admin_scope, done, flash_of, rls_section, save_permissions, save_rls};
use crate::app::AppState;
use crate::auth::{Caller, PortalCaller};
use crate::portal::layout::{
    Flash, Section, action_button, csrf_field, date, flash, page, role_options,
};
use crate::portal::{FormData, OnPage, PortalResult};
use crate::services::{self, parse_id};

pub fn status_badge(user: &User, now: chrono::DateTime<chrono::Utc>) -> Markup {
    let (class, label) = if !user.password_set && !user.blocked {
        ("badge warn", "Invited")
    } else if user.blocked {
        ("badge danger", "Blocked")
    } else if !user.is_active_at(now) {
        ("badge warn", "Expired")
    } else if user.is_locked_at(now) {
        ("badge warn", "Locked")
    } else {
        ("badge ok", "Active")
    };
    html! { span class=(class) { (label) } }
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
    let users = state.store.list_users(scope.org_id()).await.on_page(caller)?;
    let now = state.clock.now();
    let body = html! {
        div.page-head { h1 { "Users" } p.muted { "People who can sign in to your organization's portal." } }
        (flash(&notice))
        section.card {
            table {
                thead { tr { th { "Name" } th { "Email" } th { "Role" } th { "Status" } th { "Expires" } } }
                tbody {
                    @for user in &users {
                        tr {
                            td { a href={ "/admin/users/" (user.id) } { (user.name) } }
                            td { (user.email) }
                            td { (user.role.as_str()) }
                            td { (status_badge(user, now)) }
                            td { @if let Some(at) = user.expires_at { (date(at)) } @else { span.muted { "Never" } } }
                        }
                    }
                }
            }
        }
        section.card {
            h2 { "Add a user" }
            form.grid-form method="post" action="/admin/users" {
                (csrf_field(caller))
                label { "Email" input type="email" name="email" required; }
                label { "Name" input type="text" name="name" placeholder="Optional"; }
                label { "Role" select name="role" { (role_options(Role::Viewer)) } }
                label { "Password" input type="password" name="password" minlength="8" autocomplete="new-password" placeholder="Blank: invite by link"; }
                label { "Expires on" input type="date" name="expiresAt"; }
                div.form-actions { button.primary type="submit" { "Add user" } }
            }
        }
    };
    Ok((status, page(Some(caller), "Users", Some(Section::Users), body)).into_response())
}

pub async fn create(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    form: FormData,
) -> PortalResult {
    form.check_csrf(&caller)?;
    let scope = admin_scope(&caller)?;
    let input = form.to_fields(&["email", "role"], &["name", "expiresAt", "password"], &[]);
    match services::users::create(&state, &scope, &caller, &input).await {
        Ok(user) if !user.password_set => {
            let offer = services::accounts::invite(&state, &caller.org_name, &user)
                .await
                .on_page(&caller)?;
            let notice = Flash::notice("Created.");
            render_detail(
                &state,
                &caller,
                &scope,
                user.id,
                notice,
                Some(offer),
                StatusCode::CREATED,
            )
            .await
        }
        Ok(user) => Ok(done(&format!("/admin/users/{}", user.id), "created")),
        Err(e) => render_list(&state, &caller, &scope, Flash::error(e.message), e.status).await,
    }
}

pub async fn show(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Path(id): Path<String>,
    query: DoneQuery,
) -> PortalResult {
    let scope = admin_scope(&caller)?;
    let id = parse_id(&id, "user").on_page(&caller)?;
    render_detail(&state, &caller, &scope, id, flash_of(&query), None, StatusCode::OK).await
}

/// "Copy invitation link": a fresh link for a user who has not chosen a password yet,
/// emailed too when SMTP is configured.
pub async fn invite(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Path(id): Path<String>,
    form: FormData,
) -> PortalResult {
    form.check_csrf(&caller)?;
    let scope = admin_scope(&caller)?;
    let id = parse_id(&id, "user").on_page(&caller)?;
    let user = state.store.get_user(scope.org_id(), id).await.on_page(&caller)?;
    match services::accounts::invite(&state, &caller.org_name, &user).await {
        Ok(offer) => {
            render_detail(
                &state,
                &caller,
                &scope,
                id,
                Flash::default(),
                Some(offer),
                StatusCode::OK,
            )
            .await
        }
        Err(e) => {
            render_detail(&state, &caller, &scope, id, Flash::error(e.message), None, e.status)
                .await
        }
    }
}

async fn render_detail(
    state: &AppState,
    caller: &Caller,
    scope: &AdminScope,
    id: UserId,
    notice: Flash,
    invitation: Option<services::accounts::LinkOffer>,
    status: StatusCode,
) -> PortalResult {
    let org = scope.org_id();
    let user = state.store.get_user(org, id).await.on_page(caller)?;
    let groups = state.store.groups_of_user(org, id).await.on_page(caller)?;
    let direct = state.store.direct_permissions(org, Grantee::User(id)).await.on_page(caller)?;
    let effective = state.store.effective_permissions(org, id).await.on_page(caller)?;
    let reports = state.store.reports_for_user(org, id).await.on_page(caller)?;
    let rls = state.store.rls_assignment(org, Grantee::User(id)).await.on_page(caller)?;
    let effective_rls = state.store.effective_rls(org, id).await.on_page(caller)?;
    let now = state.clock.now();
    let base = format!("/admin/users/{id}");
    let body = html! {
        nav.crumbs { a href="/admin/users" { "Users" } " / " (user.name) }
        div.page-head { h1 { (user.name) " " (status_badge(&user, now)) } p.muted { (user.email) } }
        (flash(&notice))
        @if let Some(until) = user.locked_until.filter(|u| now < *u) {
            p.flash.error { "Locked after too many wrong passwords until " (date(until)) ". Setting a new password unlocks it." }
        }
        @if !user.password_set {
            section.card.secret {
                h2 { "Invitation" }
                @if let Some(offer) = &invitation {
                    @if offer.emailed { p { "An invitation was emailed to " (user.email) ". You can also pass on this link:" } }
                    @else { p { "Email is not configured: pass on this link to " (user.email) " yourself." } }
                    pre.secret-value.invitation-link { (offer.url) }
                    p.muted { "It works once, until " (date(offer.expires_at)) ". A new link does not cancel older ones; setting a password does." }
                } @else {
                    p.muted { (user.name) " has not chosen a password yet. Make a new invitation link (and email it, when email is configured)." }
                    (action_button(caller, &format!("{base}/invitation"), "Copy invitation link", "primary"))
                }
            }
        }
        section.card {
            h2 { "Profile" }
            form.grid-form method="post" action=(base) {
                (csrf_field(caller))
                label { "Name" input type="text" name="name" value=(user.name) required; }
                label { "Email" input type="email" name="email" value=(user.email) required; }
                label { "Role" select name="role" { (role_options(user.role)) } }
                label { "Expires on" input type="date" name="expiresAt" value=(user.expires_at.map(|at| at.format("%Y-%m-%d").to_string()).unwrap_or_default()); }
                label { "New password" input type="password" name="password" minlength="8" autocomplete="new-password" placeholder="Leave blank to keep"; }
                label.check { input type="checkbox" name="blocked" checked[user.blocked]; "Blocked: cannot sign in" }
                div.form-actions { button.primary type="submit" { "Save" } }
            }
        }
        section.card {
            h2 { "Permissions" }
            form method="post" action={ (base) "/permissions" } {
                (csrf_field(caller))
                @for permission in Permission::ALL {
                    label.check {
                        input type="checkbox" name="permission" value=(permission.as_str()) checked[direct.contains(&permission)];
                        code { (permission.as_str()) } " — " (permission.description())
                        @if effective.contains(&permission) && !direct.contains(&permission) {
                            span.badge.ok { "through a group" }
                        }
                    }
                }
                div.form-actions { button type="submit" { "Save permissions" } }
            }
        }
        div.two-col {
            section.card {
                h2 { "Groups" }
                @if groups.is_empty() { p.muted { "Not a member of any group." } }
                ul.plain { @for group in &groups { li { a href={ "/admin/groups/" (group.id) } { (group.name) } } } }
            }
            section.card {
                h2 { "Reports this user may open" }
                @if user.role.manages_content() { p.muted { "As " (user.role.as_str()) ", this user may open every report." } }
                @else if reports.is_empty() { p.muted { "None yet." } }
                ul.plain { @for report in &reports { li { a href={ "/admin/reports/" (report.id) } { (report.name) } } } }
            }
        }
        (rls_section(caller, &format!("{base}/rls"), &rls,
            &format!("Reports with row-level security show this user only the rows their roles allow. With their groups', they hold: {}.",
                if effective_rls.roles.is_empty() { "no role".to_string() } else { effective_rls.roles.join(", ") })))
        section.card {
            h2 { "Embed tokens" }
            p.muted { "Take back every report this user has open, within a second. If they still have access, their screens fetch new tokens by themselves." }
            (action_button(caller, &format!("{base}/revoke-tokens"), "Revoke this user's tokens", "danger"))
        }
        @if caller.principal.user_id != Some(id) {
            section.card.danger-zone {
                h2 { "Delete user" }
                p.muted { "Their sessions end at once. The audit log keeps their history." }
                (action_button(caller, &format!("{base}/delete"), "Delete user", "danger"))
            }
        }
    };
    Ok((status, page(Some(caller), &user.name, Some(Section::Users), body)).into_response())
}

pub async fn update(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Path(id): Path<String>,
    form: FormData,
) -> PortalResult {
    form.check_csrf(&caller)?;
    let scope = admin_scope(&caller)?;
    let id: UserId = parse_id(&id, "user").on_page(&caller)?;
    let input =
        form.to_fields(&["name", "email", "role", "expiresAt"], &["password"], &["blocked"]);
    match services::users::update(&state, &scope, &caller, id, &input).await {
        Ok(_) => Ok(done(&format!("/admin/users/{id}"), "saved")),
        Err(e) => {
            render_detail(&state, &caller, &scope, id, Flash::error(e.message), None, e.status)
                .await
        }
    }
}

pub async fn set_permissions(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Path(id): Path<String>,
    form: FormData,
) -> PortalResult {
    let id: UserId = parse_id(&id, "user").on_page(&caller)?;
    save_permissions(&state, &caller, Grantee::User(id), &form).await?;
    Ok(done(&format!("/admin/users/{id}"), "permissions"))
}

pub async fn delete(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Path(id): Path<String>,
    form: FormData,
) -> PortalResult<Response> {
    form.check_csrf(&caller)?;
    let scope = admin_scope(&caller)?;
    let id: UserId = parse_id(&id, "user").on_page(&caller)?;
    match services::users::delete(&state, &scope, &caller, id).await {
        Ok(()) => Ok(done("/admin/users", "deleted")),
        Err(e) => {
            render_detail(&state, &caller, &scope, id, Flash::error(e.message), None, e.status)
                .await
        }
    }
}

/// `POST /admin/users/{id}/revoke-tokens`
pub async fn revoke_tokens(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Path(id): Path<String>,
    form: FormData,
) -> PortalResult {
    form.check_csrf(&caller)?;
    let scope = admin_scope(&caller)?;
    let id: UserId = parse_id(&id, "user").on_page(&caller)?;
    services::tokens::revoke_user(&state, &scope, &caller, id).await.on_page(&caller)?;
    Ok(done(&format!("/admin/users/{id}"), "tokens-revoked"))
}

/// `POST /admin/users/{id}/rls`
pub async fn set_rls(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Path(id): Path<String>,
    form: FormData,
) -> PortalResult {
    let id: UserId = parse_id(&id, "user").on_page(&caller)?;
    save_rls(&state, &caller, Grantee::User(id), &form).await?;
    Ok(done(&format!("/admin/users/{id}"), "saved"))
}
