//! The pages a host app's page frames: `/embed/reports/{id}`, the viewer without the portal's
//! chrome, and the embedding SDK at `/sdk/v1/vitrine-embed.js` that frames it.
//!
//! The embed page carries no secret and sets no cookie: the token reaches it from the host's
//! page over a `MessageChannel` (see `web/viewer/embed.js`), so it works with third-party
//! cookies blocked. Its `Content-Security-Policy: frame-ancestors` names exactly the
//! organization's `embedAllowedOrigins` and Vitrine's own pages (`'self'`: a display's page
//! frames it); every other page keeps `frame-ancestors 'none'`.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, html};
use vitrine_core::ReportId;

use super::PortalResult;
use crate::app::AppState;
use crate::error::ApiError;
use crate::services::parse_id;

/// The policy of every page, the embed page's framing aside.
pub const DEFAULT_CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

/// The embed page's policy: the default one with `frame-ancestors` naming `origins`, and
/// Vitrine's own pages (a paired display frames its reports from `/display`).
pub fn embed_csp(origins: &[String]) -> String {
    let ancestors = std::iter::once("'self'").chain(origins.iter().map(String::as_str));
    let ancestors = ancestors.collect::<Vec<_>>().join(" ");
    DEFAULT_CSP.replace("frame-ancestors 'none'", &format!("frame-ancestors {ancestors}"))
}

/// `policy` letting the page frame `link`'s report from the origin of its embed URL (and
/// Vitrine's own pages), and nothing else.
pub fn with_powerbi_frames(policy: &str, link: &vitrine_store::PowerBiLink) -> String {
    let origin = reqwest::Url::parse(&link.embed_url)
        .ok()
        .filter(|url| url.scheme() == "https")
        .map(|url| url.origin().ascii_serialization())
        .unwrap_or_default();
    format!("{policy}; frame-src 'self' {origin}").trim_end().to_string()
}

/// `GET /embed/reports/{id}`: the viewer shell for a host app's frame. It shows nothing until
/// the host's page has connected and handed it a token.
pub async fn page(State(state): State<AppState>, Path(id): Path<String>) -> PortalResult<Response> {
    let id: ReportId = parse_id(&id, "report")?;
    let org = state.store.organization_of_report(id).await.map_err(ApiError::from)?;
    let report = state.store.get_report(org, id).await.map_err(ApiError::from)?;
    let origins = state
        .store
        .get_organization(org)
        .await
        .map_err(ApiError::from)?
        .settings
        .embed_allowed_origins;
    let allowed = serde_json::to_string(&origins).unwrap_or_else(|_| "[]".into());
    let body = html! {
        (DOCTYPE)
        html lang="en" {
            (super::reports::viewer_head("Report", report.powerbi.is_some()))
            body.embedded {
                main #viewer data-report=(id) data-embed="1" data-allowed-origins=(allowed) data-mode="normal" {
                    p.muted { "Connecting…" }
                    noscript { p { "The report viewer needs JavaScript." } }
                }
            }
        }
    };
    let mut policy = embed_csp(&origins);
    if let Some(link) = &report.powerbi {
        policy = with_powerbi_frames(&policy, link);
    }
    let policy = HeaderValue::from_str(&policy).map_err(|_| ApiError::internal())?;
    Ok((
        [
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (header::CONTENT_SECURITY_POLICY, policy),
        ],
        body,
    )
        .into_response())
}

const SDK: &str = include_str!("../../../../sdk/vitrine-embed.js");
const SDK_TYPES: &str = include_str!("../../../../sdk/vitrine-embed.d.ts");

/// `GET /sdk/v1/vitrine-embed.js` (and `.d.ts`): the SDK, importable from any origin.
pub async fn sdk(Path(file): Path<String>) -> Response {
    let (content_type, body) = match file.as_str() {
        "vitrine-embed.js" => ("text/javascript; charset=utf-8", SDK),
        "vitrine-embed.d.ts" => ("text/plain; charset=utf-8", SDK_TYPES),
        _ => return super::not_found().await,
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=300"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (header::HeaderName::from_static("cross-origin-resource-policy"), "cross-origin"),
        ],
        body,
    )
        .into_response()
}
