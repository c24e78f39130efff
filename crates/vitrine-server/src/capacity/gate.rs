//! What the capacity gate reads on every token request and query for a report on a capacity —
//! the capacity and the user's effective permissions — kept for at most a second, so that the
//! hot path does not pay two database reads per request.
//!
//! This node forgets an entry the moment it changes it: the controller on every transition,
//! the services on capacity settings, permission grants and group membership. A read that was
//! under way while something was forgotten is used once but not kept, so it cannot bring the
//! old value back. A change made by another node (multi-node deployments) is seen within
//! [`FRESH_FOR`](crate::timed::FRESH_FOR).

use std::sync::Arc;
use std::time::Duration;

use vitrine_core::{CapacityId, OrgId, Permission, UserId};
use vitrine_store::{Capacity, Store, StoreResult};

use crate::timed::{Freshness, Timed};

#[derive(Default)]
pub struct GateCache {
    capacities: Timed<CapacityId, Arc<Capacity>>,
    permissions: Timed<(OrgId, UserId), Arc<Vec<Permission>>>,
    fresh: Freshness,
}

impl GateCache {
    fn fresh_for(&self) -> Duration {
        self.fresh.get()
    }

    /// Keeps reads for `fresh_for` instead of a second: tests make it long, so that only
    /// forgetting can explain a change being seen.
    pub fn keep_reads_for(&self, fresh_for: Duration) {
        self.fresh.set(fresh_for);
    }

    /// The capacity, read from the store unless read within the last second.
    pub async fn capacity(
        &self,
        store: &dyn Store,
        org: OrgId,
        id: CapacityId,
    ) -> StoreResult<Arc<Capacity>> {
        let read = async { store.get_capacity(org, id).await.map(Arc::new) };
        let capacity = self.capacities.get_or_read(id, self.fresh_for(), read).await?;
        if capacity.org_id != org {
            return Err(vitrine_store::StoreError::NotFound);
        }
        Ok(capacity)
    }

    /// The user's effective permissions, read from the store unless read within the last second.
    pub async fn permissions(
        &self,
        store: &dyn Store,
        org: OrgId,
        user: UserId,
    ) -> StoreResult<Arc<Vec<Permission>>> {
        let read = async { store.effective_permissions(org, user).await.map(Arc::new) };
        self.permissions.get_or_read((org, user), self.fresh_for(), read).await
    }

    /// The capacity changed (state, settings, or it is gone): read it again next time.
    pub fn forget_capacity(&self, id: CapacityId) {
        self.capacities.forget(Some(&id));
    }

    /// Someone's permissions may have changed (a grant, a group membership): read again.
    pub fn forget_permissions(&self) {
        self.permissions.forget(None);
    }
}
