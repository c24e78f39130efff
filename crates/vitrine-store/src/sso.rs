//! Single sign-on: an organization's OpenID Connect provider, the email domains that lead to
//! it, which Vitrine group each value of its groups claim stands for, and which user each of
//! its subjects is. The client secret is kept sealed (the server seals it with the master key);
//! the audit records that it changed, never what it is.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use vitrine_core::{GroupId, OrgId, Role, UserId};

use crate::{Actor, StoreResult};

/// Which kind of provider an organization signs in with: it names the button and suggests the
/// issuer and scopes; the protocol is the same for all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SsoPreset {
    /// Microsoft Entra ID (Azure AD).
    Entra,
    Google,
    /// Okta, Keycloak, Auth0 or any other OpenID provider.
    Generic,
}

impl SsoPreset {
    pub const ALL: [SsoPreset; 3] = [SsoPreset::Entra, SsoPreset::Google, SsoPreset::Generic];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Entra => "entra",
            Self::Google => "google",
            Self::Generic => "generic",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|preset| preset.as_str() == raw)
    }

    /// What the sign-in button says after "Sign in with".
    pub fn label(self) -> &'static str {
        match self {
            Self::Entra => "Microsoft",
            Self::Google => "Google",
            Self::Generic => "single sign-on",
        }
    }
}

/// An email domain that leads to an organization's provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoDomain {
    pub domain: String,
    /// Set once an operator of the installation verified that the organization owns it; only
    /// a verified domain leads the sign-in page to the provider or lets it create accounts.
    pub verified_at: Option<DateTime<Utc>>,
}

/// What an administrator sets; the secret goes beside it, sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoSettings {
    pub preset: SsoPreset,
    pub issuer: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    /// Passwords are refused for the organization's users (operators excepted).
    pub required: bool,
    /// The ID token claim whose values name groups (`groups`, `roles`), if any.
    pub groups_claim: Option<String>,
    /// The role of an account made at its first sign-in.
    pub default_role: Role,
    pub domains: Vec<String>,
    /// Claim value → the Vitrine group it stands for.
    pub groups: BTreeMap<String, GroupId>,
}

/// An organization's provider as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoProvider {
    pub org_id: OrgId,
    pub settings: SsoSettings,
    pub secret_sealed: Vec<u8>,
    /// The domains with their verification, in the order of `settings.domains`.
    pub domains: Vec<SsoDomain>,
    pub updated_at: DateTime<Utc>,
}

impl SsoProvider {
    /// Whether `domain` is one of the organization's verified domains.
    pub fn owns_domain(&self, domain: &str) -> bool {
        self.domains.iter().any(|d| d.domain == domain && d.verified_at.is_some())
    }
}

#[async_trait]
pub trait SsoStore: Send + Sync {
    /// The organization's provider, if it set one.
    async fn sso_provider(&self, org: OrgId) -> StoreResult<Option<SsoProvider>>;
    /// Sets the organization's provider or replaces it; audited. `secret_sealed` `None` keeps
    /// the stored secret (`NotFound` when there is none). Domains it keeps keep their
    /// verification; new ones are verified at once when `verified` (an operator sets them).
    /// A domain of another organization is a `Conflict` on `domains`.
    async fn set_sso_provider(
        &self,
        org: OrgId,
        actor: &Actor,
        settings: &SsoSettings,
        secret_sealed: Option<&[u8]>,
        verified: bool,
    ) -> StoreResult<SsoProvider>;
    /// Removes the organization's provider and its domains and group mapping; audited. Its
    /// users keep their accounts (and their link to the provider, should it come back).
    async fn delete_sso_provider(&self, org: OrgId, actor: &Actor) -> StoreResult<()>;
    /// An operator verifies that the organization owns `domain`; audited in the organization.
    async fn verify_sso_domain(&self, org: OrgId, actor: &Actor, domain: &str) -> StoreResult<()>;
    /// The provider a verified domain leads to (before any organization is known).
    async fn sso_provider_for_domain(&self, domain: &str) -> StoreResult<Option<SsoProvider>>;
    /// The user a provider's subject signed in as before.
    async fn sso_identity(
        &self,
        org: OrgId,
        issuer: &str,
        subject: &str,
    ) -> StoreResult<Option<UserId>>;
    /// Records that the provider's `subject` is `user` (replacing an earlier link).
    async fn link_sso_identity(
        &self,
        org: OrgId,
        issuer: &str,
        subject: &str,
        user: UserId,
    ) -> StoreResult<()>;
}

/// What the audit keeps of a provider: never its secret.
pub fn audited_sso(provider: &SsoProvider) -> serde_json::Value {
    let settings = &provider.settings;
    serde_json::json!({
        "preset": settings.preset,
        "issuer": settings.issuer,
        "clientId": settings.client_id,
        "scopes": settings.scopes,
        "required": settings.required,
        "groupsClaim": settings.groups_claim,
        "defaultRole": settings.default_role,
        "domains": settings.domains,
        "groups": settings.groups.iter()
            .map(|(claim, group)| (claim.clone(), serde_json::Value::String(group.to_string())))
            .collect::<serde_json::Map<_, _>>(),
    })
}

/// The audit of a provider set (`old` none) or replaced: its action, the values before and
/// after, the secret only said to be set or changed.
pub fn sso_audit(
    old: Option<&SsoProvider>,
    new: &SsoProvider,
) -> (&'static str, Option<serde_json::Value>, serde_json::Value) {
    let mut after = audited_sso(new);
    let changed = old.is_none_or(|old| old.secret_sealed != new.secret_sealed);
    after["secret"] = serde_json::Value::String(if changed { "changed" } else { "kept" }.into());
    match old {
        None => ("created", None, after),
        Some(old) => ("updated", Some(audited_sso(old)), after),
    }
}
