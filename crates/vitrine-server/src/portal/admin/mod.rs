//! The Admin Portal. Administrators manage users, groups, reports, settings, API keys and
//! read the audit log; contributors manage reports only; viewers are refused every page.

mod api_keys;
mod audit;
mod capacities;
mod connections;
mod datasets;
mod displays;
mod embedding;
mod groups;
mod powerbi;
mod reports;
mod settings;
mod sign_in;
mod users;

use std::collections::HashMap;

use axum::Router;
use axum::extract::Query;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use vitrine_core::{AdminScope, ContentScope, Permission};
use vitrine_store::Grantee;

use super::layout::Flash;
use super::{FormData, OnPage, PortalError, PortalResult};
use crate::app::AppState;
use crate::auth::{Caller, PortalCaller};
use crate::services;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/users", get(users::list).post(users::create))
        .route("/users/{id}", get(users::show).post(users::update))
        .route("/users/{id}/permissions", post(users::set_permissions))
        .route("/users/{id}/delete", post(users::delete))
        .route("/users/{id}/invitation", post(users::invite))
        .route("/users/{id}/revoke-tokens", post(users::revoke_tokens))
        .route("/displays", get(displays::list))
        .route("/displays/pair", post(displays::pair))
        .route("/displays/{id}", post(displays::update))
        .route("/displays/{id}/unpair", post(displays::unpair))
        .route("/groups", get(groups::list).post(groups::create))
        .route("/groups/{id}", get(groups::show))
        .route("/groups/{id}/members", post(groups::add_member))
        .route("/groups/{id}/members/{user_id}/remove", post(groups::remove_member))
        .route("/groups/{id}/permissions", post(groups::set_permissions))
        .route("/groups/{id}/delete", post(groups::delete))
        .route("/reports", get(reports::list).post(reports::create))
        .route("/reports/{id}", get(reports::show).post(reports::update))
        .route("/reports/{id}/access", post(reports::grant))
        .route("/reports/{id}/access/remove", post(reports::revoke))
        .route("/reports/{id}/delete", post(reports::delete))
        .route(
            "/datasets",
            get(datasets::list)
                .post(datasets::create)
                .layer::<_, std::convert::Infallible>(axum::extract::DefaultBodyLimit::max(
                    crate::api::MAX_UPLOAD_BYTES,
                ))
                .layer::<_, std::convert::Infallible>(
                    tower_http::limit::RequestBodyLimitLayer::new(crate::api::MAX_UPLOAD_BYTES),
                ),
        )
        .route(
            "/datasets/{id}/data",
            post(datasets::replace_data)
                .layer::<_, std::convert::Infallible>(axum::extract::DefaultBodyLimit::max(
                    crate::api::MAX_UPLOAD_BYTES,
                ))
                .layer::<_, std::convert::Infallible>(
                    tower_http::limit::RequestBodyLimitLayer::new(crate::api::MAX_UPLOAD_BYTES),
                ),
        )
        .route("/datasets/source", post(datasets::create_source))
        .route("/datasets/{id}", get(datasets::show).post(datasets::update))
        .route("/datasets/{id}/refresh", post(datasets::refresh))
        .route("/datasets/{id}/delete", post(datasets::delete))
        .route("/connections", get(connections::list).post(connections::create))
        .route("/connections/{id}", get(connections::show).post(connections::update))
        .route("/connections/{id}/test", post(connections::test))
        .route("/connections/{id}/delete", post(connections::delete))
        .route("/reports/{id}/definition", get(reports::definition).post(reports::save_definition))
        .route("/users/{id}/rls", post(users::set_rls))
        .route("/groups/{id}/rls", post(groups::set_rls))
        .route("/capacities", get(capacities::list).post(capacities::create))
        .route("/capacities/{id}", get(capacities::show).post(capacities::update))
        .route("/capacities/{id}/resume", post(capacities::resume))
        .route("/capacities/{id}/pause", post(capacities::pause))
        .route("/capacities/{id}/delete", post(capacities::delete))
        .route("/powerbi", get(powerbi::show).post(powerbi::connect))
        .route("/powerbi/import", post(powerbi::import))
        .route("/settings", get(settings::show).post(settings::update))
        .route("/sign-in", get(sign_in::show).post(sign_in::save))
        .route("/sign-in/remove", post(sign_in::remove))
        .route("/tokens/revoke", post(settings::revoke_all_tokens))
        .route("/api-keys", get(api_keys::list).post(api_keys::create))
        .route("/api-keys/{id}/revoke", post(api_keys::revoke))
        .route("/embedding", get(embedding::list))
        .route("/embedding/revoke", post(embedding::revoke))
        .route("/audit", get(audit::list))
        .route("/audit/export.csv", get(audit::export))
        .route("/audit/tokens", get(audit::token_events))
        .route("/audit/tokens/export.csv", get(audit::export_token_events))
}

