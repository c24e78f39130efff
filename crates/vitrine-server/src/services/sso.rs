//! An organization's single sign-on settings: its OpenID provider (tested by discovery before
//! it is saved), the email domains that lead to it, the claim that names groups and which
//! Vitrine group each of its values stands for. The client secret is sealed with the master
//! key and never answered back; domains lead the sign-in page to the provider only once an
//! operator of the installation verified them (an operator's own domains are verified as set).

use std::collections::BTreeMap;

use vitrine_core::{AdminScope, Fields, GroupId, OrgId, Role};
use vitrine_store::{SsoPreset, SsoProvider, SsoSettings};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};

pub const FIELDS: [&str; 10] = [
    "preset",
    "issuer",
    "clientId",
    "clientSecret",
    "scopes",
    "domains",
    "required",
    "groupsClaim",
    "groups",
    "defaultRole",
];

/// Google's issuer, the same for every organization.
pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";
const MAX_SECRET_BYTES: usize = 1024;
const MAX_DOMAINS: usize = 50;
const MAX_SCOPES: usize = 20;
const MAX_MAPPED_GROUPS: usize = 500;
const MAX_CLAIM_VALUE_BYTES: usize = 256;
const DEFAULT_SCOPES: [&str; 3] = ["openid", "email", "profile"];

/// The label sealed secrets of an organization's provider are bound to.
pub fn seal_label(org: OrgId) -> String {
    format!("sso:{org}")
}

/// The address the provider sends people back to: registered with it as the redirect URI.
pub fn redirect_uri(state: &AppState) -> String {
    format!("{}/auth/oidc/callback", state.config.public_url)
}

/// The address that starts an organization's sign-in, whatever the email's domain.
pub fn sign_in_address(state: &AppState, org: OrgId) -> String {
    format!("{}/sso/{org}", state.config.public_url)
}

/// An issuer: an https URL without query or fragment (http only on this machine's loopback).
pub fn issuer(raw: &str) -> ApiResult<String> {
    let raw = raw.trim().trim_end_matches('/');
    let invalid = |why: &str| ApiError::invalid("issuer", why.to_string());
    let url = url::Url::parse(raw).map_err(|_| invalid("must be the provider's issuer URL"))?;
    let loopback = matches!(
        url.host(),
        Some(url::Host::Domain("localhost"))
            | Some(url::Host::Ipv4(std::net::Ipv4Addr::LOCALHOST))
            | Some(url::Host::Ipv6(std::net::Ipv6Addr::LOCALHOST))
    );
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return Err(invalid("must be an https URL")),
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(invalid("must not carry a query, a fragment or credentials"));
    }
    if raw.len() > 500 {
        return Err(invalid("must be at most 500 characters"));
    }
    Ok(raw.to_string())
}

/// A domain name, lower case: `example.com`.
pub fn domain(field: &str, raw: &str) -> ApiResult<String> {
    let domain = raw.trim().trim_start_matches('@').to_ascii_lowercase();
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if domain.len() > 253 || !domain.contains('.') || !domain.split('.').all(label_ok) {
        return Err(ApiError::invalid(
            field,
            format!("`{raw}` is not a domain such as example.com"),
        ));
    }
    Ok(domain)
}

fn string_list<'a>(input: &'a Fields, field: &str) -> ApiResult<Option<Vec<&'a str>>> {
    match input.get(field) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str().ok_or_else(|| ApiError::invalid(field, "must be a list of strings"))
            })
            .collect::<ApiResult<Vec<_>>>()
            .map(Some),
        Some(_) => Err(ApiError::invalid(field, "must be a list of strings")),
    }
}

fn scopes(input: &Fields, current: Option<&SsoSettings>) -> ApiResult<Vec<String>> {
    let Some(raw) = string_list(input, "scopes")? else {
        return Ok(current
            .map(|settings| settings.scopes.clone())
            .unwrap_or_else(|| DEFAULT_SCOPES.map(str::to_string).to_vec()));
    };
    let mut scopes = vec!["openid".to_string()];
    for scope in raw {
        let valid = !scope.is_empty()
            && scope.len() <= 200
            && scope.chars().all(|c| c.is_ascii_graphic() && c != '"' && c != '\\');
        if !valid {
            return Err(ApiError::invalid("scopes", format!("`{scope}` is not a scope")));
        }
        if !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_string());
        }
    }
    if scopes.len() > MAX_SCOPES {
        return Err(ApiError::invalid("scopes", format!("at most {MAX_SCOPES} scopes")));
    }
    Ok(scopes)
}

