//! Admin Portal › Settings: the organization's settings, explained in the product's words.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use maud::html;
use serde_json::{Map, Value};
use vitrine_core::settings::{Range, SESSION_ABSOLUTE_TIMEOUT_HOURS, SESSION_IDLE_TIMEOUT_MINUTES};
use vitrine_core::{AdminScope, Fields, OrgSettings};

use super::{DoneQuery, admin_scope, done, flash_of};
use crate::app::AppState;
use crate::auth::{Caller, PortalCaller};
use crate::portal::layout::{Flash, Section, csrf_field, flash, page};
use crate::portal::{FormData, OnPage, PortalError, PortalResult};
use crate::services;

pub async fn show(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    query: DoneQuery,
) -> PortalResult {
    let scope = admin_scope(&caller)?;
    let settings = current(&state, &caller, &scope).await?;
    render(&caller, &settings, flash_of(&query), StatusCode::OK)
}

async fn current(
    state: &AppState,
    caller: &Caller,
    scope: &AdminScope,
) -> Result<OrgSettings, PortalError> {
    let org = state.store.get_organization(scope.org_id()).await.on_page(caller)?;
    Ok(org.settings)
}

fn number_field(range: Range, label: &str, unit: &str, value: u32, help: &str) -> maud::Markup {
    html! {
        div.setting {
            label {
                (label)
                span.input-unit {
                    input type="number" name=(range.field) value=(value) min=(range.min) max=(range.max) step="1" required;
                    span.unit { (unit) }
                }
            }
            p.help { (help) " Allowed: " (range.min) " to " (range.max) "; default " (range.default) "." }
        }
    }
}

fn render(
    caller: &Caller,
    settings: &OrgSettings,
    notice: Flash,
    status: StatusCode,
) -> PortalResult {
    let body = html! {
        div.page-head { h1 { "Settings" } p.muted { "Settings of your organization. Changes apply at once and are recorded in the audit log." } }
        (flash(&notice))
        form method="post" action="/admin/settings" {
            (csrf_field(caller))
            section.card {
                h2 { "Sessions" }
                p.muted { "How long people stay signed in to the portal." }
                (number_field(SESSION_IDLE_TIMEOUT_MINUTES, "Sign out after inactivity", "minutes",
                    settings.session_idle_timeout_minutes,
                    "A session nobody uses for this long ends; the next click asks to sign in again."))
                (number_field(SESSION_ABSOLUTE_TIMEOUT_HOURS, "Sign out after at most", "hours",
                    settings.session_absolute_timeout_hours,
                    "Every session ends this long after sign-in, even one in constant use."))
            }
            div.form-actions { button.primary type="submit" { "Save settings" } }
        }
    };
    Ok((status, page(Some(caller), "Settings", Some(Section::Settings), body)).into_response())
}

/// Form values are text; whole numbers become JSON numbers so the settings rules apply to
/// them, and anything else is passed on as text, to be refused naming its field.
fn form_to_fields(form: &FormData) -> Fields {
    let mut map = Map::new();
    for field in OrgSettings::FIELDS {
        if let Some(raw) = form.get(field) {
            let value =
                raw.trim().parse::<i64>().map(Value::from).unwrap_or_else(|_| Value::from(raw));
            map.insert(field.to_string(), value);
        }
    }
    Fields::from_map(map)
}

pub async fn update(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    form: FormData,
) -> PortalResult {
    form.check_csrf(&caller)?;
    let scope = admin_scope(&caller)?;
    match services::settings::patch(&state, &scope, &caller, &form_to_fields(&form)).await {
        Ok(_) => Ok(done("/admin/settings", "saved")),
        Err(e) => {
            let settings = current(&state, &caller, &scope).await?;
            render(&caller, &settings, Flash::error(e.message), e.status)
        }
    }
}
