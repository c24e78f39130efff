//! Signing in with an organization's OpenID provider: the authorization-code flow with PKCE,
//! `state` and `nonce`, and the ID token checked by `openidconnect` (signature by the
//! provider's keys, issuer, audience, expiry, nonce) — never by hand.
//!
//! Starting a sign-in writes nothing: what the callback must check (state, nonce, PKCE
//! verifier, organization) travels in a cookie sealed with the master key, for ten minutes.
//! The provider's discovery document and keys are cached an hour per issuer; a token signed by
//! a key the cache does not know makes one fresh read of them (the provider rotated its keys),
//! never a second exchange of the code. The callback then finds the account by the provider's
//! subject, else by email in the organization (an operator's only at a verified domain), else
//! makes it (just in time, only for an email of a domain the organization verified), and sets the account's mapped groups to those the
//! token names: a group taken away takes the user's open reports with it within a second.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderValue;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreProviderMetadata, CoreTokenResponse,
};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, IssuerUrl,
    Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, SignatureVerificationError,
    TokenResponse,
};
use serde::{Deserialize, Serialize};
use vitrine_core::token::RevocationScope;
use vitrine_core::{GroupId, OrgId, validate};
use vitrine_store::{Actor, NewUser, SsoProvider, StoreError, User};

use crate::app::AppState;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::services::sso::{redirect_uri, seal_label};

/// The cookie that carries a sign-in under way, sealed.
pub const FLOW_COOKIE: &str = "vitrine_oidc";
/// How long a sign-in at the provider may take.
const FLOW_SECONDS: i64 = 600;
const FLOW_LABEL: &str = "oidc-flow";
/// How long a provider's discovery document and keys are trusted.
const METADATA_TTL: Duration = Duration::from_secs(3600);
/// How long a provider that could not be read is not asked again.
const FAILURE_TTL: Duration = Duration::from_secs(30);
/// Issuers whose documents are kept at once.
const MAX_CACHED_ISSUERS: usize = 1024;

/// What the callback must find again, sealed in [`FLOW_COOKIE`].
#[derive(Debug, Serialize, Deserialize)]
struct Flow {
    org: OrgId,
    state: String,
    nonce: String,
    verifier: String,
    /// Unix seconds at the start.
    at: i64,
    /// Where to go once signed in: a path of this server.
    #[serde(default)]
    back: Option<String>,
}

/// A path of this server to come back to after signing in: `/…`, never `//…` (another host)
/// nor anything with a backslash or a control character.
pub fn local_path(raw: &str) -> Option<String> {
    let safe = raw.starts_with('/')
        && !raw.starts_with("//")
        && raw.len() <= 512
        && !raw.chars().any(|c| c == '\\' || c.is_control());
    safe.then(|| raw.to_string())
}

enum Cached {
    Ready(Box<CoreProviderMetadata>),
    Failed(String),
}

/// Providers' discovery documents and keys, per issuer, bounded.
#[derive(Default)]
pub struct Providers {
    entries: Mutex<HashMap<String, (Instant, Cached)>>,
}

fn unavailable(issuer: &str, detail: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        ErrorCode::IdentityProviderUnavailable,
        format!(
            "The identity provider {issuer} could not be read: {detail}. Try again in a moment."
        ),
    )
}

