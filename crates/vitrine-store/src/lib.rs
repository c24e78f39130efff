//! Vitrine's persistence contract. Callers see only the [`Store`] trait and plain record types;
//! each database implements it in a crate of its own (`vitrine-store-sqlite`,
//! `vitrine-store-postgres`), and every implementation passes the [`conformance`] suite. Every method that
//! reads or writes an organization's data takes that organization's
//! [`OrgId`](vitrine_core::OrgId), so a query that crosses tenants cannot be written by
//! accident, and every change is written to the audit log in the same transaction as the change
//! itself.
//!
//! [`Store`] is made of one trait per concept ([`UserStore`], [`ReportStore`],
//! [`CapacityStore`], …), each in a file of its own here and in each backend; a backend
//! implements them all, and callers holding an `Arc<dyn Store>` call any of them.

mod api_keys;
mod audit;
mod capacities;
mod cluster;
pub mod conformance;
mod datasets;
mod displays;
mod groups;
mod guards;
mod installation;
mod organizations;
mod permissions;
mod powerbi;
mod records;
mod reports;
mod rls;
pub mod rows;
mod scim;
mod sources;
mod sso;
mod tokens;
pub mod transfer;
mod users;

use async_trait::async_trait;

pub use api_keys::ApiKeyStore;
pub use audit::AuditStore;
pub use capacities::CapacityStore;
pub use cluster::*;
pub use datasets::DatasetStore;
pub use displays::*;
pub use groups::GroupStore;
pub use guards::{GuardStore, stranger_forget_at};
pub use installation::{AccountStore, InstallationStore};
pub use organizations::OrganizationStore;
pub use permissions::PermissionStore;
pub use powerbi::{
    AzureCapacity, AzureCapacityKind, PowerBiLink, PowerBiStore, PowerBiTenant, audited_tenant,
    tenant_audit,
};
pub use records::*;
pub use reports::ReportStore;
pub use rls::RlsStore;
pub use scim::{ScimGroup, ScimStore, ScimUser};
pub use sources::*;
pub use sso::{SsoDomain, SsoPreset, SsoProvider, SsoSettings, SsoStore, audited_sso, sso_audit};
pub use tokens::TokenStore;
pub use users::UserStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A unique value is already taken; names the field.
    #[error("{field} is already in use")]
    Conflict { field: &'static str },
    /// One of the organization's limits (named by its field) leaves no room for this.
    #[error("the organization's {limit} limit is reached")]
    LimitReached { limit: &'static str },
    #[error("unsupported database URL: {0}")]
    UnsupportedUrl(String),
    /// The database failed; the detail is for logs, never for responses.
    #[error("database error: {0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The whole store: every concept's trait, and what concerns the database as a whole.
#[async_trait]
pub trait Store:
    OrganizationStore
    + UserStore
    + GroupStore
    + ReportStore
    + PermissionStore
    + ApiKeyStore
    + AuditStore
    + TokenStore
    + DatasetStore
    + RlsStore
    + CapacityStore
    + InstallationStore
    + AccountStore
    + DisplayStore
    + SourceStore
    + ClusterStore
    + GuardStore
    + PowerBiStore
    + SsoStore
    + ScimStore
    + transfer::TransferStore
    + Send
    + Sync
    + 'static
{
    /// Applies pending migrations; returns how many were applied.
    async fn migrate(&self) -> StoreResult<usize>;
    /// Cheap liveness probe.
    async fn ping(&self) -> StoreResult<()>;
    /// Flushes and closes connections; called on shutdown.
    async fn close(&self);
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            other => StoreError::Backend(other.to_string()),
        }
    }
}

/// A database error, read as [`StoreError::Conflict`] on `field` when it is a unique
/// violation (every backend reports those the same way through sqlx).
pub fn conflict_on_unique(error: sqlx::Error, field: &'static str) -> StoreError {
    match error.as_database_error() {
        Some(db) if db.is_unique_violation() => StoreError::Conflict { field },
        _ => error.into(),
    }
}
