//! `/api/v1/audit`: the organization's log of entity changes (administrators), as JSON or, with
//! `format=csv`, as a CSV download.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::json;
use crate::app::AppState;
use crate::auth::ApiCaller;
use crate::error::{ApiError, ApiResult};
use crate::services::audit;

pub async fn list(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let scope = caller.principal.admin()?;
    let as_csv = match query.get("format").map(String::as_str) {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => return Err(ApiError::invalid("format", "must be json or csv")),
    };
    let default_limit = if as_csv { audit::MAX_LIMIT } else { audit::DEFAULT_LIMIT };
    let filter = audit::filter_from_query(&query, default_limit)?;
    let entries = state.store.list_audit(scope.org_id(), &filter).await?;
    if as_csv {
        return Ok(csv_download(audit::to_csv(&entries)?, "vitrine-audit.csv"));
    }
    Ok(Json(json::list(&entries, json::audit_entry)).into_response())
}

pub fn csv_download(body: Vec<u8>, filename: &str) -> Response {
    let disposition = format!("attachment; filename=\"{filename}\"");
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response()
}
