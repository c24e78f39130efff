//! Allowances and strangers' lockouts, which every node on one database shares.

use chrono::{Duration, Utc};
use futures_util::future::join_all;
use vitrine_core::allowance::AllowanceRule;
use vitrine_core::lockout::{Gate, LockoutRule};

use crate::Store;

/// Now, to the millisecond the stores keep.
fn now() -> chrono::DateTime<Utc> {
    chrono::DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).expect("now")
}

pub async fn an_allowance_is_spent_per_key_and_refilled_by_the_rule(store: &dyn Store) {
    let rule = AllowanceRule::per_minute(3);
    let now = now();
    for n in 0..3 {
        assert!(store.take_allowance("sign-in:192.0.2.1", &rule, now).await.unwrap(), "{n}");
    }
    assert!(!store.take_allowance("sign-in:192.0.2.1", &rule, now).await.unwrap());
    assert!(store.take_allowance("sign-in:192.0.2.2", &rule, now).await.unwrap(), "per key");
    let later = now + Duration::seconds(20);
    assert!(store.take_allowance("sign-in:192.0.2.1", &rule, later).await.unwrap());
    assert!(!store.take_allowance("sign-in:192.0.2.1", &rule, later).await.unwrap());
}

/// Attempts on one key race; however they interleave, the allowance is never exceeded and
/// never under-spent.
pub async fn racing_attempts_spend_an_allowance_exactly_once_each(store: &dyn Store) {
    let rule = AllowanceRule::per_minute(10);
    let now = now();
    for round in 0..5 {
        let key = format!("race:{round}");
        let taken = join_all((0..40).map(|_| store.take_allowance(&key, &rule, now))).await;
        let allowed = taken.into_iter().filter(|t| *t.as_ref().unwrap()).count();
        assert_eq!(allowed, 10, "round {round}");
    }
}

pub async fn a_strangers_email_locks_at_the_threshold_even_when_raced(store: &dyn Store) {
    let rule = LockoutRule::default();
    let now = now();
    let day = Duration::days(1);
    let attempts = join_all(
        (0..20).map(|_| store.begin_stranger_attempt("digest-of-nobody", &rule, now, day)),
    )
    .await;
    let checked = attempts.iter().filter(|g| matches!(g, Ok(Gate::Check { .. }))).count();
    assert_eq!(checked, rule.threshold as usize, "only the threshold's attempts are checked");
    let until = now + rule.lock_for;
    assert_eq!(
        store.begin_stranger_attempt("digest-of-nobody", &rule, now, day).await.unwrap(),
        Gate::Locked(until)
    );
    assert_eq!(
        store.begin_stranger_attempt("digest-of-another", &rule, now, day).await.unwrap(),
        Gate::Check { locks: None },
        "per key"
    );
    let gate = store.begin_stranger_attempt("digest-of-nobody", &rule, until, day).await.unwrap();
    assert_eq!(gate, Gate::Check { locks: None }, "the lock ran out");
}

pub async fn guards_are_pruned_once_forgetting_them_loses_nothing(store: &dyn Store) {
    let now = now();
    let minute = AllowanceRule::per_minute(2);
    assert!(store.take_allowance("spent", &minute, now).await.unwrap());
    assert!(store.take_allowance("spent", &minute, now).await.unwrap());
    let rule = LockoutRule { threshold: 5, lock_for: Duration::hours(2) };
    let hour = Duration::hours(1);
    for _ in 0..rule.threshold {
        store.begin_stranger_attempt("locked", &rule, now, hour).await.unwrap();
    }
    store.begin_stranger_attempt("counted", &rule, now, hour).await.unwrap();

    assert_eq!(store.prune_guards(now + Duration::seconds(59)).await.unwrap(), 0);
    assert_eq!(store.prune_guards(now + Duration::seconds(61)).await.unwrap(), 1, "whole again");
    let later = now + Duration::minutes(61);
    assert_eq!(store.prune_guards(later).await.unwrap(), 1, "a count an hour old");
    assert_eq!(
        store.begin_stranger_attempt("locked", &rule, later, hour).await.unwrap(),
        Gate::Locked(now + rule.lock_for),
        "a lock is kept while it lasts"
    );
    let after_lock = now + rule.lock_for + hour;
    assert_eq!(store.prune_guards(after_lock - Duration::seconds(1)).await.unwrap(), 0);
    assert_eq!(store.prune_guards(after_lock + Duration::seconds(1)).await.unwrap(), 1);
}
