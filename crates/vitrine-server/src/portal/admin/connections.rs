//! Admin Portal › Datasets › Connections: the organization's PostgreSQL and MySQL/MariaDB
//! databases, with a "Test connection" button that explains what is wrong in plain words.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use maud::html;
use vitrine_core::source::TlsMode;
use vitrine_core::{AdminScope, ConnectionId};

use super::datasets::form_fields;
use super::{DoneQuery, admin_scope, done, flash_of};
use crate::app::AppState;
use crate::auth::{Caller, PortalCaller};
use crate::portal::layout::{Flash, Section, action_button, csrf_field, date, flash, page};
use crate::portal::{FormData, OnPage, PortalResult};
use crate::services::{parse_id, sources};

const TEXT_FIELDS: [&str; 7] = ["name", "kind", "host", "database", "user", "password", "tls"];
const NUMBER_FIELDS: [&str; 3] = ["port", "maxConnections", "queryTimeoutSeconds"];

pub async fn list(
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
    let list = state.store.list_connections(scope.org_id()).await.on_page(caller)?;
    let body = html! {
        nav.crumbs { a href="/admin/datasets" { "Datasets" } " / Connections" }
        div.page-head {
            h1 { "Connections" }
            p.muted { "Databases of yours that datasets read. Give Vitrine a user that may only read: its sessions are read-only besides. Passwords are sealed on the server and never shown again." }
        }
        (flash(&notice))
        section.card {
            @if list.is_empty() { p.muted { "No connections yet." } } @else {
                table {
                    thead { tr { th { "Name" } th { "Database" } th { "TLS" } th.num { "Pool" } th.num { "Timeout" } th { "Changed" } th {} } }
                    tbody {
                        @for connection in &list {
                            tr {
                                td { a href={ "/admin/connections/" (connection.id) } { (connection.name) } }
                                td { (connection.kind.as_str()) " " code { (connection.user) "@" (connection.host) ":" (connection.port) "/" (connection.database) } }
                                td { (connection.tls.as_str()) }
                                td.num { (connection.max_connections) }
                                td.num { (connection.query_timeout_seconds) " s" }
                                td { (date(connection.updated_at)) }
                                td.actions {
                                    (action_button(caller, &format!("/admin/connections/{}/test", connection.id), "Test connection", ""))
                                    (action_button(caller, &format!("/admin/connections/{}/delete", connection.id), "Delete", "danger"))
                                }
                            }
                        }
                    }
                }
            }
        }
        section.card {
            h2 { "Add a connection" }
            form.grid-form method="post" action="/admin/connections" {
                (csrf_field(caller))
                label { "Name" input type="text" name="name" required; }
                label { "Kind"
                    select name="kind" {
                        option value="postgres" { "PostgreSQL" }
                        option value="mysql" { "MySQL / MariaDB" }
                    }
                }
                label { "Host" input type="text" name="host" required; }
                label { "Port" input type="number" name="port" min="1" max="65535" placeholder="5432 or 3306"; }
                label { "Database" input type="text" name="database" required; }
                label { "User" input type="text" name="user" required autocomplete="off"; }
                label { "Password" input type="password" name="password" autocomplete="new-password"; }
                label { "TLS"
                    select name="tls" {
                        @for mode in TlsMode::ALL { option value=(mode) selected[mode == "prefer"] { (mode) } }
                    }
                }
                label { "Connections at most" input type="number" name="maxConnections" min="1" max="50" placeholder="4"; }
                label { "Query timeout (seconds)" input type="number" name="queryTimeoutSeconds" min="1" max="60" placeholder="10"; }
                div.form-actions { button.primary type="submit" { "Add connection" } }
            }
        }
    };
    Ok((status, page(Some(caller), "Connections", Some(Section::Datasets), body)).into_response())
}

pub async fn create(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    form: FormData,
) -> PortalResult {
    form.check_csrf(&caller)?;
    let scope = admin_scope(&caller)?;
    let mut input = form_fields(&form, &TEXT_FIELDS, &NUMBER_FIELDS);
    if !input.contains("password") {
        // An empty password field is an empty password (trust authentication).
        input.insert("password", serde_json::json!(""));
    }
    match sources::create_connection(&state, &scope, &caller, &input).await {
        Ok(_) => Ok(done("/admin/connections", "created")),
        Err(e) => render(&state, &caller, &scope, Flash::error(e.message), e.status).await,
    }
}

pub async fn show(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Path(id): Path<String>,
    query: DoneQuery,
) -> PortalResult {
    let scope = admin_scope(&caller)?;
    let id: ConnectionId = parse_id(&id, "connection").on_page(&caller)?;
    render_one(&state, &caller, &scope, id, flash_of(&query), StatusCode::OK).await
}

