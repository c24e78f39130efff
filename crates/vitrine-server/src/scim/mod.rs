//! SCIM 2.0 provisioning (RFC 7643, RFC 7644) at `/scim/v2`: an organization's identity
//! provider creates, changes, deactivates and deletes its users and groups, authenticated by
//! an API key of scope `scim` as `Authorization: Bearer`.
//!
//! Users and groups are Vitrine's own, changed through the same services as the Admin Portal
//! and the JSON API (validation, audit, the rule that an organization keeps an administrator):
//! deactivating a user blocks them, which ends their sessions and revokes their tokens, so
//! their open screens go dark within a second; leaving a group does the same for what the
//! group gave. What SCIM knows and Vitrine does not (`userName`, `externalId`, names and
//! emails as sent) is kept beside them, so that the provider reads back what it wrote.
//!
//! Supported: filters `attribute eq "value"` (`userName`, `externalId`, `emails.value`, `id`;
//! `displayName`, `externalId`, `id` for groups), PATCH (add, replace, remove, with paths such
//! as `emails[type eq "work"].value` or `members[value eq "…"]`), paging by `startIndex` and
//! `count`. Not supported (said so in `/ServiceProviderConfig`): bulk, sorting, ETags,
//! password changes.

mod documents;
mod groups;
mod patch;
mod users;

use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use vitrine_core::{AdminScope, ApiKeyScope, AuthMethod};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorCode};

pub const CONTENT_TYPE: &str = "application/scim+json";
const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// Resources in one page of a list, at most.
const MAX_COUNT: usize = 200;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ServiceProviderConfig", get(documents::service_provider_config))
        .route("/ResourceTypes", get(documents::resource_types))
        .route("/ResourceTypes/{id}", get(documents::resource_type))
        .route("/Schemas", get(documents::schemas))
        .route("/Schemas/{id}", get(documents::schema))
        .route("/.search", axum::routing::post(search_all))
        .route("/Users", get(users::list).post(users::create))
        .route("/Users/.search", axum::routing::post(users::search))
        .route(
            "/Users/{id}",
            get(users::show).put(users::replace).patch(users::patch).delete(users::delete),
        )
        .route("/Groups", get(groups::list).post(groups::create))
        .route("/Groups/.search", axum::routing::post(groups::search))
        .route(
            "/Groups/{id}",
            get(groups::show).put(groups::replace).patch(groups::patch).delete(groups::delete),
        )
        .fallback(|| async { ScimError::not_found("No such SCIM endpoint.").into_response() })
}

/// `POST /.search`: users and groups at once; a filter keeps the resources of the types whose
/// attribute it names.
async fn search_all(
    State(state): State<AppState>,
    caller: ScimCaller,
    body: axum::body::Bytes,
) -> ScimResult {
    let query = ListQuery::from_search(&body_object(&body)?);
    let every: Vec<&str> = users::FILTERS.iter().chain(groups::FILTERS.iter()).copied().collect();
    let filter = query.filter(&every)?;
    let of_type = |known: &[&str]| match &filter {
        Some(f) if !known.contains(&f.attribute.as_str()) => None,
        other => Some(other.as_ref()),
    };
    let mut page = query.empty_page();
    if let Some(filter) = of_type(&users::FILTERS) {
        users::matching(&state, &caller, filter, &mut page).await?;
    }
    if let Some(filter) = of_type(&groups::FILTERS) {
        groups::matching(&state, &caller, filter, &mut page).await?;
    }
    Ok(list_response(&query, page))
}

/// A SCIM error answer (RFC 7644 §3.12).
#[derive(Debug)]
pub struct ScimError {
    status: StatusCode,
    scim_type: Option<&'static str>,
    detail: String,
}

impl ScimError {
    pub fn new(
        status: StatusCode,
        scim_type: Option<&'static str>,
        detail: impl Into<String>,
    ) -> Self {
        Self { status, scim_type, detail: detail.into() }
    }

    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("invalidValue"), detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, None, detail)
    }
}

impl From<ApiError> for ScimError {
    fn from(error: ApiError) -> Self {
        let detail = match &error.field {
            Some(field) => format!("{field}: {}", error.message),
            None => error.message.clone(),
        };
        let scim_type = match (error.code, error.status) {
            (_, StatusCode::CONFLICT) => Some("uniqueness"),
            (ErrorCode::InvalidInput, _) => Some("invalidValue"),
            _ => None,
        };
        Self { status: error.status, scim_type, detail }
    }
}

impl From<vitrine_store::StoreError> for ScimError {
    fn from(error: vitrine_store::StoreError) -> Self {
        ApiError::from(error).into()
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let Some(scim_type) = self.scim_type {
            body["scimType"] = json!(scim_type);
        }
        let mut response = scim_json(self.status, &body);
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"vitrine-scim\""),
            );
        }
        response
    }
}

pub type ScimResult<T = Response> = Result<T, ScimError>;

