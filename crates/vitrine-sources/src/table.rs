//! A source's table in direct mode: the engine hands it a visual's whole plan, and it sends
//! that plan to the source as one SQL query written by DataFusion's unparser — filters,
//! row-level security, grouping, aggregates, order and limit included — and reads back only
//! the answer's rows.

use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::TableReference;
use datafusion::logical_expr::LogicalPlan;
use datafusion::sql::unparser::Unparser;
use datafusion::sql::unparser::dialect::PostgreSqlDialect;
use futures_util::{StreamExt, TryStreamExt};
use vitrine_engine::{EngineError, RemoteTable};

use crate::connection::{Pool, Source, SourceError, SourceKind};
use crate::relation::Relation;
use crate::{decode, dialect};

/// The most rows a direct query may answer: visuals ask for at most 10,001.
const MAX_ANSWER_ROWS: usize = 20_000;

pub struct SourceTable {
    source: Arc<Source>,
    relation: Relation,
}

impl SourceTable {
    pub fn new(source: Arc<Source>, relation: Relation) -> Self {
        Self { source, relation }
    }

    /// The SQL a plan over this table becomes at its source.
    pub fn sql(&self, plan: &LogicalPlan) -> Result<String, SourceError> {
        to_sql(self.source.kind, &self.relation, plan)
    }
}

/// A plan over `relation` as one statement in `kind`'s SQL.
pub(crate) fn to_sql(
    kind: SourceKind,
    relation: &Relation,
    plan: &LogicalPlan,
) -> Result<String, SourceError> {
    let statement = match kind {
        SourceKind::Postgres => Unparser::new(&PostgreSqlDialect {}).plan_to_sql(plan),
        SourceKind::Mysql => Unparser::new(&dialect::MySql::new()).plan_to_sql(plan),
    }
    .map_err(|e| {
        SourceError::Failed(format!("the query could not be written for the source: {e}"))
    })?;
    Ok(format!("{}{statement}", relation.prefix().unwrap_or_default()))
}

fn unavailable(error: SourceError) -> EngineError {
    EngineError::SourceUnavailable(error.to_string())
}

#[async_trait::async_trait]
impl RemoteTable for SourceTable {
    fn reference(&self) -> TableReference {
        self.relation.reference()
    }

    fn timeout(&self) -> Duration {
        // The source stops the query at its own timeout; this one covers a source that hangs.
        self.source.timeout + Duration::from_secs(2)
    }

    async fn run(&self, plan: &LogicalPlan) -> Result<Vec<RecordBatch>, EngineError> {
        let sql = self.sql(plan).map_err(unavailable)?;
        let schema = Arc::new(plan.schema().as_arrow().clone());
        tracing::debug!(kind = self.source.kind.as_str(), %sql, "query sent to a source");
        let timeout = self.source.timeout;
        let batch = match &self.source.pool {
            Pool::Postgres(pool) => {
                let rows: Vec<_> = sqlx::query(&sql)
                    .fetch(pool)
                    .take(MAX_ANSWER_ROWS + 1)
                    .try_collect()
                    .await
                    .map_err(|e| unavailable(SourceError::of(e, timeout)))?;
                check_size(rows.len())?;
                decode::batch(&rows, &schema)
            }
            Pool::Mysql(pool) => {
                let rows: Vec<_> = sqlx::query(&sql)
                    .fetch(pool)
                    .take(MAX_ANSWER_ROWS + 1)
                    .try_collect()
                    .await
                    .map_err(|e| unavailable(SourceError::of(e, timeout)))?;
                check_size(rows.len())?;
                decode::batch(&rows, &schema)
            }
        }
        .map_err(unavailable)?;
        Ok(vec![batch])
    }
}

fn check_size(rows: usize) -> Result<(), EngineError> {
    if rows > MAX_ANSWER_ROWS {
        return Err(EngineError::Failed(format!(
            "the source answered {rows} rows where at most {MAX_ANSWER_ROWS} were asked for"
        )));
    }
    Ok(())
}
