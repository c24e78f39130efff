//! What the capacity gate reads on every token request and query for a report on a capacity —
//! the capacity and the user's effective permissions — kept for at most a second, so that the
//! hot path does not pay two database reads per request.
//!
//! This node forgets an entry the moment it changes it: the controller on every transition,
//! the services on capacity settings, permission grants and group membership. A read that was
//! under way while something was forgotten is used once but not kept, so it cannot bring the
//! old value back. A change made by another node (multi-node deployments) is seen within
//! [`FRESH_FOR`].

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use vitrine_core::{CapacityId, OrgId, Permission, UserId};
use vitrine_store::{Capacity, Store, StoreResult};

/// How long a read stays good without being forgotten.
pub const FRESH_FOR: Duration = Duration::from_secs(1);

/// Entries beyond this many are dropped wholesale rather than tracked one by one.
const MAX_ENTRIES: usize = 100_000;

/// Entries with the moment their read began, and a generation that every forgetting bumps.
struct Entries<K, V> {
    generation: u64,
    map: HashMap<K, (Instant, V)>,
}

struct Timed<K, V> {
    entries: Mutex<Entries<K, V>>,
}

impl<K: Eq + Hash, V: Clone> Timed<K, V> {
    fn new() -> Self {
        Self { entries: Mutex::new(Entries { generation: 0, map: HashMap::new() }) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries<K, V>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The entry if it is younger than `fresh_for`, else the generation to read under.
    fn get(&self, key: &K, fresh_for: Duration) -> Result<V, u64> {
        let entries = self.lock();
        match entries.map.get(key) {
            Some((read_at, value)) if read_at.elapsed() < fresh_for => Ok(value.clone()),
            _ => Err(entries.generation),
        }
    }

    /// Keeps a value read from `started` on, unless something was forgotten since.
    fn put(&self, key: K, value: V, generation: u64, started: Instant) {
        let mut entries = self.lock();
        if entries.generation != generation {
            return;
        }
        if entries.map.len() >= MAX_ENTRIES {
            entries.map.clear();
        }
        entries.map.insert(key, (started, value));
    }

    fn forget(&self, key: Option<&K>) {
        let mut entries = self.lock();
        entries.generation += 1;
        match key {
            Some(key) => {
                entries.map.remove(key);
            }
            None => entries.map.clear(),
        }
    }
}

pub struct GateCache {
    capacities: Timed<CapacityId, Arc<Capacity>>,
    permissions: Timed<(OrgId, UserId), Arc<Vec<Permission>>>,
    fresh_for_ms: AtomicU64,
}

impl Default for GateCache {
    fn default() -> Self {
        Self {
            capacities: Timed::new(),
            permissions: Timed::new(),
            fresh_for_ms: AtomicU64::new(FRESH_FOR.as_millis() as u64),
        }
    }
}

impl GateCache {
    fn fresh_for(&self) -> Duration {
        Duration::from_millis(self.fresh_for_ms.load(Ordering::Relaxed))
    }

    /// Keeps reads for `fresh_for` instead of a second: tests make it long, so that only
    /// forgetting can explain a change being seen.
    pub fn keep_reads_for(&self, fresh_for: Duration) {
        self.fresh_for_ms.store(fresh_for.as_millis() as u64, Ordering::Relaxed);
    }

    /// The capacity, read from the store unless read within the last second.
    pub async fn capacity(
        &self,
        store: &dyn Store,
        org: OrgId,
        id: CapacityId,
    ) -> StoreResult<Arc<Capacity>> {
        let generation = match self.capacities.get(&id, self.fresh_for()) {
            Ok(capacity) if capacity.org_id == org => return Ok(capacity),
            Ok(_) => return Err(vitrine_store::StoreError::NotFound),
            Err(generation) => generation,
        };
        let started = Instant::now();
        let capacity = Arc::new(store.get_capacity(org, id).await?);
        self.capacities.put(id, Arc::clone(&capacity), generation, started);
        Ok(capacity)
    }

    /// The user's effective permissions, read from the store unless read within the last second.
    pub async fn permissions(
        &self,
        store: &dyn Store,
        org: OrgId,
        user: UserId,
    ) -> StoreResult<Arc<Vec<Permission>>> {
        let generation = match self.permissions.get(&(org, user), self.fresh_for()) {
            Ok(held) => return Ok(held),
            Err(generation) => generation,
        };
        let started = Instant::now();
        let held = Arc::new(store.effective_permissions(org, user).await?);
        self.permissions.put((org, user), Arc::clone(&held), generation, started);
        Ok(held)
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
