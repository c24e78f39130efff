//! Datasets on disk. Every dataset Vitrine keeps is one Parquet file it wrote itself — page
//! statistics and page indexes so that queries prune row groups and pages, row groups small
//! enough for two cores to share — converted from CSV while the upload streams in, rewritten
//! from an uploaded Parquet file, or written from a source's rows. Nothing here holds more
//! than a batch of rows at a time.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::record_batch::RecordBatchReader;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};

use crate::dataset::{DataFormat, DatasetInfo};
use crate::engine::EngineError;

/// Rows per row group: the unit of pruning and of parallel scans.
pub const ROW_GROUP_ROWS: usize = 512 * 1024;
/// Rows per batch while converting.
const BATCH_ROWS: usize = 64 * 1024;
/// How much of a CSV file is read to tell its columns' types.
const SCHEMA_SAMPLE_BYTES: usize = 4 * 1024 * 1024;

/// How Vitrine writes every dataset file.
pub fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::UNCOMPRESSED)
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .build()
}

fn unreadable(format: DataFormat) -> impl Fn(String) -> EngineError {
    move |detail| EngineError::Unreadable { format: format.as_str(), detail }
}

/// The Arrow type of a text column stored as a dictionary.
pub fn dictionary_text() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

fn is_text(data_type: &DataType) -> bool {
    matches!(data_type, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

/// The schema a dataset file is written with: a text column whose values repeat (at most
/// one distinct value for two rows in `first`, the first batch) becomes a dictionary, so
/// that queries read its keys and group by them without hashing each row's text; other
/// columns are kept. The file's Arrow schema records the choice for every reader.
fn stored_schema(schema: &Schema, first: Option<&RecordBatch>) -> Result<Schema, ArrowError> {
    let mut fields = Vec::with_capacity(schema.fields().len());
    for (index, field) in schema.fields().iter().enumerate() {
        let data_type = field.data_type();
        let repeats = match (data_type, first) {
            (DataType::Dictionary(_, value), _) => is_text(value),
            (text, Some(batch)) if is_text(text) && batch.num_rows() > 1 => {
                let column = cast(batch.column(index), &dictionary_text())?;
                let distinct = column.as_any_dictionary().values().len();
                distinct * 2 <= batch.num_rows()
            }
            _ => false,
        };
        let stored = if repeats { dictionary_text() } else { data_type.clone() };
        fields.push(Field::new(field.name(), stored, field.is_nullable()));
    }
    Ok(Schema::new(fields))
}

/// `batch` with each column in the stored schema's type.
fn to_stored(batch: RecordBatch, stored: &SchemaRef) -> Result<RecordBatch, ArrowError> {
    let columns = batch
        .columns()
        .iter()
        .zip(stored.fields())
        .map(|(column, field)| match column.data_type() == field.data_type() {
            true => Ok(Arc::clone(column)),
            false => cast(column, field.data_type()),
        })
        .collect::<Result<Vec<ArrayRef>, _>>()?;
    RecordBatch::try_new(Arc::clone(stored), columns)
}

/// Writes batches as a dataset file at `output`; returns what it holds.
pub fn write_batches<I>(
    output: &Path,
    schema: SchemaRef,
    batches: I,
    source: DataFormat,
) -> Result<DatasetInfo, EngineError>
where
    I: IntoIterator<Item = Result<RecordBatch, ArrowError>>,
{
    let bad_input = unreadable(source);
    let mut batches = batches.into_iter();
    let first = match batches.next() {
        Some(first) => Some(first.map_err(|e| bad_input(at_row(0, e)))?),
        None => None,
    };
    let stored = stored_schema(&schema, first.as_ref())
        .map(Arc::new)
        .map_err(|e| EngineError::Failed(e.to_string()))?;
    let file = File::create(output).map_err(|e| EngineError::Failed(e.to_string()))?;
    let mut writer = ArrowWriter::try_new(file, Arc::clone(&stored), Some(writer_properties()))
        .map_err(|e| EngineError::Failed(e.to_string()))?;
    let mut rows = 0u64;
    for batch in first.map(Ok).into_iter().chain(batches) {
        let batch = batch
            .and_then(|batch| to_stored(batch, &stored))
            .map_err(|e| bad_input(at_row(rows, e)))?;
        rows += batch.num_rows() as u64;
        writer.write(&batch).map_err(|e| EngineError::Failed(e.to_string()))?;
    }
    let mut file = writer.into_inner().map_err(|e| EngineError::Failed(e.to_string()))?;
    file.flush().map_err(|e| EngineError::Failed(e.to_string()))?;
    file.sync_all().map_err(|e| EngineError::Failed(e.to_string()))?;
    Ok(DatasetInfo::from_schema(&stored, rows))
}

/// A conversion error with where it happened: the batch's first row, counted from 1.
fn at_row(rows_before: u64, error: ArrowError) -> String {
    format!("near data row {}: {error}", rows_before + 1)
}

/// Converts CSV text (a header line, then rows) read from `input` into a dataset file. The
/// columns' types are read from the first few megabytes; a later value that does not fit its
/// column's type stops the conversion with the row it is in.
pub fn convert_csv(mut input: impl Read, output: &Path) -> Result<DatasetInfo, EngineError> {
    let bad = unreadable(DataFormat::Csv);
    let mut sample = Vec::with_capacity(64 * 1024);
    (&mut input)
        .take(SCHEMA_SAMPLE_BYTES as u64)
        .read_to_end(&mut sample)
        .map_err(|e| bad(e.to_string()))?;
    // Types come from whole lines only: a cut value ("2024-0") would make a date column text.
    let whole_lines = match sample.iter().rposition(|b| *b == b'\n') {
        Some(end) if sample.len() == SCHEMA_SAMPLE_BYTES => &sample[..=end],
        _ => &sample[..],
    };
    let format = datafusion::arrow::csv::reader::Format::default().with_header(true);
    let (schema, _) = format
        .clone()
        .infer_schema(std::io::Cursor::new(whole_lines), None)
        .map_err(|e| bad(e.to_string()))?;
    if schema.fields().is_empty() {
        return Err(bad("the file has no header line".into()));
    }
    check_column_names(&schema).map_err(&bad)?;
    let schema = Arc::new(schema);
    let reader = datafusion::arrow::csv::ReaderBuilder::new(Arc::clone(&schema))
        .with_format(format)
        .with_batch_size(BATCH_ROWS)
        .build(std::io::Cursor::new(sample).chain(input))
        .map_err(|e| bad(e.to_string()))?;
    write_batches(output, schema, reader, DataFormat::Csv)
}

/// Rewrites an uploaded Parquet file into a dataset file (Vitrine's row groups, statistics
/// and page indexes), batch by batch.
pub fn rewrite_parquet(input: &Path, output: &Path) -> Result<DatasetInfo, EngineError> {
    let bad = unreadable(DataFormat::Parquet);
    let file = File::open(input).map_err(|e| bad(e.to_string()))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|builder| builder.with_batch_size(BATCH_ROWS).build())
        .map_err(|e| bad(e.to_string()))?;
    let schema = reader.schema();
    check_column_names(&schema).map_err(&bad)?;
    write_batches(output, schema, reader, DataFormat::Parquet)
}

/// The columns and row count of a Parquet file, from its footer.
pub fn inspect_parquet(path: &Path) -> Result<DatasetInfo, EngineError> {
    let bad = unreadable(DataFormat::Parquet);
    let file = File::open(path).map_err(|e| bad(e.to_string()))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| bad(e.to_string()))?;
    let rows = builder.metadata().file_metadata().num_rows().max(0) as u64;
    Ok(DatasetInfo::from_schema(builder.schema(), rows))
}

