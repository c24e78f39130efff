//! Reading the audit log of entity changes (written with each change, in its transaction), and
//! the token audit trail.

use async_trait::async_trait;
use vitrine_core::OrgId;

use crate::{AuditEntry, AuditFilter, StoreResult, TokenEvent, TokenEventFilter};

#[async_trait]
pub trait AuditStore: Send + Sync {
    // Audit log of entity changes.
    async fn list_audit(&self, org: OrgId, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>>;

    // Token audit trail.
    async fn insert_token_events(&self, events: &[TokenEvent]) -> StoreResult<()>;
    async fn list_token_events(
        &self,
        org: OrgId,
        filter: &TokenEventFilter,
    ) -> StoreResult<Vec<TokenEvent>>;
}
