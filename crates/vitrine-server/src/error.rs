//! The one error type of the HTTP layer, mapped once to a status and a stable error code:
//! `{"error":{"code":"…","message":"…","field":"…"}}`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use vitrine_core::{FieldError, Forbidden};
use vitrine_store::StoreError;

/// The stable code of an error; each has one status (docs/api.md › Errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub enum ErrorCode {
    InvalidCredentials,
    AccountLocked,
    CsrfRejected,
    Unauthenticated,
    Forbidden,
    NotFound,
    InvalidInput,
    NoAccess,
    NoRlsRole,
    CapacityNotActive,
    CapacityStarting,
    RateLimited,
    LimitReached,
    OrganizationSuspended,
    LinkExpired,
    LinkInvalid,
    TokenExpired,
    TokenInvalid,
    TokenRevoked,
    /// Over a size or memory limit (413).
    QuotaExceeded,
    /// Briefly unable to answer; ask again (503).
    Unavailable,
    /// A live dataset's database did not answer; asked again by itself (503, `Retry-After`).
    SourceUnavailable,
    /// Entra ID, Power BI or Azure Resource Manager could not be reached (502).
    PowerBiUnavailable,
    /// The organization signs in with single sign-on: passwords are refused (403).
    SsoRequired,
    /// The organization's OpenID provider could not be reached or answered wrongly (502).
    IdentityProviderUnavailable,
    /// The request (or its upload) took too long and was stopped (408).
    RequestTimeout,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidCredentials => "InvalidCredentials",
            ErrorCode::AccountLocked => "AccountLocked",
            ErrorCode::CsrfRejected => "CsrfRejected",
            ErrorCode::Unauthenticated => "Unauthenticated",
            ErrorCode::Forbidden => "Forbidden",
            ErrorCode::NotFound => "NotFound",
            ErrorCode::InvalidInput => "InvalidInput",
            ErrorCode::NoAccess => "NoAccess",
            ErrorCode::NoRlsRole => "NoRlsRole",
            ErrorCode::CapacityNotActive => "CapacityNotActive",
            ErrorCode::CapacityStarting => "CapacityStarting",
            ErrorCode::RateLimited => "RateLimited",
            ErrorCode::LimitReached => "LimitReached",
            ErrorCode::OrganizationSuspended => "OrganizationSuspended",
            ErrorCode::LinkExpired => "LinkExpired",
            ErrorCode::LinkInvalid => "LinkInvalid",
            ErrorCode::TokenExpired => "TokenExpired",
            ErrorCode::TokenInvalid => "TokenInvalid",
            ErrorCode::TokenRevoked => "TokenRevoked",
            ErrorCode::QuotaExceeded => "QuotaExceeded",
            ErrorCode::Unavailable => "Unavailable",
            ErrorCode::SourceUnavailable => "SourceUnavailable",
            ErrorCode::PowerBiUnavailable => "PowerBiUnavailable",
            ErrorCode::SsoRequired => "SsoRequired",
            ErrorCode::IdentityProviderUnavailable => "IdentityProviderUnavailable",
            ErrorCode::RequestTimeout => "RequestTimeout",
            ErrorCode::Internal => "Internal",
        }
    }

    fn status(self) -> StatusCode {
        match self {
            ErrorCode::InvalidCredentials
            | ErrorCode::Unauthenticated
            | ErrorCode::TokenExpired
            | ErrorCode::TokenInvalid
            | ErrorCode::TokenRevoked => StatusCode::UNAUTHORIZED,
            ErrorCode::AccountLocked => StatusCode::LOCKED,
            ErrorCode::CsrfRejected
            | ErrorCode::Forbidden
            | ErrorCode::NoAccess
            | ErrorCode::NoRlsRole
            | ErrorCode::OrganizationSuspended
            | ErrorCode::SsoRequired => StatusCode::FORBIDDEN,
            ErrorCode::LimitReached => StatusCode::CONFLICT,
            ErrorCode::LinkExpired | ErrorCode::LinkInvalid => StatusCode::GONE,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::InvalidInput => StatusCode::BAD_REQUEST,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::QuotaExceeded => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ErrorCode::CapacityNotActive
            | ErrorCode::CapacityStarting
            | ErrorCode::Unavailable
            | ErrorCode::SourceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::PowerBiUnavailable | ErrorCode::IdentityProviderUnavailable => {
                StatusCode::BAD_GATEWAY
            }
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: ErrorCode,
    pub status: StatusCode,
    pub message: String,
    pub field: Option<String>,
    /// Answer with a `WWW-Authenticate: Bearer` challenge (embed token endpoints).
    pub bearer_challenge: bool,
    /// The capacity that keeps a report from opening.
    pub capacity: Option<crate::api::json::CapacityProblem>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            status: code.status(),
            message: message.into(),
            field: None,
            bearer_challenge: false,
            capacity: None,
        }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        let message = format!("{field}: {}", message.into());
        Self { field: Some(field), ..Self::new(ErrorCode::InvalidInput, message) }
    }

    /// Marks an error of an endpoint authenticated by an embed token (RFC 6750).
    pub fn bearer(mut self) -> Self {
        self.bearer_challenge = true;
        self
    }

    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }

    pub fn unauthenticated() -> Self {
        Self::new(ErrorCode::Unauthenticated, "Sign in first.")
    }

    pub fn internal() -> Self {
        Self::new(ErrorCode::Internal, "Something went wrong on the server; it has been logged.")
    }
}

impl From<FieldError> for ApiError {
    fn from(error: FieldError) -> Self {
        ApiError::invalid(error.field, error.message)
    }
}

impl From<Forbidden> for ApiError {
    fn from(error: Forbidden) -> Self {
        ApiError::new(ErrorCode::Forbidden, format!("{error}."))
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => ApiError::new(ErrorCode::NotFound, "Not found."),
            StoreError::Conflict { field } => {
                ApiError::invalid(field, "is already in use").with_status(StatusCode::CONFLICT)
            }
            StoreError::LimitReached { limit } => {
                let mut error = ApiError::new(
                    ErrorCode::LimitReached,
                    format!(
                        "The organization has reached its limit ({limit}); the installation's operators can raise it."
                    ),
                );
                error.field = Some(limit.to_string());
                error
            }
            other => {
                // The detail goes to the log only; responses never carry database text.
                tracing::error!(error = %other, "store failure");
                ApiError::internal()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
                field: self.field,
                capacity: self.capacity,
            },
        };
        let source_down = self.code == ErrorCode::SourceUnavailable;
        let mut response = (self.status, Json(body)).into_response();
        if source_down {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("15"));
        }
        if self.bearer_challenge {
            let error = match self.code {
                ErrorCode::NoAccess | ErrorCode::Forbidden | ErrorCode::NoRlsRole => {
                    "insufficient_scope"
                }
                _ => "invalid_token",
            };
            let challenge = format!(
                "Bearer realm=\"vitrine\", error=\"{error}\", error_description=\"{}\"",
                self.code.as_str()
            );
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
            }
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Every error answer: `{"error":{"code","message","field"?,"capacity"?}}`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    pub message: String,
    /// The input field at fault (`body` for an unreadable body), or the limit reached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// With `CapacityNotActive` and `CapacityStarting`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity: Option<crate::api::json::CapacityProblem>,
}
