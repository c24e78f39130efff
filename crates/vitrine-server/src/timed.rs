//! Store reads kept for at most a second, for what the hot paths read on every request.
//!
//! A node forgets an entry the moment it changes what the entry holds. A read that was under
//! way while something was forgotten is used once but not kept, so it cannot bring the old
//! value back. A change made by another node (multi-node deployments) is seen within
//! [`FRESH_FOR`] at the latest, sooner where the change feed tells this node to forget.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long a read stays good without being forgotten.
pub const FRESH_FOR: Duration = Duration::from_secs(1);

/// Entries beyond this many are dropped wholesale rather than tracked one by one.
const MAX_ENTRIES: usize = 100_000;

/// Entries with the moment their read began, and a generation that every forgetting bumps.
struct Entries<K, V> {
    generation: u64,
    map: HashMap<K, (Instant, V)>,
}

pub struct Timed<K, V> {
    entries: Mutex<Entries<K, V>>,
}

impl<K, V> Default for Timed<K, V> {
    fn default() -> Self {
        Self { entries: Mutex::new(Entries { generation: 0, map: HashMap::new() }) }
    }
}

impl<K: Eq + Hash, V: Clone> Timed<K, V> {
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

    /// The entry for `key` if it is younger than `fresh_for`, else what `read` gives, kept
    /// unless something was forgotten while it ran.
    pub async fn get_or_read<E>(
        &self,
        key: K,
        fresh_for: Duration,
        read: impl Future<Output = Result<V, E>>,
    ) -> Result<V, E> {
        let generation = match self.get(&key, fresh_for) {
            Ok(value) => return Ok(value),
            Err(generation) => generation,
        };
        let started = Instant::now();
        let value = read.await?;
        self.put(key, value.clone(), generation, started);
        Ok(value)
    }

    /// Forgets `key`, or every entry.
    pub fn forget(&self, key: Option<&K>) {
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

/// How long reads are kept: [`FRESH_FOR`], unless a test makes it long, so that only
/// forgetting can explain a change being seen.
pub struct Freshness(AtomicU64);

impl Default for Freshness {
    fn default() -> Self {
        Self(AtomicU64::new(u64::try_from(FRESH_FOR.as_millis()).unwrap_or(u64::MAX)))
    }
}

impl Freshness {
    pub fn get(&self) -> Duration {
        Duration::from_millis(self.0.load(Ordering::Relaxed))
    }

    pub fn set(&self, fresh_for: Duration) {
        self.0.store(u64::try_from(fresh_for.as_millis()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_under_way_while_its_key_is_forgotten_is_not_kept() {
        let timed = Timed::<u32, &str>::default();
        let long = Duration::from_secs(3600);
        let generation = timed.get(&1, long).unwrap_err();
        timed.forget(Some(&2));
        timed.put(1, "old", generation, Instant::now());
        assert!(timed.get(&1, long).is_err(), "read before a forgetting, so not kept");
        let generation = timed.get(&1, long).unwrap_err();
        timed.put(1, "new", generation, Instant::now());
        assert_eq!(timed.get(&1, long), Ok("new"));
        timed.forget(Some(&1));
        assert!(timed.get(&1, long).is_err());
    }

    #[test]
    fn a_kept_read_goes_stale_after_its_freshness() {
        let timed = Timed::<u32, u32>::default();
        let generation = timed.get(&1, FRESH_FOR).unwrap_err();
        timed.put(1, 7, generation, Instant::now() - FRESH_FOR);
        assert!(timed.get(&1, FRESH_FOR).is_err(), "read a second ago");
        assert_eq!(timed.get(&1, Duration::from_secs(3600)), Ok(7));
    }
}
