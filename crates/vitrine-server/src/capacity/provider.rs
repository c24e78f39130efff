//! Providers do the real switching. Suspend and resume are long-running operations that may
//! fail or hang: `local` closes and reopens the built-in engine's datasets; `azure` suspends
//! and resumes an Azure capacity (Power BI Embedded or Fabric) through Azure Resource
//! Manager; `simulated` waits and fails on request, for demos and tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use vitrine_core::capacity::CapacityState;
use vitrine_core::{CapacityId, DatasetId};
use vitrine_engine::{Engine, ReportDefinition};
use vitrine_store::{Capacity, Store};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    #[error("the provider failed: {0}")]
    Failed(String),
    #[error("the provider did not answer in time")]
    TimedOut,
}

#[async_trait]
pub trait CapacityProvider: Send + Sync + 'static {
    /// Brings the capacity up; returns when it can serve reports.
    async fn resume(&self, capacity: &Capacity) -> Result<(), ProviderError>;
    /// Takes the capacity down; returns when it no longer costs anything.
    async fn suspend(&self, capacity: &Capacity) -> Result<(), ProviderError>;
    /// The state the provider's side reports now, for capacities that can be switched from
    /// elsewhere too (someone pauses it in the Azure portal); `None` for the others.
    async fn observe(&self, _capacity: &Capacity) -> Option<Result<Observed, ProviderError>> {
        None
    }
}

/// A capacity's state as its provider reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed {
    Running,
    Paused,
    /// Between the two: nothing to reconcile yet.
    Changing,
}

/// The built-in engine's capacity: paused, the datasets of its reports are closed (their
/// results forgotten, their sources' pools idle); running, they are open.
pub struct LocalProvider {
    store: Arc<dyn Store>,
    engine: Arc<Engine>,
    files: Arc<crate::files::DatasetFiles>,
    /// Held while datasets open or close, by this provider and by the query path alike, so
    /// that an open under way and a pause never cross.
    loading: Arc<tokio::sync::Mutex<()>>,
}

impl LocalProvider {
    pub fn new(
        store: Arc<dyn Store>,
        engine: Arc<Engine>,
        files: Arc<crate::files::DatasetFiles>,
        loading: Arc<tokio::sync::Mutex<()>>,
    ) -> Self {
        Self { store, engine, files, loading }
    }

    /// The organization's reports with the dataset each reads, and the capacities that serve
    /// queries (running or starting; pausing, paused or failed ones answer none).
    async fn readers(
        &self,
        org: vitrine_core::OrgId,
    ) -> Result<(Vec<(vitrine_store::Report, Option<DatasetId>)>, Vec<CapacityId>), ProviderError>
    {
        let failed = |e: vitrine_store::StoreError| ProviderError::Failed(e.to_string());
        let reports = self.store.list_reports(org).await.map_err(failed)?;
        let serving = self
            .store
            .list_capacities(org)
            .await
            .map_err(failed)?
            .into_iter()
            .filter(|c| matches!(c.state, CapacityState::Running | CapacityState::Resuming))
            .map(|c| c.id)
            .collect();
        let read = reports
            .into_iter()
            .map(|report| {
                let dataset = report
                    .definition
                    .clone()
                    .and_then(|value| ReportDefinition::from_json(value).ok())
                    .and_then(|definition| definition.dataset.parse::<DatasetId>().ok());
                (report, dataset)
            })
            .collect();
        Ok((read, serving))
    }

    /// Whether anyone may query `dataset` now: false only when reports read it and every one
    /// of them is on a capacity that serves no queries.
    pub async fn serves(
        &self,
        org: vitrine_core::OrgId,
        dataset: DatasetId,
    ) -> Result<bool, ProviderError> {
        let (reports, serving) = self.readers(org).await?;
        let placements: Vec<Option<CapacityId>> = reports
            .iter()
            .filter(|(_, read)| *read == Some(dataset))
            .map(|(report, _)| report.capacity_id)
            .collect();
        let served = |placement: &Option<CapacityId>| {
            placement.is_none_or(|capacity| serving.contains(&capacity))
        };
        Ok(placements.is_empty() || placements.iter().any(served))
    }

    /// The datasets read by the reports placed on this capacity, each with whether a report
    /// elsewhere reads it too: on no capacity, or on another one that serves queries.
    async fn datasets(
        &self,
        capacity: &Capacity,
    ) -> Result<Vec<(vitrine_store::Dataset, bool)>, ProviderError> {
        let (reports, serving) = self.readers(capacity.org_id).await?;
        let mut datasets: Vec<(vitrine_store::Dataset, bool)> = Vec::new();
        for (_, read) in reports.iter().filter(|(r, _)| r.capacity_id == Some(capacity.id)) {
            let Some(id) = *read else { continue };
            if datasets.iter().any(|(d, _)| d.id == id) {
                continue;
            }
            let Ok(dataset) = self.store.get_dataset(capacity.org_id, id).await else { continue };
            let shared = reports.iter().any(|(other, other_read)| {
                other.capacity_id != Some(capacity.id)
                    && other.capacity_id.is_none_or(|c| serving.contains(&c))
                    && *other_read == Some(id)
            });
            datasets.push((dataset, shared));
        }
        Ok(datasets)
    }
}

#[async_trait]
impl CapacityProvider for LocalProvider {
    async fn resume(&self, capacity: &Capacity) -> Result<(), ProviderError> {
        let _loading = self.loading.lock().await;
        for (dataset, _) in self.datasets(capacity).await? {
            // Datasets of sources open on their first query (with their pools).
            if dataset.source.is_some() {
                continue;
            }
            crate::services::datasets::open_file(&self.engine, &self.files, &dataset)
                .await
                .map_err(|e| {
                    ProviderError::Failed(format!("dataset {}: {}", dataset.name, e.message))
                })?;
        }
        Ok(())
    }

