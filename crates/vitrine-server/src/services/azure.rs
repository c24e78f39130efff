//! Azure capacities through Azure Resource Manager, with the organization's Power BI service
//! principal: the state Azure reports (`properties.state`), and `suspend` / `resume`, which
//! answer 200, or 202 with a `Location` to poll and a `Retry-After` to wait. Throttling (429
//! with `Retry-After`) and refusals (`AuthorizationFailed`) come back as [`ArmFault`]s that say
//! what to do and when the next try is.

use std::time::Duration;

use vitrine_core::OrgId;
use vitrine_store::AzureCapacity;

use super::powerbi::Answer;
use crate::app::AppState;

/// The scope of an app-only token for Azure Resource Manager.
pub const ARM_SCOPE: &str = "https://management.azure.com/.default";
/// How long to wait before polling when ARM does not say.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(10);
/// How often the state is read while a capacity settles.
const SETTLING_POLL: Duration = Duration::from_secs(2);
/// The longest wait between polls, whatever ARM says.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// What Azure says of a capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AzureState {
    /// `Succeeded` (A SKUs) or `Active` (F SKUs).
    Running,
    /// `Paused` or `Suspended`.
    Paused,
    /// Between the two, or another state (`Provisioning`, `Scaling`…): not settled.
    Changing,
}

impl AzureState {
    fn of(state: &str) -> Self {
        match state {
            "Succeeded" | "Active" => Self::Running,
            "Paused" | "Suspended" => Self::Paused,
            _ => Self::Changing,
        }
    }
}

/// Why Azure did not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArmFault {
    /// 429: try again after the given wait.
    Throttled(Duration),
    /// Anything else, in words an administrator can act on.
    Refused(String),
    /// Azure Resource Manager (or Entra ID) could not be reached.
    Unreachable,
}

impl std::fmt::Display for ArmFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Throttled(wait) => write!(
                f,
                "Azure is throttling requests (429); the next try is in {} s",
                wait.as_secs()
            ),
            Self::Refused(message) => f.write_str(message),
            Self::Unreachable => f.write_str("Azure could not be reached from the server"),
        }
    }
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> Duration {
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok())
        .map_or(DEFAULT_RETRY_AFTER, Duration::from_secs)
        .min(MAX_RETRY_AFTER)
}

/// ARM's answer to a call that did not succeed, as a fault.
fn fault(answer: &Answer, capacity: &AzureCapacity) -> ArmFault {
    let status = answer.status;
    if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return ArmFault::Throttled(retry_after(&answer.headers));
    }
    let body: serde_json::Value = answer.json().unwrap_or_default();
    let code = body["error"]["code"].as_str().unwrap_or_default().to_string();
    let message = match code.as_str() {
        "AuthorizationFailed" => format!(
            "Azure refused (AuthorizationFailed): give the Power BI service principal the Contributor role on the capacity {} (Access control (IAM) in the Azure portal)",
            capacity.name
        ),
        "ResourceNotFound" | "ResourceGroupNotFound" | "SubscriptionNotFound" => format!(
            "Azure has no capacity {} in resource group {} of subscription {} ({code})",
            capacity.name, capacity.resource_group, capacity.subscription_id
        ),
        "InvalidAuthenticationToken" | "AuthenticationFailed" | "ExpiredAuthenticationToken" => {
            format!("Azure did not accept the service principal's token ({code})")
        }
        _ => format!(
            "Azure answered {} {code}: {}",
            status.as_u16(),
            body["error"]["message"].as_str().unwrap_or_default()
        ),
    };
    ArmFault::Refused(message)
}

/// The organization's principal, for ARM tokens.
async fn principal(state: &AppState, org: OrgId) -> Result<super::powerbi::Principal, ArmFault> {
    super::powerbi::principal(state, org).await.map_err(|error| {
        ArmFault::Refused(format!("no Power BI tenant to reach Azure with: {}", error.message))
    })
}

/// Sends an ARM request built by `request` with the principal's ARM token (replaced once
/// when ARM no longer takes it).
async fn send(
    state: &AppState,
    org: OrgId,
    request: impl Fn(&str) -> reqwest::RequestBuilder,
) -> Result<Answer, ArmFault> {
    let principal = principal(state, org).await?;
    let service = ("Azure Resource Manager", ARM_SCOPE);
    state.powerbi.send(state, org, &principal, service, request).await.map_err(|error| {
        if error.code == crate::error::ErrorCode::PowerBiUnavailable {
            ArmFault::Unreachable
        } else {
            ArmFault::Refused(error.message)
        }
    })
}

fn url(state: &AppState, capacity: &AzureCapacity, action: Option<&str>) -> String {
    let action = action.map(|a| format!("/{a}")).unwrap_or_default();
    format!(
        "{}{}{action}?api-version={}",
        state.config.cloud.arm,
        capacity.resource_path(),
        capacity.kind.api_version()
    )
}

/// What Azure says of the capacity now.
pub async fn state_of(
    state: &AppState,
    org: OrgId,
    capacity: &AzureCapacity,
) -> Result<AzureState, ArmFault> {
    let url = url(state, capacity, None);
    let answer = send(state, org, |token| state.http.get(&url).bearer_auth(token)).await?;
    if !answer.status.is_success() {
        return Err(fault(&answer, capacity));
    }
    let body: serde_json::Value = answer.json().map_err(|_| ArmFault::Unreachable)?;
    Ok(AzureState::of(body["properties"]["state"].as_str().unwrap_or_default()))
}

