//! Displays: screens paired by a code, each backed by a user of kind display (no password,
//! never signs in) so that groups, grants, row-level security and capacity permissions apply to
//! it as to people. A screen authenticates with a credential of its own, stored here only as a
//! hash, which it rotates; while it does, the one before stays valid for a while, so that a
//! screen restarted in the middle of a rotation is not stranded.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use vitrine_core::{GroupId, OrgId, OrgSettings, UserId};

use crate::{Actor, StoreResult, User};

/// A paired screen.
#[derive(Debug, Clone, PartialEq)]
pub struct Display {
    /// The id of the user it is backed by.
    pub id: UserId,
    pub org_id: OrgId,
    pub name: String,
    /// The user's email: a handle no mail reaches (`display-…@displays.invalid`), which is
    /// also its row-level-security username.
    pub handle: String,
    /// What it shows, as the API gives it (`{"report":…}` or `{"playlist":[…]}`); checked by
    /// the server, kept here as given.
    pub show: Value,
    pub paired_at: DateTime<Utc>,
    /// Who paired it (the administrator's label).
    pub paired_by: String,
    pub credential_issued_at: DateTime<Utc>,
    /// What the screen last said about itself.
    pub last_seen_at: Option<DateTime<Utc>>,
    pub last_state: Option<String>,
    pub last_detail: Option<String>,
    pub user_agent: Option<String>,
    /// When the alert that it went offline was sent, for its current absence.
    pub offline_alerted_at: Option<DateTime<Utc>>,
}

/// A display to pair.
#[derive(Debug, Clone)]
pub struct NewDisplay {
    pub name: String,
    pub show: Value,
    /// SHA-256 of the credential handed to the screen.
    pub credential_hash: Vec<u8>,
    /// Groups it joins at once.
    pub groups: Vec<GroupId>,
}

/// A partial update; `None` leaves a field unchanged.
#[derive(Debug, Clone, Default)]
pub struct DisplayChange {
    pub name: Option<String>,
    pub show: Option<Value>,
}

/// What a screen says about itself.
#[derive(Debug, Clone)]
pub struct DisplaySeen {
    pub at: DateTime<Utc>,
    pub state: String,
    pub detail: Option<String>,
    pub user_agent: Option<String>,
}

/// A display found by its credential, with what a request needs of its organization.
#[derive(Debug, Clone)]
pub struct DisplayAuth {
    pub display: Display,
    pub user: User,
    pub org_name: String,
    pub org_suspended: bool,
    pub settings: OrgSettings,
    /// Whether the credential presented is the one before the last rotation.
    pub previous: bool,
}

#[async_trait]
pub trait DisplayStore: Send + Sync {
    /// Pairs a display in one transaction: the user it is backed by (viewer role, no
    /// password), its record with the credential's hash, its groups, and the audit entry
    /// `display paired`. A group not of `org` refuses it with `NotFound`.
    async fn create_display(
        &self,
        org: OrgId,
        actor: &Actor,
        new: &NewDisplay,
    ) -> StoreResult<Display>;
    async fn get_display(&self, org: OrgId, id: UserId) -> StoreResult<Display>;
    /// The organization's displays, by name.
    async fn list_displays(&self, org: OrgId) -> StoreResult<Vec<Display>>;
    /// Every display of the installation (the health check's pass).
    async fn all_displays(&self) -> StoreResult<Vec<Display>>;
    async fn update_display(
        &self,
        org: OrgId,
        actor: &Actor,
        id: UserId,
        change: &DisplayChange,
    ) -> StoreResult<Display>;
    /// Unpairs a display: deletes it and the user behind it (grants and memberships too).
    async fn delete_display(&self, org: OrgId, actor: &Actor, id: UserId) -> StoreResult<()>;
    /// The display whose current credential hashes to `hash`, or whose previous one does and
    /// is still valid at `now`.
    async fn find_display_by_credential(
        &self,
        hash: &[u8],
        now: DateTime<Utc>,
    ) -> StoreResult<Option<DisplayAuth>>;
    /// Replaces the credential the screen presented (its current one, or the previous one
    /// while still valid) by `new`. Presenting the current one keeps it valid until
    /// `previous_until`; presenting the previous one leaves that as it was, so a screen that
    /// lost the answer of a rotation rotates again with the credential it still has. Answers
    /// false, and changes nothing, when `presented` is neither.
    async fn rotate_display_credential(
        &self,
        id: UserId,
        presented: &[u8],
        new: &[u8],
        at: DateTime<Utc>,
        previous_until: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Notes what the screen said about itself (never audited: it is not a change).
    async fn display_seen(&self, id: UserId, seen: &DisplaySeen) -> StoreResult<()>;
    /// Notes that the offline alert was sent (`Some`) or that the display is back (`None`).
    async fn set_display_alerted(&self, id: UserId, at: Option<DateTime<Utc>>) -> StoreResult<()>;
}
