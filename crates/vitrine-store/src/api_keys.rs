//! API keys, and the host app's users that embed tokens minted by an API key are for.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use vitrine_core::{ApiKeyId, OrgId};

use crate::{Actor, ApiKey, ApiKeyRecord, Identity, IdentitySeen, NewApiKey, StoreResult};

#[async_trait]
pub trait ApiKeyStore: Send + Sync {
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
}
