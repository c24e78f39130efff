//! Allowances: so many attempts a window, refilled evenly (a token bucket), as one rule the
//! store (shared by every node) and the in-memory throttles apply alike.

use chrono::{DateTime, Duration, Utc};

/// What is left of one key's allowance, and when it was counted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Allowance {
    pub tokens: f64,
    pub at: DateTime<Utc>,
}

/// `per_window` attempts each `window`, in bursts of as many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllowanceRule {
    pub per_window: u32,
    pub window: Duration,
}

impl AllowanceRule {
    pub fn per_minute(per_minute: u32) -> Self {
        Self { per_window: per_minute.max(1), window: Duration::minutes(1) }
    }

    pub fn per_hour(per_hour: u32) -> Self {
        Self { per_window: per_hour.max(1), window: Duration::hours(1) }
    }

    fn capacity(&self) -> f64 {
        f64::from(self.per_window.max(1))
    }

    fn window_ms(&self) -> f64 {
        self.window.num_milliseconds().max(1) as f64
    }

    /// The tokens `current` holds at `now`: what it had plus what the time since refilled.
    pub fn tokens_at(&self, current: Option<Allowance>, now: DateTime<Utc>) -> f64 {
        let Some(current) = current else { return self.capacity() };
        let elapsed = (now - current.at).num_milliseconds().max(0) as f64;
        (current.tokens + elapsed * self.capacity() / self.window_ms()).min(self.capacity())
    }

    /// Takes one attempt from `current` at `now`: the allowance to keep in its place, or
    /// `None` when nothing is left (and nothing need be kept: refilling is a function of time,
    /// so the record as it was still tells the truth later).
    pub fn take(&self, current: Option<Allowance>, now: DateTime<Utc>) -> Option<Allowance> {
        let tokens = self.tokens_at(current, now);
        (tokens >= 1.0).then_some(Allowance { tokens: tokens - 1.0, at: now })
    }

    /// When `allowance` is whole again: from then on, forgetting it loses nothing.
    pub fn whole_at(&self, allowance: &Allowance) -> DateTime<Utc> {
        let missing = (self.capacity() - allowance.tokens).max(0.0);
        let ms = (missing * self.window_ms() / self.capacity()).ceil() as i64;
        allowance.at + Duration::milliseconds(ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_allowance_is_spent_in_a_burst_then_refills_evenly_and_is_whole_again_after_a_window() {
        let rule = AllowanceRule::per_minute(3);
        let now = Utc::now();
        let mut current = None;
        for n in 0..3 {
            current = Some(rule.take(current, now).unwrap_or_else(|| panic!("attempt {n}")));
        }
        assert_eq!(rule.take(current, now), None, "the burst is spent");
        let later = now + Duration::seconds(20);
        let refilled = rule.take(current, later).expect("one back every twenty seconds");
        assert!(refilled.tokens.abs() < 1e-9);
        assert_eq!(rule.whole_at(&refilled), later + Duration::minutes(1));
        assert_eq!(rule.tokens_at(Some(refilled), later + Duration::hours(5)), 3.0, "capped");
    }

    #[test]
    fn a_refused_attempt_changes_nothing_so_the_record_need_not_be_written() {
        let rule = AllowanceRule::per_hour(2);
        let now = Utc::now();
        let spent = rule.take(rule.take(None, now), now);
        let again = rule.take(spent, now + Duration::minutes(10));
        assert_eq!(again, None);
        assert!(rule.take(spent, now + Duration::minutes(30)).is_some(), "counted from the record");
    }
}
