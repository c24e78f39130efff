//! `/api/v1/embed/tokens` and `/api/v1/embed/identities`: a host app's backend mints embed
//! tokens for its own users with an API key (scope `embed`, or `admin`), and revokes them.

use axum::Json;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};

use super::tokens::{Requester, until_fresh};
use super::{JsonFields, json, requests};
use crate::app::AppState;
use crate::auth::{ApiCaller, Caller, authenticate_headers};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::services::embed_tokens;

/// The caller of the host-app endpoints: an API key that may mint embed tokens.
async fn minting_key(headers: &HeaderMap, state: &AppState) -> ApiResult<Caller> {
    let caller =
        authenticate_headers(headers, state).await?.ok_or_else(ApiError::unauthenticated)?;
    match &caller.api_key {
        Some(key) if key.scope.mints_embed_tokens() => Ok(caller),
        Some(_) => Err(ApiError::new(
            ErrorCode::Forbidden,
            "This API key may only read; embed tokens are minted with a key of scope embed or admin.",
        )),
        None => Err(ApiError::new(
            ErrorCode::Forbidden,
            "Embed tokens for a host app's users are minted by its backend with an API key (X-API-Key), not by a signed-in user.",
        )),
    }
}

/// The minting key of a request, read before its body: without one, a body is never parsed.
pub struct MintingKey(Caller);

impl FromRequestParts<AppState> for MintingKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        minting_key(&parts.headers, state).await.map(MintingKey)
    }
}

/// A token for one of the host app's users, who has no Vitrine account: the organization's
/// lifetime and timed update apply, row-level security filters by the identity's roles and
/// attributes, and the key's capacity rights apply.
#[utoipa::path(post, path = "/embed/tokens", tag = "Embed",
    request_body = requests::EmbedTokenRequest,
    security(("apiKey" = [])),
    responses(
        (status = 200, description = "A token for the identity and these reports.", body = json::EmbedToken),
        (status = 403, description = "`Forbidden` (not a minting key), `NoAccess` (a report the key does not list).", body = crate::error::ErrorBody),
    ))]
pub async fn mint(
    State(state): State<AppState>,
    Requester(client): Requester,
    headers: HeaderMap,
    MintingKey(first): MintingKey,
    JsonFields(input): JsonFields,
) -> ApiResult<Json<json::EmbedToken>> {
    let first = std::sync::Mutex::new(Some(first));
    let request = embed_tokens::read_request(&input)?;
    let issued = until_fresh(|| async {
        // Starting over, the key is read again: it may have been revoked meanwhile.
        let taken = first.lock().unwrap_or_else(|poison| poison.into_inner()).take();
        let caller = match taken {
            Some(caller) => caller,
            None => minting_key(&headers, &state).await?,
        };
        let key = caller.api_key.as_ref().ok_or_else(ApiError::unauthenticated)?;
        embed_tokens::mint(&state, &caller, key, &request, &client).await
    })
    .await?;
    Ok(Json(issued.into()))
}

/// Every token of one of the host app's users stops working within a second (the host's user
/// signed out, or lost access in the host app).
#[utoipa::path(post, path = "/embed/identities/{id}/revoke-tokens", tag = "Embed",
    params(("id" = String, Path, description = "The host app's id of its user, as given in `identity.id`")),
    security(("apiKey" = [])),
    responses((status = 204, description = "Revoked.")))]
pub async fn revoke_identity(
    State(state): State<AppState>,
    MintingKey(caller): MintingKey,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    embed_tokens::revoke(&state, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The host apps' users embed keys minted tokens for, latest seen first (at most 500).
#[utoipa::path(get, path = "/embed/identities", tag = "Embed",
    security(("session" = []), ("apiKey" = [])),
    responses((status = 200, body = Vec<json::Identity>)))]
pub async fn identities(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> ApiResult<Json<Vec<json::Identity>>> {
    let scope = caller.principal.admin()?;
    let identities = state.store.list_identities(scope.org_id(), 500).await?;
    Ok(Json(json::list(&identities)))
}
