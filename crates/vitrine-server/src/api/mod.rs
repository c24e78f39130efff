//! The JSON API under `/api/v1`. The router below is its table of contents; every handler
//! follows one rhythm: authorize, read the input, call the service, shape the answer.

mod account;
mod api_keys;
mod audit;
mod capacities;
mod datasets;
mod embed;
pub use audit::csv_download as audit_csv_download;
mod groups;
mod installation;
pub mod json;
pub mod live;
mod permissions;
mod reports;
mod settings;
mod tokens;
mod users;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::routing::{delete, get, post, put};
use vitrine_core::Fields;

use crate::app::AppState;
pub use datasets::{MAX_UPLOAD_BYTES, Upload, read_portal_upload, read_upload};

use crate::error::{ApiError, ErrorCode};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/login", post(account::login))
        .route("/auth/logout", post(account::logout))
        .route("/me", get(account::me).patch(account::update_me))
        .route("/me/sessions", get(account::sessions))
        .route("/me/sessions/end-others", post(account::end_other_sessions))
        .route("/me/sessions/{id}", delete(account::end_session))
        .route("/auth/password-reset", post(account::request_reset))
        .route("/auth/password-reset/complete", post(account::complete_reset))
        .route("/auth/invitation/accept", post(account::accept_invitation))
        .route("/setup", post(installation::setup))
        .route("/installation/organizations", get(installation::list).post(installation::create))
        .route(
            "/installation/organizations/{id}",
            get(installation::show).patch(installation::update).delete(installation::delete),
        )
        .route("/installation/audit", get(installation::audit))
        .route("/installation/operators", get(installation::operators))
        .route("/reports", get(reports::list).post(reports::create))
        .route("/reports/{id}", get(reports::show).patch(reports::update).delete(reports::delete))
        .route("/reports/{id}/access", get(reports::access))
        .route("/reports/{id}/token", post(tokens::issue))
        .route("/reports/{id}/definition", get(reports::definition).put(reports::put_definition))
        .route("/embed/reports/{id}", get(embed::report))
        .route("/embed/reports/{id}/query", post(embed::query))
        .route("/embed/live", get(live::live))
        .route(
            "/datasets",
            get(datasets::list)
                .post(datasets::create)
                .layer(axum::extract::DefaultBodyLimit::max(datasets::MAX_UPLOAD_BYTES)),
        )
        .route("/datasets/{id}", get(datasets::show).delete(datasets::delete))
        .route("/capacities", get(capacities::list).post(capacities::create))
        .route(
            "/capacities/{id}",
            get(capacities::show).patch(capacities::update).delete(capacities::delete),
        )
        .route("/capacities/{id}/resume", post(capacities::resume))
        .route("/capacities/{id}/pause", post(capacities::pause))
        .route("/capacities/{id}/events", get(capacities::events))
        .route("/users/{id}/rls", get(users::rls).put(users::put_rls))
        .route("/groups/{id}/rls", get(groups::rls).put(groups::put_rls))
        .route("/users/{id}/revoke-tokens", post(tokens::revoke_user))
        .route("/tokens/revoke", post(tokens::revoke_all))
        .route("/audit/tokens", get(tokens::events))
        .route(
            "/reports/{id}/access/users/{user_id}",
            put(reports::grant_user).delete(reports::revoke_user),
        )
        .route(
            "/reports/{id}/access/groups/{group_id}",
            put(reports::grant_group).delete(reports::revoke_group),
        )
        .route("/users", get(users::list).post(users::create))
        .route("/users/{id}", get(users::show).patch(users::update).delete(users::delete))
        .route("/users/{id}/invitation", post(users::invite))
        .route("/groups", get(groups::list).post(groups::create))
        .route("/groups/{id}", get(groups::show).delete(groups::delete))
        .route(
            "/groups/{id}/members/{user_id}",
            put(groups::add_member).delete(groups::remove_member),
        )
        .route(
            "/permissions/{name}/users/{user_id}",
            put(permissions::grant_user).delete(permissions::revoke_user),
        )
        .route(
            "/permissions/{name}/groups/{group_id}",
            put(permissions::grant_group).delete(permissions::revoke_group),
        )
        .route("/settings", get(settings::show).patch(settings::update))
        .route("/audit", get(audit::list))
        .route("/api-keys", get(api_keys::list).post(api_keys::create))
        .route("/api-keys/{id}", delete(api_keys::revoke))
        .fallback(not_found)
}

async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "No such API endpoint.")
}

/// A request body that must be a JSON object, read field by field by the services.
pub struct JsonFields(pub Fields);

impl<S: Send + Sync> FromRequest<S> for JsonFields {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::invalid("body", "is too large").with_status(StatusCode::PAYLOAD_TOO_LARGE)
            } else {
                ApiError::invalid("body", "could not be read")
            }
        })?;
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::invalid("body", format!("is not valid JSON ({e})")))?;
        Ok(JsonFields(Fields::from_value(value)?))
    }
}
