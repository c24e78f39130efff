//! Reading URL-encoded portal forms and checking their CSRF field.

use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use vitrine_core::Fields;

use super::{OnPage, PortalError};
use crate::auth::Caller;
use crate::error::ApiError;

pub const CSRF_FIELD: &str = "csrf";

/// A submitted form; names may repeat (checkbox lists).
pub struct FormData(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequest<S> for FormData {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::Form::<Vec<(String, String)>>::from_request(request, state)
            .await
            .map(|axum::Form(pairs)| FormData(pairs))
            .map_err(|_| {
                PortalError::from(ApiError::invalid("form", "could not be read")).into_response()
            })
    }
}

impl FormData {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    /// Every field, in the order posted.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(key, value)| (key.as_str(), value.as_str()))
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(key, _)| key == name).map(|(_, value)| value.as_str()).collect()
    }

    pub fn check_csrf(&self, caller: &Caller) -> Result<(), PortalError> {
        caller.check_csrf(self.get(CSRF_FIELD)).on_page(caller)
    }

    /// The named text fields as a JSON object for the services; blank fields in `optional`
    /// are left out, checkboxes in `checkboxes` become booleans.
    pub fn to_fields(&self, text: &[&str], optional: &[&str], checkboxes: &[&str]) -> Fields {
        let mut map = Map::new();
        for name in text {
            if let Some(value) = self.get(name) {
                map.insert(name.to_string(), Value::String(value.to_string()));
            }
        }
        for name in optional {
            if let Some(value) = self.get(name).filter(|v| !v.trim().is_empty()) {
                map.insert(name.to_string(), Value::String(value.to_string()));
            }
        }
        for name in checkboxes {
            map.insert(name.to_string(), Value::Bool(self.get(name).is_some()));
        }
        Fields::from_map(map)
    }
}
