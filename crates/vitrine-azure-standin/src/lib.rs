//! A stand-in for the cloud services Vitrine calls for Power BI, which this machine cannot
//! reach: Entra ID's token endpoint, the Power BI REST API and Azure Resource Manager, all
//! under one address, following their documented behaviour (request and answer shapes,
//! status codes, headers). Only tests use it; it is never part of the product's build.
//!
//! By default it accepts any credentials and holds one workspace with two reports (one on a
//! dataset with row-level security) and one capacity of each kind, running. Tests steer it
//! through `/__standin/…`: move its clock, make the next ARM calls fail, pause a capacity as
//! someone in the Azure portal would, and read the ARM calls and embed tokens it answered.

pub mod arm;
pub mod entra;
pub mod powerbi;
pub mod report;
pub mod world;

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

pub use world::{Settings, World};

const CAPACITY: &str =
    "/subscriptions/{subscription}/resourceGroups/{group}/providers/{namespace}/capacities/{name}";

/// Every route of the stand-in over `world`.
pub fn router(world: Arc<World>) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(entra::token))
        .route("/v1.0/myorg/groups", get(powerbi::groups))
        .route("/v1.0/myorg/groups/{group}/reports", get(powerbi::reports))
        .route("/v1.0/myorg/groups/{group}/reports/{report}", get(powerbi::report))
        .route(
            "/v1.0/myorg/groups/{group}/reports/{report}/GenerateToken",
            post(powerbi::generate_token_v1),
        )
        .route("/v1.0/myorg/groups/{group}/datasets/{dataset}", get(powerbi::dataset))
        .route("/v1.0/myorg/GenerateToken", post(powerbi::generate_token_v2))
        .route(CAPACITY, get(arm::get))
        .route(&format!("{CAPACITY}/{{action}}"), post(arm::act))
        .route(
            "/subscriptions/{subscription}/providers/{namespace}/locations/{location}/operationresults/{id}",
            get(arm::operation),
        )
        .route("/reportEmbed", get(report::page))
        .route("/reportEmbed/session", post(report::session))
        .route("/__standin/clock", post(advance_clock))
        .route("/__standin/faults", post(add_fault))
        .route("/__standin/calls", get(calls))
        .route("/__standin/grants", get(grants))
        .route("/__standin/embed-tokens", get(embed_tokens))
        .route("/__standin/capacities/{name}/state", put(set_capacity_state))
        .with_state(world)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Advance {
    seconds: i64,
}

/// Moves the stand-in's clock forward (access and embed tokens expire, transitions finish).
async fn advance_clock(State(world): State<Arc<World>>, Json(advance): Json<Advance>) -> Response {
    world.with(|inner, _| inner.offset += chrono::Duration::seconds(advance.seconds.max(0)));
    StatusCode::NO_CONTENT.into_response()
}

async fn add_fault(State(world): State<Arc<World>>, Json(fault): Json<world::Fault>) -> Response {
    world.with(|inner, _| inner.faults.push_back(fault));
    StatusCode::NO_CONTENT.into_response()
}

async fn calls(State(world): State<Arc<World>>) -> Response {
    world.with(|inner, _| Json(json!(inner.calls)).into_response())
}

/// How many access tokens the token endpoint granted.
async fn grants(State(world): State<Arc<World>>) -> Response {
    world.with(|inner, _| Json(json!(inner.grants)).into_response())
}

async fn embed_tokens(State(world): State<Arc<World>>) -> Response {
    world.with(|inner, _| Json(json!(inner.embed_tokens)).into_response())
}

#[derive(Deserialize)]
struct StateChange {
    state: String,
}

/// Pauses or starts a capacity at once, as someone in the Azure portal would.
async fn set_capacity_state(
    State(world): State<Arc<World>>,
    Path(name): Path<String>,
    Json(change): Json<StateChange>,
) -> Response {
    world.with(|inner, _| {
        let power = match change.state.as_str() {
            "Paused" => world::Power::Paused,
            "Running" => world::Power::Running,
            _ => return StatusCode::BAD_REQUEST.into_response(),
        };
        match inner.capacities.iter_mut().find(|c| c.name == name) {
            Some(capacity) => {
                capacity.power = power;
                StatusCode::NO_CONTENT.into_response()
            }
            None => StatusCode::NOT_FOUND.into_response(),
        }
    })
}

/// Serves the stand-in on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, world: Arc<World>) -> std::io::Result<()> {
    axum::serve(listener, router(world)).await
}
