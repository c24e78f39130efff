//! The installation above organizations (set-up, operators, organizations' lifecycle and
//! limits, the installation audit) and what a user manages of their own account (sessions).
//! Operators change organizations, never their content: nothing here reads a report or a
//! dataset.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use vitrine_core::{OrgId, OrgLimits, UserId};

use crate::{
    Actor, InstallationAuditEntry, NewUser, OrgUsage, Organization, SessionInfo, StoreResult, User,
};

#[async_trait]
pub trait InstallationStore: Send + Sync {
    /// Whether first-run set-up is done: any organization exists.
    async fn is_set_up(&self) -> StoreResult<bool>;
    /// First run, in one transaction: the first organization, its first administrator, who
    /// becomes the first operator. Refused with `Conflict { field: "setup" }` once any
    /// organization exists, so of concurrent attempts exactly one succeeds.
    async fn complete_setup(
        &self,
        at: DateTime<Utc>,
        org_name: &str,
        admin: &NewUser,
    ) -> StoreResult<(Organization, User)>;

    /// Gives a user the operator role (idempotent); a display's user is `NotFound`.
    async fn grant_operator(&self, actor: &Actor, user: UserId) -> StoreResult<User>;
    /// Takes the operator role back. Refused with `Conflict { field: "operators" }` for the
    /// last operator, so the installation always keeps one.
    async fn revoke_operator(&self, actor: &Actor, user: UserId) -> StoreResult<()>;
    async fn list_operators(&self) -> StoreResult<Vec<User>>;

    /// Refused with `Conflict { field: "name" }` when another organization has the name.
    async fn rename_organization(
        &self,
        actor: &Actor,
        org: OrgId,
        name: &str,
    ) -> StoreResult<Organization>;
    /// Suspending also ends every session of the organization's users.
    async fn set_organization_suspended(
        &self,
        actor: &Actor,
        org: OrgId,
        suspended: bool,
    ) -> StoreResult<Organization>;
    async fn set_organization_limits(
        &self,
        actor: &Actor,
        org: OrgId,
        limits: &OrgLimits,
    ) -> StoreResult<Organization>;
    /// Deletes the organization and everything of it; the installation audit keeps the record.
    async fn delete_organization(&self, actor: &Actor, org: OrgId) -> StoreResult<Organization>;
    async fn organization_usage(&self, org: OrgId) -> StoreResult<OrgUsage>;
    /// Newest first.
    async fn list_installation_audit(&self, limit: u32)
    -> StoreResult<Vec<InstallationAuditEntry>>;
}

#[async_trait]
pub trait AccountStore: Send + Sync {
    /// The user's sessions, most recently used first.
    async fn list_sessions(&self, user: UserId) -> StoreResult<Vec<SessionInfo>>;
    /// Ends every session of the user but `keep` (the hash of the one to keep), if given;
    /// returns how many ended.
    async fn end_sessions(&self, user: UserId, keep: Option<&[u8]>) -> StoreResult<u64>;
    /// Sets the user's own password, lifts a lock, and ends their other sessions, in one
    /// transaction; audited as a change of the user by themselves.
    async fn change_own_password(
        &self,
        actor: &Actor,
        user: &User,
        password_hash: &str,
        keep_session: Option<&[u8]>,
    ) -> StoreResult<()>;
    /// Sets a password through an emailed link (invitation or reset), only if the password
    /// hash is still `expected_hash` (so each link works once), lifts a lock and ends every
    /// session. Returns whether it was set.
    async fn set_password_by_link(
        &self,
        user: &User,
        expected_hash: &str,
        password_hash: &str,
        at: DateTime<Utc>,
        action: &'static str,
    ) -> StoreResult<bool>;
    /// The stored password hash of a user (empty while invited), to bind emailed links to it.
    async fn password_hash(&self, user: UserId) -> StoreResult<String>;
}
