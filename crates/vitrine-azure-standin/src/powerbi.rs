//! The Power BI REST API, as much as embedding needs: the workspaces (groups) the principal
//! belongs to, their reports, and embed tokens by GenerateToken V2
//! (`POST /v1.0/myorg/GenerateToken`) and V1 (`POST /v1.0/myorg/groups/{g}/reports/{r}/GenerateToken`).
//! Errors are `{"error":{"code","message"}}`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::world::{
    AccessToken, Audience, EmbedTokenRecord, Fault, FaultApi, Inner, Report, World, opaque,
};

/// Where reports are embedded from (Power BI's own host).
pub const EMBED_HOST: &str = "https://app.powerbi.com";

pub fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "error": { "code": code, "message": message } }))).into_response()
}

/// The caller's access token, if it is one of ours for `audience` and still valid.
pub fn caller(
    inner: &Inner,
    headers: &HeaderMap,
    audience: Audience,
    now: DateTime<Utc>,
) -> Result<AccessToken, Box<Response>> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    let unauthorized = || {
        let mut response = StatusCode::UNAUTHORIZED.into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            "Bearer authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\""
                .parse()
                .expect("header"),
        );
        response
    };
    let Some(token) = presented.and_then(|p| inner.access_tokens.get(p)) else {
        return Err(Box::new(unauthorized()));
    };
    if token.audience != audience {
        return Err(Box::new(unauthorized()));
    }
    if token.expires_at <= now {
        return Err(Box::new(error(
            StatusCode::FORBIDDEN,
            "TokenExpired",
            "Access token has expired, resubmit with a new access token",
        )));
    }
    Ok(token.clone())
}

/// Runs `f` for a caller holding a valid Power BI token; answers the refusal otherwise.
fn as_caller(
    world: &World,
    headers: &HeaderMap,
    f: impl FnOnce(&mut Inner, AccessToken, DateTime<Utc>) -> Response,
) -> Response {
    world.with(|inner, now| {
        if let Some(fault) = inner.take_fault(FaultApi::PowerBi) {
            return faulted(fault);
        }
        match caller(inner, headers, Audience::PowerBi, now) {
            Ok(token) => f(inner, token, now),
            Err(response) => *response,
        }
    })
}

/// What Power BI answers a throttled (429, with `Retry-After`) or refused call.
fn faulted(fault: Fault) -> Response {
    let status = StatusCode::from_u16(fault.status).unwrap_or(StatusCode::TOO_MANY_REQUESTS);
    let mut response = match status {
        StatusCode::TOO_MANY_REQUESTS => error(
            status,
            "TooManyRequests",
            "You have exceeded the amount of requests allowed in the current time frame",
        ),
        StatusCode::UNAUTHORIZED => error(status, "TokenExpired", "Access token has expired"),
        StatusCode::FORBIDDEN => {
            error(status, "Forbidden", "API is not accessible for application")
        }
        other => error(other, "InternalServerError", "The stand-in was asked to fail."),
    };
    if let Some(seconds) = fault.retry_after {
        response.headers_mut().insert(axum::http::header::RETRY_AFTER, seconds.into());
    }
    response
}

fn member(inner: &Inner, client_id: &str, workspace: Uuid) -> bool {
    inner.workspaces.iter().any(|w| {
        w.id == workspace && (w.members.is_empty() || w.members.iter().any(|m| m == client_id))
    })
}

fn not_found(what: &str) -> Response {
    error(StatusCode::NOT_FOUND, "PowerBIEntityNotFound", &format!("{what} not found"))
}

fn report_json(report: &Report) -> Value {
    json!({
        "id": report.id,
        "reportType": "PowerBIReport",
        "name": report.name,
        "webUrl": format!("{EMBED_HOST}/groups/{}/reports/{}", report.workspace_id, report.id),
        "embedUrl": format!("{EMBED_HOST}/reportEmbed?reportId={}&groupId={}", report.id, report.workspace_id),
        "isFromPbix": true,
        "isOwnedByMe": false,
        "datasetId": report.dataset_id,
        "datasetWorkspaceId": report.workspace_id,
        "users": [],
        "subscriptions": [],
    })
}

