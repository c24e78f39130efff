//! Parquet datasets scanned a row group at a time, with their hot column chunks kept decoded.
//!
//! A wallboard asks the same visuals of the same dataset again and again, and decoding the
//! same Parquet pages every time is most of what such a visual costs. The engine keeps column
//! chunks — one column of one row group, as the Arrow arrays the Parquet reader produced — in
//! a [`ColumnCache`] bounded in bytes (taken from the server's memory budget). A scan takes
//! what the cache holds and decodes only the rest, which it offers to the cache.
//!
//! Chunks are held compactly (see `compact`). When the cache is full, a chunk decoded by a
//! scan takes the place of chunks only if they are worth less per byte held — asked for less
//! often, or saving less decoding for their size (each chunk's reads are counted, and the
//! counts halve now and then so that the cache follows a change of what is shown) — and no
//! scan has read them since this one began. A dataset larger than the cache, or a report whose visuals together
//! read more than it holds, so keeps a stable part decoded — the columns most visuals read
//! first — instead of each pass evicting what the next one needs (which a plain
//! least-recently-used cache does on every repeated scan larger than itself).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use datafusion::arrow::array::UInt64Array;
use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch, RecordBatchOptions};
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::pruning::PruningStatistics;
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{
    Column, DFSchema, Result, ScalarValue, Statistics, internal_datafusion_err,
};
use datafusion::datasource::TableType;
use datafusion::datasource::listing::ListingTableUrl;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::ParquetFileReaderFactory;
use datafusion::datasource::physical_plan::parquet::DefaultParquetFileReaderFactory;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::object_store::{ObjectStore, ObjectStoreExt};
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::arrow_reader::statistics::StatisticsConverter;
use datafusion::parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use datafusion::parquet::arrow::async_reader::{
    AsyncFileReader, ParquetRecordBatchStream, ParquetRecordBatchStreamBuilder,
};
use datafusion::parquet::file::metadata::ParquetMetaData;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_optimizer::pruning::PruningPredicateBuilder;
use datafusion::physical_plan::execution_plan::{
    Boundedness, ChildrenPropertiesMode, EmissionType, ReplaceChildrenOptions,
};
use datafusion::physical_plan::metrics::{ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;

use crate::compact::Compact;

/// Decoded column chunks, at most `max_bytes` of them.
pub struct ColumnCache {
    max_bytes: usize,
    state: Mutex<State>,
    /// Numbers scans in the order they begin.
    scans: AtomicU64,
    /// Numbers the files read through the cache.
    files: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// What the column cache holds and has served, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnCacheStats {
    /// Column chunks found decoded.
    pub hits: u64,
    /// Column chunks that had to be decoded.
    pub misses: u64,
    pub chunks: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct ChunkKey {
    file: u64,
    row_group: usize,
    column: usize,
}

/// When a chunk was last read: by which scan, and the cache's count of reads then.
type LastRead = (u64, u64);

#[derive(Default)]
struct State {
    chunks: HashMap<ChunkKey, Chunk>,
    /// Every chunk, from the least to the most recently read.
    by_last_read: BTreeMap<LastRead, ChunkKey>,
    bytes: usize,
    reads: u64,
    /// How often each chunk was asked for lately, held or not.
    wanted: HashMap<ChunkKey, u32>,
    /// Requests since the counts last halved.
    since_halving: usize,
}

/// The counts halve after this many requests per chunk counted, on average.
const REQUESTS_PER_HALVING: usize = 4;

struct Chunk {
    /// The column's arrays, one per batch of the row group, held compactly.
    arrays: Arc<Compact>,
    bytes: usize,
    /// The bytes it took as read, which reading it from the file again would make.
    read_bytes: usize,
    last_read: LastRead,
}

impl State {
    /// Counts a request for `key`.
    fn want(&mut self, key: ChunkKey) {
        *self.wanted.entry(key).or_default() += 1;
        self.since_halving += 1;
        if self.since_halving >= REQUESTS_PER_HALVING * self.wanted.len().max(64) {
            self.since_halving = 0;
            self.wanted.retain(|_, count| {
                *count /= 2;
                *count > 0
            });
        }
    }

    fn wanted(&self, key: &ChunkKey) -> u32 {
        self.wanted.get(key).copied().unwrap_or(0)
    }

    fn touch(&mut self, key: ChunkKey, scan: u64) -> Option<Arc<Compact>> {
        self.want(key);
        self.reads += 1;
        let reads = self.reads;
        let chunk = self.chunks.get_mut(&key)?;
        self.by_last_read.remove(&chunk.last_read);
        chunk.last_read = (chunk.last_read.0.max(scan), reads);
        self.by_last_read.insert(chunk.last_read, key);
        Some(Arc::clone(&chunk.arrays))
    }

    fn remove(&mut self, key: &ChunkKey) {
        if let Some(chunk) = self.chunks.remove(key) {
            self.by_last_read.remove(&chunk.last_read);
            self.bytes -= chunk.bytes;
        }
    }

    /// What holding a chunk is worth per byte: how often it is asked for, times the bytes
    /// of decoding each ask saves, over the bytes it takes.
    fn worth(&self, key: &ChunkKey, read_bytes: usize, bytes: usize) -> (u128, u128) {
        (u128::from(self.wanted(key)) * read_bytes as u128, bytes.max(1) as u128)
    }

    /// The chunks to drop to hold `offered` (`bytes` held, `read_bytes` as read) for `key`,
    /// from scan `scan`: chunks worth less per byte than it (asked for less often, or saving
    /// less decoding for their size) and not read by `scan` or a later one, least recently
    /// read first. None when there are not enough of them.
    fn victims(
        &self,
        key: &ChunkKey,
        (bytes, read_bytes): (usize, usize),
        max_bytes: usize,
        scan: u64,
    ) -> Option<Vec<ChunkKey>> {
        let held = self.chunks.get(key).map_or(0, |chunk| chunk.bytes);
        let mut room = (max_bytes + held).saturating_sub(self.bytes);
        let (worth, per) = self.worth(key, read_bytes, bytes);
        let mut victims = Vec::new();
        for (&(scan_read, _), victim) in &self.by_last_read {
            if room >= bytes || scan_read >= scan {
                break;
            }
            let chunk = &self.chunks[victim];
            let (victim_worth, victim_per) = self.worth(victim, chunk.read_bytes, chunk.bytes);
            if victim != key && victim_worth * per < worth * victim_per {
                room += chunk.bytes;
                victims.push(*victim);
            }
        }
        (room >= bytes).then_some(victims)
    }
}

impl ColumnCache {
    /// A cache of at most `max_bytes` of decoded chunks; 0 keeps none.
    pub fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            state: Mutex::default(),
            scans: AtomicU64::new(0),
            files: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    pub fn stats(&self) -> ColumnCacheStats {
        let state = self.lock();
        ColumnCacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            chunks: state.chunks.len() as u64,
            bytes: state.bytes as u64,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn begin_scan(&self) -> u64 {
        self.scans.fetch_add(1, Ordering::Relaxed) + 1
    }

    fn new_file(&self) -> u64 {
        self.files.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The chunks of `keys` the cache holds, for scan `scan`, each counted as asked for.
    fn lookup(&self, keys: &[ChunkKey], scan: u64) -> Vec<Option<Arc<Compact>>> {
        if self.max_bytes == 0 {
            return vec![None; keys.len()];
        }
        let mut state = self.lock();
        keys.iter().map(|&key| state.touch(key, scan)).collect()
    }

    /// Counts chunks a scan found decoded and chunks it decoded.
    fn count(&self, hits: usize, misses: usize) {
        self.hits.fetch_add(hits as u64, Ordering::Relaxed);
        self.misses.fetch_add(misses as u64, Ordering::Relaxed);
    }

    #[cfg(test)]
    fn get(&self, key: ChunkKey, scan: u64) -> Option<Arc<Compact>> {
        let found = self.lookup(&[key], scan).pop().flatten();
        self.count(usize::from(found.is_some()), usize::from(found.is_none()));
        found
    }

    /// Whether the cache could take a chunk of `read_bytes` as read for `key` from scan
    /// `scan`, however small compacting made it: a check made before the work of compacting
    /// a chunk the cache would refuse anyway.
    fn may_take(&self, key: &ChunkKey, read_bytes: usize, scan: u64) -> bool {
        // Compacting divides a chunk's size by at most 64 (64-bit integers in 1 bit).
        let smallest = (read_bytes / 64, read_bytes);
        smallest.0 <= self.max_bytes
            && self.lock().victims(key, smallest, self.max_bytes, scan).is_some()
    }

    /// Offers a chunk scan `scan` decoded; returns whether the cache took it. It only makes
    /// room by dropping chunks worth less per byte that `scan` has not read; if there is not
    /// enough of them, the cache keeps what it has.
    fn offer(&self, key: ChunkKey, arrays: Arc<Compact>, scan: u64) -> bool {
        let (bytes, read_bytes) = (arrays.bytes(), arrays.read_bytes());
        if bytes > self.max_bytes {
            return false;
        }
        let mut state = self.lock();
        let Some(victims) = state.victims(&key, (bytes, read_bytes), self.max_bytes, scan) else {
            return false;
        };
        state.remove(&key);
        for victim in &victims {
            state.remove(victim);
        }
        state.reads += 1;
        let last_read = (scan, state.reads);
        state.by_last_read.insert(last_read, key);
        state.chunks.insert(key, Chunk { arrays, bytes, read_bytes, last_read });
        state.bytes += bytes;
        true
    }

    /// Drops every chunk of `file`.
    fn forget_file(&self, file: u64) {
        let mut state = self.lock();
        let keys: Vec<ChunkKey> = state.chunks.keys().filter(|k| k.file == file).copied().collect();
        for key in keys {
            state.remove(&key);
        }
        state.wanted.retain(|key, _| key.file != file);
    }
}

/// One Parquet file read through the cache; its chunks leave the cache with it.
struct CachedFile {
    id: u64,
    store: ObjectStoreUrl,
    /// Where the file is in its store, and its size.
    location: PartitionedFile,
    metadata: ArrowReaderMetadata,
    cache: Arc<ColumnCache>,
}

impl Drop for CachedFile {
    fn drop(&mut self) {
        self.cache.forget_file(self.id);
    }
}

impl CachedFile {
    fn parquet(&self) -> &ParquetMetaData {
        self.metadata.metadata()
    }

    fn schema(&self) -> &SchemaRef {
        self.metadata.schema()
    }

    /// The nulls of `column` in `row_groups`, when every one of them counts its own.
    fn null_count(&self, column: usize, row_groups: &[usize]) -> Precision<usize> {
        let parquet = self.parquet();
        let name = self.schema().field(column).name();
        let counts = StatisticsConverter::try_new(
            name,
            self.schema(),
            parquet.file_metadata().schema_descr(),
        )
        .and_then(|c| c.row_group_null_counts(row_groups.iter().map(|&g| parquet.row_group(g))));
        match counts {
            Ok(counts) if counts.null_count() == 0 => {
                let nulls: u64 = counts.values().iter().sum();
                usize::try_from(nulls).map_or(Precision::Absent, Precision::Exact)
            }
            _ => Precision::Absent,
        }
    }

    fn reader(
        &self,
        store: Arc<dyn ObjectStore>,
        partition: usize,
        metrics: &ExecutionPlanMetricsSet,
    ) -> Result<Box<dyn AsyncFileReader>> {
        file_reader(store, &self.location, partition, metrics)
    }

    /// The row groups a conjunction of `filters` may keep, by their statistics.
    fn row_groups_kept(&self, state: &dyn Session, filters: &[Expr]) -> Vec<usize> {
        let all = 0..self.parquet().num_row_groups();
        let Some(predicate) = conjunction(filters.iter().cloned()) else { return all.collect() };
        let keep = DFSchema::try_from(self.schema().as_ref().clone())
            .and_then(|schema| state.create_physical_expr(predicate, &schema))
            .and_then(|expr| {
                PruningPredicateBuilder::new()
                    .with_file_schema(Arc::clone(self.schema()))
                    .try_build(expr)
            })
            .and_then(|pruning| {
                pruning
                    .prune(&RowGroupStatistics { metadata: self.parquet(), schema: self.schema() })
            });
        match keep {
            Ok(keep) => all.filter(|&group| keep[group]).collect(),
            // Statistics that cannot answer prune nothing: the filter above the scan decides.
            Err(_) => all.collect(),
        }
    }
}

/// A reader of `file`, as DataFusion's own Parquet scans make them.
fn file_reader(
    store: Arc<dyn ObjectStore>,
    file: &PartitionedFile,
    partition: usize,
    metrics: &ExecutionPlanMetricsSet,
) -> Result<Box<dyn AsyncFileReader>> {
    let factory = DefaultParquetFileReaderFactory::new(store);
    Ok(factory.create_reader(partition, file.clone(), None, metrics)?)
}

/// A dataset's Parquet file as a table whose scans go through the engine's column cache.
pub struct CachedParquet {
    file: Arc<CachedFile>,
}

impl fmt::Debug for CachedParquet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedParquet").field("path", &self.file.location.path()).finish()
    }
}

impl CachedParquet {
    /// Reads the footer of the Parquet file at `url` (a path, or a URL of an object store
    /// registered with `session`'s runtime). Text columns the file's Arrow schema records as
    /// dictionaries are read as dictionaries.
    pub async fn open(session: &dyn Session, url: &str, cache: Arc<ColumnCache>) -> Result<Self> {
        let url = ListingTableUrl::parse(url)?;
        let store_url = url.object_store();
        let store = session.runtime_env().object_store(&store_url)?;
        let location = PartitionedFile::new_from_meta(store.head(url.prefix()).await?);
        let mut reader = file_reader(store, &location, 0, &ExecutionPlanMetricsSet::new())?;
        let metadata =
            ArrowReaderMetadata::load_async(&mut reader, ArrowReaderOptions::new()).await?;
        let id = cache.new_file();
        Ok(Self { file: Arc::new(CachedFile { id, store: store_url, location, metadata, cache }) })
    }

    /// The rows the file's footer counts.
    pub fn rows(&self) -> u64 {
        u64::try_from(self.file.parquet().file_metadata().num_rows()).unwrap_or(0)
    }
}

#[async_trait::async_trait]
impl TableProvider for CachedParquet {
    fn schema(&self) -> SchemaRef {
        Arc::clone(self.file.schema())
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let columns = self.file.schema().fields().len();
        let projection = projection.cloned().unwrap_or_else(|| (0..columns).collect());
        let kept = self.file.row_groups_kept(state, filters);
        let partitions = state.config().target_partitions().clamp(1, kept.len().max(1));
        let mut groups = vec![Vec::new(); partitions];
        for (index, group) in kept.into_iter().enumerate() {
            groups[index % partitions].push(group);
        }
        Ok(Arc::new(CachedParquetExec::new(Arc::clone(&self.file), projection, groups)?))
    }

    /// Filters prune row groups by their statistics; DataFusion still applies them to rows.
    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }
}

/// Row groups' statistics, as DataFusion's pruning asks for them.
struct RowGroupStatistics<'a> {
    metadata: &'a ParquetMetaData,
    schema: &'a Schema,
}

