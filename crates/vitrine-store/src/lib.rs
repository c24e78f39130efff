//! Vitrine's persistence. Callers see only the [`Store`] trait and plain record types; the
//! SQLite implementation (and the PostgreSQL one to come) stays behind it. Every method that
//! reads or writes an organization's data takes that organization's [`OrgId`], so a query that
//! crosses tenants cannot be written by accident, and every change is written to the audit log
//! in the same transaction as the change itself.

pub mod conformance;
mod displays;
mod installation;
mod records;
mod sources;
mod sqlite;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use vitrine_core::capacity::CapacityState;
use vitrine_core::lockout::{Gate, LockoutRule};
use vitrine_core::token::Revocation;
use vitrine_core::{
    ApiKeyId, CapacityId, DatasetId, GroupId, OrgId, OrgSettings, Permission, ReportId, UserId,
};

pub use displays::*;
pub use installation::{AccountStore, InstallationStore};
pub use records::*;
pub use sources::*;
pub use sqlite::SqliteStore;

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

/// Opens the store named by a database URL. The scheme picks the implementation, once.
pub async fn open(url: &str) -> StoreResult<std::sync::Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(std::sync::Arc::new(SqliteStore::open(url).await?))
    } else {
        Err(StoreError::UnsupportedUrl(format!(
            "{} (supported: sqlite://path)",
            url.split(':').next().unwrap_or_default()
        )))
    }
}

