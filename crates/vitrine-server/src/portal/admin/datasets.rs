//! Admin Portal › Datasets: upload CSV or Parquet files and see their columns.

use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use maud::html;
use vitrine_core::{ContentScope, DatasetId};

use super::{DoneQuery, content_scope, done, flash_of};
use crate::app::AppState;
use crate::auth::{Caller, PortalCaller};
use crate::portal::layout::{Flash, Section, action_button, csrf_field, date, flash, page};
use crate::portal::{FormData, OnPage, PortalResult};
use crate::services::{datasets, parse_id};

pub async fn list(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    query: DoneQuery,
) -> PortalResult {
    let scope = content_scope(&caller)?;
    render_list(&state, &caller, &scope, flash_of(&query), StatusCode::OK).await
}

async fn render_list(
    state: &AppState,
    caller: &Caller,
    scope: &ContentScope,
    notice: Flash,
    status: StatusCode,
) -> PortalResult {
    let list = state.store.list_datasets(scope.org_id()).await.on_page(caller)?;
    let body = html! {
        div.page-head { h1 { "Datasets" } p.muted { "The data reports are built on: CSV or Parquet files, held in memory by Vitrine's report engine." } }
        (flash(&notice))
        section.card {
            @if list.is_empty() { p.muted { "No datasets yet." } } @else {
                table {
                    thead { tr { th { "Name" } th { "Format" } th.num { "Rows" } th.num { "Columns" } th { "Added" } } }
                    tbody {
                        @for dataset in &list {
                            tr {
                                td { a href={ "/admin/datasets/" (dataset.id) } { (dataset.name) } }
                                td { (dataset.format) }
                                td.num { (dataset.row_count) }
                                td.num { (dataset.columns.as_array().map(|c| c.len()).unwrap_or(0)) }
                                td { (date(dataset.created_at)) }
                            }
                        }
                    }
                }
            }
        }
        section.card {
            h2 { "Upload a dataset" }
            p.muted { "A CSV file with a header row, or a Parquet file; up to 512 MB." }
            form.grid-form method="post" action="/admin/datasets" enctype="multipart/form-data" {
                (csrf_field(caller))
                label { "Name" input type="text" name="name" required; }
                label.wide { "File" input type="file" name="file" accept=".csv,.parquet" required; }
                div.form-actions { button.primary type="submit" { "Upload" } }
            }
        }
    };
    Ok((status, page(Some(caller), "Datasets", Some(Section::Datasets), body)).into_response())
}

/// `POST /admin/datasets`: the multipart form carries the CSRF token as its `csrf` part.
pub async fn create(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    form: Multipart,
) -> PortalResult {
    let scope = content_scope(&caller)?;
    let result = async {
        let (csrf, mut upload) = crate::api::read_portal_upload(&state, form).await?;
        caller.check_csrf(csrf.as_deref())?;
        let name = upload.name.clone().unwrap_or_default();
        let file_name = upload.file_name.clone().unwrap_or_default();
        let path = upload
            .path
            .clone()
            .ok_or_else(|| crate::error::ApiError::invalid("file", "is required"))?;
        let dataset =
            datasets::add_upload(&state, &scope, &caller, &name, &file_name, &path).await?;
        upload.path = None;
        Ok::<_, crate::error::ApiError>(dataset)
    }
    .await;
    match result {
        Ok(dataset) => Ok(done(&format!("/admin/datasets/{}", dataset.id), "created")),
        Err(e) if e.code == crate::error::ErrorCode::CsrfRejected => Err(e).on_page(&caller),
        Err(e) => render_list(&state, &caller, &scope, Flash::error(e.message), e.status).await,
    }
}

pub async fn show(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Path(id): Path<String>,
    query: DoneQuery,
) -> PortalResult {
    let scope = content_scope(&caller)?;
    let id: DatasetId = parse_id(&id, "dataset").on_page(&caller)?;
    let dataset = state.store.get_dataset(scope.org_id(), id).await.on_page(&caller)?;
    let columns = dataset.columns.as_array().cloned().unwrap_or_default();
    let body = html! {
        nav.crumbs { a href="/admin/datasets" { "Datasets" } " / " (dataset.name) }
        div.page-head {
            h1 { (dataset.name) }
            p.muted { (dataset.format) " · " (dataset.row_count) " rows · id " code { (dataset.id) } }
            @if let Some(reason) = state.memory.unavailable(dataset.id) {
                p.flash.error role="alert" { "Not available to reports: " (reason) }
            }
        }
        (flash(&flash_of(&query)))
        section.card {
            h2 { "Columns" }
            p.muted { "Use these names in report definitions. Sums and averages need numeric columns; time grains need dates." }
            table {
                thead { tr { th { "Column" } th { "Kind" } } }
                tbody {
                    @for column in &columns {
                        tr { td { code { (column["name"].as_str().unwrap_or_default()) } } td { (column["kind"].as_str().unwrap_or_default()) } }
                    }
                }
            }
        }
        section.card.danger-zone {
            h2 { "Delete dataset" }
            p.muted { "Reports built on it stop showing data." }
            (action_button(&caller, &format!("/admin/datasets/{id}/delete"), "Delete dataset", "danger"))
        }
    };
    Ok(page(Some(&caller), &dataset.name, Some(Section::Datasets), body).into_response())
}

pub async fn delete(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Path(id): Path<String>,
    form: FormData,
) -> PortalResult {
    form.check_csrf(&caller)?;
    let scope = content_scope(&caller)?;
    let id: DatasetId = parse_id(&id, "dataset").on_page(&caller)?;
    datasets::delete(&state, &scope, &caller, id).await.on_page(&caller)?;
    Ok(done("/admin/datasets", "deleted"))
}
