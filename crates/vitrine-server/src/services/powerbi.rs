//! Power BI through an organization's service principal. Vitrine signs in to Entra ID with the
//! client-credentials grant (`POST {entra}/{tenant}/oauth2/v2.0/token`, scope
//! `https://analysis.windows.net/powerbi/api/.default`), keeps each access token until five
//! minutes before its `expires_in`, and reads the workspaces the principal belongs to and
//! their reports. Connecting a tenant tests it first and explains the usual set-up faults in
//! plain words; the secret is sealed with the master key and never answered back or logged.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use vitrine_core::token::RlsIdentity;
use vitrine_core::{AdminScope, Fields, OrgId};
use vitrine_store::{NewReport, PowerBiLink, PowerBiTenant, Report as StoredReport};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorCode};

/// The scope of an app-only token for the Power BI REST API.
pub const POWER_BI_SCOPE: &str = "https://analysis.windows.net/powerbi/api/.default";
/// An access token is used until this long before it expires.
const TOKEN_MARGIN: Duration = Duration::minutes(5);
/// Access tokens kept in all; beyond, the cache starts afresh.
const MAX_CACHED_TOKENS: usize = 10_000;
const MAX_SECRET_BYTES: usize = 1024;

/// What an organization's principal may use, unsealed for one call.
#[derive(Clone)]
pub struct Principal {
    pub tenant_id: String,
    pub client_id: String,
    secret: String,
    /// Distinguishes one set of credentials from the next in the token cache.
    version: i64,
}

impl std::fmt::Debug for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Principal")
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
struct CachedToken {
    value: String,
    use_until: DateTime<Utc>,
}

/// Entra ID access tokens per organization, credentials and scope, in bounded memory.
#[derive(Default)]
pub struct AccessTokens {
    cache: Mutex<HashMap<(OrgId, i64, &'static str), CachedToken>>,
}

/// A workspace the principal belongs to.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Workspace {
    pub id: String,
    pub name: String,
}

/// A report of a workspace.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub dataset_id: Option<String>,
    pub embed_url: String,
}

#[derive(Deserialize)]
struct List<T> {
    value: Vec<T>,
}

fn unreachable(service: &str, error: reqwest::Error) -> ApiError {
    tracing::warn!(service, error = %error.without_url(), "could not reach a Microsoft cloud service");
    ApiError::new(
        ErrorCode::PowerBiUnavailable,
        format!("{service} could not be reached from the server; try again in a moment."),
    )
}

/// Why Entra ID refused, in words an administrator can act on.
fn entra_refusal(code: Option<u64>, description: &str) -> ApiError {
    let aadsts = code.map(|c| format!(" (AADSTS{c})")).unwrap_or_default();
    match code {
        Some(7_000_215 | 7_000_222) => ApiError::invalid(
            "clientSecret",
            format!(
                "Entra ID refused this secret{aadsts}: copy the secret's Value, not its Secret ID, from the app registration's Certificates & secrets, and check that it has not expired."
            ),
        ),
        Some(700_016) => ApiError::invalid(
            "clientId",
            format!(
                "Entra ID knows no application with this client id in this tenant{aadsts}: copy the Application (client) ID from the app registration's Overview."
            ),
        ),
        Some(90_002 | 900_023) => ApiError::invalid(
            "tenantId",
            format!(
                "Entra ID knows no such tenant{aadsts}: copy the Directory (tenant) ID from the app registration's Overview."
            ),
        ),
        _ => {
            let first_line = description.lines().next().unwrap_or_default();
            ApiError::invalid(
                "clientSecret",
                format!("Entra ID refused to sign the application in{aadsts}: {first_line}"),
            )
        }
    }
}

/// Why Power BI refused the principal, in words an administrator can act on.
fn power_bi_refusal(status: reqwest::StatusCode) -> ApiError {
    let message = match status.as_u16() {
        401 | 403 => "Power BI refused the service principal: in the Power BI admin portal, Tenant settings, turn on \"Service principals can use Fabric APIs\" for it (or a security group it is in), and wait a few minutes for the setting to apply.".to_string(),
        other => format!("Power BI answered {other}."),
    };
    ApiError::invalid("clientId", message)
}

