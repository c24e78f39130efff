//! The server-rendered portals: sign-in, the Reports Portal everyone sees, and the Admin
//! Portal. Pages post plain HTML forms carrying the CSRF token as a hidden field.

mod account;
mod admin;
mod display;
pub(crate) mod embed;
mod form;
mod installation;
pub(crate) mod layout;
pub(crate) mod reports;
mod setup;
mod sign_in;
mod sso;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorCode};

pub use form::FormData;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(sign_in::home))
        .route("/login", post(sign_in::login))
        .route("/logout", post(sign_in::logout))
        .route("/sso/{org}", get(sso::organization_page))
        .route("/auth/oidc/start", get(sso::start))
        .route("/auth/oidc/callback", get(sso::callback))
        .route("/setup", get(setup::show).post(setup::submit))
        .route("/account", get(account::show))
        .route("/account/profile", post(account::update_profile))
        .route("/account/password", post(account::change_password))
        .route("/account/sessions/end-others", post(account::end_other_sessions))
        .route("/account/sessions/{id}/end", post(account::end_session))
        .route("/password/forgot", get(account::forgot_page).post(account::forgot))
        .route("/password/reset", get(account::reset_page).post(account::reset_password))
        .route("/welcome", get(account::invitation_page).post(account::accept_invitation))
        .route("/installation", get(installation::list))
        .route("/installation/audit", get(installation::audit))
        .route("/installation/organizations", post(installation::create))
        .route(
            "/installation/organizations/{id}",
            get(installation::show).post(installation::update),
        )
        .route("/installation/organizations/{id}/suspend", post(installation::suspend))
        .route(
            "/installation/organizations/{id}/sso-domains/{domain}/verify",
            post(installation::verify_domain),
        )
        .route("/installation/organizations/{id}/reinstate", post(installation::reinstate))
        .route("/installation/organizations/{id}/delete", post(installation::delete))
        .route("/embed/reports/{id}", get(embed::page))
        .route("/display", get(display::page))
        .route("/sdk/v1/{file}", get(embed::sdk))
        .route("/assets/link.js", get(link_script))
        .route("/reports/{id}", get(reports::show))
        .route("/assets/portal.css", get(stylesheet))
        .route("/favicon.ico", get(favicon))
        .route("/assets/viewer/{file}", get(viewer_asset))
        .route("/assets/powerbi-client.js", get(powerbi_client))
        .nest("/admin", admin::router())
        .fallback(not_found)
}

const STYLESHEET: &str = include_str!("../../../../web/portal.css");

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        STYLESHEET,
    )
        .into_response()
}

/// The logo as the tab icon.
async fn link_script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        include_str!("../../../../web/portal/link.js"),
    )
        .into_response()
}

async fn favicon() -> Response {
    const ICON: &str = "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'><rect width='16' height='16' rx='3' fill='#17213a'/><rect x='3' y='3' width='5' height='10' fill='#7ea2ff'/><rect x='9' y='3' width='4' height='10' fill='none' stroke='#7ea2ff'/></svg>";
    (
        [(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "public, max-age=86400")],
        ICON,
    )
        .into_response()
}

/// The viewer's own modules and stylesheet, embedded in the binary.
const VIEWER_ASSETS: [(&str, &str, &str); 11] = [
    (
        "viewer.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../../web/viewer/viewer.js"),
    ),
    (
        "token-keeper.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../../web/viewer/token-keeper.js"),
    ),
    ("api.js", "text/javascript; charset=utf-8", include_str!("../../../../web/viewer/api.js")),
    ("live.js", "text/javascript; charset=utf-8", include_str!("../../../../web/viewer/live.js")),
    ("embed.js", "text/javascript; charset=utf-8", include_str!("../../../../web/viewer/embed.js")),
    (
        "powerbi.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../../web/viewer/powerbi.js"),
    ),
    (
        "charts.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../../web/viewer/charts.js"),
    ),
    (
        "format.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../../web/viewer/format.js"),
    ),
    ("viewer.css", "text/css; charset=utf-8", include_str!("../../../../web/viewer/viewer.css")),
    (
        "display.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../../web/viewer/display.js"),
    ),
    ("display.css", "text/css; charset=utf-8", include_str!("../../../../web/viewer/display.css")),
];

async fn viewer_asset(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    match VIEWER_ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, body)) => {
            ([(header::CONTENT_TYPE, *content_type), (header::CACHE_CONTROL, "no-cache")], *body)
                .into_response()
        }
        None => not_found().await,
    }
}

/// powerbi-client's script, from the file the operator installed (docs/powerbi.md); not found
/// when none was.
async fn powerbi_client(State(state): State<AppState>) -> Response {
    let Some(path) = &state.config.powerbi_client else { return not_found().await };
    match tokio::fs::read(path).await {
        Ok(script) if script.len() as u64 <= crate::config::MAX_POWERBI_CLIENT_BYTES => (
            [
                (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
                (header::CACHE_CONTROL, "public, max-age=3600"),
            ],
            script,
        )
            .into_response(),
        _ => {
            tracing::warn!(path = %path.display(), "powerbi_client names no readable script of a sensible size");
            not_found().await
        }
    }
}

async fn not_found() -> Response {
    PortalError::from(ApiError::new(ErrorCode::NotFound, "There is no page at this address."))
        .into_response()
}

/// An error shown as a page, with the portal's chrome when the caller is known.
pub struct PortalError {
    pub error: ApiError,
    pub caller: Option<Box<Caller>>,
}

impl PortalError {
    pub fn with_caller(error: impl Into<ApiError>, caller: &Caller) -> Self {
        Self { error: error.into(), caller: Some(Box::new(caller.clone())) }
    }
}

impl From<ApiError> for PortalError {
    fn from(error: ApiError) -> Self {
        Self { error, caller: None }
    }
}

impl IntoResponse for PortalError {
    fn into_response(self) -> Response {
        let status = self.error.status;
        let title = match self.error.code {
            ErrorCode::Forbidden | ErrorCode::NoAccess => "Not allowed",
            ErrorCode::NotFound => "Not found",
            ErrorCode::CsrfRejected => "Form expired",
            _ if status == StatusCode::INTERNAL_SERVER_ERROR => "Something went wrong",
            _ => "Cannot do that",
        };
        let body = maud::html! {
            section.card.error-page {
                h1 { (title) }
                p { (self.error.message) }
                p.muted { "Error code: " code { (self.error.code.as_str()) } }
                a.button href="/" { "Back to reports" }
            }
        };
        let page = layout::page(self.caller.as_deref(), title, None, body);
        (status, page).into_response()
    }
}

pub type PortalResult<T = Response> = Result<T, PortalError>;

/// Shows a failure as a page with the caller's portal chrome.
pub trait OnPage<T> {
    fn on_page(self, caller: &Caller) -> Result<T, PortalError>;
}

impl<T, E: Into<ApiError>> OnPage<T> for Result<T, E> {
    fn on_page(self, caller: &Caller) -> Result<T, PortalError> {
        self.map_err(|error| PortalError::with_caller(error, caller))
    }
}
