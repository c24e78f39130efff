//! What a source dataset reads: a table (or view) by name, or a read-only query. A query is
//! parsed with the source's SQL dialect and must be exactly one `SELECT`: no statement that
//! writes, no `SELECT … INTO`, no row locks. (The sessions are read-only besides.)

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::common::TableReference;
use datafusion::sql::sqlparser::ast::{Ident, ObjectName, SetExpr, Statement};
use datafusion::sql::sqlparser::dialect::{Dialect, MySqlDialect, PostgreSqlDialect};
use datafusion::sql::sqlparser::parser::Parser;
use sqlx::{Column, Executor, TypeInfo};

use crate::connection::{Pool, Source, SourceError, SourceKind};

/// The name a query dataset's rows go by in the SQL sent to the source.
pub(crate) const QUERY_NAME: &str = "vitrine_source";
const MAX_NAME_PART: usize = 128;
const MAX_QUERY_BYTES: usize = 64 * 1024;

/// A table or view: `name` or `schema.name`, as the source's catalog spells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName {
    schema: Option<String>,
    name: String,
}

impl TableName {
    /// Checks a name as entered; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.trim().split('.').collect();
        let check = |part: &str| -> Result<String, String> {
            if part.is_empty() {
                return Err("a part of the name is empty".into());
            }
            if part.len() > MAX_NAME_PART {
                return Err(format!(
                    "a part of the name is longer than {MAX_NAME_PART} characters"
                ));
            }
            if part.chars().any(|c| c.is_control() || matches!(c, '"' | '`' | '\'' | ';')) {
                return Err("must not contain quotes, semicolons or control characters".into());
            }
            Ok(part.to_string())
        };
        match parts.as_slice() {
            [name] => Ok(Self { schema: None, name: check(name)? }),
            [schema, name] => Ok(Self { schema: Some(check(schema)?), name: check(name)? }),
            _ => Err("must be `table` or `schema.table`".into()),
        }
    }

    pub fn reference(&self) -> TableReference {
        match &self.schema {
            Some(schema) => TableReference::partial(schema.as_str(), self.name.as_str()),
            None => TableReference::bare(self.name.as_str()),
        }
    }

    /// The name quoted for `kind`'s SQL.
    fn quoted(&self, kind: SourceKind) -> String {
        let quote = match kind {
            SourceKind::Postgres => '"',
            SourceKind::Mysql => '`',
        };
        let parts = self.schema.iter().chain(std::iter::once(&self.name));
        ObjectName::from(parts.map(|p| Ident::with_quote(quote, p)).collect::<Vec<_>>()).to_string()
    }
}

impl std::fmt::Display for TableName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.schema {
            Some(schema) => write!(f, "{schema}.{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Relation {
    Table(TableName),
    /// A read-only query, as parsed and printed back by the dialect's parser.
    Query(String),
}

impl Relation {
    /// Checks a query for `kind`: one `SELECT` (or `WITH … SELECT`, `VALUES`, a set
    /// operation), nothing else.
    pub fn query(kind: SourceKind, text: &str) -> Result<Self, String> {
        if text.len() > MAX_QUERY_BYTES {
            return Err(format!("must be at most {} KB", MAX_QUERY_BYTES / 1024));
        }
        let dialect: &dyn Dialect = match kind {
            SourceKind::Postgres => &PostgreSqlDialect {},
            SourceKind::Mysql => &MySqlDialect {},
        };
        let statements =
            Parser::parse_sql(dialect, text).map_err(|e| format!("is not valid SQL: {e}"))?;
        let [Statement::Query(query)] = statements.as_slice() else {
            return Err("must be exactly one SELECT query".into());
        };
        if !query.locks.is_empty() {
            return Err("must not lock rows (FOR UPDATE / FOR SHARE)".into());
        }
        if writes(&query.body) {
            return Err("must only read: SELECT … INTO is not allowed".into());
        }
        Ok(Relation::Query(query.to_string()))
    }

    /// The table plans over this relation scan.
    pub(crate) fn reference(&self) -> TableReference {
        match self {
            Relation::Table(name) => name.reference(),
            Relation::Query(_) => TableReference::bare(QUERY_NAME),
        }
    }

    /// What comes before a query over [`Relation::reference`]: the query itself, named.
    pub(crate) fn prefix(&self) -> Option<String> {
        match self {
            Relation::Table(_) => None,
            Relation::Query(query) => Some(format!("WITH {QUERY_NAME} AS ({query}) ")),
        }
    }

