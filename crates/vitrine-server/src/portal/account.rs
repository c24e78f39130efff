//! My account (name, password, sessions) and the pages anonymous visitors use to choose a
//! password: "Forgot password?", and the invitation and reset links from emails. A link's
//! token arrives in the URL's fragment, which the browser never sends; `/assets/link.js`
//! moves it into the form and out of the address bar.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};

use super::layout::{Area, Flash, action_button, csrf_field, date, flash, page, page_in};
use super::{FormData, OnPage, PortalResult};
use crate::app::AppState;
use crate::auth::links::LinkKind;
use crate::auth::{Caller, PortalCaller};
use crate::services::accounts;

pub async fn show(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    query: super::admin::DoneQuery,
) -> PortalResult {
    let notice = super::admin::flash_of(&query);
    render(&state, &caller, notice, StatusCode::OK).await
}

async fn render(
    state: &AppState,
    caller: &Caller,
    notice: Flash,
    status: StatusCode,
) -> PortalResult {
    let sessions = accounts::sessions(state, caller).await.on_page(caller)?;
    let (name, email) =
        caller.user.as_ref().map(|u| (u.name.clone(), u.email.clone())).unwrap_or_default();
    let others = sessions.iter().filter(|(_, current)| !current).count();
    let body = html! {
        div.page-head { h1 { "My account" } p.muted { (email) " · " (caller.principal.role.as_str()) " of " (caller.org_name) } }
        (flash(&notice))
        div.two-col {
            section.card {
                h2 { "Name" }
                form method="post" action="/account/profile" {
                    (csrf_field(caller))
                    label { "Name" input type="text" name="name" value=(name) required; }
                    div.form-actions { button.primary type="submit" { "Save" } }
                }
            }
            section.card {
                h2 { "Password" }
                form method="post" action="/account/password" {
                    (csrf_field(caller))
                    input type="hidden" name="username" value=(email) autocomplete="username";
                    label { "Current password" input type="password" name="currentPassword" autocomplete="current-password" required; }
                    label { "New password" input type="password" name="password" minlength="8" autocomplete="new-password" required; }
                    p.muted { "Changing it signs you out everywhere else." }
                    div.form-actions { button.primary type="submit" { "Change password" } }
                }
            }
        }
        section.card {
            h2 { "Sessions" }
            p.muted { "Where you are signed in. Ending a session signs that browser out at once." }
            table {
                thead { tr { th { "Browser" } th { "Address" } th { "Signed in" } th { "Last used" } th {} } }
                tbody {
                    @for (session, current) in &sessions {
                        tr {
                            td { (session.user_agent.as_deref().map(browser_name).unwrap_or("Unknown")) }
                            td { (session.ip.as_deref().unwrap_or("—")) }
                            td.nowrap { (date(session.created_at)) }
                            td.nowrap { (date(session.last_seen_at)) }
                            td.actions {
                                @if *current { span.badge.ok { "This session" } }
                                @else { (action_button(caller, &format!("/account/sessions/{}/end", session.id()), "Sign out", "")) }
                            }
                        }
                    }
                }
            }
            @if others > 0 {
                div.form-actions { (action_button(caller, "/account/sessions/end-others", "Sign out everywhere else", "danger")) }
            }
        }
    };
    let headers = [(header::CACHE_CONTROL, "no-store")];
    Ok((status, headers, page_in(Area::Account, Some(caller), "My account", None, body))
        .into_response())
}

/// A short name for a user agent string: the browser family and the system, when known.
fn browser_name(agent: &str) -> &str {
    let browser = ["Edg/", "Firefox/", "Chrome/", "Safari/", "curl/"]
        .into_iter()
        .find(|marker| agent.contains(marker));
    match browser {
        Some("Edg/") => "Edge",
        Some("Firefox/") => "Firefox",
        Some("Chrome/") if agent.contains("HeadlessChrome") => "Chrome (headless)",
        Some("Chrome/") => "Chrome",
        Some("Safari/") => "Safari",
        Some("curl/") => "curl",
        _ => agent,
    }
}

pub async fn update_profile(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    form: FormData,
) -> PortalResult {
    form.check_csrf(&caller)?;
    let input = form.to_fields(&["name"], &[], &[]);
    match accounts::change_own(&state, &caller, &input).await {
        Ok(_) => Ok(Redirect::to("/account?done=saved").into_response()),
        Err(e) => render(&state, &caller, Flash::error(e.message), e.status).await,
    }
}

pub async fn change_password(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    form: FormData,
) -> PortalResult {
    form.check_csrf(&caller)?;
    let input = form.to_fields(&["password", "currentPassword"], &[], &[]);
    match accounts::change_own(&state, &caller, &input).await {
        Ok(_) => Ok(Redirect::to("/account?done=password").into_response()),
        Err(e) => render(&state, &caller, Flash::error(e.message), e.status).await,
    }
}