impl Providers {
    /// The issuer's discovery document with its keys, from the cache unless `fresh`.
    async fn metadata(
        &self,
        state: &AppState,
        issuer: &str,
        fresh: bool,
    ) -> ApiResult<CoreProviderMetadata> {
        if let Some((at, cached)) = self.entries.lock().expect("providers").get(issuer) {
            match cached {
                Cached::Ready(metadata) if !fresh && at.elapsed() < METADATA_TTL => {
                    return Ok((**metadata).clone());
                }
                Cached::Failed(detail) if at.elapsed() < FAILURE_TTL => {
                    return Err(unavailable(issuer, detail));
                }
                _ => {}
            }
        }
        let url = IssuerUrl::new(issuer.to_string()).map_err(|e| unavailable(issuer, e))?;
        let read = CoreProviderMetadata::discover_async(url, &state.http).await;
        let mut entries = self.entries.lock().expect("providers");
        if entries.len() >= MAX_CACHED_ISSUERS && !entries.contains_key(issuer) {
            let oldest = entries.iter().min_by_key(|(_, (at, _))| *at).map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                entries.remove(&oldest);
            }
        }
        match read {
            Ok(metadata) => {
                entries.insert(
                    issuer.to_string(),
                    (Instant::now(), Cached::Ready(Box::new(metadata.clone()))),
                );
                Ok(metadata)
            }
            Err(error) => {
                let detail = discovery_detail(&error);
                tracing::warn!(issuer, detail, "an OpenID provider could not be read");
                entries
                    .insert(issuer.to_string(), (Instant::now(), Cached::Failed(detail.clone())));
                Err(unavailable(issuer, detail))
            }
        }
    }

    /// Reads the issuer's discovery document now, for a provider being set up: a wrong
    /// issuer is named as such.
    pub async fn discover(&self, state: &AppState, issuer: &str) -> ApiResult<()> {
        self.entries.lock().expect("providers").remove(issuer);
        self.metadata(state, issuer, true).await.map(|_| ()).map_err(|error| ApiError {
            field: Some("issuer".into()),
            message: format!(
                "{} Check the issuer: its /.well-known/openid-configuration must answer.",
                error.message
            ),
            ..error
        })
    }
}

fn discovery_detail<E: std::error::Error>(error: &openidconnect::DiscoveryError<E>) -> String {
    use openidconnect::DiscoveryError as D;
    match error {
        D::Request(_) => "it did not answer".into(),
        D::Response(status, _, _) => format!("it answered HTTP {status}"),
        D::Parse(_) => "its discovery document is not valid".into(),
        D::Validation(detail) => format!("its discovery document does not match: {detail}"),
        other => other.to_string(),
    }
}

/// Why a sign-in through the provider did not happen, in words for the person signing in.
#[derive(Debug)]
pub struct Refused(pub ApiError);

impl From<ApiError> for Refused {
    fn from(error: ApiError) -> Self {
        Refused(error)
    }
}

impl From<StoreError> for Refused {
    fn from(error: StoreError) -> Self {
        Refused(error.into())
    }
}

fn refused(message: impl Into<String>) -> Refused {
    Refused(ApiError::new(ErrorCode::Forbidden, message))
}

fn restart() -> Refused {
    Refused(ApiError::new(
        ErrorCode::Unauthenticated,
        "This sign-in expired or was started in another browser. Start it again.",
    ))
}

fn flow_cookie(state: &AppState, value: &str, max_age: i64) -> HeaderValue {
    let secure = if state.config.secure_cookies() { "; Secure" } else { "" };
    // Lax: the provider sends the browser back with a top-level GET, which carries it.
    let text = format!(
        "{FLOW_COOKIE}={value}; Path=/auth/oidc; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    );
    HeaderValue::from_str(&text)
        .unwrap_or_else(|_| HeaderValue::from_static("vitrine_oidc=; Max-Age=0"))
}

/// `Set-Cookie` that removes the flow's cookie.
pub fn cleared_flow_cookie(state: &AppState) -> HeaderValue {
    flow_cookie(state, "", 0)
}

/// The client a provider's discovery document describes.
type DiscoveredClient = openidconnect::core::CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

fn client(
    metadata: CoreProviderMetadata,
    state: &AppState,
    provider: &SsoProvider,
    secret: Option<String>,
) -> ApiResult<DiscoveredClient> {
    let redirect = RedirectUrl::new(redirect_uri(state)).map_err(|_| ApiError::internal())?;
    Ok(CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(provider.settings.client_id.clone()),
        secret.map(ClientSecret::new),
    )
    .set_redirect_uri(redirect))
}

