//! Admin Portal › Embedding: the host apps' users that embed keys minted tokens for — who they
//! are, when they were first and last seen, with which key — and their tokens revoked here.

use axum::extract::State;
use axum::response::IntoResponse;
use maud::html;

use super::{DoneQuery, admin_scope, done, flash_of};
use crate::app::AppState;
use crate::auth::PortalCaller;
use crate::portal::layout::{Section, csrf_field, date, flash, page};
use crate::portal::{FormData, OnPage, PortalResult};
use crate::services::embed_tokens;

/// The most identities the page lists, latest seen first.
const LISTED: u32 = 500;

pub async fn list(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    query: DoneQuery,
) -> PortalResult {
    let scope = admin_scope(&caller)?;
    let identities = state.store.list_identities(scope.org_id(), LISTED).await.on_page(&caller)?;
    let keys = state.store.list_api_keys(scope.org_id()).await.on_page(&caller)?;
    let key_name = |id| keys.iter().find(|k| Some(k.id) == id).map(|k| k.name.as_str());
    let body = html! {
        div.page-head {
            h1 { "Embedding" }
            p.muted { "Your apps embed reports for their own users with an " a href="/admin/api-keys" { "embed key" } ": its backend asks " code { "POST /api/v1/embed/tokens" } " for a token for one of its users, who needs no Vitrine account. Each such user is listed here by your app's id for them. Revoking their tokens takes their open reports away within a second; the next token your app asks for them is a fresh grant." }
        }
        (flash(&flash_of(&query)))
        section.card {
            @if identities.is_empty() { p.muted { "No app has embedded a report for its users yet." } } @else {
                table {
                    thead { tr { th { "User in your app" } th { "First seen" } th { "Last seen" } th { "Key" } th {} } }
                    tbody {
                        @for identity in &identities {
                            tr {
                                td {
                                    code { (identity.external_id) }
                                    @if !identity.name.is_empty() { br; span.muted { (identity.name) } }
                                }
                                td { (date(identity.first_seen_at)) }
                                td { (date(identity.last_seen_at)) }
                                td { (key_name(identity.last_key_id).unwrap_or("—")) }
                                td.actions {
                                    a.button.small href=(audit_link(&identity.external_id)) { "What they saw" }
                                    form.inline method="post" action="/admin/embedding/revoke" {
                                        (csrf_field(&caller))
                                        input type="hidden" name="identity" value=(identity.external_id);
                                        button.small.danger type="submit" { "Revoke tokens" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page(Some(&caller), "Embedding", Some(Section::Embedding), body).into_response())
}

/// The token audit filtered to one identity.
fn audit_link(external_id: &str) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("user", &embed_tokens::label(external_id))
        .finish();
    format!("/admin/audit/tokens?{query}")
}

pub async fn revoke(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    form: FormData,
) -> PortalResult {
    form.check_csrf(&caller)?;
    admin_scope(&caller)?;
    let identity = form.get("identity").unwrap_or_default();
    embed_tokens::revoke(&state, &caller, identity).await.on_page(&caller)?;
    Ok(done("/admin/embedding", "tokens-revoked"))
}
