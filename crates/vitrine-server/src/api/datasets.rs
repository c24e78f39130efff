//! `/api/v1/datasets`: administrators and contributors upload CSV or Parquet files (converted
//! to Parquet while they stream in), replace a dataset's data, add datasets of a connection
//! (direct or imported), refresh imported ones and read their history.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{StatusCode, header};
use tokio::io::AsyncWriteExt;
use vitrine_core::DatasetId;
use vitrine_core::source::RefreshTrigger;
use vitrine_engine::{DataFormat, storage};
use vitrine_store::Dataset;

use super::{JsonFields, json, requests};
use crate::app::AppState;
use crate::auth::ApiCaller;
use crate::error::{ApiError, ApiResult};
use crate::services::datasets::{self, ConvertedUpload};
use crate::services::{parse_id, sources};

/// Uploads larger than this are refused (a CSV of a hundred million rows is about 7 GB).
pub const MAX_UPLOAD_BYTES: usize = 16 * 1024 * 1024 * 1024;

pub fn dataset_json(state: &AppState, dataset: &Dataset) -> json::Dataset {
    json::Dataset::of(dataset, state.sources.is_importing(dataset.id))
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

/// Renames a dataset and, for an imported one, sets how it refreshes by itself.
#[utoipa::path(patch, path = "/datasets/{id}", tag = "Datasets", params(("id" = DatasetId, Path)),
    request_body = requests::DatasetSettings,
    responses((status = 200, body = json::Dataset)))]
