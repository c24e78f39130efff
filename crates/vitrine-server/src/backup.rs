//! Moving and keeping an installation: `vitrine store copy` pipes one store's export into
//! another's import (SQLite to PostgreSQL, or back); `vitrine backup` writes a consistent
//! snapshot of the database and the dataset files it names into a directory while servers run;
//! `vitrine restore` brings one back into an empty database and data directory. The master key
//! is never written into a backup: keep it apart (it is what makes the sealed keys readable).

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use vitrine_store::transfer::{TableBatch, TableSink, TableSource};
use vitrine_store::{Store, StoreError, StoreResult};

use crate::files::DatasetFiles;

/// The database's rows in a backup: one JSON line per batch of one table.
const DATABASE_FILE: &str = "database.jsonl";
const MANIFEST_FILE: &str = "manifest.json";
/// Batches in flight between an export and an import.
const PIPE: usize = 4;
/// The longest line a backup's database file may hold (a batch of rows).
const MAX_LINE_BYTES: usize = 512 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("the target database already holds an installation; copy or restore into an empty one")]
    TargetNotEmpty,
    #[error("{0}")]
    Store(StoreError),
    #[error("{path}: {source}")]
    File { path: String, source: std::io::Error },
    #[error("{0}")]
    Backup(String),
}

impl From<StoreError> for TransferError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict { field: "database" } => TransferError::TargetNotEmpty,
            other => TransferError::Store(other),
        }
    }
}

fn file_error(path: &Path) -> impl FnOnce(std::io::Error) -> TransferError + '_ {
    move |source| TransferError::File { path: path.display().to_string(), source }
}

/// What a backup holds, written beside it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub format: u32,
    pub made_at: chrono::DateTime<chrono::Utc>,
    pub rows: u64,
    /// Dataset files, relative to the data directory.
    pub files: Vec<String>,
}

/// Copies everything of `from` into `to`, which must be empty; returns the rows copied.
pub async fn copy(from: &dyn Store, to: &dyn Store) -> Result<u64, TransferError> {
    let (sender, receiver) = mpsc::channel(PIPE);
    let export = async move {
        let mut sink = Pipe(sender);
        from.export(&mut sink).await
    };
    // The import owns its end of the pipe: when it stops (a refused target), the export's
    // next send fails instead of waiting forever for room.
    let import = async move {
        let mut source = Drain(receiver);
        to.import(&mut source).await
    };
    let (exported, imported) = tokio::join!(export, import);
    // The import's refusal explains an export stopped short.
    let rows = imported?;
    exported?;
    Ok(rows)
}

struct Pipe(mpsc::Sender<TableBatch>);

#[async_trait]
impl TableSink for Pipe {
    async fn write(&mut self, batch: TableBatch) -> StoreResult<()> {
        self.0.send(batch).await.map_err(|_| StoreError::Backend("the import stopped".into()))
    }
}

struct Drain(mpsc::Receiver<TableBatch>);

#[async_trait]
impl TableSource for Drain {
    async fn read(&mut self) -> StoreResult<Option<TableBatch>> {
        Ok(self.0.recv().await)
    }
}

/// Writes a backup of `store` and of the dataset files it names (kept by `files`) into the
/// directory `to`, which must not exist or be empty. The rows are one snapshot; the files are
/// copied after it, and each version's file is never rewritten, only removed once replaced: a
/// file removed in between fails the backup (run it again) rather than leaving it incomplete.
pub async fn backup(
    store: &dyn Store,
    files: &DatasetFiles,
    to: &Path,
) -> Result<Manifest, TransferError> {
    ensure_empty_dir(to).await?;
    let database = to.join(DATABASE_FILE);
    let file = tokio::fs::File::create(&database).await.map_err(file_error(&database))?;
    let mut sink =
        Lines { out: tokio::io::BufWriter::new(file), rows: 0, files: Vec::new(), path: database };
    store.export(&mut sink).await?;
    sink.out.flush().await.map_err(file_error(&sink.path))?;
    sink.out.get_ref().sync_all().await.map_err(file_error(&sink.path))?;
    for relative in &sink.files {
        files.download(relative, &to.join(relative)).await.map_err(files_error)?;
    }
    let manifest =
        Manifest { format: 1, made_at: chrono::Utc::now(), rows: sink.rows, files: sink.files };
    write_manifest(to, &manifest).await?;
    Ok(manifest)
}

