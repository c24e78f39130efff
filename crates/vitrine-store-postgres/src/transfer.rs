//! Export and import of a whole installation on PostgreSQL: the export reads in one
//! `REPEATABLE READ` snapshot; the import writes in one transaction under the write lock, each
//! value in its column's type (flags arrive as integers from SQLite), then moves the identity
//! sequences past the ids it wrote.

use std::collections::HashMap;

use async_trait::async_trait;
use futures_util::TryStreamExt;
use sqlx::postgres::PgRow;
use sqlx::{Column, PgConnection, Postgres, QueryBuilder, Row, TypeInfo, ValueRef};

use super::PostgresStore;
use vitrine_store::transfer::{
    BATCH_ROWS, Bytes, Cell, TABLES, TableBatch, TableSink, TableSource, TransferStore, check_batch,
};
use vitrine_store::{StoreError, StoreResult};

/// Tables whose `id` is an identity column.
const IDENTITIES: &[&str] =
    &["capacity_events", "audit_log", "installation_audit", "token_events", "dataset_refreshes"];

#[async_trait]
impl TransferStore for PostgresStore {
    async fn export(&self, sink: &mut dyn TableSink) -> StoreResult<()> {
        let mut snapshot = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *snapshot)
            .await?;
        for table in TABLES {
            let sql = format!("SELECT * FROM {table}");
            let mut rows = sqlx::query(&sql).fetch(&mut *snapshot);
            let mut batch: Option<TableBatch> = None;
            while let Some(row) = rows.try_next().await? {
                let batch = batch.get_or_insert_with(|| TableBatch {
                    table: table.to_string(),
                    columns: row.columns().iter().map(|c| c.name().to_string()).collect(),
                    rows: Vec::with_capacity(BATCH_ROWS),
                });
                batch.rows.push(cells(&row)?);
                if batch.rows.len() == BATCH_ROWS {
                    let full = std::mem::replace(&mut batch.rows, Vec::with_capacity(BATCH_ROWS));
                    sink.write(TableBatch { rows: full, ..batch.clone() }).await?;
                }
            }
            if let Some(rest) = batch.filter(|b| !b.rows.is_empty()) {
                sink.write(rest).await?;
            }
        }
        snapshot.rollback().await?;
        Ok(())
    }

    async fn import(&self, source: &mut dyn TableSource) -> StoreResult<u64> {
        let mut tx = self.write().await?;
        for table in TABLES {
            let any: Option<i64> =
                sqlx::query_scalar(&format!("SELECT 1::bigint FROM {table} LIMIT 1"))
                    .fetch_optional(&mut *tx)
                    .await?;
            if any.is_some() {
                return Err(StoreError::Conflict { field: "database" });
            }
        }
        let mut written = 0;
        while let Some(batch) = source.read().await? {
            let types = column_types(&mut tx, &batch.table).await?;
            check_batch(&batch, &types.keys().cloned().collect::<Vec<_>>())?;
            if batch.rows.is_empty() {
                continue;
            }
            let kinds: Vec<&str> =
                batch.columns.iter().map(|c| types.get(c).map_or("text", String::as_str)).collect();
            let mut insert: QueryBuilder<Postgres> = QueryBuilder::new(format!(
                "INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE ",
                batch.table,
                batch.columns.join(", ")
            ));
            let mut refused = None;
            insert.push_values(&batch.rows, |mut values, row| {
                for (cell, kind) in row.iter().zip(&kinds) {
                    if let Err(error) = bind(&mut values, cell, kind) {
                        refused.get_or_insert(error);
                    }
                }
            });
            if let Some(error) = refused {
                return Err(error);
            }
            written += insert.build().execute(&mut *tx).await?.rows_affected();
        }
        for table in IDENTITIES {
            sqlx::query(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'),
                               GREATEST(COALESCE(MAX(id), 0), 1), MAX(id) IS NOT NULL)
                 FROM {table}"
            ))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(written)
    }
}

/// Each column of `table` and its type as `information_schema` names it.
async fn column_types(
    conn: &mut PgConnection,
    table: &str,
) -> StoreResult<HashMap<String, String>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT column_name::text, data_type::text FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name = $1",
    )
    .bind(table)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().collect())
}

/// Binds `cell` as a value of a column of type `kind`.
fn bind(
    values: &mut sqlx::query_builder::Separated<'_, '_, Postgres, &'static str>,
    cell: &Cell,
    kind: &str,
) -> StoreResult<()> {
    let mismatch = || StoreError::Backend(format!("refused backup: {cell:?} for a {kind} column"));
    match (kind, cell) {
        ("boolean", Cell::Null) => values.push_bind(None::<bool>),
        ("boolean", Cell::Int(n)) => values.push_bind(*n != 0),
        ("bigint", Cell::Null) => values.push_bind(None::<i64>),
        ("bigint", Cell::Int(n)) => values.push_bind(*n),
        ("double precision", Cell::Null) => values.push_bind(None::<f64>),
        ("double precision", Cell::Real(x)) => values.push_bind(*x),
        ("double precision", Cell::Int(n)) => values.push_bind(*n as f64),
        ("bytea", Cell::Null) => values.push_bind(None::<Vec<u8>>),
        ("bytea", Cell::Bytes(Bytes(bytes))) => values.push_bind(bytes.clone()),
        ("text", Cell::Null) => values.push_bind(None::<String>),
        ("text", Cell::Text(text)) => values.push_bind(text.clone()),
        _ => return Err(mismatch()),
    };
    Ok(())
}

fn cells(row: &PgRow) -> StoreResult<Vec<Cell>> {
    (0..row.len())
        .map(|i| {
            let raw = row.try_get_raw(i)?;
            if raw.is_null() {
                return Ok(Cell::Null);
            }
            let kind = raw.type_info().name().to_string();
            Ok(match kind.as_str() {
                "BOOL" => Cell::Int(i64::from(row.try_get::<bool, _>(i)?)),
                "INT8" => Cell::Int(row.try_get(i)?),
                "INT4" => Cell::Int(i64::from(row.try_get::<i32, _>(i)?)),
                "FLOAT8" => Cell::Real(row.try_get(i)?),
                "TEXT" | "VARCHAR" => Cell::Text(row.try_get(i)?),
                "BYTEA" => Cell::Bytes(Bytes(row.try_get(i)?)),
                other => {
                    return Err(StoreError::Backend(format!("unexpected value of type {other}")));
                }
            })
        })
        .collect()
}
