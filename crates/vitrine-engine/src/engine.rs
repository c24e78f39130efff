//! The engine: open datasets — Parquet files scanned where they lie, or tables of a source
//! that answers each visual's whole query — and visual queries over them, with a result cache.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{TableProvider, empty::EmptyTable};
use datafusion::common::TableReference;
use datafusion::dataframe::DataFrame;
use datafusion::datasource::file_format::csv::CsvFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::datasource::provider_as_source;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, cast, col, ident};
use datafusion::prelude::{SessionConfig, SessionContext};
use vitrine_core::token::RlsIdentity;

use crate::column_cache::{CachedParquet, ColumnCache, ColumnCacheStats};
use crate::dataset::ColumnKind;
use crate::dataset::{DataFormat, DatasetInfo};
use crate::definition::ReportDefinition;
use crate::definition::{Page, Slicer, Visual};
use crate::dictionary_groups::DictionaryGroupBy;
use crate::plans::{PLANS_KEPT, PlanCache, PlanCacheStats};
use crate::query::{
    MAX_FILTER_VALUES, MAX_FILTERS, MAX_SLICER_VALUES, QueryRequest, QueryResult, ResultColumn,
    ValueFilter, default_limit, dimension_expr, measure_expr, result_columns, sort_exprs,
    typed_literal, value_text,
};
use crate::results::{KEY_SEPARATOR, ResultCache};
use crate::{grain, json_rows, rls, storage};

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
    /// The source of a live dataset could not answer; the text names no credentials.
    #[error("the data source did not answer: {0}")]
    SourceUnavailable(String),
    /// The dataset's file went away under the query: another node replaced or deleted the
    /// data. Read the dataset's record again and ask again.
    #[error("the dataset's file is gone: {0}")]
    FileGone(String),
}

impl From<datafusion::error::DataFusionError> for EngineError {
    fn from(error: datafusion::error::DataFusionError) -> Self {
        scan_failed(error)
    }
}

fn failed(error: impl std::fmt::Display) -> EngineError {
    EngineError::Failed(error.to_string())
}

/// A scan's failure: [`EngineError::FileGone`] when, anywhere in its causes, a file was not
/// found.
fn scan_failed(error: datafusion::error::DataFusionError) -> EngineError {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(current) = cause {
        let gone = current
            .downcast_ref::<datafusion::object_store::Error>()
            .is_some_and(|e| matches!(e, datafusion::object_store::Error::NotFound { .. }))
            || current
                .downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::NotFound);
        if gone {
            return EngineError::FileGone(error.to_string());
        }
        cause = current.source();
    }
    failed(error)
}

/// Where an open dataset's rows are: a file scanned by DataFusion here, or a table of a
/// source that runs each visual's whole query itself.
#[derive(Clone)]
enum Rows {
    Local(Arc<dyn TableProvider>),
    Remote(Arc<dyn RemoteTable>),
}

/// A dataset ready for queries. Queries hold it (and so its file) while they run.
struct OpenDataset {
    rows: Rows,
    schema: SchemaRef,
    info: DatasetInfo,
    version: u64,
    _file: Option<Arc<DataFile>>,
    /// Cleared when another version replaces it or it is closed (before its plans are
    /// forgotten): a query still running on it keeps no plan.
    answering: AtomicBool,
}

impl OpenDataset {
    fn new(rows: Rows, schema: SchemaRef, info: DatasetInfo, version: u64) -> Self {
        Self { rows, schema, info, version, _file: None, answering: AtomicBool::new(true) }
    }

    fn answering(&self) -> bool {
        self.answering.load(Ordering::SeqCst)
    }

    fn stop_answering(&self) {
        self.answering.store(false, Ordering::SeqCst);
    }
}

/// Removes a dataset file Vitrine owns, once it is retired and no query reads it.
pub type Remover = Box<dyn Fn() + Send + Sync>;

/// A dataset file of Vitrine's own (or a path registered from the command line, which is
/// never removed), at a path or a URL of an object store registered with the engine
/// ([`Engine::register_object_store`]). A file replaced by a newer version is removed once no
/// query reads it.
pub struct DataFile {
    url: String,
    format: DataFormat,
    remove: Option<Remover>,
    retired: AtomicBool,
}

