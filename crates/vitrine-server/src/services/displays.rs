//! Displays: screens paired by a code, what they show, their credential and their health.
//!
//! A display is backed by a user of kind display, so groups, row-level-security roles and
//! capacity permissions apply to it as to people; what it shows it may open (pairing and every
//! change of what it shows grant it exactly those reports). It authenticates with a credential
//! of its own (`Authorization: Bearer`, never a URL), which no session timeout ends: it rotates
//! it every [`ROTATE_AFTER`], the one before staying valid for [`PREVIOUS_VALID_FOR`], and
//! unpairing it ends everything at once.

use axum::http::HeaderMap;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use vitrine_core::token::RevocationScope;
use vitrine_core::{AdminScope, AuthMethod, Fields, GroupId, Principal, ReportId, Role, UserId};
use vitrine_store::{Display, DisplayChange, DisplaySeen, Grantee, NewDisplay, StoreError};

use super::tokens::IssueFailure;
use crate::app::AppState;
use crate::auth::{Caller, random_secret, sha256};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::notices::Notice;
use crate::pairing::{Claim, Refusal, Started};
use crate::tokens::IssuedToken;
use crate::tokens::request_info::RequestInfo;

/// A screen rotates its credential this long after it was issued.
pub const ROTATE_AFTER: Duration = Duration::hours(24);
/// The credential before a rotation stays valid this long: a screen restarted in the middle of
/// a rotation comes back with it.
pub const PREVIOUS_VALID_FOR: Duration = Duration::hours(1);
/// A display not heard from for this long is offline.
pub const OFFLINE_AFTER: Duration = Duration::minutes(3);
/// How often a screen says how it is.
pub const HEARTBEAT_SECONDS: u32 = 60;
/// How often a screen showing its code asks whether it was paired.
pub const PAIRING_CHECK_SECONDS: u32 = 2;
/// What a screen says of itself is written at most this often unless it changes.
const SEEN_RESOLUTION: Duration = Duration::seconds(30);

pub const PLAYLIST_MAX: usize = 50;
/// Displays one organization may pair.
pub const MAX_DISPLAYS_PER_ORG: usize = 1_000;
pub const SECONDS_MIN: i64 = 10;
pub const SECONDS_MAX: i64 = 86_400;
/// The states a screen may report, as Admin › Displays shows them.
pub const STATES: [&str; 5] = ["showing", "paused", "starting", "error", "connecting"];

pub const PAIR_FIELDS: [&str; 4] = ["code", "name", "show", "groups"];
pub const CHANGE_FIELDS: [&str; 2] = ["name", "show"];

/// The reports `show` names, in order (a report may come back in a playlist).
pub fn reports_of(show: &Value) -> Vec<ReportId> {
    let one = show.get("report").into_iter();
    let many = show.get("playlist").and_then(Value::as_array).into_iter().flatten();
    one.chain(many.filter_map(|item| item.get("report")))
        .filter_map(|id| id.as_str()?.parse().ok())
        .collect()
}

/// Checks what to show: `{"report": id, "page"?: id, "pageSeconds"?: n}` (one report, opened
/// on `page`; with `pageSeconds`, its pages in turn) or `{"playlist": [{"report": id, "seconds": n}, …]}`; every report one of
/// the organization's. Answers it as stored.
async fn read_show(state: &AppState, scope: &AdminScope, raw: &Value) -> ApiResult<Value> {
    let bad = |why: &str| ApiError::invalid("show", why.to_string());
    let object = raw.as_object().ok_or_else(|| {
        bad("must be {\"report\": id} or {\"playlist\": [{\"report\": id, \"seconds\": n}, …]}")
    })?;
    let seconds = |value: Option<&Value>, what: &str| -> ApiResult<Option<i64>> {
        match value {
            None | Some(Value::Null) => Ok(None),
            Some(value) => value
                .as_i64()
                .filter(|n| (SECONDS_MIN..=SECONDS_MAX).contains(n))
                .map(Some)
                .ok_or_else(|| bad(&format!("{what} must be a whole number of seconds from {SECONDS_MIN} to {SECONDS_MAX}"))),
        }
    };
    let show = match (object.get("report"), object.get("playlist")) {
        (Some(report), None) => {
            if let Some(unknown) =
                object.keys().find(|k| !["report", "page", "pageSeconds"].contains(&k.as_str()))
            {
                return Err(bad(&format!(
                    "{unknown} is not known here; give report, page and pageSeconds"
                )));
            }
            let report = report_of(state, scope, report).await?;
            let mut show = json!({ "report": report });
            match object.get("page") {
                None | Some(Value::Null) => {}
                Some(Value::String(page)) if has_page(state, scope, report, page).await? => {
                    show["page"] = json!(page);
                }
                Some(_) => return Err(bad("page must be a page id of the report")),
            }
            if let Some(every) = seconds(object.get("pageSeconds"), "pageSeconds")? {
                show["pageSeconds"] = json!(every);
            }
            show
        }
        (None, Some(Value::Array(items))) if !items.is_empty() && items.len() <= PLAYLIST_MAX => {
            if object.len() > 1 {
                return Err(bad("a playlist comes alone"));
            }
            let mut playlist = Vec::with_capacity(items.len());
            for item in items {
                let report =
                    report_of(state, scope, item.get("report").unwrap_or(&Value::Null)).await?;
                let every = seconds(item.get("seconds"), "each playlist item's seconds")?
                    .ok_or_else(|| bad("each playlist item needs seconds"))?;
                playlist.push(json!({ "report": report, "seconds": every }));
            }
            json!({ "playlist": playlist })
        }
        (None, Some(_)) => {
            return Err(bad(&format!("playlist must list 1 to {PLAYLIST_MAX} reports")));
        }
        _ => return Err(bad("give either report or playlist")),
    };
    Ok(show)
}

