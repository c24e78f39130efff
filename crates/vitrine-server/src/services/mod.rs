//! What the portals and the JSON API both do: validate input, check the rules, call the store.
//! Handlers only translate between HTTP and these functions, so both front-ends behave alike.

pub mod accounts;
pub mod audit;
pub mod azure;
pub mod capacities;
pub mod datasets;
pub mod definitions;
pub mod displays;
pub mod embed_tokens;
pub mod groups;
pub mod installation;
pub mod permissions;
pub mod powerbi;
pub mod reports;
pub mod rls;
pub mod settings;
pub mod sources;
pub mod sso;
pub mod tokens;
pub mod users;

use std::str::FromStr;

use crate::error::ApiError;

/// Parses an id from a path; a malformed id names nothing that exists, so it is "not found".
pub fn parse_id<T: FromStr>(raw: &str, what: &str) -> Result<T, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found(what))
}
