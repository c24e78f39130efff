//! `GET /api/v1/embed/live`: the live channel of an open report. The viewer holds one
//! server-sent-events stream per report, authenticated by its embed token (a header, never the
//! URL); the moment that token is revoked — access removed, the account blocked or deleted,
//! the organization suspended — the stream says `revoked` and ends, and the viewer asks for a
//! new token, which is refused when access is gone: the screen goes dark within a second
//! instead of at the token's expiry. The stream also ends when the token expires (`expired`);
//! the viewer reconnects with each new token.
//!
//! Meanwhile it tells the report what changed (see [`crate::notices`]): `capacity` (the
//! capacity it runs on changed state), `changed` (the report's definition or placement), and
//! `settings` (the organization's token settings). Each has an event id; a viewer that
//! reconnects with `Last-Event-ID` is sent what it missed, or `resync` when that is unknown.
//!
//! And it tells the server the report is open: while a viewer who may keep its capacity on
//! holds the channel, the capacity counts as in use (see [`crate::capacity::presence`]).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast, watch};
use vitrine_core::CapacityId;
use vitrine_core::token::EmbedClaims;

use super::embed::EmbedCaller;
use super::json::LiveEvent;
use crate::app::AppState;
use crate::capacity::presence::Present;
use crate::error::{ApiError, ErrorCode};
use crate::notices::{CatchUp, Notice, OrgNotice};

/// Live channels one node holds at most; more are refused with `RateLimited`.
pub const MAX_LIVE_CHANNELS: usize = 10_000;
/// A comment this often keeps proxies from closing an idle stream.
const KEEP_ALIVE: Duration = Duration::from_secs(20);

/// The bound on open live channels.
#[derive(Clone)]
pub struct LiveChannels {
    pub(crate) slots: Arc<Semaphore>,
}

impl Default for LiveChannels {
    fn default() -> Self {
        Self { slots: Arc::new(Semaphore::new(MAX_LIVE_CHANNELS)) }
    }
}

/// Where a channel is in its life.
enum Phase {
    Watching,
    Done,
}

struct Channel {
    state: AppState,
    claims: Arc<EmbedClaims>,
    changes: watch::Receiver<u64>,
    notices: broadcast::Receiver<Arc<OrgNotice>>,
    /// Where its reports run, and its presence there; read again when a report changes.
    placement: Placement,
    /// Events to send before watching again: `ready` and what a reconnect missed.
    queued: VecDeque<Event>,
    phase: Phase,
    _slot: OwnedSemaphorePermit,
}

/// The live channel of an open report: server-sent events `ready`, then any of `capacity`,
/// `changed`, `settings` and `resync`, and finally `revoked` or `expired`, after which the
/// stream ends.
#[utoipa::path(get, path = "/embed/live", tag = "Embed",
    params(("Last-Event-ID" = Option<String>, Header, description = "The id of the last event heard, when reconnecting: what was missed since is sent first.")),
    responses((status = 200, description = "An event stream.", content_type = "text/event-stream",
        body = super::json::LiveEvent)))]
pub async fn live(
    State(state): State<AppState>,
    caller: EmbedCaller,
    headers: HeaderMap,
) -> Response {
    let Ok(slot) = Arc::clone(&state.live.slots).try_acquire_owned() else {
        return ApiError::new(
            ErrorCode::RateLimited,
            "Too many live channels on this server; retry shortly.",
        )
        .into_response();
    };
    let last_seen = headers
        .get("last-event-id")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    let (notices, last, catch_up) = state.notices.subscribe(caller.claims.org, last_seen);
    let placement = Placement::of(&state, &caller.claims).await;
    let mut queued = VecDeque::from([Event::from(LiveEvent::READY).id(last.to_string())]);
    match catch_up {
        CatchUp::Resync => queued.push_back(Event::from(LiveEvent::RESYNC).id(last.to_string())),
        CatchUp::Missed(missed) => queued.extend(
            missed.iter().filter_map(|notice| event_for(&caller.claims, &placement, notice)),
        ),
    }
    let channel = Channel {
        changes: state.tokens.revoker.watch(),
        notices,
        placement,
        claims: caller.claims,
        state,
        queued,
        phase: Phase::Watching,
        _slot: slot,
    };
    let events = stream::unfold(channel, |mut channel| async move {
        if let Some(event) = channel.queued.pop_front() {
            return Some((Ok::<_, std::convert::Infallible>(event), channel));
        }
        let event = match channel.phase {
            Phase::Watching => {
                let (event, last) = channel.next().await;
                if last {
                    channel.phase = Phase::Done;
                }
                event
            }
            Phase::Done => return None,
        };
        Some((Ok(event), channel))
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)).into_response()
}

