//! `/api/v1/sso`: an organization's single sign-on provider (administrators). The client
//! secret is sealed at rest and never answered back.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use vitrine_core::{OrgId, Role};

use super::json::Time;
use super::{JsonFields, requests};
use crate::app::AppState;
use crate::auth::ApiCaller;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::services::sso;

/// A domain that leads the sign-in page to the provider once verified.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SsoDomain {
    pub domain: String,
    /// Whether an operator verified that the organization owns it: only then does the sign-in
    /// page lead its emails to the provider, and only then are accounts made for them.
    pub verified: bool,
}

/// The organization's provider (never its secret).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SsoProvider {
    /// `entra`, `google` or `generic`.
    pub preset: String,
    pub issuer: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub domains: Vec<SsoDomain>,
    /// Passwords are refused for the organization's users (operators excepted).
    pub required: bool,
    pub groups_claim: Option<String>,
    /// Claim value → Vitrine group id.
    pub groups: BTreeMap<String, String>,
    /// The role of an account made at its first sign-in.
    pub default_role: Role,
    /// What to register with the provider as the redirect URI.
    pub redirect_uri: String,
    /// The organization's own sign-in address, whatever its people's emails.
    pub sign_in_url: String,
    pub updated_at: Time,
}

impl SsoProvider {
    pub fn new(state: &AppState, provider: &vitrine_store::SsoProvider) -> Self {
        let settings = &provider.settings;
        Self {
            preset: settings.preset.as_str().to_string(),
            issuer: settings.issuer.clone(),
            client_id: settings.client_id.clone(),
            scopes: settings.scopes.clone(),
            domains: provider
                .domains
                .iter()
                .map(|d| SsoDomain { domain: d.domain.clone(), verified: d.verified_at.is_some() })
                .collect(),
            required: settings.required,
            groups_claim: settings.groups_claim.clone(),
            groups: settings.groups.iter().map(|(k, v)| (k.clone(), v.to_string())).collect(),
            default_role: settings.default_role,
            redirect_uri: sso::redirect_uri(state),
            sign_in_url: sso::sign_in_address(state, provider.org_id),
            updated_at: Time(provider.updated_at),
        }
    }
}

fn none_set() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "This organization has no single sign-on provider.")
}

#[utoipa::path(get, path = "/sso", tag = "Single sign-on",
    responses(
        (status = 200, body = SsoProvider),
        (status = 404, description = "No provider is set.", body = crate::error::ErrorBody),
    ))]
pub async fn show(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> ApiResult<Json<SsoProvider>> {
    let scope = caller.principal.admin()?;
    let provider = state.store.sso_provider(scope.org_id()).await?.ok_or_else(none_set)?;
    Ok(Json(SsoProvider::new(&state, &provider)))
}

/// Sets the organization's provider (or changes it: a field left out keeps its value, and
/// the secret is needed only the first time). The issuer's discovery document is read first;
/// nothing is saved when it does not answer.
#[utoipa::path(put, path = "/sso", tag = "Single sign-on",
    request_body = requests::SsoConfigure,
    responses(
        (status = 200, body = SsoProvider),
        (status = 400, description = "A field is wrong; it is named.", body = crate::error::ErrorBody),
        (status = 409, description = "A domain leads to another organization.", body = crate::error::ErrorBody),
        (status = 502, description = "The issuer's discovery document could not be read.", body = crate::error::ErrorBody),
    ))]
pub async fn configure(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    JsonFields(input): JsonFields,
) -> ApiResult<Json<SsoProvider>> {
    let scope = caller.principal.admin()?;
    let provider = sso::configure(&state, &scope, &caller, &input).await?;
    Ok(Json(SsoProvider::new(&state, &provider)))
}

/// Removes the provider: its users sign in with passwords again (an administrator may have
/// to send them invitations, as accounts made by single sign-on have none).
#[utoipa::path(delete, path = "/sso", tag = "Single sign-on",
    responses(
        (status = 204, description = "Removed."),
        (status = 404, description = "No provider is set.", body = crate::error::ErrorBody),
    ))]
pub async fn remove(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> ApiResult<StatusCode> {
    let scope = caller.principal.admin()?;
    let actor = caller.actor(state.clock.now());
    state.store.delete_sso_provider(scope.org_id(), &actor).await.map_err(|error| match error {
        vitrine_store::StoreError::NotFound => none_set(),
        other => other.into(),
    })?;
    Ok(StatusCode::NO_CONTENT)
}

/// An operator verifies that an organization owns one of the domains it listed.
#[utoipa::path(post, path = "/installation/organizations/{id}/sso-domains/{domain}/verify",
    tag = "Installation",
    params(("id" = OrgId, Path), ("domain" = String, Path)),
    responses(
        (status = 204, description = "Verified."),
        (status = 404, description = "Not one of the organization's domains.", body = crate::error::ErrorBody),
    ))]
pub async fn verify_domain(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path((org, domain)): Path<(OrgId, String)>,
) -> ApiResult<StatusCode> {
    sso::verify_domain(&state, &caller, org, &domain).await?;
    Ok(StatusCode::NO_CONTENT)
}
