//! Datasets: files uploaded by contributors (kept in the data directory) or paths registered
//! from the command line, loaded into the report engine's memory.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::Utc;
use vitrine_core::{ContentScope, DatasetId, OrgId, validate};
use vitrine_engine::{DataFormat, DatasetInfo, Engine};
use vitrine_store::{Actor, Dataset, Store};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorCode};

/// Where uploaded datasets are kept, inside the data directory.
pub const DATASETS_DIR: &str = "datasets";

/// The file of a dataset: relative locations are inside the data directory.
pub fn file_of(data_dir: &Path, dataset: &Dataset) -> PathBuf {
    let location = Path::new(&dataset.location);
    if location.is_absolute() { location.to_path_buf() } else { data_dir.join(location) }
}

pub fn format_of(dataset: &Dataset) -> DataFormat {
    if dataset.format == "csv" { DataFormat::Csv } else { DataFormat::Parquet }
}

/// The memory report data may take: the process's share and each organization's, and the
/// datasets left unloaded because they did not fit, with the reason shown on their pages.
pub struct MemoryBudget {
    /// Bytes all loaded datasets together may hold.
    pub datasets_bytes: u64,
    /// The per-organization default, unless the operators set `maxMemoryMegabytes`.
    pub org_default_bytes: u64,
    unavailable: std::sync::Mutex<std::collections::HashMap<DatasetId, String>>,
}

/// Of the process's budget, what queries' working memory gets (the rest holds datasets).
pub const QUERY_SHARE_DIVISOR: u64 = 4;

impl MemoryBudget {
    pub fn new(limits: &crate::config::Limits) -> Self {
        Self {
            datasets_bytes: limits.memory_bytes - limits.memory_bytes / QUERY_SHARE_DIVISOR,
            org_default_bytes: limits.org_memory_megabytes.saturating_mul(1024 * 1024),
            unavailable: Default::default(),
        }
    }

    /// Why the dataset is not available, if it did not fit.
    pub fn unavailable(&self, id: DatasetId) -> Option<String> {
        self.unavailable.lock().unwrap_or_else(|p| p.into_inner()).get(&id).cloned()
    }

    fn mark(&self, id: DatasetId, reason: Option<String>) {
        let mut map = self.unavailable.lock().unwrap_or_else(|p| p.into_inner());
        match reason {
            Some(reason) => map.insert(id, reason),
            None => map.remove(&id),
        };
    }

    /// Refuses to load `estimate` bytes more for `org` when the organization's limit or the
    /// process's budget would be passed. Call it under `dataset_loading`, so that two loads
    /// never pass the check together.
    async fn admit_bytes(
        &self,
        store: &dyn Store,
        engine: &Engine,
        org: OrgId,
        name: &str,
        estimate: u64,
    ) -> ApiResult<()> {
        let limits = store.get_organization(org).await?.limits;
        let in_org: u64 = store
            .list_datasets(org)
            .await?
            .iter()
            .filter_map(|d| engine.memory_bytes(&d.id.to_string()))
            .sum();
        let refuse = |setting: &str, what: &str, limit: u64, used: u64| ApiError {
            field: Some(setting.to_string()),
            ..ApiError::new(
                ErrorCode::QuotaExceeded,
                format!(
                    "The dataset “{name}” needs about {} in memory; {what} ({setting}) is {}, of which {} are in use.",
                    megabytes(estimate),
                    megabytes(limit),
                    megabytes(used)
                ),
            )
        };
        if !limits.admits_memory_bytes(in_org + estimate, self.org_default_bytes) {
            let setting = vitrine_core::limits::MAX_MEMORY_MEGABYTES;
            let limit = limits.memory_limit_bytes(self.org_default_bytes);
            return Err(refuse(setting, "the organization's memory limit", limit, in_org));
        }
        let in_process = engine.total_memory_bytes();
        if in_process + estimate > self.datasets_bytes {
            let what = "the server's memory budget for report data";
            return Err(refuse("limits.memory_megabytes", what, self.datasets_bytes, in_process));
        }
        Ok(())
    }

    /// Estimates and admits a file before it is loaded; a file that cannot be read is left
    /// for the load to refuse with its own message.
    pub async fn admit_file(
        &self,
        store: &dyn Store,
        engine: &Arc<Engine>,
        org: OrgId,
        name: &str,
        path: &Path,
        format: DataFormat,
    ) -> ApiResult<()> {
        let reader = Arc::clone(engine);
        let owned = path.to_path_buf();
        let estimate = tokio::task::spawn_blocking(move || reader.estimate_memory(&owned, format))
            .await
            .map_err(|_| ApiError::internal())?;
        match estimate {
            Ok(estimate) => self.admit_bytes(store, engine, org, name, estimate).await,
            Err(_) => Ok(()),
        }
    }

