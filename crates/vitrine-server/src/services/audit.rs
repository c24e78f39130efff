//! Reading the audit log: filters from query parameters, and CSV export.

use std::collections::HashMap;

use vitrine_core::validate;
use vitrine_store::{AuditEntry, AuditFilter};

use crate::error::{ApiError, ApiResult};

pub const DEFAULT_LIMIT: u32 = 200;
pub const MAX_LIMIT: u32 = 10_000;
pub const ENTITY_TYPES: [&str; 6] = ["user", "group", "report", "permission", "settings", "apiKey"];

/// Reads `entityType`, `actor`, `q`, `since`, `until` and `limit`; blanks are ignored.
pub fn filter_from_query(
    query: &HashMap<String, String>,
    default_limit: u32,
) -> ApiResult<AuditFilter> {
    let get = |name: &str| query.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
    let entity_type = get("entityType").map(str::to_string);
    if let Some(kind) = &entity_type
        && !ENTITY_TYPES.contains(&kind.as_str())
    {
        return Err(ApiError::invalid(
            "entityType",
            format!("must be one of {}", ENTITY_TYPES.join(", ")),
        ));
    }
    let limit = match get("limit") {
        Some(raw) => {
            raw.parse::<u32>().ok().filter(|n| (1..=MAX_LIMIT).contains(n)).ok_or_else(|| {
                ApiError::invalid("limit", format!("must be a whole number from 1 to {MAX_LIMIT}"))
            })?
        }
        None => default_limit,
    };
    let since = get("since").map(|raw| validate::expiry("since", raw)).transpose()?;
    // A date as `until` includes that whole day.
    let until = get("until").map(|raw| validate::expiry("until", raw)).transpose()?;
    Ok(AuditFilter {
        entity_type,
        actor: get("actor").map(str::to_string),
        text: get("q").map(str::to_string),
        since: since.map(|at| {
            if raw_is_date(get("since")) { at - chrono::Duration::seconds(86_399) } else { at }
        }),
        until,
        limit,
    })
}

fn raw_is_date(raw: Option<&str>) -> bool {
    raw.is_some_and(|r| r.len() == 10)
}

/// The entries as CSV, one row each, values as compact JSON.
pub fn to_csv(entries: &[AuditEntry]) -> ApiResult<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let fail = |_| ApiError::internal();
    writer
        .write_record([
            "time",
            "actor",
            "actorId",
            "entityType",
            "entityId",
            "action",
            "oldValue",
            "newValue",
        ])
        .map_err(fail)?;
    for entry in entries {
        let value =
            |v: &Option<serde_json::Value>| v.as_ref().map(|v| v.to_string()).unwrap_or_default();
        writer
            .write_record([
                crate::api::json::time(entry.at),
                defuse_formula(&entry.actor_label),
                entry.actor_id.clone(),
                entry.entity_type.clone(),
                entry.entity_id.clone(),
                entry.action.clone(),
                defuse_formula(&value(&entry.old_value)),
                defuse_formula(&value(&entry.new_value)),
            ])
            .map_err(fail)?;
    }
    writer.into_inner().map_err(|_| ApiError::internal())
}

/// Spreadsheets run cells starting with `=`, `+`, `-` or `@` as formulas; a leading quote
/// keeps user-typed text inert when an administrator opens the export.
fn defuse_formula(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@']) { format!("'{text}") } else { text.to_string() }
}