/// Starts a sign-in with the organization's provider: where to send the browser, and the
/// sealed cookie the callback checks.
pub async fn start(
    state: &AppState,
    org: OrgId,
    login_hint: Option<&str>,
    back: Option<&str>,
) -> ApiResult<(String, HeaderValue)> {
    let provider = state.store.sso_provider(org).await?.ok_or_else(|| {
        ApiError::new(ErrorCode::NotFound, "This organization has no single sign-on.")
    })?;
    let metadata = state.sso.metadata(state, &provider.settings.issuer, false).await?;
    let client = client(metadata, state, &provider, None)?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge);
    for scope in provider.settings.scopes.iter().filter(|s| *s != "openid") {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    if let Some(hint) = login_hint.and_then(|h| validate::email("email", h).ok()) {
        request = request.add_extra_param("login_hint", hint);
    }
    let (url, csrf, nonce) = request.url();
    let flow = Flow {
        org,
        state: csrf.secret().clone(),
        nonce: nonce.secret().clone(),
        verifier: verifier.secret().clone(),
        at: state.clock.now().timestamp(),
        back: back.and_then(local_path),
    };
    let text = serde_json::to_vec(&flow).map_err(|_| ApiError::internal())?;
    let sealed = state.secrets.seal(FLOW_LABEL, &text).map_err(|_| ApiError::internal())?;
    let cookie = flow_cookie(state, &URL_SAFE_NO_PAD.encode(sealed), FLOW_SECONDS);
    Ok((url.to_string(), cookie))
}

/// What the provider sent the browser back with.
#[derive(Debug, Default, Deserialize)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

fn open_flow(state: &AppState, cookie: Option<&str>, now: DateTime<Utc>) -> Result<Flow, Refused> {
    let sealed = cookie.and_then(|c| URL_SAFE_NO_PAD.decode(c).ok()).ok_or_else(restart)?;
    let text = state.secrets.unseal(FLOW_LABEL, &sealed).map_err(|_| restart())?;
    let flow: Flow = serde_json::from_slice(&text).map_err(|_| restart())?;
    let age = now.timestamp() - flow.at;
    if !(0..=FLOW_SECONDS).contains(&age) {
        return Err(restart());
    }
    Ok(flow)
}

/// The person the provider vouched for, as its ID token says.
#[derive(Debug)]
struct Vouched {
    subject: String,
    email: String,
    name: Option<String>,
    groups: Vec<String>,
}