impl std::fmt::Debug for DataFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataFile")
            .field("url", &self.url)
            .field("format", &self.format)
            .field("owned", &self.remove.is_some())
            .finish()
    }
}

impl DataFile {
    /// A file Vitrine wrote and may remove once it is replaced.
    pub fn owned(path: PathBuf, format: DataFormat) -> Self {
        let url = path.to_string_lossy().to_string();
        let remove: Remover = Box::new(move || {
            // Another node may have removed it first: it is gone either way.
            if let Err(error) = std::fs::remove_file(&path)
                && error.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(path = %path.display(), %error, "could not remove a replaced dataset file");
            }
        });
        Self::at(url, format, Some(remove))
    }

    /// A file that belongs to someone else: read, never removed.
    pub fn registered(path: PathBuf, format: DataFormat) -> Self {
        Self::at(path.to_string_lossy().to_string(), format, None)
    }

    /// The file at `url` (a path, or a URL of a registered object store); `remove`, for a
    /// file Vitrine owns, removes it once it is replaced and unread.
    pub fn at(url: String, format: DataFormat, remove: Option<Remover>) -> Self {
        Self { url, format, remove, retired: AtomicBool::new(false) }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn retire(&self) {
        self.retired.store(true, Ordering::SeqCst);
    }
}

impl Drop for DataFile {
    fn drop(&mut self) {
        if let Some(remove) = &self.remove
            && self.retired.load(Ordering::SeqCst)
        {
            remove();
        }
    }
}

/// A table of an outside source (a database) that answers a visual's whole plan — filters,
/// row-level security, grouping, aggregates, order and limit — as one query of its own.
#[async_trait::async_trait]
pub trait RemoteTable: Send + Sync + 'static {
    /// The name the plans give the table; the source knows what it stands for.
    fn reference(&self) -> TableReference;
    /// Runs a plan over [`RemoteTable::reference`] at the source.
    async fn run(&self, plan: &LogicalPlan) -> Result<Vec<RecordBatch>, EngineError>;
    /// How long a query may take before the viewer is told the source did not answer.
    fn timeout(&self) -> Duration {
        QUERY_TIMEOUT
    }
}

pub struct Engine {
    context: SessionContext,
    /// What every query runs in: the session's configuration, functions and memory pool,
    /// made once (the session does not change after the engine is made).
    task: Arc<TaskContext>,
    open: RwLock<HashMap<String, Arc<OpenDataset>>>,
    results: Option<ResultCache>,
    plans: PlanCache,
    columns: Arc<ColumnCache>,
}

