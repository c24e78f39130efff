//! Datasets: Parquet files kept by [`crate::files`] (uploaded — a CSV converted once while it
//! streams in — and replaced in place, version after version), files registered by path from
//! the command line, and tables of an organization's databases (see [`super::sources`]). No
//! dataset is held in memory: one is opened for its first query, cheaply, and scanned on disk
//! or queried at its source; a paused capacity closes its datasets.

use crate::cluster::Change;
use std::path::Path;

use chrono::Utc;
use vitrine_core::{ContentScope, DatasetId, OrgId, validate};
use vitrine_engine::{DataFormat, DatasetInfo, Engine, ReportDefinition};
use vitrine_store::{Actor, Dataset, NewData, Store};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::files::{DATASETS_DIR, DatasetFiles, UPLOAD_PREFIX};

/// How old a file must be before the sweep removes it as left behind: a file written or
/// replaced more recently may still be settling into its record, or read, on another node.
const SWEEP_GRACE: chrono::Duration = chrono::Duration::minutes(10);

pub fn format_of(dataset: &Dataset) -> DataFormat {
    if dataset.format == "csv" { DataFormat::Csv } else { DataFormat::Parquet }
}

/// Where version `version` of a dataset's data is kept (relative to the storage's root). The
/// name is new each time: two nodes preparing the same version at once (an import here, an
/// upload there) write two files, and the one whose switch loses removes only its own.
pub fn location_of(id: DatasetId, version: u64) -> String {
    let unique = uuid::Uuid::new_v4().simple().to_string();
    format!("{DATASETS_DIR}/{id}/v{version}-{}.parquet", &unique[..12])
}

/// Whether Vitrine wrote the dataset's file (and may remove it), rather than a path
/// registered from the command line.
fn owned(dataset: &Dataset) -> bool {
    !dataset.location.is_empty() && !Path::new(&dataset.location).is_absolute()
}

/// Why a dataset is opened: for viewers' queries (refused while every report reading it is on
/// a paused capacity), or for authors checking a definition against it (always).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenFor {
    Viewers,
    Authors,
}

/// Opens a dataset's current version for queries unless it is open already.
pub async fn ensure_open(
    state: &AppState,
    dataset: &Dataset,
    purpose: OpenFor,
) -> ApiResult<DatasetInfo> {
    let id = dataset.id.to_string();
    // The record may be older than what is open (read just before a replacement): the newer
    // version answers.
    if state.engine.version(&id) >= Some(dataset.version)
        && let Some(info) = state.engine.info(&id)
    {
        return Ok(info);
    }
    // One open at a time; pausing a capacity takes the same lock, so the two never cross.
    let _opening = state.dataset_loading.lock().await;
    if state.engine.version(&id) >= Some(dataset.version)
        && let Some(info) = state.engine.info(&id)
    {
        return Ok(info);
    }
    // A query let through just before its capacity paused does not open the data again.
    if purpose == OpenFor::Viewers {
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
    open(state, dataset).await
}

/// Opens a dataset in the engine: its file, or its source's table.
pub async fn open(state: &AppState, dataset: &Dataset) -> ApiResult<DatasetInfo> {
    if let Some(source) = &dataset.source {
        if source.mode == vitrine_core::source::SourceMode::Direct {
            return super::sources::open_direct(state, dataset, source).await;
        }
        if dataset.format == "source" {
            return Err(ApiError::new(
                ErrorCode::SourceUnavailable,
                format!("The dataset “{}” has not been imported yet.", dataset.name),
            ));
        }
    }
    open_file(&state.engine, &state.files, dataset).await
}

/// Opens a dataset's file (owned files are removed once replaced and unread).
pub async fn open_file(
    engine: &Engine,
    files: &DatasetFiles,
    dataset: &Dataset,
) -> ApiResult<DatasetInfo> {
    let file = files.data_file(&dataset.location, format_of(dataset));
    engine.open_file(&dataset.id.to_string(), file, dataset.version).await.map_err(|error| {
        tracing::error!(dataset = %dataset.id, location = %dataset.location, %error, "could not open a dataset");
        ApiError::new(ErrorCode::Internal, format!("The dataset “{}” could not be opened.", dataset.name))
    })
}

/// An upload converted to a dataset file on this node, waiting to become a dataset or a
/// dataset's next version; removed if it becomes neither.
#[derive(Debug)]
pub struct ConvertedUpload {
    pub path: std::path::PathBuf,
    pub info: DatasetInfo,
}

impl ConvertedUpload {
    /// Stores the file as `location`; it is then no longer removed on drop.
    pub async fn settle(mut self, files: &DatasetFiles, location: &str) -> ApiResult<DatasetInfo> {
        if let Some(parent) = self.path.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(|_| ApiError::internal())?;
        }
        files.store_file(&self.path, location).await.map_err(|error| {
            tracing::error!(%error, location, "could not store a dataset file");
            ApiError::internal()
        })?;
        self.path = std::path::PathBuf::new();
        Ok(self.info.clone())
    }
}

