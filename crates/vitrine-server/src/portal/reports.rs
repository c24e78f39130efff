//! The Reports Portal: the reports the signed-in user may open, and a page per report.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use maud::html;

use super::layout::page;
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

pub async fn show(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Path(id): Path<String>,
) -> PortalResult<Response> {
    let open = async {
        let id = parse_id(&id, "report")?;
        services::reports::open(&state, &caller, id).await
    };
    let report = open.await.on_page(&caller)?;
    let body = html! {
        nav.crumbs { a href="/" { "Reports" } " / " (report.name) }
        div.page-head {
            h1 { (report.name) }
            @if !report.description.is_empty() { p.muted { (report.description) } }
        }
        section.card.report-frame {
            p { "This report has no pages yet. Its content is defined in the Admin Portal once datasets are connected." }
        }
    };
    Ok(page(Some(&caller), &report.name, None, body).into_response())
}