impl RowGroupStatistics<'_> {
    fn converter(&self, column: &Column) -> Option<StatisticsConverter<'_>> {
        let parquet = self.metadata.file_metadata().schema_descr();
        StatisticsConverter::try_new(column.name(), self.schema, parquet).ok()
    }
}

impl PruningStatistics for RowGroupStatistics<'_> {
    fn min_values(&self, column: &Column) -> Option<ArrayRef> {
        self.converter(column)?.row_group_mins(self.metadata.row_groups().iter()).ok()
    }

    fn max_values(&self, column: &Column) -> Option<ArrayRef> {
        self.converter(column)?.row_group_maxes(self.metadata.row_groups().iter()).ok()
    }

    fn num_containers(&self) -> usize {
        self.metadata.num_row_groups()
    }

    fn null_counts(&self, column: &Column) -> Option<ArrayRef> {
        let counts = self
            .converter(column)?
            .row_group_null_counts(self.metadata.row_groups().iter())
            .ok()?;
        Some(Arc::new(counts))
    }

    fn row_counts(&self) -> Option<ArrayRef> {
        let rows = self.metadata.row_groups().iter().map(|g| u64::try_from(g.num_rows()).ok());
        Some(Arc::new(rows.collect::<UInt64Array>()))
    }

    fn contained(&self, _: &Column, _: &HashSet<ScalarValue>) -> Option<BooleanArray> {
        None
    }
}

