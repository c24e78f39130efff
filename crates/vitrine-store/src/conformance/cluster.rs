//! The change feed and leases that several nodes share.

use std::collections::BTreeSet;

use chrono::{Duration, Utc};

use crate::Store;

pub async fn changes_are_read_in_order_after_a_sequence_number(store: &dyn Store) {
    assert_eq!(store.last_change_seq().await.unwrap(), 0, "an empty feed");
    let old = Utc::now() - Duration::hours(2);
    let first = store.append_change("node-a", old, r#"{"first":1}"#).await.unwrap();
    let second = store.append_change("node-b", Utc::now(), "two").await.unwrap();
    let third = store.append_change("node-a", Utc::now(), "three").await.unwrap();
    assert!(first < second && second < third, "{first} {second} {third}");
    assert_eq!(store.last_change_seq().await.unwrap(), third);

    let all = store.changes_after(0, 100).await.unwrap();
    let read: Vec<(i64, &str, &str)> =
        all.iter().map(|c| (c.seq, c.node.as_str(), c.body.as_str())).collect();
    assert_eq!(
        read,
        [
            (first, "node-a", r#"{"first":1}"#),
            (second, "node-b", "two"),
            (third, "node-a", "three")
        ]
    );
    assert_eq!(all[0].at.timestamp_millis(), old.timestamp_millis());
    let after_first: Vec<i64> =
        store.changes_after(first, 100).await.unwrap().iter().map(|c| c.seq).collect();
    assert_eq!(after_first, [second, third]);
    let limited: Vec<i64> =
        store.changes_after(0, 2).await.unwrap().iter().map(|c| c.seq).collect();
    assert_eq!(limited, [first, second], "the limit keeps the oldest");

    assert_eq!(store.prune_changes(Utc::now() - Duration::hours(1)).await.unwrap(), 1);
    let left: Vec<i64> = store.changes_after(0, 100).await.unwrap().iter().map(|c| c.seq).collect();
    assert_eq!(left, [second, third]);
    assert_eq!(store.last_change_seq().await.unwrap(), third);
}

/// Appenders race a reader that always resumes after the last sequence number it saw: if a
/// change could commit after a later one, the reader would step over it for good.
pub async fn a_reader_resuming_after_its_last_sequence_number_misses_no_racing_change(
    store: &dyn Store,
) {
    const WRITERS: usize = 8;
    const EACH: usize = 25;
    let write = |writer: usize| async move {
        let mut made = Vec::new();
        for n in 0..EACH {
            let body = format!("{writer}-{n}");
            made.push(store.append_change("racer", Utc::now(), &body).await.unwrap());
        }
        made
    };
    let finished = std::sync::atomic::AtomicBool::new(false);
    let writers = async {
        let made = futures_util::future::join_all((0..WRITERS).map(write)).await;
        finished.store(true, std::sync::atomic::Ordering::SeqCst);
        made
    };
    let read = async {
        let mut seen = Vec::new();
        let mut last = 0;
        loop {
            // Read once more after the writers finished: then everything is committed.
            let final_read = finished.load(std::sync::atomic::Ordering::SeqCst);
            for change in store.changes_after(last, 1_000).await.unwrap() {
                assert!(change.seq > last);
                last = change.seq;
                seen.push(change.seq);
            }
            if final_read {
                return seen;
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    };
    let (made, seen) = tokio::join!(writers, read);
    let made: BTreeSet<i64> = made.into_iter().flatten().collect();
    assert_eq!(made.len(), WRITERS * EACH);
    assert_eq!(seen.iter().copied().collect::<BTreeSet<_>>(), made, "every change read once");
}

pub async fn a_lease_has_one_holder_until_it_expires_or_is_given_up(store: &dyn Store) {
    assert!(store.hold_lease("scheduler", "node-a", 60_000).await.unwrap());
    assert!(!store.hold_lease("scheduler", "node-b", 60_000).await.unwrap(), "held by a");
    assert!(store.hold_lease("scheduler", "node-a", 60_000).await.unwrap(), "a renews");
    assert!(store.hold_lease("imports", "node-b", 60_000).await.unwrap(), "another lease");

    store.release_lease("scheduler", "node-b").await.unwrap();
    assert!(!store.hold_lease("scheduler", "node-b", 60_000).await.unwrap(), "not b's to give");
    store.release_lease("scheduler", "node-a").await.unwrap();
    assert!(store.hold_lease("scheduler", "node-b", 100).await.unwrap(), "given up: b takes it");
    assert!(!store.hold_lease("scheduler", "node-a", 60_000).await.unwrap());
    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    assert!(store.hold_lease("scheduler", "node-a", 60_000).await.unwrap(), "b's expired");
    assert!(!store.hold_lease("scheduler", "node-b", 60_000).await.unwrap());
}

/// Nodes racing for a free lease: exactly one wins each round.
pub async fn racing_nodes_take_a_free_lease_once(store: &dyn Store) {
    for round in 0..20 {
        let name = format!("job-{round}");
        let tries = (0..6).map(|node| {
            let name = name.clone();
            async move { store.hold_lease(&name, &format!("node-{node}"), 60_000).await.unwrap() }
        });
        let won = futures_util::future::join_all(tries).await;
        assert_eq!(won.iter().filter(|held| **held).count(), 1, "round {round}: {won:?}");
    }
}
