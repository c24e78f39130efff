//! `/api/v1/displays` (administrators pair, change and unpair screens) and `/api/v1/display`
//! (what a screen asks: a code to show, its credential once paired, then what to show, tokens,
//! its health, a rotated credential and a live channel of its own).

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use tokio::sync::broadcast::error::RecvError;
use vitrine_core::{ReportId, UserId};

use super::tokens::{Requester, until_fresh};
use super::{JsonFields, json, requests};
use crate::app::AppState;
use crate::auth::ApiCaller;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::notices::Notice;
use crate::pairing::Claim;
use crate::services::displays::{self, DisplayCaller};
use crate::services::parse_id;

/// The display whose screen sends the request, found by its credential before any body is read.
pub struct Screen(DisplayCaller);

impl FromRequestParts<AppState> for Screen {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        displays::authenticate(state, &parts.headers).await.map(Screen)
    }
}

/// Pairs the screen showing `code`: it becomes a display of this organization, shows `show`,
/// may open those reports and joins `groups`. The screen starts showing within seconds.
#[utoipa::path(post, path = "/displays/pair", tag = "Displays",
    request_body = requests::DisplayPair,
    responses(
        (status = 201, description = "Paired.", body = json::Display),
        (status = 400, description = "`InvalidInput` naming the field: `code` when no screen shows it now.", body = crate::error::ErrorBody),
        (status = 429, description = "`RateLimited`: too many wrong codes lately.", body = crate::error::ErrorBody),
    ))]
pub async fn pair(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    JsonFields(input): JsonFields,
) -> ApiResult<(StatusCode, Json<json::Display>)> {
    let scope = caller.principal.admin()?;
    let display = displays::pair(&state, &scope, &caller, &input).await?;
    Ok((StatusCode::CREATED, Json(json::Display::at(&display, state.clock.now()))))
}

/// The organization's displays, with how each is (online or offline since, what it said last).
#[utoipa::path(get, path = "/displays", tag = "Displays",
    responses((status = 200, body = Vec<json::Display>)))]
pub async fn list(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> ApiResult<Json<Vec<json::Display>>> {
    let scope = caller.principal.admin()?;
    let now = state.clock.now();
    let all = state.store.list_displays(scope.org_id()).await?;
    Ok(Json(all.iter().map(|display| json::Display::at(display, now)).collect()))
}

#[utoipa::path(get, path = "/displays/{id}", tag = "Displays", params(("id" = UserId, Path)),
    responses((status = 200, body = json::Display)))]
pub async fn show(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<json::Display>> {
    let scope = caller.principal.admin()?;
    let display = state.store.get_display(scope.org_id(), parse_id(&id, "display")?).await?;
    Ok(Json(json::Display::at(&display, state.clock.now())))
}

/// Renames a display or changes what it shows; the screen follows within seconds.
#[utoipa::path(patch, path = "/displays/{id}", tag = "Displays", params(("id" = UserId, Path)),
    request_body = requests::DisplayChange,
    responses((status = 200, body = json::Display)))]
pub async fn update(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
    JsonFields(input): JsonFields,
) -> ApiResult<Json<json::Display>> {
    let scope = caller.principal.admin()?;
    let id = parse_id(&id, "display")?;
    let display = displays::update(&state, &scope, &caller, id, &input).await?;
    Ok(Json(json::Display::at(&display, state.clock.now())))
}

/// Unpairs a display: its screen goes dark within a second and shows a new code.
#[utoipa::path(delete, path = "/displays/{id}", tag = "Displays", params(("id" = UserId, Path)),
    responses((status = 204, description = "Unpaired.")))]
