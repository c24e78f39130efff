//! Who is acting, and proofs of what they may do. Handlers obtain a [`Principal`] from
//! authentication; administrative code paths require an [`AdminScope`] or [`ContentScope`],
//! which can only be had from a principal holding the right role.

use crate::ids::{ApiKeyId, OrgId, UserId};
use crate::role::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    Session,
    ApiKey(ApiKeyId, ApiKeyScope),
    /// A paired display's credential (see the server's displays).
    Display,
}

/// What an API key may do.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum ApiKeyScope {
    /// Whatever an administrator of its organization may (every key made before scopes).
    #[default]
    Admin,
    /// Only mint embed tokens for the host app's users (and revoke theirs): every other call
    /// of the API is refused.
    Embed,
    /// Only read: every call that changes something is refused.
    Read,
    /// Only SCIM provisioning (`/scim/v2`, as `Authorization: Bearer`): every call of the
    /// JSON API is refused.
    Scim,
}

impl ApiKeyScope {
    pub const ALL: [ApiKeyScope; 4] =
        [ApiKeyScope::Admin, ApiKeyScope::Embed, ApiKeyScope::Read, ApiKeyScope::Scim];

    pub fn as_str(self) -> &'static str {
        match self {
            ApiKeyScope::Admin => "admin",
            ApiKeyScope::Embed => "embed",
            ApiKeyScope::Read => "read",
            ApiKeyScope::Scim => "scim",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == raw)
    }

    /// Whether a key of this scope may make a call of the JSON API (the embed-token endpoint
    /// aside, which asks [`ApiKeyScope::mints_embed_tokens`]); `changes` when the call's
    /// method is not a safe one.
    pub fn allows_api_call(self, changes: bool) -> bool {
        match self {
            ApiKeyScope::Admin => true,
            ApiKeyScope::Read => !changes,
            ApiKeyScope::Embed | ApiKeyScope::Scim => false,
        }
    }

    /// Whether a key of this scope may mint embed tokens for the host app's users.
    pub fn mints_embed_tokens(self) -> bool {
        matches!(self, ApiKeyScope::Admin | ApiKeyScope::Embed)
    }
}

/// An authenticated caller, always bound to exactly one organization.
#[derive(Debug, Clone)]
pub struct Principal {
    pub org_id: OrgId,
    /// The signed-in user; `None` when the caller is an API key.
    pub user_id: Option<UserId>,
    pub role: Role,
    /// Shown in the audit log: an email, or the API key's name.
    pub label: String,
    pub method: AuthMethod,
    /// Whether the caller is one of the installation's operators (signed in, never an API key).
    pub operator: bool,
}

/// The caller lacks the role the action requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("This action requires the {required} role")]
pub struct Forbidden {
    pub required: &'static str,
}

/// Proof that the caller administers `org_id`.
#[derive(Debug, Clone)]
pub struct AdminScope {
    principal: Principal,
}

/// Proof that the caller may manage reports and datasets of `org_id`.
#[derive(Debug, Clone)]
pub struct ContentScope {
    principal: Principal,
}

/// Proof that the caller operates the installation: manages its organizations, never their
/// content.
#[derive(Debug, Clone)]
pub struct OperatorScope {
    principal: Principal,
}

impl OperatorScope {
    pub fn principal(&self) -> &Principal {
        &self.principal
    }
}

impl Principal {
    pub fn operator(&self) -> Result<OperatorScope, Forbidden> {
        match (self.operator, self.method) {
            (true, AuthMethod::Session) => Ok(OperatorScope { principal: self.clone() }),
            _ => Err(Forbidden { required: "installation operator" }),
        }
    }

    pub fn admin(&self) -> Result<AdminScope, Forbidden> {
        match self.role {
            Role::Admin => Ok(AdminScope { principal: self.clone() }),
            _ => Err(Forbidden { required: "Admin" }),
        }
    }

    pub fn content_manager(&self) -> Result<ContentScope, Forbidden> {
        if self.role.manages_content() {
            Ok(ContentScope { principal: self.clone() })
        } else {
            Err(Forbidden { required: "Admin or Contributor" })
        }
    }
}

impl AdminScope {
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    pub fn org_id(&self) -> OrgId {
        self.principal.org_id
    }

    /// An administrator manages content too.
    pub fn content(&self) -> ContentScope {
        ContentScope { principal: self.principal.clone() }
    }
}

impl ContentScope {
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    pub fn org_id(&self) -> OrgId {
        self.principal.org_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(role: Role) -> Principal {
        Principal {
            org_id: OrgId::generate(),
            user_id: Some(UserId::generate()),
            role,
            label: "someone@example.com".into(),
            method: AuthMethod::Session,
            operator: false,
        }
    }

    #[test]
    fn only_operators_signed_in_obtain_an_operator_scope() {
        let admin = principal(Role::Admin);
        assert!(admin.operator().is_err());
        let operator = Principal { operator: true, ..principal(Role::Viewer) };
        assert!(operator.operator().is_ok());
        let method = AuthMethod::ApiKey(ApiKeyId::generate(), ApiKeyScope::Admin);
        let key = Principal { method, ..operator };
        assert!(key.operator().is_err());
    }

    #[test]
    fn an_embed_key_makes_no_api_call_and_a_read_key_changes_nothing() {
        for changes in [false, true] {
            assert!(ApiKeyScope::Admin.allows_api_call(changes));
            assert!(!ApiKeyScope::Embed.allows_api_call(changes));
        }
        assert!(ApiKeyScope::Read.allows_api_call(false));
        assert!(!ApiKeyScope::Read.allows_api_call(true));
        assert!(ApiKeyScope::Embed.mints_embed_tokens() && !ApiKeyScope::Read.mints_embed_tokens());
        for scope in ApiKeyScope::ALL {
            assert_eq!(ApiKeyScope::parse(scope.as_str()), Some(scope));
        }
        assert_eq!(ApiKeyScope::parse("Admin"), None);
    }

    #[test]
    fn only_admins_obtain_an_admin_scope() {
        assert!(principal(Role::Admin).admin().is_ok());
        assert!(principal(Role::Contributor).admin().is_err());
        assert!(principal(Role::Viewer).admin().is_err());
    }

    #[test]
    fn admins_and_contributors_manage_content_viewers_do_not() {
        assert!(principal(Role::Admin).content_manager().is_ok());
        assert!(principal(Role::Contributor).content_manager().is_ok());
        assert!(principal(Role::Viewer).content_manager().is_err());
    }
}
