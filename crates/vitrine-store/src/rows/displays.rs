//! Rows of displays: the columns of `DISPLAY_COLUMNS` in each backend (the display's row with
//! its user's name and handle), and a screen's credential as it signs in.

use super::{OrgAccess, OrgAccessRow, UserRow, from_ms, mapped, opt_from_ms, parse_id};
use crate::{Display, DisplayAuth, StoreError, User};

mapped! {
    Display => DisplayRow,
    DisplayAuth => DisplayAuthRow,
}

/// A display; `email` is its user's handle, to which no mail goes.
#[derive(sqlx::FromRow)]
pub struct DisplayRow {
    id: String,
    org_id: String,
    name: String,
    email: String,
    show: String,
    paired_at: i64,
    paired_by: String,
    credential_issued_at: i64,
    last_seen_at: Option<i64>,
    last_state: Option<String>,
    last_detail: Option<String>,
    user_agent: Option<String>,
    offline_alerted_at: Option<i64>,
}

impl TryFrom<DisplayRow> for Display {
    type Error = StoreError;

    fn try_from(row: DisplayRow) -> Result<Self, StoreError> {
        Ok(Display {
            id: parse_id("id", &row.id)?,
            org_id: parse_id("org_id", &row.org_id)?,
            name: row.name,
            handle: row.email,
            show: serde_json::from_str(&row.show)
                .map_err(|e| StoreError::Backend(format!("malformed display show: {e}")))?,
            paired_at: from_ms(row.paired_at)?,
            paired_by: row.paired_by,
            credential_issued_at: from_ms(row.credential_issued_at)?,
            last_seen_at: opt_from_ms(row.last_seen_at)?,
            last_state: row.last_state,
            last_detail: row.last_detail,
            user_agent: row.user_agent,
            offline_alerted_at: opt_from_ms(row.offline_alerted_at)?,
        })
    }
}

/// A display found by its credential, with its user and organization; `current` is false when
/// the credential was the one before the latest rotation.
#[derive(sqlx::FromRow)]
pub struct DisplayAuthRow {
    #[sqlx(flatten)]
    display: DisplayRow,
    #[sqlx(flatten)]
    user: UserRow,
    #[sqlx(flatten)]
    org: OrgAccessRow,
    current: bool,
}

impl TryFrom<DisplayAuthRow> for DisplayAuth {
    type Error = StoreError;

    fn try_from(row: DisplayAuthRow) -> Result<Self, StoreError> {
        let display = Display::try_from(row.display)?;
        let user = User::try_from(row.user)?;
        let org = OrgAccess::try_from(row.org)?;
        Ok(DisplayAuth {
            display,
            user,
            org_name: org.name,
            org_suspended: org.suspended,
            settings: org.settings,
            previous: !row.current,
        })
    }
}
