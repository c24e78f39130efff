//! How the backends read rows: one `#[derive(sqlx::FromRow)]` struct per shape of row, and its
//! conversion into the record it holds. Both databases have the same tables and column names,
//! so a struct decodes a SQLite row and a PostgreSQL row alike; only the SQL stays per backend.
//!
//! Columns decode as what both databases can give: ids and JSON as text (`String`), times as
//! Unix milliseconds (`i64`), flags as `bool`, bytes as `Vec<u8>`, counts as `i64`. A struct
//! reads its columns by name, so it reads the part of a wider (joined) row it knows.

mod accounts;
mod audit;
mod capacities;
mod displays;
mod keys;
mod reports;
mod scim;
mod sources;
mod sso;

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use vitrine_core::{OrgLimits, OrgSettings};

use crate::{Grantee, StoreError, StoreResult};

pub use accounts::*;
pub use audit::*;
pub use capacities::*;
pub use displays::*;
pub use keys::*;
pub use reports::*;
pub use scim::*;
pub use sources::*;
pub use sso::*;

/// A record read through a row struct: [`from_row`] decodes the struct and converts it. The
/// record names its struct so that a backend asks only for the record it wants.
pub trait Mapped: Sized {
    /// The row struct the record is read from.
    type Row;
}

/// Names the row struct of each record (its conversion is a `TryFrom` beside the struct).
macro_rules! mapped {
    ($($record:ty => $row:ty),* $(,)?) => {
        $(impl $crate::rows::Mapped for $record {
            type Row = $row;
        })*
    };
}
use mapped;

/// Reads a record from a row of any backend: `rows.iter().map(from_row).collect()`.
pub fn from_row<'r, T, R>(row: &'r R) -> StoreResult<T>
where
    R: sqlx::Row,
    T: Mapped + TryFrom<T::Row, Error = StoreError>,
    T::Row: sqlx::FromRow<'r, R>,
{
    T::try_from(<T::Row as sqlx::FromRow<'r, R>>::from_row(row)?)
}

/// An instant as stored: Unix milliseconds.
pub fn ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// An instant from its stored Unix milliseconds.
pub fn from_ms(value: i64) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_millis(value)
        .ok_or_else(|| StoreError::Backend(format!("timestamp out of range: {value}")))
}

pub fn opt_from_ms(value: Option<i64>) -> StoreResult<Option<DateTime<Utc>>> {
    value.map(from_ms).transpose()
}

/// An id read from `column`; a malformed one is the database's fault, named with its column.
pub fn parse_id<T: FromStr>(column: &str, raw: &str) -> StoreResult<T> {
    raw.parse().map_err(|_| StoreError::Backend(format!("malformed id in {column}: {raw}")))
}

/// An id read from `column` of a row of any backend, for a row with no struct of its own.
pub fn id_column<T, R>(row: &R, column: &str) -> StoreResult<T>
where
    T: FromStr,
    R: sqlx::Row,
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database>,
    String: sqlx::Type<R::Database>,
{
    let raw: String = row.try_get(column)?;
    parse_id(column, &raw)
}

/// An optional id read leniently: one that does not parse reads as none, as a NULL does
/// (the mappers of owners, capacities, creators and token events have always read them so).
pub fn lenient_id<T: FromStr>(raw: Option<String>) -> Option<T> {
    raw.and_then(|raw| raw.parse().ok())
}

/// A JSON column that is optional: text that does not parse reads as none.
pub fn json_value(raw: Option<String>) -> Option<Value> {
    raw.and_then(|text| serde_json::from_str(&text).ok())
}

/// A value as the JSON text a column stores.
pub fn json_text<T: Serialize + ?Sized>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Backend(e.to_string()))
}

/// The key column's value of a grantee in the tables shared by users and groups.
pub fn grantee_id(grantee: Grantee) -> String {
    match grantee {
        Grantee::User(id) => id.to_string(),
        Grantee::Group(id) => id.to_string(),
    }
}

pub fn settings_json(settings: &OrgSettings) -> StoreResult<String> {
    json_text(settings)
}

pub fn settings_from_json(raw: &str) -> StoreResult<OrgSettings> {
    serde_json::from_str(raw).map_err(|e| StoreError::Backend(format!("malformed settings: {e}")))
}

pub fn limits_from_json(raw: &str) -> StoreResult<OrgLimits> {
    serde_json::from_str(raw).map_err(|e| StoreError::Backend(format!("malformed limits: {e}")))
}

/// A count or size stored as a signed integer; a negative one (never written) reads as zero.
fn unsigned(value: i64) -> u64 {
    value.max(0) as u64
}
