//! Plain records exchanged with the store. No database type appears here.

use chrono::{DateTime, Utc};
use serde_json::Value;
use vitrine_core::capacity::{CapacityMode, CapacityState, WeeklyWindow};
use vitrine_core::{
    ApiKeyId, ApiKeyScope, CapacityId, DatasetId, GroupId, IdentityId, OrgId, OrgLimits,
    OrgSettings, ReportId, Role, UserId,
};

/// Who made a change, and when; recorded in the audit log with it.
#[derive(Debug, Clone)]
pub struct Actor {
    /// A user id, an API key id, or `system` for start-up tasks.
    pub id: String,
    /// An email or an API key's name, as shown in the Audit page.
    pub label: String,
    pub at: DateTime<Utc>,
}

impl Actor {
    pub fn system(at: DateTime<Utc>) -> Self {
        Self { id: "system".into(), label: "system".into(), at }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Organization {
    pub id: OrgId,
    pub name: String,
    pub settings: OrgSettings,
    pub created_at: DateTime<Utc>,
    /// Set while an operator keeps the organization suspended: nobody of it signs in.
    pub suspended_at: Option<DateTime<Utc>>,
    pub limits: OrgLimits,
}

impl Organization {
    pub fn is_suspended(&self) -> bool {
        self.suspended_at.is_some()
    }
}

/// How much of its limits an organization uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OrgUsage {
    pub users: u64,
    pub reports: u64,
    pub datasets: u64,
}

/// One entry of the installation audit log: what an operator (or set-up) did.
#[derive(Debug, Clone, PartialEq)]
pub struct InstallationAuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor_id: String,
    pub actor_label: String,
    /// `organization`, `operator` or `installation`.
    pub entity_type: String,
    pub entity_id: String,
    pub action: String,
    pub old_value: Option<Value>,
    pub new_value: Option<Value>,
}

/// A user's session as its owner sees it; never the token or its hash.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionInfo {
    /// The hash of the session's token; [`SessionInfo::id`] is the handle shown.
    pub token_hash: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

impl SessionInfo {
    /// A public handle for a session: the first bytes of its token's hash, in hex. The hash
    /// of a random 256-bit secret reveals nothing of the secret.
    pub fn id(&self) -> String {
        session_id(&self.token_hash)
    }
}

/// The public handle of the session whose token has this hash.
pub fn session_id(token_hash: &[u8]) -> String {
    token_hash.iter().take(8).map(|byte| format!("{byte:02x}")).collect()
}

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: UserId,
    pub org_id: OrgId,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub blocked: bool,
    pub expires_at: Option<DateTime<Utc>>,
    /// Set after too many wrong passwords.
    pub locked_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// False for an invited user who has not chosen a password yet.
    pub password_set: bool,
    /// Whether the user also holds the installation's operator role.
    pub operator: bool,
    /// Whether this is the user a display is backed by: it never signs in, and is changed
    /// only as a display.
    pub display: bool,
}

impl User {
    /// Whether the account may sign in or keep using a session at `now`.
    pub fn is_active_at(&self, now: DateTime<Utc>) -> bool {
        !self.blocked && self.expires_at.is_none_or(|expiry| now < expiry)
    }

    pub fn is_locked_at(&self, now: DateTime<Utc>) -> bool {
        self.locked_until.is_some_and(|until| now < until)
    }

    /// Whether changing `before` into `self` at `now` ends the user's sessions and takes back
    /// their tokens: a new password, a block, an expiry that has come (an inactive account keeps no session), another role or another
    /// email (the row-level-security username). A new name changes nothing of the sort.
    pub fn change_signs_out(
        &self,
        before: &User,
        password_changed: bool,
        now: DateTime<Utc>,
    ) -> bool {
        password_changed
            || self.role != before.role
            || self.email != before.email
            || !self.is_active_at(now)
    }
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    pub role: Role,
    /// Empty for an invited user, who chooses a password by the invitation link.
    pub password_hash: String,
    pub blocked: bool,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A partial update; `None` leaves a field unchanged.
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    pub email: Option<String>,
    pub name: Option<String>,
    pub role: Option<Role>,
    /// A new password also lifts a lock.
    pub password_hash: Option<String>,
    pub blocked: Option<bool>,
    pub expires_at: Option<Option<DateTime<Utc>>>,
}