async fn report_of(state: &AppState, scope: &AdminScope, raw: &Value) -> ApiResult<ReportId> {
    let id: ReportId = raw
        .as_str()
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| ApiError::invalid("show", "each report must be a report id"))?;
    match state.store.get_report(scope.org_id(), id).await {
        Ok(_) => Ok(id),
        Err(StoreError::NotFound) => {
            Err(ApiError::invalid("show", format!("{id} is not a report of this organization")))
        }
        Err(other) => Err(other.into()),
    }
}

/// Whether `page` is a page of the report.
async fn has_page(
    state: &AppState,
    scope: &AdminScope,
    report: ReportId,
    page: &str,
) -> ApiResult<bool> {
    let report = state.store.get_report(scope.org_id(), report).await?;
    let definition = super::definitions::of(&report).ok();
    Ok(definition.is_some_and(|definition| definition.pages.iter().any(|p| p.id == page)))
}

fn groups_of(input: &Fields) -> ApiResult<Vec<GroupId>> {
    match input.as_value().get("groups") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) if items.len() <= 100 => items
            .iter()
            .map(|id| {
                id.as_str()
                    .and_then(|id| id.parse().ok())
                    .ok_or_else(|| ApiError::invalid("groups", "must be a list of group ids"))
            })
            .collect(),
        Some(_) => Err(ApiError::invalid("groups", "must be a list of at most 100 group ids")),
    }
}

/// The screen showing `code` becomes a display of the caller's organization: it shows `show`,
/// may open those reports, and joins `groups`. Its screen collects the credential by itself.
pub async fn pair(
    state: &AppState,
    scope: &AdminScope,
    caller: &Caller,
    input: &Fields,
) -> ApiResult<Display> {
    input.allow_only(&PAIR_FIELDS)?;
    let code = input.required_str("code")?;
    let name = vitrine_core::validate::name("name", input.required_str("name")?)?;
    let show =
        read_show(state, scope, input.as_value().get("show").unwrap_or(&Value::Null)).await?;
    let groups = groups_of(input)?;
    if state.store.list_displays(scope.org_id()).await?.len() >= MAX_DISPLAYS_PER_ORG {
        return Err(ApiError::new(
            ErrorCode::LimitReached,
            format!(
                "An organization pairs at most {MAX_DISPLAYS_PER_ORG} displays; unpair one first."
            ),
        ));
    }
    let now = state.clock.now();
    let code = state.pairings.reserve(scope.org_id(), code, now).map_err(|refusal| match refusal {
        Refusal::WrongCode => ApiError::invalid(
            "code",
            "No screen shows this code now: check it, or open /display on the screen again for a new one.",
        ),
        Refusal::TooManyAttempts => ApiError::new(
            ErrorCode::RateLimited,
            "Too many wrong codes; wait a few minutes before entering another.",
        ),
    })?;
    let credential = random_secret();
    let new = NewDisplay { name, show, credential_hash: sha256(&credential), groups };
    let actor = caller.actor(now);
    let made = async {
        let display =
            state.store.create_display(scope.org_id(), &actor, &new).await.map_err(|error| {
                match error {
                    StoreError::NotFound => {
                        ApiError::invalid("groups", "a group is not of this organization")
                    }
                    other => other.into(),
                }
            })?;
        grant_shown(state, &actor, &display, &[]).await?;
        Ok::<_, ApiError>(display)
    }
    .await;
    match made {
        Ok(display) => {
            state.pairings.complete(&code, credential, display.clone());
            Ok(display)
        }
        Err(error) => {
            state.pairings.release(&code);
            Err(error)
        }
    }
}