/// One connection: its settings to change (the password only when a new one is typed) and
/// the datasets that read it.
async fn render_one(
    state: &AppState,
    caller: &Caller,
    scope: &AdminScope,
    id: ConnectionId,
    notice: Flash,
    status: StatusCode,
) -> PortalResult {
    let connection = state.store.get_connection(scope.org_id(), id).await.on_page(caller)?;
    let readers: Vec<_> = state
        .store
        .list_datasets(scope.org_id())
        .await
        .on_page(caller)?
        .into_iter()
        .filter(|d| d.source.as_ref().is_some_and(|s| s.connection_id == id))
        .collect();
    let base = format!("/admin/connections/{id}");
    let body = html! {
        nav.crumbs { a href="/admin/datasets" { "Datasets" } " / " a href="/admin/connections" { "Connections" } " / " (connection.name) }
        div.page-head {
            h1 { (connection.name) }
            p.muted { (connection.kind.as_str()) " · changed " (date(connection.updated_at)) " · id " code { (connection.id) } }
        }
        (flash(&notice))
        section.card {
            h2 { "Settings" }
            p.muted { "Direct datasets of this connection reconnect with the new settings at once; open reports reload their visuals." }
            form.grid-form method="post" action=(base) {
                (csrf_field(caller))
                label { "Name" input type="text" name="name" value=(connection.name) required; }
                label { "Host" input type="text" name="host" value=(connection.host) required; }
                label { "Port" input type="number" name="port" min="1" max="65535" value=(connection.port) required; }
                label { "Database" input type="text" name="database" value=(connection.database) required; }
                label { "User" input type="text" name="user" value=(connection.user) required autocomplete="off"; }
                label { "New password (empty: keep the current one)" input type="password" name="password" autocomplete="new-password"; }
                label { "TLS"
                    select name="tls" {
                        @for mode in TlsMode::ALL { option value=(mode) selected[mode == connection.tls.as_str()] { (mode) } }
                    }
                }
                label { "Connections at most" input type="number" name="maxConnections" min="1" max="50" value=(connection.max_connections) required; }
                label { "Query timeout (seconds)" input type="number" name="queryTimeoutSeconds" min="1" max="60" value=(connection.query_timeout_seconds) required; }
                div.form-actions {
                    button.primary type="submit" { "Save" }
                }
            }
            (action_button(caller, &format!("{base}/test"), "Test connection", ""))
        }
        section.card {
            h2 { "Datasets reading it" }
            @if readers.is_empty() { p.muted { "None." } } @else {
                ul { @for dataset in &readers { li { a href={ "/admin/datasets/" (dataset.id) } { (dataset.name) } } } }
            }
        }
    };
    Ok((status, page(Some(caller), &connection.name, Some(Section::Datasets), body))
        .into_response())
}

/// `POST /admin/connections/{id}`: changed settings; an empty password field keeps the
/// password.
pub async fn update(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Path(id): Path<String>,
    form: FormData,
) -> PortalResult {
    form.check_csrf(&caller)?;
    let scope = admin_scope(&caller)?;
    let id: ConnectionId = parse_id(&id, "connection").on_page(&caller)?;
    let input = form_fields(&form, &TEXT_FIELDS, &NUMBER_FIELDS);
    match sources::update_connection(&state, &scope, &caller, id, &input).await {
        Ok(_) => Ok(done(&format!("/admin/connections/{id}"), "saved")),
        Err(e) => render_one(&state, &caller, &scope, id, Flash::error(e.message), e.status).await,
    }
}

pub async fn test(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Path(id): Path<String>,
    form: FormData,
) -> PortalResult {
    form.check_csrf(&caller)?;
    let scope = admin_scope(&caller)?;
    let id: ConnectionId = parse_id(&id, "connection").on_page(&caller)?;
    let outcome = sources::test_connection(&state, &scope, id).await.on_page(&caller)?;
    let notice = if outcome.ok {
        Flash { notice: Some(format!("Connected: {}", outcome.message)), error: None }
    } else {
        Flash::error(outcome.message)
    };
    render_one(&state, &caller, &scope, id, notice, StatusCode::OK).await
}

pub async fn delete(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Path(id): Path<String>,
    form: FormData,
) -> PortalResult {
    form.check_csrf(&caller)?;
    let scope = admin_scope(&caller)?;
    let id: ConnectionId = parse_id(&id, "connection").on_page(&caller)?;
    match sources::delete_connection(&state, &scope, &caller, id).await {
        Ok(()) => Ok(done("/admin/connections", "deleted")),
        Err(e) => render(&state, &caller, &scope, Flash::error(e.message), e.status).await,
    }
}