fn domains(input: &Fields, current: Option<&SsoSettings>) -> ApiResult<Vec<String>> {
    let Some(raw) = string_list(input, "domains")? else {
        return Ok(current.map(|settings| settings.domains.clone()).unwrap_or_default());
    };
    if raw.len() > MAX_DOMAINS {
        return Err(ApiError::invalid("domains", format!("at most {MAX_DOMAINS} domains")));
    }
    let mut domains = raw.iter().map(|d| domain("domains", d)).collect::<ApiResult<Vec<_>>>()?;
    domains.sort();
    domains.dedup();
    Ok(domains)
}

fn groups_claim(input: &Fields, current: Option<&SsoSettings>) -> ApiResult<Option<String>> {
    match input.nullable_str("groupsClaim")? {
        None => Ok(current.and_then(|settings| settings.groups_claim.clone())),
        Some(None) => Ok(None),
        Some(Some(raw)) if raw.trim().is_empty() => Ok(None),
        Some(Some(raw)) => {
            let claim = raw.trim();
            let valid = claim.len() <= 100
                && claim.chars().all(|c| c.is_ascii_alphanumeric() || "_-:./".contains(c));
            if !valid {
                return Err(ApiError::invalid(
                    "groupsClaim",
                    "must be a claim name such as groups or roles",
                ));
            }
            Ok(Some(claim.to_string()))
        }
    }
}

async fn group_map(
    state: &AppState,
    org: OrgId,
    input: &Fields,
    current: Option<&SsoSettings>,
) -> ApiResult<BTreeMap<String, GroupId>> {
    let object = match input.get("groups") {
        None => return Ok(current.map(|settings| settings.groups.clone()).unwrap_or_default()),
        Some(serde_json::Value::Null) => return Ok(BTreeMap::new()),
        Some(serde_json::Value::Object(object)) => object,
        Some(_) => {
            return Err(ApiError::invalid(
                "groups",
                "must be an object: claim value → Vitrine group id",
            ));
        }
    };
    if object.len() > MAX_MAPPED_GROUPS {
        return Err(ApiError::invalid("groups", format!("at most {MAX_MAPPED_GROUPS} values")));
    }
    let known: Vec<GroupId> = state.store.list_groups(org).await?.iter().map(|g| g.id).collect();
    let mut map = BTreeMap::new();
    for (claim, group) in object {
        if claim.is_empty() || claim.len() > MAX_CLAIM_VALUE_BYTES {
            return Err(ApiError::invalid(
                "groups",
                format!("a claim value is 1 to {MAX_CLAIM_VALUE_BYTES} bytes"),
            ));
        }
        let id = group
            .as_str()
            .and_then(|raw| raw.parse::<GroupId>().ok())
            .filter(|id| known.contains(id))
            .ok_or_else(|| {
                ApiError::invalid(
                    format!("groups.{claim}"),
                    "must be the id of one of the organization's groups",
                )
            })?;
        map.insert(claim.clone(), id);
    }
    Ok(map)
}

