//! Who is calling: a session cookie (browsers) or an organization API key (scripts). Sessions
//! are random 256-bit tokens kept server-side only as SHA-256 hashes; the CSRF token is derived
//! from the session token, so it needs no storage and dies with the session.

pub mod api_key;
pub mod links;
pub mod login;
pub mod oidc;
pub mod password;
pub mod throttle;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use vitrine_core::token::Snapshot;
use vitrine_core::{AuthMethod, Principal};
use vitrine_store::{Actor, User};

use crate::app::AppState;
use crate::error::{ApiError, ErrorCode};

pub const SESSION_COOKIE: &str = "vitrine_session";
pub const CSRF_HEADER: &str = "x-csrf-token";
pub const API_KEY_HEADER: &str = "x-api-key";

/// A session is marked as used at most this often, to spare the database a write per request.
const TOUCH_INTERVAL_SECONDS: i64 = 15;

/// A random secret, URL-safe base64 of 32 bytes.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn sha256(value: &str) -> Vec<u8> {
    Sha256::digest(value.as_bytes()).to_vec()
}

/// The CSRF token that belongs to a session token.
pub fn csrf_for(session_token: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"vitrine-csrf\0");
    hasher.update(session_token.as_bytes());
    URL_SAFE_NO_PAD.encode(hasher.finalize())
}

/// The browser session behind a request.
#[derive(Debug, Clone)]
pub struct SessionHandle {
    pub token_hash: Vec<u8>,
    pub csrf_token: String,
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    /// The name of the caller's organization, shown in the portals.
    pub org_name: String,
    /// The organization's settings, read with the session or the API key.
    pub org_settings: vitrine_core::OrgSettings,
    /// The signed-in user; `None` for API keys.
    pub user: Option<User>,
    pub session: Option<SessionHandle>,
    /// The API key; `None` for sessions.
    pub api_key: Option<vitrine_store::ApiKey>,
    /// Taken before the session or key was read: tokens issued for this request are dated
    /// with it, so that a change of access made meanwhile revokes them.
    pub snapshot: Snapshot,
}

impl Caller {
    /// Cookie-authenticated requests must prove they come from our own pages.
    pub fn check_csrf(&self, presented: Option<&str>) -> Result<(), ApiError> {
        let Some(session) = &self.session else {
            return Ok(());
        };
        let expected = session.csrf_token.as_bytes();
        match presented {
            Some(token) if bool::from(token.as_bytes().ct_eq(expected)) => Ok(()),
            _ => Err(ApiError::new(
                ErrorCode::CsrfRejected,
                "Missing or wrong CSRF token: send the csrfToken from sign-in as X-CSRF-Token.",
            )),
        }
    }

    pub fn csrf_token(&self) -> &str {
        self.session.as_ref().map(|s| s.csrf_token.as_str()).unwrap_or_default()
    }

    pub fn actor(&self, at: DateTime<Utc>) -> Actor {
        let id = match (self.principal.method, self.principal.user_id) {
            (AuthMethod::ApiKey(key, _), _) => format!("apiKey:{key}"),
            (AuthMethod::Session | AuthMethod::Display, Some(user)) => user.to_string(),
            (AuthMethod::Session | AuthMethod::Display, None) => "unknown".into(),
        };
        Actor { id, label: self.principal.label.clone(), at }
    }
}

pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// Resolves the caller of a request, if any. Expired, idle or orphaned sessions are deleted.
pub async fn authenticate(parts: &Parts, state: &AppState) -> Result<Option<Caller>, ApiError> {
    authenticate_headers(&parts.headers, state).await
}

/// [`authenticate`] from the request's headers alone, for handlers that authenticate again.
pub async fn authenticate_headers(
    headers: &HeaderMap,
    state: &AppState,
) -> Result<Option<Caller>, ApiError> {
    let snapshot = state.tokens.revoker.snapshot();
    if let Some(key) = headers.get(API_KEY_HEADER) {
        let key = key.to_str().map_err(|_| invalid_api_key())?;
        return api_key::authenticate(state, key, snapshot).await.map(Some);
    }
    let Some(token) = cookie_value(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let token_hash = sha256(token);
    let Some(record) = state.store.find_session(&token_hash).await? else {
        return Ok(None);
    };
    let now = state.clock.now();
    let idle_limit = Duration::minutes(i64::from(record.settings.session_idle_timeout_minutes));
    let absolute_limit = Duration::hours(i64::from(record.settings.session_absolute_timeout_hours));
    let expired =
        now - record.last_seen_at > idle_limit || now - record.created_at > absolute_limit;
    if expired || !record.user.is_active_at(now) || record.org_suspended {
        state.store.delete_session(&token_hash).await?;
        return Ok(None);
    }
    if (now - record.last_seen_at).num_seconds() >= TOUCH_INTERVAL_SECONDS {
        state.store.touch_session(&token_hash, now).await?;
    }
    let user = record.user;
    Ok(Some(Caller {
        principal: Principal {
            org_id: user.org_id,
            user_id: Some(user.id),
            role: user.role,
            label: user.email.clone(),
            method: AuthMethod::Session,
            operator: user.operator,
        },
        org_name: record.org_name,
        org_settings: record.settings,
        user: Some(user),
        session: Some(SessionHandle { token_hash, csrf_token: csrf_for(token) }),
        api_key: None,
        snapshot,
    }))
}

/// The answer to anyone of a suspended organization.
pub fn suspended() -> ApiError {
    ApiError::new(
        ErrorCode::OrganizationSuspended,
        "This organization is suspended by the installation's operators; nobody of it can sign in.",
    )
}

fn invalid_api_key() -> ApiError {
    ApiError::new(ErrorCode::Unauthenticated, "The X-API-Key is not valid or was revoked.")
}

/// Whether a browser says this request comes from another site: `Sec-Fetch-Site` when sent
/// (every current browser), else an `Origin` that is neither this host nor the public URL.
/// Requests without either come from programs, not from a page another site controls.
pub fn is_cross_site(headers: &HeaderMap, public_url: &str) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return !matches!(site, "same-origin" | "none");
    }
    let Some(origin) = headers.get(axum::http::header::ORIGIN) else {
        return false;
    };
    let origin = origin.to_str().unwrap_or("null");
    let host = headers.get(axum::http::header::HOST).and_then(|v| v.to_str().ok());
    let same_host = host.is_some_and(|host| {
        origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://")) == Some(host)
    });
    !(same_host || origin == public_url)
}

