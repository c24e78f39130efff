//! Row-level-security roles and attributes of users and groups.

use async_trait::async_trait;
use vitrine_core::{OrgId, UserId};

use crate::{Actor, Grantee, RlsAssignment, StoreResult};

#[async_trait]
pub trait RlsStore: Send + Sync {
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
}
