//! Capacities over the API and the portal: reading, changing settings, switching by hand, and
//! placing reports on them. Administrators only: contributors and viewers never manage
//! capacities.

use vitrine_core::capacity::{self, CapacityMode, CapacityState, WeeklySchedule};
use vitrine_core::token::{EmbedClaims, Subject};
use vitrine_core::{AdminScope, CapacityId, Fields, validate};
use vitrine_store::{Capacity, CapacityChange};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};

/// The settings given only when a capacity is created.
pub const CREATE_ONLY: [&str; 2] = ["provider", "azure"];

pub const FIELDS: [&str; 7] =
    ["name", "mode", "idleMinutes", "schedule", "timeZone", "hourlyPrice", "wakeFromViewer"];

/// The providers a capacity can be created on: `local` frees and reloads the built-in engine's
/// datasets; `azure` suspends and resumes an Azure capacity (Power BI Embedded or Fabric);
/// `simulated` does nothing but take its time, for trying out schedules.
pub const PROVIDERS: [&str; 3] = ["local", "azure", "simulated"];

/// Reads a settings patch; every field is checked before anything changes.
pub fn change_from(input: &Fields) -> ApiResult<CapacityChange> {
    input.allow_only(&FIELDS)?;
    settings_from(input)
}

fn settings_from(input: &Fields) -> ApiResult<CapacityChange> {
    let raw = input.as_value();
    let mode = input
        .optional_str("mode")?
        .map(|text| {
            CapacityMode::parse(text)
                .ok_or_else(|| ApiError::invalid("mode", "must be manual, onDemand or schedule"))
        })
        .transpose()?;
    let idle_minutes =
        input.optional_int_in("idleMinutes", 1, capacity::IDLE_MINUTES_MAX)?.map(|m| m as u32);
    let schedule =
        raw.get("schedule").map(|value| capacity::parse_schedule("schedule", value)).transpose()?;
    let time_zone = input
        .optional_str("timeZone")?
        .map(|zone| WeeklySchedule::zone("timeZone", zone).map(|_| zone.to_string()))
        .transpose()?;
    let hourly_price = match raw.get("hourlyPrice") {
        None => None,
        Some(value) => Some(
            value
                .as_f64()
                .filter(|price| {
                    price.is_finite() && (0.0..=capacity::HOURLY_PRICE_MAX).contains(price)
                })
                .ok_or_else(|| {
                    ApiError::invalid("hourlyPrice", "must be a number from 0 to 1000000")
                })?,
        ),
    };
    Ok(CapacityChange {
        name: input.optional_str("name")?.map(|n| validate::name("name", n)).transpose()?,
        mode,
        idle_minutes,
        schedule,
        time_zone,
        hourly_price,
        wake_from_viewer: input.optional_bool("wakeFromViewer")?,
    })
}

/// Creates a capacity: `name` is required, `provider` is `local` unless given, and the settings
/// not given take their defaults (on demand, idle 30 minutes, woken from the viewer, the
/// organization's time zone).
pub async fn create(
    state: &AppState,
    scope: &AdminScope,
    caller: &Caller,
    input: &Fields,
) -> ApiResult<Capacity> {
    let mut allowed = FIELDS.to_vec();
    allowed.extend(CREATE_ONLY);
    input.allow_only(&allowed)?;
    let name = validate::name("name", input.required_str("name")?)?;
    let raw = input.as_value();
    let given_azure = raw.get("azure");
    let default = if given_azure.is_some() { "azure" } else { "local" };
    let provider = input.optional_str("provider")?.unwrap_or(default);
    if !PROVIDERS.contains(&provider) {
        return Err(ApiError::invalid("provider", "must be local, azure or simulated"));
    }
    let azure = match provider {
        "azure" => Some(super::azure::resource_from(given_azure)?),
        _ if given_azure.is_some() => {
            return Err(ApiError::invalid("azure", "is only for a capacity of provider azure"));
        }
        _ => None,
    };
    let settings = settings_from(input)?;
    let org = scope.org_id();
    let time_zone = state.store.get_organization(org).await?.settings.time_zone;
    let mut capacity = new_capacity(org, name, provider, settings, time_zone, state.clock.now());
    if let Some(azure) = azure {
        // Asked before anything is saved: whether the principal reaches the capacity, and
        // the state it is in, which the new capacity starts from.
        use super::azure::{ArmFault, AzureState};
        capacity.state = match super::azure::state_of(state, org, &azure).await {
            Ok(AzureState::Paused) => CapacityState::Paused,
            Ok(_) => CapacityState::Running,
            Err(ArmFault::Unreachable) => {
                return Err(ApiError::new(
                    crate::error::ErrorCode::PowerBiUnavailable,
                    "Azure could not be reached from the server; try again in a moment.",
                ));
            }
            Err(fault) => return Err(ApiError::invalid("azure", fault.to_string())),
        };
        capacity.azure = Some(azure);
    }
    let now = state.clock.now();
    Ok(state.store.create_capacity(org, &caller.actor(now), &capacity).await?)
}

