//! Capacities: the compute reports run on, their state, timeline and who keeps them on, and
//! which capacity a report runs on.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use vitrine_core::capacity::CapacityState;
use vitrine_core::{CapacityId, OrgId, ReportId};

use crate::{Actor, Capacity, CapacityChange, CapacityEvent, Report, StoreResult};

#[async_trait]
pub trait CapacityStore: Send + Sync {
    async fn create_capacity(
        &self,
        org: OrgId,
        actor: &Actor,
        capacity: &Capacity,
    ) -> StoreResult<Capacity>;
    async fn list_capacities(&self, org: OrgId) -> StoreResult<Vec<Capacity>>;
    async fn get_capacity(&self, org: OrgId, id: CapacityId) -> StoreResult<Capacity>;
    /// Every capacity of the installation, for the scheduler.
    async fn all_capacities(&self) -> StoreResult<Vec<Capacity>>;
    async fn update_capacity(
        &self,
        org: OrgId,
        actor: &Actor,
        id: CapacityId,
        change: &CapacityChange,
    ) -> StoreResult<Capacity>;
    /// Deletes a capacity and its timeline. Refused with `Conflict { field: "reports" }` while
    /// reports run on it, so that none is silently left always on, and with
    /// `Conflict { field: "state" }` while it is resuming or pausing.
    async fn delete_capacity(&self, org: OrgId, actor: &Actor, id: CapacityId) -> StoreResult<()>;
    /// Moves a capacity to `event.state` only if it is in one of `from` now, recording the
    /// event in the same transaction; returns whether it moved. Of many concurrent callers
    /// asking for the same transition, exactly one succeeds.
    async fn transition_capacity(
        &self,
        from: &[CapacityState],
        event: &CapacityEvent,
    ) -> StoreResult<bool>;
    /// Adds `event` to the capacity's timeline without moving it (a fault its provider met
    /// and will try again after, in the state it is in).
    async fn note_capacity_event(&self, event: &CapacityEvent) -> StoreResult<()>;
    /// Notes activity that keeps the capacity on (never moves the time backwards), and each of
    /// `keepers` as keeping it on at `at` (never backwards either), in one write.
    async fn record_capacity_activity(
        &self,
        id: CapacityId,
        keepers: &[&str],
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Who kept the capacity on since `since`, most recent first.
    async fn capacity_keepers(
        &self,
        org: OrgId,
        id: CapacityId,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<(String, DateTime<Utc>)>>;
    /// The timeline, newest first.
    async fn capacity_events(
        &self,
        org: OrgId,
        id: CapacityId,
        limit: u32,
    ) -> StoreResult<Vec<CapacityEvent>>;
    async fn set_report_capacity(
        &self,
        org: OrgId,
        actor: &Actor,
        report: ReportId,
        capacity: Option<CapacityId>,
    ) -> StoreResult<Report>;
}
