//! An organization's Power BI tenant: the Entra ID service principal Vitrine signs in as to
//! list and embed the organization's Power BI reports. Its secret is kept sealed (the server
//! seals it with the master key); the audit records that it changed, never what it is.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use vitrine_core::OrgId;

use crate::{Actor, NewReport, Report, StoreResult};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PowerBiTenant {
    pub org_id: OrgId,
    /// The Entra ID tenant (directory) id or domain.
    pub tenant_id: String,
    /// The application (client) id of the service principal.
    pub client_id: String,
    pub secret_sealed: Vec<u8>,
    pub updated_at: DateTime<Utc>,
}

/// The kind of an Azure capacity, by its resource provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AzureCapacityKind {
    /// Power BI Embedded, A SKUs: `Microsoft.PowerBIDedicated/capacities`.
    PowerBiEmbedded,
    /// Fabric, F SKUs: `Microsoft.Fabric/capacities`.
    Fabric,
}

impl AzureCapacityKind {
    /// The ARM resource provider's namespace.
    pub fn namespace(self) -> &'static str {
        match self {
            Self::PowerBiEmbedded => "Microsoft.PowerBIDedicated",
            Self::Fabric => "Microsoft.Fabric",
        }
    }

    /// The ARM API version Vitrine speaks to it.
    pub fn api_version(self) -> &'static str {
        match self {
            Self::PowerBiEmbedded => "2021-01-01",
            Self::Fabric => "2023-11-01",
        }
    }
}

/// An Azure capacity Vitrine pauses and resumes through Azure Resource Manager.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AzureCapacity {
    pub kind: AzureCapacityKind,
    pub subscription_id: String,
    pub resource_group: String,
    pub name: String,
}

impl AzureCapacity {
    /// The capacity's ARM resource path.
    pub fn resource_path(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/{}/capacities/{}",
            self.subscription_id,
            self.resource_group,
            self.kind.namespace(),
            self.name
        )
    }
}

/// Where a report imported from Power BI lives there, and what its embed tokens need.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PowerBiLink {
    pub workspace_id: String,
    pub report_id: String,
    pub dataset_id: String,
    pub embed_url: String,
    /// The dataset has row-level security: every embed token names an effective identity.
    pub identity_required: bool,
    /// That identity must carry roles.
    pub roles_required: bool,
}

#[async_trait]
pub trait PowerBiStore: Send + Sync {
    /// The organization's tenant, if it connected one.
    async fn powerbi_tenant(&self, org: OrgId) -> StoreResult<Option<PowerBiTenant>>;
    /// Connects the organization's tenant, or replaces the one it had; audited.
    async fn set_powerbi_tenant(
        &self,
        org: OrgId,
        actor: &Actor,
        tenant_id: &str,
        client_id: &str,
        secret_sealed: &[u8],
    ) -> StoreResult<PowerBiTenant>;
    /// A new report of the organization that shows the Power BI report `link` names; audited.
    async fn create_powerbi_report(
        &self,
        org: OrgId,
        actor: &Actor,
        new: &NewReport,
        link: &PowerBiLink,
    ) -> StoreResult<Report>;
}

/// What the audit keeps of a tenant: never its secret.
pub fn audited_tenant(tenant: &PowerBiTenant) -> serde_json::Value {
    serde_json::json!({ "tenantId": tenant.tenant_id, "clientId": tenant.client_id })
}

/// The audit of a tenant connected (`old` none) or replaced: its action, the values before
/// and after, the secret only said to be set or changed.
pub fn tenant_audit(
    old: Option<&PowerBiTenant>,
    new: &PowerBiTenant,
) -> (&'static str, Option<serde_json::Value>, serde_json::Value) {
    let mut after = audited_tenant(new);
    after["secret"] = serde_json::json!(if old.is_some() { "changed" } else { "set" });
    let action = if old.is_some() { "changed" } else { "connected" };
    (action, old.map(audited_tenant), after)
}
