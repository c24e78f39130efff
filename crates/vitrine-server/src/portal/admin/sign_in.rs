//! Admin Portal › Sign-in: the organization's single sign-on provider (OpenID Connect), with
//! presets for Microsoft Entra ID, Google and any other provider; its domains and whether an
//! operator verified them; which group each value of the groups claim stands for; whether
//! passwords are refused. The secret is sealed and never shown again.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use maud::{Markup, html};
use serde_json::{Map, Value, json};
use vitrine_core::{AdminScope, Role};
use vitrine_store::{SsoPreset, SsoProvider};

use super::{DoneQuery, admin_scope, done, flash_of, posted};
use crate::app::AppState;
use crate::auth::{Caller, PortalCaller};
use crate::portal::layout::{
    Flash, Section, action_button, csrf_field, date, flash, page, role_options,
};
use crate::portal::{FormData, OnPage, PortalResult};
use crate::services::sso;

pub async fn show(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    query: DoneQuery,
) -> PortalResult {
    let scope = admin_scope(&caller)?;
    render(&state, &caller, &scope, flash_of(&query), StatusCode::OK).await
}

fn preset_options(selected: SsoPreset) -> Markup {
    let label = |preset: SsoPreset| match preset {
        SsoPreset::Entra => "Microsoft Entra ID",
        SsoPreset::Google => "Google",
        SsoPreset::Generic => "Another OpenID provider (Okta, Keycloak, Auth0…)",
    };
    html! {
        @for preset in SsoPreset::ALL {
            option value=(preset.as_str()) selected[preset == selected] { (label(preset)) }
        }
    }
}

fn provider_card(state: &AppState, caller: &Caller, provider: &SsoProvider) -> Markup {
    let settings = &provider.settings;
    html! {
        section.card {
            h2 { "Sign in with " (settings.preset.label()) }
            dl.kv {
                dt { "Issuer" } dd { code { (settings.issuer) } }
                dt { "Client id" } dd { code { (settings.client_id) } }
                dt { "Client secret" } dd { "Sealed on the server; never shown again." }
                dt { "Scopes" } dd { code { (settings.scopes.join(" ")) } }
                dt { "Redirect URI" } dd { code { (sso::redirect_uri(state)) } " — register it with the provider" }
                dt { "Sign-in address" } dd { a href=(sso::sign_in_address(state, provider.org_id)) { (sso::sign_in_address(state, provider.org_id)) } }
                dt { "Passwords" } dd { @if settings.required { "Refused: everyone signs in with the provider (operators excepted)" } @else { "Allowed beside single sign-on" } }
                dt { "New accounts" } dd { "Made at the first sign-in, as " (settings.default_role.as_str()) }
                dt { "Domains" } dd {
                    @if provider.domains.is_empty() { span.muted { "None: people use the sign-in address" } }
                    @for domain in &provider.domains {
                        div { code { (domain.domain) } " — " @if domain.verified_at.is_some() { "verified" } @else { span.muted { "waiting for an operator of the installation to verify it" } } }
                    }
                }
                dt { "Updated" } dd { (date(provider.updated_at)) }
            }
            (action_button(caller, "/admin/sign-in/remove", "Remove single sign-on", "danger"))
        }
    }
}

