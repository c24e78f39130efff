//! Report definitions: parsed, checked against their dataset, saved; and the queries viewers
//! run against them.

use serde_json::Value;
use vitrine_core::token::EmbedClaims;
use vitrine_core::{ContentScope, DatasetId, OrgId, ReportId};
use vitrine_engine::{EngineError, QueryRequest, QueryResult, ReportDefinition, RlsError};
use vitrine_store::Report;

use super::datasets;
use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::reads::ReportRead;

fn invalid_definition(message: impl Into<String>) -> ApiError {
    ApiError::invalid("definition", message)
}

/// Checks a definition against its dataset without saving it.
pub async fn check(state: &AppState, org: OrgId, value: Value) -> ApiResult<ReportDefinition> {
    let definition =
        ReportDefinition::from_json(value).map_err(|e| invalid_definition(e.to_string()))?;
    let dataset_id: DatasetId = definition.dataset.parse().map_err(|_| {
        invalid_definition(format!("dataset: unknown dataset `{}`", definition.dataset))
    })?;
    let dataset = state.store.get_dataset(org, dataset_id).await.map_err(|_| {
        invalid_definition(format!("dataset: unknown dataset `{}`", definition.dataset))
    })?;
    let info = datasets::ensure_open(state, &dataset, datasets::OpenFor::Authors).await?;
    definition.validate(&info).map_err(|e| invalid_definition(e.to_string()))?;
    Ok(definition)
}

pub async fn save(
    state: &AppState,
    scope: &ContentScope,
    caller: &Caller,
    report: ReportId,
    value: Value,
) -> ApiResult<Report> {
    state.store.get_report(scope.org_id(), report).await?;
    let definition = check(state, scope.org_id(), value).await?;
    let normalized = serde_json::to_value(&definition).map_err(|_| ApiError::internal())?;
    let actor = caller.actor(state.clock.now());
    let saved = state
        .store
        .set_report_definition(scope.org_id(), &actor, report, Some(&normalized))
        .await?;
    state.reads.forget_report(report);
    // Open viewers of the report reload its visuals in place.
    state.notices.publish(scope.org_id(), crate::notices::Notice::Report { report });
    Ok(saved)
}

fn no_content() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "This report has no content yet.")
}

/// The report's definition, or `NotFound` when it has none yet.
pub fn of(report: &Report) -> ApiResult<ReportDefinition> {
    let value = report.definition.clone().ok_or_else(no_content)?;
    ReportDefinition::from_json(value).map_err(|_| ApiError::internal())
}

/// Runs the query of the holder of `claims` (an embed token) with their row-level-security
/// identity, on the report as this node read it within the last second.
pub async fn query(
    state: &AppState,
    read: &ReportRead,
    request: &QueryRequest,
    claims: &EmbedClaims,
) -> ApiResult<std::sync::Arc<QueryResult>> {
    match answer(state, read, request, claims).await? {
        // A definition saved on another node a moment ago may name a page, visual, slicer or
        // filter that this node's copy does not have yet (the change feed has not told it):
        // read the report again, once, before refusing.
        Err(
            EngineError::UnknownPage(_)
            | EngineError::UnknownVisual(_)
            | EngineError::UnknownSlicer(_)
            | EngineError::FilterNotAllowed(_),
        ) => {
            state.reads.forget_report(read.report.id);
            let read = state.reads.report(&*state.store, claims.org, read.report.id).await?;
            answer(state, &read, request, claims).await?.map_err(engine_error)
        }
        answer => answer.map_err(engine_error),
    }
}

/// The engine's answer to the query on the report as `read`, once the capacity, the
/// definition and the dataset let it run.
async fn answer(
    state: &AppState,
    read: &ReportRead,
    request: &QueryRequest,
    claims: &EmbedClaims,
) -> ApiResult<Result<std::sync::Arc<QueryResult>, EngineError>> {
    if let Some(capacity) = read.report.capacity_id {
        super::capacities::admit_token(state, claims, capacity).await?;
    }
    let definition = match &read.definition {
        Some(definition) => definition,
        None if read.report.definition.is_none() => return Err(no_content()),
        None => return Err(ApiError::internal()),
    };
    let missing = || {
        ApiError::new(
            ErrorCode::NotFound,
            "This report's dataset no longer exists; ask its owner to choose another.",
        )
    };
    let id: DatasetId = definition.dataset.parse().map_err(|_| missing())?;
    let dataset = state.store.get_dataset(claims.org, id).await.map_err(|_| missing())?;
    datasets::ensure_open(state, &dataset, datasets::OpenFor::Viewers).await?;
    Ok(match state.engine.query(definition, request, &claims.rls).await {
        Err(error @ (EngineError::FileGone(_) | EngineError::NotLoaded(_))) => {
            // Another node switched in new data (or deleted the dataset): the file this query
            // read was removed, or the change closed the dataset here between the open and
            // the query. Read the record again, once.
            tracing::info!(dataset = %id, %error, "the data changed under a query; asking again");
            state.engine.close(&id.to_string());
            let dataset = state.store.get_dataset(claims.org, id).await.map_err(|_| missing())?;
            datasets::ensure_open(state, &dataset, datasets::OpenFor::Viewers).await?;
            state.engine.query(definition, request, &claims.rls).await
        }
        answer => answer,
    })
}

pub fn engine_error(error: EngineError) -> ApiError {
    match error {
        EngineError::UnknownPage(_) => ApiError::invalid("page", error.to_string()),
        EngineError::UnknownVisual(_) => ApiError::invalid("visual", error.to_string()),
        EngineError::UnknownSlicer(_) => ApiError::invalid("slicer", error.to_string()),
        EngineError::VisualOrSlicer => ApiError::invalid("visual", error.to_string()),
        EngineError::FilterNotAllowed(_) | EngineError::InvalidFilter(_) => {
            ApiError::invalid("filters", error.to_string())
        }
        EngineError::Rls(RlsError::NoRole) => ApiError::new(
            ErrorCode::NoRlsRole,
            "This report shows each person only their own data, and no data has been assigned to you. Ask an administrator for a row-level-security role.",
        ),
        EngineError::Timeout => ApiError::new(ErrorCode::Internal, error.to_string())
            .with_status(axum::http::StatusCode::GATEWAY_TIMEOUT),
        EngineError::SourceUnavailable(detail) => {
            tracing::warn!(%detail, "a live dataset's source did not answer");
            ApiError::new(
                ErrorCode::SourceUnavailable,
                "This report's database did not answer. The report tries again by itself.",
            )
        }
        EngineError::Failed(message) if message.to_lowercase().contains("resources exhausted") => {
            tracing::warn!(%message, "a report query ran out of the engine's memory pool");
            ApiError::new(
                ErrorCode::QuotaExceeded,
                "This visual needs more memory than the server allows its queries (limits.memory_megabytes); narrow it with filters.",
            )
        }
        other => {
            tracing::error!(error = %other, "report query failed");
            ApiError::internal()
        }
    }
}
