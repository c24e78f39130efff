//! A source's rows as Arrow batches, read in the types the plan asked for: every output of a
//! query Vitrine sends is cast to its plan type in the SQL itself, so each column decodes as
//! exactly one Rust type.

use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime};
use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, StringArray,
    TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use sqlx::{ColumnIndex, Database, Decode, Row, Type};

use crate::connection::SourceError;

/// Days from 0001-01-01 (CE day 1) to 1970-01-01.
const UNIX_EPOCH_CE_DAYS: i32 = 719_163;

/// Reads `rows` into one batch of `schema`.
pub(crate) fn batch<R>(rows: &[R], schema: &SchemaRef) -> Result<RecordBatch, SourceError>
where
    R: Row,
    usize: ColumnIndex<R>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> f64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> NaiveDate: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> NaiveDateTime: Decode<'r, R::Database> + Type<R::Database>,
{
    let columns = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(index, field)| column(rows, index, field.data_type()))
        .collect::<Result<Vec<_>, _>>()?;
    RecordBatch::try_new(Arc::clone(schema), columns)
        .map_err(|e| SourceError::Unsupported(e.to_string()))
}

fn values<R, T>(rows: &[R], index: usize) -> Result<Vec<Option<T>>, SourceError>
where
    R: Row,
    usize: ColumnIndex<R>,
    for<'r> T: Decode<'r, R::Database> + Type<R::Database>,
{
    rows.iter()
        .map(|row| row.try_get::<Option<T>, _>(index))
        .collect::<Result<_, _>>()
        .map_err(|e| SourceError::Unsupported(format!("column {index}: {e}")))
}

fn column<R>(rows: &[R], index: usize, data_type: &DataType) -> Result<ArrayRef, SourceError>
where
    R: Row,
    usize: ColumnIndex<R>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> f64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> NaiveDate: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> NaiveDateTime: Decode<'r, R::Database> + Type<R::Database>,
    R::Database: Database,
{
    Ok(match data_type {
        DataType::Int64 => Arc::new(Int64Array::from(values::<R, i64>(rows, index)?)),
        DataType::Float64 => Arc::new(Float64Array::from(values::<R, f64>(rows, index)?)),
        DataType::Utf8 => Arc::new(StringArray::from(values::<R, String>(rows, index)?)),
        DataType::Boolean => Arc::new(BooleanArray::from(values::<R, bool>(rows, index)?)),
        DataType::Date32 => {
            let days = values::<R, NaiveDate>(rows, index)?;
            Arc::new(Date32Array::from(
                days.into_iter()
                    .map(|d| d.map(|d| chrono::Datelike::num_days_from_ce(&d) - UNIX_EPOCH_CE_DAYS))
                    .collect::<Vec<_>>(),
            ))
        }
        DataType::Timestamp(TimeUnit::Microsecond, None) => {
            let times = values::<R, NaiveDateTime>(rows, index)?;
            Arc::new(TimestampMicrosecondArray::from(
                times
                    .into_iter()
                    .map(|t| t.map(|t| t.and_utc().timestamp_micros()))
                    .collect::<Vec<_>>(),
            ))
        }
        other => {
            return Err(SourceError::Unsupported(format!(
                "column {index}: the type {other} cannot be read from a source"
            )));
        }
    })
}
