//! What people do with their own accounts: change their name and password, see and end their
//! sessions, accept an invitation, and reset a forgotten password by an emailed link.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use vitrine_core::allowance::AllowanceRule;
use vitrine_core::token::RevocationScope;
use vitrine_core::{Fields, validate};
use vitrine_store::{SessionInfo, User};

use crate::app::AppState;
use crate::auth::Caller;
use crate::auth::links::{LinkError, LinkKind};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::mail::Email;

/// The answer to "Forgot password?", whether or not the email belongs to an account.
pub const RESET_SENT: &str = "If an account has this email, a link to choose a new password is on its way. It works once, for one hour.";

/// Reset emails per address per hour, counted on every node; more are silently not sent.
const RESETS_PER_HOUR: u32 = 3;

/// A link that lets someone choose a password, as offered to an administrator.
#[derive(Debug, Clone)]
pub struct LinkOffer {
    pub url: String,
    pub expires_at: DateTime<Utc>,
    /// Whether it was also queued as an email.
    pub emailed: bool,
}

fn link_url(state: &AppState, kind: LinkKind, token: &str) -> String {
    format!("{}{}#{token}", state.config.public_url, kind.path())
}

/// An invitation for a user who has not chosen a password yet; emailed when SMTP is set up.
pub async fn invite(state: &AppState, org_name: &str, user: &User) -> ApiResult<LinkOffer> {
    let hash = state.store.password_hash(user.id).await?;
    if !hash.is_empty() {
        return Err(ApiError::invalid(
            "password",
            "this user has chosen a password already; they can use \"Forgot password?\"",
        )
        .with_status(axum::http::StatusCode::CONFLICT));
    }
    let (token, expires_at) =
        state.links.issue(LinkKind::Invitation, user, &hash, state.clock.now());
    let url = link_url(state, LinkKind::Invitation, &token);
    let emailed = state.mailer.is_configured()
        && state.mailer.send(invitation_email(org_name, user, &url, expires_at)).is_ok();
    Ok(LinkOffer { url, expires_at, emailed })
}

fn invitation_email(org: &str, user: &User, url: &str, expires_at: DateTime<Utc>) -> Email {
    let until = expires_at.format("%Y-%m-%d %H:%M UTC");
    let text = format!(
        "Hello {name},\n\n{org} invites you to its reports on Vitrine.\n\nChoose your password here (the link works once, until {until}):\n{url}\n\nYou sign in with this email address, {email}.\nIf you did not expect this invitation, ignore this email.\n",
        name = user.name,
        email = user.email,
    );
    let html = maud::html! {
        p { "Hello " (user.name) "," }
        p { (org) " invites you to its reports on Vitrine." }
        p { a href=(url) { "Choose your password" } }
        p { "The link works once, until " (until) ". You sign in with this email address, " (user.email) "." }
        p { "If you did not expect this invitation, ignore this email." }
    };
    Email {
        to: user.email.clone(),
        from_name: org.to_string(),
        subject: format!("You are invited to {org} on Vitrine"),
        text,
        html: html.into_string(),
        kind: "invitation",
    }
}

fn reset_email(org: &str, user: &User, url: &str) -> Email {
    let text = format!(
        "Hello {name},\n\nSomeone (we hope you) asked to reset your password for {org} on Vitrine.\n\nChoose a new password here (the link works once, for one hour):\n{url}\n\nChoosing a new password signs you out everywhere. If you did not ask, ignore this email: your password stays as it is.\n",
        name = user.name,
    );
    let html = maud::html! {
        p { "Hello " (user.name) "," }
        p { "Someone (we hope you) asked to reset your password for " (org) " on Vitrine." }
        p { a href=(url) { "Choose a new password" } }
        p { "The link works once, for one hour. Choosing a new password signs you out everywhere." }
        p { "If you did not ask, ignore this email: your password stays as it is." }
    };
    Email {
        to: user.email.clone(),
        from_name: org.to_string(),
        subject: format!("Reset your password for {org}"),
        text,
        html: html.into_string(),
        kind: "password reset",
    }
}