/// Middleware: refuses state-changing requests another site's page makes with the browser's
/// cookies (sign-in included, which no CSRF token protects). Requests that authenticate by a
/// header (embed tokens, API keys) carry no ambient credential and pass.
pub async fn refuse_cross_site(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let headers = request.headers();
    let by_header = headers.contains_key(axum::http::header::AUTHORIZATION)
        || headers.contains_key(API_KEY_HEADER);
    if is_unsafe(request.method()) && !by_header && is_cross_site(headers, &state.config.public_url)
    {
        return ApiError::new(
            ErrorCode::CsrfRejected,
            "Cross-site request refused: this form or API call must come from Vitrine's own pages.",
        )
        .into_response();
    }
    next.run(request).await
}

fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The caller of a JSON API request; unsafe methods must carry the CSRF header.
pub struct ApiCaller(pub Caller);

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Self::resolve(&parts.method, &parts.headers, state).await
    }
}

impl ApiCaller {
    /// Authenticates an API request from its method and headers.
    pub async fn resolve(
        method: &Method,
        headers: &HeaderMap,
        state: &AppState,
    ) -> Result<Self, ApiError> {
        let caller =
            authenticate_headers(headers, state).await?.ok_or_else(ApiError::unauthenticated)?;
        if is_unsafe(method) {
            let presented = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
            caller.check_csrf(presented)?;
        }
        // The one gate of every JSON API call an API key makes.
        api_key::check_scope(&caller, is_unsafe(method))?;
        Ok(ApiCaller(caller))
    }
}

/// The signed-in user of a portal page. Portal forms carry the CSRF token as a hidden field,
/// checked by each handler; API keys are not accepted here.
pub struct PortalCaller(pub Caller);

impl FromRequestParts<AppState> for PortalCaller {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if parts.headers.contains_key(API_KEY_HEADER) {
            return Err(ApiError::new(ErrorCode::Forbidden, "API keys cannot use the portals.")
                .into_response());
        }
        match authenticate(parts, state).await {
            Ok(Some(caller)) => Ok(PortalCaller(caller)),
            Ok(None) => Err(Redirect::to("/").into_response()),
            Err(error) => Err(error.into_response()),
        }
    }
}

/// Optional variant for pages that serve both signed-in and anonymous visitors.
pub struct MaybeCaller(pub Option<Caller>);

impl FromRequestParts<AppState> for MaybeCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if parts.headers.contains_key(API_KEY_HEADER) {
            return Ok(MaybeCaller(None));
        }
        authenticate(parts, state).await.map(MaybeCaller)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_differ_per_session_and_are_not_the_session_token() {
        let a = random_secret();
        let b = random_secret();
        assert_ne!(csrf_for(&a), csrf_for(&b));
        assert_ne!(csrf_for(&a), a);
        assert_eq!(csrf_for(&a), csrf_for(&a));
    }

    #[test]
    fn cross_site_is_told_by_fetch_metadata_or_a_foreign_origin() {
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut map = HeaderMap::new();
            for (name, value) in pairs {
                map.insert(*name, value.parse().unwrap());
            }
            map
        };
        let public = "https://bi.example.com";
        assert!(is_cross_site(&headers(&[("sec-fetch-site", "cross-site")]), public));
        assert!(is_cross_site(&headers(&[("sec-fetch-site", "same-site")]), public));
        assert!(!is_cross_site(&headers(&[("sec-fetch-site", "same-origin")]), public));
        assert!(!is_cross_site(&headers(&[("sec-fetch-site", "none")]), public));
        let evil = [("origin", "https://evil.example"), ("host", "bi.example.com")];
        assert!(is_cross_site(&headers(&evil), public));
        assert!(is_cross_site(&headers(&[("origin", "null")]), public));
        let own = [("origin", "http://127.0.0.1:8080"), ("host", "127.0.0.1:8080")];
        assert!(!is_cross_site(&headers(&own), public));
        assert!(!is_cross_site(&headers(&[("origin", "https://bi.example.com")]), public));
        assert!(!is_cross_site(&headers(&[]), public), "programs send neither");
    }

    #[test]
    fn cookie_value_finds_the_named_cookie_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert("cookie", "theme=dark; vitrine_session=abc; other=1".parse().unwrap());
        assert_eq!(cookie_value(&headers, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie_value(&headers, "missing"), None);
    }
}