    /// [`MemoryBudget::admit_file`] for a stored dataset, noting on it why it was refused.
    pub async fn admit_dataset(
        &self,
        store: &dyn Store,
        engine: &Arc<Engine>,
        dataset: &Dataset,
        path: &Path,
    ) -> ApiResult<()> {
        let admitted = self
            .admit_file(store, engine, dataset.org_id, &dataset.name, path, format_of(dataset))
            .await;
        match &admitted {
            Err(error) if error.code == ErrorCode::QuotaExceeded => {
                tracing::warn!(dataset = %dataset.id, reason = %error.message, "dataset left unloaded");
                self.mark(dataset.id, Some(error.message.clone()));
            }
            Err(_) => {}
            Ok(()) => self.mark(dataset.id, None),
        }
        admitted
    }
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
}

/// Loads a dataset into the engine unless it is there already.
pub async fn ensure_loaded(
    state: &AppState,
    dataset: &Dataset,
    purpose: LoadFor,
) -> ApiResult<DatasetInfo> {
    let id = dataset.id.to_string();
    if let Some(info) = state.engine.info(&id) {
        return Ok(info);
    }
    // One load at a time: a thousand viewers opening a report at start-up read the file once.
    // Pausing a capacity takes the same lock, so a load and a pause never cross.
    let _loading = state.dataset_loading.lock().await;
    if let Some(info) = state.engine.info(&id) {
        return Ok(info);
    }
    // A query let through just before its capacity paused does not bring the data back.
    if purpose == LoadFor::Viewers {
        let serves = state.capacities.serves(dataset.org_id, dataset.id).await.map_err(|error| {
            tracing::error!(dataset = %dataset.id, %error, "could not tell who serves a dataset");
            ApiError::internal()
        })?;
        if !serves {
            return Err(ApiError::new(
                ErrorCode::CapacityNotActive,
                "The report's capacity is paused to save cost. The report appears by itself once it runs again.",
            ));
        }
    }
    let path = file_of(&state.config.data_dir, dataset);
    state.memory.admit_dataset(&*state.store, &state.engine, dataset, &path).await?;
    let loaded = state.engine.load(&id, &path, format_of(dataset)).await.map_err(|error| {
        tracing::error!(dataset = %dataset.id, path = %path.display(), %error, "could not load a dataset");
        ApiError::new(ErrorCode::Internal, format!("The dataset “{}” could not be loaded.", dataset.name))
    });
    release_freed_memory();
    loaded
}

/// Hands the pages a load freed back to the system. Decoding a file allocates far more than
/// the data it leaves in memory, and glibc keeps freed memory in its arenas for reuse: after
/// the demo's start-up about 10 MiB of the process's resident memory was such free space.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages to the system; it is thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Why a dataset is loaded: for viewers' queries (refused while every report reading it is on
/// a paused capacity), or for authors checking a definition against it (always).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadFor {
    Viewers,
    Authors,
}

/// Loads every dataset of the installation (at start, in the background).
pub async fn load_all(state: AppState) {
    let datasets = match state.store.all_datasets().await {
        Ok(datasets) => datasets,
        Err(error) => {
            tracing::error!(%error, "could not list datasets");
            return;
        }
    };
    for dataset in datasets {
        // A paused capacity's data stays out of memory until it is started.
        match ensure_loaded(&state, &dataset, LoadFor::Viewers).await {
            Ok(info) => {
                tracing::info!(dataset = %dataset.name, rows = info.row_count, "dataset loaded")
            }
            Err(error) if error.code == ErrorCode::CapacityNotActive => {
                tracing::info!(dataset = %dataset.name, "dataset left unloaded: its capacity is paused")
            }
            // ensure_loaded logged why.
            Err(_) => {}
        }
    }
    // The demo's data was generated and loaded before this, without a load of its own here.
    release_freed_memory();
}

fn record(
    org: OrgId,
    id: DatasetId,
    name: String,
    format: DataFormat,
    location: String,
    info: &DatasetInfo,
    created_at: chrono::DateTime<Utc>,
) -> Dataset {
    Dataset {
        id,
        org_id: org,
        name,
        format: format.as_str().to_string(),
        location,
        columns: serde_json::to_value(&info.columns).unwrap_or_default(),
        row_count: info.row_count,
        created_at,
    }
}

