//! Reports, who may open them, and their definitions.

use async_trait::async_trait;
use vitrine_core::{OrgId, ReportId, UserId};

use crate::{
    Actor, Grantee, NewReport, Report, ReportAccess, ReportChange, ReportGate, StoreResult,
};

#[async_trait]
pub trait ReportStore: Send + Sync {
    // Reports and who may open them.
    async fn create_report(
        &self,
        org: OrgId,
        actor: &Actor,
        report: &NewReport,
    ) -> StoreResult<Report>;
    async fn get_report(&self, org: OrgId, id: ReportId) -> StoreResult<Report>;
    /// The organization a report belongs to: for the embed page, which is framed before any
    /// token exists and must name the organization's allowed origins.
    async fn organization_of_report(&self, id: ReportId) -> StoreResult<OrgId>;
    async fn list_reports(&self, org: OrgId) -> StoreResult<Vec<Report>>;
    async fn update_report(
        &self,
        org: OrgId,
        actor: &Actor,
        id: ReportId,
        change: &ReportChange,
    ) -> StoreResult<Report>;
    async fn delete_report(&self, org: OrgId, actor: &Actor, id: ReportId) -> StoreResult<()>;
    async fn set_report_access(
        &self,
        org: OrgId,
        actor: &Actor,
        report: ReportId,
        grantee: Grantee,
        granted: bool,
    ) -> StoreResult<()>;
    async fn report_access(&self, org: OrgId, report: ReportId) -> StoreResult<ReportAccess>;
    /// Reports the user may open: granted to them or to one of their groups.
    async fn reports_for_user(&self, org: OrgId, user: UserId) -> StoreResult<Vec<Report>>;
    /// Where the report runs and whether `user` may open it, without reading its definition.
    async fn report_gate(
        &self,
        org: OrgId,
        user: UserId,
        report: ReportId,
    ) -> StoreResult<ReportGate>;
    /// The report and whether `user` may open it (a direct grant or one of their groups').
    async fn report_for_user(
        &self,
        org: OrgId,
        user: UserId,
        report: ReportId,
    ) -> StoreResult<(Report, bool)>;

    // Report definitions.
    async fn set_report_definition(
        &self,
        org: OrgId,
        actor: &Actor,
        report: ReportId,
        definition: Option<&serde_json::Value>,
    ) -> StoreResult<Report>;
}
