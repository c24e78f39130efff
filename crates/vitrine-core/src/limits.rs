//! Per-organization limits, set by the installation's operators: how many users an
//! organization may have and how much dataset storage it may use. (Datasets are read from
//! disk or their source, never held in memory, so memory is bounded per installation, not per
//! organization.) `None` means no limit.

use serde::{Deserialize, Serialize};

use crate::input::{FieldError, Fields};

pub const MAX_USERS: &str = "maxUsers";
pub const MAX_DATASET_MEGABYTES: &str = "maxDatasetMegabytes";

/// The largest value any limit accepts: a million users, or a petabyte in megabytes.
const CEILING: i64 = 1_000_000_000;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct OrgLimits {
    /// Accounts of the organization (invited ones included).
    pub max_users: Option<u32>,
    /// The sum of the sizes of the organization's dataset files.
    pub max_dataset_megabytes: Option<u32>,
}

impl OrgLimits {
    pub const FIELDS: [&'static str; 2] = [MAX_USERS, MAX_DATASET_MEGABYTES];

    /// These limits with `patch` applied; `null` lifts a limit. Checked whole before anything
    /// changes.
    pub fn patched(&self, patch: &Fields) -> Result<OrgLimits, FieldError> {
        patch.allow_only(&Self::FIELDS)?;
        let mut next = *self;
        for (field, slot) in [
            (MAX_USERS, &mut next.max_users),
            (MAX_DATASET_MEGABYTES, &mut next.max_dataset_megabytes),
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
            .patched(&fields(json!({ "maxUsers": 10, "maxDatasetMegabytes": 512 })))
            .unwrap();
        assert_eq!(limits.max_users, Some(10));
        assert_eq!(limits.max_dataset_megabytes, Some(512));
        let lifted = limits.patched(&fields(json!({ "maxUsers": null }))).unwrap();
        assert_eq!(lifted.max_users, None);
        assert_eq!(lifted.max_dataset_megabytes, Some(512));
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
    fn the_storage_limit_is_in_megabytes() {
        let limits = OrgLimits { max_dataset_megabytes: Some(1), ..Default::default() };
        assert!(limits.admits_dataset_bytes(1024 * 1024));
        assert!(!limits.admits_dataset_bytes(1024 * 1024 + 1));
        assert!(OrgLimits::default().admits_dataset_bytes(u64::MAX));
    }

    #[test]
    fn a_memory_limit_stored_before_datasets_left_memory_is_ignored() {
        let limits: OrgLimits =
            serde_json::from_value(json!({ "maxUsers": 3, "maxMemoryMegabytes": 64 })).unwrap();
        assert_eq!(limits, OrgLimits { max_users: Some(3), ..Default::default() });
        let error =
            OrgLimits::default().patched(&fields(json!({ "maxMemoryMegabytes": 64 }))).unwrap_err();
        assert_eq!(error.field, "maxMemoryMegabytes", "no longer a limit one can set");
    }
}