/// Finishes a sign-in: the account the provider's ID token names (made or updated), checked
/// like any sign-in.
pub async fn finish(
    state: &AppState,
    callback: &Callback,
    cookie: Option<&str>,
) -> Result<(User, Option<String>), Refused> {
    let now = state.clock.now();
    let flow = open_flow(state, cookie, now)?;
    if let Some(error) = &callback.error {
        let detail = callback.error_description.as_deref().unwrap_or(error);
        let detail: String = detail.chars().filter(|c| !c.is_control()).take(300).collect();
        return Err(refused(format!("The identity provider did not sign you in: {detail}")));
    }
    let given = callback.state.as_deref().unwrap_or_default();
    if !bool::from(subtle::ConstantTimeEq::ct_eq(given.as_bytes(), flow.state.as_bytes())) {
        return Err(restart());
    }
    let code = callback.code.clone().filter(|c| !c.is_empty()).ok_or_else(restart)?;
    let org = state.store.get_organization(flow.org).await?;
    if org.is_suspended() {
        return Err(Refused(super::suspended()));
    }
    let provider = state
        .store
        .sso_provider(flow.org)
        .await?
        .ok_or_else(|| refused("This organization no longer signs in with single sign-on."))?;
    let secret = state
        .secrets
        .unseal(&seal_label(flow.org), &provider.secret_sealed)
        .map_err(|_| ApiError::internal())?;
    let secret = String::from_utf8(secret).map_err(|_| ApiError::internal())?;
    let issuer = provider.settings.issuer.clone();
    let metadata = state.sso.metadata(state, &issuer, false).await?;
    let client = client(metadata, state, &provider, Some(secret.clone()))?;
    let exchange = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|_| unavailable(&issuer, "it names no token endpoint"))?
        .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier.clone()));
    let tokens: CoreTokenResponse = exchange.request_async(&state.http).await.map_err(|error| {
        use openidconnect::RequestTokenError as R;
        match error {
            R::ServerResponse(answer) => {
                tracing::info!(error = ?answer.error(), "the identity provider refused a sign-in code");
                refused("The identity provider refused this sign-in (its code was used or has expired). Start it again.")
            }
            other => Refused(unavailable(&issuer, other)),
        }
    })?;
    let id_token = tokens.id_token().ok_or_else(|| {
        refused("The identity provider sent no ID token: the openid scope is missing.")
    })?;
    let vouched = match verify(&client, &provider, id_token, &flow.nonce, now) {
        Err(Refused(error)) if error.field.as_deref() == Some("keys") => {
            // A key this cache does not know: the provider rotated its keys. Read them again
            // and check the same token once more; the code is never exchanged twice.
            let metadata = state.sso.metadata(state, &issuer, true).await?;
            let client = self::client(metadata, state, &provider, Some(secret))?;
            verify(&client, &provider, id_token, &flow.nonce, now).map_err(|Refused(error)| {
                match error.field.as_deref() {
                    Some("keys") => refused(
                        "The identity provider's ID token was refused: it is signed by a key the provider does not publish. Start the sign-in again.",
                    ),
                    _ => Refused(error),
                }
            })?
        }
        other => other?,
    };
    let user = account(state, &provider, &vouched, now).await?;
    sync_groups(state, &provider, &user, &vouched.groups, now).await?;
    Ok((user, flow.back))
}

/// Checks the ID token (every check `openidconnect` makes, with the server's clock) and reads
/// who it vouches for. A key it does not know is told apart by the field `keys`.
fn verify(
    client: &DiscoveredClient,
    provider: &SsoProvider,
    id_token: &CoreIdToken,
    nonce: &str,
    now: DateTime<Utc>,
) -> Result<Vouched, Refused> {
    let verifier = client.id_token_verifier().set_time_fn(move || now);
    let claims = id_token.claims(&verifier, &Nonce::new(nonce.to_string())).map_err(|error| {
        tracing::warn!(%error, issuer = provider.settings.issuer, "an ID token was refused");
        let reason = match &error {
            ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            ) => {
                return Refused(ApiError::invalid(
                    "keys",
                    "signed by a key the provider does not publish",
                ));
            }
            ClaimsVerificationError::SignatureVerification(_) => {
                "its signature is not the provider's"
            }
            ClaimsVerificationError::Expired(_) => "it has expired",
            ClaimsVerificationError::InvalidAudience(_) => "it was issued for another application",
            ClaimsVerificationError::InvalidIssuer(_) => "another provider issued it",
            ClaimsVerificationError::InvalidNonce(_) => "it belongs to another sign-in",
            _ => "it does not hold what it must",
        };
        refused(format!(
            "The identity provider's ID token was refused: {reason}. Start the sign-in again."
        ))
    })?;
    let email = claims
        .email()
        .map(|e| e.as_str().to_string())
        .or_else(|| {
            // Entra ID sends `email` only when the app asks for it as an optional claim; its
            // sign-in name (UPN) is the address of the account at the organization's domain.
            (provider.settings.preset == vitrine_store::SsoPreset::Entra)
                .then(|| claims.preferred_username().map(|u| u.as_str().to_string()))
                .flatten()
        })
        .ok_or_else(|| refused("The identity provider sent no email address: add the email scope (and, with Entra ID, the email optional claim)."))?;
    if claims.email_verified() == Some(false) {
        return Err(refused("The identity provider says this email address is not verified."));
    }
    let email = validate::email("email", &email)
        .map_err(|_| refused("The identity provider's email address is not one."))?;
    let name = claims
        .name()
        .and_then(|name| name.get(None))
        .map(|name| name.as_str().trim().to_string())
        .filter(|name| !name.is_empty());
    let groups = match &provider.settings.groups_claim {
        Some(claim) => claim_values(&id_token.to_string(), claim),
        None => Vec::new(),
    };
    Ok(Vouched { subject: claims.subject().as_str().to_string(), email, name, groups })
}