impl Drop for ConvertedUpload {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn check_not_empty(info: &DatasetInfo) -> ApiResult<()> {
    if info.columns.is_empty() || info.row_count == 0 {
        return Err(ApiError::invalid(
            "file",
            "holds no data: a file with at least one row is needed",
        ));
    }
    Ok(())
}

/// A new dataset from an upload, named `name`.
pub async fn add_upload(
    state: &AppState,
    scope: &ContentScope,
    caller: &Caller,
    name: &str,
    upload: ConvertedUpload,
) -> ApiResult<Dataset> {
    let name = validate::name("name", name)?;
    check_not_empty(&upload.info)?;
    let size = file_size(&upload.path).await;
    within_limits(state, scope.org_id(), size, None).await?;
    let id = DatasetId::generate();
    let location = location_of(id, 1);
    let info = upload.settle(&state.files, &location).await?;
    let now = state.clock.now();
    let dataset = record(scope.org_id(), id, name, DataFormat::Parquet, location, &info, now);
    let created = state.store.create_dataset(scope.org_id(), &caller.actor(now), &dataset).await;
    match created {
        Ok(created) => Ok(created),
        Err(error) => {
            remove_dataset_files(&state.files, id).await;
            Err(error.into())
        }
    }
}

/// The reports of the organization that read dataset `id`, with their definitions.
async fn readers(
    store: &dyn Store,
    org: OrgId,
    id: DatasetId,
) -> ApiResult<Vec<(vitrine_store::Report, ReportDefinition)>> {
    let reports = store.list_reports(org).await?;
    Ok(reports
        .into_iter()
        .filter_map(|report| {
            let definition = ReportDefinition::from_json(report.definition.clone()?).ok()?;
            (definition.dataset == id.to_string()).then_some((report, definition))
        })
        .collect())
}

/// Refuses data that a report reading the dataset could not show: every report and visual it
/// would break is named.
pub async fn check_readers(
    state: &AppState,
    org: OrgId,
    id: DatasetId,
    info: &DatasetInfo,
    field: &str,
) -> ApiResult<()> {
    let broken: Vec<String> = readers(&*state.store, org, id)
        .await?
        .into_iter()
        .filter_map(|(report, definition)| {
            definition.validate(info).err().map(|e| format!("report “{}”: {e}", report.name))
        })
        .collect();
    if broken.is_empty() {
        return Ok(());
    }
    Err(ApiError::invalid(
        field,
        format!(
            "the new data would break {} report{}: {}. Keep the columns these reports use, or change the reports first.",
            broken.len(),
            if broken.len() == 1 { "" } else { "s" },
            broken.join("; ")
        ),
    )
    .with_status(axum::http::StatusCode::CONFLICT))
}

/// Tells open viewers of every report reading the dataset to reload their visuals.
pub async fn announce_new_data(state: &AppState, org: OrgId, id: DatasetId) {
    match readers(&*state.store, org, id).await {
        Ok(reports) => {
            for (report, _) in reports {
                state.notices.publish(org, crate::notices::Notice::Report { report: report.id });
            }
        }
        Err(error) => tracing::warn!(dataset = %id, %error.message, "could not announce new data"),
    }
}

/// Switches a dataset to the data in `file` (relative `location`, already in place) as its
/// next version, then to the engine, then tells the viewers. The file is removed if the
/// switch is refused.
pub async fn switch_version(
    state: &AppState,
    org: OrgId,
    actor: &Actor,
    dataset: &Dataset,
    location: String,
    info: &DatasetInfo,
) -> ApiResult<Dataset> {
    let data = NewData {
        expected_version: dataset.version,
        format: DataFormat::Parquet.as_str().into(),
        location: location.clone(),
        columns: serde_json::to_value(&info.columns).unwrap_or_default(),
        row_count: info.row_count,
    };
    let replaced = match state.store.replace_dataset_data(org, actor, dataset.id, &data).await {
        Ok(replaced) => replaced,
        Err(error) => {
            state.files.remove(&location).await;
            return Err(error.into());
        }
    };
    let id = dataset.id.to_string();
    let was_open = state.engine.info(&id).is_some();
    if was_open {
        // Queries under way finish on the old file, which goes once they are done.
        let _opening = state.dataset_loading.lock().await;
        open_file(&state.engine, &state.files, &replaced).await?;
    } else if owned(dataset) && dataset.location != replaced.location {
        state.files.remove(&dataset.location).await;
    }
    // Other nodes close their copy; it opens at the new version on its next query there.
    state.feed.announce(Change::Dataset { dataset: dataset.id });
    announce_new_data(state, org, dataset.id).await;
    Ok(replaced)
}

/// New data for a file dataset: checked against the reports that read it, then switched in.
pub async fn replace_data(
    state: &AppState,
    scope: &ContentScope,
    caller: &Caller,
    id: DatasetId,
    upload: ConvertedUpload,
) -> ApiResult<Dataset> {
    let org = scope.org_id();
    let dataset = state.store.get_dataset(org, id).await?;
    if dataset.source.is_some() {
        return Err(ApiError::invalid(
            "file",
            "this dataset reads its data from a connection; refresh it instead of uploading",
        ));
    }
    check_not_empty(&upload.info)?;
    check_readers(state, org, id, &upload.info, "file").await?;
    let size = file_size(&upload.path).await;
    let replaced_size = if owned(&dataset) { state.files.size(&dataset.location).await } else { 0 };
    within_limits(state, org, size, Some(replaced_size)).await?;
    let location = location_of(id, dataset.version + 1);
    let info = upload.settle(&state.files, &location).await?;
    switch_version(state, org, &caller.actor(state.clock.now()), &dataset, location, &info).await
}

/// The size of a file on this node (an upload being converted).
pub async fn file_size(path: &Path) -> u64 {
    tokio::fs::metadata(path).await.map(|m| m.len()).unwrap_or(0)
}

/// Refuses `added` bytes more of dataset files (replacing `replaced` bytes) that would take
/// the organization past the storage limit its operators set.
pub async fn within_limits(
    state: &AppState,
    org: OrgId,
    added: u64,
    replaced: Option<u64>,
) -> ApiResult<()> {
    let limits = state.store.get_organization(org).await?.limits;
    if limits.max_dataset_megabytes.is_none() {
        return Ok(());
    }
    let mut stored = added;
    for dataset in state.store.list_datasets(org).await? {
        if owned(&dataset) {
            stored += state.files.size(&dataset.location).await;
        }
    }
    stored = stored.saturating_sub(replaced.unwrap_or(0));
    if !limits.admits_dataset_bytes(stored) {
        return Err(vitrine_store::StoreError::LimitReached {
            limit: vitrine_core::limits::MAX_DATASET_MEGABYTES,
        }
        .into());
    }
    Ok(())
}

pub fn record(
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
        version: 1,
        updated_at: created_at,
        source: None,
    }
}

