//! Embed tokens over the API: issuing one for a report, revoking a user's or the whole
//! organization's, and the token audit trail.

use axum::Json;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use vitrine_core::{ReportId, UserId};

use super::{json, requests};
use crate::app::AppState;
use crate::auth::ApiCaller;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::services::{audit, parse_id, tokens};
use crate::tokens::IssuedToken;
use crate::tokens::request_info::RequestInfo;

/// The requester's address and user agent, for the audit trail.
pub struct Requester(pub RequestInfo);

impl<S: Send + Sync> FromRequestParts<S> for Requester {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Requester(RequestInfo::of(parts)))
    }
}

/// How often a token request starts over when access changed while it was answered.
const STALE_ATTEMPTS: usize = 3;

/// `POST /api/v1/reports/{id}/token`. Authenticates inside, not by extractor, so that when an
/// administrator changes access while the token is made it can start over from the session:
/// the answer then reflects the change instead of carrying a token that is already revoked.
#[utoipa::path(post, path = "/reports/{id}/token", tag = "Embed", params(("id" = ReportId, Path)),
    responses(
        (status = 200, description = "A token for the caller and this report.", body = json::EmbedToken),
        (status = 403, description = "`NoAccess`, or `NoRlsRole` on a report with row-level security.", body = crate::error::ErrorBody),
    ))]
pub async fn issue(
    State(state): State<AppState>,
    Requester(request): Requester,
    method: Method,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<json::EmbedToken>> {
    let report = parse_id(&id, "report")?;
    let issued = until_fresh(|| async {
        let ApiCaller(caller) = ApiCaller::resolve(&method, &headers, &state).await?;
        tokens::issue(&state, &caller, report, &request).await
    })
    .await?;
    Ok(Json(issued.into()))
}

/// Runs `attempt` (which authenticates, reads access and issues) until it answers a token made
/// from access as it stands: when access changed while it was answered, its token would be
/// refused at once, so it starts over from the credentials, a few times.
pub(super) async fn until_fresh<F, Fut>(mut attempt: F) -> ApiResult<IssuedToken>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<IssuedToken, tokens::IssueFailure>>,
{
    for _ in 0..STALE_ATTEMPTS {
        match attempt().await {
            Ok(issued) => return Ok(issued),
            Err(tokens::IssueFailure::Refused(error)) => return Err(error),
            Err(tokens::IssueFailure::Stale) => {}
        }
    }
    Err(ApiError::new(
        ErrorCode::Unavailable,
        "Access to this report is changing right now; ask again in a moment.",
    ))
}

impl From<IssuedToken> for json::EmbedToken {
    fn from(issued: IssuedToken) -> Self {
        Self {
            token: issued.token,
            token_id: issued.token_id,
            expiration: json::Time(issued.expires_at),
            expires_in_seconds: issued.expires_in_seconds,
            refresh: issued.refresh,
            powerbi: issued.powerbi.map(|grant| json::PowerBiEmbed {
                access_token: grant.token,
                token_id: grant.token_id,
                expiration: json::Time(grant.expires_at),
                embed_url: grant.embed_url,
                report_id: grant.report_id,
            }),
        }
    }
}

/// Revokes every embed token of a user within a second; their open screens go dark.
#[utoipa::path(post, path = "/users/{id}/revoke-tokens", tag = "Embed",
    params(("id" = UserId, Path)),
    responses((status = 204, description = "Revoked.")))]
pub async fn revoke_user(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let scope = caller.principal.admin()?;
    tokens::revoke_user(&state, &scope, &caller, parse_id(&id, "user")?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Revokes every embed token of the organization within a second.
#[utoipa::path(post, path = "/tokens/revoke", tag = "Embed",
    responses((status = 204, description = "Revoked.")))]
pub async fn revoke_all(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> ApiResult<StatusCode> {
    let scope = caller.principal.admin()?;
    tokens::revoke_organization(&state, &scope, &caller).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The token audit: issues, refreshes, rejections and revocations, newest first.
#[utoipa::path(get, path = "/audit/tokens", tag = "Audit", params(requests::TokenAuditQuery),
    responses((status = 200, content(
        (Vec<json::TokenEvent> = "application/json"),
        (String = "text/csv"),
    ))))]
pub async fn events(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Query(pairs): Query<Vec<(String, String)>>,
) -> ApiResult<Response> {
    let scope = caller.principal.admin()?;
    let query = super::audit::filters(pairs)?;
    let as_csv = match query.get("format").map(String::as_str) {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => return Err(ApiError::invalid("format", "must be json or csv")),
    };
    let default_limit = if as_csv { audit::MAX_LIMIT } else { audit::DEFAULT_LIMIT };
    let filter = audit::token_filter_from_query(&query, default_limit)?;
    let events = state.store.list_token_events(scope.org_id(), &filter).await?;
    if as_csv {
        return Ok(super::audit::csv_download(
            audit::token_events_csv(&events)?,
            "vitrine-token-audit.csv",
        ));
    }
    Ok(Json(json::list::<_, json::TokenEvent>(&events)).into_response())
}
