//! The vocabulary of live data sources: which database a connection speaks, how it uses
//! TLS, and how a dataset reads it.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::capacity::WeeklySchedule;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Postgres,
    Mysql,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Postgres => "postgres",
            SourceKind::Mysql => "mysql",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "postgres" => Some(SourceKind::Postgres),
            "mysql" => Some(SourceKind::Mysql),
            _ => None,
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            SourceKind::Postgres => 5432,
            SourceKind::Mysql => 3306,
        }
    }
}

/// How the connection uses TLS: `disable`, `prefer` (TLS when the server offers it),
/// `require` (TLS, certificate not checked) or `verify-full` (TLS with the server's
/// certificate and host name checked).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TlsMode {
    #[serde(rename = "disable")]
    Disable,
    #[serde(rename = "prefer")]
    Prefer,
    #[serde(rename = "require")]
    Require,
    #[serde(rename = "verify-full")]
    VerifyFull,
}

impl TlsMode {
    pub const ALL: [&'static str; 4] = ["disable", "prefer", "require", "verify-full"];

    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::Disable => "disable",
            TlsMode::Prefer => "prefer",
            TlsMode::Require => "require",
            TlsMode::VerifyFull => "verify-full",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "disable" => Some(TlsMode::Disable),
            "prefer" => Some(TlsMode::Prefer),
            "require" => Some(TlsMode::Require),
            "verify-full" => Some(TlsMode::VerifyFull),
            _ => None,
        }
    }
}

/// How a dataset of a connection is read: `direct` (every visual is a query at the source)
/// or `imported` (copied into a dataset file on a schedule or on demand).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceMode {
    Direct,
    Imported,
}

impl SourceMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceMode::Direct => "direct",
            SourceMode::Imported => "imported",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "direct" => Some(SourceMode::Direct),
            "imported" => Some(SourceMode::Imported),
            _ => None,
        }
    }
}

/// What started a refresh of an imported dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RefreshTrigger {
    /// Its first import, when it was created.
    Created,
    /// Someone asked (the portal's button, `POST …/refresh`).
    Manual,
    /// Its schedule.
    Schedule,
}

impl RefreshTrigger {
    pub fn as_str(self) -> &'static str {
        match self {
            RefreshTrigger::Created => "created",
            RefreshTrigger::Manual => "manual",
            RefreshTrigger::Schedule => "schedule",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "created" => Some(RefreshTrigger::Created),
            "manual" => Some(RefreshTrigger::Manual),
            "schedule" => Some(RefreshTrigger::Schedule),
            _ => None,
        }
    }
}

/// When an imported dataset refreshes by itself: every `every` (always, or only inside the
/// weekly windows when there are some), and once at the start of each window. Neither: only
/// on demand.
#[derive(Debug, Clone, PartialEq)]
pub struct RefreshPlan {
    pub every: Option<Duration>,
    pub windows: Option<WeeklySchedule>,
}

impl RefreshPlan {
    /// The moment the next scheduled refresh is due, given when the last one started (`None`:
    /// never refreshed by anything); `None` when nothing is scheduled. A moment at or before
    /// `now` means due now.
    pub fn next(
        &self,
        last_started: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let after_every = |last: DateTime<Utc>, every: Duration| (last + every).max(now);
        match (&self.windows, self.every) {
            (None, None) => None,
            (None, Some(every)) => Some(last_started.map_or(now, |last| after_every(last, every))),
            (Some(windows), every) => {
                if let Some((start, end)) = windows.window_at(now) {
                    let candidate = match (last_started, every) {
                        (None, _) => now,
                        (Some(last), _) if last < start => now,
                        (Some(last), Some(every)) => after_every(last, every),
                        (Some(_), None) => end,
                    };
                    if candidate < end {
                        return Some(candidate);
                    }
                }
                windows.next_start(now)
            }
        }
    }

    /// Whether a scheduled refresh is due at `now`.
    pub fn is_due(&self, last_started: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
        self.next(last_started, now).is_some_and(|at| at <= now)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveTime, TimeZone, Weekday};

    use super::*;
    use crate::capacity::WeeklyWindow;

    fn at(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
        // December 2026: the 7th is a Monday.
        Utc.with_ymd_and_hms(2026, 12, day, hour, minute, 0).unwrap()
    }

    fn weekday_mornings() -> WeeklySchedule {
        let time = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
        WeeklySchedule {
            windows: [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri]
                .iter()
                .map(|day| WeeklyWindow { day: *day, start: time(6, 0), end: time(10, 0) })
                .collect(),
            time_zone: chrono_tz::Europe::Paris,
        }
    }

    #[test]
    fn every_n_minutes_counts_from_the_last_start_whatever_started_it() {
        let plan = RefreshPlan { every: Some(Duration::minutes(30)), windows: None };
        assert!(plan.is_due(None, at(7, 12, 0)));
        assert!(!plan.is_due(Some(at(7, 11, 45)), at(7, 12, 0)));
        assert_eq!(plan.next(Some(at(7, 11, 45)), at(7, 12, 0)), Some(at(7, 12, 15)));
        assert!(plan.is_due(Some(at(7, 11, 30)), at(7, 12, 0)));
    }

    #[test]
    fn windows_alone_refresh_once_at_the_start_of_each_window_in_local_time() {
        let plan = RefreshPlan { every: None, windows: Some(weekday_mornings()) };
        // 06:00 in Paris is 05:00 UTC in December.
        assert!(!plan.is_due(Some(at(4, 5, 0)), at(7, 4, 59)));
        assert_eq!(plan.next(Some(at(4, 5, 0)), at(7, 4, 59)), Some(at(7, 5, 0)));
        assert!(plan.is_due(Some(at(4, 5, 0)), at(7, 5, 0)));
        // Once done in this window, the next is tomorrow's.
        assert!(!plan.is_due(Some(at(7, 5, 1)), at(7, 8, 0)));
        assert_eq!(plan.next(Some(at(7, 5, 1)), at(7, 8, 0)), Some(at(8, 5, 0)));
        // A server that was down at 06:00 catches up while the window lasts, not after it.
        assert!(plan.is_due(Some(at(4, 5, 0)), at(7, 8, 59)));
        assert!(!plan.is_due(Some(at(4, 5, 0)), at(7, 9, 0)));
        // The weekend has no window: Friday's is followed by Monday's.
        assert_eq!(plan.next(Some(at(11, 5, 0)), at(11, 12, 0)), Some(at(14, 5, 0)));
    }

    #[test]
    fn every_n_minutes_inside_windows_only() {
        let plan =
            RefreshPlan { every: Some(Duration::minutes(60)), windows: Some(weekday_mornings()) };
        assert!(plan.is_due(Some(at(4, 8, 0)), at(7, 5, 0)));
        assert!(!plan.is_due(Some(at(7, 5, 0)), at(7, 5, 59)));
        assert!(plan.is_due(Some(at(7, 5, 0)), at(7, 6, 0)));
        // The last hourly refresh would fall at the window's end: the next is tomorrow's start.
        assert_eq!(plan.next(Some(at(7, 8, 30)), at(7, 8, 45)), Some(at(8, 5, 0)));
        // Outside the windows nothing is due however old the last refresh.
        assert!(!plan.is_due(Some(at(5, 8, 0)), at(6, 12, 0)));
    }

    #[test]
    fn nothing_scheduled_is_never_due() {
        let plan = RefreshPlan { every: None, windows: None };
        assert_eq!(plan.next(None, at(7, 12, 0)), None);
        assert!(!plan.is_due(None, at(7, 12, 0)));
    }
}
