//! Rows of reports (the columns of `REPORT_COLUMNS` in each backend), of who may open one, and
//! of a user's row-level-security parts (the columns of `RLS_PARTS`, each a JSON array).

use vitrine_core::CapacityId;

use super::{from_ms, json_value, lenient_id, mapped, parse_id};
use crate::{GroupAttribute, Report, ReportGate, RlsAssignment, StoreError};

mapped! {
    Report => ReportRow,
    (Report, bool) => ReportForUserRow,
    ReportGate => ReportGateRow,
    Option<RlsAssignment> => RlsPartsRow,
}

#[derive(sqlx::FromRow)]
pub struct ReportRow {
    id: String,
    org_id: String,
    name: String,
    description: String,
    owner_id: Option<String>,
    definition: Option<String>,
    capacity_id: Option<String>,
    powerbi: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<ReportRow> for Report {
    type Error = StoreError;

    fn try_from(row: ReportRow) -> Result<Self, StoreError> {
        Ok(Report {
            id: parse_id("id", &row.id)?,
            org_id: parse_id("org_id", &row.org_id)?,
            name: row.name,
            description: row.description,
            owner_id: lenient_id(row.owner_id),
            definition: json_value(row.definition),
            capacity_id: lenient_id(row.capacity_id),
            powerbi: powerbi_link(row.powerbi.as_deref()),
            created_at: from_ms(row.created_at)?,
            updated_at: from_ms(row.updated_at)?,
        })
    }
}

/// The `powerbi` column: where a report imported from Power BI lives there.
fn powerbi_link(text: Option<&str>) -> Option<crate::PowerBiLink> {
    text.and_then(|text| serde_json::from_str(text).ok())
}

/// A report with `can_open`: whether the user it was read for may open it.
#[derive(sqlx::FromRow)]
pub struct ReportForUserRow {
    #[sqlx(flatten)]
    report: ReportRow,
    can_open: bool,
}

impl TryFrom<ReportForUserRow> for (Report, bool) {
    type Error = StoreError;

    fn try_from(row: ReportForUserRow) -> Result<Self, StoreError> {
        Ok((Report::try_from(row.report)?, row.can_open))
    }
}

/// The token path's one row: the report's id and capacity, `can_open`, and the user's
/// row-level-security parts.
#[derive(sqlx::FromRow)]
pub struct ReportGateRow {
    id: String,
    capacity_id: Option<String>,
    powerbi: Option<String>,
    can_open: bool,
    #[sqlx(flatten)]
    rls: RlsPartsRow,
}

impl TryFrom<ReportGateRow> for ReportGate {
    type Error = StoreError;

    fn try_from(row: ReportGateRow) -> Result<Self, StoreError> {
        Ok(ReportGate {
            id: parse_id("id", &row.id)?,
            capacity_id: lenient_id::<CapacityId>(row.capacity_id),
            granted: row.can_open,
            identity: Option::<RlsAssignment>::try_from(row.rls)?.ok_or(StoreError::NotFound)?,
            powerbi: powerbi_link(row.powerbi.as_deref()),
        })
    }
}

/// Whether the user is of the organization, then their roles, their groups' roles, their
/// groups' attributes as `[group, name, value]` and their own as `[name, value]`.
#[derive(sqlx::FromRow)]
pub struct RlsPartsRow {
    rls_member: bool,
    rls_roles: String,
    rls_group_roles: String,
    rls_group_attributes: String,
    rls_attributes: String,
}

/// One part of [`RlsPartsRow`], named by its column when malformed.
fn rls_part<T: serde::de::DeserializeOwned>(column: &str, raw: &str) -> Result<T, StoreError> {
    serde_json::from_str(raw).map_err(|e| StoreError::Backend(format!("malformed {column}: {e}")))
}

/// The effective identity; none when the user is not of the organization.
impl TryFrom<RlsPartsRow> for Option<RlsAssignment> {
    type Error = StoreError;

    fn try_from(row: RlsPartsRow) -> Result<Self, StoreError> {
        if !row.rls_member {
            return Ok(None);
        }
        let own: Vec<String> = rls_part("rls_roles", &row.rls_roles)?;
        let of_groups: Vec<String> = rls_part("rls_group_roles", &row.rls_group_roles)?;
        let attributes: Vec<(String, String)> = rls_part("rls_attributes", &row.rls_attributes)?;
        let group_attributes: Vec<GroupAttribute> =
            rls_part("rls_group_attributes", &row.rls_group_attributes)?;
        Ok(Some(RlsAssignment::effective(
            own.into_iter().chain(of_groups),
            group_attributes,
            attributes,
        )))
    }
}