/// Registers a file by path (the command line); the file stays where it is and is read in
/// place, never copied or removed.
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
    forget(state, &dataset).await;
    Ok(())
}

/// Closes a deleted dataset for good and removes its files once no query reads them.
pub async fn forget(state: &AppState, dataset: &Dataset) {
    state.feed.announce(Change::Dataset { dataset: dataset.id });
    let was_open = state.engine.retire(&dataset.id.to_string());
    if !was_open {
        remove_dataset_files(&state.files, dataset.id).await;
    }
}

/// Removes every file of dataset `id` (its versions, current or not).
async fn remove_dataset_files(files: &DatasetFiles, id: DatasetId) {
    match files.list(&format!("{DATASETS_DIR}/{id}")).await {
        Ok(listed) => {
            for file in &listed {
                files.remove(&file.location).await;
            }
        }
        Err(error) => tracing::warn!(dataset = %id, %error, "could not list a dataset's files"),
    }
}

/// At start and when a node takes the lead: removes what a crash or a replaced version left
/// behind (uploads never finished, versions older than each dataset's current one), once
/// older than [`SWEEP_GRACE`]. Nothing is opened: a dataset opens on its first query, so a
/// restart is ready at once.
pub async fn sweep(state: &AppState) {
    let datasets = match state.store.all_datasets().await {
        Ok(datasets) => datasets,
        Err(error) => {
            tracing::error!(%error, "could not list datasets");
            return;
        }
    };
    let before = Utc::now() - SWEEP_GRACE;
    sweep_uploads(&state.files, before).await;
    let current: std::collections::HashSet<&str> =
        datasets.iter().filter(|d| owned(d)).map(|d| d.location.as_str()).collect();
    let known: std::collections::HashSet<String> =
        datasets.iter().map(|d| d.id.to_string()).collect();
    let listed = match state.files.list(DATASETS_DIR).await {
        Ok(listed) => listed,
        Err(error) => {
            tracing::error!(%error, "could not list dataset files");
            return;
        }
    };
    for file in listed {
        let mut parts = file.location.split('/').skip(1);
        let (Some(id), Some(_name)) = (parts.next(), parts.next()) else { continue };
        // A dataset not (yet) recorded is left alone: its file may be settling on another node.
        if known.contains(id) && !current.contains(file.location.as_str()) && file.modified < before
        {
            tracing::info!(location = %file.location, "removing a replaced dataset version");
            state.files.remove(&file.location).await;
        }
    }
}

/// Removes this node's conversions that never finished.
async fn sweep_uploads(files: &DatasetFiles, before: chrono::DateTime<Utc>) {
    let Ok(mut entries) = tokio::fs::read_dir(files.scratch_dir()).await else { return };
    while let Ok(Some(entry)) = entries.next_entry().await {
        let stale = entry
            .metadata()
            .await
            .and_then(|meta| meta.modified())
            .is_ok_and(|modified| chrono::DateTime::<Utc>::from(modified) < before);
        if entry.file_name().to_string_lossy().starts_with(UPLOAD_PREFIX) && stale {
            let _ = tokio::fs::remove_file(entry.path()).await;
        }
    }
}
