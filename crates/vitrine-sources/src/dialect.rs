//! The SQL dialects plans are written in. PostgreSQL's is DataFusion's own. MySQL's is
//! DataFusion's too, but MySQL and MariaDB have no `date_trunc`: a visual by month there asks
//! for the period's first day with `MAKEDATE` and intervals instead.

use std::sync::Arc;

use datafusion::arrow::datatypes::TimeUnit;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::Expr;
use datafusion::sql::sqlparser::ast;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::unparser::Unparser;
use datafusion::sql::unparser::dialect::{
    DateFieldExtractStyle, Dialect, DistinctFromStyle, IntervalStyle, MySqlDialect,
};

/// DataFusion's MySQL dialect with `date_trunc` for the five grains Vitrine uses.
pub(crate) struct MySql {
    inner: MySqlDialect,
}

impl MySql {
    pub(crate) fn new() -> Self {
        Self { inner: MySqlDialect {} }
    }
}

/// The first day of `column`'s period in MySQL's SQL, or `None` for a grain it does not name.
fn period_start(grain: &str, column: &str) -> Option<String> {
    let c = column;
    Some(match grain {
        "day" => format!("DATE({c})"),
        // WEEKDAY is 0 on Mondays.
        "week" => format!("DATE_SUB(DATE({c}), INTERVAL WEEKDAY({c}) DAY)"),
        "month" => format!("MAKEDATE(YEAR({c}), 1) + INTERVAL (MONTH({c}) - 1) MONTH"),
        "quarter" => format!("MAKEDATE(YEAR({c}), 1) + INTERVAL (QUARTER({c}) - 1) QUARTER"),
        "year" => format!("MAKEDATE(YEAR({c}), 1)"),
        _ => return None,
    })
}

impl Dialect for MySql {
    fn identifier_quote_style(&self, identifier: &str) -> Option<char> {
        self.inner.identifier_quote_style(identifier)
    }

    fn supports_nulls_first_in_sort(&self) -> bool {
        self.inner.supports_nulls_first_in_sort()
    }

    fn interval_style(&self) -> IntervalStyle {
        self.inner.interval_style()
    }

    fn utf8_cast_dtype(&self) -> ast::DataType {
        self.inner.utf8_cast_dtype()
    }

    fn large_utf8_cast_dtype(&self) -> ast::DataType {
        self.inner.large_utf8_cast_dtype()
    }

    fn date_field_extract_style(&self) -> DateFieldExtractStyle {
        self.inner.date_field_extract_style()
    }

    fn distinct_from_style(&self) -> DistinctFromStyle {
        self.inner.distinct_from_style()
    }

    fn int64_cast_dtype(&self) -> ast::DataType {
        self.inner.int64_cast_dtype()
    }

    fn int32_cast_dtype(&self) -> ast::DataType {
        self.inner.int32_cast_dtype()
    }

    fn timestamp_cast_dtype(&self, unit: &TimeUnit, tz: &Option<Arc<str>>) -> ast::DataType {
        self.inner.timestamp_cast_dtype(unit, tz)
    }

    fn requires_derived_table_alias(&self) -> bool {
        self.inner.requires_derived_table_alias()
    }

    fn supports_qualify(&self) -> bool {
        self.inner.supports_qualify()
    }

    fn scalar_function_to_sql_overrides(
        &self,
        unparser: &Unparser,
        func_name: &str,
        args: &[Expr],
    ) -> Result<Option<ast::Expr>> {
        if func_name == "date_trunc"
            && let [Expr::Literal(ScalarValue::Utf8(Some(grain)), _), column] = args
        {
            let column = unparser.expr_to_sql(column)?.to_string();
            if let Some(text) = period_start(grain, &column) {
                let expr = Parser::new(&datafusion::sql::sqlparser::dialect::MySqlDialect {})
                    .try_with_sql(&text)
                    .and_then(|mut parser| parser.parse_expr())
                    .map_err(|e| datafusion::common::DataFusionError::Plan(e.to_string()))?;
                return Ok(Some(expr));
            }
        }
        self.inner.scalar_function_to_sql_overrides(unparser, func_name, args)
    }
}
