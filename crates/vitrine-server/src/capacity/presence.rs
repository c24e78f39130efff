//! Which reports are open right now by viewers who may keep their capacity on: a report's live
//! channel is present here while it is open, if its viewer holds `capacity.keepOn` (a host
//! app's user: if their embed key grants it). On every pass the scheduler writes the keepers
//! present on this node down as activity, so a capacity with such a report open never pauses
//! for inactivity, however long "Update Token every X minutes" is, and pauses its idle minutes
//! after the last one closed. A viewer whose channel cannot get through (a proxy that blocks
//! streams) still keeps it on with their token requests, as before.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use vitrine_core::CapacityId;

/// Open channels per capacity, counted per keeper (the same screen may hold two).
#[derive(Default)]
pub struct Presence {
    open: Mutex<HashMap<CapacityId, HashMap<String, usize>>>,
}

/// One channel's presence on one capacity; it leaves when dropped (the channel ended).
pub struct Present {
    presence: Arc<Presence>,
    capacity: CapacityId,
    keeper: String,
}

impl Presence {
    fn lock(&self) -> MutexGuard<'_, HashMap<CapacityId, HashMap<String, usize>>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `keeper` has a report on `capacity` open until the answer is dropped. The map is
    /// bounded by the live channels a node holds (each names a bounded number of reports).
    pub fn enter(self: &Arc<Self>, capacity: CapacityId, keeper: &str) -> Present {
        *self.lock().entry(capacity).or_default().entry(keeper.to_string()).or_default() += 1;
        Present { presence: Arc::clone(self), capacity, keeper: keeper.to_string() }
    }

    /// Who has a report on `capacity` open now, in no particular order.
    pub fn keepers(&self, capacity: CapacityId) -> Vec<String> {
        self.lock().get(&capacity).map(|by| by.keys().cloned().collect()).unwrap_or_default()
    }
}

impl Drop for Present {
    fn drop(&mut self) {
        let mut open = self.presence.lock();
        let Some(by) = open.get_mut(&self.capacity) else { return };
        if let Some(count) = by.get_mut(&self.keeper) {
            *count -= 1;
            if *count == 0 {
                by.remove(&self.keeper);
            }
        }
        if by.is_empty() {
            open.remove(&self.capacity);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keeper_is_present_until_the_last_of_their_channels_closes() {
        let presence = Arc::new(Presence::default());
        let (wallboard, other) = (CapacityId::generate(), CapacityId::generate());
        let first = presence.enter(wallboard, "tv@example.com");
        let second = presence.enter(wallboard, "tv@example.com");
        let kiosk = presence.enter(wallboard, "identity kiosk-7");
        let mut keepers = presence.keepers(wallboard);
        keepers.sort();
        assert_eq!(keepers, ["identity kiosk-7", "tv@example.com"]);
        assert!(presence.keepers(other).is_empty());
        drop(first);
        assert_eq!(presence.keepers(wallboard).len(), 2, "one of two channels still open");
        drop((second, kiosk));
        assert!(presence.keepers(wallboard).is_empty());
        assert!(presence.lock().is_empty(), "nothing is kept for a capacity nobody looks at");
    }
}
