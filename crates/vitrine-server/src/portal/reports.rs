//! The Reports Portal: the reports the signed-in user may open, and a page per report.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, html};

use super::layout::{page, topbar};
use super::{OnPage, PortalResult};
use crate::app::AppState;
use crate::auth::{Caller, PortalCaller};
use crate::services::{self, parse_id};

pub async fn portal(state: &AppState, caller: &Caller) -> PortalResult {
    let reports = services::reports::visible_to(state, caller).await.on_page(caller)?;
    let body = html! {
        div.page-head {
            h1 { "Reports" }
            p.muted { "The reports you may open." }
        }
        @if reports.is_empty() {
            section.card.empty {
                h2 { "No reports yet" }
                p { "No report has been shared with you yet. Ask an administrator of your organization to grant you one." }
            }
        } @else {
            ul.report-grid {
                @for report in &reports {
                    li {
                        a.report-card href={ "/reports/" (report.id) } {
                            span.report-icon aria-hidden="true" { "▤" }
                            strong { (report.name) }
                            @if !report.description.is_empty() { span.muted { (report.description) } }
                        }
                    }
                }
            }
        }
    };
    Ok(page(Some(caller), "Reports", None, body).into_response())
}

/// `?rotate=` and `?refresh=` in TV mode: whole numbers within `range`, else off.
fn tv_setting(
    query: &HashMap<String, String>,
    name: &str,
    range: std::ops::RangeInclusive<u32>,
) -> u32 {
    query
        .get(name)
        .and_then(|raw| raw.parse::<u32>().ok())
        .filter(|n| range.contains(n))
        .unwrap_or(0)
}

/// The `head` of a page that runs the viewer: its stylesheets and its module, and for a
/// report of Power BI the powerbi-client library first (a classic script: it defines
/// `window.powerbi` before the viewer's module runs).
pub fn viewer_head(title: &str, powerbi: bool) -> maud::Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · Vitrine" }
            link rel="stylesheet" href="/assets/portal.css";
            link rel="stylesheet" href="/assets/viewer/viewer.css";
            @if powerbi { script src="/assets/powerbi-client.js" {} }
            script type="module" src="/assets/viewer/viewer.js" {}
        }
    }
}

/// The viewer: the report's page shell; the viewer's own modules do the rest. With
/// `?mode=tv` it fills the screen without the portal's chrome, optionally rotating through
/// pages every `rotate` seconds and re-reading the data every `refresh` minutes.
pub async fn show(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> PortalResult<Response> {
    let open = async {
        let id = parse_id(&id, "report")?;
        services::reports::open(&state, &caller, id).await
    };
    let report = open.await.on_page(&caller)?;
    // Signing in again from the viewer goes through the organization's provider, if it has one.
    let sso = state.store.sso_provider(caller.principal.org_id).await.on_page(&caller)?;
    let sso_address = sso.as_ref().map(|p| format!("/sso/{}", p.org_id));
    let tv = query.get("mode").is_some_and(|mode| mode == "tv");
    let rotate = tv_setting(&query, "rotate", 5..=3600);
    let refresh = tv_setting(&query, "refresh", 1..=1440);
    let body = html! {
        (DOCTYPE)
        html lang="en" {
            (viewer_head(&report.name, report.powerbi.is_some()))
            body class=[tv.then_some("tv")] {
                @if !tv { (topbar(&caller, crate::portal::layout::Area::Reports)) }
                div.viewer-shell {
                    @if !tv {
                        nav.crumbs { a href="/" { "Reports" } " / " (report.name) " · "
                            a href={ "/reports/" (report.id) "?mode=tv&rotate=30&refresh=5" } { "Open in TV mode" } }
                    }
                    main #viewer data-report=(report.id) data-csrf=(caller.csrf_token())
                        data-mode=(if tv { "tv" } else { "normal" }) data-rotate=(rotate) data-refresh=(refresh)
                        data-sso=[sso_address] data-sso-label=[sso.as_ref().map(|p| p.settings.preset.label())]
                        data-sso-required=[sso.as_ref().filter(|p| p.settings.required).map(|_| "1")] {
                        p.muted { "Loading " (report.name) "…" }
                        noscript { p { "The report viewer needs JavaScript." } }
                    }
                }
            }
        }
    };
    let mut response = ([(header::CACHE_CONTROL, "no-store")], body).into_response();
    if let Some(link) = &report.powerbi {
        let policy = super::embed::with_powerbi_frames(super::embed::DEFAULT_CSP, link);
        if let Ok(policy) = header::HeaderValue::from_str(&policy) {
            response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, policy);
        }
    }
    Ok(response)
}
