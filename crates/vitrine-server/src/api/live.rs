//! `GET /api/v1/embed/live`: the live channel of an open report. The viewer holds one
//! server-sent-events stream per report, authenticated by its embed token (a header, never the
//! URL); the moment that token is revoked — access removed, the account blocked or deleted,
//! the organization suspended — the stream says `revoked` and ends, and the viewer asks for a
//! new token, which is refused when access is gone: the screen goes dark within a second
//! instead of at the token's expiry. The stream also ends when the token expires (`expired`);
//! the viewer reconnects with each new token.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use vitrine_core::token::EmbedClaims;

use super::embed::EmbedCaller;
use super::json::LiveEvent;
use crate::app::AppState;
use crate::error::{ApiError, ErrorCode};

/// Live channels one node holds at most; more are refused with `RateLimited`.
pub const MAX_LIVE_CHANNELS: usize = 10_000;
/// A comment this often keeps proxies from closing an idle stream.
const KEEP_ALIVE: Duration = Duration::from_secs(20);

/// The bound on open live channels.
#[derive(Clone)]
pub struct LiveChannels {
    slots: Arc<Semaphore>,
}

impl Default for LiveChannels {
    fn default() -> Self {
        Self { slots: Arc::new(Semaphore::new(MAX_LIVE_CHANNELS)) }
    }
}

/// Where a channel is in its life.
enum Phase {
    Start,
    Watching,
    Done,
}

struct Channel {
    state: AppState,
    claims: Arc<EmbedClaims>,
    changes: watch::Receiver<u64>,
    phase: Phase,
    _slot: OwnedSemaphorePermit,
}

/// The live channel of an open report: server-sent events `ready`, then `revoked` or
/// `expired`, after which the stream ends.
#[utoipa::path(get, path = "/embed/live", tag = "Embed",
    responses((status = 200, description = "An event stream.", content_type = "text/event-stream",
        body = super::json::LiveEvent)))]
pub async fn live(State(state): State<AppState>, caller: EmbedCaller) -> Response {
    let Ok(slot) = Arc::clone(&state.live.slots).try_acquire_owned() else {
        return ApiError::new(
            ErrorCode::RateLimited,
            "Too many live channels on this server; retry shortly.",
        )
        .into_response();
    };
    let channel = Channel {
        changes: state.tokens.revoker.watch(),
        claims: caller.claims,
        state,
        phase: Phase::Start,
        _slot: slot,
    };
    let events = stream::unfold(channel, |mut channel| async move {
        let event = match channel.phase {
            Phase::Start => {
                channel.phase = Phase::Watching;
                LiveEvent::READY.into()
            }
            Phase::Watching => {
                let event = channel.next().await;
                channel.phase = Phase::Done;
                event
            }
            Phase::Done => return None,
        };
        Some((Ok::<_, std::convert::Infallible>(event), channel))
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)).into_response()
}

impl Channel {
    /// Waits until the token is revoked or expires, and says which.
    async fn next(&mut self) -> Event {
        loop {
            let now = self.state.clock.now().timestamp();
            if let Err(error) = self.state.tokens.revoker.index.check(&self.claims, now) {
                tracing::debug!(token = %self.claims.jti, %error, "live channel: token revoked");
                return LiveEvent::REVOKED.into();
            }
            let left = u64::try_from(self.claims.exp - now).unwrap_or(0);
            if left == 0 {
                return LiveEvent::EXPIRED.into();
            }
            // Woken by any revocation on this node, or when the token's life is over (seconds
            // of the server's clock; looked at again at least every minute).
            let wait = Duration::from_secs(left.min(60));
            tokio::select! {
                changed = self.changes.changed() => {
                    if changed.is_err() {
                        return LiveEvent::EXPIRED.into();
                    }
                }
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}
