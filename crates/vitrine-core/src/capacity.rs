//! Capacity rules, without I/O: the states a capacity moves through, its weekly schedule in the
//! organization's time zone, and the scheduler's decision for a moment in time. The decision
//! depends only on its inputs, so running it twice for the same moment decides the same.

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::input::FieldError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum CapacityState {
    Running,
    Pausing,
    Paused,
    Resuming,
    Failed,
}

impl CapacityState {
    pub fn as_str(self) -> &'static str {
        match self {
            CapacityState::Running => "Running",
            CapacityState::Pausing => "Pausing",
            CapacityState::Paused => "Paused",
            CapacityState::Resuming => "Resuming",
            CapacityState::Failed => "Failed",
        }
    }

    pub const ALL: [CapacityState; 5] = [
        CapacityState::Running,
        CapacityState::Pausing,
        CapacityState::Paused,
        CapacityState::Resuming,
        CapacityState::Failed,
    ];

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == text)
    }

    /// A transition is under way; no other may start.
    pub fn is_transitioning(self) -> bool {
        matches!(self, CapacityState::Pausing | CapacityState::Resuming)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum CapacityMode {
    /// Switched on and off by hand only.
    Manual,
    /// Started when a permitted user opens a report, paused after the idle time.
    OnDemand,
    /// On inside the weekly windows; on demand outside them.
    Schedule,
}

impl CapacityMode {
    pub const ALL: [CapacityMode; 3] =
        [CapacityMode::Manual, CapacityMode::OnDemand, CapacityMode::Schedule];

    pub fn as_str(self) -> &'static str {
        match self {
            CapacityMode::Manual => "manual",
            CapacityMode::OnDemand => "onDemand",
            CapacityMode::Schedule => "schedule",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|mode| mode.as_str() == text)
    }
}

/// A weekly window in local time: `day` from `start` to `end` (same day, `end` after `start`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeeklyWindow {
    pub day: Weekday,
    pub start: NaiveTime,
    pub end: NaiveTime,
}

/// The weekly windows of a schedule and the time zone they are read in.
#[derive(Debug, Clone, PartialEq)]
pub struct WeeklySchedule {
    pub windows: Vec<WeeklyWindow>,
    pub time_zone: Tz,
}

/// The instant a local wall-clock time happens; in a daylight-saving gap, the first instant
/// after it, and in an overlap, the first of the two.
fn instant(zone: Tz, date: chrono::NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
    let local = date.and_time(time);
    match zone.from_local_datetime(&local) {
        chrono::LocalResult::Single(at) => Some(at.with_timezone(&Utc)),
        chrono::LocalResult::Ambiguous(first, _) => Some(first.with_timezone(&Utc)),
        chrono::LocalResult::None => (1..=180)
            .map(|minutes| local + Duration::minutes(minutes))
            .find_map(|shifted| zone.from_local_datetime(&shifted).earliest())
            .map(|at| at.with_timezone(&Utc)),
    }
}

impl WeeklySchedule {
    /// Reads a time zone name such as `Europe/Paris`.
    pub fn zone(field: &str, name: &str) -> Result<Tz, FieldError> {
        name.parse::<Tz>().map_err(|_| {
            FieldError::new(field, format!("`{name}` is not a time zone such as Europe/Paris"))
        })
    }

    /// Every window occurrence (start, end) from a week before `around` to a week after.
    fn occurrences(&self, around: DateTime<Utc>) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let local_today = around.with_timezone(&self.time_zone).date_naive();
        let mut spans = Vec::new();
        for offset in -8..=8 {
            let date = local_today + Duration::days(offset);
            for window in self.windows.iter().filter(|w| w.day == date.weekday()) {
                if let (Some(start), Some(end)) = (
                    instant(self.time_zone, date, window.start),
                    instant(self.time_zone, date, window.end),
                ) && end > start
                {
                    spans.push((start, end));
                }
            }
        }
        spans.sort();
        spans
    }

    /// Whether `at` falls inside a window.
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.window_at(at).is_some()
    }

    /// The window occurrence (start, end) that `at` falls inside.
    pub fn window_at(&self, at: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        self.occurrences(at).into_iter().find(|(start, end)| *start <= at && at < *end)
    }

    /// The end of the latest window that ended at or before `at`.
    pub fn last_end(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.occurrences(at).into_iter().map(|(_, end)| end).filter(|end| *end <= at).max()
    }

    /// The start of the next window after `at`, to tell users when the capacity is back.
    pub fn next_start(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.occurrences(at).into_iter().map(|(start, _)| start).find(|start| *start > at)
    }
}