/// The capacities a channel's reports run on, and its presence on them when its viewer may keep
/// them on.
struct Placement {
    /// `None` when they could not be read: then every capacity's news is passed on.
    capacities: Option<Vec<CapacityId>>,
    _present: Vec<Present>,
}

impl Placement {
    async fn of(state: &AppState, claims: &EmbedClaims) -> Self {
        let mut capacities = Vec::new();
        for id in &claims.reports {
            match state.store.get_report(claims.org, *id).await {
                Ok(report) => {
                    if let Some(capacity) = report.capacity_id
                        && !capacities.contains(&capacity)
                    {
                        capacities.push(capacity);
                    }
                }
                // Deleted: its token is revoked, and the channel says so at once.
                Err(vitrine_store::StoreError::NotFound) => {}
                Err(error) => {
                    tracing::warn!(%error, "live channel: could not read where its reports run");
                    return Self { capacities: None, _present: Vec::new() };
                }
            }
        }
        let keeps_on = if capacities.is_empty() {
            false
        } else {
            crate::services::capacities::keeps_on(state, claims).await.unwrap_or_else(|error| {
                tracing::warn!(?error, "live channel: could not read capacity permissions");
                false
            })
        };
        let label = crate::services::capacities::viewer_label(claims);
        let presence = &state.capacities.presence;
        let present = match keeps_on {
            true => capacities.iter().map(|capacity| presence.enter(*capacity, &label)).collect(),
            false => Vec::new(),
        };
        Self { capacities: Some(capacities), _present: present }
    }

    fn runs_on(&self, capacity: CapacityId) -> bool {
        self.capacities.as_ref().is_none_or(|capacities| capacities.contains(&capacity))
    }
}

/// The event a notice makes for the report holding `claims`, if it concerns it.
fn event_for(claims: &EmbedClaims, placement: &Placement, notice: &OrgNotice) -> Option<Event> {
    if notice.org != claims.org {
        return None;
    }
    let event = match &notice.notice {
        Notice::Capacity { capacity, .. } if !placement.runs_on(*capacity) => return None,
        Notice::Capacity { capacity, state } => Event::default().event("capacity").data(
            serde_json::json!({ "capacityId": capacity, "state": state.as_str() }).to_string(),
        ),
        Notice::Report { report } if claims.reports.contains(report) => Event::default()
            .event("changed")
            .data(serde_json::json!({ "reportId": report }).to_string()),
        Notice::Report { .. } => return None,
        Notice::Settings => Event::default().event("settings").data("{}"),
        // The display's own channel says that (see `api::displays::live`).
        Notice::Display { .. } => return None,
    };
    Some(event.id(notice.seq.to_string()))
}

impl Channel {
    /// Waits for the next thing to say: a notice for this report (the stream goes on), or
    /// that the token was revoked or expired (the stream's last event).
    async fn next(&mut self) -> (Event, bool) {
        loop {
            let now = self.state.clock.now().timestamp();
            if let Err(error) = self.state.tokens.revoker.index.check(&self.claims, now) {
                tracing::debug!(token = %self.claims.jti, %error, "live channel: token revoked");
                return (LiveEvent::REVOKED.into(), true);
            }
            let left = u64::try_from(self.claims.exp - now).unwrap_or(0);
            if left == 0 {
                return (LiveEvent::EXPIRED.into(), true);
            }
            // Woken by any revocation on this node, by a notice, or when the token's life is
            // over (seconds of the server's clock; looked at again at least every minute).
            let wait = Duration::from_secs(left.min(60));
            tokio::select! {
                changed = self.changes.changed() => {
                    if changed.is_err() {
                        return (LiveEvent::EXPIRED.into(), true);
                    }
                }
                notice = self.notices.recv() => match notice {
                    Ok(notice) => {
                        if let Some(event) = event_for(&self.claims, &self.placement, &notice) {
                            if matches!(notice.notice, Notice::Report { .. }) {
                                // It may have moved to another capacity.
                                self.placement = Placement::of(&self.state, &self.claims).await;
                            }
                            return (event, false);
                        }
                    }
                    // Too slow to read them all: it reads everything again instead.
                    Err(RecvError::Lagged(_)) => {
                        self.placement = Placement::of(&self.state, &self.claims).await;
                        let last = self.state.notices.last_seq().to_string();
                        return (Event::from(LiveEvent::RESYNC).id(last), false);
                    }
                    Err(RecvError::Closed) => return (LiveEvent::EXPIRED.into(), true),
                },
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}
