//! Azure Resource Manager for Power BI Embedded (`Microsoft.PowerBIDedicated/capacities`, A
//! SKUs) and Fabric (`Microsoft.Fabric/capacities`, F SKUs) capacities: `GET` a capacity
//! (`properties.state`: `Succeeded`/`Active` running, `Paused`, or `Pausing`/`Resuming`
//! while a change is under way), `POST …/suspend` and `…/resume` (202 with `Location` and
//! `Retry-After`; the state changes over the configured time), and `GET` of the operation's
//! `Location` (202 with `Retry-After` until done, then 200). Every request needs
//! `api-version`; errors are `{"error":{"code","message"}}`; a test can make the next calls
//! answer 429 (with `Retry-After`), 401 or 403.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use uuid::Uuid;

use crate::powerbi::{caller, error};
use crate::world::{
    ArmCall, Audience, Capacity, CapacityKind, FaultApi, Inner, Operation, Power, World,
};

/// Seconds a client is told to wait before polling an operation.
const POLL_AFTER_SECONDS: u64 = 2;

type Query_ = Query<HashMap<String, String>>;

/// The checks every ARM call goes through, in ARM's order; a refused call is recorded.
fn admit(
    inner: &mut Inner,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    method: &str,
    path: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), Box<Response>> {
    match refusal(inner, headers, query, path, now) {
        Some(response) => {
            record(inner, now, method, path, response.status());
            Err(Box::new(response))
        }
        None => Ok(()),
    }
}

/// Why ARM refuses a call, if it does: a fault a test asked for, no valid token for ARM, or
/// no `api-version`.
fn refusal(
    inner: &mut Inner,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    path: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Response> {
    if let Some(fault) = inner.take_fault(FaultApi::Arm) {
        return Some(faulted(fault.status, fault.retry_after, path));
    }
    if caller(inner, headers, Audience::Arm, now).is_err() {
        let mut response = error(
            StatusCode::UNAUTHORIZED,
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing or its token is not valid for https://management.azure.com/.",
        );
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            "Bearer authorization_uri=\"https://login.microsoftonline.com/common\""
                .parse()
                .expect("header"),
        );
        return Some(response);
    }
    if !query.contains_key("api-version") {
        return Some(error(
            StatusCode::BAD_REQUEST,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        ));
    }
    None
}

fn faulted(status: u16, retry_after: Option<u64>, path: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::TOO_MANY_REQUESTS);
    let mut response = match status {
        StatusCode::TOO_MANY_REQUESTS => error(
            status,
            "TooManyRequests",
            "The request is being throttled as the limit has been reached for operation type.",
        ),
        StatusCode::FORBIDDEN => error(
            status,
            "AuthorizationFailed",
            &format!(
                "The client does not have authorization to perform action over scope '{path}' or the scope is invalid."
            ),
        ),
        StatusCode::UNAUTHORIZED => {
            error(status, "InvalidAuthenticationToken", "The access token is invalid.")
        }
        other => error(other, "InternalServerError", "The stand-in was asked to fail."),
    };
    if let Some(seconds) = retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, seconds.into());
    }
    response
}

fn record(
    inner: &mut Inner,
    now: chrono::DateTime<chrono::Utc>,
    method: &str,
    path: &str,
    status: StatusCode,
) {
    inner.calls.push(ArmCall {
        at: now,
        method: method.into(),
        path: path.into(),
        status: status.as_u16(),
    });
}

fn find<'a>(
    inner: &'a mut Inner,
    (subscription, group, namespace, name): &(String, String, String, String),
) -> Option<&'a mut Capacity> {
    let kind = CapacityKind::of_namespace(namespace)?;
    inner.capacities.iter_mut().find(|c| {
        c.kind == kind
            && c.subscription.eq_ignore_ascii_case(subscription)
            && c.resource_group.eq_ignore_ascii_case(group)
            && c.name.eq_ignore_ascii_case(name)
    })
}

fn resource_not_found(group: &str, name: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "ResourceNotFound",
        &format!("The Resource '{name}' under resource group '{group}' was not found."),
    )
}

fn capacity_json(capacity: &Capacity) -> serde_json::Value {
    let tier = match capacity.kind {
        CapacityKind::PowerbiEmbedded => "PBIE_Azure",
        CapacityKind::Fabric => "Fabric",
    };
    json!({
        "id": capacity.resource_id(),
        "name": capacity.name,
        "type": format!("{}/capacities", capacity.kind.namespace()),
        "location": capacity.location,
        "sku": { "name": capacity.sku, "tier": tier },
        "properties": {
            "state": capacity.state(),
            "provisioningState": "Succeeded",
            "administration": { "members": [] },
        },
    })
}