pub const IDLE_MINUTES_MAX: i64 = 1_440;
pub const HOURLY_PRICE_MAX: f64 = 1_000_000.0;
const MAX_WINDOWS: usize = 50;

/// Reads `[{"day":"Mon","start":"08:00","end":"18:00"}, …]`, naming the place of any error.
pub fn parse_schedule(
    field: &str,
    value: &serde_json::Value,
) -> Result<Vec<WeeklyWindow>, FieldError> {
    let items = value.as_array().filter(|items| items.len() <= MAX_WINDOWS).ok_or_else(|| {
        FieldError::new(field, format!("must be a list of at most {MAX_WINDOWS} weekly windows"))
    })?;
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let at = |part: &str| format!("{field}[{index}].{part}");
            let text = |part: &str| {
                item.get(part)
                    .and_then(serde_json::Value::as_str)
                    .ok_or_else(|| FieldError::new(at(part), "is required"))
            };
            let day = text("day")?
                .parse::<Weekday>()
                .map_err(|_| FieldError::new(at("day"), "must be a day such as Mon or Monday"))?;
            let time = |part: &str| {
                NaiveTime::parse_from_str(text(part)?, "%H:%M")
                    .map_err(|_| FieldError::new(at(part), "must be a time such as 08:00"))
            };
            let (start, end) = (time("start")?, time("end")?);
            if end <= start {
                return Err(FieldError::new(
                    at("end"),
                    "must be after start (split windows that cross midnight)",
                ));
            }
            Ok(WeeklyWindow { day, start, end })
        })
        .collect()
}

/// Hours on (running, or changing state, which is billed) and off (paused or failed) between
/// `from` and `to`, given the state at `from` and the state changes after it in time order.
pub fn usage(
    initial: CapacityState,
    changes: &[(DateTime<Utc>, CapacityState)],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> (f64, f64) {
    let billed =
        |state: CapacityState| !matches!(state, CapacityState::Paused | CapacityState::Failed);
    let (mut on, mut off) = (0.0, 0.0);
    let mut state = initial;
    let mut since = from;
    for (at, next) in changes.iter().filter(|(at, _)| *at > from && *at < to) {
        let hours = (*at - since).num_milliseconds() as f64 / 3_600_000.0;
        if billed(state) {
            on += hours
        } else {
            off += hours
        }
        state = *next;
        since = *at;
    }
    let hours = (to - since).num_milliseconds().max(0) as f64 / 3_600_000.0;
    if billed(state) {
        on += hours
    } else {
        off += hours
    }
    (on, off)
}

/// Why the scheduler acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Reason {
    Schedule,
    Inactivity,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Resume(Reason),
    Pause(Reason),
    Stay,
}

/// What the scheduler knows at one moment.
#[derive(Debug, Clone, Copy)]
pub struct Observation {
    pub now: DateTime<Utc>,
    pub state: CapacityState,
    /// When the capacity last became Running.
    pub running_since: Option<DateTime<Utc>>,
    /// The latest activity of a user holding `capacity.keepOn`.
    pub last_activity: Option<DateTime<Utc>>,
}

