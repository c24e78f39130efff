//! Rows of an organization's single sign-on provider.

use vitrine_core::Role;

use super::{from_ms, opt_from_ms, parse_id};
use crate::{SsoDomain, SsoPreset, SsoProvider, SsoSettings, StoreError, StoreResult};

/// The `sso_providers` row; its domains and group mapping are rows of their own.
#[derive(sqlx::FromRow)]
pub struct SsoProviderRow {
    org_id: String,
    preset: String,
    issuer: String,
    client_id: String,
    secret_sealed: Vec<u8>,
    scopes: String,
    required: bool,
    groups_claim: Option<String>,
    default_role: String,
    updated_at: i64,
}

/// An `sso_domains` row.
#[derive(sqlx::FromRow)]
pub struct SsoDomainRow {
    domain: String,
    verified_at: Option<i64>,
}

/// An `sso_group_map` row.
#[derive(sqlx::FromRow)]
pub struct SsoGroupRow {
    claim_value: String,
    group_id: String,
}

/// Scopes as stored: separated by spaces, as OAuth writes them.
pub fn scopes_text(scopes: &[String]) -> String {
    scopes.join(" ")
}

impl SsoProviderRow {
    /// The provider, with its domains (in the order they were read) and group mapping.
    pub fn assemble(
        self,
        domains: Vec<SsoDomainRow>,
        groups: Vec<SsoGroupRow>,
    ) -> StoreResult<SsoProvider> {
        let domains = domains
            .into_iter()
            .map(|row| {
                Ok(SsoDomain { domain: row.domain, verified_at: opt_from_ms(row.verified_at)? })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let groups = groups
            .into_iter()
            .map(|row| Ok((row.claim_value, parse_id("group_id", &row.group_id)?)))
            .collect::<StoreResult<_>>()?;
        let preset = SsoPreset::parse(&self.preset)
            .ok_or_else(|| StoreError::Backend(format!("unknown SSO preset {}", self.preset)))?;
        Ok(SsoProvider {
            org_id: parse_id("org_id", &self.org_id)?,
            settings: SsoSettings {
                preset,
                issuer: self.issuer,
                client_id: self.client_id,
                scopes: self.scopes.split_whitespace().map(str::to_string).collect(),
                required: self.required,
                groups_claim: self.groups_claim,
                default_role: self.default_role.parse::<Role>().map_err(StoreError::Backend)?,
                domains: domains.iter().map(|d| d.domain.clone()).collect(),
                groups,
            },
            secret_sealed: self.secret_sealed,
            domains,
            updated_at: from_ms(self.updated_at)?,
        })
    }
}
