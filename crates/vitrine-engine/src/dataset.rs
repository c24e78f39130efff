//! What a dataset holds: its columns, their kinds, its size.

use datafusion::arrow::datatypes::{DataType, Schema};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataFormat {
    Csv,
    Parquet,
}

impl DataFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            DataFormat::Csv => "csv",
            DataFormat::Parquet => "parquet",
        }
    }

    /// From a file name's extension.
    pub fn from_file_name(name: &str) -> Option<Self> {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".csv") {
            Some(DataFormat::Csv)
        } else if lower.ends_with(".parquet") || lower.ends_with(".pq") {
            Some(DataFormat::Parquet)
        } else {
            None
        }
    }
}

/// How a column can be used: measures other than counts need numbers; time grains need dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ColumnKind {
    Text,
    Integer,
    Decimal,
    Date,
    Timestamp,
    Boolean,
    Other,
}

impl ColumnKind {
    pub fn of(data_type: &DataType) -> Self {
        match data_type {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => ColumnKind::Text,
            DataType::Dictionary(_, value) => ColumnKind::of(value),
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64 => ColumnKind::Integer,
            DataType::Float16
            | DataType::Float32
            | DataType::Float64
            | DataType::Decimal128(_, _)
            | DataType::Decimal256(_, _) => ColumnKind::Decimal,
            DataType::Date32 | DataType::Date64 => ColumnKind::Date,
            DataType::Timestamp(_, _) => ColumnKind::Timestamp,
            DataType::Boolean => ColumnKind::Boolean,
            _ => ColumnKind::Other,
        }
    }

    pub fn is_numeric(self) -> bool {
        matches!(self, ColumnKind::Integer | ColumnKind::Decimal)
    }

    pub fn is_temporal(self) -> bool {
        matches!(self, ColumnKind::Date | ColumnKind::Timestamp)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnInfo {
    pub name: String,
    pub kind: ColumnKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetInfo {
    pub columns: Vec<ColumnInfo>,
    pub row_count: u64,
}

impl DatasetInfo {
    pub fn from_schema(schema: &Schema, row_count: u64) -> Self {
        let columns = schema
            .fields()
            .iter()
            .map(|field| ColumnInfo {
                name: field.name().clone(),
                kind: ColumnKind::of(field.data_type()),
            })
            .collect();
        Self { columns, row_count }
    }

    pub fn column(&self, name: &str) -> Option<&ColumnInfo> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn column_names(&self) -> String {
        self.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
    }
}
