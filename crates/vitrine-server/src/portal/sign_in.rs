//! `/`: the sign-in page for visitors, the Reports Portal once signed in.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use super::layout::page;
use super::{FormData, PortalResult, reports};
use crate::app::AppState;
use crate::auth::login::{cleared_cookie, session_cookie, sign_in};
use crate::auth::{MaybeCaller, PortalCaller};
use crate::tokens::request_info::RequestInfo;

pub async fn home(State(state): State<AppState>, MaybeCaller(caller): MaybeCaller) -> PortalResult {
    match caller {
        Some(caller) => reports::portal(&state, &caller).await,
        None => Ok(sign_in_page(None, "", StatusCode::OK)),
    }
}

/// The logo and strapline above every sign-in card.
pub(super) fn brand() -> maud::Markup {
    html! {
        div.sign-in-brand {
            span.logo.large aria-hidden="true" { "◧" }
            h1 { "Vitrine" }
            p.muted { "Your organization's reports, always up to date." }
        }
    }
}

pub(super) fn sign_in_page(error: Option<&str>, email: &str, status: StatusCode) -> Response {
    let body = html! {
        section.sign-in {
            (brand())
            form.card method="post" action="/login" {
                h2 { "Sign in" }
                @if let Some(error) = error { p.flash.error role="alert" { (error) } }
                label { "Email" input type="email" name="email" value=(email) autocomplete="username" required autofocus; }
                label { "Password" input type="password" name="password" autocomplete="current-password" required; }
                button.primary type="submit" { "Sign in" }
                // Needs no password: the email's domain leads to the organization's provider.
                button.sso type="submit" name="sso" value="1" formnovalidate { "Continue with single sign-on" }
                p.forgot { a href="/password/forgot" { "Forgot password?" } }
            }
        }
    };
    let headers = [(header::CACHE_CONTROL, "no-store")];
    (status, headers, page(None, "Sign in", None, body)).into_response()
}

pub async fn login(State(state): State<AppState>, client: RequestInfo, form: FormData) -> Response {
    let email = form.get("email").unwrap_or_default();
    let password = form.get("password").unwrap_or_default();
    if form.get("sso").is_some() {
        return super::sso::by_email(&state, email).await;
    }
    match sign_in(&state, email, password, &client).await {
        Ok(signed_in) => {
            let cookie = session_cookie(&state, &signed_in);
            ([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response()
        }
        // The organization signs in with its provider: go there.
        Err(error) if error.code == crate::error::ErrorCode::SsoRequired => {
            super::sso::by_email(&state, email).await
        }
        Err(error) => sign_in_page(Some(&error.message), email, error.status),
    }
}

pub async fn logout(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    form: FormData,
) -> PortalResult {
    form.check_csrf(&caller)?;
    if let Some(session) = &caller.session {
        crate::auth::login::sign_out(&state, &session.token_hash).await?;
    }
    Ok(([(header::SET_COOKIE, cleared_cookie(&state))], Redirect::to("/")).into_response())
}
