//! Admin Portal › Groups.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use maud::html;
use vitrine_core::{AdminScope, GroupId, Permission, UserId};
use vitrine_store::Grantee;

use super::{DoneQuery, admin_scope, done, flash_of, rls_section, save_permissions, save_rls};
use crate::app::AppState;
use crate::auth::{Caller, PortalCaller};
use crate::portal::layout::{Flash, Section, action_button, csrf_field, flash, page};
use crate::portal::{FormData, OnPage, PortalError, PortalResult};
use crate::services::{self, parse_id};

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
    let groups = state.store.list_groups(scope.org_id()).await.on_page(caller)?;
    let body = html! {
        div.page-head { h1 { "Groups" } p.muted { "Grant reports and permissions to many users at once." } }
        (flash(&notice))
        section.card {
            @if groups.is_empty() { p.muted { "No groups yet." } } @else {
                table {
                    thead { tr { th { "Name" } th { "Description" } th.num { "Members" } } }
                    tbody {
                        @for group in &groups {
                            tr {
                                td { a href={ "/admin/groups/" (group.id) } { (group.name) } }
                                td.muted { (group.description) }
                                td.num { (group.member_count) }
                            }
                        }
                    }
                }
            }
        }
        section.card {
            h2 { "Create a group" }
            form.grid-form method="post" action="/admin/groups" {
                (csrf_field(caller))
                label { "Name" input type="text" name="name" required; }
                label.wide { "Description" input type="text" name="description" placeholder="Optional"; }
                div.form-actions { button.primary type="submit" { "Create group" } }
            }
        }
    };
    Ok((status, page(Some(caller), "Groups", Some(Section::Groups), body)).into_response())
}

pub async fn create(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    form: FormData,
) -> PortalResult {
    form.check_csrf(&caller)?;
    let scope = admin_scope(&caller)?;
    let input = form.to_fields(&["name", "description"], &[], &[]);
    match services::groups::create(&state, &scope, &caller, &input).await {
        Ok(group) => Ok(done(&format!("/admin/groups/{}", group.id), "created")),
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
    let id = parse_id(&id, "group").on_page(&caller)?;
    render_detail(&state, &caller, &scope, id, flash_of(&query), StatusCode::OK).await
}

async fn render_detail(
    state: &AppState,
    caller: &Caller,
    scope: &AdminScope,
    id: GroupId,
    notice: Flash,
    status: StatusCode,
) -> PortalResult {
    let org = scope.org_id();
    let group = state.store.get_group(org, id).await.on_page(caller)?;
    let members = state.store.group_members(org, id).await.on_page(caller)?;
    let everyone = state.store.list_users(org).await.on_page(caller)?;
    let permissions =
        state.store.direct_permissions(org, Grantee::Group(id)).await.on_page(caller)?;
    let rls = state.store.rls_assignment(org, Grantee::Group(id)).await.on_page(caller)?;
    let candidates: Vec<_> =
        everyone.iter().filter(|u| !members.iter().any(|m| m.id == u.id)).collect();
    let base = format!("/admin/groups/{id}");
    let body = html! {
        nav.crumbs { a href="/admin/groups" { "Groups" } " / " (group.name) }
        div.page-head { h1 { (group.name) } @if !group.description.is_empty() { p.muted { (group.description) } } }
        (flash(&notice))
        section.card {
            h2 { "Members" }
            @if members.is_empty() { p.muted { "No members yet." } } @else {
                table {
                    thead { tr { th { "Name" } th { "Email" } th { "Role" } th {} } }
                    tbody {
                        @for member in &members {
                            tr {
                                td { a href={ "/admin/users/" (member.id) } { (member.name) } }
                                td { (member.email) }
                                td { (member.role.as_str()) }
                                td.actions { (action_button(caller, &format!("{base}/members/{}/remove", member.id), "Remove", "small")) }
                            }
                        }
                    }
                }
            }
            @if !candidates.is_empty() {
                form.inline-form method="post" action={ (base) "/members" } {
                    (csrf_field(caller))
                    label { "Add member"
                        select name="userId" {
                            @for user in &candidates { option value=(user.id) { (user.name) " <" (user.email) ">" } }
                        }
                    }
                    button type="submit" { "Add" }
                }
            }
        }
        section.card {
            h2 { "Permissions" }
            p.muted { "Every member holds the permissions granted to the group." }
            form method="post" action={ (base) "/permissions" } {
                (csrf_field(caller))
                @for permission in Permission::ALL {
                    label.check {
                        input type="checkbox" name="permission" value=(permission.as_str()) checked[permissions.contains(&permission)];
                        code { (permission.as_str()) } " — " (permission.description())
                    }
                }
                div.form-actions { button type="submit" { "Save permissions" } }
            }
        }
        (rls_section(caller, &format!("{base}/rls"), &rls,
            "Every member holds these row-level-security roles; their own attributes win over the group's."))
        section.card.danger-zone {
            h2 { "Delete group" }
            p.muted { "Members lose the reports and permissions they had through this group." }
            (action_button(caller, &format!("{base}/delete"), "Delete group", "danger"))
        }
    };
    Ok((status, page(Some(caller), &group.name, Some(Section::Groups), body)).into_response())
}

fn group_id(caller: &Caller, raw: &str) -> Result<GroupId, PortalError> {
    parse_id(raw, "group").on_page(caller)
}

pub async fn add_member(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Path(id): Path<String>,
    form: FormData,
) -> PortalResult {
    form.check_csrf(&caller)?;
    let scope = admin_scope(&caller)?;
    let id = group_id(&caller, &id)?;
    let user: UserId = parse_id(form.get("userId").unwrap_or_default(), "user").on_page(&caller)?;
    match services::groups::set_member(&state, &scope, &caller, id, user, true).await {
        Ok(()) => Ok(done(&format!("/admin/groups/{id}"), "added")),
        Err(e) => {
            render_detail(&state, &caller, &scope, id, Flash::error(e.message), e.status).await
        }
    }
}

pub async fn remove_member(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Path((id, user)): Path<(String, String)>,
    form: FormData,
) -> PortalResult {
    form.check_csrf(&caller)?;
    let scope = admin_scope(&caller)?;
    let id = group_id(&caller, &id)?;
    let user: UserId = parse_id(&user, "user").on_page(&caller)?;
    services::groups::set_member(&state, &scope, &caller, id, user, false)
        .await
        .on_page(&caller)?;
    Ok(done(&format!("/admin/groups/{id}"), "removed"))
}

pub async fn set_permissions(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Path(id): Path<String>,
    form: FormData,
) -> PortalResult {
    let id = group_id(&caller, &id)?;
    save_permissions(&state, &caller, Grantee::Group(id), &form).await?;
    Ok(done(&format!("/admin/groups/{id}"), "permissions"))
}

pub async fn delete(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Path(id): Path<String>,
    form: FormData,
) -> PortalResult {
    form.check_csrf(&caller)?;
    let scope = admin_scope(&caller)?;
    let id = group_id(&caller, &id)?;
    services::groups::delete(&state, &scope, &caller, id).await.on_page(&caller)?;
    Ok(done("/admin/groups", "deleted"))
}

/// `POST /admin/groups/{id}/rls`
pub async fn set_rls(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Path(id): Path<String>,
    form: FormData,
) -> PortalResult {
    let id = group_id(&caller, &id)?;
    save_rls(&state, &caller, Grantee::Group(id), &form).await?;
    Ok(done(&format!("/admin/groups/{id}"), "saved"))
}