impl AccessTokens {
    /// An access token for `principal` and `scope`: the cached one while it has five minutes
    /// left, else a new one from Entra ID.
    pub async fn get(
        &self,
        state: &AppState,
        org: OrgId,
        principal: &Principal,
        scope: &'static str,
    ) -> ApiResult<String> {
        let key = (org, principal.version, scope);
        let now = state.clock.now();
        if let Some(cached) = self.lock().get(&key).filter(|t| t.use_until > now) {
            return Ok(cached.value.clone());
        }
        let url = format!("{}/{}/oauth2/v2.0/token", state.config.cloud.entra, principal.tenant_id);
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", principal.client_id.as_str()),
            ("client_secret", principal.secret.as_str()),
            ("scope", scope),
        ];
        let answer = state
            .http
            .post(url)
            .form(&form)
            .send()
            .await
            .map_err(|e| unreachable("Entra ID", e))?;
        let status = answer.status();
        let body: serde_json::Value =
            answer.json().await.map_err(|e| unreachable("Entra ID", e))?;
        if !status.is_success() {
            let code = body["error_codes"][0].as_u64();
            return Err(entra_refusal(
                code,
                body["error_description"].as_str().unwrap_or_default(),
            ));
        }
        let (Some(value), Some(lifetime)) =
            (body["access_token"].as_str(), body["expires_in"].as_i64())
        else {
            return Err(ApiError::new(
                ErrorCode::PowerBiUnavailable,
                "Entra ID answered without an access token; try again in a moment.",
            ));
        };
        let token = CachedToken {
            value: value.to_string(),
            use_until: now + Duration::seconds(lifetime) - TOKEN_MARGIN,
        };
        let mut cache = self.lock();
        if cache.len() >= MAX_CACHED_TOKENS {
            cache.clear();
        }
        cache.insert(key, token);
        Ok(value.to_string())
    }

    /// Drops the cached token of `principal` for `scope`: the service refused it (revoked,
    /// or its clock and ours disagree about its end).
    pub fn forget(&self, org: OrgId, principal: &Principal, scope: &'static str) {
        self.lock().remove(&(org, principal.version, scope));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(OrgId, i64, &'static str), CachedToken>> {
        self.cache.lock().unwrap_or_else(|poison| poison.into_inner())
    }
}

fn seal_label(org: OrgId) -> String {
    format!("powerbi:{org}")
}

/// The organization's principal, unsealed; `NotFound` when no tenant is connected.
pub async fn principal(state: &AppState, org: OrgId) -> ApiResult<Principal> {
    let tenant = state.store.powerbi_tenant(org).await?.ok_or_else(not_connected)?;
    let secret = state.secrets.unseal(&seal_label(org), &tenant.secret_sealed).map_err(|_| {
        tracing::error!(%org, "a Power BI secret could not be unsealed");
        ApiError::internal()
    })?;
    Ok(Principal {
        tenant_id: tenant.tenant_id,
        client_id: tenant.client_id,
        secret: String::from_utf8(secret).map_err(|_| ApiError::internal())?,
        version: tenant.updated_at.timestamp_millis(),
    })
}

fn not_connected() -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        "No Power BI tenant is connected: an administrator connects one with PUT /api/v1/powerbi (see docs/powerbi.md).",
    )
}

/// A Microsoft cloud's answer: its status, headers and body.
pub(crate) struct Answer {
    pub status: reqwest::StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: axum::body::Bytes,
}

impl Answer {
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> ApiResult<T> {
        serde_json::from_slice(&self.body).map_err(|_| {
            ApiError::new(
                ErrorCode::PowerBiUnavailable,
                "Power BI answered something unexpected; try again in a moment.",
            )
        })
    }

    /// The service no longer takes the access token: 401, or 403 `TokenExpired` (Power BI's
    /// answer when the token's end passed by its own clock).
    fn token_refused(&self) -> bool {
        self.status == reqwest::StatusCode::UNAUTHORIZED
            || (self.status == reqwest::StatusCode::FORBIDDEN
                && self
                    .json::<serde_json::Value>()
                    .is_ok_and(|body| body["error"]["code"] == "TokenExpired"))
    }
}