/// "Forgot password?": queues a reset link when the email belongs to an account that may sign
/// in. Answers the same, after the same work, whether or not it does: the link is computed
/// either way, and what a real account needs more (its allowance of reset emails, shared by
/// every node, and the email itself) happens after the answer.
pub async fn request_reset(state: &AppState, email: &str) -> ApiResult<()> {
    let email = validate::email("email", email)?;
    let now = state.clock.now();
    let login = state.store.find_login(&email).await?;
    let Some(login) = login else {
        // The same work as for a real account: the link's HMAC.
        let _ = state.links.issue(LinkKind::PasswordReset, &decoy(now), "", now);
        return Ok(());
    };
    let (token, _) =
        state.links.issue(LinkKind::PasswordReset, &login.user, &login.password_hash, now);
    if login.user.is_active_at(now) && state.mailer.is_configured() {
        let state = state.clone();
        tokio::spawn(async move {
            if let Err(error) = send_reset(&state, &email, &login.user, &token, now).await {
                tracing::warn!(%error, "a password reset email was not sent");
            }
        });
    }
    Ok(())
}

/// Sends a reset email, unless the address had its [`RESETS_PER_HOUR`] this hour.
async fn send_reset(
    state: &AppState,
    email: &str,
    user: &User,
    token: &str,
    now: DateTime<Utc>,
) -> vitrine_store::StoreResult<()> {
    let key = format!("password-reset:{}", URL_SAFE_NO_PAD.encode(crate::auth::sha256(email)));
    let rule = AllowanceRule::per_hour(RESETS_PER_HOUR);
    if !state.store.take_allowance(&key, &rule, now).await? {
        return Ok(());
    }
    let org = state.store.get_organization(user.org_id).await?;
    if !org.is_suspended() {
        let url = link_url(state, LinkKind::PasswordReset, token);
        let _ = state.mailer.send(reset_email(&org.name, user, &url));
    }
    Ok(())
}

fn decoy(at: DateTime<Utc>) -> User {
    User {
        id: vitrine_core::UserId::from(uuid::Uuid::nil()),
        org_id: vitrine_core::OrgId::from(uuid::Uuid::nil()),
        email: String::new(),
        name: String::new(),
        role: vitrine_core::Role::Viewer,
        blocked: false,
        expires_at: None,
        locked_until: None,
        created_at: at,
        updated_at: at,
        password_set: true,
        operator: false,
        display: false,
    }
}

fn link_error(error: LinkError) -> ApiError {
    match error {
        LinkError::Expired => ApiError::new(
            ErrorCode::LinkExpired,
            "This link has expired. Ask for a new one: \"Forgot password?\" on the sign-in page, or your administrator for an invitation.",
        ),
        LinkError::Malformed | LinkError::Spent => ApiError::new(
            ErrorCode::LinkInvalid,
            "This link was already used or is no longer valid. Ask for a new one.",
        ),
    }
}

/// The user a link is for and their password hash now, if the link is still good.
async fn checked_link(state: &AppState, kind: LinkKind, token: &str) -> ApiResult<(User, String)> {
    let claims = state.links.read(kind, token, state.clock.now()).map_err(link_error)?;
    let user = match state.store.get_user(claims.org, claims.user).await {
        Ok(user) => user,
        Err(vitrine_store::StoreError::NotFound) => return Err(link_error(LinkError::Spent)),
        Err(error) => return Err(error.into()),
    };
    let hash = state.store.password_hash(user.id).await?;
    state.links.verify(&claims, &user, &hash).map_err(link_error)?;
    Ok((user, hash))
}