/// Reads `PUT /api/v1/sso`'s body over the settings there are (a field left out keeps its
/// value); the secret, when given, comes back beside them.
async fn read_settings(
    state: &AppState,
    org: OrgId,
    input: &Fields,
    current: Option<&SsoSettings>,
) -> ApiResult<(SsoSettings, Option<String>)> {
    input.allow_only(&FIELDS)?;
    let preset = match input.optional_str("preset")? {
        Some(raw) => SsoPreset::parse(raw)
            .ok_or_else(|| ApiError::invalid("preset", "must be entra, google or generic"))?,
        None => current.map(|settings| settings.preset).unwrap_or(SsoPreset::Generic),
    };
    let issuer = match (input.optional_str("issuer")?, current, preset) {
        (Some(raw), _, _) => issuer(raw)?,
        (None, Some(settings), _) => settings.issuer.clone(),
        (None, None, SsoPreset::Google) => GOOGLE_ISSUER.to_string(),
        (None, None, _) => return Err(ApiError::invalid("issuer", "is required")),
    };
    let client_id = match (input.optional_str("clientId")?, current) {
        (Some(raw), _) => raw.trim().to_string(),
        (None, Some(settings)) => settings.client_id.clone(),
        (None, None) => return Err(ApiError::invalid("clientId", "is required")),
    };
    if client_id.is_empty() || client_id.len() > 200 {
        return Err(ApiError::invalid("clientId", "is the client id, 1 to 200 characters"));
    }
    let secret = input.optional_str("clientSecret")?.filter(|s| !s.is_empty());
    match secret {
        Some(secret) if secret.len() > MAX_SECRET_BYTES => {
            return Err(ApiError::invalid(
                "clientSecret",
                format!("is at most {MAX_SECRET_BYTES} bytes"),
            ));
        }
        None if current.is_none() => return Err(ApiError::invalid("clientSecret", "is required")),
        _ => {}
    }
    let default_role = match input.optional_str("defaultRole")? {
        Some(raw) => {
            raw.parse::<Role>().map_err(|message| ApiError::invalid("defaultRole", message))?
        }
        None => current.map(|settings| settings.default_role).unwrap_or(Role::Viewer),
    };
    let groups_claim = groups_claim(input, current)?;
    let groups = group_map(state, org, input, current).await?;
    if groups_claim.is_none() && !groups.is_empty() {
        return Err(ApiError::invalid("groupsClaim", "is required to map groups"));
    }
    let settings = SsoSettings {
        preset,
        issuer,
        client_id,
        scopes: scopes(input, current)?,
        required: input
            .optional_bool("required")?
            .or(current.map(|settings| settings.required))
            .unwrap_or(false),
        groups_claim,
        default_role,
        domains: domains(input, current)?,
        groups,
    };
    Ok((settings, secret.map(str::to_string)))
}

/// Sets the organization's provider, after discovery at its issuer answered.
pub async fn configure(
    state: &AppState,
    scope: &AdminScope,
    caller: &Caller,
    input: &Fields,
) -> ApiResult<SsoProvider> {
    let org = scope.org_id();
    let current = state.store.sso_provider(org).await?;
    let (settings, secret) =
        read_settings(state, org, input, current.as_ref().map(|p| &p.settings)).await?;
    state.sso.discover(state, &settings.issuer).await?;
    let sealed = secret
        .map(|secret| state.secrets.seal(&seal_label(org), secret.as_bytes()))
        .transpose()
        .map_err(|_| ApiError::internal())?;
    let actor = caller.actor(state.clock.now());
    let verified = caller.principal.operator;
    let provider = state
        .store
        .set_sso_provider(org, &actor, &settings, sealed.as_deref(), verified)
        .await
        .map_err(|error| match error {
            vitrine_store::StoreError::Conflict { field } => ApiError::invalid(
                field,
                "a domain in this list already leads to another organization's sign-in",
            )
            .with_status(axum::http::StatusCode::CONFLICT),
            other => other.into(),
        })?;
    Ok(provider)
}

/// An operator verifies that an organization owns a domain it listed.
pub async fn verify_domain(
    state: &AppState,
    caller: &Caller,
    org: OrgId,
    raw: &str,
) -> ApiResult<()> {
    caller.principal.operator()?;
    let domain = domain("domain", raw)?;
    let actor = caller.actor(state.clock.now());
    state.store.verify_sso_domain(org, &actor, &domain).await.map_err(|error| match error {
        vitrine_store::StoreError::NotFound => {
            ApiError::invalid("domain", "is not one of the organization's sign-in domains")
                .with_status(axum::http::StatusCode::NOT_FOUND)
        }
        other => other.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuers_are_https_urls_or_http_on_loopback() {
        assert_eq!(issuer("https://id.example.com/").unwrap(), "https://id.example.com");
        assert_eq!(
            issuer("https://login.microsoftonline.com/tid/v2.0").unwrap(),
            "https://login.microsoftonline.com/tid/v2.0"
        );
        assert!(issuer("http://127.0.0.1:9000").is_ok());
        assert!(issuer("http://localhost:9000/oidc").is_ok());
        for wrong in ["http://id.example.com", "ftp://x.y", "https://x.y/?a=1", "idp", ""] {
            let error = issuer(wrong).unwrap_err();
            assert_eq!(error.field.as_deref(), Some("issuer"), "{wrong}");
        }
    }

    #[test]
    fn domains_are_lower_case_names_with_a_dot() {
        assert_eq!(domain("domains", " @Acme.Example ").unwrap(), "acme.example");
        for wrong in ["acme", "-a.com", "a..com", "a b.com", "ä.com", ""] {
            assert!(domain("domains", wrong).is_err(), "{wrong}");
        }
    }
}
