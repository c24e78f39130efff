//! An organization's settings, their defaults and their allowed ranges.

use serde::{Deserialize, Serialize};

use crate::input::{FieldError, Fields};

/// The allowed range and default of one numeric setting.
#[derive(Debug, Clone, Copy)]
pub struct Range {
    pub field: &'static str,
    pub min: i64,
    pub max: i64,
    pub default: i64,
}

pub const SESSION_IDLE_TIMEOUT_MINUTES: Range = Range {
    field: "sessionIdleTimeoutMinutes",
    min: 1,
    max: 43_200,
    default: 480,
};
pub const SESSION_ABSOLUTE_TIMEOUT_HOURS: Range = Range {
    field: "sessionAbsoluteTimeoutHours",
    min: 1,
    max: 8_760,
    default: 720,
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OrgSettings {
    /// A session unused for this long is signed out.
    pub session_idle_timeout_minutes: u32,
    /// A session is signed out this long after sign-in, used or not.
    pub session_absolute_timeout_hours: u32,
}

impl Default for OrgSettings {
    fn default() -> Self {
        Self {
            session_idle_timeout_minutes: SESSION_IDLE_TIMEOUT_MINUTES.default as u32,
            session_absolute_timeout_hours: SESSION_ABSOLUTE_TIMEOUT_HOURS.default as u32,
        }
    }
}

impl OrgSettings {
    pub const FIELDS: [&'static str; 2] = [
        SESSION_IDLE_TIMEOUT_MINUTES.field,
        SESSION_ABSOLUTE_TIMEOUT_HOURS.field,
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
        Ok(next)
    }
}

fn read(patch: &Fields, range: Range) -> Result<Option<u32>, FieldError> {
    // Ranges are small positive numbers, so the cast cannot truncate.
    Ok(patch
        .optional_int_in(range.field, range.min, range.max)?
        .map(|v| v as u32))
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
        for bad in [
            json!(0),
            json!(-1),
            json!(43_201),
            json!("60"),
            json!(1.5),
            json!(1e12),
            json!(null),
        ] {
            let err = current
                .patched(&patch(json!({ "sessionIdleTimeoutMinutes": bad })))
                .unwrap_err();
            assert_eq!(err.field, "sessionIdleTimeoutMinutes");
        }
        let err = current
            .patched(&patch(json!({ "sessionAbsoluteTimeoutHours": 8761 })))
            .unwrap_err();
        assert_eq!(err.field, "sessionAbsoluteTimeoutHours");
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
    fn valid_patch_changes_only_named_fields() {
        let next = OrgSettings::default()
            .patched(&patch(json!({ "sessionIdleTimeoutMinutes": 30 })))
            .unwrap();
        assert_eq!(next.session_idle_timeout_minutes, 30);
        assert_eq!(next.session_absolute_timeout_hours, 720);
    }
}
