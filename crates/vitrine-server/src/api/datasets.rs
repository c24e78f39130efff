//! `/api/v1/datasets`: administrators and contributors upload CSV or Parquet files and read
//! their columns.

use axum::Json;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use tokio::io::AsyncWriteExt;
use vitrine_core::DatasetId;
use vitrine_store::Dataset;

use super::{json, requests};
use crate::app::AppState;
use crate::auth::ApiCaller;
use crate::error::{ApiError, ApiResult};
use crate::services::datasets::{self, DATASETS_DIR};
use crate::services::parse_id;

/// Uploads larger than this are refused.
pub const MAX_UPLOAD_BYTES: usize = 512 * 1024 * 1024;

fn dataset_json(state: &AppState, dataset: &Dataset) -> json::Dataset {
    json::Dataset::of(dataset, state.memory.unavailable(dataset.id))
}

/// The organization's datasets and their columns.
#[utoipa::path(get, path = "/datasets", tag = "Datasets",
    responses((status = 200, body = Vec<json::Dataset>)))]
pub async fn list(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> ApiResult<Json<Vec<json::Dataset>>> {
    let scope = caller.principal.content_manager()?;
    let datasets = state.store.list_datasets(scope.org_id()).await?;
    Ok(Json(datasets.iter().map(|d| dataset_json(&state, d)).collect()))
}

#[utoipa::path(get, path = "/datasets/{id}", tag = "Datasets", params(("id" = DatasetId, Path)),
    responses((status = 200, body = json::Dataset)))]
pub async fn show(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<json::Dataset>> {
    let scope = caller.principal.content_manager()?;
    let dataset = state.store.get_dataset(scope.org_id(), parse_id(&id, "dataset")?).await?;
    Ok(Json(dataset_json(&state, &dataset)))
}

/// Deletes a dataset no report reads.
#[utoipa::path(delete, path = "/datasets/{id}", tag = "Datasets", params(("id" = DatasetId, Path)),
    responses((status = 204, description = "Deleted.")))]
