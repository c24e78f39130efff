//! Group-bys by a dictionary-encoded text column without hashing every row.
//!
//! Vitrine stores a text column with few distinct values as a Parquet dictionary and reads it
//! back as an Arrow dictionary: a page's rows are small integer keys into a short list of
//! strings. DataFusion's hash aggregation would still look every row's string up in a hash
//! table (or turn it into a row-format key). [`DictionaryGroupBy`] is a physical optimizer
//! rule that hands such an aggregation, when it groups by that one column, to
//! [`DictionaryGroupByExec`]: it looks each *dictionary value* up once per dictionary, then
//! turns the rows' keys into group indices by a plain array read, and feeds DataFusion's own
//! group accumulators (sum, count, avg, min, max…) with them. The aggregates, their
//! intermediate states and the output are exactly those of the aggregation it replaces.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringBuilder};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int32Type};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DataFusionError, Result, internal_err};
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{EmitTo, GroupsAccumulator};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan, InputOrderMode,
    PlanProperties, ReplaceChildrenOptions,
};
use futures_util::StreamExt;

/// Replaces a partial (or single-step) aggregation grouped by one dictionary-encoded text
/// column with [`DictionaryGroupByExec`]. Aggregations it cannot serve as well — grouping
/// sets, several group columns, filtered or ordered aggregates, a limit, a sorted input —
/// stay DataFusion's.
#[derive(Debug, Default)]
pub struct DictionaryGroupBy;

impl PhysicalOptimizerRule for DictionaryGroupBy {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            Ok(match DictionaryGroupByExec::serves(&node)? {
                true => Transformed::yes(Arc::new(DictionaryGroupByExec::new(node)?) as _),
                false => Transformed::no(node),
            })
        })
        .map(|done| done.data)
    }

    fn name(&self) -> &str {
        "dictionary_group_by"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// An [`AggregateExec`] (partial or single mode, one dictionary text group column) run by
/// dictionary keys. It keeps the aggregation it stands for: its expressions, schema and plan
/// properties are that aggregation's.
#[derive(Debug)]
pub struct DictionaryGroupByExec {
    aggregate: Arc<dyn ExecutionPlan>,
}

impl DictionaryGroupByExec {
    fn new(aggregate: Arc<dyn ExecutionPlan>) -> Result<Self> {
        if aggregate.downcast_ref::<AggregateExec>().is_none() {
            return internal_err!("DictionaryGroupByExec stands for an AggregateExec");
        }
        Ok(Self { aggregate })
    }

    fn inner(&self) -> &AggregateExec {
        self.aggregate.downcast_ref::<AggregateExec>().expect("checked in new")
    }

    /// Whether `plan` is an aggregation this operator runs faster, with the same result.
    fn serves(plan: &Arc<dyn ExecutionPlan>) -> Result<bool> {
        let Some(aggregate) = plan.downcast_ref::<AggregateExec>() else { return Ok(false) };
        let groups = aggregate.group_expr();
        let simple = matches!(aggregate.mode(), AggregateMode::Partial | AggregateMode::Single)
            && groups.expr().len() == 1
            && !groups.has_grouping_set()
            && aggregate.filter_expr().iter().all(Option::is_none)
            && aggregate.limit_options().is_none()
            && aggregate.dynamic_expressions_produced().is_empty()
            && *aggregate.input_order_mode() == InputOrderMode::Linear
            && aggregate.aggr_expr().iter().all(|a| {
                a.groups_accumulator_supported() && a.order_bys().is_empty() && !a.is_distinct()
            });
        if !simple {
            return Ok(false);
        }
        let data_type = groups.expr()[0].0.data_type(&aggregate.input_schema())?;
        Ok(matches!(
            data_type,
            DataType::Dictionary(_, value)
                if matches!(*value, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
        ))
    }
}

impl DisplayAs for DictionaryGroupByExec {
    fn fmt_as(&self, format: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "DictionaryGroupByExec: ")?;
        self.inner().fmt_as(format, f)
    }
}

impl ExecutionPlan for DictionaryGroupByExec {
    fn name(&self) -> &str {
        "DictionaryGroupByExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.aggregate.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![self.inner().input()]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        self.aggregate.apply_expressions(f)
    }

    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let aggregate = Arc::clone(&self.aggregate).replace_children(children, options)?;
        // The new input may no longer carry a dictionary: then DataFusion's own operator runs.
        if Self::serves(&aggregate)? { Ok(Arc::new(Self::new(aggregate)?)) } else { Ok(aggregate) }
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

    fn with_new_children_and_same_properties(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(children, ReplaceChildrenOptions::new(ChildrenPropertiesMode::Keep))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let aggregate = self.inner();
        let input = aggregate.input().execute(partition, Arc::clone(&context))?;
        let reservation = MemoryConsumer::new(format!("DictionaryGroupByExec[{partition}]"))
            .register(context.memory_pool());
        let mut run = Run {
            group_expr: Arc::clone(&aggregate.group_expr().expr()[0].0),
            arguments: aggregate.aggr_expr().iter().map(|a| a.expressions()).collect(),
            accumulators: aggregate
                .aggr_expr()
                .iter()
                .map(|a| a.create_groups_accumulator())
                .collect::<Result<_>>()?,
            groups: Groups::default(),
            indices: Vec::new(),
            reservation,
            schema: aggregate.schema(),
            partial: *aggregate.mode() == AggregateMode::Partial,
        };
        let schema = aggregate.schema();
        let output = futures_util::stream::once(async move {
            let mut input = input;
            while let Some(batch) = input.next().await {
                run.add(&batch?)?;
            }
            run.finish()
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, output)))
    }
}