impl UserChange {
    pub fn is_empty(&self) -> bool {
        self.email.is_none()
            && self.name.is_none()
            && self.role.is_none()
            && self.password_hash.is_none()
            && self.blocked.is_none()
            && self.expires_at.is_none()
    }
}

#[derive(Debug, Clone)]
pub struct LoginRecord {
    pub user: User,
    pub password_hash: String,
}

#[derive(Debug, Clone)]
pub struct NewSession {
    pub token_hash: Vec<u8>,
    pub user_id: UserId,
    pub created_at: DateTime<Utc>,
    /// The browser it was made from, shown to its owner (bounded in length by the caller).
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

/// A session with its user and the organization's settings, read in one query.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub user: User,
    pub org_name: String,
    pub org_suspended: bool,
    pub settings: OrgSettings,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewGroup {
    pub name: String,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub id: GroupId,
    pub org_id: OrgId,
    pub name: String,
    pub description: String,
    pub member_count: u32,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewReport {
    pub name: String,
    pub description: String,
    pub owner_id: Option<UserId>,
}

#[derive(Debug, Clone, Default)]
pub struct ReportChange {
    pub name: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub id: ReportId,
    pub org_id: OrgId,
    pub name: String,
    pub description: String,
    pub owner_id: Option<UserId>,
    /// The report's pages and visuals as JSON; `None` until a contributor defines them.
    pub definition: Option<Value>,
    /// The capacity the report runs on, if any.
    pub capacity_id: Option<CapacityId>,
    /// Where the report lives in Power BI, for a report imported from there.
    pub powerbi: Option<crate::PowerBiLink>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Report {
    /// A new report as `new` describes it, made at `at`: a fresh id, no content and no
    /// capacity yet; `powerbi` for one imported from Power BI.
    pub fn from_new(
        org: OrgId,
        new: &NewReport,
        at: DateTime<Utc>,
        powerbi: Option<crate::PowerBiLink>,
    ) -> Self {
        Self {
            id: ReportId::generate(),
            org_id: org,
            name: new.name.clone(),
            description: new.description.clone(),
            owner_id: new.owner_id,
            definition: None,
            capacity_id: None,
            powerbi,
            created_at: at,
            updated_at: at,
        }
    }
}

/// What a user's token for a report needs, read at once and without the report's definition
/// (the token path).
#[derive(Debug, Clone, PartialEq)]
pub struct ReportGate {
    pub id: ReportId,
    /// The capacity the report runs on, if any.
    pub capacity_id: Option<CapacityId>,
    /// Granted to the user directly or to one of their groups.
    pub granted: bool,
    /// The user's effective row-level-security identity, as [`crate::RlsStore::effective_rls`]
    /// gives it.
    pub identity: RlsAssignment,
    /// Where the report lives in Power BI, when it was imported from there.
    pub powerbi: Option<crate::PowerBiLink>,
}

/// Whom a report or a permission is granted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grantee {
    User(UserId),
    Group(GroupId),
}

#[derive(Debug, Clone, Default)]
pub struct ReportAccess {
    pub users: Vec<User>,
    pub groups: Vec<Group>,
}

#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub name: String,
    /// The first characters of the secret, shown so keys can be told apart.
    pub prefix: String,
    pub secret_hash: Vec<u8>,
    pub scope: ApiKeyScope,
    /// The reports the key may mint embed tokens for; `None`: all of the organization's.
    pub reports: Option<Vec<ReportId>>,
    pub expires_at: Option<DateTime<Utc>>,
    /// The tokens the key mints may start a paused capacity.
    pub wake_capacity: bool,
    /// The tokens the key mints keep a running capacity on.
    pub keep_capacity_on: bool,
    /// The administrator making it; the key works only while they may.
    pub created_by_user: Option<UserId>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub org_id: OrgId,
    pub name: String,
    pub prefix: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub scope: ApiKeyScope,
    /// The reports the key may mint embed tokens for; `None`: all of the organization's.
    pub reports: Option<Vec<ReportId>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub wake_capacity: bool,
    pub keep_capacity_on: bool,
    /// `None` for keys made before creators were recorded whose creator's email matched no
    /// account.
    pub created_by_user: Option<UserId>,
}

impl ApiKey {
    pub fn expired_at(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// Whether the key may mint embed tokens for `report`.
    pub fn covers_report(&self, report: ReportId) -> bool {
        self.reports.as_ref().is_none_or(|reports| reports.contains(&report))
    }
}

/// The administrator who made an API key, as their account stands now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyCreator {
    /// Not recorded (a key made before creators were, by an email that matched no account).
    Unrecorded,
    /// The account is deleted.
    Deleted,
    Account {
        role: Role,
        blocked: bool,
        expires_at: Option<DateTime<Utc>>,
    },
}

impl KeyCreator {
    /// A key acts for its creator: it works only while they are an active administrator.
    pub fn vouches_at(&self, now: DateTime<Utc>) -> bool {
        match *self {
            KeyCreator::Unrecorded => true,
            KeyCreator::Deleted => false,
            KeyCreator::Account { role, blocked, expires_at } => {
                role == Role::Admin && !blocked && expires_at.is_none_or(|at| now < at)
            }
        }
    }
}

/// An unrevoked API key found by its secret, with its creator and its organization, read in
/// one query.
#[derive(Debug, Clone)]
pub struct ApiKeyRecord {
    pub key: ApiKey,
    pub creator: KeyCreator,
    pub org_name: String,
    pub org_suspended: bool,
    pub settings: OrgSettings,
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// `user`, `group`, `report`, `settings`, `apiKey`, `permission`.
    pub entity_type: Option<String>,
    /// Matches part of the actor's label, ignoring case.
    pub actor: Option<String>,
    /// Matches part of the entity id or of either value.
    pub text: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor_id: String,
    pub actor_label: String,
    pub entity_type: String,
    pub entity_id: String,
    /// `created`, `updated`, `deleted`, `granted`, `revoked`.
    pub action: String,
    pub old_value: Option<Value>,
    pub new_value: Option<Value>,
}

/// An Ed25519 key pair; the private half is sealed under the installation's master key.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSigningKey {
    pub kid: String,
    pub public_key: Vec<u8>,
    pub sealed_private_key: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub retired_at: Option<DateTime<Utc>>,
}

