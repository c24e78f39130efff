//! Organization API keys: `vtr_` followed by a random secret, shown once at creation and stored
//! only as a SHA-256 hash. A key acts as an administrator of its organization.

use chrono::Duration;
use vitrine_core::{AdminScope, AuthMethod, Principal, Role};
use vitrine_store::{ApiKey, NewApiKey};

use super::{Caller, random_secret, sha256};
use crate::app::AppState;
use crate::error::ApiError;

/// The fields of `POST /api/v1/api-keys`.
pub const FIELDS: [&str; 1] = ["name"];

const PREFIX: &str = "vtr_";
const SHOWN_PREFIX_CHARS: usize = 12;

/// Creates a key; the returned secret is never stored and cannot be shown again.
pub async fn create(
    state: &AppState,
    scope: &AdminScope,
    caller: &Caller,
    name: &str,
) -> Result<(ApiKey, String), ApiError> {
    let name = vitrine_core::validate::name("name", name)?;
    let secret = format!("{PREFIX}{}", random_secret());
    let new = NewApiKey {
        name,
        prefix: secret.chars().take(SHOWN_PREFIX_CHARS).collect(),
        secret_hash: sha256(&secret),
    };
    let key =
        state.store.create_api_key(scope.org_id(), &caller.actor(state.clock.now()), &new).await?;
    Ok((key, secret))
}

pub(super) async fn authenticate(
    state: &AppState,
    presented: &str,
    snapshot: vitrine_core::token::Snapshot,
) -> Result<Caller, ApiError> {
    let invalid = super::invalid_api_key;
    if !presented.starts_with(PREFIX) || presented.len() > 128 {
        return Err(invalid());
    }
    let key = state.store.find_api_key(&sha256(presented)).await?.ok_or_else(invalid)?;
    let now = state.clock.now();
    if key.last_used_at.is_none_or(|at| now - at > Duration::minutes(1)) {
        state.store.touch_api_key(key.id, now).await?;
    }
    let org = state.store.get_organization(key.org_id).await?;
    if org.is_suspended() {
        return Err(super::suspended());
    }
    Ok(Caller {
        org_name: org.name,
        org_settings: org.settings,
        principal: Principal {
            org_id: key.org_id,
            user_id: None,
            role: Role::Admin,
            label: format!("API key {}", key.name),
            method: AuthMethod::ApiKey(key.id),
            operator: false,
        },
        user: None,
        session: None,
        snapshot,
    })
}