/// The column cache of an engine made without [`Engine::with_column_cache`].
pub const DEFAULT_COLUMN_CACHE_BYTES: usize = 64 * 1024 * 1024;

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
    /// need more fails with [`EngineError::Failed`] instead of growing the process. A Parquet
    /// dataset's footer is read once, when it opens, and held with it.
    pub fn with_query_memory(bytes: Option<usize>) -> Self {
        let partitions = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let mut config =
            SessionConfig::new().with_target_partitions(partitions).with_batch_size(65_536);
        // Dynamic filters are state a plan gathers while it runs, for scans that read them;
        // Vitrine's scans do not, and plans are kept and run again (`plans`).
        config.options_mut().optimizer.enable_dynamic_filter_pushdown = false;
        // Parquet datasets are scanned by `CachedParquet`, which prunes row groups by their
        // statistics and leaves filtering rows to the plan above it: filtering inside the
        // decoder measured slower for the row-level-security filters of the demo (a fifth of
        // the rows kept).
        let mut runtime = datafusion::execution::runtime_env::RuntimeEnvBuilder::new();
        if let Some(bytes) = bytes {
            runtime = runtime.with_memory_limit(bytes, 1.0);
        }
        let mut state = datafusion::execution::SessionStateBuilder::new()
            .with_config(config)
            .with_default_features()
            .with_physical_optimizer_rule(Arc::new(DictionaryGroupBy));
        if let Ok(runtime) = runtime.build_arc() {
            state = state.with_runtime_env(runtime);
        }
        let context = SessionContext::new_with_state(state.build());
        context.register_udf(grain::period_start_udf());
        let task = context.task_ctx();
        let columns = Arc::new(ColumnCache::new(DEFAULT_COLUMN_CACHE_BYTES));
        let plans = PlanCache::new(PLANS_KEPT);
        Self { context, task, open: RwLock::default(), results: None, plans, columns }
    }

    /// Keeps at most `max_bytes` of decoded Parquet column chunks for later scans (0: none).
    pub fn with_column_cache(mut self, max_bytes: usize) -> Self {
        self.columns = Arc::new(ColumnCache::new(max_bytes));
        self
    }

    /// The column cache's figures.
    pub fn column_cache_stats(&self) -> ColumnCacheStats {
        self.columns.stats()
    }

    /// Keeps query results for `window`, at most `max_bytes` of them.
    pub fn with_result_cache(mut self, window: Duration, max_bytes: u64) -> Self {
        self.results = Some(ResultCache::new(window, max_bytes));
        self
    }

    /// The result cache's figures, when there is one.
    pub fn result_cache_stats(&self) -> Option<crate::results::CacheStats> {
        self.results.as_ref().map(ResultCache::stats)
    }

    /// The plan cache's figures.
    pub fn plan_cache_stats(&self) -> PlanCacheStats {
        self.plans.stats()
    }

    /// Forgets the results and plans computed from dataset `id`.
    fn forget_results(&self, id: &str) {
        if let Some(cache) = &self.results {
            cache.forget_dataset(id);
        }
        self.plans.forget_dataset(id);
    }

    /// The columns and rows of a file, without opening it as a dataset.
    pub async fn inspect(
        &self,
        file: &Path,
        format: DataFormat,
    ) -> Result<DatasetInfo, EngineError> {
        if format == DataFormat::Parquet {
            let owned = file.to_path_buf();
            return tokio::task::spawn_blocking(move || storage::inspect_parquet(&owned))
                .await
                .map_err(failed)?;
        }
        let table = self.listing_table(&file.to_string_lossy(), format).await?;
        let schema = table.schema();
        let frame = self.context.read_table(table).map_err(failed)?;
        let rows = frame.count().await.map_err(|e| EngineError::Unreadable {
            format: format.as_str(),
            detail: e.to_string(),
        })?;
        Ok(DatasetInfo::from_schema(&schema, rows as u64))
    }

    /// Lets datasets be read from `url`'s object store (`s3://bucket/`, …): files whose URL
    /// starts with its scheme and authority are read through `store`.
    pub fn register_object_store(
        &self,
        url: &url::Url,
        store: Arc<dyn datafusion::object_store::ObjectStore>,
    ) {
        self.context.register_object_store(url, store);
    }

    async fn listing_table(
        &self,
        file: &str,
        format: DataFormat,
    ) -> Result<Arc<dyn TableProvider>, EngineError> {
        let unreadable =
            |detail: String| EngineError::Unreadable { format: format.as_str(), detail };
        let url = ListingTableUrl::parse(file).map_err(|e| unreadable(e.to_string()))?;
        let options = match format {
            // The file's own Arrow schema is read: text columns Vitrine stored as dictionaries
            // come back as dictionaries, keys only, and group by them (`dictionary_groups`).
            DataFormat::Parquet => {
                ListingOptions::new(Arc::new(ParquetFormat::default().with_skip_metadata(false)))
                    .with_file_extension_opt(None::<String>)
            }
            DataFormat::Csv => ListingOptions::new(Arc::new(
                CsvFormat::default().with_has_header(true).with_schema_infer_max_rec(10_000),
            ))
            .with_file_extension_opt(None::<String>),
        };
        let config = ListingTableConfig::new(url)
            .with_listing_options(options)
            .infer_schema(&self.context.state())
            .await
            .map_err(|e| unreadable(e.to_string()))?;
        let table = ListingTable::try_new(config).map_err(|e| unreadable(e.to_string()))?;
        Ok(Arc::new(table))
    }

    /// Opens a dataset file as version `version` of dataset `id`. A different file open
    /// before under that id is replaced: queries under way finish on it, and it is removed
    /// (when Vitrine owns it) once the last of them is done.
    pub async fn open_file(
        &self,
        id: &str,
        file: DataFile,
        version: u64,
    ) -> Result<DatasetInfo, EngineError> {
        let unreadable = |e: datafusion::error::DataFusionError| EngineError::Unreadable {
            format: file.format.as_str(),
            detail: e.to_string(),
        };
        let (table, rows): (Arc<dyn TableProvider>, u64) = match file.format {
            // Its footer, read once, counts its rows and plans every scan of it.
            DataFormat::Parquet => {
                let columns = Arc::clone(&self.columns);
                let table = CachedParquet::open(&self.context.state(), &file.url, columns)
                    .await
                    .map_err(unreadable)?;
                let rows = table.rows();
                (Arc::new(table), rows)
            }
            DataFormat::Csv => {
                let table = self.listing_table(&file.url, file.format).await?;
                let frame = self.context.read_table(Arc::clone(&table)).map_err(failed)?;
                let rows = frame.count().await.map_err(unreadable)? as u64;
                (table, rows)
            }
        };
        let schema = table.schema();
        let info = DatasetInfo::from_schema(&schema, rows);
        let open = OpenDataset {
            _file: Some(Arc::new(file)),
            ..OpenDataset::new(Rows::Local(table), schema, info, version)
        };
        Ok(self.install(id, open))
    }

    /// Opens a source's table as dataset `id`; its queries run at the source.
    pub fn open_remote(
        &self,
        id: &str,
        table: Arc<dyn RemoteTable>,
        schema: SchemaRef,
        version: u64,
    ) -> DatasetInfo {
        let info = DatasetInfo::from_schema(&schema, 0);
        self.install(id, OpenDataset::new(Rows::Remote(table), schema, info, version))
    }

    /// Makes `open` the dataset answering for `id` — unless a newer version is open already
    /// (a query that read the dataset's record before a replacement must not bring the old
    /// version back). Returns what answers now.
    fn install(&self, id: &str, open: OpenDataset) -> DatasetInfo {
        let open = Arc::new(open);
        let (answering, replaced) = {
            let mut datasets = self.open.write().unwrap_or_else(|p| p.into_inner());
            match datasets.get(id) {
                Some(current) if current.version > open.version => (Arc::clone(current), None),
                _ => (Arc::clone(&open), datasets.insert(id.to_string(), Arc::clone(&open))),
            }
        };
        if let Some(replaced) = replaced {
            replaced.stop_answering();
            self.forget_results(id);
            let new_url = answering._file.as_ref().map(|f| &f.url);
            if let Some(file) = &replaced._file
                && Some(&file.url) != new_url
            {
                file.retire();
            }
        } else if !Arc::ptr_eq(&answering, &open) {
            tracing::debug!(dataset = id, "an older version was not opened over a newer one");
        } else {
            self.forget_results(id);
        }
        answering.info.clone()
    }

    /// Closes a dataset (its file stays); returns whether it was open.
    pub fn close(&self, id: &str) -> bool {
        let removed = self.open.write().unwrap_or_else(|p| p.into_inner()).remove(id);
        if let Some(dataset) = &removed {
            dataset.stop_answering();
        }
        self.forget_results(id);
        removed.is_some()
    }

    /// Closes a dataset for good: its file (when Vitrine owns it) is removed once no query
    /// reads it. Returns whether it was open.
    pub fn retire(&self, id: &str) -> bool {
        let removed = self.open.write().unwrap_or_else(|p| p.into_inner()).remove(id);
        if let Some(dataset) = &removed {
            dataset.stop_answering();
        }
        self.forget_results(id);
        if let Some(file) = removed.as_ref().and_then(|d| d._file.as_ref()) {
            file.retire();
        }
        removed.is_some()
    }

    pub fn info(&self, id: &str) -> Option<DatasetInfo> {
        self.loaded(id).map(|d| d.info.clone())
    }

    /// The version of the data an open dataset answers from.
    pub fn version(&self, id: &str) -> Option<u64> {
        self.loaded(id).map(|d| d.version)
    }

    fn loaded(&self, id: &str) -> Option<Arc<OpenDataset>> {
        self.open.read().unwrap_or_else(|p| p.into_inner()).get(id).cloned()
    }

    /// Runs one visual of a report for one user (or lists one slicer's values): their
    /// row-level security, the requested filters, the visual's grouping and measures, bounded
    /// in rows and time. Identical queries (same data version, same visual, same filters and
    /// row-level-security predicate) within the result cache's window share one run.
    pub async fn query(
        &self,
        definition: &ReportDefinition,
        request: &QueryRequest,
        identity: &RlsIdentity,
    ) -> Result<Arc<QueryResult>, EngineError> {
        let dataset = self
            .loaded(&definition.dataset)
            .ok_or_else(|| EngineError::NotLoaded(definition.dataset.clone()))?;
        let page = definition
            .page(&request.page)
            .ok_or_else(|| EngineError::UnknownPage(request.page.clone()))?;
        let rls = rls::predicate(definition, identity, &dataset.schema)?;
        let target = match (&request.visual, &request.slicer) {
            (Some(visual), None) => {
                let visual = page
                    .visuals
                    .iter()
                    .find(|v| &v.id == visual)
                    .ok_or_else(|| EngineError::UnknownVisual(visual.clone()))?;
                let filters =
                    self.filter_predicates(definition, page, &request.filters, &dataset)?;
                Target::Visual(visual, rls.into_iter().chain(filters).collect())
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
                Target::Slicer(slicer, rls.into_iter().chain(filters).collect())
            }
            _ => return Err(EngineError::VisualOrSlicer),
        };
        let key = target.cache_key(&definition.dataset, dataset.version);
        let run = async {
            match &target {
                Target::Visual(visual, predicates) => {
                    self.run_visual(visual, &dataset, predicates.clone(), &key).await
                }
                Target::Slicer(slicer, predicates) => {
                    self.run_slicer(slicer, &dataset, predicates.clone(), &key).await
                }
            }
            .map(Arc::new)
        };
        match &self.results {
            Some(cache) => cache.get_or_run(key.clone(), run).await,
            None => run.await,
        }
    }

    /// The table a plan starts from: the file's, or a stand-in named for the source's table
    /// whose plan the source runs.
    fn frame(&self, dataset: &OpenDataset) -> Result<DataFrame, EngineError> {
        match &dataset.rows {
            Rows::Local(table) => self.context.read_table(Arc::clone(table)).map_err(failed),
            Rows::Remote(remote) => {
                let stand_in =
                    provider_as_source(Arc::new(EmptyTable::new(Arc::clone(&dataset.schema))));
                let plan = LogicalPlanBuilder::scan(remote.reference(), stand_in, None)
                    .and_then(|builder| builder.build())
                    .map_err(failed)?;
                Ok(DataFrame::new(self.context.state(), plan))
            }
        }
    }

    /// Runs the plan `frame` makes for query `key`: here (planned once, while the dataset
    /// stays the same), or as one query at the source. A source's answer is read in the
    /// plan's own types: every output is cast to them in the query it is sent.
    async fn execute(
        &self,
        frame: impl FnOnce() -> Result<DataFrame, EngineError>,
        dataset: &OpenDataset,
        limit: usize,
        key: &str,
    ) -> Result<(Vec<Vec<serde_json::Value>>, bool), EngineError> {
        let batches = match &dataset.rows {
            Rows::Local(_) => {
                let run = async {
                    let planning =
                        async { Ok::<_, EngineError>(frame()?.create_physical_plan().await?) };
                    let current = || dataset.answering();
                    let plan = self.plans.get_or_plan(key, planning, current).await?;
                    let task = Arc::clone(&self.task);
                    Ok::<_, EngineError>(datafusion::physical_plan::collect(plan, task).await?)
                };
                tokio::time::timeout(QUERY_TIMEOUT, run)
                    .await
                    .map_err(|_| EngineError::Timeout)??
            }
            Rows::Remote(remote) => {
                let frame = frame()?;
                let typed: Vec<Expr> = frame
                    .schema()
                    .fields()
                    .iter()
                    .map(|field| match field.data_type() {
                        // SQL dialects disagree on a boolean type to cast to; booleans stay as they are.
                        DataType::Boolean => col(field.name()),
                        other => cast(col(field.name()), other.clone()).alias(field.name()),
                    })
                    .collect();
                let plan = frame.select(typed).map_err(failed)?.into_unoptimized_plan();
                tokio::time::timeout(remote.timeout(), remote.run(&plan))
                    .await
                    .map_err(|_| EngineError::Timeout)??
            }
        };
        let mut rows = json_rows::rows(&batches, limit + 1).map_err(EngineError::Failed)?;
        let truncated = rows.len() > limit;
        rows.truncate(limit);
        Ok((rows, truncated))
    }

    async fn run_visual(
        &self,
        visual: &Visual,
        dataset: &OpenDataset,
        predicates: Vec<Expr>,
        key: &str,
    ) -> Result<QueryResult, EngineError> {
        let limit = default_limit(visual);
        let frame = || self.visual_frame(visual, dataset, predicates, limit);
        let (rows, truncated) = self.execute(frame, dataset, limit, key).await?;
        Ok(QueryResult { columns: result_columns(visual, &dataset.schema), rows, truncated })
    }

    /// The plan of a visual: filtered by `predicates`, grouped, aggregated, ordered, and
    /// limited to one row more than `limit` (which tells a truncated answer).
    fn visual_frame(
        &self,
        visual: &Visual,
        dataset: &OpenDataset,
        predicates: Vec<Expr>,
        limit: usize,
    ) -> Result<DataFrame, EngineError> {
        let mut frame = self.frame(dataset)?;
        if let Some(predicate) = predicates.into_iter().reduce(Expr::and) {
            frame = frame.filter(predicate).map_err(failed)?;
        }
        let at_source = matches!(dataset.rows, Rows::Remote(_));
        let group: Vec<Expr> =
            visual.dimension.iter().map(|d| dimension_expr(d, at_source).alias("d")).collect();
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
        frame = frame.limit(0, Some(limit + 1)).map_err(failed)?;
        let mut outputs = Vec::new();
        if visual.dimension.is_some() {
            outputs.push(col("d"));
        }
        outputs.extend((0..visual.measures.len()).map(|i| col(format!("m{i}"))));
        frame.select(outputs).map_err(failed)
    }

    async fn run_slicer(
        &self,
        slicer: &Slicer,
        dataset: &OpenDataset,
        predicates: Vec<Expr>,
        key: &str,
    ) -> Result<QueryResult, EngineError> {
        let frame = || {
            let mut frame = self.frame(dataset)?;
            if let Some(predicate) = predicates.into_iter().reduce(Expr::and) {
                frame = frame.filter(predicate).map_err(failed)?;
            }
            frame
                .aggregate(vec![ident(&slicer.column).alias("d")], vec![])
                .and_then(|f| f.sort(vec![col("d").sort(true, false)]))
                .and_then(|f| f.limit(0, Some(MAX_SLICER_VALUES + 1)))
                .map_err(failed)
        };
        let (rows, truncated) = self.execute(frame, dataset, MAX_SLICER_VALUES, key).await?;
        let kind = dataset
            .schema
            .field_with_name(&slicer.column)
            .map(|f| ColumnKind::of(f.data_type()))
            .unwrap_or(ColumnKind::Other);
        let label = slicer.title.clone().unwrap_or_else(|| slicer.column.clone());
        let columns = vec![ResultColumn { name: slicer.column.clone(), label, kind, grain: None }];
        Ok(QueryResult { columns, rows, truncated })
    }

    fn filter_predicates(
        &self,
        definition: &ReportDefinition,
        page: &Page,
        filters: &[ValueFilter],
        dataset: &OpenDataset,
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

/// What a query computes, resolved: a visual or a slicer, and every predicate it carries.
enum Target<'a> {
    Visual(&'a Visual, Vec<Expr>),
    Slicer(&'a Slicer, Vec<Expr>),
}

impl Target<'_> {
    /// Equal for two queries that compute the same rows from the same data: the visual as
    /// defined (not its id: a report edited since computes anew) and the predicates with their
    /// typed values, which fold the user's row-level security into what it selects.
    fn cache_key(&self, dataset: &str, version: u64) -> String {
        let (what, predicates) = match self {
            Target::Visual(visual, predicates) => {
                (serde_json::to_string(visual).unwrap_or_default(), predicates)
            }
            Target::Slicer(slicer, predicates) => (format!("slicer:{}", slicer.column), predicates),
        };
        let predicates: Vec<String> = predicates.iter().map(|p| format!("{p:?}")).collect();
        format!(
            "{dataset}{KEY_SEPARATOR}{version}{KEY_SEPARATOR}{what}{KEY_SEPARATOR}{}",
            predicates.join(&KEY_SEPARATOR.to_string())
        )
    }
}