/// Sets the password a link was sent for; the link is spent, every session of the user ends
/// and their tokens are taken back.
pub async fn redeem(
    state: &AppState,
    kind: LinkKind,
    token: &str,
    password: &str,
) -> ApiResult<User> {
    validate::password("password", password)?;
    let (user, old_hash) = checked_link(state, kind, token).await?;
    let new_hash = state.passwords.hash(password).await?;
    let action = match kind {
        LinkKind::Invitation => "invitation accepted",
        LinkKind::PasswordReset => "password reset",
    };
    let set = state
        .store
        .set_password_by_link(&user, &old_hash, &new_hash, state.clock.now(), action)
        .await?;
    if !set {
        // Another request used the link first.
        return Err(link_error(LinkError::Spent));
    }
    state.tokens.revoker.revoke(RevocationScope::User(user.id)).await?;
    tracing::info!(user = %user.id, action, "password set by link");
    Ok(user)
}

pub const LOGIN_FIELDS: [&str; 2] = ["email", "password"];
pub const RESET_FIELDS: [&str; 1] = ["email"];
/// An emailed link redeemed: its token and the password chosen.
pub const LINK_FIELDS: [&str; 2] = ["token", "password"];
pub const ME_FIELDS: [&str; 3] = ["name", "password", "currentPassword"];

/// `PATCH /api/v1/me`: a new name, and a new password given the current one; a new password
/// ends the caller's other sessions.
pub async fn change_own(state: &AppState, caller: &Caller, input: &Fields) -> ApiResult<User> {
    input.allow_only(&ME_FIELDS)?;
    let user = caller.user.clone().ok_or_else(|| {
        ApiError::new(ErrorCode::Forbidden, "Only a signed-in user has an account to change.")
    })?;
    let name = input.optional_str("name")?.map(|n| validate::name("name", n)).transpose()?;
    let password = input.optional_str("password")?.filter(|p| !p.is_empty());
    if let Some(password) = password {
        validate::password("password", password)?;
        let current = input.optional_str("currentPassword")?.unwrap_or_default();
        let stored = state.store.password_hash(user.id).await?;
        let stored = Some(stored.as_str()).filter(|h| !h.is_empty());
        if !state.passwords.verify(current, stored).await? {
            return Err(ApiError::invalid("currentPassword", "is not your current password"));
        }
    }
    let actor = caller.actor(state.clock.now());
    let mut updated = user.clone();
    if let Some(name) = name.filter(|n| *n != user.name) {
        let change = vitrine_store::UserChange { name: Some(name), ..Default::default() };
        updated = state.store.update_user(user.org_id, &actor, user.id, &change).await?;
    }
    if let Some(password) = password {
        let hash = state.passwords.hash(password).await?;
        let keep = caller.session.as_ref().map(|s| s.token_hash.as_slice());
        state.store.change_own_password(&actor, &user, &hash, keep).await?;
        updated.password_set = true;
    }
    Ok(updated)
}

/// The caller's sessions, and which one is this one.
pub async fn sessions(state: &AppState, caller: &Caller) -> ApiResult<Vec<(SessionInfo, bool)>> {
    let Some(user) = caller.principal.user_id else { return Ok(Vec::new()) };
    let current = caller.session.as_ref().map(|s| s.token_hash.as_slice());
    let sessions = state.store.list_sessions(user).await?;
    Ok(sessions
        .into_iter()
        .map(|session| {
            let this = Some(session.token_hash.as_slice()) == current;
            (session, this)
        })
        .collect())
}

/// Ends one of the caller's own sessions, by its public id.
pub async fn end_session(state: &AppState, caller: &Caller, id: &str) -> ApiResult<()> {
    let found = sessions(state, caller).await?.into_iter().find(|(s, _)| s.id() == id);
    let (session, _) = found.ok_or_else(|| ApiError::not_found("session"))?;
    state.store.delete_session(&session.token_hash).await?;
    Ok(())
}

/// Ends every session of the caller but this one.
pub async fn end_other_sessions(state: &AppState, caller: &Caller) -> ApiResult<u64> {
    let Some(user) = caller.principal.user_id else { return Ok(0) };
    let keep = caller.session.as_ref().map(|s| s.token_hash.as_slice());
    Ok(state.store.end_sessions(user, keep).await?)
}