/// A new capacity, running, with `settings` over the defaults: on demand, idle 30 minutes, no
/// price, woken from the viewer, windows read in `org_time_zone`.
pub fn new_capacity(
    org_id: vitrine_core::OrgId,
    name: String,
    provider: &str,
    settings: CapacityChange,
    org_time_zone: String,
    now: chrono::DateTime<chrono::Utc>,
) -> Capacity {
    Capacity {
        id: CapacityId::generate(),
        org_id,
        name,
        provider: provider.to_string(),
        azure: None,
        state: CapacityState::Running,
        mode: settings.mode.unwrap_or(CapacityMode::OnDemand),
        idle_minutes: settings.idle_minutes.unwrap_or(30),
        schedule: settings.schedule.unwrap_or_default(),
        time_zone: settings.time_zone.unwrap_or(org_time_zone),
        hourly_price: settings.hourly_price.unwrap_or(0.0),
        wake_from_viewer: settings.wake_from_viewer.unwrap_or(true),
        state_since: now,
        last_activity: None,
        created_at: now,
    }
}

pub async fn update(
    state: &AppState,
    scope: &AdminScope,
    caller: &Caller,
    id: CapacityId,
    input: &Fields,
) -> ApiResult<Capacity> {
    let change = change_from(input)?;
    let updated = state
        .store
        .update_capacity(scope.org_id(), &caller.actor(state.clock.now()), id, &change)
        .await;
    state.capacities.gate.forget_capacity(id);
    Ok(updated?)
}

/// Deletes a capacity, with its timeline. Refused (409, naming the field) while it is starting
/// or pausing, and while reports run on it: each must be placed elsewhere first, so that none
/// is silently left always on.
pub async fn delete(
    state: &AppState,
    scope: &AdminScope,
    caller: &Caller,
    id: CapacityId,
) -> ApiResult<()> {
    let conflict = |field: &str, message: String| {
        ApiError::invalid(field, message).with_status(axum::http::StatusCode::CONFLICT)
    };
    let changing =
        || conflict("state", "is starting or pausing: try again when it has finished".into());
    let capacity = state.store.get_capacity(scope.org_id(), id).await?;
    if matches!(capacity.state, CapacityState::Resuming | CapacityState::Pausing) {
        return Err(changing());
    }
    let reports = state.store.list_reports(scope.org_id()).await?;
    let placed: Vec<&str> =
        reports.iter().filter(|r| r.capacity_id == Some(id)).map(|r| r.name.as_str()).collect();
    let in_use = |names: &[&str]| {
        conflict(
            "reports",
            format!(
                "{} on this capacity ({}): place {} on another capacity, or on none, first",
                if names.len() == 1 {
                    "1 report runs".to_string()
                } else {
                    format!("{} reports run", names.len())
                },
                names.join(", "),
                if names.len() == 1 { "it" } else { "them" },
            ),
        )
    };
    if !placed.is_empty() {
        return Err(in_use(&placed));
    }
    let actor = caller.actor(state.clock.now());
    let deleted = state.store.delete_capacity(scope.org_id(), &actor, id).await;
    state.capacities.gate.forget_capacity(id);
    deleted.map_err(|e| match e {
        // It started changing, or a report was placed on it, meanwhile.
        vitrine_store::StoreError::Conflict { field: "state" } => changing(),
        vitrine_store::StoreError::Conflict { .. } => in_use(&["placed just now"]),
        other => other.into(),
    })
}