/// A SCIM document as the answer, `application/scim+json`.
pub fn scim_json(status: StatusCode, body: &Value) -> Response {
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))], body.to_string())
        .into_response()
}

/// The caller of a SCIM request: an API key of scope `scim`, as `Authorization: Bearer`.
pub struct ScimCaller {
    pub caller: Caller,
    pub scope: AdminScope,
}

impl FromRequestParts<AppState> for ScimCaller {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ScimError> {
        let unauthenticated = || {
            ScimError::new(
                StatusCode::UNAUTHORIZED,
                None,
                "Send an API key of scope scim as Authorization: Bearer <key>.",
            )
        };
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| {
                value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer "))
            })
            .map(str::trim)
            .ok_or_else(unauthenticated)?;
        let snapshot = state.tokens.revoker.snapshot();
        let caller = crate::auth::api_key::authenticate(state, presented, snapshot).await.map_err(
            |error| match error.status {
                StatusCode::UNAUTHORIZED => {
                    ScimError::new(StatusCode::UNAUTHORIZED, None, error.message)
                }
                _ => error.into(),
            },
        )?;
        if !matches!(caller.principal.method, AuthMethod::ApiKey(_, ApiKeyScope::Scim)) {
            return Err(ScimError::new(
                StatusCode::FORBIDDEN,
                None,
                "Only an API key of scope scim may provision users and groups.",
            ));
        }
        let scope = caller.principal.admin().map_err(ApiError::from)?;
        Ok(ScimCaller { caller, scope })
    }
}

/// The body of a SCIM request: a JSON object (whatever its content type says).
pub fn body_object(bytes: &[u8]) -> ScimResult<Value> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(value @ Value::Object(_)) => Ok(value),
        _ => Err(ScimError::new(
            StatusCode::BAD_REQUEST,
            Some("invalidSyntax"),
            "The body must be a JSON object.",
        )),
    }
}

/// Where a resource lives, for `meta.location` and `$ref`.
pub fn location(state: &AppState, kind: &str, id: impl std::fmt::Display) -> String {
    format!("{}/scim/v2/{kind}/{id}", state.config.public_url)
}

/// `filter`, `startIndex` and `count` of a list request.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ListQuery {
    filter: Option<String>,
    #[serde(rename = "startIndex")]
    start_index: Option<String>,
    count: Option<String>,
    #[serde(flatten)]
    projection: Projection,
}

/// `attributes` and `excludedAttributes`: which attributes an answer holds.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Projection {
    attributes: Option<String>,
    #[serde(rename = "excludedAttributes")]
    excluded_attributes: Option<String>,
}

impl Projection {
    /// `doc` with only the attributes asked for (`id`, `schemas` and `meta` always).
    pub fn apply(&self, mut doc: Value) -> Value {
        let names = |raw: &Option<String>| -> Vec<String> {
            raw.as_deref()
                .unwrap_or_default()
                .split(',')
                .map(|n| n.trim())
                .filter(|n| !n.is_empty())
                .map(|n| n.rsplit_once(':').map_or(n, |(_, last)| last).to_ascii_lowercase())
                .collect()
        };
        let Value::Object(fields) = &mut doc else { return doc };
        let always = ["id", "schemas", "meta"];
        let wanted = names(&self.attributes);
        if !wanted.is_empty() {
            fields.retain(|key, _| {
                let key = key.to_ascii_lowercase();
                always.contains(&key.as_str())
                    || wanted.iter().any(|w| *w == key || w.starts_with(&format!("{key}.")))
            });
        }
        for excluded in names(&self.excluded_attributes) {
            match excluded.split_once('.') {
                Some((parent, sub)) => {
                    if let Some(Value::Object(inner)) = fields
                        .iter_mut()
                        .find(|(k, _)| k.eq_ignore_ascii_case(parent))
                        .map(|(_, v)| v)
                    {
                        inner.retain(|k, _| !k.eq_ignore_ascii_case(sub));
                    }
                }
                None if !always.contains(&excluded.as_str()) => {
                    fields.retain(|k, _| !k.eq_ignore_ascii_case(&excluded));
                }
                None => {}
            }
        }
        doc
    }
}

impl ListQuery {
    /// The query a `POST …/.search` body makes (RFC 7644 §3.4.3).
    pub fn from_search(body: &Value) -> Self {
        let text = |name: &str| match body.get(name) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(Value::Array(items)) => {
                Some(items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","))
            }
            _ => None,
        };
        ListQuery {
            filter: text("filter"),
            start_index: text("startIndex"),
            count: text("count"),
            projection: Projection {
                attributes: text("attributes"),
                excluded_attributes: text("excludedAttributes"),
            },
        }
    }
}

/// A filter Vitrine answers: `attribute eq "value"`.
#[derive(Debug, PartialEq)]
pub struct Filter {
    /// The attribute, in lower case.
    pub attribute: String,
    pub value: String,
}