/// Scans row groups of a [`CachedParquet`] file, spread over partitions.
struct CachedParquetExec {
    file: Arc<CachedFile>,
    /// The file's columns the scan returns, in order.
    projection: Vec<usize>,
    schema: SchemaRef,
    /// The row groups each partition reads.
    partitions: Vec<Vec<usize>>,
    properties: Arc<PlanProperties>,
    /// The cache's number for this scan, taken when it first runs.
    scan: OnceLock<u64>,
    metrics: ExecutionPlanMetricsSet,
}

impl fmt::Debug for CachedParquetExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedParquetExec")
            .field("projection", &self.projection)
            .field("partitions", &self.partitions)
            .finish()
    }
}

impl CachedParquetExec {
    fn new(
        file: Arc<CachedFile>,
        projection: Vec<usize>,
        partitions: Vec<Vec<usize>>,
    ) -> Result<Self> {
        let schema = Arc::new(file.schema().project(&projection)?);
        let properties = PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            Partitioning::UnknownPartitioning(partitions.len()),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Ok(Self {
            file,
            projection,
            schema,
            partitions,
            properties: Arc::new(properties),
            scan: OnceLock::new(),
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }

    /// The row groups this scan reads, of one partition or of all.
    fn row_groups(&self, partition: Option<usize>) -> Vec<usize> {
        match partition {
            Some(partition) => self.partitions.get(partition).cloned().unwrap_or_default(),
            None => self.partitions.concat(),
        }
    }
}

impl DisplayAs for CachedParquetExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let groups: usize = self.partitions.iter().map(Vec::len).sum();
        write!(f, "CachedParquetExec: row_groups={groups}, projection={:?}", self.projection)
    }
}

