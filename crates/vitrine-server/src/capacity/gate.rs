//! What the capacity gate reads on every token request and query for a report on a capacity —
//! the capacity and the user's effective permissions — kept for at most a second, so that the
//! hot path does not pay two database reads per request.
//!
//! This node forgets an entry the moment it changes it: the controller on every transition,
//! the services on capacity settings, permission grants and group membership. A change made by
//! another node (multi-node deployments) is seen within [`FRESH_FOR`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use vitrine_core::{CapacityId, OrgId, Permission, UserId};
use vitrine_store::{Capacity, Store, StoreResult};

/// How long a read stays good without being forgotten.
pub const FRESH_FOR: Duration = Duration::from_secs(1);

/// Entries beyond this many are dropped wholesale rather than tracked one by one.
const MAX_ENTRIES: usize = 100_000;

/// Each entry with the moment it was read.
type Timed<K, V> = Mutex<HashMap<K, (Instant, V)>>;

#[derive(Default)]
pub struct GateCache {
    capacities: Timed<CapacityId, Arc<Capacity>>,
    permissions: Timed<(OrgId, UserId), Arc<Vec<Permission>>>,
}

impl GateCache {
    /// The capacity, read from the store unless read within the last second.
    pub async fn capacity(
        &self,
        store: &dyn Store,
        org: OrgId,
        id: CapacityId,
    ) -> StoreResult<Arc<Capacity>> {
        {
            let capacities = self.capacities.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((at, capacity)) = capacities.get(&id)
                && at.elapsed() < FRESH_FOR
                && capacity.org_id == org
            {
                return Ok(Arc::clone(capacity));
            }
        }
        let capacity = Arc::new(store.get_capacity(org, id).await?);
        let mut capacities = self.capacities.lock().unwrap_or_else(PoisonError::into_inner);
        if capacities.len() >= MAX_ENTRIES {
            capacities.clear();
        }
        capacities.insert(id, (Instant::now(), Arc::clone(&capacity)));
        Ok(capacity)
    }

    /// The user's effective permissions, read from the store unless read within the last second.
    pub async fn permissions(
        &self,
        store: &dyn Store,
        org: OrgId,
        user: UserId,
    ) -> StoreResult<Arc<Vec<Permission>>> {
        {
            let permissions = self.permissions.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((at, held)) = permissions.get(&(org, user))
                && at.elapsed() < FRESH_FOR
            {
                return Ok(Arc::clone(held));
            }
        }
        let held = Arc::new(store.effective_permissions(org, user).await?);
        let mut permissions = self.permissions.lock().unwrap_or_else(PoisonError::into_inner);
        if permissions.len() >= MAX_ENTRIES {
            permissions.clear();
        }
        permissions.insert((org, user), (Instant::now(), Arc::clone(&held)));
        Ok(held)
    }

    /// Notes activity just written for the capacity, so that the cached copy agrees.
    pub fn activity_written(&self, id: CapacityId, at: chrono::DateTime<chrono::Utc>) {
        let mut capacities = self.capacities.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, capacity)) = capacities.get_mut(&id) {
            let seen = capacity.last_activity.map_or(at, |seen| seen.max(at));
            Arc::make_mut(capacity).last_activity = Some(seen);
        }
    }

    /// The capacity changed (state, settings, or it is gone): read it again next time.
    pub fn forget_capacity(&self, id: CapacityId) {
        self.capacities.lock().unwrap_or_else(PoisonError::into_inner).remove(&id);
    }

    /// Someone's permissions may have changed (a grant, a group membership): read again.
    pub fn forget_permissions(&self) {
        self.permissions.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }
}
