//! The iframe side of an embedded Power BI report: the page at `/reportEmbed` that
//! powerbi-client frames and drives with its messages, and the check that page makes of its
//! token. Browser tests serve it under `https://app.powerbi.com` by routing that host here.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::world::{Power, World};

const PAGE: &str = include_str!("report/embed.html");

/// `GET /reportEmbed?reportId=…&groupId=…&uid=…`: the embedded report.
pub async fn page() -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], PAGE).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionCheck {
    token: String,
    report_id: String,
}

fn refused(message: &str, detailed: &str, code: &str) -> Response {
    Json(json!({
        "ok": false,
        "error": { "message": message, "detailedMessage": detailed, "errorCode": code },
    }))
    .into_response()
}

/// `POST /reportEmbed/session`: whether `token` opens `reportId` now, as the report's page
/// asks. Refusals carry the error Power BI's report raises: `TokenExpired` once the token's
/// expiration passed, `CapacityNotActive` while the workspace's capacity is paused.
pub async fn session(State(world): State<Arc<World>>, Json(check): Json<SessionCheck>) -> Response {
    world.with(|inner, now| {
        let Some(token) = inner.embed_tokens.iter().find(|t| t.token == check.token) else {
            return refused("LoadReportFailed", "Invalid access token", "401");
        };
        let token_id = token.token_id;
        let Ok(report_id) = Uuid::parse_str(&check.report_id) else {
            return refused("LoadReportFailed", "Invalid report id", "400");
        };
        if !token.reports.contains(&report_id) {
            return refused("LoadReportFailed", "This token does not open this report", "403");
        }
        if token.expiration <= now {
            return Json(json!({
                "ok": false,
                "tokenId": token_id,
                "error": {
                    "message": "TokenExpired",
                    "detailedMessage": "Access token has expired, resubmit with a new access token",
                    "errorCode": "403",
                },
            }))
            .into_response();
        }
        let expiration = token.expiration;
        let Some(report) = inner.reports.iter().find(|r| r.id == report_id) else {
            return refused("LoadReportFailed", "Report not found", "404");
        };
        let capacity = inner
            .workspaces
            .iter()
            .find(|w| w.id == report.workspace_id)
            .and_then(|w| w.capacity_id)
            .and_then(|id| inner.capacities.iter().find(|c| c.power_bi_id == id));
        if capacity.is_some_and(|c| c.power != Power::Running) {
            return Json(json!({
                "ok": false,
                "tokenId": token_id,
                "error": {
                    "message": "CapacityNotActive",
                    "detailedMessage": "The capacity of this report's workspace is not active",
                    "errorCode": "CapacityNotActive",
                },
            }))
            .into_response();
        }
        let body: Value = json!({
            "ok": true,
            "tokenId": token_id,
            "reportName": report.name,
            "expiration": expiration.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        });
        Json(body).into_response()
    })
}