/// The values of `claim` in a JWT whose signature is already checked: an array of strings, or
/// one string. The claim's name is the organization's to choose, so it is read from the
/// token's payload rather than from a fixed type.
fn claim_values(jwt: &str, claim: &str) -> Vec<String> {
    let payload = jwt.split('.').nth(1).and_then(|p| URL_SAFE_NO_PAD.decode(p).ok());
    let value = payload
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .and_then(|payload| payload.get(claim).cloned());
    match value {
        Some(serde_json::Value::Array(items)) => {
            items.iter().filter_map(|v| v.as_str()).map(str::to_string).take(10_000).collect()
        }
        Some(serde_json::Value::String(one)) => vec![one],
        _ => Vec::new(),
    }
}

fn sso_actor(provider: &SsoProvider, now: DateTime<Utc>) -> Actor {
    Actor {
        id: format!("sso:{}", provider.settings.issuer),
        label: format!("Single sign-on ({})", provider.settings.issuer),
        at: now,
    }
}

/// The account the provider vouched for: linked before, or the organization's account with
/// that email, or a new one when the email's domain is the organization's.
async fn account(
    state: &AppState,
    provider: &SsoProvider,
    vouched: &Vouched,
    now: DateTime<Utc>,
) -> Result<User, Refused> {
    let org = provider.org_id;
    let issuer = &provider.settings.issuer;
    let linked = match state.store.sso_identity(org, issuer, &vouched.subject).await? {
        Some(id) => match state.store.get_user(org, id).await {
            Ok(user) => Some(user),
            Err(StoreError::NotFound) => None,
            Err(error) => return Err(error.into()),
        },
        None => None,
    };
    let user = match linked {
        Some(user) => user,
        None => {
            let user = match state.store.find_login(&vouched.email).await? {
                // An operator's account answers to the provider only where an operator verified
                // that the organization owns the email's domain: an organization's
                // administrator cannot point a provider of their own at an operator.
                Some(login) if login.user.org_id == org && login.user.operator => {
                    let domain = vouched.email.rsplit('@').next().unwrap_or_default();
                    if !provider.owns_domain(domain) {
                        return Err(refused(format!(
                            "An operator's account signs in through single sign-on only once an operator verified {domain} for this organization. Sign in with your password."
                        )));
                    }
                    login.user
                }
                Some(login) if login.user.org_id == org => login.user,
                Some(_) => {
                    return Err(refused(
                        "This email address belongs to an account of another organization.",
                    ));
                }
                None => create(state, provider, vouched, now).await?,
            };
            state.store.link_sso_identity(org, issuer, &vouched.subject, user.id).await?;
            user
        }
    };
    if user.display {
        return Err(refused("This account is a display's; it cannot sign in."));
    }
    if user.blocked {
        return Err(refused("This account is blocked. Ask an administrator of your organization."));
    }
    if !user.is_active_at(now) {
        return Err(refused(
            "This account has expired. Ask an administrator of your organization.",
        ));
    }
    Ok(user)
}

