//! Permissions granted to users and groups.

use async_trait::async_trait;
use vitrine_core::{OrgId, Permission, UserId};

use crate::{Actor, Grantee, StoreResult};

#[async_trait]
pub trait PermissionStore: Send + Sync {
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
}