/// The groups seen so far: one per distinct text (and one for null), numbered in order of
/// appearance, with the group of each key of the dictionary read last.
#[derive(Default)]
struct Groups {
    of_text: HashMap<Box<str>, usize>,
    texts: Vec<Option<Box<str>>>,
    null_group: Option<usize>,
    /// The dictionary the keys below belong to (held, so its address stays its own), and
    /// the group of each of its keys (`usize::MAX`: not looked up yet).
    dictionary: Option<ArrayRef>,
    group_of_key: Vec<usize>,
}

impl Groups {
    fn len(&self) -> usize {
        self.texts.len()
    }

    fn size(&self) -> usize {
        let texts: usize = self.texts.iter().flatten().map(|t| t.len() * 2).sum();
        texts + self.texts.capacity() * 48 + self.group_of_key.capacity() * 8
    }

    fn null(&mut self) -> usize {
        *self.null_group.get_or_insert_with(|| {
            self.texts.push(None);
            self.texts.len() - 1
        })
    }

    fn of(&mut self, text: &str) -> usize {
        if let Some(group) = self.of_text.get(text) {
            return *group;
        }
        self.texts.push(Some(text.into()));
        self.of_text.insert(text.into(), self.texts.len() - 1);
        self.texts.len() - 1
    }

    /// Starts reading keys of `values`, keeping what was looked up when it is the dictionary
    /// of the batch before (the same array, as one Parquet column chunk's batches share).
    fn use_dictionary(&mut self, values: &ArrayRef) {
        // The same array, or (for a dictionary rebuilt for each batch) the same few values.
        let same = self.dictionary.as_ref().is_some_and(|held| {
            Arc::ptr_eq(held, values) || (held.len() <= 64 && held.as_ref() == values.as_ref())
        });
        if !same {
            self.dictionary = Some(Arc::clone(values));
            self.group_of_key.clear();
            self.group_of_key.resize(values.len(), usize::MAX);
        }
    }

    /// The group of the dictionary's `key`, looked up on its first use.
    #[cold]
    fn of_key(&mut self, key: usize, text: &TextValues) -> Result<usize> {
        let Some(&known) = self.group_of_key.get(key) else {
            return internal_err!("dictionary key {key} is out of range");
        };
        if known != usize::MAX {
            return Ok(known);
        }
        let group = match text.get(key) {
            Some(value) => self.of(value),
            None => self.null(),
        };
        self.group_of_key[key] = group;
        Ok(group)
    }

    /// The group of each row of `column`, a dictionary of text.
    fn indices(&mut self, column: &ArrayRef, out: &mut Vec<usize>) -> Result<()> {
        let dictionary = column.as_any_dictionary_opt().ok_or_else(|| {
            DataFusionError::Internal("the group column is not a dictionary".into())
        })?;
        let values = dictionary.values();
        self.use_dictionary(values);
        let text = TextValues::of(values.as_ref())?;
        let nulls = column.logical_nulls().filter(|n| n.null_count() > 0);
        out.clear();
        out.reserve(column.len());
        // Vitrine's files hold 32-bit keys: read them in place. Other key types are widened.
        let keys: Cow<[i32]> = match column.as_dictionary_opt::<Int32Type>() {
            Some(dictionary) => Cow::Borrowed(dictionary.keys().values()),
            None => dictionary.normalized_keys().into_iter().map(|k| k as i32).collect(),
        };
        // Each row's group is a read of its key's; a key not looked up yet (the first use of
        // a key of this dictionary, which so makes no group for a value no row has) reads as
        // `usize::MAX` and is looked up after.
        let table = &self.group_of_key;
        let unknown = read_groups(out, &keys, nulls.as_ref(), self.null_group, |key| {
            table.get(key as usize).copied().unwrap_or(usize::MAX)
        });
        if unknown {
            for (row, slot) in out.iter_mut().enumerate().filter(|(_, slot)| **slot == usize::MAX) {
                *slot = match nulls.as_ref().is_some_and(|nulls| nulls.is_null(row)) {
                    true => self.null(),
                    false => self.of_key(keys[row] as usize, &text)?,
                };
            }
        }
        Ok(())
    }