/// A new account, just in time: only for an email of one of the organization's verified
/// domains, with the organization's default role and no password.
async fn create(
    state: &AppState,
    provider: &SsoProvider,
    vouched: &Vouched,
    now: DateTime<Utc>,
) -> Result<User, Refused> {
    let domain = vouched.email.rsplit('@').next().unwrap_or_default();
    if !provider.owns_domain(domain) {
        return Err(refused(format!(
            "There is no account for {} and {domain} is not a verified domain of this organization, so none is made. Ask an administrator to add you.",
            vouched.email
        )));
    }
    let name = vouched
        .name
        .as_deref()
        .and_then(|name| validate::name("name", name).ok())
        .unwrap_or_else(|| vouched.email.split('@').next().unwrap_or_default().to_string());
    let new = NewUser {
        email: vouched.email.clone(),
        name,
        role: provider.settings.default_role,
        password_hash: String::new(),
        blocked: false,
        expires_at: None,
    };
    let actor = sso_actor(provider, now);
    match state.store.create_user(provider.org_id, &actor, &new).await {
        Ok(user) => {
            tracing::info!(user = %user.id, org = %provider.org_id, "an account was made at its first sign-in");
            Ok(user)
        }
        // Two first sign-ins raced: the other one made it.
        Err(StoreError::Conflict { .. }) => match state.store.find_login(&vouched.email).await? {
            Some(login) if login.user.org_id == provider.org_id => Ok(login.user),
            _ => Err(refused("This email address belongs to an account of another organization.")),
        },
        Err(StoreError::LimitReached { .. }) => Err(refused(
            "Your organization has as many users as its plan allows; ask an administrator.",
        )),
        Err(error) => Err(error.into()),
    }
}

/// Sets the user's membership of the groups the mapping names to those the token's claim
/// values stand for; groups the mapping does not name are left as they are.
async fn sync_groups(
    state: &AppState,
    provider: &SsoProvider,
    user: &User,
    values: &[String],
    now: DateTime<Utc>,
) -> Result<(), Refused> {
    let mapping = &provider.settings.groups;
    if provider.settings.groups_claim.is_none() || mapping.is_empty() {
        return Ok(());
    }
    let wanted: BTreeSet<GroupId> = values.iter().filter_map(|v| mapping.get(v)).copied().collect();
    let managed: BTreeSet<GroupId> = mapping.values().copied().collect();
    let org = provider.org_id;
    let current: BTreeSet<GroupId> =
        state.store.groups_of_user(org, user.id).await?.iter().map(|g| g.id).collect();
    let actor = sso_actor(provider, now);
    let joins: Vec<GroupId> = wanted.difference(&current).copied().collect();
    let leaves: Vec<GroupId> =
        current.intersection(&managed).filter(|g| !wanted.contains(g)).copied().collect();
    for group in &joins {
        state.store.add_group_member(org, &actor, *group, user.id).await?;
    }
    for group in &leaves {
        state.store.remove_group_member(org, &actor, *group, user.id).await?;
    }
    if !joins.is_empty() || !leaves.is_empty() {
        // Permissions come with groups.
        state.capacities.gate.forget_permissions();
    }
    if !leaves.is_empty() {
        // What the groups gave is taken back from every open report within a second.
        state.tokens.revoker.revoke(RevocationScope::User(user.id)).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_of_this_server_are_come_back_to() {
        assert_eq!(local_path("/reports/1?mode=tv").as_deref(), Some("/reports/1?mode=tv"));
        for wrong in
            ["//evil.example/x", "https://evil.example", "/\\evil.example", "reports", "/a\nb"]
        {
            assert_eq!(local_path(wrong), None, "{wrong}");
        }
    }

    #[test]
    fn claim_values_read_a_list_or_one_string_and_nothing_else() {
        let jwt = |payload: &str| format!("h.{}.s", URL_SAFE_NO_PAD.encode(payload));
        let token = jwt(r#"{"groups":["a","b",3],"roles":"admin","n":1}"#);
        assert_eq!(claim_values(&token, "groups"), ["a", "b"]);
        assert_eq!(claim_values(&token, "roles"), ["admin"]);
        assert!(claim_values(&token, "n").is_empty());
        assert!(claim_values(&token, "missing").is_empty());
        assert!(claim_values("not a jwt", "groups").is_empty());
    }
}