    /// The rows of the relation, as SQL for `kind`.
    fn select_all(&self, kind: SourceKind) -> String {
        match self {
            Relation::Table(name) => format!("SELECT * FROM {}", name.quoted(kind)),
            Relation::Query(query) => query.clone(),
        }
    }
}

/// Whether a query's body writes (`SELECT … INTO new_table`).
fn writes(body: &SetExpr) -> bool {
    match body {
        SetExpr::Select(select) => select.into.is_some(),
        SetExpr::Query(query) => writes(&query.body),
        SetExpr::SetOperation { left, right, .. } => writes(left) || writes(right),
        SetExpr::Values(_) | SetExpr::Table(_) => false,
        _ => true,
    }
}

pub(crate) async fn describe(
    source: &Source,
    relation: &Relation,
) -> Result<SchemaRef, SourceError> {
    let sql = relation.select_all(source.kind);
    let columns: Vec<(String, String)> = match &source.pool {
        Pool::Postgres(pool) => pool.describe(&sql).await.map(|d| {
            d.columns()
                .iter()
                .map(|c| (c.name().to_string(), c.type_info().name().to_string()))
                .collect()
        }),
        Pool::Mysql(pool) => pool.describe(&sql).await.map(|d| {
            d.columns()
                .iter()
                .map(|c| (c.name().to_string(), c.type_info().name().to_string()))
                .collect()
        }),
    }
    .map_err(|e| SourceError::of(e, source.timeout))?;
    let mut fields = Vec::new();
    let mut skipped = Vec::new();
    for (name, type_name) in columns {
        if fields.iter().any(|f: &Field| f.name() == &name) {
            return Err(SourceError::Unsupported(format!(
                "the column `{name}` appears twice; give the query's columns distinct names"
            )));
        }
        match arrow_type(source.kind, &type_name) {
            Some(data_type) => fields.push(Field::new(name, data_type, true)),
            None => skipped.push(format!("{name} ({type_name})")),
        }
    }
    if !skipped.is_empty() {
        tracing::info!(columns = %skipped.join(", "), "source columns of types reports cannot use are left out");
    }
    if fields.is_empty() {
        return Err(SourceError::Unsupported(
            "none of its columns has a type reports can use (numbers, text, dates, times, true/false)".into(),
        ));
    }
    Ok(Arc::new(Schema::new(fields)))
}

/// The type a source column takes in a dataset, by the type name the driver reports.
/// Decimals become floating point: reports show them, they do not do accounting with them.
pub(crate) fn arrow_type(kind: SourceKind, type_name: &str) -> Option<DataType> {
    let name = type_name.to_ascii_uppercase();
    let timestamp = DataType::Timestamp(TimeUnit::Microsecond, None);
    match kind {
        SourceKind::Postgres => match name.as_str() {
            "INT2" | "INT4" | "INT8" | "OID" => Some(DataType::Int64),
            "FLOAT4" | "FLOAT8" | "NUMERIC" | "MONEY" => Some(DataType::Float64),
            "TEXT" | "VARCHAR" | "BPCHAR" | "CHAR" | "NAME" | "CITEXT" | "UUID" => {
                Some(DataType::Utf8)
            }
            "DATE" => Some(DataType::Date32),
            "TIMESTAMP" | "TIMESTAMPTZ" => Some(timestamp),
            "BOOL" => Some(DataType::Boolean),
            _ => None,
        },
        SourceKind::Mysql => match name.as_str() {
            "BOOLEAN" => Some(DataType::Boolean),
            "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" | "YEAR"
            | "TINYINT UNSIGNED" | "SMALLINT UNSIGNED" | "MEDIUMINT UNSIGNED" | "INT UNSIGNED"
            | "BIGINT UNSIGNED" => Some(DataType::Int64),
            "FLOAT" | "DOUBLE" | "DECIMAL" => Some(DataType::Float64),
            "CHAR" | "VARCHAR" | "TINYTEXT" | "TEXT" | "MEDIUMTEXT" | "LONGTEXT" | "ENUM" => {
                Some(DataType::Utf8)
            }
            "DATE" => Some(DataType::Date32),
            "DATETIME" | "TIMESTAMP" => Some(timestamp),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_are_one_or_two_plain_parts() {
        assert_eq!(TableName::parse("sales").unwrap().to_string(), "sales");
        assert_eq!(TableName::parse(" public.Sales ").unwrap().to_string(), "public.Sales");
        assert!(TableName::parse("a.b.c").is_err());
        assert!(TableName::parse("sales\"; DROP TABLE x; --").is_err());
        assert!(TableName::parse("").is_err());
        let name = TableName::parse("public.Sales").unwrap();
        assert_eq!(name.quoted(SourceKind::Postgres), r#""public"."Sales""#);
        assert_eq!(name.quoted(SourceKind::Mysql), "`public`.`Sales`");
    }

    #[test]
    fn only_a_single_reading_query_is_accepted() {
        for kind in [SourceKind::Postgres, SourceKind::Mysql] {
            assert!(
                Relation::query(kind, "SELECT region, sum(units) FROM sales GROUP BY region")
                    .is_ok()
            );
            assert!(Relation::query(kind, "WITH t AS (SELECT 1 AS a) SELECT a FROM t").is_ok());
            for refused in [
                "DELETE FROM sales",
                "SELECT 1; DELETE FROM sales",
                "UPDATE sales SET units = 0",
                "SELECT * FROM sales FOR UPDATE",
                "CREATE TABLE x (a int)",
                "not sql at all",
            ] {
                assert!(Relation::query(kind, refused).is_err(), "{refused}");
            }
        }
        assert!(Relation::query(SourceKind::Postgres, "SELECT * INTO copy FROM sales").is_err());
    }
}