async fn home(PortalCaller(caller): PortalCaller) -> PortalResult {
    let target = if caller.principal.role == vitrine_core::Role::Admin {
        "/admin/users"
    } else {
        content_scope(&caller)?;
        "/admin/reports"
    };
    Ok(Redirect::to(target).into_response())
}

fn admin_scope(caller: &Caller) -> Result<AdminScope, PortalError> {
    caller.principal.admin().on_page(caller)
}

/// A posted form of an administrator, CSRF checked, as the API's input that `shape` makes of
/// its fields.
fn posted(
    form: &FormData,
    caller: &Caller,
    shape: impl Fn(&dyn Fn(&str) -> String) -> serde_json::Value,
) -> Result<(AdminScope, vitrine_core::Fields), PortalError> {
    form.check_csrf(caller)?;
    let scope = admin_scope(caller)?;
    let field = |name: &str| form.get(name).unwrap_or_default().to_string();
    let input = vitrine_core::Fields::from_value(shape(&field))
        .map_err(crate::error::ApiError::from)
        .on_page(caller)?;
    Ok((scope, input))
}

fn content_scope(caller: &Caller) -> Result<ContentScope, PortalError> {
    caller.principal.content_manager().on_page(caller)
}

/// Saves the permission checkboxes of a user's or a group's page.
async fn save_permissions(
    state: &AppState,
    caller: &Caller,
    grantee: Grantee,
    form: &FormData,
) -> Result<(), PortalError> {
    form.check_csrf(caller)?;
    let scope = admin_scope(caller)?;
    let chosen = form.all("permission");
    for permission in Permission::ALL {
        let granted = chosen.contains(&permission.as_str());
        services::permissions::set(state, &scope, caller, permission, grantee, granted)
            .await
            .on_page(caller)?;
    }
    Ok(())
}

/// After a successful post: back to a page, with a fixed notice (post/redirect/get).
/// Weekly windows as the portal's forms show them: one per line, `Mon 08:00-18:00`.
fn windows_text(windows: &[vitrine_core::capacity::WeeklyWindow]) -> String {
    windows
        .iter()
        .map(|w| format!("{} {}-{}\n", w.day, w.start.format("%H:%M"), w.end.format("%H:%M")))
        .collect()
}

/// The lines of a windows text area as the API's windows (each checked by the service, which
/// names the line at fault).
fn windows_value(text: &str) -> serde_json::Value {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (day, span) = line.split_once(' ').unwrap_or((line, ""));
            let (start, end) = span.trim().split_once('-').unwrap_or((span, ""));
            serde_json::json!({ "day": day.trim(), "start": start.trim(), "end": end.trim() })
        })
        .collect()
}

fn done(path: &str, what: &str) -> Response {
    Redirect::to(&format!("{path}?done={what}")).into_response()
}

pub(crate) type DoneQuery = Query<HashMap<String, String>>;

pub(crate) fn flash_of(query: &DoneQuery) -> Flash {
    Flash::from_done(query.get("done").map(String::as_str))
}

/// The row-level-security section of a user's or a group's page.
fn rls_section(
    caller: &Caller,
    action: &str,
    assignment: &vitrine_store::RlsAssignment,
    note: &str,
) -> maud::Markup {
    let roles = assignment.roles.join(", ");
    let attributes: String =
        assignment.attributes.iter().map(|(name, value)| format!("{name} = {value}\n")).collect();
    maud::html! {
        section.card {
            h2 { "Row-level security" }
            p.muted { (note) }
            form.grid-form method="post" action=(action) {
                (crate::portal::layout::csrf_field(caller))
                label { "Roles" input type="text" name="roles" value=(roles) placeholder="e.g. Own region, All regions"; }
                label.wide { "Attributes (one name = value per line)"
                    textarea name="attributes" rows="3" placeholder="region = North" { (attributes) } }
                div.form-actions { button type="submit" { "Save row-level security" } }
            }
        }
    }
}

/// Saves the row-level-security form of a user's or a group's page.
async fn save_rls(
    state: &AppState,
    caller: &Caller,
    grantee: Grantee,
    form: &FormData,
) -> Result<(), PortalError> {
    form.check_csrf(caller)?;
    let scope = admin_scope(caller)?;
    let assignment = services::rls::assignment_from_text(
        form.get("roles").unwrap_or_default(),
        form.get("attributes").unwrap_or_default(),
    )
    .on_page(caller)?;
    services::rls::set(state, &scope, caller, grantee, &assignment).await.on_page(caller)
}
