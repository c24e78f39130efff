//! The engine: datasets held in memory as DataFusion tables, and visual queries over them.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::logical_expr::{Expr, col, ident};
use datafusion::prelude::{CsvReadOptions, ParquetReadOptions, SessionConfig, SessionContext};
use vitrine_core::token::RlsIdentity;

use crate::dataset::ColumnKind;
use crate::dataset::{DataFormat, DatasetInfo};
use crate::definition::ReportDefinition;
use crate::definition::{Page, Slicer, Visual};
use crate::query::{
    MAX_FILTER_VALUES, MAX_FILTERS, MAX_SLICER_VALUES, QueryRequest, QueryResult, ResultColumn,
    ValueFilter, default_limit, dimension_expr, measure_expr, result_columns, sort_exprs,
    typed_literal, value_text,
};
use crate::{json_rows, rls};

/// A query that runs longer than this is cancelled.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    #[error("dataset {0} is not loaded")]
    NotLoaded(String),
    #[error("the file could not be read as {format}: {detail}")]
    Unreadable { format: &'static str, detail: String },
    #[error("no page `{0}` in this report")]
    UnknownPage(String),
    #[error("no visual `{0}` on this page")]
    UnknownVisual(String),
    #[error("no slicer on `{0}` on this page")]
    UnknownSlicer(String),
    #[error("give either `visual` or `slicer`, not both or neither")]
    VisualOrSlicer,
    #[error("`{0}` cannot be filtered on this page (only its slicers and chart dimensions)")]
    FilterNotAllowed(String),
    #[error("{0}")]
    InvalidFilter(String),
    #[error(transparent)]
    Rls(#[from] rls::RlsError),
    #[error("the query took longer than {} seconds", QUERY_TIMEOUT.as_secs())]
    Timeout,
    #[error("query failed: {0}")]
    Failed(String),
}

fn failed(error: impl std::fmt::Display) -> EngineError {
    EngineError::Failed(error.to_string())
}

struct LoadedDataset {
    table: Arc<MemTable>,
    schema: SchemaRef,
    info: DatasetInfo,
    /// What its batches hold in memory, for the organizations' memory limits.
    memory_bytes: u64,
}

pub struct Engine {
    context: SessionContext,
    datasets: RwLock<HashMap<String, Arc<LoadedDataset>>>,
    partitions: usize,
}

impl Default for Engine {
    fn default() -> Self {
        Self::new()
    }
}

impl Engine {
    /// An engine whose queries have no memory bound of their own (tests, command-line tools).
    pub fn new() -> Self {
        Self::with_query_memory(None)
    }

    /// An engine whose queries share a working-memory pool of `bytes`: a query that would
    /// need more fails with [`EngineError::Failed`] instead of growing the process.
    pub fn with_query_memory(bytes: Option<usize>) -> Self {
        let partitions = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let config = SessionConfig::new().with_target_partitions(partitions).with_batch_size(8192);
        let mut runtime = datafusion::execution::runtime_env::RuntimeEnvBuilder::new();
        if let Some(bytes) = bytes {
            runtime = runtime.with_memory_limit(bytes, 1.0);
        }
        let context = match runtime.build_arc() {
            Ok(runtime) => SessionContext::new_with_config_rt(config, runtime),
            Err(_) => SessionContext::new_with_config(config),
        };
        Self { context, datasets: RwLock::default(), partitions }
    }

    /// What a file would take in memory once loaded, read from its metadata (Parquet) or one
    /// pass over its lines (CSV), before anything is loaded: fixed-width columns take their
    /// width per row whatever their compression, other columns their uncompressed size.
    pub fn estimate_memory(&self, path: &Path, format: DataFormat) -> Result<u64, EngineError> {
        let unreadable =
            |detail: String| EngineError::Unreadable { format: format.as_str(), detail };
        let file = std::fs::File::open(path).map_err(|e| unreadable(e.to_string()))?;
        match format {
            DataFormat::Parquet => {
                let builder =
                    datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
                        .map_err(|e| unreadable(e.to_string()))?;
                let schema = Arc::clone(builder.schema());
                let metadata = builder.metadata();
                let mut bytes = 0u64;
                for group in metadata.row_groups() {
                    let rows = group.num_rows().max(0) as u64;
                    for (index, field) in schema.fields().iter().enumerate() {
                        let validity = rows.div_ceil(8);
                        bytes += validity
                            + match field.data_type().primitive_width() {
                                Some(width) => rows * width as u64,
                                None => {
                                    // Offsets plus the values as stored, uncompressed.
                                    let stored = group
                                        .columns()
                                        .get(index)
                                        .map_or(0, |c| c.uncompressed_size().max(0) as u64);
                                    rows * 8 + stored
                                }
                            };
                    }
                }
                Ok(bytes)
            }
            DataFormat::Csv => {
                use std::io::BufRead;
                let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
                let (mut rows, mut columns, mut size) = (0u64, 0u64, 0u64);
                loop {
                    let buffer = reader.fill_buf().map_err(|e| unreadable(e.to_string()))?;
                    if buffer.is_empty() {
                        break;
                    }
                    if columns == 0 {
                        let header = buffer.split(|b| *b == b'\n').next().unwrap_or_default();
                        columns = header.iter().filter(|b| **b == b',').count() as u64 + 1;
                    }
                    rows += buffer.iter().filter(|b| **b == b'\n').count() as u64;
                    size += buffer.len() as u64;
                    let consumed = buffer.len();
                    reader.consume(consumed);
                }
                // Every value as 8 bytes (numbers, dates) or as its text plus an offset.
                Ok(size + rows * columns * 12)
            }
        }
    }

    /// Reads a whole file into memory.
    pub async fn read_file(
        &self,
        path: &Path,
        format: DataFormat,
    ) -> Result<(SchemaRef, Vec<RecordBatch>), EngineError> {
        let path_text = path.to_string_lossy().to_string();
        let unreadable =
            |detail: String| EngineError::Unreadable { format: format.as_str(), detail };
        let frame = match format {
            DataFormat::Csv => {
                self.context.read_csv(&path_text, CsvReadOptions::new().has_header(true)).await
            }
            DataFormat::Parquet => {
                self.context.read_parquet(&path_text, ParquetReadOptions::default()).await
            }
        }
        .map_err(|e| unreadable(e.to_string()))?;
        let schema: SchemaRef = Arc::new(frame.schema().as_arrow().clone());
        let batches = frame.collect().await.map_err(|e| unreadable(e.to_string()))?;
        Ok((schema, batches))
    }

    /// The columns and size of a file, without keeping it.
    pub async fn inspect(
        &self,
        path: &Path,
        format: DataFormat,
    ) -> Result<DatasetInfo, EngineError> {
        let (schema, batches) = self.read_file(path, format).await?;
        let rows = batches.iter().map(|b| b.num_rows() as u64).sum();
        Ok(DatasetInfo::from_schema(&schema, rows))
    }

    /// Loads a file as dataset `id`, replacing any earlier version.
    pub async fn load(
        &self,
        id: &str,
        path: &Path,
        format: DataFormat,
    ) -> Result<DatasetInfo, EngineError> {
        let (schema, batches) = self.read_file(path, format).await?;
        self.load_batches(id, schema, batches)
    }

    /// Holds `batches` in memory as dataset `id`, spread over one partition per core.
    pub fn load_batches(
        &self,
        id: &str,
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
    ) -> Result<DatasetInfo, EngineError> {
        let rows = batches.iter().map(|b| b.num_rows() as u64).sum();
        let memory_bytes = batches.iter().map(|b| b.get_array_memory_size() as u64).sum();
        let mut partitions = vec![Vec::new(); self.partitions];
        for (index, batch) in batches.into_iter().enumerate() {
            partitions[index % self.partitions].push(batch);
        }
        let table = MemTable::try_new(Arc::clone(&schema), partitions).map_err(failed)?;
        let info = DatasetInfo::from_schema(&schema, rows);
        let loaded =
            LoadedDataset { table: Arc::new(table), schema, info: info.clone(), memory_bytes };
        self.datasets
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_string(), Arc::new(loaded));
        Ok(info)
    }

    /// The memory all loaded datasets hold.
    pub fn total_memory_bytes(&self) -> u64 {
        self.datasets
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .map(|d| d.memory_bytes)
            .sum()
    }

    /// Frees a dataset's memory; returns whether it was loaded.
    pub fn unload(&self, id: &str) -> bool {
        self.datasets.write().unwrap_or_else(|p| p.into_inner()).remove(id).is_some()
    }

    /// The memory a loaded dataset holds; `None` when it is not loaded.
    pub fn memory_bytes(&self, id: &str) -> Option<u64> {
        self.loaded(id).map(|d| d.memory_bytes)
    }

    pub fn info(&self, id: &str) -> Option<DatasetInfo> {
        self.loaded(id).map(|d| d.info.clone())
    }

    fn loaded(&self, id: &str) -> Option<Arc<LoadedDataset>> {
        self.datasets.read().unwrap_or_else(|p| p.into_inner()).get(id).cloned()
    }

    /// Runs one visual of a report for one user (or lists one slicer's values): their
    /// row-level security, the requested filters, the visual's grouping and measures, bounded
    /// in rows and time.
    pub async fn query(
        &self,
        definition: &ReportDefinition,
        request: &QueryRequest,
        identity: &RlsIdentity,
    ) -> Result<QueryResult, EngineError> {
        let dataset = self
            .loaded(&definition.dataset)
            .ok_or_else(|| EngineError::NotLoaded(definition.dataset.clone()))?;
        let page = definition
            .page(&request.page)
            .ok_or_else(|| EngineError::UnknownPage(request.page.clone()))?;
        let rls = rls::predicate(definition, identity, &dataset.schema)?;
        match (&request.visual, &request.slicer) {
            (Some(visual), None) => {
                let visual = page
                    .visuals
                    .iter()
                    .find(|v| &v.id == visual)
                    .ok_or_else(|| EngineError::UnknownVisual(visual.clone()))?;
                let filters =
                    self.filter_predicates(definition, page, &request.filters, &dataset)?;
                self.run_visual(visual, &dataset, rls.into_iter().chain(filters)).await
            }
            (None, Some(column)) => {
                let slicer = page
                    .slicers
                    .iter()
                    .find(|s| &s.column == column)
                    .ok_or_else(|| EngineError::UnknownSlicer(column.clone()))?;
                // Every filter is checked; a slicer lists its values under the others, not its own.
                self.filter_predicates(definition, page, &request.filters, &dataset)?;
                let others: Vec<_> =
                    request.filters.iter().filter(|f| &f.column != column).cloned().collect();
                let filters = self.filter_predicates(definition, page, &others, &dataset)?;
                self.run_slicer(slicer, &dataset, rls.into_iter().chain(filters)).await
            }
            _ => Err(EngineError::VisualOrSlicer),
        }
    }

    async fn run_visual(
        &self,
        visual: &Visual,
        dataset: &LoadedDataset,
        predicates: impl Iterator<Item = Expr>,
    ) -> Result<QueryResult, EngineError> {
        let mut frame = self.context.read_table(dataset.table.clone()).map_err(failed)?;
        if let Some(predicate) = predicates.reduce(Expr::and) {
            frame = frame.filter(predicate).map_err(failed)?;
        }
        let group: Vec<Expr> =
            visual.dimension.iter().map(|d| dimension_expr(d).alias("d")).collect();
        let measures: Vec<Expr> = visual
            .measures
            .iter()
            .enumerate()
            .map(|(i, m)| measure_expr(m).alias(format!("m{i}")))
            .collect();
        frame = frame.aggregate(group, measures).map_err(failed)?;
        let sort = sort_exprs(visual);
        if !sort.is_empty() {
            frame = frame.sort(sort).map_err(failed)?;
        }
        let limit = default_limit(visual);
        frame = frame.limit(0, Some(limit + 1)).map_err(failed)?;
        let mut outputs = Vec::new();
        if visual.dimension.is_some() {
            outputs.push(col("d"));
        }
        outputs.extend((0..visual.measures.len()).map(|i| col(format!("m{i}"))));
        frame = frame.select(outputs).map_err(failed)?;
        let (rows, truncated) = collect(frame, limit).await?;
        Ok(QueryResult { columns: result_columns(visual, &dataset.schema), rows, truncated })
    }

    async fn run_slicer(
        &self,
        slicer: &Slicer,
        dataset: &LoadedDataset,
        predicates: impl Iterator<Item = Expr>,
    ) -> Result<QueryResult, EngineError> {
        let mut frame = self.context.read_table(dataset.table.clone()).map_err(failed)?;
        if let Some(predicate) = predicates.reduce(Expr::and) {
            frame = frame.filter(predicate).map_err(failed)?;
        }
        frame = frame
            .aggregate(vec![ident(&slicer.column).alias("d")], vec![])
            .and_then(|f| f.sort(vec![col("d").sort(true, false)]))
            .and_then(|f| f.limit(0, Some(MAX_SLICER_VALUES + 1)))
            .map_err(failed)?;
        let (rows, truncated) = collect(frame, MAX_SLICER_VALUES).await?;
        let kind = dataset
            .schema
            .field_with_name(&slicer.column)
            .map(|f| ColumnKind::of(f.data_type()))
            .unwrap_or(ColumnKind::Other);
        let label = slicer.title.clone().unwrap_or_else(|| slicer.column.clone());
        let columns = vec![ResultColumn { name: slicer.column.clone(), label, kind }];
        Ok(QueryResult { columns, rows, truncated })
    }

    fn filter_predicates(
        &self,
        definition: &ReportDefinition,
        page: &Page,
        filters: &[ValueFilter],
        dataset: &LoadedDataset,
    ) -> Result<Vec<Expr>, EngineError> {
        if filters.len() > MAX_FILTERS {
            return Err(EngineError::InvalidFilter(format!("at most {MAX_FILTERS} filters")));
        }
        let allowed = definition.filterable_columns(page);
        let mut predicates = Vec::new();
        for filter in filters {
            if !allowed.contains(&filter.column) {
                return Err(EngineError::FilterNotAllowed(filter.column.clone()));
            }
            if filter.values.len() > MAX_FILTER_VALUES {
                return Err(EngineError::InvalidFilter(format!(
                    "at most {MAX_FILTER_VALUES} values per filter"
                )));
            }
            if filter.values.is_empty() {
                continue;
            }
            let field = dataset.schema.field_with_name(&filter.column).map_err(failed)?;
            let literals = filter
                .values
                .iter()
                .map(|value| {
                    value_text(value)
                        .and_then(|text| typed_literal(&text, field.data_type()))
                        .ok_or_else(|| {
                            EngineError::InvalidFilter(format!(
                                "{value} is not a value of column `{}`",
                                filter.column
                            ))
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            predicates.push(ident(&filter.column).in_list(literals, false));
        }
        Ok(predicates)
    }
}

/// Runs a plan within [`QUERY_TIMEOUT`]; returns at most `limit` rows and whether more existed.
async fn collect(
    frame: datafusion::dataframe::DataFrame,
    limit: usize,
) -> Result<(Vec<Vec<serde_json::Value>>, bool), EngineError> {
    let batches = tokio::time::timeout(QUERY_TIMEOUT, frame.collect())
        .await
        .map_err(|_| EngineError::Timeout)?
        .map_err(failed)?;
    let mut rows = json_rows::rows(&batches, limit + 1).map_err(EngineError::Failed)?;
    let truncated = rows.len() > limit;
    rows.truncate(limit);
    Ok((rows, truncated))
}