/// Grants the display the reports it shows now, and takes back those of `before` it no longer
/// shows (revoking its tokens for them).
async fn grant_shown(
    state: &AppState,
    actor: &vitrine_store::Actor,
    display: &Display,
    before: &[ReportId],
) -> ApiResult<()> {
    let now_shown = reports_of(&display.show);
    let grantee = Grantee::User(display.id);
    for report in &now_shown {
        if !before.contains(report) {
            state.store.set_report_access(display.org_id, actor, *report, grantee, true).await?;
        }
    }
    let mut dropped = false;
    for report in before {
        if !now_shown.contains(report) {
            state.store.set_report_access(display.org_id, actor, *report, grantee, false).await?;
            dropped = true;
        }
    }
    if dropped {
        state.tokens.revoker.revoke(RevocationScope::User(display.id)).await?;
    }
    Ok(())
}

/// Renames a display or changes what it shows; its screen follows within seconds.
pub async fn update(
    state: &AppState,
    scope: &AdminScope,
    caller: &Caller,
    id: UserId,
    input: &Fields,
) -> ApiResult<Display> {
    input.allow_only(&CHANGE_FIELDS)?;
    let name = input
        .optional_str("name")?
        .map(|name| vitrine_core::validate::name("name", name))
        .transpose()?;
    let show = match input.as_value().get("show") {
        Some(raw) => Some(read_show(state, scope, raw).await?),
        None => None,
    };
    let before = state.store.get_display(scope.org_id(), id).await?;
    let actor = caller.actor(state.clock.now());
    let change = DisplayChange { name, show };
    let display = state.store.update_display(scope.org_id(), &actor, id, &change).await?;
    grant_shown(state, &actor, &display, &reports_of(&before.show)).await?;
    state.notices.publish(scope.org_id(), Notice::Display { display: id });
    Ok(display)
}

/// Unpairs a display: its screen goes dark within a second and shows a new code.
pub async fn unpair(
    state: &AppState,
    scope: &AdminScope,
    caller: &Caller,
    id: UserId,
) -> ApiResult<()> {
    let actor = caller.actor(state.clock.now());
    state.store.delete_display(scope.org_id(), &actor, id).await?;
    state.tokens.revoker.revoke(RevocationScope::User(id)).await?;
    state.notices.publish(scope.org_id(), Notice::Display { display: id });
    Ok(())
}

/// A screen asks for a code to show.
pub fn start_pairing(state: &AppState, client: &RequestInfo) -> ApiResult<Started> {
    let address = client.address.unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    state.pairings.start(address, state.clock.now()).map_err(|_| {
        ApiError::new(
            ErrorCode::RateLimited,
            "Too many screens are waiting to be paired from here; pair some, or wait ten minutes.",
        )
    })
}

/// A screen showing its code asks whether it was paired.
pub fn claim(state: &AppState, secret: &str) -> Claim {
    state.pairings.claim(secret, state.clock.now())
}

/// The display whose screen sent a request, with a caller acting as it.
pub struct DisplayCaller {
    pub display: Display,
    pub caller: Caller,
    credential_hash: Vec<u8>,
    /// The credential presented is the one before the last rotation.
    previous: bool,
}

fn unpaired() -> ApiError {
    ApiError::new(
        ErrorCode::Unauthenticated,
        "This screen is not paired (or was unpaired): it shows a new code to pair it again.",
    )
    .bearer()
}

/// Finds the display of a request by its credential (`Authorization: Bearer`).
pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> ApiResult<DisplayCaller> {
    let snapshot = state.tokens.revoker.snapshot();
    let presented = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|value| !value.is_empty() && value.len() <= 128)
        .ok_or_else(unpaired)?;
    let credential_hash = sha256(presented);
    let now = state.clock.now();
    let found = state.store.find_display_by_credential(&credential_hash, now).await?;
    let found = found.ok_or_else(unpaired)?;
    if found.org_suspended {
        return Err(crate::auth::suspended());
    }
    let display = found.display;
    let caller = Caller {
        principal: Principal {
            org_id: display.org_id,
            user_id: Some(display.id),
            role: Role::Viewer,
            label: label(&display),
            method: AuthMethod::Display,
            operator: false,
        },
        org_name: found.org_name,
        org_settings: found.settings,
        user: Some(found.user),
        session: None,
        api_key: None,
        snapshot,
    };
    Ok(DisplayCaller { display, caller, credential_hash, previous: found.previous })
}

/// How a display is named in the audit.
pub fn label(display: &Display) -> String {
    format!("display {}", display.name)
}

impl DisplayCaller {
    /// Whether the screen should rotate its credential now.
    pub fn rotation_due(&self, now: DateTime<Utc>) -> bool {
        self.previous || now - self.display.credential_issued_at >= ROTATE_AFTER
    }
}