impl ListQuery {
    /// The filter, if any, among those `known` (lower case); others are refused.
    pub fn filter(&self, known: &[&str]) -> ScimResult<Option<Filter>> {
        let Some(raw) = self.filter.as_deref().map(str::trim).filter(|f| !f.is_empty()) else {
            return Ok(None);
        };
        let invalid = || {
            ScimError::new(
                StatusCode::BAD_REQUEST,
                Some("invalidFilter"),
                format!(
                    "Vitrine answers filters of the form attribute eq \"value\" on {}.",
                    known.join(", ")
                ),
            )
        };
        let mut parts = raw.splitn(3, char::is_whitespace);
        let (Some(attribute), Some(operator), Some(value)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        let attribute = attribute.to_ascii_lowercase();
        let value = value.trim();
        let quoted = value.len() >= 2 && value.starts_with('"') && value.ends_with('"');
        if !operator.eq_ignore_ascii_case("eq") || !quoted || !known.contains(&attribute.as_str()) {
            return Err(invalid());
        }
        let value: String = serde_json::from_str(value).map_err(|_| invalid())?;
        Ok(Some(Filter { attribute, value }))
    }

    /// The page asked for: resources `start..start + count` (0-based) of the list.
    fn page(&self) -> (usize, usize) {
        let number =
            |raw: &Option<String>| raw.as_deref().and_then(|r| r.trim().parse::<i64>().ok());
        let start = number(&self.start_index).unwrap_or(1).max(1) as usize;
        let count = number(&self.count).unwrap_or(100).clamp(0, MAX_COUNT as i64) as usize;
        (start, count)
    }
}

/// The resources of one page of a list, counted as they are found: only those on the page are
/// made into documents (each costs a read of its groups or members).
pub struct Page {
    skip: usize,
    take: usize,
    /// Resources found so far, on the page or not.
    pub total: usize,
    pub resources: Vec<Value>,
}

impl Page {
    /// Counts one more resource found; whether it is on the page (then make its document).
    pub fn wants(&mut self) -> bool {
        self.total += 1;
        self.total > self.skip && self.resources.len() < self.take
    }
}

impl ListQuery {
    /// The page this query asks for, empty yet.
    pub fn empty_page(&self) -> Page {
        let (start, count) = self.page();
        Page { skip: start - 1, take: count, total: 0, resources: Vec::new() }
    }
}

/// A list answer of the page the query asked for.
pub fn list_response(query: &ListQuery, page: Page) -> Response {
    let (start, _) = query.page();
    let resources: Vec<Value> =
        page.resources.into_iter().map(|doc| query.projection.apply(doc)).collect();
    scim_json(
        StatusCode::OK,
        &json!({
            "schemas": [LIST_SCHEMA],
            "totalResults": page.total,
            "startIndex": start,
            "itemsPerPage": resources.len(),
            "Resources": resources,
        }),
    )
}

/// The state of the server, for handlers.
pub type ScimState = State<AppState>;

#[cfg(test)]
mod tests {
    use super::*;

    fn query(filter: &str) -> ListQuery {
        ListQuery { filter: Some(filter.into()), ..Default::default() }
    }

    #[test]
    fn filters_are_attribute_eq_a_quoted_value_on_known_attributes() {
        let found = query(r#"userName eq "ada@acme.example""#).filter(&["username"]).unwrap();
        assert_eq!(
            found,
            Some(Filter { attribute: "username".into(), value: "ada@acme.example".into() })
        );
        let escaped = query(r#"UserName EQ "a \"b\" c""#).filter(&["username"]).unwrap().unwrap();
        assert_eq!(escaped.value, r#"a "b" c"#);
        for wrong in [
            r#"userName co "a""#,
            r#"title eq "a""#,
            "userName eq a",
            "userName",
            r#"userName eq "a" and x eq "b""#,
        ] {
            let error = query(wrong).filter(&["username"]).unwrap_err();
            assert_eq!(error.scim_type, Some("invalidFilter"), "{wrong}");
        }
        assert_eq!(ListQuery::default().filter(&["username"]).unwrap(), None);
    }

    #[test]
    fn a_page_makes_documents_only_for_its_own_resources_and_counts_them_all() {
        let query = ListQuery {
            start_index: Some("2".into()),
            count: Some("2".into()),
            ..Default::default()
        };
        let mut page = query.empty_page();
        let mut made = Vec::new();
        for n in 1..=5 {
            if page.wants() {
                page.resources.push(json!(n));
                made.push(n);
            }
        }
        assert_eq!((made, page.total), (vec![2, 3], 5));
    }

    #[test]
    fn pages_start_at_one_and_are_bounded() {
        let page = |start: &str, count: &str| {
            ListQuery {
                start_index: Some(start.into()),
                count: Some(count.into()),
                ..Default::default()
            }
            .page()
        };
        assert_eq!(ListQuery::default().page(), (1, 100));
        assert_eq!(page("0", "5"), (1, 5));
        assert_eq!(page("3", "100000"), (3, MAX_COUNT));
        assert_eq!(page("x", "-1"), (1, 0));
    }
}
