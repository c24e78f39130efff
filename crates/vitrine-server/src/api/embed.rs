//! `/api/v1/embed/…`: the endpoints that read report data, authenticated by an embed token in
//! `Authorization: Bearer …` and nothing else. Tokens in the URL are refused outright: URLs
//! end up in logs, histories and Referer headers.

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::header;
use axum::http::request::Parts;
use vitrine_core::ReportId;
use vitrine_core::token::{EmbedClaims, TokenError};
use vitrine_store::TokenEvent;

use super::{JsonFields, json};
use crate::app::AppState;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::services::definitions;
use crate::tokens::request_info::RequestInfo;
use vitrine_engine::QueryRequest;

/// Query parameters that look like a token being passed in the URL.
const TOKEN_PARAMETERS: [&str; 5] = ["access_token", "token", "embed_token", "bearer", "jwt"];

/// A verified embed token, and who presented it.
pub struct EmbedCaller {
    pub claims: Arc<EmbedClaims>,
    pub request: RequestInfo,
}

impl EmbedCaller {
    /// Refuses a valid token for another report (or another organization's).
    pub fn require_report(&self, state: &AppState, report: ReportId) -> ApiResult<()> {
        if self.claims.opens(report) {
            return Ok(());
        }
        let error =
            ApiError::new(ErrorCode::NoAccess, "This embed token is for another report.").bearer();
        record_rejection(state, &self.request, "other report", Some(&self.claims));
        Err(error)
    }
}

fn token_error(error: &TokenError) -> ApiError {
    let (code, message) = match error {
        TokenError::Expired => {
            (ErrorCode::TokenExpired, "The embed token has expired; request a new one.")
        }
        TokenError::Revoked => (
            ErrorCode::TokenRevoked,
            "The embed token was revoked: access to this report changed. Request a new one.",
        ),
        TokenError::Invalid(_) => (ErrorCode::TokenInvalid, "The embed token is not valid."),
    };
    ApiError::new(code, message).bearer()
}

/// Audits a refusal in the organization the token belongs to, once per token and reason. A
/// request that proves nobody costs no write: it is counted, logged sampled and throttled.
fn record_rejection(
    state: &AppState,
    request: &RequestInfo,
    reason: &'static str,
    claims: Option<&EmbedClaims>,
) {
    let Some(claims) = claims else {
        state.tokens.anonymous_failures.anonymous_failure(reason, request.address);
        return;
    };
    if !state.tokens.rejections.first_time(claims.jti, reason) {
        return;
    }
    state.tokens.audit.record(TokenEvent {
        id: 0,
        org_id: Some(claims.org),
        at: state.clock.now(),
        kind: "rejected".into(),
        user_id: claims.sub.user(),
        identity_id: claims.sub.identity(),
        report_id: claims.reports.first().copied(),
        token_id: Some(claims.jti.to_string()),
        reason: Some(reason.to_string()),
        ip: request.ip.clone(),
        user_agent: request.user_agent.clone(),
        actor: None,
        user_label: None,
        report_label: None,
    });
}

/// Takes one failure from the client's allowance; false when it has none left.
fn allowance(state: &AppState, request: &RequestInfo, now: chrono::DateTime<chrono::Utc>) -> bool {
    request.address.is_none_or(|address| state.guards.failed_auth.allow(address, now))
}

pub fn too_many_failures() -> ApiError {
    ApiError::new(
        ErrorCode::RateLimited,
        "Too many requests with invalid credentials from your address; wait a minute.",
    )
}

fn token_in_query(parts: &Parts) -> bool {
    parts.uri.query().is_some_and(|query| {
        query.split('&').filter_map(|pair| pair.split('=').next()).any(|name| {
            TOKEN_PARAMETERS.iter().any(|candidate| name.eq_ignore_ascii_case(candidate))
        })
    })
}

impl FromRequestParts<AppState> for EmbedCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let request = RequestInfo::of(parts);
        if token_in_query(parts) {
            if !allowance(state, &request, state.clock.now()) {
                return Err(too_many_failures().bearer());
            }
            record_rejection(state, &request, "token in URL", None);
            state.metrics.token_rejected("token in URL");
            return Err(ApiError::new(
                ErrorCode::TokenInvalid,
                "Embed tokens are never accepted in a URL; send them as Authorization: Bearer.",
            )
            .bearer());
        }
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        let Some(presented) = presented else {
            state.metrics.token_rejected("missing");
            return Err(ApiError::new(
                ErrorCode::TokenInvalid,
                "Send the embed token as Authorization: Bearer <token>.",
            )
            .bearer());
        };
        let now = state.clock.now();
        match state.tokens.verify(presented, now.timestamp()) {
            Ok(claims) => Ok(EmbedCaller { claims, request }),
            Err(rejection) if rejection.claims.is_none() && !allowance(state, &request, now) => {
                Err(too_many_failures().bearer())
            }
            Err(rejection) => {
                record_rejection(
                    state,
                    &request,
                    rejection.error.reason(),
                    rejection.claims.as_deref(),
                );
                Err(token_error(&rejection.error))
            }
        }
    }
}

/// The report the token opens: its pages and visuals, never its row-level-security rules.
#[utoipa::path(get, path = "/embed/reports/{id}", tag = "Embed", params(("id" = ReportId, Path)),
    responses((status = 200, body = json::EmbedReport)))]
pub async fn report(
    State(state): State<AppState>,
    caller: EmbedCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<json::EmbedReport>> {
    let id: ReportId = id.parse().map_err(|_| ApiError::not_found("report").bearer())?;
    caller.require_report(&state, id)?;
    let report = state
        .store
        .get_report(caller.claims.org, id)
        .await
        .map_err(|e| ApiError::from(e).bearer())?;
    // The pages and visuals; the row-level-security rules stay on the server.
    let definition = definitions::of(&report).ok().map(|definition| json::EmbedDefinition {
        row_level_security: definition.has_rls(),
        pages: serde_json::to_value(&definition.pages).unwrap_or_default(),
    });
    Ok(Json(json::EmbedReport {
        report: json::Report::from(&report),
        access: "View".into(),
        viewer: json::EmbedViewer { username: caller.claims.rls.username.clone() },
        definition,
    }))
}

/// The rows of one visual (or the values of a page's slicer), with the token's row-level
/// security applied.
#[utoipa::path(post, path = "/embed/reports/{id}/query", tag = "Embed",
    params(("id" = ReportId, Path)), request_body = QueryRequest,
    responses(
        (status = 200, body = vitrine_engine::QueryResult),
        (status = 504, description = "The query took longer than 15 seconds.", body = crate::error::ErrorBody),
    ))]
pub async fn query(
    State(state): State<AppState>,
    caller: EmbedCaller,
    Path(id): Path<String>,
    JsonFields(input): JsonFields,
) -> ApiResult<Json<std::sync::Arc<vitrine_engine::QueryResult>>> {
    let id: ReportId = id.parse().map_err(|_| ApiError::not_found("report").bearer())?;
    caller.require_report(&state, id)?;
    let request: QueryRequest = serde_json::from_value(input.into_value()).map_err(|e| {
        ApiError::invalid("body", format!("{e}; expected {{\"page\",\"visual\",\"filters\"}}"))
    })?;
    let report = state
        .reads
        .report(&*state.store, caller.claims.org, id)
        .await
        .map_err(|e| ApiError::from(e).bearer())?;
    let result = definitions::query(&state, &report, &request, &caller.claims)
        .await
        .map_err(ApiError::bearer)?;
    Ok(Json(result))
}