async fn render(
    state: &AppState,
    caller: &Caller,
    scope: &AdminScope,
    notice: Flash,
    status: StatusCode,
) -> PortalResult {
    let org = scope.org_id();
    let provider = state.store.sso_provider(org).await.on_page(caller)?;
    let groups = state.store.list_groups(org).await.on_page(caller)?;
    let settings = provider.as_ref().map(|p| &p.settings);
    let claim_of = |group: vitrine_core::GroupId| {
        settings
            .and_then(|s| {
                s.groups.iter().find(|(_, g)| **g == group).map(|(claim, _)| claim.clone())
            })
            .unwrap_or_default()
    };
    let body = html! {
        div.page-head {
            h1 { "Sign-in" }
            p.muted { "Let your people sign in with your company's identity provider (OpenID Connect), and have their groups follow it. docs/sso.md walks through Entra ID, Google and other providers." }
        }
        (flash(&notice))
        @if let Some(provider) = &provider { (provider_card(state, caller, provider)) }
        section.card {
            h2 { @if provider.is_some() { "Change single sign-on" } @else { "Set up single sign-on" } }
            p.muted { "Register " code { (sso::redirect_uri(state)) } " as the redirect URI with your provider first. Vitrine reads the issuer's discovery document and saves nothing unless it answers." }
            form.grid-form method="post" action="/admin/sign-in" {
                (csrf_field(caller))
                label { "Provider" select name="preset" { (preset_options(settings.map_or(SsoPreset::Entra, |s| s.preset))) } }
                label.wide { "Issuer URL"
                    input type="text" inputmode="url" name="issuer" value=[settings.map(|s| s.issuer.as_str())] placeholder="https://login.microsoftonline.com/<tenant id>/v2.0";
                    span.muted { "Google: leave empty." }
                }
                label { "Client id" input type="text" name="clientId" required value=[settings.map(|s| s.client_id.as_str())] autocomplete="off"; }
                label { "Client secret"
                    input type="password" name="clientSecret" required[provider.is_none()] autocomplete="new-password" placeholder=[provider.as_ref().map(|_| "Leave empty to keep the one saved")];
                }
                label { "Scopes" input type="text" name="scopes" value=(settings.map_or("openid email profile".to_string(), |s| s.scopes.join(" "))); }
                label.wide { "Email domains" input type="text" name="domains" value=(settings.map(|s| s.domains.join(" ")).unwrap_or_default()) placeholder="example.com example.org";
                    span.muted { "The sign-in page sends these emails to your provider once an operator verified the domain; accounts are made only for them." }
                }
                label { "Role of new accounts" select name="defaultRole" { (role_options(settings.map_or(Role::Viewer, |s| s.default_role))) } }
                label.check.full { input type="checkbox" name="required" value="1" checked[settings.is_some_and(|s| s.required)]; "Require single sign-on: refuse passwords (operators keep theirs)" }
                label { "Groups claim" input type="text" name="groupsClaim" value=(settings.and_then(|s| s.groups_claim.clone()).unwrap_or_default()) placeholder="groups";
                    span.muted { "The ID token claim that lists the person's groups (Entra ID: groups or roles)." }
                }
                @if !groups.is_empty() {
                    fieldset.full {
                        legend { "The claim value that puts someone in each group" }
                        div.grid-form {
                            @for group in &groups {
                                label { (group.name) input type="text" name={ "claim:" (group.id) } value=(claim_of(group.id)) placeholder="Not from the provider"; }
                            }
                        }
                    }
                }
                div.form-actions { button.primary type="submit" { "Check the issuer and save" } }
            }
        }
    };
    Ok((status, page(Some(caller), "Sign-in", Some(Section::SignIn), body)).into_response())
}

fn words(raw: &str) -> Vec<Value> {
    raw.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .map(|w| Value::String(w.to_string()))
        .collect()
}

/// `POST /admin/sign-in`: the form as `PUT /api/v1/sso` takes it.
pub async fn save(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    form: FormData,
) -> PortalResult {
    let mapped: Map<String, Value> = form
        .pairs()
        .filter_map(|(name, value)| {
            let group = name.strip_prefix("claim:")?;
            let claim = value.trim();
            (!claim.is_empty()).then(|| (claim.to_string(), Value::String(group.to_string())))
        })
        .collect();
    let (scope, input) = posted(&form, &caller, |field| {
        let mut body = json!({
            "preset": field("preset"),
            "clientId": field("clientId"),
            "scopes": words(&field("scopes")),
            "domains": words(&field("domains")),
            "defaultRole": field("defaultRole"),
            "required": !field("required").is_empty(),
            "groupsClaim": field("groupsClaim"),
            "groups": mapped.clone(),
        });
        for optional in ["issuer", "clientSecret"] {
            let value = field(optional);
            if !value.trim().is_empty() {
                body[optional] = Value::String(value);
            }
        }
        body
    })?;
    match sso::configure(&state, &scope, &caller, &input).await {
        Ok(_) => Ok(done("/admin/sign-in", "saved")),
        Err(error) => {
            render(&state, &caller, &scope, Flash::error(error.message), error.status).await
        }
    }
}

/// `POST /admin/sign-in/remove`.
pub async fn remove(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    form: FormData,
) -> PortalResult {
    form.check_csrf(&caller)?;
    let scope = admin_scope(&caller)?;
    let actor = caller.actor(state.clock.now());
    match state.store.delete_sso_provider(scope.org_id(), &actor).await {
        Ok(()) | Err(vitrine_store::StoreError::NotFound) => {
            Ok(done("/admin/sign-in", "sso-removed"))
        }
        Err(error) => Err(crate::error::ApiError::from(error)).on_page(&caller),
    }
}