/// A new credential for the screen; the one it presented stays valid for a while.
pub async fn rotate(state: &AppState, display: &DisplayCaller) -> ApiResult<String> {
    let now = state.clock.now();
    let credential = random_secret();
    let rotated = state
        .store
        .rotate_display_credential(
            display.display.id,
            &display.credential_hash,
            &sha256(&credential),
            now,
            now + PREVIOUS_VALID_FOR,
        )
        .await?;
    if !rotated {
        return Err(unpaired());
    }
    Ok(credential)
}

/// What a screen says of itself: written when it changed, or at most every 30 seconds.
pub async fn heartbeat(
    state: &AppState,
    display: &DisplayCaller,
    input: &Fields,
    user_agent: Option<&str>,
) -> ApiResult<()> {
    input.allow_only(&["state", "detail"])?;
    let said = input.required_str("state")?;
    if !STATES.contains(&said) {
        return Err(ApiError::invalid("state", format!("must be one of {}", STATES.join(", "))));
    }
    let detail = input.optional_str("detail")?.map(|d| d.chars().take(200).collect::<String>());
    let now = state.clock.now();
    let known = &display.display;
    let fresh = known.last_seen_at.is_some_and(|at| now - at < SEEN_RESOLUTION);
    let same = known.last_state.as_deref() == Some(said) && known.last_detail == detail;
    if !(fresh && same) {
        let seen = DisplaySeen {
            at: now,
            state: said.to_string(),
            detail,
            user_agent: user_agent.map(|agent| agent.chars().take(300).collect()),
        };
        state.store.display_seen(known.id, &seen).await?;
    }
    Ok(())
}

/// A token for one of the reports the display shows.
pub async fn token(
    state: &AppState,
    display: &DisplayCaller,
    report: ReportId,
    request: &RequestInfo,
) -> Result<IssuedToken, IssueFailure> {
    if !reports_of(&display.display.show).contains(&report) {
        return Err(
            ApiError::new(ErrorCode::NoAccess, "This display does not show that report.").into()
        );
    }
    super::tokens::issue(state, &display.caller, report, request).await
}

/// Whether a display is offline at `now`, and since when.
pub fn offline_since(display: &Display, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let last = display.last_seen_at.unwrap_or(display.paired_at);
    (now - last >= OFFLINE_AFTER).then_some(last)
}

/// One pass of the health watch over every display of the installation: counts them online and
/// offline (the `displays` metric) and, with `[displays] alert_webhook` set, reports once each
/// display offline for `offline_alert_minutes` (`display.offline`) and once when it is back
/// (`display.online`). A webhook that fails is tried again on the next pass.
pub async fn watch(state: &AppState) -> ApiResult<()> {
    let now = state.clock.now();
    let all = state.store.all_displays().await?;
    let offline = all.iter().filter(|display| offline_since(display, now).is_some()).count();
    state.metrics.displays(all.len() - offline, offline);
    let Some(webhook) = state.config.displays.alert_webhook.as_deref() else {
        return Ok(());
    };
    let after = Duration::minutes(i64::from(state.config.displays.offline_alert_minutes));
    for display in &all {
        let since = offline_since(display, now);
        let event = match (since, display.offline_alerted_at) {
            (Some(since), None) if now - since >= after => "display.offline",
            (None, Some(_)) => "display.online",
            _ => continue,
        };
        let organization = state.store.get_organization(display.org_id).await?;
        let body = json!({
            "event": event,
            "at": now,
            "organization": { "id": organization.id, "name": organization.name },
            "display": {
                "id": display.id,
                "name": display.name,
                "offlineSince": since,
                "lastSeenAt": display.last_seen_at,
                "lastState": display.last_state,
                "lastDetail": display.last_detail,
                "browser": display.user_agent,
            },
        });
        let sent = state.http.post(webhook).json(&body).send().await;
        match sent.map(|answer| answer.error_for_status()) {
            Ok(Ok(_)) => {
                state.metrics.display_alert(event);
                let alerted = (event == "display.offline").then_some(now);
                state.store.set_display_alerted(display.id, alerted).await?;
            }
            Ok(Err(error)) | Err(error) => {
                state.metrics.display_alert("failed");
                let id = display.id;
                tracing::warn!(%error, display = %id, event, "could not send a display alert");
            }
        }
    }
    Ok(())
}

/// Runs [`watch`] every `every` until the process ends.
pub fn spawn_watch(state: AppState, every: std::time::Duration) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            // One node alerts, or every node would send the webhook.
            if !state.leadership.is_leader() {
                continue;
            }
            if let Err(error) = watch(&state).await {
                tracing::warn!(?error, "display health pass failed");
            }
        }
    });
}
