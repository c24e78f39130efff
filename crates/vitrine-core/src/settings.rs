//! An organization's settings, their defaults and their allowed ranges.

use serde::{Deserialize, Serialize};

use crate::input::{FieldError, Fields};
use crate::token::TokenPolicy;

/// The allowed range and default of one numeric setting.
#[derive(Debug, Clone, Copy)]
pub struct Range {
    pub field: &'static str,
    pub min: i64,
    pub max: i64,
    pub default: i64,
}

pub const SESSION_IDLE_TIMEOUT_MINUTES: Range =
    Range { field: "sessionIdleTimeoutMinutes", min: 1, max: 43_200, default: 480 };
pub const SESSION_ABSOLUTE_TIMEOUT_HOURS: Range =
    Range { field: "sessionAbsoluteTimeoutHours", min: 1, max: 8_760, default: 720 };
pub const TOKEN_LIFETIME_MINUTES: Range =
    Range { field: "tokenLifetimeMinutes", min: 1, max: 1_440, default: 60 };
/// "Update Token every X minutes": off (null) by default; when on, 1 ≤ X < the token lifetime.
pub const TOKEN_UPDATE_EVERY_MINUTES: Range =
    Range { field: "tokenUpdateEveryMinutes", min: 1, max: 1_439, default: 0 };

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct OrgSettings {
    /// A session unused for this long is signed out.
    pub session_idle_timeout_minutes: u32,
    /// A session is signed out this long after sign-in, used or not.
    pub session_absolute_timeout_hours: u32,
    /// How long an embed token stays valid.
    pub token_lifetime_minutes: u32,
    /// The timed token update: open viewers fetch a new token this often, idle or not.
    pub token_update_every_minutes: Option<u32>,
    /// The organization's time zone (IANA name): new capacities read their weekly windows in it.
    pub time_zone: String,
    /// When off, nobody wakes a paused capacity by opening a report, whatever their
    /// permissions: only an administrator or the schedule starts it.
    pub capacity_wake_from_viewer: bool,
    /// The origins (such as `https://app.example.com`) whose pages may frame the
    /// organization's reports with the embedding SDK; empty, nobody may.
    pub embed_allowed_origins: Vec<String>,
}

pub const TIME_ZONE: &str = "timeZone";
pub const CAPACITY_WAKE_FROM_VIEWER: &str = "capacityWakeFromViewer";
pub const EMBED_ALLOWED_ORIGINS: &str = "embedAllowedOrigins";
/// At most this many origins may frame an organization's reports.
pub const MAX_EMBED_ORIGINS: usize = 50;

impl Default for OrgSettings {
    fn default() -> Self {
        Self {
            session_idle_timeout_minutes: SESSION_IDLE_TIMEOUT_MINUTES.default as u32,
            session_absolute_timeout_hours: SESSION_ABSOLUTE_TIMEOUT_HOURS.default as u32,
            token_lifetime_minutes: TOKEN_LIFETIME_MINUTES.default as u32,
            token_update_every_minutes: None,
            time_zone: "UTC".to_string(),
            capacity_wake_from_viewer: true,
            embed_allowed_origins: Vec::new(),
        }
    }
}

impl OrgSettings {
    pub const FIELDS: [&'static str; 7] = [
        SESSION_IDLE_TIMEOUT_MINUTES.field,
        SESSION_ABSOLUTE_TIMEOUT_HOURS.field,
        TOKEN_LIFETIME_MINUTES.field,
        TOKEN_UPDATE_EVERY_MINUTES.field,
        TIME_ZONE,
        CAPACITY_WAKE_FROM_VIEWER,
        EMBED_ALLOWED_ORIGINS,
    ];