/// Adds an uploaded file (already written to `upload`) as a dataset named `name`.
pub async fn add_upload(
    state: &AppState,
    scope: &ContentScope,
    caller: &Caller,
    name: &str,
    file_name: &str,
    upload: &Path,
) -> ApiResult<Dataset> {
    let name = validate::name("name", name)?;
    let format = DataFormat::from_file_name(file_name)
        .ok_or_else(|| ApiError::invalid("file", "must be a .csv or .parquet file"))?;
    let id = DatasetId::generate();
    let location = format!("{DATASETS_DIR}/{id}.{}", format.as_str());
    let path = state.config.data_dir.join(&location);
    tokio::fs::create_dir_all(state.config.data_dir.join(DATASETS_DIR))
        .await
        .map_err(|_| ApiError::internal())?;
    tokio::fs::rename(upload, &path).await.map_err(|_| ApiError::internal())?;
    let refused = |message: String| async {
        state.engine.unload(&id.to_string());
        let _ = tokio::fs::remove_file(&path).await;
        ApiError::invalid("file", message)
    };
    // Checked before a byte is loaded, and under the loading lock so uploads racing each
    // other (or a start-up load) cannot pass the memory limits together.
    let loading = state.dataset_loading.lock().await;
    let admitted =
        state.memory.admit_file(&*state.store, &state.engine, scope.org_id(), &name, &path, format);
    if let Err(error) = admitted.await {
        let _ = tokio::fs::remove_file(&path).await;
        return Err(error);
    }
    let loaded = state.engine.load(&id.to_string(), &path, format).await;
    drop(loading);
    release_freed_memory();
    let info = match loaded {
        Ok(info) => info,
        Err(error) => return Err(refused(without_paths(&error.to_string())).await),
    };
    if info.columns.is_empty() || info.row_count == 0 {
        let message =
            format!("holds no data: a {} file with at least one row is needed", format.as_str());
        return Err(refused(message).await);
    }
    if let Err(error) = within_limits(state, scope.org_id(), &path).await {
        state.engine.unload(&id.to_string());
        let _ = tokio::fs::remove_file(&path).await;
        return Err(error);
    }
    let dataset = record(scope.org_id(), id, name, format, location, &info, state.clock.now());
    match state
        .store
        .create_dataset(scope.org_id(), &caller.actor(state.clock.now()), &dataset)
        .await
    {
        Ok(created) => Ok(created),
        Err(error) => {
            state.engine.unload(&id.to_string());
            let _ = tokio::fs::remove_file(&path).await;
            Err(error.into())
        }
    }
}

/// Refuses a new dataset (stored at `path`) that would take the organization past the
/// storage limit its operators set. (Memory is admitted before the file is loaded.)
async fn within_limits(state: &AppState, org: OrgId, path: &Path) -> ApiResult<()> {
    let limits = state.store.get_organization(org).await?.limits;
    if limits.max_dataset_megabytes.is_none() {
        return Ok(());
    }
    let existing = state.store.list_datasets(org).await?;
    let mut stored = tokio::fs::metadata(path).await.map(|m| m.len()).unwrap_or(0);
    for dataset in &existing {
        if !Path::new(&dataset.location).is_absolute() {
            let file = file_of(&state.config.data_dir, dataset);
            stored += tokio::fs::metadata(file).await.map(|m| m.len()).unwrap_or(0);
        }
    }
    if !limits.admits_dataset_bytes(stored) {
        return Err(vitrine_store::StoreError::LimitReached {
            limit: vitrine_core::limits::MAX_DATASET_MEGABYTES,
        }
        .into());
    }
    Ok(())
}

/// Registers a file by path (the command line); the file stays where it is.
pub async fn register_path(
    store: &dyn Store,
    engine: &Engine,
    org: OrgId,
    name: &str,
    path: &Path,
) -> Result<Dataset, String> {
    let name = validate::name("name", name).map_err(|e| e.to_string())?;
    let format = DataFormat::from_file_name(&path.to_string_lossy())
        .ok_or("the file must end in .csv or .parquet")?;
    let absolute = std::fs::canonicalize(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let info = engine.inspect(&absolute, format).await.map_err(|e| e.to_string())?;
    let dataset = record(
        org,
        DatasetId::generate(),
        name,
        format,
        absolute.to_string_lossy().to_string(),
        &info,
        Utc::now(),
    );
    store.create_dataset(org, &Actor::system(Utc::now()), &dataset).await.map_err(|e| e.to_string())
}

pub async fn delete(
    state: &AppState,
    scope: &ContentScope,
    caller: &Caller,
    id: DatasetId,
) -> ApiResult<()> {
    let dataset = state.store.get_dataset(scope.org_id(), id).await?;
    state.store.delete_dataset(scope.org_id(), &caller.actor(state.clock.now()), id).await?;
    state.engine.unload(&id.to_string());
    if !Path::new(&dataset.location).is_absolute() {
        let _ = tokio::fs::remove_file(file_of(&state.config.data_dir, &dataset)).await;
    }
    Ok(())
}

/// An error message without file system paths: uploads are named by the user, not the server.
fn without_paths(message: &str) -> String {
    message
        .split_whitespace()
        .map(|word| if word.contains('/') || word.contains('\\') { "the file" } else { word })
        .collect::<Vec<_>>()
        .join(" ")
}
