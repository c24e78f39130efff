//! The JSON API under `/api/v1`. The router below is its table of contents; every handler
//! follows one rhythm: authorize, read the input, call the service, shape the answer.

mod account;
mod api_keys;
mod audit;
mod capacities;
mod connections;
mod datasets;
mod displays;
mod embed;
mod embed_tokens;
pub use audit::csv_download as audit_csv_download;
mod groups;
mod installation;
pub mod json;
pub mod live;
mod openapi;
mod permissions;
mod powerbi;
mod reference;
mod reports;
mod requests;
mod settings;
mod sso;
mod tokens;
mod users;

use std::sync::OnceLock;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vitrine_core::Fields;

use crate::app::AppState;
pub use datasets::{MAX_UPLOAD_BYTES, Upload, dataset_json, read_portal_upload, read_upload};

use crate::error::{ApiError, ErrorCode};

/// Every endpoint with its description: what is routed here is in the OpenAPI document.
fn documented() -> OpenApiRouter<AppState> {
    let uploads = OpenApiRouter::new()
        .routes(routes!(datasets::list, datasets::create))
        .routes(routes!(datasets::replace_data))
        .layer(axum::extract::DefaultBodyLimit::max(datasets::MAX_UPLOAD_BYTES))
        // An upload announcing more than the limit is refused before its body is read.
        .layer(tower_http::limit::RequestBodyLimitLayer::new(datasets::MAX_UPLOAD_BYTES));
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(account::login))
        .routes(routes!(account::logout))
        .routes(routes!(account::me, account::update_me))
        .routes(routes!(account::sessions))
        .routes(routes!(account::end_other_sessions))
        .routes(routes!(account::end_session))
        .routes(routes!(account::request_reset))
        .routes(routes!(account::complete_reset))
        .routes(routes!(account::accept_invitation))
        .routes(routes!(installation::setup))
        .routes(routes!(installation::list, installation::create))
        .routes(routes!(installation::show, installation::update, installation::delete))
        .routes(routes!(installation::audit))
        .routes(routes!(installation::operators))
        .routes(routes!(reports::list, reports::create))
        .routes(routes!(reports::show, reports::update, reports::delete))
        .routes(routes!(reports::access))
        .routes(routes!(tokens::issue))
        .routes(routes!(reports::definition, reports::put_definition))
        .routes(routes!(embed::report))
        .routes(routes!(embed::query))
        .routes(routes!(live::live))
        .routes(routes!(embed_tokens::mint))
        .routes(routes!(embed_tokens::revoke_identity))
        .routes(routes!(embed_tokens::identities))
        .merge(uploads)
        .routes(routes!(datasets::show, datasets::update, datasets::delete))
        .routes(routes!(datasets::refresh))
        .routes(routes!(datasets::refreshes))
        .routes(routes!(connections::list, connections::create))
        .routes(routes!(connections::show, connections::update, connections::delete))
        .routes(routes!(connections::test))
        .routes(routes!(powerbi::show, powerbi::connect))
        .routes(routes!(powerbi::reports))
        .routes(routes!(sso::show, sso::configure, sso::remove))
        .routes(routes!(sso::verify_domain))
        .routes(routes!(capacities::list, capacities::create))
        .routes(routes!(capacities::show, capacities::update, capacities::delete))
        .routes(routes!(capacities::resume))
        .routes(routes!(capacities::pause))
        .routes(routes!(capacities::events))
        .routes(routes!(users::rls, users::put_rls))
        .routes(routes!(groups::rls, groups::put_rls))
        .routes(routes!(tokens::revoke_user))
        .routes(routes!(tokens::revoke_all))
        .routes(routes!(tokens::events))
        .routes(routes!(reports::grant_user, reports::revoke_user))
        .routes(routes!(reports::grant_group, reports::revoke_group))
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::show, users::update, users::delete))
        .routes(routes!(users::invite))
        .routes(routes!(groups::list, groups::create))
        .routes(routes!(groups::show, groups::delete))
        .routes(routes!(groups::add_member, groups::remove_member))
        .routes(routes!(permissions::grant_user, permissions::revoke_user))
        .routes(routes!(permissions::grant_group, permissions::revoke_group))
        .routes(routes!(settings::show, settings::update))
        .routes(routes!(audit::list))
        .routes(routes!(api_keys::list, api_keys::create))
        .routes(routes!(api_keys::revoke))
        .routes(routes!(displays::pair))
        .routes(routes!(displays::list))
        .routes(routes!(displays::show, displays::update, displays::unpair))
        .routes(routes!(displays::start_pairing))
        .routes(routes!(displays::claim))
        .routes(routes!(displays::me))
        .routes(routes!(displays::heartbeat))
        .routes(routes!(displays::rotate))
        .routes(routes!(displays::token))
        .routes(routes!(displays::live))
}

