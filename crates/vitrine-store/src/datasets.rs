//! Datasets: uploaded data, and (see [`crate::SourceStore`]) data read from a connection.

use async_trait::async_trait;
use vitrine_core::{DatasetId, OrgId};

use crate::{Actor, Dataset, StoreResult};

#[async_trait]
pub trait DatasetStore: Send + Sync {
    async fn create_dataset(
        &self,
        org: OrgId,
        actor: &Actor,
        dataset: &Dataset,
    ) -> StoreResult<Dataset>;
    async fn list_datasets(&self, org: OrgId) -> StoreResult<Vec<Dataset>>;
    async fn get_dataset(&self, org: OrgId, id: DatasetId) -> StoreResult<Dataset>;
    async fn delete_dataset(&self, org: OrgId, actor: &Actor, id: DatasetId) -> StoreResult<()>;
    /// Renames a dataset and sets how an imported one refreshes (`source` fields other than
    /// the refresh settings are kept); audited with the values before and after.
    async fn update_dataset(
        &self,
        org: OrgId,
        actor: &Actor,
        dataset: &Dataset,
    ) -> StoreResult<Dataset>;
    /// Every dataset of the installation, to load at start.
    async fn all_datasets(&self) -> StoreResult<Vec<Dataset>>;
}
