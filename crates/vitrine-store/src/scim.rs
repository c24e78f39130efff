//! What SCIM provisioning knows of users and groups and Vitrine does not: the provider's
//! `userName` and `externalId`, and the attributes it sent (names, emails) as it sent them, so
//! that it reads back what it wrote. The users and groups themselves are Vitrine's, changed
//! through their own (audited) methods.

use async_trait::async_trait;
use vitrine_core::{GroupId, OrgId, UserId};

use crate::StoreResult;

/// A user as a SCIM provider knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScimUser {
    pub user_id: UserId,
    /// Unique in the organization.
    pub user_name: String,
    pub external_id: Option<String>,
    /// The attributes the provider sent that Vitrine keeps as sent (`name`, `displayName`,
    /// `emails`), a JSON object.
    pub attributes: serde_json::Value,
}

/// A group as a SCIM provider knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimGroup {
    pub group_id: GroupId,
    pub external_id: Option<String>,
}

#[async_trait]
pub trait ScimStore: Send + Sync {
    /// Every user of the organization a provider knows.
    async fn scim_users(&self, org: OrgId) -> StoreResult<Vec<ScimUser>>;
    /// What a provider knows of one user of the organization, if anything.
    async fn scim_user(&self, org: OrgId, user: UserId) -> StoreResult<Option<ScimUser>>;
    /// The user of the organization a provider knows by `user_name`, compared without regard
    /// to ASCII case.
    async fn scim_user_named(&self, org: OrgId, user_name: &str) -> StoreResult<Option<ScimUser>>;
    /// Records (or replaces) what the provider knows of a user of the organization; a
    /// `userName` another of its users has is a `Conflict` on `userName`.
    async fn set_scim_user(&self, org: OrgId, user: &ScimUser) -> StoreResult<()>;
    /// Every group of the organization a provider knows.
    async fn scim_groups(&self, org: OrgId) -> StoreResult<Vec<ScimGroup>>;
    /// What a provider knows of one group of the organization, if anything.
    async fn scim_group(&self, org: OrgId, group: GroupId) -> StoreResult<Option<ScimGroup>>;
    /// Records (or replaces) what the provider knows of a group of the organization.
    async fn set_scim_group(&self, org: OrgId, group: &ScimGroup) -> StoreResult<()>;
}
