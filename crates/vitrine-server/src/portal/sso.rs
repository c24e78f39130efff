//! The browser's side of single sign-on: "Continue with single sign-on" on the sign-in page
//! (the email's verified domain finds the organization), an organization's own sign-in
//! address (`/sso/{org}`), the start of the flow and the provider's callback.

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;
use vitrine_core::{OrgId, validate};

use super::layout::page;
use super::sign_in::{brand, sign_in_page};
use crate::app::AppState;
use crate::auth::login::{open_session, session_cookie};
use crate::auth::oidc::{self, Callback, FLOW_COOKIE, Refused};
use crate::auth::{MaybeCaller, cookie_value};
use crate::tokens::request_info::RequestInfo;

fn start_address(org: OrgId, email: Option<&str>, back: Option<&str>) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("org", &org.to_string());
    if let Some(email) = email {
        query.append_pair("login_hint", email);
    }
    if let Some(back) = back.and_then(oidc::local_path) {
        query.append_pair("return", &back);
    }
    format!("/auth/oidc/start?{}", query.finish())
}

/// "Continue with single sign-on": the page of the organization the email's verified domain
/// leads to, with its "Sign in with …" button, or back with why not. Tells nothing about
/// accounts. (A page, not a redirect: the sign-in form may only lead to Vitrine's own pages.)
pub async fn by_email(state: &AppState, raw: &str) -> Response {
    let Ok(email) = validate::email("email", raw) else {
        let message =
            "Enter your work email address: its domain finds your organization's sign-in.";
        return sign_in_page(Some(message), raw, StatusCode::BAD_REQUEST);
    };
    let domain = email.rsplit('@').next().unwrap_or_default();
    let provider = match state.store.sso_provider_for_domain(domain).await {
        Ok(Some(provider)) => provider,
        Ok(None) => {
            let message = format!(
                "No organization signs in with single sign-on for {domain}. Sign in with your password, or use the sign-in address your organization gave you."
            );
            return sign_in_page(Some(&message), &email, StatusCode::BAD_REQUEST);
        }
        Err(error) => {
            let error = crate::error::ApiError::from(error);
            return sign_in_page(Some(&error.message), &email, error.status);
        }
    };
    match state.store.get_organization(provider.org_id).await {
        Ok(org) => organization_sign_in(&org, &provider, Some(&email), None),
        Err(error) => {
            let error = crate::error::ApiError::from(error);
            sign_in_page(Some(&error.message), &email, error.status)
        }
    }
}

/// An organization's "Sign in with …" page; `email` is handed to the provider as a hint.
fn organization_sign_in(
    org: &vitrine_store::Organization,
    provider: &vitrine_store::SsoProvider,
    email: Option<&str>,
    back: Option<&str>,
) -> Response {
    let label = provider.settings.preset.label();
    let body = html! {
        section.sign-in {
            (brand())
            div.card.sso-org {
                h2 { (org.name) }
                p.muted {
                    @if let Some(email) = email { "Sign in as " strong { (email) } " with your organization's account." }
                    @else { "Sign in with your organization's account." }
                }
                a.button.primary href=(start_address(org.id, email, back)) { "Sign in with " (label) }
                @if !provider.settings.required {
                    p.forgot { a href="/" { "Sign in with a password instead" } }
                }
            }
        }
    };
    let headers = [(header::CACHE_CONTROL, "no-store")];
    (StatusCode::OK, headers, page(None, "Sign in", None, body)).into_response()
}

#[derive(Debug, Deserialize)]
pub struct ReturnQuery {
    #[serde(rename = "return")]
    back: Option<String>,
}

/// `/sso/{org}`: an organization's own sign-in address, whatever its people's emails; with
/// `?return=/path`, the page to come back to (the viewer's way to sign in again).
pub async fn organization_page(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Path(org): Path<String>,
    Query(query): Query<ReturnQuery>,
) -> Response {
    if caller.is_some() {
        let back = query.back.as_deref().and_then(oidc::local_path);
        return Redirect::to(back.as_deref().unwrap_or("/")).into_response();
    }
    let not_found = || {
        let message =
            "This sign-in address is not one of an organization that signs in with single sign-on.";
        sign_in_page(Some(message), "", StatusCode::NOT_FOUND)
    };
    let Ok(org) = org.parse::<OrgId>() else { return not_found() };
    match (state.store.sso_provider(org).await, state.store.get_organization(org).await) {
        (Ok(Some(provider)), Ok(organization)) => {
            organization_sign_in(&organization, &provider, None, query.back.as_deref())
        }
        _ => not_found(),
    }
}

#[derive(Debug, Deserialize)]
pub struct StartQuery {
    org: String,
    login_hint: Option<String>,
    #[serde(rename = "return")]
    back: Option<String>,
}

/// Sends the browser to the organization's provider, with the flow's sealed cookie.
pub async fn start(State(state): State<AppState>, Query(query): Query<StartQuery>) -> Response {
    let Ok(org) = query.org.parse::<OrgId>() else {
        return sign_in_page(Some("This sign-in address is not valid."), "", StatusCode::NOT_FOUND);
    };
    match oidc::start(&state, org, query.login_hint.as_deref(), query.back.as_deref()).await {
        Ok((url, cookie)) => ([(header::SET_COOKIE, cookie)], Redirect::to(&url)).into_response(),
        Err(error) => sign_in_page(Some(&error.message), "", error.status),
    }
}

/// The provider sends the browser back here: a session, or the sign-in page saying why not.
pub async fn callback(
    State(state): State<AppState>,
    client: RequestInfo,
    headers: axum::http::HeaderMap,
    Query(query): Query<Callback>,
) -> Response {
    let cleared = oidc::cleared_flow_cookie(&state);
    let refuse = |error: crate::error::ApiError| {
        let mut page = sign_in_page(Some(&error.message), "", error.status);
        page.headers_mut().append(header::SET_COOKIE, cleared.clone());
        page
    };
    let now = state.clock.now();
    if let Some(address) = client.address {
        match state.guards.allow_sign_in(&*state.store, address, now).await {
            Ok(true) => {}
            Ok(false) => {
                return refuse(crate::error::ApiError::new(
                    crate::error::ErrorCode::RateLimited,
                    "Too many sign-in attempts from your address; wait a minute and try again.",
                ));
            }
            Err(error) => return refuse(error.into()),
        }
    }
    let cookie = cookie_value(&headers, FLOW_COOKIE);
    let (user, back) = match oidc::finish(&state, &query, cookie).await {
        Ok(found) => found,
        Err(Refused(error)) => {
            state.metrics.sign_in("failure");
            return refuse(error);
        }
    };
    let signed_in = match state.store.get_organization(user.org_id).await {
        Ok(org) => open_session(&state, user, &org, &client).await,
        Err(error) => Err(error.into()),
    };
    match signed_in {
        Ok(signed_in) => {
            state.metrics.sign_in("success");
            let mut response = Redirect::to(back.as_deref().unwrap_or("/")).into_response();
            let headers = response.headers_mut();
            headers.append(header::SET_COOKIE, session_cookie(&state, &signed_in));
            headers.append(header::SET_COOKIE, cleared);
            response
        }
        Err(error) => refuse(error),
    }
}