impl AccessTokens {
    /// Sends a request built by `request` to `service` with the principal's token for
    /// `scope`. When the service no longer takes the cached token, it is asked once more with
    /// a new one.
    pub(crate) async fn send(
        &self,
        state: &AppState,
        org: OrgId,
        principal: &Principal,
        (service, scope): (&str, &'static str),
        request: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> ApiResult<Answer> {
        let mut retried = false;
        loop {
            let token = self.get(state, org, principal, scope).await?;
            let answer = request(&token).send().await.map_err(|e| unreachable(service, e))?;
            let (status, headers) = (answer.status(), answer.headers().clone());
            let body = answer.bytes().await.map_err(|e| unreachable(service, e))?;
            let answer = Answer { status, headers, body };
            if retried || !answer.token_refused() {
                return Ok(answer);
            }
            self.forget(org, principal, scope);
            retried = true;
        }
    }
}

/// Sends a Power BI API request built by `request` as `principal`.
async fn send(
    state: &AppState,
    org: OrgId,
    principal: &Principal,
    request: impl Fn(&str) -> reqwest::RequestBuilder,
) -> ApiResult<Answer> {
    state.powerbi.send(state, org, principal, ("Power BI", POWER_BI_SCOPE), request).await
}

/// Reads a Power BI API path as `principal`.
async fn read<T: serde::de::DeserializeOwned>(
    state: &AppState,
    org: OrgId,
    principal: &Principal,
    path: &str,
) -> ApiResult<T> {
    let url = format!("{}{path}", state.config.cloud.powerbi_api);
    let answer =
        send(state, org, principal, |token| state.http.get(&url).bearer_auth(token)).await?;
    if !answer.status.is_success() {
        return Err(power_bi_refusal(answer.status));
    }
    answer.json()
}

/// A Power BI embed token for one report, as GenerateToken answered it.
#[derive(Debug, Clone)]
pub struct EmbedGrant {
    pub token: String,
    pub token_id: String,
    pub expires_at: DateTime<Utc>,
    /// Where the report is embedded from, and its id there.
    pub embed_url: String,
    pub report_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GeneratedToken {
    token: String,
    token_id: String,
    expiration: DateTime<Utc>,
}

/// The body of GenerateToken (V2) for `link` as `identity` for `lifetime_minutes`: the report,
/// its dataset and workspace, and an effective identity only when the dataset has
/// row-level security (Power BI refuses one otherwise): the user's email as `username`, their
/// Vitrine roles as `roles`, their attributes as a JSON object in `customData`.
pub fn generate_token_request(
    link: &PowerBiLink,
    identity: &RlsIdentity,
    lifetime_minutes: u32,
) -> Result<serde_json::Value, ApiError> {
    let mut body = serde_json::json!({
        "reports": [{ "id": link.report_id, "allowEdit": false }],
        "datasets": [{ "id": link.dataset_id, "xmlaPermissions": "Off" }],
        "targetWorkspaces": [{ "id": link.workspace_id }],
        "lifetimeInMinutes": lifetime_minutes,
    });
    if link.identity_required {
        if link.roles_required && identity.roles.is_empty() {
            return Err(ApiError::new(
                ErrorCode::NoRlsRole,
                "No row-level-security role is assigned to you, and this report shows no data without one; ask an administrator to assign you one.",
            ));
        }
        let mut effective = serde_json::json!({
            "username": identity.username,
            "datasets": [link.dataset_id],
        });
        if !identity.roles.is_empty() {
            effective["roles"] = serde_json::json!(identity.roles);
        }
        if !identity.attributes.is_empty() {
            let custom =
                serde_json::to_string(&identity.attributes).map_err(|_| ApiError::internal())?;
            effective["customData"] = serde_json::Value::String(custom);
        }
        body["identities"] = serde_json::json!([effective]);
    }
    Ok(body)
}

/// Power BI's token for a report imported from there (none for one of Vitrine's own),
/// living as long as `policy` says at most.
pub async fn embed_token_if_linked(
    state: &AppState,
    org: OrgId,
    link: Option<&PowerBiLink>,
    identity: &RlsIdentity,
    policy: &vitrine_core::token::TokenPolicy,
) -> ApiResult<Option<EmbedGrant>> {
    match link {
        Some(link) => {
            let minutes = policy.lifetime_seconds.div_ceil(60);
            embed_token(state, org, link, identity, minutes).await.map(Some)
        }
        None => Ok(None),
    }
}

/// Asks Power BI for an embed token of `link` for `identity`, living `lifetime_minutes` at
/// most (Power BI may shorten it: it never outlives the access token that asked for it). A
/// refusal or an outage answers `PowerBiUnavailable`, which viewers retry.
pub async fn embed_token(
    state: &AppState,
    org: OrgId,
    link: &PowerBiLink,
    identity: &RlsIdentity,
    lifetime_minutes: u32,
) -> ApiResult<EmbedGrant> {
    let body = generate_token_request(link, identity, lifetime_minutes)?;
    let principal = principal(state, org).await.map_err(|error| {
        if error.code == ErrorCode::NotFound {
            ApiError::new(
                ErrorCode::PowerBiUnavailable,
                "This report comes from Power BI, and the organization's Power BI tenant is no longer connected; ask an administrator.",
            )
        } else {
            error
        }
    })?;
    let url = format!("{}/v1.0/myorg/GenerateToken", state.config.cloud.powerbi_api);
    let answer =
        send(state, org, &principal, |token| state.http.post(&url).bearer_auth(token).json(&body))
            .await?;
    let status = answer.status;
    if !status.is_success() {
        let detail: serde_json::Value = answer.json().unwrap_or_default();
        let message = detail["error"]["message"].as_str().unwrap_or_default();
        tracing::warn!(%org, status = status.as_u16(), message, report = %link.report_id, "Power BI refused an embed token");
        return Err(ApiError::new(
            ErrorCode::PowerBiUnavailable,
            format!(
                "Power BI did not give a token for this report (it answered {}); the report is retried by itself.",
                status.as_u16()
            ),
        ));
    }
    let generated: GeneratedToken = answer.json()?;
    Ok(EmbedGrant {
        token: generated.token,
        token_id: generated.token_id,
        expires_at: generated.expiration,
        embed_url: link.embed_url.clone(),
        report_id: link.report_id.clone(),
    })
}

/// The workspaces the principal belongs to.
pub async fn workspaces(
    state: &AppState,
    org: OrgId,
    principal: &Principal,
) -> ApiResult<Vec<Workspace>> {
    Ok(read::<List<Workspace>>(state, org, principal, "/v1.0/myorg/groups").await?.value)
}

/// Every report of every workspace the principal belongs to, with its workspace.
pub async fn reports(state: &AppState, org: OrgId) -> ApiResult<Vec<(Workspace, Report)>> {
    let principal = principal(state, org).await?;
    let mut found = Vec::new();
    for workspace in workspaces(state, org, &principal).await? {
        let path = format!("/v1.0/myorg/groups/{}/reports", workspace.id);
        for report in read::<List<Report>>(state, org, &principal, &path).await?.value {
            found.push((workspace.clone(), report));
        }
    }
    Ok(found)
}

/// What Power BI says of a dataset that matters to embedding it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DatasetNeeds {
    #[serde(default)]
    is_effective_identity_required: bool,
    #[serde(default)]
    is_effective_identity_roles_required: bool,
}

/// Imports a report of the organization's Power BI tenant as a Vitrine report
/// (administrators): `{"name","description"?,"powerbi":{"workspaceId","reportId"}}`. Power BI
/// is asked for the report (its embed URL and dataset) and for its dataset (whether embed
/// tokens need an effective identity).
pub async fn import_report(
    state: &AppState,
    caller: &Caller,
    input: &Fields,
) -> ApiResult<StoredReport> {
    let scope = caller.principal.admin()?;
    let org = scope.org_id();
    let name = vitrine_core::validate::name("name", input.required_str("name")?)?;
    let description = vitrine_core::validate::description(
        "description",
        input.optional_str("description")?.unwrap_or(""),
    )?;
    let reference = input
        .get("powerbi")
        .and_then(|value| value.as_object())
        .ok_or_else(|| ApiError::invalid("powerbi", "is {\"workspaceId\",\"reportId\"}"))?;
    let id_of = |field: &str| {
        reference
            .get(field)
            .and_then(|v| v.as_str())
            .and_then(|v| uuid::Uuid::parse_str(v).ok())
            .map(|id| id.to_string())
            .ok_or_else(|| {
                ApiError::invalid(format!("powerbi.{field}"), "is a Power BI id (a GUID)")
            })
    };
    let (workspace, report_id) = (id_of("workspaceId")?, id_of("reportId")?);
    if reference.len() != 2 {
        return Err(ApiError::invalid("powerbi", "has only workspaceId and reportId"));
    }
    let principal = match principal(state, org).await {
        Err(error) if error.code == ErrorCode::NotFound => {
            return Err(ApiError::invalid(
                "powerbi",
                "no Power BI tenant is connected: an administrator connects one first (PUT /api/v1/powerbi)",
            ));
        }
        other => other?,
    };
    let path = format!("/v1.0/myorg/groups/{workspace}/reports/{report_id}");
    let report: Report = read(state, org, &principal, &path).await.map_err(|error| {
        if error.code == ErrorCode::InvalidInput {
            ApiError::invalid(
                "powerbi.reportId",
                "the service principal sees no such report in this workspace: check the ids, and that the principal is a member of the workspace",
            )
        } else {
            error
        }
    })?;
    let dataset_id = report.dataset_id.clone().ok_or_else(|| {
        ApiError::invalid("powerbi.reportId", "this report has no dataset (a paginated report?)")
    })?;
    let path = format!("/v1.0/myorg/groups/{workspace}/datasets/{dataset_id}");
    let needs: DatasetNeeds = read(state, org, &principal, &path).await?;
    let link = PowerBiLink {
        workspace_id: workspace,
        report_id: report.id,
        dataset_id,
        embed_url: report.embed_url,
        identity_required: needs.is_effective_identity_required,
        roles_required: needs.is_effective_identity_roles_required,
    };
    let new = NewReport { name, description, owner_id: caller.principal.user_id };
    let actor = caller.actor(state.clock.now());
    Ok(state.store.create_powerbi_report(org, &actor, &new, &link).await?)
}

/// A tenant connected, with what the test found.
pub struct Connected {
    pub tenant: PowerBiTenant,
    pub workspaces: usize,
}

/// Connects (or replaces) the organization's tenant, after testing it: a token from Entra ID,
/// then the principal's workspaces from Power BI. Nothing is saved when the test fails.
pub async fn connect(
    state: &AppState,
    scope: &AdminScope,
    caller: &Caller,
    input: &Fields,
) -> ApiResult<Connected> {
    input.allow_only(&["tenantId", "clientId", "clientSecret"])?;
    let tenant_id = input.required_str("tenantId")?.trim().to_string();
    let client_id = input.required_str("clientId")?.trim().to_string();
    let secret = input.required_str("clientSecret")?.to_string();
    let is_domain = |t: &str| {
        t.len() <= 253
            && t.contains('.')
            && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    };
    if uuid::Uuid::parse_str(&tenant_id).is_err() && !is_domain(&tenant_id) {
        return Err(ApiError::invalid(
            "tenantId",
            "is the Directory (tenant) ID, a GUID, or the tenant's domain (contoso.onmicrosoft.com)",
        ));
    }
    if uuid::Uuid::parse_str(&client_id).is_err() {
        return Err(ApiError::invalid("clientId", "is the Application (client) ID, a GUID"));
    }
    if secret.is_empty() || secret.len() > MAX_SECRET_BYTES {
        return Err(ApiError::invalid(
            "clientSecret",
            format!("is the client secret's Value, 1 to {MAX_SECRET_BYTES} bytes"),
        ));
    }
    let org = scope.org_id();
    let trial = Principal {
        tenant_id: tenant_id.clone(),
        client_id: client_id.clone(),
        secret: secret.clone(),
        version: -state.clock.now().timestamp_millis(),
    };
    let found = workspaces(state, org, &trial).await?;
    let sealed = state
        .secrets
        .seal(&seal_label(org), secret.as_bytes())
        .map_err(|_| ApiError::internal())?;
    let actor = caller.actor(state.clock.now());
    let tenant =
        state.store.set_powerbi_tenant(org, &actor, &tenant_id, &client_id, &sealed).await?;
    Ok(Connected { tenant, workspaces: found.len() })
}
