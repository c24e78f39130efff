//! Rows of what SCIM provisioning knows of users and groups.

use super::{json_value, mapped, parse_id};
use crate::{ScimGroup, ScimUser, StoreError};

mapped! {
    ScimUser => ScimUserRow,
    ScimGroup => ScimGroupRow,
}

#[derive(sqlx::FromRow)]
pub struct ScimUserRow {
    user_id: String,
    user_name: String,
    external_id: Option<String>,
    attributes: String,
}

impl TryFrom<ScimUserRow> for ScimUser {
    type Error = StoreError;

    fn try_from(row: ScimUserRow) -> Result<Self, StoreError> {
        Ok(ScimUser {
            user_id: parse_id("user_id", &row.user_id)?,
            user_name: row.user_name,
            external_id: row.external_id,
            attributes: json_value(Some(row.attributes))
                .unwrap_or_else(|| serde_json::Value::Object(Default::default())),
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct ScimGroupRow {
    group_id: String,
    external_id: Option<String>,
}

impl TryFrom<ScimGroupRow> for ScimGroup {
    type Error = StoreError;

    fn try_from(row: ScimGroupRow) -> Result<Self, StoreError> {
        Ok(ScimGroup {
            group_id: parse_id("group_id", &row.group_id)?,
            external_id: row.external_id,
        })
    }
}
