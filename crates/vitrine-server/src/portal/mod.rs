//! The server-rendered portals: sign-in, the Reports Portal everyone sees, and the Admin
//! Portal. Pages post plain HTML forms carrying the CSRF token as a hidden field.

mod admin;
mod form;
mod layout;
mod reports;
mod sign_in;

use axum::Router;
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
        .route("/reports/{id}", get(reports::show))
        .route("/assets/portal.css", get(stylesheet))
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