    async fn suspend(&self, capacity: &Capacity) -> Result<(), ProviderError> {
        // A load under way finishes first; a dataset another running report reads stays.
        let _loading = self.loading.lock().await;
        for (dataset, shared) in self.datasets(capacity).await? {
            if !shared {
                self.engine.close(&dataset.id.to_string());
            }
        }
        Ok(())
    }
}

/// A capacity that takes its time and fails when told to.
#[derive(Default)]
pub struct SimulatedProvider {
    start_delay_ms: AtomicU32,
    stop_delay_ms: AtomicU32,
    failures_to_come: AtomicU32,
    hanging: AtomicBool,
}

impl SimulatedProvider {
    pub fn set_delays(&self, start: Duration, stop: Duration) {
        self.start_delay_ms
            .store(start.as_millis().try_into().unwrap_or(u32::MAX), Ordering::SeqCst);
        self.stop_delay_ms.store(stop.as_millis().try_into().unwrap_or(u32::MAX), Ordering::SeqCst);
    }

    /// The next `count` operations fail.
    pub fn fail_next(&self, count: u32) {
        self.failures_to_come.store(count, Ordering::SeqCst);
    }

    /// While on, operations never return.
    pub fn hang(&self, on: bool) {
        self.hanging.store(on, Ordering::SeqCst);
    }

    async fn operate(&self, delay_ms: u32) -> Result<(), ProviderError> {
        if self.hanging.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(Duration::from_millis(u64::from(delay_ms))).await;
        let failing = self
            .failures_to_come
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if failing.is_ok() {
            return Err(ProviderError::Failed("simulated failure".into()));
        }
        Ok(())
    }
}

#[async_trait]
impl CapacityProvider for SimulatedProvider {
    async fn resume(&self, _capacity: &Capacity) -> Result<(), ProviderError> {
        self.operate(self.start_delay_ms.load(Ordering::SeqCst)).await
    }

    async fn suspend(&self, _capacity: &Capacity) -> Result<(), ProviderError> {
        self.operate(self.stop_delay_ms.load(Ordering::SeqCst)).await
    }
}

/// A provider this process does not have: every operation fails, saying so.
pub struct Unavailable(pub &'static str);

#[async_trait]
impl CapacityProvider for Unavailable {
    async fn resume(&self, _capacity: &Capacity) -> Result<(), ProviderError> {
        Err(ProviderError::Failed(format!("no {} provider in this process", self.0)))
    }

    async fn suspend(&self, capacity: &Capacity) -> Result<(), ProviderError> {
        self.resume(capacity).await
    }
}

/// An Azure capacity (Power BI Embedded or Fabric), switched through Azure Resource Manager
/// with its organization's Power BI service principal. Throttling met on the way is noted on
/// the capacity's timeline, with the next try.
pub struct AzureProvider {
    services: std::sync::Weak<crate::app::Services>,
}

impl AzureProvider {
    pub fn new(services: std::sync::Weak<crate::app::Services>) -> Self {
        Self { services }
    }

    /// The services and the capacity's Azure resource.
    fn reach<'a>(
        &self,
        capacity: &'a Capacity,
    ) -> Result<(crate::app::AppState, &'a vitrine_store::AzureCapacity), ProviderError> {
        let state = self
            .services
            .upgrade()
            .map(crate::app::AppState::from)
            .ok_or_else(|| ProviderError::Failed("the server is stopping".into()))?;
        let azure = capacity
            .azure
            .as_ref()
            .ok_or_else(|| ProviderError::Failed("no Azure resource is set".into()))?;
        Ok((state, azure))
    }

    async fn switch(&self, capacity: &Capacity, resume: bool) -> Result<(), ProviderError> {
        let (state, azure) = self.reach(capacity)?;
        let underway = if resume { CapacityState::Resuming } else { CapacityState::Pausing };
        let (store, clock, id) = (Arc::clone(&state.store), Arc::clone(&state.clock), capacity.id);
        let note = move |fault: &crate::services::azure::ArmFault| {
            let event = vitrine_store::CapacityEvent {
                id: 0,
                capacity_id: id,
                at: clock.now(),
                state: underway,
                reason: "provider".into(),
                actor: None,
                detail: Some(fault.to_string()),
            };
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                if let Err(error) = store.note_capacity_event(&event).await {
                    tracing::warn!(%error, "could not note a capacity's fault");
                }
            });
        };
        crate::services::azure::switch(&state, capacity.org_id, azure, resume, &note)
            .await
            .map_err(|fault| ProviderError::Failed(fault.to_string()))
    }
}

#[async_trait]
impl CapacityProvider for AzureProvider {
    async fn resume(&self, capacity: &Capacity) -> Result<(), ProviderError> {
        self.switch(capacity, true).await
    }

    async fn suspend(&self, capacity: &Capacity) -> Result<(), ProviderError> {
        self.switch(capacity, false).await
    }

    async fn observe(&self, capacity: &Capacity) -> Option<Result<Observed, ProviderError>> {
        use crate::services::azure::AzureState;
        let (state, azure) = match self.reach(capacity) {
            Ok(reached) => reached,
            Err(error) => return Some(Err(error)),
        };
        let seen = crate::services::azure::state_of(&state, capacity.org_id, azure).await;
        Some(match seen {
            Ok(AzureState::Running) => Ok(Observed::Running),
            Ok(AzureState::Paused) => Ok(Observed::Paused),
            Ok(AzureState::Changing) => Ok(Observed::Changing),
            Err(fault) => Err(ProviderError::Failed(fault.to_string())),
        })
    }
}
