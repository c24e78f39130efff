//! `/api/v1/audit`: the organization's log of entity changes (administrators), as JSON or, with
//! `format=csv`, as a CSV download.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::{json, requests};
use crate::app::AppState;
use crate::auth::ApiCaller;
use crate::error::{ApiError, ApiResult};
use crate::services::audit;

/// The organization's audit of changes, newest first, as JSON or (`format=csv`) a download.
#[utoipa::path(get, path = "/audit", tag = "Audit", params(requests::AuditQuery),
    responses((status = 200, content(
        (Vec<json::AuditEntry> = "application/json"),
        (String = "text/csv"),
    ))))]
pub async fn list(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Query(pairs): Query<Vec<(String, String)>>,
) -> ApiResult<Response> {
    let scope = caller.principal.admin()?;
    let query = filters(pairs)?;
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
    Ok(Json(json::list::<_, json::AuditEntry>(&entries)).into_response())
}

/// The filters of an audit query, each given once. Unlike the portal's filter form, which
/// leaves fields blank, the API refuses a blank value where a value of a type is expected.
pub fn filters(pairs: Vec<(String, String)>) -> ApiResult<HashMap<String, String>> {
    const TYPED: [&str; 7] =
        ["format", "entityType", "kind", "limit", "since", "until", "reportId"];
    let mut query = HashMap::new();
    for (name, value) in pairs {
        if TYPED.contains(&name.as_str()) && value.trim().is_empty() {
            return Err(ApiError::invalid(name, "must not be blank; leave it out instead"));
        }
        if query.contains_key(&name) {
            return Err(ApiError::invalid(name, "is given more than once"));
        }
        query.insert(name, value);
    }
    Ok(query)
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