/// Something that happened to an embed token: issued, refreshed, rejected, or revoked by an
/// administrator.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenEvent {
    /// Assigned by the store; ignored on insert.
    pub id: i64,
    /// Unknown for tokens whose signature did not verify.
    pub org_id: Option<OrgId>,
    pub at: DateTime<Utc>,
    /// `issued`, `refreshed`, `rejected` or `revoked`.
    pub kind: String,
    pub user_id: Option<UserId>,
    /// The host app's user, for tokens an embed key minted.
    pub identity_id: Option<IdentityId>,
    pub report_id: Option<ReportId>,
    pub token_id: Option<String>,
    /// Why a token was rejected or revoked.
    pub reason: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// Who revoked, for `revoked` events.
    pub actor: Option<String>,
    /// Filled in when read: the user's email and the report's name, if they still exist.
    pub user_label: Option<String>,
    pub report_label: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct TokenEventFilter {
    pub kind: Option<String>,
    /// Part of the user's email, or of `identity <id>` for a host app's user.
    pub user: Option<String>,
    pub report: Option<ReportId>,
    pub reason: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub limit: u32,
}

/// A host app's user, as embed keys mint tokens for them: no account, known by the host's own
/// id within one organization.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    pub id: IdentityId,
    pub org_id: OrgId,
    /// The host app's id for them.
    pub external_id: String,
    /// The name the host app gave last; empty when it gave none.
    pub name: String,
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    /// The key that minted their latest token.
    pub last_key_id: Option<ApiKeyId>,
}

/// A token is being minted for a host app's user.
#[derive(Debug, Clone)]
pub struct IdentitySeen {
    pub external_id: String,
    /// Replaces the name on record when given.
    pub name: Option<String>,
    pub key: Option<ApiKeyId>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub id: DatasetId,
    pub org_id: OrgId,
    pub name: String,
    /// `csv` or `parquet` (a file), or `source` (a direct dataset of a connection).
    pub format: String,
    /// A file in the data directory (relative path) or a registered absolute path; empty
    /// for a direct dataset.
    pub location: String,
    /// The columns as JSON (`[{"name","kind"}]`), as read when the dataset was added.
    pub columns: Value,
    pub row_count: u64,
    pub created_at: DateTime<Utc>,
    /// Counts the data's versions: 1 at creation, one more for each replacement or import.
    pub version: u64,
    pub updated_at: DateTime<Utc>,
    /// For a dataset of a connection: what it reads, and how.
    pub source: Option<crate::DatasetSource>,
}