/// Switches by hand: `resume` or `pause`. Answers the state after the request.
pub async fn switch(
    state: &AppState,
    scope: &AdminScope,
    caller: &Caller,
    id: CapacityId,
    on: bool,
) -> ApiResult<CapacityState> {
    let actor = Some(caller.principal.label.as_str());
    let result = if on {
        state.capacities.resume(scope.org_id(), id, "manual", actor).await
    } else {
        state.capacities.pause(scope.org_id(), id, "manual", actor).await
    };
    Ok(result?)
}

/// Lets a user through to a report on `capacity`, or explains why not. A running capacity
/// notes the activity of users holding `capacity.keepOn`; a paused one is woken by users
/// holding `capacity.turnOn` (unless waking from the viewer is off, for this capacity or for the
/// whole organization), and everyone else is told it is paused and when it is scheduled back.
pub async fn admit(
    state: &AppState,
    org: vitrine_core::OrgId,
    user: vitrine_core::UserId,
    user_label: &str,
    capacity: CapacityId,
    may_wake: bool,
) -> ApiResult<()> {
    let permissions = state.capacities.gate.permissions(&*state.store, org, user).await?;
    admit_holding(state, org, user_label, capacity, may_wake, &permissions).await
}

/// [`admit`] for the holder of an embed token (never woken from here: opening the report did
/// that): a signed-in user's permissions are read as they are now; a host app's user holds what
/// their embed key granted when the token was minted.
pub async fn admit_token(
    state: &AppState,
    claims: &EmbedClaims,
    capacity: CapacityId,
) -> ApiResult<()> {
    let label = viewer_label(claims);
    match claims.sub {
        Subject::User(user) => admit(state, claims.org, user, &label, capacity, false).await,
        Subject::Identity(_) => {
            let held = token_rights(claims);
            admit_holding(state, claims.org, &label, capacity, false, held).await
        }
    }
}

/// Whether the holder of an embed token may keep a capacity on: their open report is activity.
pub async fn keeps_on(state: &AppState, claims: &EmbedClaims) -> ApiResult<bool> {
    let keep_on = &vitrine_core::Permission::CapacityKeepOn;
    Ok(match claims.sub {
        Subject::User(user) => state
            .capacities
            .gate
            .permissions(&*state.store, claims.org, user)
            .await?
            .contains(keep_on),
        Subject::Identity(_) => token_rights(claims).contains(keep_on),
    })
}

/// How the holder of an embed token is named in a capacity's activity: a user by the email
/// their token was issued to, a host app's user as `identity <their id>`.
pub fn viewer_label(claims: &EmbedClaims) -> String {
    match claims.sub {
        Subject::User(_) => claims.rls.username.clone(),
        Subject::Identity(_) => super::embed_tokens::label(&claims.rls.username),
    }
}

/// The capacity permissions an embed token itself carries (a host app's user's).
fn token_rights(claims: &EmbedClaims) -> &'static [vitrine_core::Permission] {
    if claims.keeps_capacity_on { &[vitrine_core::Permission::CapacityKeepOn] } else { &[] }
}

/// [`admit`] for a viewer whose capacity permissions are `permissions` (a host app's user
/// holds those its embed key grants).
pub async fn admit_holding(
    state: &AppState,
    org: vitrine_core::OrgId,
    user_label: &str,
    capacity: CapacityId,
    may_wake: bool,
    permissions: &[vitrine_core::Permission],
) -> ApiResult<()> {
    let capacity = state.capacities.gate.capacity(&*state.store, org, capacity).await?;
    let now = state.clock.now();
    if capacity.state == CapacityState::Running {
        if permissions.contains(&vitrine_core::Permission::CapacityKeepOn)
            && state.capacities.keeper_seen(capacity.id, user_label, now)
        {
            state.store.record_capacity_activity(capacity.id, &[user_label], now).await?;
        }
        return Ok(());
    }
    let may_wake = may_wake
        && capacity.wake_from_viewer
        && matches!(capacity.state, CapacityState::Paused | CapacityState::Failed)
        && state.store.get_organization(org).await?.settings.capacity_wake_from_viewer;
    let keeps_on = permissions.contains(&vitrine_core::Permission::CapacityKeepOn);
    let pause = last_pause(state, &capacity).await?;
    let reason = if !may_wake {
        None
    } else if permissions.contains(&vitrine_core::Permission::CapacityTurnOn) {
        Some("demand")
    } else if keeps_on && keeper_returns(state, &capacity, pause.as_ref(), user_label).await? {
        Some("keeper returned")
    } else {
        None
    };
    let current = match reason {
        Some(reason) => state.capacities.resume(org, capacity.id, reason, Some(user_label)).await?,
        None => capacity.state,
    };
    let answer = not_active(&capacity, current, pause.as_ref().map(|p| p.0.as_str()), now);
    state.metrics.capacity_wait(answer.code.as_str());
    Err(answer)
}