impl ExecutionPlan for CachedParquetExec {
    fn name(&self) -> &str {
        "CachedParquetExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        Vec::new()
    }

    fn apply_expressions(
        &self,
        _: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn replace_children(
        self: Arc<Self>,
        _: Vec<Arc<dyn ExecutionPlan>>,
        _: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(
            children,
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
        )
    }

    /// The same scan, to run again as a new one: the cache counts it as another scan and
    /// its metrics start from nothing.
    fn reset_state(self: Arc<Self>) -> Result<Arc<dyn ExecutionPlan>> {
        let (file, projection) = (Arc::clone(&self.file), self.projection.clone());
        Ok(Arc::new(Self::new(file, projection, self.partitions.clone())?))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let store = context.runtime_env().object_store(&self.file.store)?;
        let read = Arc::new(RowGroupRead {
            file: Arc::clone(&self.file),
            store,
            partition,
            metrics: self.metrics.clone(),
            projection: self.projection.clone(),
            schema: Arc::clone(&self.schema),
            batch_size: context.session_config().batch_size(),
            scan: *self.scan.get_or_init(|| self.file.cache.begin_scan()),
        });
        let batches = futures_util::stream::iter(self.row_groups(Some(partition)))
            .flat_map(move |group| read.row_group(group));
        Ok(Box::pin(RecordBatchStreamAdapter::new(Arc::clone(&self.schema), batches)))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    /// The scan returns every row of its row groups (filters apply above it), so their
    /// footer's row and null counts are exact: a count of all rows reads no data.
    fn partition_statistics(&self, partition: Option<usize>) -> Result<Arc<Statistics>> {
        let groups = self.row_groups(partition);
        let parquet = self.file.parquet();
        let rows: usize = groups
            .iter()
            .map(|&group| usize::try_from(parquet.row_group(group).num_rows()).unwrap_or(0))
            .sum();
        let mut statistics =
            Statistics::new_unknown(&self.schema).with_num_rows(Precision::Exact(rows));
        for (column, statistic) in self.projection.iter().zip(&mut statistics.column_statistics) {
            statistic.null_count = self.file.null_count(*column, &groups);
        }
        Ok(Arc::new(statistics))
    }
}

/// What a partition of a scan needs to read its row groups.
struct RowGroupRead {
    file: Arc<CachedFile>,
    store: Arc<dyn ObjectStore>,
    partition: usize,
    metrics: ExecutionPlanMetricsSet,
    projection: Vec<usize>,
    schema: SchemaRef,
    batch_size: usize,
    scan: u64,
}

impl RowGroupRead {
    fn key(&self, row_group: usize, column: usize) -> ChunkKey {
        ChunkKey { file: self.file.id, row_group, column }
    }

    /// The rows of each batch the reader cuts `row_group` into.
    fn batch_lengths(&self, row_group: usize) -> Vec<usize> {
        let rows =
            usize::try_from(self.file.parquet().row_group(row_group).num_rows()).unwrap_or(0);
        let size = self.batch_size.max(1);
        let mut lengths = vec![size; rows / size];
        if rows % size > 0 {
            lengths.push(rows % size);
        }
        lengths
    }

    /// A row group's projected columns, a batch at a time: columns the cache holds are
    /// widened from it, the rest are decoded from the file as the batches are asked for (so
    /// that each is used while it is still in the processor's cache) and offered to the
    /// cache once the row group is read.
    fn row_group(self: &Arc<Self>, row_group: usize) -> BoxStream<'static, Result<RecordBatch>> {
        let lengths = self.batch_lengths(row_group);
        if self.projection.is_empty() {
            let batches = lengths.into_iter().map(|rows| {
                let options = RecordBatchOptions::new().with_row_count(Some(rows));
                Ok(RecordBatch::try_new_with_options(
                    Arc::clone(&self.schema),
                    Vec::new(),
                    &options,
                )?)
            });
            return futures_util::stream::iter(batches.collect::<Vec<_>>()).boxed();
        }
        let cache = &self.file.cache;
        let keys: Vec<ChunkKey> =
            self.projection.iter().map(|&column| self.key(row_group, column)).collect();
        // A chunk cut into other batches (by a session with another batch size) is decoded
        // again, as if the cache did not hold it.
        let held: Vec<Option<Arc<Compact>>> = cache
            .lookup(&keys, self.scan)
            .into_iter()
            .map(|found| found.filter(|chunk| chunk.lengths().eq(lengths.iter().copied())))
            .collect();
        let mut missing: Vec<usize> = self
            .projection
            .iter()
            .zip(&held)
            .filter(|(_, found)| found.is_none())
            .map(|(&column, _)| column)
            .collect();
        missing.sort_unstable();
        missing.dedup();
        cache.count(held.iter().flatten().count(), missing.len());
        let read = Arc::clone(self);
        if missing.is_empty() {
            let batches = (0..lengths.len()).map(move |index| read.assemble(index, &held, None));
            return futures_util::stream::iter(batches).boxed();
        }
        let decoding = match self.decode(row_group, &missing) {
            Ok(decoding) => decoding,
            Err(error) => return futures_util::stream::once(async { Err(error) }).boxed(),
        };
        let decoded = vec![Vec::with_capacity(lengths.len()); missing.len()];
        let stream = Some(decoding);
        let keep = Vec::new();
        let state = Decoding { read, row_group, held, missing, stream, decoded, keep, index: 0 };
        futures_util::stream::unfold(state, Decoding::next).boxed()
    }

    /// Batch `index` of the projection: held columns widened, the rest from `decoded`, a
    /// batch of the `missing` columns in the order of the file.
    fn assemble(
        &self,
        index: usize,
        held: &[Option<Arc<Compact>>],
        decoded: Option<(&RecordBatch, &[usize])>,
    ) -> Result<RecordBatch> {
        let columns = self
            .projection
            .iter()
            .zip(held)
            .map(|(column, found)| match (found, decoded) {
                (Some(chunk), _) => Ok(chunk.batch(index)?),
                (None, Some((batch, missing))) => missing
                    .binary_search(column)
                    .map(|at| Arc::clone(batch.column(at)))
                    .map_err(|_| internal_datafusion_err!("column {column} was not decoded")),
                (None, None) => Err(internal_datafusion_err!("column {column} was not decoded")),
            })
            .collect::<Result<Vec<ArrayRef>>>()?;
        Ok(RecordBatch::try_new(Arc::clone(&self.schema), columns)?)
    }

    /// A stream of `columns` (the file's indices, ascending) of one row group.
    fn decode(&self, row_group: usize, columns: &[usize]) -> Result<DecodeStream> {
        let reader = self.file.reader(Arc::clone(&self.store), self.partition, &self.metrics)?;
        let mask = ProjectionMask::roots(
            self.file.parquet().file_metadata().schema_descr(),
            columns.iter().copied(),
        );
        Ok(ParquetRecordBatchStreamBuilder::new_with_metadata(reader, self.file.metadata.clone())
            .with_row_groups(vec![row_group])
            .with_projection(mask)
            .with_batch_size(self.batch_size)
            .build()?)
    }

    /// Offers the chunks a scan decoded (each column with its batches' arrays) to the
    /// cache, compacted, unless the cache would refuse them at any size.
    fn offer<'a>(
        &self,
        row_group: usize,
        decoded: impl Iterator<Item = (&'a usize, Vec<ArrayRef>)>,
    ) {
        let cache = &self.file.cache;
        for (&column, arrays) in decoded {
            let key = self.key(row_group, column);
            let read_bytes: usize = arrays.iter().map(|a| a.get_array_memory_size()).sum();
            if cache.may_take(&key, read_bytes, self.scan) {
                cache.offer(key, Arc::new(Compact::new(arrays)), self.scan);
            }
        }
    }
}

/// Whether each chunk, of which a scan has decoded the first array of `rows`, may be worth
/// keeping for the cache: one the cache would refuse at any size, at the first array's bytes
/// a row, is not, and is dropped batch by batch instead of held to the row group's end.
fn worth_keeping<'a>(
    cache: &ColumnCache,
    chunks: impl Iterator<Item = (ChunkKey, &'a ArrayRef)>,
    rows: usize,
    scan: u64,
) -> Vec<bool> {
    chunks
        .map(|(key, first)| {
            let share = rows as f64 / first.len().max(1) as f64;
            // A chunk's bytes are far below 2^52: exact enough as a float.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let estimate = (first.get_array_memory_size() as f64 * share) as usize;
            cache.may_take(&key, estimate, scan)
        })
        .collect()
}

type DecodeStream = ParquetRecordBatchStream<Box<dyn AsyncFileReader>>;

/// A row group being read: some columns held by the cache, the `missing` ones decoded.
struct Decoding {
    read: Arc<RowGroupRead>,
    row_group: usize,
    held: Vec<Option<Arc<Compact>>>,
    missing: Vec<usize>,
    /// The decoder, until it has given every batch or failed.
    stream: Option<DecodeStream>,
    /// The arrays decoded so far, one list per missing column (empty for one not kept).
    decoded: Vec<Vec<ArrayRef>>,
    /// Whether each missing column is kept to be offered to the cache, decided at the first
    /// batch (empty until then): a chunk the cache would refuse at any size is dropped batch
    /// by batch.
    keep: Vec<bool>,
    /// The next batch's number.
    index: usize,
}

impl Decoding {
    async fn next(mut self) -> Option<(Result<RecordBatch>, Self)> {
        let stream = self.stream.as_mut()?;
        match stream.next().await {
            Some(Ok(batch)) => {
                if self.index == 0 {
                    let (read, row_group) = (&self.read, self.row_group);
                    let rows = read.batch_lengths(row_group).iter().sum();
                    let keys = self.missing.iter().map(|&column| read.key(row_group, column));
                    let chunks = keys.zip(batch.columns());
                    self.keep = worth_keeping(&read.file.cache, chunks, rows, read.scan);
                }
                let columns = self.decoded.iter_mut().zip(batch.columns()).zip(&self.keep);
                for ((arrays, array), _) in columns.filter(|(_, keep)| **keep) {
                    arrays.push(Arc::clone(array));
                }
                let assembled =
                    self.read.assemble(self.index, &self.held, Some((&batch, &self.missing)));
                self.index += 1;
                Some((assembled, self))
            }
            Some(Err(error)) => {
                self.stream = None;
                Some((Err(error.into()), self))
            }
            None => {
                self.stream = None;
                let decoded = std::mem::take(&mut self.decoded);
                let kept = self.missing.iter().zip(decoded).zip(&self.keep);
                let kept = kept.filter(|(_, keep)| **keep).map(|(chunk, _)| chunk);
                self.read.offer(self.row_group, kept);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Float64Array, Int64Array, StringArray};
    use datafusion::arrow::compute::cast;
    use datafusion::arrow::datatypes::{DataType, Field};
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::parquet::arrow::ArrowWriter;
    use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};
    use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};