    /// These settings with `patch` applied. Every field is checked before anything changes, so
    /// a patch is applied whole or not at all.
    pub fn patched(&self, patch: &Fields) -> Result<OrgSettings, FieldError> {
        patch.allow_only(&Self::FIELDS)?;
        let mut next = self.clone();
        if let Some(v) = read(patch, SESSION_IDLE_TIMEOUT_MINUTES)? {
            next.session_idle_timeout_minutes = v;
        }
        if let Some(v) = read(patch, SESSION_ABSOLUTE_TIMEOUT_HOURS)? {
            next.session_absolute_timeout_hours = v;
        }
        if let Some(v) = read(patch, TOKEN_LIFETIME_MINUTES)? {
            next.token_lifetime_minutes = v;
        }
        match patch.nullable_str(TIME_ZONE)? {
            None => {}
            Some(None) => return Err(FieldError::new(TIME_ZONE, "must be a time zone name")),
            Some(Some(zone)) => {
                crate::capacity::WeeklySchedule::zone(TIME_ZONE, zone.trim())?;
                next.time_zone = zone.trim().to_string();
            }
        }
        if patch.contains(CAPACITY_WAKE_FROM_VIEWER) {
            next.capacity_wake_from_viewer =
                patch.optional_bool(CAPACITY_WAKE_FROM_VIEWER)?.ok_or_else(|| {
                    FieldError::new(CAPACITY_WAKE_FROM_VIEWER, "must be true or false")
                })?;
        }
        if let Some(origins) = patch.get(EMBED_ALLOWED_ORIGINS) {
            next.embed_allowed_origins = embed_origins(origins)?;
        }
        let update = TOKEN_UPDATE_EVERY_MINUTES;
        let every = patch.nullable_int_in(update.field, update.min, update.max).map_err(|_| {
            FieldError::new(
                update.field,
                "must be null (off) or a whole number of minutes, at least 1 and less than tokenLifetimeMinutes",
            )
        })?;
        if let Some(every) = every {
            next.token_update_every_minutes = every.map(|v| v as u32);
        }
        if let Some(every) = next.token_update_every_minutes
            && every >= next.token_lifetime_minutes
        {
            // Name the field this patch changed; if it changed both, the update interval.
            let field = if patch.contains(update.field) {
                update.field
            } else {
                TOKEN_LIFETIME_MINUTES.field
            };
            return Err(FieldError::new(
                field,
                format!(
                    "the token update interval ({every} min) must be shorter than the token lifetime ({} min)",
                    next.token_lifetime_minutes
                ),
            ));
        }
        Ok(next)
    }

    /// The embed token lifetime and refresh policy these settings describe.
    pub fn token_policy(&self) -> TokenPolicy {
        TokenPolicy {
            lifetime_seconds: self.token_lifetime_minutes * 60,
            update_every_seconds: self.token_update_every_minutes.map(|m| m * 60),
        }
    }
}

/// The list of `embedAllowedOrigins`: each an exact origin (`https://host[:port]`, no path,
/// no wildcard), written the way browsers send it in `Origin`, so that comparing the two is
/// comparing strings. Duplicates are dropped; `null` clears the list.
fn embed_origins(value: &serde_json::Value) -> Result<Vec<String>, FieldError> {
    let field = EMBED_ALLOWED_ORIGINS;
    let items = match value {
        serde_json::Value::Null => return Ok(Vec::new()),
        serde_json::Value::Array(items) => items,
        _ => {
            return Err(FieldError::new(
                field,
                "must be a list of origins such as https://app.example.com",
            ));
        }
    };
    if items.len() > MAX_EMBED_ORIGINS {
        return Err(FieldError::new(
            field,
            format!("may list at most {MAX_EMBED_ORIGINS} origins"),
        ));
    }
    let mut origins = Vec::with_capacity(items.len());
    for item in items {
        let origin = item
            .as_str()
            .ok_or_else(|| FieldError::new(field, "must list origins as strings"))
            .and_then(|text| embed_origin(text.trim()))?;
        if !origins.contains(&origin) {
            origins.push(origin);
        }
    }
    Ok(origins)
}