/// Why and since when a paused capacity is paused, and when the run before the pause began:
/// from the newest events of its timeline.
async fn last_pause(
    state: &AppState,
    capacity: &Capacity,
) -> ApiResult<Option<(String, chrono::DateTime<chrono::Utc>)>> {
    if capacity.state != CapacityState::Paused {
        return Ok(None);
    }
    let events = state.store.capacity_events(capacity.org_id, capacity.id, 8).await?;
    let Some(paused) = events.first().filter(|e| e.state == CapacityState::Paused) else {
        return Ok(None);
    };
    // A capacity created running has no event for the start of its first run.
    let run_began = events
        .iter()
        .find(|e| e.state == CapacityState::Running)
        .map_or(capacity.created_at, |e| e.at);
    Ok(Some((paused.reason.clone(), run_began)))
}

/// The rule that no outage, sleep or restart strands a screen: a viewer holding
/// `capacity.keepOn` that kept the capacity on during its last run may resume it when that
/// run ended for inactivity — the screen was unreachable, not unwanted. A pause by an
/// administrator or by the schedule stands.
async fn keeper_returns(
    state: &AppState,
    capacity: &Capacity,
    pause: Option<&(String, chrono::DateTime<chrono::Utc>)>,
    user_label: &str,
) -> ApiResult<bool> {
    let Some((reason, run_began)) = pause else {
        return Ok(false);
    };
    if reason != "inactivity" {
        return Ok(false);
    }
    let keepers = state.store.capacity_keepers(capacity.org_id, capacity.id, *run_began).await?;
    Ok(keepers.iter().any(|(who, _)| who == user_label))
}

fn not_active(
    capacity: &Capacity,
    current: CapacityState,
    paused_for: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> ApiError {
    let zone = WeeklySchedule::zone("timeZone", &capacity.time_zone).ok();
    let next_start =
        zone.filter(|_| capacity.mode == CapacityMode::Schedule).and_then(|time_zone| {
            WeeklySchedule { windows: capacity.schedule.clone(), time_zone }.next_start(now)
        });
    let details = crate::api::json::CapacityProblem {
        id: capacity.id,
        state: current,
        paused_for: paused_for.map(str::to_string),
        next_start: next_start.map(crate::api::json::Time),
    };
    let error = if current == CapacityState::Resuming {
        ApiError::new(
            crate::error::ErrorCode::CapacityStarting,
            "The report's capacity is starting; the report appears by itself when it is ready.",
        )
    } else {
        // Said in the capacity's own time zone: that is the one its windows are written in.
        let when = next_start
            .zip(zone)
            .map(|(at, zone)| {
                let local = at.with_timezone(&zone).format("%a %Y-%m-%d %H:%M");
                format!(" It is scheduled back on {local} ({}).", capacity.time_zone)
            })
            .unwrap_or_default();
        let why = match paused_for {
            Some("manual") => "The report's capacity was paused by an administrator.",
            Some("schedule") => "The report's capacity is paused by its schedule.",
            _ => "The report's capacity is paused to save cost.",
        };
        ApiError::new(
            crate::error::ErrorCode::CapacityNotActive,
            format!("{why}{when} The report appears by itself once it runs again."),
        )
    };
    ApiError { capacity: Some(details), ..error }
}
