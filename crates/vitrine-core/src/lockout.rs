//! The sign-in lockout, as one rule every store and the in-memory record of unknown emails
//! apply: an attempt is counted as wrong *before* its password is checked, so however many
//! attempts arrive at once, at most [`LockoutRule::threshold`] are ever checked per lock
//! period. A right password resets the count (and lifts a lock its own attempt set).

use chrono::{DateTime, Duration, Utc};

/// Wrong passwords in a row, and the lock they set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Attempts {
    pub failed: u32,
    pub locked_until: Option<DateTime<Utc>>,
}

/// What an attempt may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Check the password. `locks` is the lock this attempt set, should it be wrong.
    Check { locks: Option<DateTime<Utc>> },
    /// Locked: the password is not checked.
    Locked(DateTime<Utc>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutRule {
    pub threshold: u32,
    pub lock_for: Duration,
}

impl Default for LockoutRule {
    fn default() -> Self {
        Self { threshold: 5, lock_for: Duration::minutes(30) }
    }
}

impl LockoutRule {
    /// Admits or refuses one attempt at `now`, and the attempts to store in its place.
    pub fn attempt(&self, current: Attempts, now: DateTime<Utc>) -> (Attempts, Gate) {
        match current.locked_until {
            Some(until) if now < until => (current, Gate::Locked(until)),
            lapsed => {
                // A lock that has run out starts the count afresh.
                let failed = if lapsed.is_some() { 1 } else { current.failed.saturating_add(1) };
                let locks = (failed >= self.threshold).then(|| now + self.lock_for);
                (Attempts { failed, locked_until: locks }, Gate::Check { locks })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_threshold_th_attempt_locks_before_it_is_checked_and_later_ones_are_not_checked() {
        let rule = LockoutRule::default();
        let now = Utc::now();
        let mut attempts = Attempts::default();
        for n in 1..=4 {
            let (next, gate) = rule.attempt(attempts, now);
            assert_eq!(gate, Gate::Check { locks: None }, "attempt {n}");
            attempts = next;
        }
        let (next, gate) = rule.attempt(attempts, now);
        let until = now + Duration::minutes(30);
        assert_eq!(gate, Gate::Check { locks: Some(until) });
        assert_eq!(rule.attempt(next, now + Duration::minutes(29)).1, Gate::Locked(until));
        let (after, gate) = rule.attempt(next, until);
        assert_eq!(gate, Gate::Check { locks: None }, "the lock ran out");
        assert_eq!(after.failed, 1);
    }
}
