//! Signing in and out. Unknown emails and wrong passwords get the same answer after the same
//! work (a decoy hash is verified for unknown emails), in every state: five wrong passwords in
//! a row lock an account for thirty minutes, and lock an email that belongs to nobody just the
//! same. Each attempt is counted before its password is checked, so parallel guesses cannot
//! slip past the lock; each client address has its own allowance of attempts a minute, so a
//! flood from one place neither starves other people's sign-ins nor locks every account.

use axum::http::HeaderValue;
use vitrine_core::lockout::Gate;
use vitrine_store::{NewSession, User};

use super::{SESSION_COOKIE, csrf_for, random_secret, sha256};
use crate::app::AppState;
use crate::error::{ApiError, ErrorCode};
use crate::tokens::request_info::RequestInfo;

/// A new session: the cookie value and its CSRF token.
pub struct SignedIn {
    pub user: User,
    pub session_token: String,
    pub csrf_token: String,
    pub max_age_seconds: i64,
}

fn invalid_credentials() -> ApiError {
    ApiError::new(ErrorCode::InvalidCredentials, "Wrong email or password.")
}

fn locked(until: chrono::DateTime<chrono::Utc>) -> ApiError {
    ApiError::new(
        ErrorCode::AccountLocked,
        format!(
            "Too many wrong passwords: this account is locked until {} UTC. An administrator can unlock it by setting a new password.",
            until.format("%Y-%m-%d %H:%M")
        ),
    )
}

pub async fn sign_in(
    state: &AppState,
    email: &str,
    password: &str,
    client: &RequestInfo,
) -> Result<SignedIn, ApiError> {
    let result = attempt(state, email, password, client).await;
    let outcome = match &result {
        Ok(_) => "success",
        Err(e) if e.code == ErrorCode::AccountLocked => "locked",
        Err(e) if e.code == ErrorCode::RateLimited => "rate_limited",
        Err(_) => "failure",
    };
    state.metrics.sign_in(outcome);
    result
}

fn throttled() -> ApiError {
    ApiError::new(
        ErrorCode::RateLimited,
        "Too many sign-in attempts from your address; wait a minute and try again.",
    )
}

async fn attempt(
    state: &AppState,
    email: &str,
    password: &str,
    client: &RequestInfo,
) -> Result<SignedIn, ApiError> {
    let now = state.clock.now();
    if let Some(address) = client.address
        && !state.guards.allow_sign_in(&*state.store, address, now).await?
    {
        return Err(throttled());
    }
    // No account has an address that is not one, so saying so reveals nothing; it spares
    // the lockout of nobody a key per typo.
    let email = vitrine_core::validate::email("email", email)?;
    let login = state.store.find_login(&email).await?;
    if let Some(refusal) = refused_for_sso(state, &email, login.as_ref()).await? {
        return Err(refusal);
    }
    let gate = match &login {
        Some(login) => {
            state.store.begin_login_attempt(login.user.id, &state.guards.lockout, now).await?
        }
        None => state.guards.stranger_attempt(&*state.store, &email, now).await?,
    };
    // An invited user without a password yet is checked against the decoy, like a stranger;
    // so is every attempt on a locked account, so that locked answers take as long.
    let stored = login.as_ref().map(|l| l.password_hash.as_str()).filter(|hash| !hash.is_empty());
    let too_long = password.len() > vitrine_core::validate::PASSWORD_MAX_BYTES;
    let checked = stored.filter(|_| matches!(gate, Gate::Check { .. }) && !too_long);
    let probe = if too_long { "" } else { password };
    let matches = state.passwords.verify(probe, checked).await?;
    let locks = match gate {
        Gate::Locked(until) => return Err(locked(until)),
        Gate::Check { locks } => locks,
    };
    let Some(login) = login.filter(|_| matches) else {
        tracing::info!(locked = locks.is_some(), "wrong email or password");
        return Err(locks.map(locked).unwrap_or_else(invalid_credentials));
    };
    state.store.record_successful_login(login.user.id).await?;
    // The password is right, so saying why the account cannot sign in reveals nothing new.
    if login.user.blocked {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "This account is blocked. Ask an administrator of your organization.",
        ));
    }
    if !login.user.is_active_at(now) {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "This account has expired. Ask an administrator of your organization.",
        ));
    }
    let org = state.store.get_organization(login.user.org_id).await?;
    if org.is_suspended() {
        return Err(super::suspended());
    }
    // Its organization signs in with its provider (an email outside its domains comes here).
    if !login.user.operator
        && let Some(provider) = state.store.sso_provider(org.id).await?
        && provider.settings.required
    {
        return Err(sso_required(&provider));
    }
    open_session(state, login.user, &org, client).await
}

/// The answer to a password for an organization that signs in with its provider only.
pub fn sso_required(provider: &vitrine_store::SsoProvider) -> ApiError {
    ApiError::new(
        ErrorCode::SsoRequired,
        format!(
            "Your organization signs in with {}: use \"Sign in with {}\" instead of a password.",
            provider.settings.preset.label(),
            provider.settings.preset.label()
        ),
    )
}

/// Whether a password sign-in for `email` is refused before its password is checked: its
/// domain leads to an organization that requires single sign-on, and the account there (if
/// any) is not an operator's. Says nothing about whether the account exists.
async fn refused_for_sso(
    state: &AppState,
    email: &str,
    login: Option<&vitrine_store::LoginRecord>,
) -> Result<Option<ApiError>, ApiError> {
    let domain = email.rsplit('@').next().unwrap_or_default();
    let Some(provider) = state.store.sso_provider_for_domain(domain).await? else {
        return Ok(None);
    };
    let exempt = login.is_some_and(|l| l.user.operator || l.user.org_id != provider.org_id);
    Ok((provider.settings.required && !exempt).then(|| sso_required(&provider)))
}

/// A new session for a user who proved who they are (by password or by their provider).
pub async fn open_session(
    state: &AppState,
    user: User,
    org: &vitrine_store::Organization,
    client: &RequestInfo,
) -> Result<SignedIn, ApiError> {
    let session_token = random_secret();
    let session = NewSession {
        token_hash: sha256(&session_token),
        user_id: user.id,
        created_at: state.clock.now(),
        user_agent: client.user_agent.clone(),
        ip: client.ip.clone(),
    };
    state.store.create_session(&session).await?;
    tracing::info!(user = %user.id, org = %org.id, "signed in");
    Ok(SignedIn {
        csrf_token: csrf_for(&session_token),
        session_token,
        user,
        max_age_seconds: i64::from(org.settings.session_absolute_timeout_hours) * 3600,
    })
}

pub async fn sign_out(state: &AppState, token_hash: &[u8]) -> Result<(), ApiError> {
    state.store.delete_session(token_hash).await?;
    Ok(())
}

/// `Set-Cookie` for a new session: HttpOnly, SameSite=Lax, Secure behind https.
pub fn session_cookie(state: &AppState, signed_in: &SignedIn) -> HeaderValue {
    cookie(state, &signed_in.session_token, signed_in.max_age_seconds)
}

/// `Set-Cookie` that removes the session cookie.
pub fn cleared_cookie(state: &AppState) -> HeaderValue {
    cookie(state, "", 0)
}

fn cookie(state: &AppState, value: &str, max_age: i64) -> HeaderValue {
    let secure = if state.config.secure_cookies() { "; Secure" } else { "" };
    let text = format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    );
    HeaderValue::from_str(&text)
        .unwrap_or_else(|_| HeaderValue::from_static("vitrine_session=; Max-Age=0"))
}
