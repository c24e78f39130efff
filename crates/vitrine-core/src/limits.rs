//! Per-organization limits, set by the installation's operators: how many users an
//! organization may have, how much dataset storage it may use and how much memory its data may
//! take in the engine. `None` means no limit.

use serde::{Deserialize, Serialize};

use crate::input::{FieldError, Fields};

pub const MAX_USERS: &str = "maxUsers";
pub const MAX_DATASET_MEGABYTES: &str = "maxDatasetMegabytes";
pub const MAX_MEMORY_MEGABYTES: &str = "maxMemoryMegabytes";

/// The largest value any limit accepts: a million users, or a petabyte in megabytes.
const CEILING: i64 = 1_000_000_000;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct OrgLimits {
    /// Accounts of the organization (invited ones included).
    pub max_users: Option<u32>,
    /// The sum of the sizes of the organization's dataset files.
    pub max_dataset_megabytes: Option<u32>,
    /// The memory the organization's datasets may take in the engine.
    pub max_memory_megabytes: Option<u32>,
}

impl OrgLimits {
    pub const FIELDS: [&'static str; 3] = [MAX_USERS, MAX_DATASET_MEGABYTES, MAX_MEMORY_MEGABYTES];

    /// These limits with `patch` applied; `null` lifts a limit. Checked whole before anything
    /// changes.
    pub fn patched(&self, patch: &Fields) -> Result<OrgLimits, FieldError> {
        patch.allow_only(&Self::FIELDS)?;
        let mut next = *self;
        for (field, slot) in [
            (MAX_USERS, &mut next.max_users),
            (MAX_DATASET_MEGABYTES, &mut next.max_dataset_megabytes),
            (MAX_MEMORY_MEGABYTES, &mut next.max_memory_megabytes),
        ] {
            let value = patch.nullable_int_in(field, 1, CEILING).map_err(|_| {
                FieldError::new(
                    field,
                    format!("must be null (no limit) or a whole number from 1 to {CEILING}"),
                )
            })?;
            if let Some(value) = value {
                // Bounded by CEILING, which fits in u32.
                *slot = value.map(|v| v as u32);
            }
        }
        Ok(next)
    }

    /// Whether one more user fits when the organization has `users` now.
    pub fn admits_user(&self, users: u64) -> bool {
        self.max_users.is_none_or(|max| users < u64::from(max))
    }

    /// Whether `bytes` of dataset files in all fit.
    pub fn admits_dataset_bytes(&self, bytes: u64) -> bool {
        self.max_dataset_megabytes.is_none_or(|max| bytes <= u64::from(max) * 1024 * 1024)
    }

    /// The engine memory the organization's data may take: its own limit, else `default`
    /// (the installation's per-organization default).
    pub fn memory_limit_bytes(&self, default: u64) -> u64 {
        self.max_memory_megabytes.map_or(default, |max| u64::from(max) * 1024 * 1024)
    }

    /// Whether `bytes` of engine memory in all fit, `default` applying without a limit of its own.
    pub fn admits_memory_bytes(&self, bytes: u64, default: u64) -> bool {
        bytes <= self.memory_limit_bytes(default)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fields(value: serde_json::Value) -> Fields {
        Fields::from_value(value).unwrap()
    }

    #[test]
    fn a_patch_sets_and_lifts_limits_and_leaves_others_alone() {
        let limits = OrgLimits::default()
            .patched(&fields(json!({ "maxUsers": 10, "maxMemoryMegabytes": 512 })))
            .unwrap();
        assert_eq!(limits.max_users, Some(10));
        assert_eq!(limits.max_memory_megabytes, Some(512));
        let lifted = limits.patched(&fields(json!({ "maxUsers": null }))).unwrap();
        assert_eq!(lifted.max_users, None);
        assert_eq!(lifted.max_memory_megabytes, Some(512));
    }

    #[test]
    fn bad_limits_are_refused_naming_the_field() {
        for bad in [json!(0), json!(-1), json!("10"), json!(2.5), json!(10_000_000_000_i64)] {
            let error =
                OrgLimits::default().patched(&fields(json!({ "maxUsers": bad }))).unwrap_err();
            assert_eq!(error.field, "maxUsers");
        }
        let error = OrgLimits::default().patched(&fields(json!({ "maxUser": 3 }))).unwrap_err();
        assert_eq!(error.field, "maxUser");
    }

    #[test]
    fn the_user_limit_admits_up_to_the_maximum() {
        let limits = OrgLimits { max_users: Some(2), ..Default::default() };
        assert!(limits.admits_user(1));
        assert!(!limits.admits_user(2));
        assert!(OrgLimits::default().admits_user(u64::MAX - 1));
    }

    #[test]
    fn storage_and_memory_limits_are_in_megabytes() {
        let limits = OrgLimits {
            max_dataset_megabytes: Some(1),
            max_memory_megabytes: Some(2),
            ..Default::default()
        };
        assert!(limits.admits_dataset_bytes(1024 * 1024));
        assert!(!limits.admits_dataset_bytes(1024 * 1024 + 1));
        assert!(limits.admits_memory_bytes(2 * 1024 * 1024, 0));
        assert!(!limits.admits_memory_bytes(2 * 1024 * 1024 + 1, u64::MAX));
        assert!(OrgLimits::default().admits_memory_bytes(7, 7), "the default applies without one");
        assert!(!OrgLimits::default().admits_memory_bytes(8, 7));
    }
}