pub async fn end_session(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    Path(id): Path<String>,
    form: FormData,
) -> PortalResult {
    form.check_csrf(&caller)?;
    accounts::end_session(&state, &caller, &id).await.on_page(&caller)?;
    Ok(Redirect::to("/account?done=signed-out").into_response())
}

pub async fn end_other_sessions(
    State(state): State<AppState>,
    PortalCaller(caller): PortalCaller,
    form: FormData,
) -> PortalResult {
    form.check_csrf(&caller)?;
    accounts::end_other_sessions(&state, &caller).await.on_page(&caller)?;
    Ok(Redirect::to("/account?done=signed-out").into_response())
}

/// A page for visitors who are not signed in, in the sign-in page's frame.
fn visitor_page(title: &str, status: StatusCode, content: Markup) -> Response {
    let body = html! {
        section.sign-in {
            div.sign-in-brand {
                span.logo.large aria-hidden="true" { "◧" }
                h1 { "Vitrine" }
            }
            (content)
        }
    };
    (status, [(header::CACHE_CONTROL, "no-store")], page(None, title, None, body)).into_response()
}

pub async fn forgot_page() -> Response {
    forgot_form(None, StatusCode::OK)
}

fn forgot_form(notice: Option<&str>, status: StatusCode) -> Response {
    visitor_page(
        "Forgot password",
        status,
        html! {
            form.card method="post" action="/password/forgot" {
                h2 { "Forgot your password?" }
                @if let Some(notice) = notice { p.flash.notice role="status" { (notice) } }
                p.muted { "Enter the email you sign in with. We send a link to choose a new password." }
                label { "Email" input type="email" name="email" autocomplete="username" required autofocus; }
                button.primary type="submit" { "Send the link" }
                p { a href="/" { "Back to sign-in" } }
            }
        },
    )
}

pub async fn forgot(State(state): State<AppState>, form: FormData) -> Response {
    let email = form.get("email").unwrap_or_default();
    match accounts::request_reset(&state, email).await {
        Ok(()) => forgot_form(Some(accounts::RESET_SENT), StatusCode::OK),
        Err(e) if e.field.is_some() => forgot_form(Some(&e.message), e.status),
        // The same answer on any failure, so that it reveals nothing about the account.
        Err(_) => forgot_form(Some(accounts::RESET_SENT), StatusCode::OK),
    }
}

pub async fn invitation_page() -> Response {
    link_form(LinkKind::Invitation, "", None, StatusCode::OK)
}

pub async fn reset_page() -> Response {
    link_form(LinkKind::PasswordReset, "", None, StatusCode::OK)
}

fn link_form(kind: LinkKind, token: &str, error: Option<&str>, status: StatusCode) -> Response {
    let (title, heading, button) = match kind {
        LinkKind::Invitation => {
            ("Welcome", "Welcome! Choose your password", "Set password and sign in")
        }
        LinkKind::PasswordReset => {
            ("Reset password", "Choose a new password", "Set password and sign in")
        }
    };
    visitor_page(
        title,
        status,
        html! {
            form.card.link-form method="post" action=(kind.path()) {
                h2 { (heading) }
                @if let Some(error) = error { p.flash.error role="alert" { (error) } }
                p.flash.error.link-missing hidden { "This page needs the link from your email: open the link again, or ask for a new one." }
                input type="hidden" name="token" value=(token);
                label { "New password" input type="password" name="password" minlength="8" autocomplete="new-password" required autofocus; }
                p.muted { "At least 8 characters. The link works once." }
                button.primary type="submit" { (button) }
                p { a href="/password/forgot" { "Ask for a new link" } }
            }
            script type="module" src="/assets/link.js" {}
        },
    )
}

async fn redeem(
    state: AppState,
    kind: LinkKind,
    client: crate::tokens::request_info::RequestInfo,
    form: FormData,
) -> Response {
    let token = form.get("token").unwrap_or_default();
    let password = form.get("password").unwrap_or_default();
    let user = match accounts::redeem(&state, kind, token, password).await {
        Ok(user) => user,
        // A spent or expired link is not offered again; a short password is.
        Err(e) if e.field.is_some() => return link_form(kind, token, Some(&e.message), e.status),
        Err(e) => return link_form(kind, "", Some(&e.message), e.status),
    };
    // Signed in with the new password at once.
    match crate::auth::login::sign_in(&state, &user.email, password, &client).await {
        Ok(signed_in) => {
            let cookie = crate::auth::login::session_cookie(&state, &signed_in);
            ([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response()
        }
        Err(_) => Redirect::to("/").into_response(),
    }
}

pub async fn accept_invitation(
    State(state): State<AppState>,
    client: crate::tokens::request_info::RequestInfo,
    form: FormData,
) -> Response {
    redeem(state, LinkKind::Invitation, client, form).await
}

pub async fn reset_password(
    State(state): State<AppState>,
    client: crate::tokens::request_info::RequestInfo,
    form: FormData,
) -> Response {
    redeem(state, LinkKind::PasswordReset, client, form).await
}
