//! Imported mode: a source's rows copied into a dataset file, streamed — a batch of rows
//! decoded while the previous one is written — so an import never holds the table.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::empty::EmptyTable;
use datafusion::datasource::provider_as_source;
use datafusion::logical_expr::{Expr, LogicalPlanBuilder, cast, ident};
use futures_util::TryStreamExt;
use sqlx::Executor;
use vitrine_engine::{DataFormat, DatasetInfo, storage};

use crate::connection::{Pool, Source, SourceError, SourceKind};
use crate::decode;
use crate::relation::Relation;

/// Rows decoded and written at a time.
const IMPORT_BATCH_ROWS: usize = 8_192;
/// An import may run this long at the source (visual queries keep the connection's timeout).
pub const IMPORT_TIMEOUT: Duration = Duration::from_secs(3_600);

impl Source {
    /// Copies the relation's rows, in `schema`'s columns and types, into a dataset file at
    /// `output`.
    pub async fn import(
        &self,
        relation: &Relation,
        schema: SchemaRef,
        output: &Path,
    ) -> Result<DatasetInfo, SourceError> {
        let sql = select_sql(self.kind, relation, &schema)?;
        let (sender, mut receiver) = tokio::sync::mpsc::channel::<RecordBatch>(2);
        let writer = {
            let output = output.to_path_buf();
            let schema = Arc::clone(&schema);
            tokio::task::spawn_blocking(move || {
                let batches =
                    std::iter::from_fn(move || receiver.blocking_recv().map(Ok::<_, ArrowError>));
                storage::write_batches(&output, schema, batches, DataFormat::Parquet)
            })
        };
        let read = self.stream_batches(&sql, &schema, &sender).await;
        drop(sender);
        let written = writer.await.map_err(|e| SourceError::Failed(e.to_string()))?;
        read?;
        written.map_err(|e| SourceError::Failed(e.to_string()))
    }

    async fn stream_batches(
        &self,
        sql: &str,
        schema: &SchemaRef,
        sender: &tokio::sync::mpsc::Sender<RecordBatch>,
    ) -> Result<(), SourceError> {
        let of = |e| SourceError::of(e, IMPORT_TIMEOUT);
        // The writer takes a batch while the next is read; a full channel waits.
        let send = |batch: RecordBatch| async move {
            sender
                .send(batch)
                .await
                .map_err(|_| SourceError::Failed("the dataset file could not be written".into()))
        };
        macro_rules! stream {
            ($pool:expr, $timeouts:expr) => {{
                let mut connection = $pool.acquire().await.map_err(of)?;
                // This session gets the import's longer timeout; it is closed afterwards.
                connection.close_on_drop();
                let mut timeout_set = false;
                for set in $timeouts {
                    if connection.execute(set.as_str()).await.is_ok() {
                        timeout_set = true;
                        break;
                    }
                }
                if !timeout_set {
                    tracing::warn!("an import runs under the connection's query timeout");
                }
                let mut rows = sqlx::query(sql).fetch(&mut *connection);
                let mut chunk = Vec::with_capacity(IMPORT_BATCH_ROWS);
                while let Some(row) = rows.try_next().await.map_err(of)? {
                    chunk.push(row);
                    if chunk.len() == IMPORT_BATCH_ROWS {
                        send(decode::batch(&chunk, schema)?).await?;
                        chunk.clear();
                    }
                }
                if !chunk.is_empty() {
                    send(decode::batch(&chunk, schema)?).await?;
                }
                Ok(())
            }};
        }
        let seconds = IMPORT_TIMEOUT.as_secs();
        match &self.pool {
            Pool::Postgres(pool) => {
                stream!(pool, [format!("SET statement_timeout = {}", seconds * 1000)])
            }
            // MariaDB bounds statements in seconds, MySQL in milliseconds.
            Pool::Mysql(pool) => stream!(
                pool,
                [
                    format!("SET SESSION max_statement_time = {seconds}"),
                    format!("SET SESSION max_execution_time = {}", seconds * 1000),
                ]
            ),
        }
    }
}

/// `SELECT` of every column of `schema`, each cast to its dataset type, written by the unparser.
fn select_sql(
    kind: SourceKind,
    relation: &Relation,
    schema: &SchemaRef,
) -> Result<String, SourceError> {
    let stand_in = provider_as_source(Arc::new(EmptyTable::new(Arc::clone(schema))));
    let columns: Vec<Expr> = schema
        .fields()
        .iter()
        .map(|field| match field.data_type() {
            datafusion::arrow::datatypes::DataType::Boolean => ident(field.name()),
            other => cast(ident(field.name()), other.clone()).alias(field.name()),
        })
        .collect();
    let plan = LogicalPlanBuilder::scan(relation.reference(), stand_in, None)
        .and_then(|builder| builder.project(columns))
        .and_then(|builder| builder.build())
        .map_err(|e| SourceError::Failed(e.to_string()))?;
    crate::table::to_sql(kind, relation, &plan)
}