/// The OpenAPI document of the API, as served at `/api/v1/openapi.json`.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    openapi::complete(documented().into_openapi())
}

/// The document rendered once: as JSON and as the reference page.
struct Published {
    json: String,
    page: String,
}

static PUBLISHED: OnceLock<Published> = OnceLock::new();

fn published() -> &'static Published {
    PUBLISHED.get().expect("the API router publishes its document when it is built")
}

pub fn router() -> Router<AppState> {
    // One pass: the routes, and the document of those very routes.
    let (router, doc) = documented().split_for_parts();
    PUBLISHED.get_or_init(|| {
        let doc = openapi::complete(doc);
        let json = serde_json::to_string(&doc).expect("the OpenAPI document serializes");
        Published { json, page: reference::page(&doc) }
    });
    router
        .route(
            "/openapi.json",
            axum::routing::get(|| async {
                ([(header::CONTENT_TYPE, "application/json")], published().json.as_str())
                    .into_response()
            }),
        )
        .route(
            "/reference",
            axum::routing::get(|| async {
                ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], published().page.as_str())
                    .into_response()
            }),
        )
        .fallback(not_found)
        .layer(axum::middleware::map_response(rejections_as_json))
}

/// The framework's own refusals (a multipart body without a boundary, a query string that is
/// not one) are plain text; the API answers every error in its one JSON shape.
async fn rejections_as_json(response: axum::response::Response) -> axum::response::Response {
    let plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/plain"));
    let status = response.status();
    if !plain || !status.is_client_error() {
        return response;
    }
    let body = axum::body::to_bytes(response.into_body(), 4096).await.unwrap_or_default();
    let detail = String::from_utf8_lossy(&body);
    let code =
        if status == StatusCode::NOT_FOUND { ErrorCode::NotFound } else { ErrorCode::InvalidInput };
    let mut error = ApiError::new(code, format!("The request could not be read: {detail}"));
    error.field = Some("body".into());
    error.with_status(status).into_response()
}

async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "No such API endpoint.")
}

/// A request body that must be a JSON object, read field by field by the services.
pub struct JsonFields(pub Fields);

/// Refuses a body that does not say it is JSON (`application/json` or a `+json` type): a page
/// of another site can post `text/plain` without asking first.
pub(crate) fn require_json(headers: &axum::http::HeaderMap) -> Result<(), ApiError> {
    let essence = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|essence| essence.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let json = essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"));
    if json {
        Ok(())
    } else {
        Err(ApiError::invalid("Content-Type", "must be application/json")
            .with_status(StatusCode::UNSUPPORTED_MEDIA_TYPE))
    }
}

impl<S: Send + Sync> FromRequest<S> for JsonFields {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        require_json(request.headers())?;
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::invalid("body", "is too large").with_status(StatusCode::PAYLOAD_TOO_LARGE)
            } else {
                ApiError::invalid("body", "could not be read")
            }
        })?;
        let value = vitrine_core::input::parse_json(&bytes)
            .map_err(|e| ApiError::invalid("body", format!("is not valid JSON ({e})")))?;
        Ok(JsonFields(Fields::from_value(value)?))
    }
}