pub async fn unpair(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let scope = caller.principal.admin()?;
    displays::unpair(&state, &scope, &caller, parse_id(&id, "display")?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A code for a screen to show (nothing is written: the pairing waits in memory for ten
/// minutes), with the secret the screen collects its credential with.
#[utoipa::path(post, path = "/display/pairings", tag = "Display screen",
    responses(
        (status = 201, body = json::DisplayPairing),
        (status = 429, description = "`RateLimited`: too many screens wait to be paired from this address.", body = crate::error::ErrorBody),
    ))]
pub async fn start_pairing(
    State(state): State<AppState>,
    Requester(client): Requester,
) -> ApiResult<Response> {
    let started = displays::start_pairing(&state, &client)?;
    let body = json::DisplayPairing {
        code: started.code,
        secret: started.secret,
        expires_at: json::Time(started.expires_at),
        check_every_seconds: displays::PAIRING_CHECK_SECONDS,
    };
    Ok((StatusCode::CREATED, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response())
}

/// Whether the screen holding `secret` was paired: then its credential, this once.
#[utoipa::path(post, path = "/display/pairings/claim", tag = "Display screen",
    request_body = requests::DisplayClaim,
    responses(
        (status = 200, description = "Paired: the credential.", body = json::DisplayCredential),
        (status = 202, description = "Not yet paired: ask again.", body = json::DisplayWaiting),
        (status = 404, description = "`NotFound`: the code expired (or was collected); ask for a new one.", body = crate::error::ErrorBody),
    ))]
pub async fn claim(
    State(state): State<AppState>,
    JsonFields(input): JsonFields,
) -> ApiResult<Response> {
    input.allow_only(&["secret"])?;
    let secret = input.required_str("secret")?;
    let no_store = [(header::CACHE_CONTROL, "no-store")];
    Ok(match displays::claim(&state, secret) {
        Claim::Waiting => {
            (StatusCode::ACCEPTED, no_store, Json(json::DisplayWaiting { status: "waiting" }))
                .into_response()
        }
        Claim::Paired { credential, display } => {
            let display = json::DisplayIdentity { id: display.id, name: display.name.clone() };
            (StatusCode::OK, no_store, Json(json::DisplayCredential { credential, display }))
                .into_response()
        }
        Claim::Gone => {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                "This code expired; the screen shows a new one.",
            ));
        }
    })
}

fn own(state: &AppState, screen: &DisplayCaller) -> json::DisplayOwn {
    json::DisplayOwn {
        id: screen.display.id,
        name: screen.display.name.clone(),
        show: screen.display.show.clone(),
        rotate: screen.rotation_due(state.clock.now()),
        heartbeat_seconds: displays::HEARTBEAT_SECONDS,
    }
}

/// What the screen shows, and whether to rotate its credential.
#[utoipa::path(get, path = "/display/me", tag = "Display screen",
    responses((status = 200, body = json::DisplayOwn)))]
pub async fn me(State(state): State<AppState>, Screen(screen): Screen) -> Json<json::DisplayOwn> {
    Json(own(&state, &screen))
}

/// The screen says how it is (every minute, and when that changes); answered with what it
/// shows and whether to rotate its credential.
#[utoipa::path(post, path = "/display/heartbeat", tag = "Display screen",
    request_body = requests::DisplayHeartbeat,
    responses((status = 200, body = json::DisplayOwn)))]
pub async fn heartbeat(
    State(state): State<AppState>,
    Screen(screen): Screen,
    Requester(client): Requester,
    JsonFields(input): JsonFields,
) -> ApiResult<Json<json::DisplayOwn>> {
    displays::heartbeat(&state, &screen, &input, client.user_agent.as_deref()).await?;
    Ok(Json(own(&state, &screen)))
}

/// A new credential for the screen; the one it presented stays valid for an hour.
#[utoipa::path(post, path = "/display/credential", tag = "Display screen",
    responses((status = 200, body = json::DisplayRotated)))]
pub async fn rotate(State(state): State<AppState>, Screen(screen): Screen) -> ApiResult<Response> {
    let credential = displays::rotate(&state, &screen).await?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(json::DisplayRotated { credential }))
        .into_response())
}

/// An embed token for a report the display shows, under the organization's token settings
/// and the display's row-level security.
#[utoipa::path(post, path = "/display/token", tag = "Display screen",
    request_body = requests::DisplayToken,
    responses((status = 200, body = json::EmbedToken)))]