/// Columns need names, each once: a report names its columns.
fn check_column_names(schema: &Schema) -> Result<(), String> {
    let mut seen = std::collections::HashSet::new();
    for field in schema.fields() {
        let name = field.name();
        if name.trim().is_empty() {
            return Err("a column has no name in the header line".into());
        }
        if !seen.insert(name.as_str()) {
            return Err(format!("the column `{name}` appears twice"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};

    use super::*;
    use crate::dataset::ColumnKind;

    fn csv(rows: usize) -> String {
        let mut text = String::from("day,region,units,price\n");
        for i in 0..rows {
            let region = ["North", "South"][i % 2];
            text.push_str(&format!("2025-01-{:02},{region},{},{}.5\n", i % 28 + 1, i % 7, i));
        }
        text
    }

    #[test]
    fn csv_converts_to_parquet_with_typed_columns_and_page_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("v1.parquet");
        let rows = ROW_GROUP_ROWS + 10;
        let info = convert_csv(csv(rows).as_bytes(), &out).unwrap();
        assert_eq!(info.row_count, rows as u64);
        let kinds: Vec<_> = info.columns.iter().map(|c| c.kind).collect();
        assert_eq!(
            kinds,
            [ColumnKind::Date, ColumnKind::Text, ColumnKind::Integer, ColumnKind::Decimal]
        );
        let reader = SerializedFileReader::new(File::open(&out).unwrap()).unwrap();
        let metadata = reader.metadata();
        assert_eq!(metadata.num_row_groups(), 2, "row groups of {ROW_GROUP_ROWS} rows");
        assert!(metadata.row_group(0).column(0).statistics().is_some());
        assert!(metadata.row_group(0).column(0).column_index_offset().is_some(), "page index");
        assert_eq!(inspect_parquet(&out).unwrap(), info);
    }

    #[test]
    fn text_that_repeats_is_stored_as_a_dictionary_and_unique_text_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("v1.parquet");
        let mut text = String::from("order,region\n");
        for i in 0..20_000 {
            text.push_str(&format!("A-{i:06},{}\n", ["North", "South", "East"][i % 3]));
        }
        convert_csv(text.as_bytes(), &out).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&out).unwrap()).unwrap();
        let types: Vec<_> =
            reader.schema().fields().iter().map(|f| f.data_type().clone()).collect();
        assert_eq!(types, [DataType::Utf8, dictionary_text()]);
        let rows: usize = reader.build().unwrap().map(|b| b.unwrap().num_rows()).sum();
        assert_eq!(rows, 20_000);
    }

    #[test]
    fn a_value_that_does_not_fit_its_column_names_its_row() {
        let dir = tempfile::tempdir().unwrap();
        // Past the sample the types are read from, a text in a number column.
        let mut text = csv(200_000);
        text.push_str("2025-02-01,North,lots,1.5\n");
        let error = convert_csv(text.as_bytes(), &dir.path().join("v1.parquet")).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("near data row"), "{message}");
        assert!(matches!(error, EngineError::Unreadable { format: "csv", .. }));
    }

    #[test]
    fn a_header_naming_a_column_twice_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let error =
            convert_csv("a,b,a\n1,2,3\n".as_bytes(), &dir.path().join("v1.parquet")).unwrap_err();
        assert!(error.to_string().contains("`a` appears twice"), "{error}");
    }

    #[test]
    fn an_uploaded_parquet_file_is_rewritten_with_page_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("upload.parquet");
        let batches = crate::demo_data::generate(1_000).unwrap();
        let file = File::create(&plain).unwrap();
        let props =
            WriterProperties::builder().set_statistics_enabled(EnabledStatistics::None).build();
        let mut writer =
            ArrowWriter::try_new(file, crate::demo_data::schema(), Some(props)).unwrap();
        for batch in &batches {
            writer.write(batch).unwrap();
        }
        writer.close().unwrap();
        let out = dir.path().join("v1.parquet");
        let info = rewrite_parquet(&plain, &out).unwrap();
        assert_eq!(info.row_count, 1_000);
        let reader = SerializedFileReader::new(File::open(&out).unwrap()).unwrap();
        assert!(reader.metadata().row_group(0).column(0).column_index_offset().is_some());
    }
}