/// Decides what the scheduler should do now. Manual capacities are left alone; inside a
/// schedule window a capacity runs; otherwise (and on demand) it pauses once it has been idle
/// for `idle` since the latest of: it started running, the last permitted activity, the end
/// of the last window — so people still at work when a window ends are not cut off.
pub fn decide(
    mode: CapacityMode,
    idle: Duration,
    schedule: Option<&WeeklySchedule>,
    seen: &Observation,
) -> Decision {
    if mode == CapacityMode::Manual || seen.state.is_transitioning() {
        return Decision::Stay;
    }
    let in_window =
        mode == CapacityMode::Schedule && schedule.is_some_and(|s| s.contains(seen.now));
    if in_window {
        return match seen.state {
            CapacityState::Paused | CapacityState::Failed => Decision::Resume(Reason::Schedule),
            _ => Decision::Stay,
        };
    }
    if seen.state != CapacityState::Running {
        return Decision::Stay;
    }
    let window_end = if mode == CapacityMode::Schedule {
        schedule.and_then(|s| s.last_end(seen.now))
    } else {
        None
    };
    let since = [seen.running_since, seen.last_activity, window_end].into_iter().flatten().max();
    match since {
        Some(since) if seen.now - since >= idle => Decision::Pause(Reason::Inactivity),
        _ => Decision::Stay,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn time(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    fn office_hours() -> WeeklySchedule {
        let weekdays =
            [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri, Weekday::Sun];
        WeeklySchedule {
            windows: weekdays
                .iter()
                .map(|day| WeeklyWindow { day: *day, start: time(8, 0), end: time(18, 0) })
                .collect(),
            time_zone: "Europe/Paris".parse().unwrap(),
        }
    }

    fn running(now: &str, since: &str, activity: Option<&str>) -> Observation {
        Observation {
            now: at(now),
            state: CapacityState::Running,
            running_since: Some(at(since)),
            last_activity: activity.map(at),
        }
    }

    #[test]
    fn on_demand_pauses_after_exactly_the_idle_time_since_the_last_permitted_activity() {
        let idle = Duration::minutes(30);
        let seen =
            running("2026-03-02T10:29:59Z", "2026-03-02T09:00:00Z", Some("2026-03-02T10:00:00Z"));
        assert_eq!(decide(CapacityMode::OnDemand, idle, None, &seen), Decision::Stay);
        let seen =
            running("2026-03-02T10:30:00Z", "2026-03-02T09:00:00Z", Some("2026-03-02T10:00:00Z"));
        assert_eq!(
            decide(CapacityMode::OnDemand, idle, None, &seen),
            Decision::Pause(Reason::Inactivity)
        );
        let fresh = running("2026-03-02T10:30:00Z", "2026-03-02T10:15:00Z", None);
        assert_eq!(
            decide(CapacityMode::OnDemand, idle, None, &fresh),
            Decision::Stay,
            "counted from the start"
        );
        assert_eq!(
            decide(CapacityMode::Manual, idle, None, &seen),
            Decision::Stay,
            "manual is left alone"
        );
    }

    #[test]
    fn a_schedule_keeps_the_capacity_on_inside_its_windows_in_local_time() {
        let schedule = office_hours();
        // 08:00 in Paris in winter is 07:00 UTC.
        assert!(!schedule.contains(at("2026-03-02T06:59:59Z")));
        assert!(schedule.contains(at("2026-03-02T07:00:00Z")));
        assert!(schedule.contains(at("2026-03-02T16:59:59Z")));
        assert!(!schedule.contains(at("2026-03-02T17:00:00Z")));
        let paused = Observation {
            state: CapacityState::Paused,
            ..running("2026-03-02T07:00:00Z", "2026-03-01T00:00:00Z", None)
        };
        assert_eq!(
            decide(CapacityMode::Schedule, Duration::minutes(30), Some(&schedule), &paused),
            Decision::Resume(Reason::Schedule)
        );
        let inside = running("2026-03-02T12:00:00Z", "2026-03-02T07:00:00Z", None);
        assert_eq!(
            decide(CapacityMode::Schedule, Duration::minutes(30), Some(&schedule), &inside),
            Decision::Stay
        );
    }

    #[test]
    fn at_the_end_of_a_window_the_idle_timer_decides() {
        let schedule = office_hours();
        let idle = Duration::minutes(30);
        // The window ended at 17:00 UTC; someone was active at 17:10.
        let busy =
            running("2026-03-02T17:35:00Z", "2026-03-02T07:00:00Z", Some("2026-03-02T17:10:00Z"));
        assert_eq!(decide(CapacityMode::Schedule, idle, Some(&schedule), &busy), Decision::Stay);
        let later =
            running("2026-03-02T17:40:00Z", "2026-03-02T07:00:00Z", Some("2026-03-02T17:10:00Z"));
        assert_eq!(
            decide(CapacityMode::Schedule, idle, Some(&schedule), &later),
            Decision::Pause(Reason::Inactivity)
        );
        let quiet =
            running("2026-03-02T17:29:00Z", "2026-03-02T07:00:00Z", Some("2026-03-02T12:00:00Z"));
        assert_eq!(
            decide(CapacityMode::Schedule, idle, Some(&schedule), &quiet),
            Decision::Stay,
            "not cut off at 17:00"
        );
    }

    #[test]
    fn windows_follow_the_daylight_saving_change() {
        let schedule = office_hours();
        // Paris moves to summer time on Sunday 2026-03-29: 08:00 local is then 06:00 UTC.
        assert!(!schedule.contains(at("2026-03-29T05:59:00Z")));
        assert!(schedule.contains(at("2026-03-29T06:00:00Z")));
        assert!(schedule.contains(at("2026-03-30T06:30:00Z")), "Monday after the change");
        assert_eq!(
            schedule.next_start(at("2026-03-28T12:00:00Z")),
            Some(at("2026-03-29T06:00:00Z"))
        );
        // A window starting inside the skipped hour begins at the first instant after it.
        let gap = WeeklySchedule {
            windows: vec![WeeklyWindow { day: Weekday::Sun, start: time(2, 30), end: time(4, 0) }],
            time_zone: "Europe/Paris".parse().unwrap(),
        };
        assert_eq!(gap.next_start(at("2026-03-28T12:00:00Z")), Some(at("2026-03-29T01:00:00Z")));
    }

    #[test]
    fn schedules_are_read_naming_the_window_at_fault() {
        let good = serde_json::json!([{ "day": "Mon", "start": "08:00", "end": "18:00" }]);
        assert_eq!(parse_schedule("schedule", &good).unwrap()[0].end, time(18, 0));
        for (bad, field) in [
            (serde_json::json!({}), "schedule"),
            (
                serde_json::json!([{ "day": "Funday", "start": "08:00", "end": "18:00" }]),
                "schedule[0].day",
            ),
            (
                serde_json::json!([{ "day": "Mon", "start": "8am", "end": "18:00" }]),
                "schedule[0].start",
            ),
            (
                serde_json::json!([{ "day": "Mon", "start": "18:00", "end": "08:00" }]),
                "schedule[0].end",
            ),
            (serde_json::json!([{ "day": "Mon", "start": "08:00" }]), "schedule[0].end"),
        ] {
            assert_eq!(parse_schedule("schedule", &bad).unwrap_err().field, field, "{bad}");
        }
    }

    #[test]
    fn usage_counts_hours_on_and_off_from_the_timeline() {
        let from = at("2026-03-01T00:00:00Z");
        let to = at("2026-03-02T00:00:00Z");
        let changes = [
            (at("2026-03-01T08:00:00Z"), CapacityState::Resuming),
            (at("2026-03-01T08:06:00Z"), CapacityState::Running),
            (at("2026-03-01T18:00:00Z"), CapacityState::Pausing),
            (at("2026-03-01T18:06:00Z"), CapacityState::Paused),
        ];
        let (on, off) = usage(CapacityState::Paused, &changes, from, to);
        assert!((on - 10.1).abs() < 1e-9, "{on}");
        assert!((off - 13.9).abs() < 1e-9, "{off}");
        assert_eq!(usage(CapacityState::Running, &[], from, to), (24.0, 0.0));
    }

    #[test]
    fn decisions_are_the_same_when_asked_twice_and_transitions_are_left_alone() {
        let schedule = office_hours();
        let seen = running("2026-03-02T20:00:00Z", "2026-03-02T07:00:00Z", None);
        let first = decide(CapacityMode::Schedule, Duration::minutes(30), Some(&schedule), &seen);
        assert_eq!(
            first,
            decide(CapacityMode::Schedule, Duration::minutes(30), Some(&schedule), &seen)
        );
        let resuming = Observation { state: CapacityState::Resuming, ..seen };
        assert_eq!(
            decide(CapacityMode::OnDemand, Duration::minutes(1), None, &resuming),
            Decision::Stay
        );
        assert!(WeeklySchedule::zone("timeZone", "Mars/Olympus").is_err());
    }
}
