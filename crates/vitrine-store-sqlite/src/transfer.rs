//! Export and import of a whole installation on SQLite: one read transaction (a WAL snapshot)
//! for the export, the writer's transaction for the import. Values keep their storage class.

use async_trait::async_trait;
use futures_util::TryStreamExt;
use sqlx::sqlite::SqliteRow;
use sqlx::{Column, QueryBuilder, Row, Sqlite, SqliteConnection, TypeInfo, ValueRef};

use super::SqliteStore;
use vitrine_store::transfer::{
    BATCH_ROWS, Bytes, Cell, TABLES, TableBatch, TableSink, TableSource, TransferStore, check_batch,
};
use vitrine_store::{StoreError, StoreResult};

#[async_trait]
impl TransferStore for SqliteStore {
    async fn export(&self, sink: &mut dyn TableSink) -> StoreResult<()> {
        let mut conn = self.reader.acquire().await?;
        let mut snapshot = sqlx::Connection::begin(&mut *conn).await?;
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
        let mut tx = self.writer.begin().await?;
        for table in TABLES {
            let count: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(&mut *tx)
                .await?;
            if count > 0 {
                return Err(StoreError::Conflict { field: "database" });
            }
        }
        let mut written = 0;
        while let Some(batch) = source.read().await? {
            check_batch(&batch, &columns_of(&mut tx, &batch.table).await?)?;
            if batch.rows.is_empty() {
                continue;
            }
            let mut insert: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
                "INSERT INTO {} ({}) ",
                batch.table,
                batch.columns.join(", ")
            ));
            insert.push_values(&batch.rows, |mut values, row| {
                for cell in row {
                    match cell {
                        Cell::Null => values.push_bind(None::<i64>),
                        Cell::Int(n) => values.push_bind(*n),
                        Cell::Real(x) => values.push_bind(*x),
                        Cell::Text(text) => values.push_bind(text.clone()),
                        Cell::Bytes(Bytes(bytes)) => values.push_bind(bytes.clone()),
                    };
                }
            });
            written += insert.build().execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(written)
    }
}

async fn columns_of(conn: &mut SqliteConnection, table: &str) -> StoreResult<Vec<String>> {
    if !TABLES.contains(&table) {
        return Ok(Vec::new());
    }
    Ok(sqlx::query_scalar("SELECT name FROM pragma_table_info(?)")
        .bind(table)
        .fetch_all(conn)
        .await?)
}

fn cells(row: &SqliteRow) -> StoreResult<Vec<Cell>> {
    (0..row.len())
        .map(|i| {
            let raw = row.try_get_raw(i)?;
            if raw.is_null() {
                return Ok(Cell::Null);
            }
            let kind = raw.type_info().name().to_string();
            Ok(match kind.as_str() {
                "INTEGER" | "BOOLEAN" => Cell::Int(row.try_get(i)?),
                "REAL" => Cell::Real(row.try_get(i)?),
                "TEXT" => Cell::Text(row.try_get(i)?),
                "BLOB" => Cell::Bytes(Bytes(row.try_get(i)?)),
                other => {
                    return Err(StoreError::Backend(format!("unexpected value of type {other}")));
                }
            })
        })
        .collect()
}