pub async fn groups(State(world): State<Arc<World>>, headers: HeaderMap) -> Response {
    as_caller(&world, &headers, |inner, token, _| {
        let value: Vec<Value> = inner
            .workspaces
            .iter()
            .filter(|w| member(inner, &token.client_id, w.id))
            .map(|w| {
                json!({
                    "id": w.id,
                    "isReadOnly": false,
                    "isOnDedicatedCapacity": w.capacity_id.is_some(),
                    "capacityId": w.capacity_id,
                    "defaultDatasetStorageFormat": "Small",
                    "type": "Workspace",
                    "name": w.name,
                })
            })
            .collect();
        Json(json!({
            "@odata.context": "https://api.powerbi.com/v1.0/myorg/$metadata#groups",
            "value": value,
        }))
        .into_response()
    })
}

pub async fn reports(
    State(world): State<Arc<World>>,
    Path(group): Path<Uuid>,
    headers: HeaderMap,
) -> Response {
    as_caller(&world, &headers, |inner, token, _| {
        if !member(inner, &token.client_id, group) {
            return not_found("Workspace");
        }
        let value: Vec<Value> =
            inner.reports.iter().filter(|r| r.workspace_id == group).map(report_json).collect();
        Json(json!({
            "@odata.context": format!("https://api.powerbi.com/v1.0/myorg/groups/{group}/$metadata#reports"),
            "value": value,
        }))
        .into_response()
    })
}

pub async fn report(
    State(world): State<Arc<World>>,
    Path((group, id)): Path<(Uuid, Uuid)>,
    headers: HeaderMap,
) -> Response {
    as_caller(&world, &headers, |inner, token, _| {
        match inner.reports.iter().find(|r| r.id == id && r.workspace_id == group) {
            Some(report) if member(inner, &token.client_id, group) => {
                Json(report_json(report)).into_response()
            }
            _ => not_found("Report"),
        }
    })
}

/// `GET /v1.0/myorg/groups/{group}/datasets/{id}`: whether embedding it needs an effective
/// identity (`isEffectiveIdentityRequired`, `isEffectiveIdentityRolesRequired`).
pub async fn dataset(
    State(world): State<Arc<World>>,
    Path((group, id)): Path<(Uuid, Uuid)>,
    headers: HeaderMap,
) -> Response {
    as_caller(&world, &headers, |inner, token, _| {
        let found = inner.datasets.iter().find(|d| d.id == id && d.workspace_id == group);
        match found {
            Some(dataset) if member(inner, &token.client_id, group) => Json(json!({
                "id": dataset.id,
                "name": dataset.name,
                "addRowsAPIEnabled": false,
                "isRefreshable": true,
                "isEffectiveIdentityRequired": dataset.rls,
                "isEffectiveIdentityRolesRequired": dataset.rls,
                "isOnPremGatewayRequired": false,
                "targetStorageMode": "Abf",
                "webUrl": format!("{EMBED_HOST}/groups/{group}/datasets/{id}"),
            }))
            .into_response(),
            _ => not_found("Dataset"),
        }
    })
}

#[derive(Debug, Deserialize)]
pub struct Item {
    id: Uuid,
}

/// The body of GenerateToken V2.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerateTokenV2 {
    #[serde(default)]
    reports: Vec<Item>,
    #[serde(default)]
    datasets: Vec<Item>,
    #[serde(default)]
    target_workspaces: Vec<Item>,
    #[serde(default)]
    identities: Vec<Value>,
    #[serde(default)]
    lifetime_in_minutes: Option<i64>,
}

/// The body of the V1 report GenerateToken.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerateTokenV1 {
    #[serde(default)]
    access_level: Option<String>,
    #[serde(default)]
    identities: Vec<Value>,
    #[serde(default)]
    lifetime_in_minutes: Option<i64>,
}

/// The datasets an effective identity names.
fn identity_datasets(identity: &Value) -> Vec<String> {
    identity["datasets"]
        .as_array()
        .map(|list| list.iter().filter_map(|d| d.as_str().map(str::to_lowercase)).collect())
        .unwrap_or_default()
}