pub async fn get(
    State(world): State<Arc<World>>,
    Path(key): Path<(String, String, String, String)>,
    Query(query): Query_,
    headers: HeaderMap,
) -> Response {
    let path = format!(
        "/subscriptions/{}/resourceGroups/{}/providers/{}/capacities/{}",
        key.0, key.1, key.2, key.3
    );
    world.with(|inner, now| {
        if let Err(response) = admit(inner, &headers, &query, "GET", &path, now) {
            return *response;
        }
        let response = match find(inner, &key) {
            Some(capacity) => Json(capacity_json(capacity)).into_response(),
            None => resource_not_found(&key.1, &key.3),
        };
        record(inner, now, "GET", &path, response.status());
        response
    })
}

/// `POST …/{suspend|resume}`.
pub async fn act(
    State(world): State<Arc<World>>,
    Path((subscription, group, namespace, name, action)): Path<(
        String,
        String,
        String,
        String,
        String,
    )>,
    Query(query): Query_,
    headers: HeaderMap,
) -> Response {
    let key = (subscription, group, namespace, name);
    let path = format!(
        "/subscriptions/{}/resourceGroups/{}/providers/{}/capacities/{}/{action}",
        key.0, key.1, key.2, key.3
    );
    world.with(|inner, now| {
        if let Err(response) = admit(inner, &headers, &query, "POST", &path, now) {
            return *response;
        }
        let transition = inner.settings.transition;
        let response = match (find(inner, &key), action.as_str()) {
            (None, _) => resource_not_found(&key.1, &key.3),
            (Some(_), other) if other != "suspend" && other != "resume" => error(
                StatusCode::NOT_FOUND,
                "InvalidResourceType",
                &format!("The resource type '{other}' could not be found."),
            ),
            (Some(capacity), action) => {
                let until = now + transition;
                // Asking for the state a capacity is in (or going to) changes nothing and is
                // accepted alike.
                capacity.power = match (action, capacity.power) {
                    ("suspend", Power::Running | Power::Resuming { .. }) => Power::Pausing { until },
                    ("resume", Power::Paused | Power::Pausing { .. }) => Power::Resuming { until },
                    (_, current) => current,
                };
                let done_at = match capacity.power {
                    Power::Pausing { until } | Power::Resuming { until } => until,
                    _ => now,
                };
                let location = capacity.location.clone();
                let operation = Uuid::new_v4();
                inner.operations.insert(operation, Operation { done_at });
                let version = query.get("api-version").cloned().unwrap_or_default();
                let url = format!(
                    "{}/subscriptions/{}/providers/{}/locations/{location}/operationresults/{operation}?api-version={version}",
                    base_url(&headers),
                    key.0,
                    key.2
                );
                let mut response = StatusCode::ACCEPTED.into_response();
                response.headers_mut().insert(header::LOCATION, url.parse().expect("location"));
                response.headers_mut().insert(header::RETRY_AFTER, POLL_AFTER_SECONDS.into());
                response
            }
        };
        record(inner, now, "POST", &path, response.status());
        response
    })
}

/// The address the caller reached this stand-in at, for the `Location` it is given.
fn base_url(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    format!("http://{host}")
}

/// `GET` of an operation's `Location`.
pub async fn operation(
    State(world): State<Arc<World>>,
    Path((subscription, namespace, location, id)): Path<(String, String, String, Uuid)>,
    Query(query): Query_,
    headers: HeaderMap,
) -> Response {
    let path = format!(
        "/subscriptions/{subscription}/providers/{namespace}/locations/{location}/operationresults/{id}"
    );
    world.with(|inner, now| {
        if let Err(response) = admit(inner, &headers, &query, "GET", &path, now) {
            return *response;
        }
        let response = match inner.operations.get(&id) {
            None => {
                error(StatusCode::NOT_FOUND, "OperationNotFound", "The operation was not found.")
            }
            Some(operation) if operation.done_at > now => {
                let mut response = StatusCode::ACCEPTED.into_response();
                response.headers_mut().insert(header::RETRY_AFTER, POLL_AFTER_SECONDS.into());
                response
            }
            Some(_) => Json(json!({ "status": "Succeeded" })).into_response(),
        };
        record(inner, now, "GET", &path, response.status());
        response
    })
}