    fn chunk(values: usize) -> Arc<Compact> {
        let array: ArrayRef = Arc::new(Int64Array::from(vec![1i64; values]));
        Arc::new(Compact::new(vec![array]))
    }

    fn key(row_group: usize) -> ChunkKey {
        ChunkKey { file: 1, row_group, column: 0 }
    }

    /// A cache with room for `chunks` chunks of `chunk(1000)`.
    fn cache_for(chunks: usize) -> ColumnCache {
        ColumnCache::new(chunk(1000).bytes() * chunks)
    }

    #[test]
    fn a_chunk_offered_by_a_scan_is_found_by_the_next() {
        let cache = cache_for(4);
        let first = cache.begin_scan();
        assert!(cache.get(key(0), first).is_none());
        assert!(cache.offer(key(0), chunk(1000), first));
        let second = cache.begin_scan();
        assert_eq!(cache.get(key(0), second).map(|c| c.lengths().sum()), Some(1000));
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses, stats.chunks), (1, 1, 1));
    }

    #[test]
    fn a_scan_larger_than_the_cache_keeps_what_it_holds_instead_of_cycling() {
        let cache = cache_for(4);
        for _ in 0..3 {
            let scan = cache.begin_scan();
            for group in 0..10 {
                if cache.get(key(group), scan).is_none() {
                    cache.offer(key(group), chunk(1000), scan);
                }
            }
        }
        // The first pass kept row groups 0–3; the next two found them there and did not
        // push them out for row groups they would not keep either.
        let stats = cache.stats();
        assert_eq!(stats.chunks, 4);
        assert_eq!(stats.hits, 8, "two passes found four chunks each");
        let scan = cache.begin_scan();
        assert!((0..4).all(|group| cache.get(key(group), scan).is_some()));
    }

    /// What a scan does: asks for the chunk, and offers it when the cache did not have it.
    fn read(cache: &ColumnCache, key: ChunkKey, scan: u64) -> bool {
        let found = cache.get(key, scan).is_some();
        if !found {
            cache.offer(key, chunk(1000), scan);
        }
        found
    }

    #[test]
    fn a_chunk_asked_for_more_often_takes_the_place_of_one_asked_for_less() {
        let cache = cache_for(2);
        let first = cache.begin_scan();
        read(&cache, key(0), first);
        read(&cache, key(1), first);
        assert!(read(&cache, key(0), cache.begin_scan()));
        // Asked for once, as often as row group 1: the cache keeps what it has.
        assert!(!read(&cache, key(2), cache.begin_scan()));
        assert_eq!(cache.stats().chunks, 2);
        // Asked for twice now: it replaces row group 1, asked for once; row group 0 stays.
        let fourth = cache.begin_scan();
        assert!(!read(&cache, key(2), fourth));
        let fifth = cache.begin_scan();
        assert!(cache.get(key(2), fifth).is_some());
        assert!(cache.get(key(0), fifth).is_some());
        assert!(cache.get(key(1), fifth).is_none());
    }

    #[test]
    fn a_report_reading_more_than_the_cache_holds_keeps_the_column_most_visuals_read() {
        // Two visuals read `revenue` (column 0), a third `units` (column 1), four row groups
        // each; the cache holds four chunks. A least-recently-used cache would let each
        // visual push out the other's columns and find nothing on the next refresh.
        let cache = cache_for(4);
        let chunk_of = |column, row_group| ChunkKey { file: 1, row_group, column };
        let mut found = Vec::new();
        for _refresh in 0..5 {
            for column in [0, 0, 1] {
                let scan = cache.begin_scan();
                let hits = (0..4).filter(|&group| read(&cache, chunk_of(column, group), scan));
                found.push(hits.count());
            }
        }
        assert_eq!(&found[..3], [0, 4, 0], "the first refresh fills the cache with revenue");
        assert!(found[3..].chunks(3).all(|refresh| refresh == [4, 4, 0]), "{found:?}");
    }

    fn text(values: usize) -> Arc<Compact> {
        let array: ArrayRef = Arc::new(StringArray::from(vec!["some text"; values]));
        Arc::new(Compact::new(vec![array]))
    }

    #[test]
    fn a_chunk_saving_more_decoding_per_byte_takes_the_place_of_one_asked_for_as_often() {
        let cache = ColumnCache::new(text(1000).bytes() * 2);
        let scan = cache.begin_scan();
        for group in 0..2 {
            assert!(!read_text(&cache, key(group), scan));
        }
        assert_eq!(cache.stats().chunks, 2);
        // Asked for as often as each text chunk, a chunk of 64-bit integers held in one bit
        // each saves far more decoding per byte it takes: it takes the place of one.
        let next = cache.begin_scan();
        assert!(cache.get(key(2), next).is_none());
        assert!(cache.offer(key(2), chunk(1000), next));
        // A text chunk asked for as often does not take it back, nor the other text chunk.
        let third = cache.begin_scan();
        assert!(!read_text(&cache, key(3), third));
        let last = cache.begin_scan();
        assert!(cache.get(key(2), last).is_some());
        assert!(cache.get(key(3), last).is_none());
        assert_eq!(cache.stats().chunks, 2);
    }

    /// A scan's read of a text chunk: asks, and offers it when the cache did not have it.
    fn read_text(cache: &ColumnCache, key: ChunkKey, scan: u64) -> bool {
        let found = cache.get(key, scan).is_some();
        if !found {
            cache.offer(key, text(1000), scan);
        }
        found
    }

    #[test]
    fn an_empty_cache_keeps_nothing_and_a_chunk_larger_than_the_cache_is_refused() {
        let empty = ColumnCache::new(0);
        let scan = empty.begin_scan();
        assert!(!empty.offer(key(0), chunk(10), scan));
        assert!(empty.get(key(0), scan).is_none());
        let small = cache_for(1);
        assert!(!small.offer(key(0), chunk(5000), small.begin_scan()));
        assert_eq!(small.stats().bytes, 0);
    }

    #[test]
    fn a_scan_does_not_hold_a_chunk_the_cache_would_refuse_at_its_first_batch() {
        let first: ArrayRef = Arc::new(StringArray::from(vec!["some text"; 300]));
        let chunks = || [(key(0), &first)].into_iter();
        // A roomy cache may take the chunk; an empty one may not.
        let roomy = ColumnCache::new(64 << 20);
        assert_eq!(worth_keeping(&roomy, chunks(), 1000, roomy.begin_scan()), [true]);
        let empty = ColumnCache::new(0);
        assert_eq!(worth_keeping(&empty, chunks(), 1000, empty.begin_scan()), [false]);
        // The first batch is judged as a share of its row group: 300 rows of text fit in
        // 64 KB, a row group of a million rows of it would not, however compacted.
        let small = ColumnCache::new(64 << 10);
        assert_eq!(worth_keeping(&small, chunks(), 300, small.begin_scan()), [true]);
        assert_eq!(worth_keeping(&small, chunks(), 1_000_000, small.begin_scan()), [false]);
    }

    #[test]
    fn forgetting_a_file_drops_its_chunks_only() {
        let cache = cache_for(4);
        let scan = cache.begin_scan();
        cache.offer(key(0), chunk(1000), scan);
        cache.offer(ChunkKey { file: 2, row_group: 0, column: 0 }, chunk(1000), scan);
        cache.forget_file(1);
        let stats = cache.stats();
        assert_eq!(stats.chunks, 1);
        assert!(cache.get(key(0), scan).is_none());
    }

    /// 10,000 rows in row groups of 1,000, `n` ascending: 0..10,000.
    fn write_file(dir: &std::path::Path) -> String {
        let dictionary = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
        let schema = Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int64, false),
            Field::new("region", dictionary.clone(), false),
            Field::new("name", DataType::Utf8, true),
            Field::new("revenue", DataType::Float64, false),
        ]));
        let path = dir.join("data.parquet");
        let properties = WriterProperties::builder()
            .set_statistics_enabled(EnabledStatistics::Page)
            .set_max_row_group_row_count(Some(1000))
            .build();
        let file = std::fs::File::create(&path).unwrap();
        let mut writer = ArrowWriter::try_new(file, Arc::clone(&schema), Some(properties)).unwrap();
        for start in (0..10_000i64).step_by(2_500) {
            let n: Vec<i64> = (start..start + 2_500).collect();
            let regions: StringArray =
                n.iter().map(|n| Some(["North", "South", "East"][(*n % 3) as usize])).collect();
            let names: StringArray =
                n.iter().map(|n| (n % 7 != 0).then(|| format!("name {n}"))).collect();
            let revenue: Float64Array = n.iter().map(|n| *n as f64 * 1.5).collect();
            let columns: Vec<ArrayRef> = vec![
                Arc::new(Int64Array::from(n)),
                cast(&regions, &dictionary).unwrap(),
                Arc::new(names),
                Arc::new(revenue),
            ];
            writer.write(&RecordBatch::try_new(Arc::clone(&schema), columns).unwrap()).unwrap();
        }
        writer.close().unwrap();
        path.to_string_lossy().to_string()
    }

    fn context() -> SessionContext {
        SessionContext::new_with_config(
            SessionConfig::new().with_target_partitions(2).with_batch_size(300),
        )
    }

    async fn cached(path: &str, cache: &Arc<ColumnCache>) -> (SessionContext, Arc<CachedParquet>) {
        let context = context();
        let table =
            Arc::new(CachedParquet::open(&context.state(), path, Arc::clone(cache)).await.unwrap());
        context.register_table("t", Arc::clone(&table) as Arc<dyn TableProvider>).unwrap();
        (context, table)
    }

    /// The test file read through a cache with room for all of it.
    async fn roomy() -> (tempfile::TempDir, Arc<ColumnCache>, SessionContext, Arc<CachedParquet>) {
        let dir = tempfile::tempdir().unwrap();
        let path = write_file(dir.path());
        let cache = Arc::new(ColumnCache::new(64 << 20));
        let (context, table) = cached(&path, &cache).await;
        (dir, cache, context, table)
    }

    async fn answer(context: &SessionContext, sql: &str) -> String {
        let batches = context.sql(sql).await.unwrap().collect().await.unwrap();
        pretty_format_batches(&batches).unwrap().to_string()
    }

    const QUERIES: &[&str] = &[
        "SELECT sum(revenue), count(*), min(n), max(n) FROM t",
        "SELECT region, sum(revenue), count(name) FROM t GROUP BY region ORDER BY region",
        "SELECT count(*), sum(revenue) FROM t WHERE n >= 4500 AND n < 6100",
        "SELECT region, count(*) FROM t WHERE region = 'North' AND n < 2500 GROUP BY region",
        "SELECT name FROM t WHERE name IS NOT NULL ORDER BY n DESC LIMIT 3",
        "SELECT count(*) FROM t WHERE name IS NULL",
        "SELECT count(*) FROM t WHERE n > 20000",
    ];

    #[tokio::test]
    async fn scans_through_the_cache_answer_as_datafusion_reading_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_file(dir.path());
        let reference = context();
        let options = ParquetReadOptions::default().skip_metadata(false);
        reference.register_parquet("t", &path, options).await.unwrap();
        // Room for everything, for a few chunks only, and for none.
        for bytes in [64 << 20, 40_000, 0] {
            let cache = Arc::new(ColumnCache::new(bytes));
            let (context, _) = cached(&path, &cache).await;
            for pass in 0..3 {
                for sql in QUERIES {
                    let expected = answer(&reference, sql).await;
                    assert_eq!(
                        answer(&context, sql).await,
                        expected,
                        "{sql}, cache of {bytes} B, pass {pass}"
                    );
                }
            }
        }
    }

    #[tokio::test]
    async fn sessions_cutting_batches_differently_share_a_cache_and_answer_alike() {
        let (_dir, cache, context, table) = roomy().await;
        // The same table (the same file's chunks) in a session with other batches.
        let other = SessionContext::new_with_config(
            SessionConfig::new().with_target_partitions(2).with_batch_size(128),
        );
        other.register_table("t", table as Arc<dyn TableProvider>).unwrap();
        for sql in QUERIES {
            assert_eq!(answer(&other, sql).await, answer(&context, sql).await, "{sql}");
        }
        // Chunks held in batches of 300 rows are not handed to a scan in batches of 128: the
        // other session decodes them afresh.
        let sql = "SELECT sum(revenue) FROM t";
        answer(&context, sql).await;
        let before = cache.stats();
        answer(&other, sql).await;
        assert_eq!(cache.stats().misses - before.misses, 10);
    }

    #[tokio::test]
    async fn the_cache_holds_a_column_in_fewer_bytes_than_it_was_read_in() {
        let (_dir, cache, context, _) = roomy().await;
        // `n` is read as 64-bit integers, 0 to 9,999: held in 16 bits.
        answer(&context, "SELECT sum(n) FROM t").await;
        let held = cache.stats();
        assert_eq!(held.chunks, 10);
        assert!(held.bytes < 10 * 1000 * 8 / 2, "under half of 10 × 1,000 × 8 bytes: {held:?}");
        // Read back from the cache, the column gives the same answer.
        assert!(
            answer(&context, "SELECT sum(n), min(n), max(n) FROM t").await.contains("49995000")
        );
        assert_eq!(cache.stats().hits, 10);
    }

    #[tokio::test]
    async fn a_repeated_visual_decodes_nothing_the_second_time() {
        let (_dir, cache, context, _) = roomy().await;
        let sql = "SELECT region, sum(revenue) FROM t GROUP BY region";
        answer(&context, sql).await;
        let first = cache.stats();
        assert_eq!((first.misses, first.hits), (20, 0), "10 row groups × 2 columns decoded");
        answer(&context, sql).await;
        let second = cache.stats();
        assert_eq!((second.misses, second.hits), (20, 20), "all 20 chunks found decoded");
    }

    #[tokio::test]
    async fn row_groups_a_filter_rules_out_by_their_statistics_are_not_read() {
        let (_dir, cache, context, _) = roomy().await;
        answer(&context, "SELECT sum(revenue) FROM t WHERE n >= 4500 AND n < 6100").await;
        // Row groups 4, 5 and 6 hold n from 4,000 to 6,999: two columns of each are read.
        assert_eq!(cache.stats().misses, 6);
    }

    #[tokio::test]
    async fn counting_rows_or_a_column_s_values_reads_the_footer_not_the_rows() {
        let (_dir, cache, context, table) = roomy().await;
        assert_eq!(table.rows(), 10_000);
        assert!(answer(&context, "SELECT count(*) FROM t").await.contains("10000"));
        // A column's count is its rows less its nulls, which the footer counts too.
        assert!(answer(&context, "SELECT count(n) FROM t").await.contains("10000"));
        assert!(answer(&context, "SELECT count(name) FROM t").await.contains("8571"));
        assert_eq!(cache.stats().misses + cache.stats().hits, 0);
    }

    #[tokio::test]
    async fn a_file_no_longer_read_leaves_the_cache() {
        let (_dir, cache, context, table) = roomy().await;
        answer(&context, "SELECT sum(revenue) FROM t").await;
        assert_eq!(cache.stats().chunks, 10);
        context.deregister_table("t").unwrap();
        drop(table);
        assert_eq!(cache.stats(), ColumnCacheStats { hits: 0, misses: 10, chunks: 0, bytes: 0 });
    }
}