#[async_trait]
pub trait Store:
    InstallationStore + AccountStore + DisplayStore + SourceStore + Send + Sync + 'static
{
    /// Applies pending migrations; returns how many were applied.
    async fn migrate(&self) -> StoreResult<usize>;
    /// Cheap liveness probe.
    async fn ping(&self) -> StoreResult<()>;
    /// Flushes and closes connections; called on shutdown.
    async fn close(&self);

    // Organizations (installation level).
    /// Creates an organization with default settings; recorded in the installation audit.
    /// Refused with `Conflict { field: "name" }` when another has the name (any case).
    async fn create_organization(&self, actor: &Actor, name: &str) -> StoreResult<Organization>;
    async fn list_organizations(&self) -> StoreResult<Vec<Organization>>;
    async fn get_organization(&self, org: OrgId) -> StoreResult<Organization>;
    async fn update_settings(
        &self,
        org: OrgId,
        actor: &Actor,
        settings: &OrgSettings,
    ) -> StoreResult<OrgSettings>;

    // Users.
    async fn create_user(&self, org: OrgId, actor: &Actor, user: &NewUser) -> StoreResult<User>;
    async fn get_user(&self, org: OrgId, id: UserId) -> StoreResult<User>;
    async fn list_users(&self, org: OrgId) -> StoreResult<Vec<User>>;
    /// A change of password also lifts a lock and ends every session of the user.
    async fn update_user(
        &self,
        org: OrgId,
        actor: &Actor,
        id: UserId,
        change: &UserChange,
    ) -> StoreResult<User>;
    async fn delete_user(&self, org: OrgId, actor: &Actor, id: UserId) -> StoreResult<()>;

    // Sign-in (before an organization is known: the email is unique installation-wide).
    async fn find_login(&self, email: &str) -> StoreResult<Option<LoginRecord>>;
    /// Admits one sign-in attempt by `rule`, counting it as wrong until
    /// [`Store::record_successful_login`] says otherwise; atomic per account, so parallel
    /// attempts are counted one after the other.
    async fn begin_login_attempt(
        &self,
        user: UserId,
        rule: &LockoutRule,
        now: DateTime<Utc>,
    ) -> StoreResult<Gate>;
    /// The password was right: the count starts again and the attempt's own lock is lifted.
    async fn record_successful_login(&self, user: UserId) -> StoreResult<()>;

    // Sessions, keyed by the hash of the cookie value.
    async fn create_session(&self, session: &NewSession) -> StoreResult<()>;
    async fn find_session(&self, token_hash: &[u8]) -> StoreResult<Option<SessionRecord>>;
    async fn touch_session(&self, token_hash: &[u8], at: DateTime<Utc>) -> StoreResult<()>;
    async fn delete_session(&self, token_hash: &[u8]) -> StoreResult<()>;

    // Groups.
    async fn create_group(&self, org: OrgId, actor: &Actor, group: &NewGroup)
    -> StoreResult<Group>;
    async fn get_group(&self, org: OrgId, id: GroupId) -> StoreResult<Group>;
    async fn list_groups(&self, org: OrgId) -> StoreResult<Vec<Group>>;
    async fn delete_group(&self, org: OrgId, actor: &Actor, id: GroupId) -> StoreResult<()>;
    async fn add_group_member(
        &self,
        org: OrgId,
        actor: &Actor,
        group: GroupId,
        user: UserId,
    ) -> StoreResult<()>;
    async fn remove_group_member(
        &self,
        org: OrgId,
        actor: &Actor,
        group: GroupId,
        user: UserId,
    ) -> StoreResult<()>;
    async fn group_members(&self, org: OrgId, group: GroupId) -> StoreResult<Vec<User>>;
    async fn groups_of_user(&self, org: OrgId, user: UserId) -> StoreResult<Vec<Group>>;

    // Reports and who may open them.
    async fn create_report(
        &self,
        org: OrgId,
        actor: &Actor,
        report: &NewReport,
    ) -> StoreResult<Report>;
    async fn get_report(&self, org: OrgId, id: ReportId) -> StoreResult<Report>;
    /// The organization a report belongs to: for the embed page, which is framed before any
    /// token exists and must name the organization's allowed origins.
    async fn organization_of_report(&self, id: ReportId) -> StoreResult<OrgId>;
    async fn list_reports(&self, org: OrgId) -> StoreResult<Vec<Report>>;
    async fn update_report(
        &self,
        org: OrgId,
        actor: &Actor,
        id: ReportId,
        change: &ReportChange,
    ) -> StoreResult<Report>;
    async fn delete_report(&self, org: OrgId, actor: &Actor, id: ReportId) -> StoreResult<()>;
    async fn set_report_access(
        &self,
        org: OrgId,
        actor: &Actor,
        report: ReportId,
        grantee: Grantee,
        granted: bool,
    ) -> StoreResult<()>;
    async fn report_access(&self, org: OrgId, report: ReportId) -> StoreResult<ReportAccess>;
    /// Reports the user may open: granted to them or to one of their groups.
    async fn reports_for_user(&self, org: OrgId, user: UserId) -> StoreResult<Vec<Report>>;
    /// Where the report runs and whether `user` may open it, without reading its definition.
    async fn report_gate(
        &self,
        org: OrgId,
        user: UserId,
        report: ReportId,
    ) -> StoreResult<ReportGate>;
    /// The report and whether `user` may open it (a direct grant or one of their groups').
    async fn report_for_user(
        &self,
        org: OrgId,
        user: UserId,
        report: ReportId,
    ) -> StoreResult<(Report, bool)>;

    // Permissions.
    async fn set_permission(
        &self,
        org: OrgId,
        actor: &Actor,
        permission: Permission,
        grantee: Grantee,
        granted: bool,
    ) -> StoreResult<()>;
    /// Permissions granted to the grantee itself (not through groups).
    async fn direct_permissions(
        &self,
        org: OrgId,
        grantee: Grantee,
    ) -> StoreResult<Vec<Permission>>;
    /// The union of the user's own grants and their groups'.
    async fn effective_permissions(&self, org: OrgId, user: UserId)
    -> StoreResult<Vec<Permission>>;

    // API keys, keyed by the hash of the secret.
    async fn create_api_key(
        &self,
        org: OrgId,
        actor: &Actor,
        key: &NewApiKey,
    ) -> StoreResult<ApiKey>;
    async fn list_api_keys(&self, org: OrgId) -> StoreResult<Vec<ApiKey>>;
    async fn revoke_api_key(&self, org: OrgId, actor: &Actor, id: ApiKeyId) -> StoreResult<()>;
    /// The unrevoked key with this secret, its creator and organization.
    async fn find_api_key(&self, secret_hash: &[u8]) -> StoreResult<Option<ApiKeyRecord>>;
    async fn touch_api_key(&self, id: ApiKeyId, at: DateTime<Utc>) -> StoreResult<()>;

    // A host app's users (embed tokens minted by an API key).
    /// Records that a token is minted for the host app's user `seen.external_id`, creating
    /// them on first sight.
    async fn identity_seen(&self, org: OrgId, seen: &IdentitySeen) -> StoreResult<Identity>;
    async fn find_identity(&self, org: OrgId, external_id: &str) -> StoreResult<Option<Identity>>;
    /// The organization's identities, latest seen first.
    async fn list_identities(&self, org: OrgId, limit: u32) -> StoreResult<Vec<Identity>>;

    // Audit log of entity changes.
    async fn list_audit(&self, org: OrgId, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>>;

    // Embed token signing keys (installation level).
    async fn insert_signing_key(&self, key: &StoredSigningKey) -> StoreResult<()>;
    /// Every key, retired ones included, oldest first.
    async fn list_signing_keys(&self) -> StoreResult<Vec<StoredSigningKey>>;
    async fn retire_signing_key(&self, kid: &str, at: DateTime<Utc>) -> StoreResult<()>;

    // Token revocations: a later "not before" replaces an earlier one, never the reverse.
    async fn record_revocation(&self, revocation: &Revocation) -> StoreResult<()>;
    /// Revocations whose "not before" is at or after `since` (Unix milliseconds); older ones
    /// can no longer affect a token that has not expired.
    async fn list_revocations(&self, since: i64) -> StoreResult<Vec<Revocation>>;
    /// Every user with an expiry date, for the in-memory revocation index.
    async fn user_expiries(&self) -> StoreResult<Vec<(UserId, DateTime<Utc>)>>;

    // Datasets.
    async fn create_dataset(
        &self,
        org: OrgId,
        actor: &Actor,
        dataset: &Dataset,
    ) -> StoreResult<Dataset>;
    async fn list_datasets(&self, org: OrgId) -> StoreResult<Vec<Dataset>>;
    async fn get_dataset(&self, org: OrgId, id: DatasetId) -> StoreResult<Dataset>;
    async fn delete_dataset(&self, org: OrgId, actor: &Actor, id: DatasetId) -> StoreResult<()>;
    /// Every dataset of the installation, to load at start.
    async fn all_datasets(&self) -> StoreResult<Vec<Dataset>>;

    // Report definitions.
    async fn set_report_definition(
        &self,
        org: OrgId,
        actor: &Actor,
        report: ReportId,
        definition: Option<&serde_json::Value>,
    ) -> StoreResult<Report>;

    // Row-level-security roles and attributes of users and groups.
    /// Replaces the grantee's roles and attributes.
    async fn set_rls_assignment(
        &self,
        org: OrgId,
        actor: &Actor,
        grantee: Grantee,
        assignment: &RlsAssignment,
    ) -> StoreResult<()>;
    async fn rls_assignment(&self, org: OrgId, grantee: Grantee) -> StoreResult<RlsAssignment>;
    /// The user's roles (their own and their groups') and attributes (their groups', then
    /// their own, which win).
    async fn effective_rls(&self, org: OrgId, user: UserId) -> StoreResult<RlsAssignment>;

    // Capacities.
    async fn create_capacity(
        &self,
        org: OrgId,
        actor: &Actor,
        capacity: &Capacity,
    ) -> StoreResult<Capacity>;
    async fn list_capacities(&self, org: OrgId) -> StoreResult<Vec<Capacity>>;
    async fn get_capacity(&self, org: OrgId, id: CapacityId) -> StoreResult<Capacity>;
    /// Every capacity of the installation, for the scheduler.
    async fn all_capacities(&self) -> StoreResult<Vec<Capacity>>;
    async fn update_capacity(
        &self,
        org: OrgId,
        actor: &Actor,
        id: CapacityId,
        change: &CapacityChange,
    ) -> StoreResult<Capacity>;
    /// Deletes a capacity and its timeline. Refused with `Conflict { field: "reports" }` while
    /// reports run on it, so that none is silently left always on, and with
    /// `Conflict { field: "state" }` while it is resuming or pausing.
    async fn delete_capacity(&self, org: OrgId, actor: &Actor, id: CapacityId) -> StoreResult<()>;
    /// Moves a capacity to `event.state` only if it is in one of `from` now, recording the
    /// event in the same transaction; returns whether it moved. Of many concurrent callers
    /// asking for the same transition, exactly one succeeds.
    async fn transition_capacity(
        &self,
        from: &[CapacityState],
        event: &CapacityEvent,
    ) -> StoreResult<bool>;
    /// Notes activity that keeps the capacity on (never moves the time backwards), and each of
    /// `keepers` as keeping it on at `at` (never backwards either), in one write.
    async fn record_capacity_activity(
        &self,
        id: CapacityId,
        keepers: &[&str],
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Who kept the capacity on since `since`, most recent first.
    async fn capacity_keepers(
        &self,
        org: OrgId,
        id: CapacityId,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<(String, DateTime<Utc>)>>;
    /// The timeline, newest first.
    async fn capacity_events(
        &self,
        org: OrgId,
        id: CapacityId,
        limit: u32,
    ) -> StoreResult<Vec<CapacityEvent>>;
    async fn set_report_capacity(
        &self,
        org: OrgId,
        actor: &Actor,
        report: ReportId,
        capacity: Option<CapacityId>,
    ) -> StoreResult<Report>;

    // Token audit trail.
    async fn insert_token_events(&self, events: &[TokenEvent]) -> StoreResult<()>;
    async fn list_token_events(
        &self,
        org: OrgId,
        filter: &TokenEventFilter,
    ) -> StoreResult<Vec<TokenEvent>>;
}
