//! Reading the audit trails (entity changes and token events): filters from query parameters,
//! and CSV export.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use vitrine_core::validate;
use vitrine_store::{AuditEntry, AuditFilter, TokenEvent, TokenEventFilter};

use crate::api::json::time;
use crate::error::{ApiError, ApiResult};

pub const DEFAULT_LIMIT: u32 = 200;
pub const MAX_LIMIT: u32 = 10_000;
pub const ENTITY_TYPES: [&str; 12] = [
    "user",
    "group",
    "report",
    "dataset",
    "connection",
    "permission",
    "settings",
    "apiKey",
    "capacity",
    "display",
    "powerbi",
    "sso",
];
pub const TOKEN_EVENT_KINDS: [&str; 4] = ["issued", "refreshed", "rejected", "revoked"];

/// From and to, either open.
type Period = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// Query parameters, blanks ignored.
struct Query<'a>(&'a HashMap<String, String>);

impl Query<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    fn text(&self, name: &str) -> Option<String> {
        self.get(name).map(str::to_string)
    }

    fn one_of(&self, name: &str, allowed: &[&str]) -> ApiResult<Option<String>> {
        match self.get(name) {
            Some(value) if !allowed.contains(&value) => {
                Err(ApiError::invalid(name, format!("must be one of {}", allowed.join(", "))))
            }
            value => Ok(value.map(str::to_string)),
        }
    }

    fn limit(&self, default: u32) -> ApiResult<u32> {
        match self.get("limit") {
            Some(raw) => {
                raw.parse::<u32>().ok().filter(|n| (1..=MAX_LIMIT).contains(n)).ok_or_else(|| {
                    ApiError::invalid(
                        "limit",
                        format!("must be a whole number from 1 to {MAX_LIMIT}"),
                    )
                })
            }
            None => Ok(default),
        }
    }

    /// `since` and `until`: RFC 3339 moments, or dates covering whole days (UTC).
    fn period(&self) -> ApiResult<Period> {
        let since =
            self.get("since").map(|raw| Ok::<_, ApiError>((raw, validate::expiry("since", raw)?)));
        let since =
            since.transpose()?.map(|(raw, at)| if is_date(raw) { start_of_day(at) } else { at });
        let until = self.get("until").map(|raw| validate::expiry("until", raw)).transpose()?;
        Ok((since, until))
    }
}

fn is_date(raw: &str) -> bool {
    raw.len() == 10
}

/// `validate::expiry` reads a date as its last second; a `since` date means its first.
fn start_of_day(end_of_day: DateTime<Utc>) -> DateTime<Utc> {
    end_of_day - Duration::seconds(86_399)
}

/// Reads `entityType`, `actor`, `q`, `since`, `until` and `limit`.
pub fn filter_from_query(
    query: &HashMap<String, String>,
    default_limit: u32,
) -> ApiResult<AuditFilter> {
    let query = Query(query);
    let (since, until) = query.period()?;
    Ok(AuditFilter {
        entity_type: query.one_of("entityType", &ENTITY_TYPES)?,
        actor: query.text("actor"),
        text: query.text("q"),
        since,
        until,
        limit: query.limit(default_limit)?,
    })
}

/// Reads `kind`, `user`, `reportId`, `reason`, `since`, `until` and `limit`.
pub fn token_filter_from_query(
    query: &HashMap<String, String>,
    default_limit: u32,
) -> ApiResult<TokenEventFilter> {
    let query = Query(query);
    let (since, until) = query.period()?;
    let report = query
        .get("reportId")
        .map(|raw| raw.parse().map_err(|_| ApiError::invalid("reportId", "must be a report id")))
        .transpose()?;
    Ok(TokenEventFilter {
        kind: query.one_of("kind", &TOKEN_EVENT_KINDS)?,
        user: query.text("user"),
        report,
        reason: query.text("reason"),
        since,
        until,
        limit: query.limit(default_limit)?,
    })
}

fn csv_of<const N: usize>(
    header: [&str; N],
    rows: impl Iterator<Item = [String; N]>,
) -> ApiResult<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(header).map_err(|_| ApiError::internal())?;
    for row in rows {
        writer
            .write_record(row.map(|cell| defuse_formula(&cell)))
            .map_err(|_| ApiError::internal())?;
    }
    writer.into_inner().map_err(|_| ApiError::internal())
}

/// The entries as CSV, one row each, values as compact JSON.
pub fn to_csv(entries: &[AuditEntry]) -> ApiResult<Vec<u8>> {
    let value =
        |v: &Option<serde_json::Value>| v.as_ref().map(|v| v.to_string()).unwrap_or_default();
    csv_of(
        ["time", "actor", "actorId", "entityType", "entityId", "action", "oldValue", "newValue"],
        entries.iter().map(|entry| {
            [
                time(entry.at),
                entry.actor_label.clone(),
                entry.actor_id.clone(),
                entry.entity_type.clone(),
                entry.entity_id.clone(),
                entry.action.clone(),
                value(&entry.old_value),
                value(&entry.new_value),
            ]
        }),
    )
}

pub fn token_events_csv(events: &[TokenEvent]) -> ApiResult<Vec<u8>> {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let id = |v: Option<String>| v.unwrap_or_default();
    csv_of(
        [
            "time",
            "event",
            "user",
            "userId",
            "report",
            "reportId",
            "tokenId",
            "reason",
            "ip",
            "userAgent",
            "by",
        ],
        events.iter().map(|event| {
            [
                time(event.at),
                event.kind.clone(),
                text(&event.user_label),
                id(event.user_id.map(|u| u.to_string())),
                text(&event.report_label),
                id(event.report_id.map(|r| r.to_string())),
                text(&event.token_id),
                text(&event.reason),
                text(&event.ip),
                text(&event.user_agent),
                text(&event.actor),
            ]
        }),
    )
}

/// Spreadsheets run cells starting with `=`, `+`, `-` or `@` as formulas; a leading quote
/// keeps user-typed text inert when an administrator opens the export.
fn defuse_formula(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@']) { format!("'{text}") } else { text.to_string() }
}