/// Suspends or resumes the capacity and returns once Azure reports it settled there:
/// `suspend` or `resume` (unless it is there already), then its `Location` polled as its
/// `Retry-After` says, then the state read until it is the one asked for. Throttling is
/// waited out, each wait told to `throttled` first; the caller bounds the whole with its own
/// timeout.
pub async fn switch(
    state: &AppState,
    org: OrgId,
    capacity: &AzureCapacity,
    resume: bool,
    throttled: &(dyn Fn(&ArmFault) + Send + Sync),
) -> Result<(), ArmFault> {
    let wait_out = |fault: ArmFault| async move {
        throttled(&fault);
        if let ArmFault::Throttled(wait) = fault {
            tokio::time::sleep(wait).await;
        }
    };
    let wanted = if resume { AzureState::Running } else { AzureState::Paused };
    let action = if resume { "resume" } else { "suspend" };
    let mut asked = false;
    loop {
        match state_of(state, org, capacity).await {
            Ok(now) if now == wanted => return Ok(()),
            // Between states, or asked and not there yet: look again shortly.
            Ok(AzureState::Changing) => tokio::time::sleep(SETTLING_POLL).await,
            Ok(_) if asked => tokio::time::sleep(SETTLING_POLL).await,
            Ok(_) => match request(state, org, capacity, action).await {
                Ok(()) => asked = true,
                Err(fault @ ArmFault::Throttled(_)) => wait_out(fault).await,
                Err(other) => return Err(other),
            },
            Err(fault @ ArmFault::Throttled(_)) => wait_out(fault).await,
            Err(other) => return Err(other),
        }
    }
}

/// `POST …/{action}`, then its `Location` polled until the operation is done.
async fn request(
    state: &AppState,
    org: OrgId,
    capacity: &AzureCapacity,
    action: &str,
) -> Result<(), ArmFault> {
    let url = url(state, capacity, Some(action));
    let answer = send(state, org, |token| {
        state.http.post(&url).bearer_auth(token).header(reqwest::header::CONTENT_LENGTH, "0")
    })
    .await?;
    match answer.status.as_u16() {
        200 | 204 => return Ok(()),
        202 => {}
        _ => return Err(fault(&answer, capacity)),
    }
    let mut wait = retry_after(&answer.headers);
    let Some(location) = answer
        .headers
        .get(reqwest::header::LOCATION)
        .and_then(|value| value.to_str().ok())
        .filter(|location| location.starts_with(&state.config.cloud.arm))
        .map(str::to_string)
    else {
        // No operation to follow (or one outside ARM, never followed): the state tells.
        return Ok(());
    };
    loop {
        tokio::time::sleep(wait).await;
        let polled = send(state, org, |token| state.http.get(&location).bearer_auth(token)).await?;
        match polled.status.as_u16() {
            200 | 204 => return Ok(()),
            202 | 429 => wait = retry_after(&polled.headers),
            _ => return Err(fault(&polled, capacity)),
        }
    }
}

/// Reads `azure`: `{"kind":"powerBiEmbedded"|"fabric","subscriptionId","resourceGroup","name"}`.
pub fn resource_from(
    value: Option<&serde_json::Value>,
) -> Result<AzureCapacity, crate::error::ApiError> {
    use crate::error::ApiError;
    let object = value.and_then(|v| v.as_object()).ok_or_else(|| {
        ApiError::invalid("azure", "is {\"kind\",\"subscriptionId\",\"resourceGroup\",\"name\"}")
    })?;
    if let Some(other) = object
        .keys()
        .find(|k| !["kind", "subscriptionId", "resourceGroup", "name"].contains(&k.as_str()))
    {
        return Err(ApiError::invalid(
            format!("azure.{other}"),
            "is not a setting of an Azure capacity",
        ));
    }
    let text = |field: &str| object.get(field).and_then(|v| v.as_str()).unwrap_or_default().trim();
    let kind = match text("kind") {
        "powerBiEmbedded" => vitrine_store::AzureCapacityKind::PowerBiEmbedded,
        "fabric" => vitrine_store::AzureCapacityKind::Fabric,
        _ => {
            return Err(ApiError::invalid(
                "azure.kind",
                "is powerBiEmbedded (A SKUs) or fabric (F SKUs)",
            ));
        }
    };
    let subscription = text("subscriptionId");
    if uuid::Uuid::parse_str(subscription).is_err() {
        return Err(ApiError::invalid("azure.subscriptionId", "is the subscription's id, a GUID"));
    }
    let group = text("resourceGroup");
    let group_ok = (1..=90).contains(&group.len())
        && !group.ends_with('.')
        && group.chars().all(|c| c.is_alphanumeric() || "-_.()".contains(c));
    if !group_ok {
        return Err(ApiError::invalid(
            "azure.resourceGroup",
            "is a resource group's name: 1 to 90 letters, digits, -, _, ., ( or )",
        ));
    }
    let name = text("name");
    let name_ok = (3..=63).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !name_ok {
        return Err(ApiError::invalid(
            "azure.name",
            "is the capacity's name in Azure: 3 to 63 lowercase letters and digits, starting with a letter",
        ));
    }
    Ok(AzureCapacity {
        kind,
        subscription_id: subscription.to_lowercase(),
        resource_group: group.to_string(),
        name: name.to_string(),
    })
}