pub async fn token(
    State(state): State<AppState>,
    Requester(client): Requester,
    headers: HeaderMap,
    Screen(first): Screen,
    JsonFields(input): JsonFields,
) -> ApiResult<Json<json::EmbedToken>> {
    input.allow_only(&["report"])?;
    let report: ReportId = input
        .required_str("report")?
        .parse()
        .map_err(|_| ApiError::invalid("report", "must be a report id"))?;
    let first = std::sync::Mutex::new(Some(first));
    let issued = until_fresh(|| async {
        let taken = first.lock().unwrap_or_else(|poison| poison.into_inner()).take();
        let screen = match taken {
            Some(screen) => screen,
            None => displays::authenticate(&state, &headers).await?,
        };
        displays::token(&state, &screen, report, &client).await
    })
    .await?;
    Ok(Json(issued.into()))
}

/// A screen's own live channel: `ready`, then `show` (its name or what it shows changed) and
/// finally `unpaired`, after which the stream ends and the screen shows a new code.
#[utoipa::path(get, path = "/display/live", tag = "Display screen",
    responses((status = 200, description = "An event stream.", content_type = "text/event-stream")))]
pub async fn live(State(state): State<AppState>, Screen(screen): Screen) -> Response {
    let Ok(slot) = std::sync::Arc::clone(&state.live.slots).try_acquire_owned() else {
        return ApiError::new(
            ErrorCode::RateLimited,
            "Too many live channels on this server; retry shortly.",
        )
        .into_response();
    };
    let (notices, _, _) = state.notices.subscribe(screen.display.org_id, None);
    let channel = ScreenChannel {
        last: shown(&screen.display),
        display: screen.display,
        state,
        notices,
        phase: ScreenPhase::Ready,
        _slot: slot,
    };
    let events = stream::unfold(channel, |mut channel| async move {
        let event = match channel.phase {
            ScreenPhase::Ready => {
                channel.phase = ScreenPhase::Watching;
                Event::default().event("ready").data("{}")
            }
            ScreenPhase::Watching => channel.next().await?,
            ScreenPhase::Done => return None,
        };
        Some((Ok::<_, Infallible>(event), channel))
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(20))).into_response()
}

enum ScreenPhase {
    Ready,
    Watching,
    Done,
}

struct ScreenChannel {
    state: AppState,
    display: vitrine_store::Display,
    /// What the screen was last told it shows.
    last: String,
    notices: tokio::sync::broadcast::Receiver<std::sync::Arc<crate::notices::OrgNotice>>,
    phase: ScreenPhase,
    _slot: tokio::sync::OwnedSemaphorePermit,
}

/// What a screen is told it shows: its name and show.
fn shown(display: &vitrine_store::Display) -> String {
    serde_json::json!({ "name": display.name, "show": display.show }).to_string()
}

impl ScreenChannel {
    /// The next thing to tell the screen: what it shows changed, or it was unpaired (the last
    /// event). Looked at again at least every minute, whatever was missed.
    async fn next(&mut self) -> Option<Event> {
        let (org, id) = (self.display.org_id, self.display.id);
        loop {
            let heard = tokio::select! {
                notice = self.notices.recv() => match notice {
                    Ok(notice) => matches!(notice.notice, Notice::Display { display } if display == id),
                    Err(RecvError::Lagged(_)) => true,
                    Err(RecvError::Closed) => return None,
                },
                () = tokio::time::sleep(Duration::from_secs(60)) => true,
            };
            if !heard {
                continue;
            }
            match self.state.store.get_display(org, id).await {
                Ok(display) => {
                    let now = shown(&display);
                    if now != self.last {
                        self.last = now.clone();
                        return Some(Event::default().event("show").data(now));
                    }
                }
                Err(vitrine_store::StoreError::NotFound) => {
                    self.phase = ScreenPhase::Done;
                    return Some(Event::default().event("unpaired").data("{}"));
                }
                Err(error) => tracing::warn!(%error, "display channel: could not read its display"),
            }
        }
    }
}
