//! `/setup`: first run. Asks for the one-time code the server logged, and creates the first
//! organization and its administrator (the installation's first operator). Gone for good once
//! the installation is set up.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use super::FormData;
use super::layout::page;
use crate::app::AppState;
use crate::auth::login::{session_cookie, sign_in};
use crate::error::{ApiError, ErrorCode};
use crate::portal::PortalError;
use crate::services::installation::{self, Setup};
use crate::tokens::request_info::RequestInfo;

fn gone() -> Response {
    PortalError::from(ApiError::new(
        ErrorCode::NotFound,
        "This installation is set up already: sign in instead.",
    ))
    .into_response()
}

pub async fn show(State(state): State<AppState>) -> Response {
    if !state.setup.is_armed() {
        return gone();
    }
    form(None, &FormData(Vec::new()), StatusCode::OK)
}

fn form(error: Option<&str>, values: &FormData, status: StatusCode) -> Response {
    let value = |name: &str| values.get(name).unwrap_or_default().to_string();
    let body = html! {
        section.sign-in.setup {
            div.sign-in-brand {
                span.logo.large aria-hidden="true" { "◧" }
                h1 { "Set up Vitrine" }
                p.muted { "Create your organization and its first administrator. You will also be this installation's operator." }
            }
            form.card method="post" action="/setup" {
                @if let Some(error) = error { p.flash.error role="alert" { (error) } }
                label { "Set-up code"
                    input type="text" name="code" value=(value("code")) autocomplete="off" required autofocus;
                    span.muted { "Printed in the server's log when it started on an empty installation." }
                }
                label { "Organization" input type="text" name="organization" value=(value("organization")) required; }
                label { "Your name" input type="text" name="name" value=(value("name")) autocomplete="name"; }
                label { "Your email" input type="email" name="email" value=(value("email")) autocomplete="username" required; }
                label { "Password" input type="password" name="password" minlength="8" autocomplete="new-password" required; }
                button.primary type="submit" { "Create and sign in" }
            }
        }
    };
    (status, [(header::CACHE_CONTROL, "no-store")], page(None, "Set up", None, body))
        .into_response()
}

pub async fn submit(
    State(state): State<AppState>,
    client: RequestInfo,
    values: FormData,
) -> Response {
    if !state.setup.is_armed() {
        return gone();
    }
    let setup = Setup {
        org_name: values.get("organization").unwrap_or_default(),
        admin_email: values.get("email").unwrap_or_default(),
        admin_name: values.get("name"),
        password: values.get("password").unwrap_or_default(),
    };
    let code = values.get("code").unwrap_or_default();
    match installation::set_up(&state, Some(code), &setup).await {
        Ok((_, admin)) => match sign_in(&state, &admin.email, setup.password, &client).await {
            Ok(signed_in) => {
                let cookie = session_cookie(&state, &signed_in);
                ([(header::SET_COOKIE, cookie)], Redirect::to("/installation")).into_response()
            }
            Err(_) => Redirect::to("/").into_response(),
        },
        Err(error) if error.code == ErrorCode::NotFound => gone(),
        Err(error) => form(Some(&error.message), &values, error.status),
    }
}
