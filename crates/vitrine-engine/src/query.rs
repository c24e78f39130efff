//! A visual's query: the request a viewer sends, and the DataFusion plan built from it with the
//! expression API. Request values become typed literals; nothing from the request is ever
//! parsed as SQL.

use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::common::ScalarValue;
use datafusion::functions::expr_fn::date_trunc;
use datafusion::functions_aggregate::expr_fn::{avg, count, count_distinct, max, min, sum};
use datafusion::logical_expr::{Expr, SortExpr, cast, col, ident, lit};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::dataset::ColumnKind;
use crate::definition::{Aggregation, Dimension, Measure, TimeGrain, Visual, VisualKind};

pub const MAX_FILTERS: usize = 20;
pub const MAX_FILTER_VALUES: usize = 1_000;

/// `{"page","visual","filters":[{"column","values":[…]}]}`, or with `slicer` (a column) instead
/// of `visual` for the values a page's slicer offers.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryRequest {
    pub page: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visual: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slicer: Option<String>,
    #[serde(default)]
    pub filters: Vec<ValueFilter>,
}

/// A slicer lists at most this many values.
pub const MAX_SLICER_VALUES: usize = 500;

/// Keeps the rows whose `column` equals one of `values`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValueFilter {
    pub column: String,
    pub values: Vec<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ResultColumn {
    pub name: String,
    pub label: String,
    pub kind: ColumnKind,
    /// For a dimension grouped by a time grain: each value is the first day of its period,
    /// shown as the period ("Q1 2025", "Mar 2025", "week of 3 Mar 2025").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grain: Option<TimeGrain>,
}

/// `{"columns":[…],"rows":[…]}`; `truncated` when the visual's row limit cut the result.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct QueryResult {
    pub columns: Vec<ResultColumn>,
    pub rows: Vec<Vec<Value>>,
    pub truncated: bool,
}

/// A literal of the column's type from text, or `None` when the text is not such a value.
pub fn typed_literal(value: &str, data_type: &DataType) -> Option<Expr> {
    let target = match data_type {
        DataType::Dictionary(_, value_type) => value_type.as_ref(),
        other => other,
    };
    let scalar = match target {
        DataType::Utf8View => ScalarValue::Utf8View(Some(value.to_string())),
        DataType::LargeUtf8 | DataType::Utf8 => ScalarValue::Utf8(Some(value.to_string())),
        other => ScalarValue::try_from_string(value.to_string(), other).ok()?,
    };
    Some(lit(scalar))
}

/// A JSON filter value as text; objects and arrays are not values.
pub fn value_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// A visual's dimension: the column, or the first day of its period. A plan sent to a source
/// uses `date_trunc`, which SQL dialects know; one run here uses Vitrine's faster function.
pub fn dimension_expr(dimension: &Dimension, at_source: bool) -> Expr {
    match dimension.grain {
        None => ident(&dimension.column),
        Some(grain) if at_source => {
            cast(date_trunc(lit(grain.as_str()), ident(&dimension.column)), DataType::Date32)
        }
        Some(grain) => crate::grain::period_start(grain, ident(&dimension.column)),
    }
}

pub fn measure_expr(measure: &Measure) -> Expr {
    let column = ident(&measure.column);
    match measure.aggregation {
        Aggregation::Sum => sum(column),
        Aggregation::Count => count(column),
        Aggregation::Avg => avg(column),
        Aggregation::Min => min(column),
        Aggregation::Max => max(column),
        Aggregation::CountDistinct => count_distinct(column),
    }
}

/// How many rows a visual returns at most, when its definition does not say.
pub fn default_limit(visual: &Visual) -> usize {
    let limit = match visual.kind {
        VisualKind::Card => 1,
        VisualKind::Bar => 50,
        VisualKind::Donut => 12,
        VisualKind::Line | VisualKind::Table => 1_000,
    };
    visual.limit.map(|l| l as usize).unwrap_or(limit)
}

/// Bars, slices and tables largest first; lines in dimension order.
pub fn sort_exprs(visual: &Visual) -> Vec<SortExpr> {
    match (visual.kind, &visual.dimension) {
        (VisualKind::Card, _) | (_, None) => Vec::new(),
        (VisualKind::Line, Some(_)) => vec![col("d").sort(true, false)],
        _ => vec![col("m0").sort(false, true), col("d").sort(true, false)],
    }
}

/// The result column kinds of a visual: its dimension's, then each measure's.
pub fn result_columns(visual: &Visual, schema: &Schema) -> Vec<ResultColumn> {
    let kind_of = |name: &str| {
        schema
            .field_with_name(name)
            .map(|f| ColumnKind::of(f.data_type()))
            .unwrap_or(ColumnKind::Other)
    };
    let mut columns = Vec::new();
    if let Some(dimension) = &visual.dimension {
        let kind =
            if dimension.grain.is_some() { ColumnKind::Date } else { kind_of(&dimension.column) };
        columns.push(ResultColumn {
            name: dimension.column.clone(),
            label: dimension.column.clone(),
            kind,
            grain: dimension.grain,
        });
    }
    for measure in &visual.measures {
        let kind = match measure.aggregation {
            Aggregation::Count | Aggregation::CountDistinct => ColumnKind::Integer,
            Aggregation::Avg => ColumnKind::Decimal,
            Aggregation::Sum | Aggregation::Min | Aggregation::Max => kind_of(&measure.column),
        };
        columns.push(ResultColumn {
            name: measure.column.clone(),
            label: measure.label(),
            kind,
            grain: None,
        });
    }
    columns
}
