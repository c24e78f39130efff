//! What open reports hear on their live channel besides revocations: a capacity changed
//! state, a report's definition or capacity changed, the organization's token settings changed. Every
//! notice has a sequence number (the channel's event id); the last few hundred are kept, so a
//! channel that reconnects with `Last-Event-ID` is sent what it missed, or told to `resync`
//! when that is no longer known (a restart, or too long away).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;
use vitrine_core::capacity::CapacityState;
use vitrine_core::{CapacityId, OrgId, ReportId, UserId};

/// Notices kept for catching up, and queued per channel before it counts as lagging.
const KEPT: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Notice {
    Capacity {
        capacity: CapacityId,
        state: CapacityState,
    },
    /// Its definition changed, or it was placed on another capacity.
    Report {
        report: ReportId,
    },
    Settings,
    /// A display was changed (its name, what it shows) or unpaired.
    Display {
        display: UserId,
    },
}

#[derive(Debug)]
pub struct OrgNotice {
    pub seq: u64,
    pub org: OrgId,
    pub notice: Notice,
}

/// Where a reconnecting channel resumes.
pub enum CatchUp {
    /// The notices after its last event id (possibly none).
    Missed(Vec<Arc<OrgNotice>>),
    /// Its last event id is not known here any more: it must read everything again.
    Resync,
}

pub struct Notices {
    sender: broadcast::Sender<Arc<OrgNotice>>,
    /// The last [`KEPT`] notices and the next sequence number, under one lock so that a
    /// subscriber's catch-up and the live stream neither overlap nor leave a gap.
    kept: Mutex<(VecDeque<Arc<OrgNotice>>, u64)>,
    /// Where notices go for the other nodes' viewers (none in a lone test server).
    feed: Option<Arc<crate::cluster::ChangeFeed>>,
}

impl Default for Notices {
    fn default() -> Self {
        // Sequence numbers start at this process's start in microseconds, so an event id from
        // an earlier process is never taken for one of this process's.
        let start = chrono::Utc::now().timestamp_micros().max(1) as u64;
        Self {
            sender: broadcast::channel(KEPT).0,
            kept: Mutex::new((VecDeque::new(), start)),
            feed: None,
        }
    }
}

impl Notices {
    /// Notices that also reach the viewers of every other node, through `feed`.
    pub fn with_feed(feed: Arc<crate::cluster::ChangeFeed>) -> Self {
        Self { feed: Some(feed), ..Self::default() }
    }

    /// Tells `org`'s open viewers, on this node and (through the feed) on every other.
    pub fn publish(&self, org: OrgId, notice: Notice) {
        if let Some(feed) = &self.feed {
            feed.announce(crate::cluster::Change::Notice { org, notice: notice.clone() });
        }
        self.publish_here(org, notice);
    }

    /// Tells `org`'s open viewers on this node only (a notice from another node).
    pub fn publish_here(&self, org: OrgId, notice: Notice) {
        let mut kept = self.kept.lock().unwrap_or_else(|poison| poison.into_inner());
        let seq = kept.1;
        kept.1 += 1;
        let notice = Arc::new(OrgNotice { seq, org, notice });
        if kept.0.len() == KEPT {
            kept.0.pop_front();
        }
        kept.0.push_back(Arc::clone(&notice));
        // No subscriber is not an error: nobody is looking.
        let _ = self.sender.send(notice);
    }

    /// The event id a new channel starts from: the last notice published.
    pub fn last_seq(&self) -> u64 {
        self.kept.lock().unwrap_or_else(|poison| poison.into_inner()).1 - 1
    }

    /// A subscription to every notice from now on, with what `org`'s channel missed after
    /// `last_seen` (when it reconnects with one).
    pub fn subscribe(
        &self,
        org: OrgId,
        last_seen: Option<u64>,
    ) -> (broadcast::Receiver<Arc<OrgNotice>>, u64, CatchUp) {
        let kept = self.kept.lock().unwrap_or_else(|poison| poison.into_inner());
        let receiver = self.sender.subscribe();
        let last = kept.1 - 1;
        let catch_up = match last_seen {
            None => CatchUp::Missed(Vec::new()),
            Some(seen) if seen == last => CatchUp::Missed(Vec::new()),
            Some(seen) => {
                let oldest = kept.0.front().map_or(kept.1, |n| n.seq);
                if seen > last || seen + 1 < oldest {
                    CatchUp::Resync
                } else {
                    let missed = kept.0.iter().filter(|n| n.seq > seen && n.org == org);
                    CatchUp::Missed(missed.cloned().collect())
                }
            }
        };
        (receiver, last, catch_up)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reconnecting_channel_gets_exactly_its_organizations_missed_notices_or_a_resync() {
        let notices = Notices::default();
        let (ours, theirs) = (OrgId::generate(), OrgId::generate());
        let seen = notices.last_seq();
        notices.publish(ours, Notice::Settings);
        notices.publish(theirs, Notice::Settings);
        let report = ReportId::generate();
        notices.publish(ours, Notice::Report { report });

        let (_, last, catch_up) = notices.subscribe(ours, Some(seen));
        assert_eq!(last, seen + 3);
        let CatchUp::Missed(missed) = catch_up else { panic!("a resync") };
        let kinds: Vec<_> = missed.iter().map(|n| n.notice.clone()).collect();
        assert_eq!(kinds, [Notice::Settings, Notice::Report { report }]);
        assert!(
            matches!(notices.subscribe(ours, Some(last)).2, CatchUp::Missed(m) if m.is_empty())
        );
        // An id from another process (ahead of this one) or one long forgotten: resync.
        assert!(matches!(notices.subscribe(ours, Some(last + 10)).2, CatchUp::Resync));
        for _ in 0..KEPT {
            notices.publish(theirs, Notice::Settings);
        }
        assert!(matches!(notices.subscribe(ours, Some(seen)).2, CatchUp::Resync));
    }

    #[tokio::test]
    async fn a_subscriber_hears_every_notice_published_after_it_subscribed() {
        let notices = Notices::default();
        let org = OrgId::generate();
        let (mut receiver, last, _) = notices.subscribe(org, None);
        notices.publish(org, Notice::Settings);
        let heard = receiver.recv().await.unwrap();
        assert_eq!((heard.seq, &heard.notice), (last + 1, &Notice::Settings));
    }
}