/// Row-level-security roles and attributes assigned to a user or a group.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RlsAssignment {
    pub roles: Vec<String>,
    pub attributes: std::collections::BTreeMap<String, String>,
}

/// An attribute a user has from one of their groups.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct GroupAttribute {
    pub group_name: String,
    pub name: String,
    pub value: String,
}

impl RlsAssignment {
    /// A user's effective identity from what is assigned to them and to their groups: every
    /// role, once, in order; the groups' attributes, where the group whose name sorts first
    /// wins; then the user's own attributes, which win over every group's. Every backend reads
    /// the parts and leaves the precedence to this.
    pub fn effective(
        roles: impl IntoIterator<Item = String>,
        mut group_attributes: Vec<GroupAttribute>,
        own_attributes: impl IntoIterator<Item = (String, String)>,
    ) -> Self {
        let roles: std::collections::BTreeSet<String> = roles.into_iter().collect();
        // Last first: the first name's value is inserted last and stays.
        group_attributes.sort_by(|a, b| b.group_name.cmp(&a.group_name));
        let mut attributes: std::collections::BTreeMap<String, String> =
            group_attributes.into_iter().map(|a| (a.name, a.value)).collect();
        attributes.extend(own_attributes);
        Self { roles: roles.into_iter().collect(), attributes }
    }
}

/// Compute that reports run on, and how it is switched.
#[derive(Debug, Clone, PartialEq)]
pub struct Capacity {
    pub id: CapacityId,
    pub org_id: OrgId,
    pub name: String,
    /// `local` (the built-in engine), `simulated`, or `azure` (then `azure` says which).
    pub provider: String,
    /// The Azure resource behind an `azure` capacity.
    pub azure: Option<crate::AzureCapacity>,
    pub state: CapacityState,
    pub mode: CapacityMode,
    pub idle_minutes: u32,
    pub schedule: Vec<WeeklyWindow>,
    pub time_zone: String,
    pub hourly_price: f64,
    /// Whether opening a report may wake it (for users holding `capacity.turnOn`).
    pub wake_from_viewer: bool,
    pub state_since: DateTime<Utc>,
    /// The latest activity of a user holding `capacity.keepOn`.
    pub last_activity: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A partial change of a capacity's settings; `None` leaves a field unchanged.
#[derive(Debug, Clone, Default)]
pub struct CapacityChange {
    pub name: Option<String>,
    pub mode: Option<CapacityMode>,
    pub idle_minutes: Option<u32>,
    pub schedule: Option<Vec<WeeklyWindow>>,
    pub time_zone: Option<String>,
    pub hourly_price: Option<f64>,
    pub wake_from_viewer: Option<bool>,
}

/// One entry of a capacity's timeline: the state it entered, why, and who caused it.
#[derive(Debug, Clone, PartialEq)]
pub struct CapacityEvent {
    /// Assigned by the store; ignored on insert.
    pub id: i64,
    pub capacity_id: CapacityId,
    pub at: DateTime<Utc>,
    pub state: CapacityState,
    /// `manual`, `demand`, `schedule`, `inactivity`, `provider`, `restart`.
    pub reason: String,
    pub actor: Option<String>,
    pub detail: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_effective_identity_names_each_role_once_and_the_users_own_attributes_win() {
        let of_group = |group: &str, name: &str, value: &str| GroupAttribute {
            group_name: group.into(),
            name: name.into(),
            value: value.into(),
        };
        let effective = RlsAssignment::effective(
            ["Viewer", "Analyst", "Viewer"].map(String::from),
            vec![
                of_group("North", "region", "North"),
                of_group("Everyone", "region", "All"),
                of_group("North", "tier", "A"),
                of_group("Everyone", "site", "HQ"),
            ],
            [("tier".to_string(), "B".to_string())],
        );
        assert_eq!(effective.roles, ["Analyst", "Viewer"]);
        let attributes: Vec<(&str, &str)> =
            effective.attributes.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(attributes, [("region", "All"), ("site", "HQ"), ("tier", "B")]);
    }
}