/// Makes an embed token for `reports` and `datasets` after Power BI's checks: every item
/// exists where the principal may read it; a dataset with row-level security needs an
/// effective identity, one without refuses one; `lifetimeInMinutes` can only shorten the
/// token (it never outlives the access token that asked for it).
fn generate(
    inner: &mut Inner,
    token: &AccessToken,
    now: DateTime<Utc>,
    reports: &[Uuid],
    mut datasets: Vec<Uuid>,
    identities: Vec<Value>,
    lifetime: Option<i64>,
) -> Response {
    if reports.len() > 50 || datasets.len() > 50 {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "Maximum 50 reports and 50 datasets",
        );
    }
    for id in reports {
        let Some(report) = inner.reports.iter().find(|r| r.id == *id) else {
            return not_found("Report");
        };
        if !member(inner, &token.client_id, report.workspace_id) {
            return not_found("Report");
        }
        if !datasets.contains(&report.dataset_id) {
            datasets.push(report.dataset_id);
        }
    }
    for id in &datasets {
        let Some(dataset) = inner.datasets.iter().find(|d| d.id == *id) else {
            return not_found("Dataset");
        };
        let named = identities
            .iter()
            .any(|identity| identity_datasets(identity).contains(&id.to_string().to_lowercase()));
        if dataset.rls && !named {
            return error(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                &format!(
                    "Creating embed token for accessing dataset {id} requires effective identity to be provided"
                ),
            );
        }
        if !dataset.rls && named {
            return error(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                &format!(
                    "Creating embed token for accessing dataset {id} shouldn't have effective identity"
                ),
            );
        }
    }
    if identities.iter().any(|identity| identity["username"].as_str().is_none_or(str::is_empty)) {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "An effective identity needs a username",
        );
    }
    let mut expiration = token.expires_at;
    match lifetime {
        Some(minutes) if minutes < 0 => {
            return error(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                "lifetimeInMinutes must be a positive integer",
            );
        }
        Some(minutes) if minutes > 0 => {
            expiration = expiration.min(now + Duration::minutes(minutes))
        }
        _ => {}
    }
    let record = EmbedTokenRecord {
        token_id: Uuid::new_v4(),
        token: opaque("H4sI"),
        expiration,
        reports: reports.to_vec(),
        datasets,
        identities: Value::Array(identities),
    };
    let body = json!({
        "token": record.token,
        "tokenId": record.token_id,
        "expiration": record.expiration.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    });
    inner.embed_tokens.push(record);
    Json(body).into_response()
}

pub async fn generate_token_v2(
    State(world): State<Arc<World>>,
    headers: HeaderMap,
    Json(request): Json<GenerateTokenV2>,
) -> Response {
    as_caller(&world, &headers, |inner, token, now| {
        if request.target_workspaces.iter().any(|w| !member(inner, &token.client_id, w.id)) {
            return not_found("Workspace");
        }
        let reports: Vec<Uuid> = request.reports.iter().map(|r| r.id).collect();
        let datasets: Vec<Uuid> = request.datasets.iter().map(|d| d.id).collect();
        generate(
            inner,
            &token,
            now,
            &reports,
            datasets,
            request.identities,
            request.lifetime_in_minutes,
        )
    })
}

pub async fn generate_token_v1(
    State(world): State<Arc<World>>,
    Path((group, report)): Path<(Uuid, Uuid)>,
    headers: HeaderMap,
    Json(request): Json<GenerateTokenV1>,
) -> Response {
    as_caller(&world, &headers, |inner, token, now| {
        let level = request.access_level.as_deref().unwrap_or("View");
        if !["View", "Edit", "Create"].contains(&level) {
            return error(StatusCode::BAD_REQUEST, "InvalidRequest", "accessLevel is not valid");
        }
        if !inner.reports.iter().any(|r| r.id == report && r.workspace_id == group) {
            return not_found("Report");
        }
        generate(
            inner,
            &token,
            now,
            &[report],
            Vec::new(),
            request.identities,
            request.lifetime_in_minutes,
        )
    })
}