pub async fn update(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
    JsonFields(input): JsonFields,
) -> ApiResult<Json<json::Dataset>> {
    let scope = caller.principal.content_manager()?;
    let id: DatasetId = parse_id(&id, "dataset")?;
    let dataset = sources::update_dataset(&state, &scope, &caller, id, &input).await?;
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

/// A multipart upload: its `name` and its `file`, converted to a dataset file as it arrived.
pub struct Upload {
    pub name: Option<String>,
    pub file: Option<ConvertedUpload>,
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

fn unreadable_upload<E>(_: E) -> ApiError {
    ApiError::invalid("file", "the upload could not be read (too large, or cut off)")
}

async fn read_parts(
    state: &AppState,
    mut form: Multipart,
    with_csrf: bool,
) -> ApiResult<(Option<String>, Upload)> {
    let mut csrf = None;
    tokio::fs::create_dir_all(state.files.scratch_dir()).await.map_err(|_| ApiError::internal())?;
    let mut upload = Upload { name: None, file: None };
    while let Some(mut field) = form.next_field().await.map_err(unreadable_upload)? {
        match field.name() {
            Some("csrf") if with_csrf && csrf.is_none() => {
                csrf = Some(small_text(&mut field, "csrf").await?);
            }
            Some("name") if upload.name.is_none() => {
                upload.name = Some(small_text(&mut field, "name").await?);
            }
            Some("file") if upload.file.is_some() => {
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
                let format = field
                    .file_name()
                    .and_then(DataFormat::from_file_name)
                    .ok_or_else(|| ApiError::invalid("file", "must be a .csv or .parquet file"))?;
                upload.file = Some(convert(state, &mut field, format).await?);
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

/// What the upload sends the CSV converter: bytes, then the end (a channel closed without
/// it is an upload cut off).
enum Piece {
    Bytes(Bytes),
    End,
}

/// CSV text from the upload, for the converter's thread.
struct UploadReader {
    pieces: tokio::sync::mpsc::Receiver<Piece>,
    current: Bytes,
    ended: bool,
}

impl std::io::Read for UploadReader {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            if self.ended {
                return Ok(0);
            }
            match self.pieces.blocking_recv() {
                Some(Piece::Bytes(bytes)) => self.current = bytes,
                Some(Piece::End) => self.ended = true,
                None => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the upload was cut off",
                    ));
                }
            }
        }
        let n = buffer.len().min(self.current.len());
        buffer[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// Converts the file part as it arrives: a CSV file is parsed and written as Parquet while
/// it streams in (nothing buffers it whole); a Parquet file, whose footer comes last, is
/// kept on disk and rewritten.
async fn convert(
    state: &AppState,
    field: &mut axum::extract::multipart::Field<'_>,
    format: DataFormat,
) -> ApiResult<ConvertedUpload> {
    let out = state.files.scratch_file();
    let mut pace = UploadPace::new(&state.config.limits);
    let converted = match format {
        DataFormat::Csv => {
            let (sender, pieces) = tokio::sync::mpsc::channel(16);
            let target = out.clone();
            let converter = tokio::task::spawn_blocking(move || {
                let reader = UploadReader { pieces, current: Bytes::new(), ended: false };
                storage::convert_csv(reader, &target)
            });
            let mut refused = false;
            while let Some(chunk) = pace.next(field.chunk()).await?.map_err(unreadable_upload)? {
                pace.received(chunk.len());
                if sender.send(Piece::Bytes(chunk)).await.is_err() {
                    // The converter stopped: its error says why.
                    refused = true;
                    break;
                }
            }
            if !refused {
                let _ = sender.send(Piece::End).await;
            }
            drop(sender);
            converter.await.map_err(|_| ApiError::internal())?
        }
        DataFormat::Parquet => {
            let raw = out.with_extension("raw");
            let written = async {
                let mut file =
                    tokio::fs::File::create(&raw).await.map_err(|_| ApiError::internal())?;
                while let Some(chunk) =
                    pace.next(field.chunk()).await?.map_err(unreadable_upload)?
                {
                    pace.received(chunk.len());
                    file.write_all(&chunk).await.map_err(|_| ApiError::internal())?;
                }
                file.flush().await.map_err(|_| ApiError::internal())
            }
            .await;
            let rewritten = match written {
                Ok(()) => {
                    let (input, target) = (raw.clone(), out.clone());
                    tokio::task::spawn_blocking(move || storage::rewrite_parquet(&input, &target))
                        .await
                        .map_err(|_| ApiError::internal())
                }
                Err(error) => Err(error),
            };
            let _ = tokio::fs::remove_file(&raw).await;
            rewritten?
        }
    };
    match converted {
        Ok(info) => Ok(ConvertedUpload { path: out, info }),
        Err(error) => {
            let _ = tokio::fs::remove_file(&out).await;
            Err(ApiError::invalid("file", without_paths(&error.to_string())))
        }
    }
}

/// An error message without file system paths: uploads are named by the user, not the server.
fn without_paths(message: &str) -> String {
    message
        .split_whitespace()
        .map(|word| if word.contains('/') || word.contains('\\') { "the file" } else { word })
        .collect::<Vec<_>>()
        .join(" ")
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

/// A new dataset: an upload (multipart with `name` and one `file`, .csv or .parquet), or a
/// table or read-only query of a connection (JSON).
#[utoipa::path(post, path = "/datasets", tag = "Datasets",
    request_body(content(
        (requests::DatasetUpload = "multipart/form-data"),
        (requests::SourceDataset = "application/json"),
    )),
    responses(
        (status = 201, body = json::Dataset),
        (status = 413, description = "`QuotaExceeded`: over a size limit.", body = crate::error::ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    request: Request,
) -> ApiResult<(StatusCode, Json<json::Dataset>)> {
    let scope = caller.principal.content_manager()?;
    let multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let dataset = if multipart {
        let form = Multipart::from_request(request, &state).await.map_err(|e| {
            ApiError::invalid("body", format!("is not a readable multipart form ({e})"))
        })?;
        let upload = read_upload(&state, form).await?;
        let name = upload.name.ok_or_else(|| ApiError::invalid("name", "is required"))?;
        let file = upload.file.ok_or_else(|| ApiError::invalid("file", "is required"))?;
        datasets::add_upload(&state, &scope, &caller, &name, file).await?
    } else {
        // This route admits uploads' sizes; a JSON body keeps every JSON body's bound.
        super::require_json(request.headers())?;
        let bytes = axum::body::to_bytes(request.into_body(), crate::app::MAX_BODY_BYTES)
            .await
            .map_err(|_| {
                ApiError::invalid("body", "is too large").with_status(StatusCode::PAYLOAD_TOO_LARGE)
            })?;
        let value = vitrine_core::input::parse_json(&bytes)
            .map_err(|e| ApiError::invalid("body", format!("is not valid JSON ({e})")))?;
        let input = vitrine_core::Fields::from_value(value)?;
        sources::create_dataset(&state, &scope, &caller, &input).await?
    };
    Ok((StatusCode::CREATED, Json(dataset_json(&state, &dataset))))
}

/// Replaces a file dataset's data with an upload (multipart `file`): checked against the
/// reports that read it (a column they use must remain), then switched in at once; open
/// viewers reload their visuals.
#[utoipa::path(put, path = "/datasets/{id}/data", tag = "Datasets", params(("id" = DatasetId, Path)),
    request_body(content = requests::DatasetData, content_type = "multipart/form-data"),
    responses(
        (status = 200, body = json::Dataset),
        (status = 409, description = "`InvalidInput`: the new data lacks columns reports use; the message names them.", body = crate::error::ErrorBody),
    ))]
pub async fn replace_data(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
    request: Request,
) -> ApiResult<Json<json::Dataset>> {
    let scope = caller.principal.content_manager()?;
    let id: DatasetId = parse_id(&id, "dataset")?;
    // Whose dataset it is is settled before a byte of the body is read.
    state.store.get_dataset(scope.org_id(), id).await?;
    let form = Multipart::from_request(request, &state).await.map_err(|e| {
        ApiError::invalid("body", format!("is not a readable multipart form ({e})"))
    })?;
    let upload = read_upload(&state, form).await?;
    if upload.name.is_some() {
        return Err(ApiError::invalid("name", "is not sent with new data; send only file"));
    }
    let file = upload.file.ok_or_else(|| ApiError::invalid("file", "is required"))?;
    let dataset = datasets::replace_data(&state, &scope, &caller, id, file).await?;
    Ok(Json(dataset_json(&state, &dataset)))
}

/// Starts a refresh of an imported dataset; its progress is in `GET …/refreshes`.
#[utoipa::path(post, path = "/datasets/{id}/refresh", tag = "Datasets", params(("id" = DatasetId, Path)),
    responses(
        (status = 202, description = "The import started."),
        (status = 409, description = "One is already running.", body = crate::error::ErrorBody),
    ))]
pub async fn refresh(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let scope = caller.principal.content_manager()?;
    let dataset = state.store.get_dataset(scope.org_id(), parse_id(&id, "dataset")?).await?;
    let actor = caller.actor(state.clock.now());
    sources::start_refresh(&state, &dataset, RefreshTrigger::Manual, actor)?;
    Ok(StatusCode::ACCEPTED)
}

/// The dataset's last refreshes, newest first: start, end, rows, version or error.
#[utoipa::path(get, path = "/datasets/{id}/refreshes", tag = "Datasets", params(("id" = DatasetId, Path)),
    responses((status = 200, body = Vec<json::DatasetRefresh>)))]
pub async fn refreshes(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<json::DatasetRefresh>>> {
    let scope = caller.principal.content_manager()?;
    let id: DatasetId = parse_id(&id, "dataset")?;
    state.store.get_dataset(scope.org_id(), id).await?;
    let history = state.store.list_refreshes(scope.org_id(), id, 50).await?;
    Ok(Json(history.iter().map(json::DatasetRefresh::from).collect()))
}
