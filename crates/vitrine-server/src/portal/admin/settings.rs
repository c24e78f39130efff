//! Admin Portal › Settings: the organization's settings, explained in the product's words.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use maud::html;
use serde_json::{Map, Value};
use vitrine_core::settings::{
    CAPACITY_WAKE_FROM_VIEWER, EMBED_ALLOWED_ORIGINS, Range, SESSION_ABSOLUTE_TIMEOUT_HOURS,
    SESSION_IDLE_TIMEOUT_MINUTES, TIME_ZONE, TOKEN_LIFETIME_MINUTES, TOKEN_UPDATE_EVERY_MINUTES,
};
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
            section.card {
                h2 { "Embed tokens" }
                p.muted {
                    "A report is opened with an embed token that expires, so that a leaked token dies soon and a change of "
                    "permissions reaches every open screen. Open reports fetch a new token by themselves when someone "
                    "applies a filter, switches a page or clicks a visual shortly before it expires."
                }
                (number_field(TOKEN_LIFETIME_MINUTES, "Token lifetime", "minutes",
                    settings.token_lifetime_minutes,
                    "How long each embed token stays valid. Shorter is safer; longer means fewer token requests."))
                div.setting {
                    label {
                        "Update Token every"
                        span.input-unit {
                            input type="number" name=(TOKEN_UPDATE_EVERY_MINUTES.field)
                                value=[settings.token_update_every_minutes]
                                min=(TOKEN_UPDATE_EVERY_MINUTES.min) max=(TOKEN_UPDATE_EVERY_MINUTES.max)
                                step="1" placeholder="off";
                            span.unit { "minutes" }
                        }
                    }
                    p.help {
                        "Leave blank to turn the timed update off. When on, every open report fetches a new token at this "
                        "interval even when nobody touches it, so a report left open on a TV, a wallboard or a tab over "
                        "lunch never stops with “TokenExpired”. Choose fewer minutes than the token lifetime; each timed "
                        "update also keeps the viewer signed in."
                    }
                    p.help.warning {
                        strong { "Note: " }
                        "a timed update counts as activity. If a capacity pauses after some minutes without activity, "
                        "timed updates keep it running while a report is open. To let it pause, grant "
                        code { "capacity.keepOn" } " only to the users (or screens) that must keep it on."
                    }
                }
            }
            section.card {
                h2 { "Capacity" }
                p.muted {
                    "Reports run on a capacity that costs money for every hour it is on. Capacities can pause when "
                    "nobody looks; see Capacity for each one's mode and schedule."
                }
                div.setting {
                    label {
                        "Time zone"
                        input type="text" name=(TIME_ZONE) value=(settings.time_zone) required
                            placeholder="Europe/Paris" autocomplete="off";
                    }
                    p.help {
                        "The organization's time zone, as a name such as Europe/Paris or America/New_York. New "
                        "capacities read their weekly on/off windows in it, so the windows follow daylight-saving "
                        "changes. Default UTC."
                    }
                }
                div.setting {
                    input type="hidden" name=(WAKE_SHOWN) value="1";
                    label.check {
                        input type="checkbox" name=(CAPACITY_WAKE_FROM_VIEWER) checked[settings.capacity_wake_from_viewer];
                        "Let permitted users start a paused capacity by opening a report"
                    }
                    p.help {
                        "When off, opening a report never starts a paused capacity, whatever the user's permissions: "
                        "viewers see that the report is paused to save cost, and only an administrator (or a "
                        "schedule) starts it. When on, users holding " code { "capacity.turnOn" } " start it by "
                        "opening a report, unless the capacity itself turns this off."
                    }
                }
            }
            section.card {
                h2 { "Embedding" }
                p.muted {
                    "Host apps show your reports in their own pages with the embedding SDK (see Admin › Embedding "
                    "for their users). Only pages of these origins may frame a report; every other page is refused "
                    "by the browser."
                }
                div.setting {
                    label {
                        "Origins allowed to embed reports"
                        textarea name=(EMBED_ALLOWED_ORIGINS) rows="3" placeholder="https://app.example.com" {
                            (settings.embed_allowed_origins.join("\n"))
                        }
                    }
                    p.help {
                        "One origin per line: the scheme, the host and the port when it is not the default, such as "
                        code { "https://app.example.com" } " — no path and no wildcard. Leave it empty to allow none."
                    }
                }
            }
            div.form-actions { button.primary type="submit" { "Save settings" } }
        }
        section.card.danger-zone {
            h2 { "Revoke every embed token" }
            p.muted {
                "Every report open in your organization loses its token within a second. Viewers who still have "
                "access get a new one by themselves; use this after a leak."
            }
            form method="post" action="/admin/tokens/revoke" {
                (csrf_field(caller))
                button.danger type="submit" { "Revoke all tokens" }
            }
        }
    };
    Ok((status, page(Some(caller), "Settings", Some(Section::Settings), body)).into_response())
}

/// Marks a form that showed the "start from the viewer" checkbox.
const WAKE_SHOWN: &str = "capacityWakeFromViewerShown";

/// Form values are text; whole numbers become JSON numbers so the settings rules apply to
/// them, and anything else is passed on as text, to be refused naming its field.
fn form_to_fields(form: &FormData) -> Fields {
    let mut map = Map::new();
    // Browsers send nothing for an unticked checkbox: the hidden marker says it was shown.
    if form.get(WAKE_SHOWN).is_some() {
        let ticked = form.get(CAPACITY_WAKE_FROM_VIEWER).is_some();
        map.insert(CAPACITY_WAKE_FROM_VIEWER.to_string(), Value::Bool(ticked));
    }
    if let Some(raw) = form.get(EMBED_ALLOWED_ORIGINS) {
        let origins = raw.lines().map(str::trim).filter(|line| !line.is_empty()).map(Value::from);
        map.insert(EMBED_ALLOWED_ORIGINS.to_string(), Value::Array(origins.collect()));
    }
    for field in OrgSettings::FIELDS {
        if field == CAPACITY_WAKE_FROM_VIEWER || field == EMBED_ALLOWED_ORIGINS {
            continue;
        }
        if let Some(raw) = form.get(field) {
            let value = match raw.trim() {
                // A blank "Update Token every" turns the timed update off.
                "" if field == TOKEN_UPDATE_EVERY_MINUTES.field => Value::Null,
                _ if field == TIME_ZONE => Value::from(raw),
                text => text.parse::<i64>().map(Value::from).unwrap_or_else(|_| Value::from(raw)),
            };
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

/// `POST /admin/tokens/revoke`: every embed token of the organization stops working.
pub async fn revoke_all_tokens(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    form: FormData,
) -> PortalResult {
    form.check_csrf(&caller)?;
    let scope = admin_scope(&caller)?;
    services::tokens::revoke_organization(&state, &scope, &caller).await.on_page(&caller)?;
    Ok(done("/admin/settings", "tokens-revoked"))
}
