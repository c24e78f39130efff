//! Who sent a request, as recorded in the token audit trail.

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use axum::http::header;
use axum::http::request::Parts;

use crate::auth::throttle::ClientAddress;

const MAX_USER_AGENT_CHARS: usize = 256;

#[derive(Debug, Clone, Default)]
pub struct RequestInfo {
    /// The client's address (see [`ClientAddress`]).
    pub address: Option<std::net::IpAddr>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for RequestInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::of(parts))
    }
}

impl RequestInfo {
    /// The client's address (the peer, or as a trusted proxy forwarded it), and the user
    /// agent, shortened.
    pub fn of(parts: &Parts) -> Self {
        let address =
            parts.extensions.get::<ClientAddress>().map(|client| client.0).or_else(|| {
                parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip())
            });
        Self {
            address,
            ip: address.map(|ip| ip.to_string()),
            user_agent: parts
                .headers
                .get(header::USER_AGENT)
                .and_then(|value| value.to_str().ok())
                .map(|agent| agent.chars().take(MAX_USER_AGENT_CHARS).collect()),
        }
    }
}
