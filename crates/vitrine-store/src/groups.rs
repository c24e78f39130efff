//! Groups of an organization's users, and who is in them.

use async_trait::async_trait;
use vitrine_core::{GroupId, OrgId, UserId};

use crate::{Actor, Group, NewGroup, StoreResult, User};

#[async_trait]
pub trait GroupStore: Send + Sync {
    async fn create_group(&self, org: OrgId, actor: &Actor, group: &NewGroup)
    -> StoreResult<Group>;
    async fn get_group(&self, org: OrgId, id: GroupId) -> StoreResult<Group>;
    async fn list_groups(&self, org: OrgId) -> StoreResult<Vec<Group>>;
    /// A new name for a group; audited. A name another group has is a `Conflict` on `name`.
    async fn rename_group(
        &self,
        org: OrgId,
        actor: &Actor,
        id: GroupId,
        name: &str,
    ) -> StoreResult<Group>;
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
}