/// Restores the backup in `from` into `store` (empty) and `files`.
pub async fn restore(
    store: &dyn Store,
    files: &DatasetFiles,
    from: &Path,
) -> Result<Manifest, TransferError> {
    let path = from.join(MANIFEST_FILE);
    let text = tokio::fs::read_to_string(&path).await.map_err(file_error(&path))?;
    let manifest: Manifest = serde_json::from_str(&text)
        .map_err(|e| TransferError::Backup(format!("{}: {e}", path.display())))?;
    if manifest.format != 1 {
        return Err(TransferError::Backup(format!("backup format {} is unknown", manifest.format)));
    }
    for relative in &manifest.files {
        safe_relative(relative)?;
    }
    let database = from.join(DATABASE_FILE);
    let file = tokio::fs::File::open(&database).await.map_err(file_error(&database))?;
    let mut source = LinesIn { input: tokio::io::BufReader::new(file), line: String::new() };
    store.import(&mut source).await?;
    for relative in &manifest.files {
        files.upload(&from.join(relative), relative).await.map_err(files_error)?;
    }
    Ok(manifest)
}

/// A backup's database file being written; notes the dataset files its rows name.
struct Lines {
    out: tokio::io::BufWriter<tokio::fs::File>,
    rows: u64,
    files: Vec<String>,
    path: PathBuf,
}

#[async_trait]
impl TableSink for Lines {
    async fn write(&mut self, batch: TableBatch) -> StoreResult<()> {
        if batch.table == "datasets" {
            self.files.extend(owned_files(&batch));
        }
        self.rows += batch.rows.len() as u64;
        let mut line =
            serde_json::to_vec(&batch).map_err(|e| StoreError::Backend(e.to_string()))?;
        line.push(b'\n');
        self.out
            .write_all(&line)
            .await
            .map_err(|e| StoreError::Backend(format!("writing {}: {e}", self.path.display())))
    }
}

/// The files Vitrine keeps for these dataset rows (not paths registered from the command line,
/// which stay where they are).
fn owned_files(batch: &TableBatch) -> Vec<String> {
    let Some(location) = batch.columns.iter().position(|c| c == "location") else {
        return Vec::new();
    };
    batch
        .rows
        .iter()
        .filter_map(|row| match row.get(location) {
            Some(vitrine_store::transfer::Cell::Text(path)) => Some(path.clone()),
            _ => None,
        })
        .filter(|path| safe_relative(path).is_ok())
        .collect()
}

/// A backup's database file being read, a line (a batch) at a time.
struct LinesIn {
    input: tokio::io::BufReader<tokio::fs::File>,
    line: String,
}

#[async_trait]
impl TableSource for LinesIn {
    async fn read(&mut self) -> StoreResult<Option<TableBatch>> {
        self.line.clear();
        let mut limited = (&mut self.input).take(MAX_LINE_BYTES as u64);
        let read = limited
            .read_line(&mut self.line)
            .await
            .map_err(|e| StoreError::Backend(format!("reading the backup: {e}")))?;
        if read == 0 {
            return Ok(None);
        }
        if !self.line.ends_with('\n') {
            return Err(StoreError::Backend("refused backup: a line too long or cut off".into()));
        }
        serde_json::from_str(&self.line)
            .map(Some)
            .map_err(|e| StoreError::Backend(format!("refused backup: {e}")))
    }
}

/// Refuses a path that could leave the directory it is read in or written to.
fn safe_relative(path: &str) -> Result<(), TransferError> {
    let path = Path::new(path);
    let plain = path.components().all(|c| matches!(c, std::path::Component::Normal(_)));
    if path.is_absolute() || !plain || !path.starts_with("datasets") {
        return Err(TransferError::Backup(format!("refused file path {}", path.display())));
    }
    Ok(())
}

async fn ensure_empty_dir(dir: &Path) -> Result<(), TransferError> {
    tokio::fs::create_dir_all(dir).await.map_err(file_error(dir))?;
    let mut entries = tokio::fs::read_dir(dir).await.map_err(file_error(dir))?;
    if entries.next_entry().await.map_err(file_error(dir))?.is_some() {
        return Err(TransferError::Backup(format!(
            "{} is not empty: back up into a new directory",
            dir.display()
        )));
    }
    Ok(())
}

fn files_error(error: crate::files::FilesError) -> TransferError {
    TransferError::Backup(error.to_string())
}

async fn write_manifest(to: &Path, manifest: &Manifest) -> Result<(), TransferError> {
    let path = to.join(MANIFEST_FILE);
    let text =
        serde_json::to_string_pretty(manifest).map_err(|e| TransferError::Backup(e.to_string()))?;
    tokio::fs::write(&path, text).await.map_err(file_error(&path))
}