pub async fn delete(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let scope = caller.principal.content_manager()?;
    let id: DatasetId = parse_id(&id, "dataset")?;
    datasets::delete(&state, &scope, &caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A multipart upload, written to a temporary file as it arrives.
pub struct Upload {
    pub name: Option<String>,
    pub file_name: Option<String>,
    pub path: Option<std::path::PathBuf>,
}

impl Drop for Upload {
    fn drop(&mut self) {
        if let Some(path) = &self.path {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Reads the `name` and `file` parts of a multipart form.
pub async fn read_upload(state: &AppState, form: Multipart) -> ApiResult<Upload> {
    let (csrf, upload) = read_parts(state, form, false).await?;
    debug_assert!(csrf.is_none());
    Ok(upload)
}

/// The portal's upload form: `csrf`, `name` and `file`.
pub async fn read_portal_upload(
    state: &AppState,
    form: Multipart,
) -> ApiResult<(Option<String>, Upload)> {
    read_parts(state, form, true).await
}

async fn read_parts(
    state: &AppState,
    mut form: Multipart,
    with_csrf: bool,
) -> ApiResult<(Option<String>, Upload)> {
    let mut csrf = None;
    let dir = state.config.data_dir.join(DATASETS_DIR);
    tokio::fs::create_dir_all(&dir).await.map_err(|_| ApiError::internal())?;
    let mut upload = Upload { name: None, file_name: None, path: None };
    let unreadable =
        |_| ApiError::invalid("file", "the upload could not be read (too large, or cut off)");
    while let Some(mut field) = form.next_field().await.map_err(unreadable)? {
        match field.name() {
            Some("csrf") if with_csrf && csrf.is_none() => {
                csrf = Some(small_text(&mut field, "csrf").await?);
            }
            Some("name") if upload.name.is_none() => {
                upload.name = Some(small_text(&mut field, "name").await?);
            }
            Some("file") if upload.path.is_some() => {
                return Err(ApiError::invalid("file", "send one file per upload"));
            }
            Some(name @ ("csrf" | "name")) => {
                return Err(ApiError::invalid(name.to_string(), "is sent more than once"));
            }
            Some("file") => {
                if with_csrf && csrf.is_none() {
                    // The form sends its CSRF field first: nothing is stored for a forged one.
                    return Err(ApiError::new(
                        crate::error::ErrorCode::CsrfRejected,
                        "Missing CSRF token.",
                    ));
                }
                upload.file_name = field.file_name().map(str::to_string);
                let path = dir.join(format!(".upload-{}", uuid::Uuid::now_v7()));
                upload.path = Some(path.clone());
                let mut file =
                    tokio::fs::File::create(&path).await.map_err(|_| ApiError::internal())?;
                let mut pace = UploadPace::new(&state.config.limits);
                while let Some(chunk) = pace.next(field.chunk()).await?.map_err(unreadable)? {
                    pace.received(chunk.len());
                    file.write_all(&chunk).await.map_err(|_| ApiError::internal())?;
                }
                file.flush().await.map_err(|_| ApiError::internal())?;
            }
            Some(other) => {
                return Err(ApiError::invalid(
                    other.to_string(),
                    "is not a known field; send name and file",
                ));
            }
            None => return Err(ApiError::invalid("body", "every part needs a name")),
        }
    }
    Ok((csrf, upload))
}

/// Uploads take as long as they need while they keep a minimum average rate, after a first
/// grace period (the request timeout): a stalled or trickling upload is stopped instead of
/// holding a connection.
struct UploadPace {
    started: tokio::time::Instant,
    grace: std::time::Duration,
    bytes: u64,
    min_bytes_per_second: u64,
}

impl UploadPace {
    fn new(limits: &crate::config::Limits) -> Self {
        Self {
            started: tokio::time::Instant::now(),
            grace: std::time::Duration::from_secs(limits.request_timeout_seconds),
            bytes: 0,
            min_bytes_per_second: limits.upload_min_bytes_per_second,
        }
    }

    fn received(&mut self, bytes: usize) {
        self.bytes += bytes as u64;
    }

    /// Waits for the next chunk until the moment the average rate would fall below the minimum.
    async fn next<T>(&self, chunk: impl std::future::Future<Output = T>) -> ApiResult<T> {
        if self.min_bytes_per_second == 0 {
            return Ok(chunk.await);
        }
        let earned = std::time::Duration::from_secs_f64(
            (self.bytes + 1) as f64 / self.min_bytes_per_second as f64,
        );
        let deadline = self.started + self.grace + earned;
        tokio::time::timeout_at(deadline, chunk).await.map_err(|_| {
            ApiError::new(
                crate::error::ErrorCode::RequestTimeout,
                format!(
                    "The upload was slower than {} KB/s and was stopped.",
                    self.min_bytes_per_second / 1024
                ),
            )
        })
    }
}

/// The longest text part of an upload form (a name, a CSRF token).
const MAX_TEXT_PART_BYTES: usize = 4 * 1024;

/// Reads a text part, refusing it as soon as it grows past [`MAX_TEXT_PART_BYTES`].
async fn small_text(
    field: &mut axum::extract::multipart::Field<'_>,
    name: &str,
) -> ApiResult<String> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|_| {
        ApiError::invalid(name.to_string(), "the upload could not be read (too large, or cut off)")
    })? {
        if bytes.len() + chunk.len() > MAX_TEXT_PART_BYTES {
            return Err(ApiError::invalid(
                name.to_string(),
                format!("must be at most {MAX_TEXT_PART_BYTES} bytes"),
            ));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).map_err(|_| ApiError::invalid(name.to_string(), "must be UTF-8 text"))
}

/// Uploads a dataset: multipart with `name` and one `file` (.csv or .parquet).
#[utoipa::path(post, path = "/datasets", tag = "Datasets",
    request_body(content = requests::DatasetUpload, content_type = "multipart/form-data"),
    responses(
        (status = 201, body = json::Dataset),
        (status = 413, description = "`QuotaExceeded`: over a memory or size limit.", body = crate::error::ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    form: Multipart,
) -> ApiResult<(StatusCode, Json<json::Dataset>)> {
    let scope = caller.principal.content_manager()?;
    let mut upload = read_upload(&state, form).await?;
    let name = upload.name.clone().ok_or_else(|| ApiError::invalid("name", "is required"))?;
    let file_name =
        upload.file_name.clone().ok_or_else(|| ApiError::invalid("file", "is required"))?;
    let path = upload.path.clone().ok_or_else(|| ApiError::invalid("file", "is required"))?;
    let dataset = datasets::add_upload(&state, &scope, &caller, &name, &file_name, &path).await?;
    upload.path = None;
    Ok((StatusCode::CREATED, Json(dataset_json(&state, &dataset))))
}
