//! Admin Portal › API keys: created here, shown once, revoked here.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use maud::html;
use vitrine_core::AdminScope;

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
    let body = html! {
        div.page-head {
            h1 { "API keys" }
            p.muted { "Scripts and integrations call the JSON API with a key in the " code { "X-API-Key" } " header. A key acts as an administrator of this organization." }
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
                    thead { tr { th { "Name" } th { "Key" } th { "Created" } th { "Last used" } th { "Status" } th {} } }
                    tbody {
                        @for key in &keys {
                            tr {
                                td { (key.name) }
                                td { code { (key.prefix) "…" } }
                                td { (date(key.created_at)) br; span.muted { "by " (key.created_by) } }
                                td { @if let Some(at) = key.last_used_at { (date(at)) } @else { span.muted { "Never" } } }
                                td { @if key.revoked_at.is_some() { span.badge.danger { "Revoked" } } @else { span.badge.ok { "Active" } } }
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
            form.inline-form method="post" action="/admin/api-keys" {
                (csrf_field(caller))
                label { "Name" input type="text" name="name" placeholder="e.g. Nightly sync" required; }
                button.primary type="submit" { "Create key" }
            }
        }
    };
    Ok((status, page(Some(caller), "API keys", Some(Section::ApiKeys), body)).into_response())
}

pub async fn create(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    form: FormData,
) -> PortalResult {
    form.check_csrf(&caller)?;
    let scope = admin_scope(&caller)?;
    match api_key::create(&state, &scope, &caller, form.get("name").unwrap_or_default()).await {
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
