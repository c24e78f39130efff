//! Arrow results as JSON rows: numbers stay numbers, dates become ISO strings.

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};
use datafusion::arrow::record_batch::RecordBatch;
use serde_json::{Number, Value};

/// One JSON value per cell of a column, by the column's kind.
fn column_values(array: &ArrayRef) -> Result<Vec<Value>, String> {
    let values =
        match array.data_type() {
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64 => {
                let ints = cast(array, &DataType::Int64).map_err(|e| e.to_string())?;
                let ints = ints.as_primitive::<Int64Type>();
                (0..ints.len())
                    .map(|i| if ints.is_null(i) { Value::Null } else { Value::from(ints.value(i)) })
                    .collect()
            }
            DataType::Float16
            | DataType::Float32
            | DataType::Float64
            | DataType::Decimal128(_, _)
            | DataType::Decimal256(_, _) => {
                let floats = cast(array, &DataType::Float64).map_err(|e| e.to_string())?;
                let floats = floats.as_primitive::<Float64Type>();
                (0..floats.len())
                    .map(|i| {
                        if floats.is_null(i) {
                            Value::Null
                        } else {
                            // Rounded to micro-units: sums of cents should not print as 0.30000000000000004.
                            let rounded = (floats.value(i) * 1e6).round() / 1e6;
                            Number::from_f64(rounded).map(Value::Number).unwrap_or(Value::Null)
                        }
                    })
                    .collect()
            }
            DataType::Boolean => {
                let booleans = array.as_boolean();
                (0..booleans.len())
                    .map(|i| {
                        if booleans.is_null(i) {
                            Value::Null
                        } else {
                            Value::Bool(booleans.value(i))
                        }
                    })
                    .collect()
            }
            _ => {
                let strings = cast(array, &DataType::Utf8).map_err(|e| e.to_string())?;
                let strings = strings.as_string::<i32>();
                (0..strings.len())
                    .map(|i| {
                        if strings.is_null(i) {
                            Value::Null
                        } else {
                            Value::String(strings.value(i).to_string())
                        }
                    })
                    .collect()
            }
        };
    Ok(values)
}

/// The batches as rows of JSON values, at most `limit` rows.
pub fn rows(batches: &[RecordBatch], limit: usize) -> Result<Vec<Vec<Value>>, String> {
    let mut rows = Vec::new();
    for batch in batches {
        let columns: Vec<Vec<Value>> =
            batch.columns().iter().map(column_values).collect::<Result<_, _>>()?;
        for row in 0..batch.num_rows() {
            if rows.len() == limit {
                return Ok(rows);
            }
            rows.push(columns.iter().map(|column| column[row].clone()).collect());
        }
    }
    Ok(rows)
}