/// One origin, normalized (lower-case host, default port dropped, no trailing slash).
pub fn embed_origin(text: &str) -> Result<String, FieldError> {
    let refuse = |why: &str| FieldError::new(EMBED_ALLOWED_ORIGINS, format!("{text:?} {why}"));
    let url = url::Url::parse(text)
        .map_err(|_| refuse("is not an origin; write it as https://app.example.com"))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(refuse("must start with https:// (or http:// for a test host)"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse("must not contain a user name or password"));
    }
    if url.host_str().is_none_or(|host| host.contains('*')) {
        return Err(refuse("must name one host; wildcards are not allowed"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() || text.ends_with("/")
    {
        return Err(refuse("must be an origin only, without a path, a query or a trailing slash"));
    }
    Ok(url.origin().ascii_serialization())
}

fn read(patch: &Fields, range: Range) -> Result<Option<u32>, FieldError> {
    // Ranges are small positive numbers, so the cast cannot truncate.
    Ok(patch.optional_int_in(range.field, range.min, range.max)?.map(|v| v as u32))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patch(value: serde_json::Value) -> Fields {
        Fields::from_value(value).unwrap()
    }

    #[test]
    fn every_class_of_bad_timeout_is_refused_naming_the_field() {
        let current = OrgSettings::default();
        for bad in
            [json!(0), json!(-1), json!(43_201), json!("60"), json!(1.5), json!(1e12), json!(null)]
        {
            let err =
                current.patched(&patch(json!({ "sessionIdleTimeoutMinutes": bad }))).unwrap_err();
            assert_eq!(err.field, "sessionIdleTimeoutMinutes");
        }
        let err =
            current.patched(&patch(json!({ "sessionAbsoluteTimeoutHours": 8761 }))).unwrap_err();
        assert_eq!(err.field, "sessionAbsoluteTimeoutHours");
    }

    #[test]
    fn every_class_of_bad_token_setting_is_refused_naming_the_field() {
        let current = OrgSettings::default();
        for bad in [
            json!(0),
            json!(-1),
            json!(1441),
            json!("60"),
            json!(1.5),
            json!(1e12),
            json!(null),
            json!([]),
        ] {
            let err = current.patched(&patch(json!({ "tokenLifetimeMinutes": bad }))).unwrap_err();
            assert_eq!(err.field, "tokenLifetimeMinutes", "{bad}");
        }
        // The update interval: null is "off"; otherwise 1 ≤ X < lifetime (60 by default).
        for bad in [
            json!(0),
            json!(-5),
            json!(60),
            json!(61),
            json!(100_000),
            json!("10"),
            json!(2.5),
            json!(true),
        ] {
            let err =
                current.patched(&patch(json!({ "tokenUpdateEveryMinutes": bad }))).unwrap_err();
            assert_eq!(err.field, "tokenUpdateEveryMinutes", "{bad}");
        }
        let on = current.patched(&patch(json!({ "tokenUpdateEveryMinutes": 50 }))).unwrap();
        assert_eq!(on.token_update_every_minutes, Some(50));
        let err = on.patched(&patch(json!({ "tokenLifetimeMinutes": 45 }))).unwrap_err();
        assert_eq!(err.field, "tokenLifetimeMinutes", "shortening the lifetime below the interval");
        let off = on
            .patched(&patch(json!({ "tokenUpdateEveryMinutes": null, "tokenLifetimeMinutes": 45 })))
            .unwrap();
        assert_eq!((off.token_update_every_minutes, off.token_lifetime_minutes), (None, 45));
    }

    #[test]
    fn token_policy_follows_the_settings() {
        let settings =
            OrgSettings { token_update_every_minutes: Some(50), ..OrgSettings::default() };
        let policy = settings.token_policy();
        assert_eq!((policy.lifetime_seconds, policy.update_every_seconds), (3600, Some(3000)));
    }

    #[test]
    fn a_patch_with_one_bad_field_changes_nothing() {
        let current = OrgSettings::default();
        let result = current.patched(&patch(json!({
            "sessionIdleTimeoutMinutes": 30,
            "sessionAbsoluteTimeoutHours": 0
        })));
        assert!(result.is_err());
        assert_eq!(current, OrgSettings::default());
    }

    #[test]
    fn time_zone_and_waking_from_the_viewer_are_checked_and_default_to_utc_and_on() {
        let current = OrgSettings::default();
        assert_eq!((current.time_zone.as_str(), current.capacity_wake_from_viewer), ("UTC", true));
        for bad in [json!("Mars/Olympus"), json!(""), json!(1), json!(null), json!("+02:00")] {
            let err = current.patched(&patch(json!({ "timeZone": bad }))).unwrap_err();
            assert_eq!(err.field, "timeZone", "{bad}");
        }
        for bad in [json!("no"), json!(0), json!(null)] {
            let err =
                current.patched(&patch(json!({ "capacityWakeFromViewer": bad }))).unwrap_err();
            assert_eq!(err.field, "capacityWakeFromViewer", "{bad}");
        }
        let next = current
            .patched(&patch(json!({ "timeZone": "Europe/Paris", "capacityWakeFromViewer": false })))
            .unwrap();
        assert_eq!(
            (next.time_zone.as_str(), next.capacity_wake_from_viewer),
            ("Europe/Paris", false)
        );
    }

    #[test]
    fn settings_stored_before_the_capacity_settings_existed_read_with_their_defaults() {
        let old: OrgSettings =
            serde_json::from_value(json!({ "tokenUpdateEveryMinutes": 50 })).unwrap();
        assert_eq!(old.token_update_every_minutes, Some(50));
        assert_eq!((old.time_zone.as_str(), old.capacity_wake_from_viewer), ("UTC", true));
    }

    #[test]
    fn valid_patch_changes_only_named_fields() {
        let next = OrgSettings::default()
            .patched(&patch(json!({ "sessionIdleTimeoutMinutes": 30 })))
            .unwrap();
        assert_eq!(next.session_idle_timeout_minutes, 30);
        assert_eq!(next.session_absolute_timeout_hours, 720);
    }

    #[test]
    fn embed_origins_are_exact_origins_written_as_browsers_send_them() {
        let next = OrgSettings::default()
            .patched(&patch(json!({ "embedAllowedOrigins": [
                "https://App.Example.com", "https://app.example.com:443", "http://localhost:3000",
                " https://intranet.example.org:8443 "
            ] })))
            .unwrap();
        assert_eq!(
            next.embed_allowed_origins,
            [
                "https://app.example.com",
                "http://localhost:3000",
                "https://intranet.example.org:8443"
            ]
        );
        let cleared = next.patched(&patch(json!({ "embedAllowedOrigins": null }))).unwrap();
        assert!(cleared.embed_allowed_origins.is_empty());
        let old: OrgSettings = serde_json::from_value(json!({ "timeZone": "UTC" })).unwrap();
        assert!(old.embed_allowed_origins.is_empty());
    }

    #[test]
    fn every_class_of_bad_embed_origin_is_refused_naming_the_field() {
        let many: Vec<String> =
            (0..=MAX_EMBED_ORIGINS).map(|n| format!("https://h{n}.example.com")).collect();
        for bad in [
            json!("https://app.example.com"),
            json!({}),
            json!([1]),
            json!(["app.example.com"]),
            json!(["https://app.example.com/"]),
            json!(["https://app.example.com/embed"]),
            json!(["https://app.example.com?x=1"]),
            json!(["https://*.example.com"]),
            json!(["ftp://app.example.com"]),
            json!(["javascript:alert(1)"]),
            json!(["https://user:pw@app.example.com"]),
            json!(["null"]),
            json!([""]),
            json!(many),
        ] {
            let err = OrgSettings::default()
                .patched(&patch(json!({ "embedAllowedOrigins": bad })))
                .unwrap_err();
            assert_eq!(err.field, "embedAllowedOrigins", "{bad}");
        }
    }
}
