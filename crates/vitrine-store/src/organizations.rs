//! Organizations at the installation level: creating them, reading them, and their settings.
//! What only operators change of an organization is in [`crate::InstallationStore`].

use async_trait::async_trait;
use vitrine_core::{OrgId, OrgSettings};

use crate::{Actor, Organization, StoreResult};

#[async_trait]
pub trait OrganizationStore: Send + Sync {
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
}