    /// The group texts, in group order, as an array of `data_type`.
    fn column(&self, data_type: &DataType) -> Result<ArrayRef> {
        let mut texts = StringBuilder::new();
        for text in &self.texts {
            texts.append_option(text.as_deref());
        }
        let texts: ArrayRef = Arc::new(texts.finish());
        Ok(cast(&texts, data_type)?)
    }
}

/// Appends each row's group to `out`, as `group` reads its key's (and `null_group` for a null
/// row); returns whether any is `usize::MAX`, not known yet.
#[inline]
fn read_groups(
    out: &mut Vec<usize>,
    keys: &[i32],
    nulls: Option<&NullBuffer>,
    null_group: Option<usize>,
    group: impl Fn(i32) -> usize,
) -> bool {
    let mut unknown = false;
    match nulls {
        Some(nulls) => out.extend(keys.iter().enumerate().map(|(row, key)| {
            let found = match nulls.is_null(row) {
                true => null_group.unwrap_or(usize::MAX),
                false => group(*key),
            };
            unknown |= found == usize::MAX;
            found
        })),
        None => out.extend(keys.iter().map(|key| {
            let found = group(*key);
            unknown |= found == usize::MAX;
            found
        })),
    }
    unknown
}

/// The strings of a dictionary's values, whichever string array holds them.
enum TextValues<'a> {
    Small(&'a datafusion::arrow::array::StringArray),
    Large(&'a datafusion::arrow::array::LargeStringArray),
    View(&'a datafusion::arrow::array::StringViewArray),
}

impl<'a> TextValues<'a> {
    fn of(values: &'a dyn Array) -> Result<Self> {
        if let Some(small) = values.as_string_opt::<i32>() {
            Ok(Self::Small(small))
        } else if let Some(large) = values.as_string_opt::<i64>() {
            Ok(Self::Large(large))
        } else if let Some(view) = values.as_string_view_opt() {
            Ok(Self::View(view))
        } else {
            internal_err!("dictionary values of {} are not text", values.data_type())
        }
    }

    fn get(&self, index: usize) -> Option<&'a str> {
        let (valid, value) = match self {
            Self::Small(array) => (array.is_valid(index), array.value(index)),
            Self::Large(array) => (array.is_valid(index), array.value(index)),
            Self::View(array) => (array.is_valid(index), array.value(index)),
        };
        valid.then_some(value)
    }
}

/// One partition's aggregation under way.
struct Run {
    group_expr: Arc<dyn PhysicalExpr>,
    arguments: Vec<Vec<Arc<dyn PhysicalExpr>>>,
    accumulators: Vec<Box<dyn GroupsAccumulator>>,
    groups: Groups,
    /// The group of each row of the batch at hand (kept to reuse its allocation).
    indices: Vec<usize>,
    reservation: MemoryReservation,
    schema: datafusion::arrow::datatypes::SchemaRef,
    /// Partial mode answers the accumulators' states; single mode their results.
    partial: bool,
}

impl Run {
    fn add(&mut self, batch: &RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let column = self.group_expr.evaluate(batch)?.into_array(batch.num_rows())?;
        self.groups.indices(&column, &mut self.indices)?;
        let total = self.groups.len();
        for (accumulator, arguments) in self.accumulators.iter_mut().zip(&self.arguments) {
            let values = arguments
                .iter()
                .map(|e| e.evaluate(batch).and_then(|v| v.into_array(batch.num_rows())))
                .collect::<Result<Vec<_>>>()?;
            accumulator.update_batch(&values, &self.indices, None, total)?;
        }
        let size = self.groups.size() + self.accumulators.iter().map(|a| a.size()).sum::<usize>();
        self.reservation.try_resize(size)
    }

    fn finish(mut self) -> Result<RecordBatch> {
        let mut columns = vec![self.groups.column(self.schema.field(0).data_type())?];
        for accumulator in &mut self.accumulators {
            if self.partial {
                columns.extend(accumulator.state(EmitTo::All)?);
            } else {
                columns.push(accumulator.evaluate(EmitTo::All)?);
            }
        }
        Ok(RecordBatch::try_new(Arc::clone(&self.schema), columns)?)
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Float64Array, Int64Array, StringArray};
    use datafusion::arrow::datatypes::{Field, Schema};
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::execution::SessionStateBuilder;
    use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};

    use super::*;
    use crate::{DataFormat, storage};

    /// Two files whose dictionaries differ (other values, other order, nulls in both), so
    /// that groups must be matched by text across dictionaries.
    fn write_files(dir: &std::path::Path) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("region", DataType::Utf8, true),
            Field::new("units", DataType::Int64, true),
            Field::new("price", DataType::Float64, true),
        ]));
        for (file, names) in
            [("a.parquet", ["North", "South", "East"]), ("b.parquet", ["West", "East", "North"])]
        {
            let batches: Vec<_> = (0..3)
                .map(|batch| {
                    let rows = 5_000;
                    let region: StringArray = (0..rows)
                        .map(|i| (i % 97 != 0).then(|| names[(i * 7 + batch) % 3]))
                        .collect();
                    let units: Int64Array =
                        (0..rows).map(|i| (i % 13 != 0).then_some(i as i64 % 50)).collect();
                    let price: Float64Array =
                        (0..rows).map(|i| Some((i % 89) as f64 * 1.25)).collect();
                    RecordBatch::try_new(
                        Arc::clone(&schema),
                        vec![Arc::new(region), Arc::new(units), Arc::new(price)],
                    )
                })
                .collect();
            let info = storage::write_batches(
                &dir.join(file),
                Arc::clone(&schema),
                batches,
                DataFormat::Csv,
            )
            .unwrap();
            assert_eq!(info.row_count, 15_000);
        }
    }

    async fn run(
        dir: &std::path::Path,
        partitions: usize,
        with_rule: bool,
        sql: &str,
    ) -> (String, String) {
        let config = SessionConfig::new().with_target_partitions(partitions);
        let mut state = SessionStateBuilder::new().with_config(config).with_default_features();
        if with_rule {
            state = state.with_physical_optimizer_rule(Arc::new(DictionaryGroupBy));
        }
        let context = SessionContext::new_with_state(state.build());
        let options = ParquetReadOptions::default().skip_metadata(false);
        context.register_parquet("sales", dir.to_str().unwrap(), options).await.unwrap();
        let frame = context.sql(sql).await.unwrap();
        let plan = frame.clone().create_physical_plan().await.unwrap();
        let shown = datafusion::physical_plan::displayable(plan.as_ref()).indent(true).to_string();
        let batches = frame.collect().await.unwrap();
        (pretty_format_batches(&batches).unwrap().to_string(), shown)
    }

    #[tokio::test]
    async fn groups_by_a_dictionary_text_column_answer_what_datafusion_answers() {
        let dir = tempfile::tempdir().unwrap();
        write_files(dir.path());
        let sql = "SELECT region, SUM(units) AS s, COUNT(units) AS c, AVG(price) AS a, \
                   MIN(price) AS lo, MAX(units) AS hi, COUNT(*) AS n \
                   FROM sales GROUP BY region ORDER BY region NULLS FIRST";
        for partitions in [1, 2, 4] {
            let (expected, plain_plan) = run(dir.path(), partitions, false, sql).await;
            let (answered, plan) = run(dir.path(), partitions, true, sql).await;
            assert!(!plain_plan.contains("DictionaryGroupByExec"));
            assert!(plan.contains("DictionaryGroupByExec"), "{partitions} partitions:\n{plan}");
            assert_eq!(answered, expected, "{partitions} partitions");
            // Four regions and the rows without one.
            assert_eq!(answered.lines().count(), 5 + 4, "{answered}");
        }
    }

    #[tokio::test]
    async fn other_groupings_stay_datafusions_own_and_every_answer_agrees() {
        let dir = tempfile::tempdir().unwrap();
        write_files(dir.path());
        // (query, whether a step groups by the text column alone)
        let cases = [
            ("SELECT units, SUM(price) FROM sales GROUP BY units ORDER BY units", false),
            (
                "SELECT region, units, SUM(price) FROM sales GROUP BY region, units \
                 ORDER BY region, units",
                false,
            ),
            // DataFusion groups by (region, units), then by region: the second step is served.
            (
                "SELECT region, COUNT(DISTINCT units) FROM sales GROUP BY region ORDER BY region",
                true,
            ),
            // A filter before the grouping is the input's business.
            (
                "SELECT region, SUM(units) FROM sales WHERE region IN ('North', 'West') \
                 AND price > 20 GROUP BY region ORDER BY region",
                true,
            ),
            ("SELECT DISTINCT region FROM sales ORDER BY region", true),
        ];
        for (sql, served) in cases {
            let (expected, _) = run(dir.path(), 2, false, sql).await;
            let (answered, plan) = run(dir.path(), 2, true, sql).await;
            assert_eq!(plan.contains("DictionaryGroupByExec"), served, "{sql}:\n{plan}");
            assert_eq!(answered, expected, "{sql}");
        }
    }
}
