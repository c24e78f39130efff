//! The capacity controller: starts and stops capacities through their providers, one
//! transition at a time (the store's compare-and-set decides who starts it), with timeouts and
//! retries so that a failing or hanging provider ends in `Failed` with a clear message instead
//! of leaving the capacity in `Resuming`; it finishes transitions interrupted by a restart, and
//! its scheduler pauses idle capacities and follows weekly schedules.

use std::sync::Arc;
use std::time::Duration;

use chrono::Duration as Span;
use vitrine_core::capacity::{self, CapacityState, Decision, Observation, Reason, WeeklySchedule};
use vitrine_core::{CapacityId, Clock, OrgId};
use vitrine_store::{Capacity, CapacityEvent, Store, StoreResult};

use super::gate::GateCache;
use super::presence::Presence;
use super::provider::{
    CapacityProvider, LocalProvider, Observed, ProviderError, SimulatedProvider,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    Resume,
    Suspend,
}

impl Operation {
    fn underway(self) -> CapacityState {
        match self {
            Operation::Resume => CapacityState::Resuming,
            Operation::Suspend => CapacityState::Pausing,
        }
    }

    fn done(self) -> CapacityState {
        match self {
            Operation::Resume => CapacityState::Running,
            Operation::Suspend => CapacityState::Paused,
        }
    }

    /// The stable states this operation may start from.
    fn from(self) -> &'static [CapacityState] {
        match self {
            Operation::Resume => &[CapacityState::Paused, CapacityState::Failed],
            Operation::Suspend => &[CapacityState::Running, CapacityState::Failed],
        }
    }
}

/// How often the leader asks a provider whose capacity can be switched elsewhere (Azure) for
/// its state.
const RECONCILE_EVERY: Span = Span::seconds(60);

/// When a provider was last asked for a capacity's state, and the fault it answered then.
type Look = (chrono::DateTime<chrono::Utc>, Option<String>);

/// A user's activity within this long of the one written down is not written again.
pub const KEEPER_RESOLUTION: Span = Span::seconds(15);
/// Keepers remembered per capacity at most; past it, those written down long ago are forgotten
/// (and written again the next time they are seen).
const MAX_KEEPERS_REMEMBERED: usize = 100_000;

pub struct CapacityController {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    local: Arc<LocalProvider>,
    pub simulated: Arc<SimulatedProvider>,
    /// Azure capacities' provider, set once the services it uses exist.
    azure: std::sync::OnceLock<Arc<dyn CapacityProvider>>,
    operation_timeout: Duration,
    attempts: u32,
    retry_pause: Duration,
    /// When this node last wrote down each user keeping each capacity on.
    keepers: std::sync::Mutex<
        std::collections::HashMap<
            CapacityId,
            std::collections::HashMap<String, chrono::DateTime<chrono::Utc>>,
        >,
    >,
    /// When each capacity's provider was last asked for its state, and the fault it answered
    /// then (noted on the timeline once, not at every look).
    looked: std::sync::Mutex<std::collections::HashMap<CapacityId, Look>>,
    /// The gate's short-lived reads; forgotten here on every transition.
    pub gate: GateCache,
    /// The reports open on this node by viewers who may keep their capacity on.
    pub presence: Arc<Presence>,
    metrics: Option<Arc<crate::metrics::Metrics>>,
    notices: Option<Arc<crate::notices::Notices>>,
}

impl CapacityController {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, local: Arc<LocalProvider>) -> Self {
        Self {
            store,
            clock,
            local,
            simulated: Arc::new(SimulatedProvider::default()),
            azure: std::sync::OnceLock::new(),
            operation_timeout: Duration::from_secs(120),
            attempts: 3,
            retry_pause: Duration::from_secs(2),
            keepers: std::sync::Mutex::default(),
            looked: std::sync::Mutex::default(),
            gate: GateCache::default(),
            presence: Arc::default(),
            metrics: None,
            notices: None,
        }
    }

    /// Counts every transition in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<crate::metrics::Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Tells the open reports of the capacity's organization about every transition.
    pub fn with_notices(mut self, notices: Arc<crate::notices::Notices>) -> Self {
        self.notices = Some(notices);
        self
    }

    /// Counts a transition in the metrics and tells the open reports of its organization.
    fn announce(&self, org: OrgId, event: &CapacityEvent) {
        if let Some(metrics) = &self.metrics {
            metrics.capacity_transition(event.state.as_str(), &event.reason);
        }
        if let Some(notices) = &self.notices {
            let notice = crate::notices::Notice::Capacity {
                capacity: event.capacity_id,
                state: event.state,
            };
            notices.publish(org, notice);
        }
    }

    /// Shorter waits, for tests.
    pub fn with_timing(
        mut self,
        operation_timeout: Duration,
        attempts: u32,
        retry_pause: Duration,
    ) -> Self {
        self.operation_timeout = operation_timeout;
        self.attempts = attempts.max(1);
        self.retry_pause = retry_pause;
        self
    }

    /// Sets the provider of `azure` capacities (once).
    pub fn set_azure(&self, provider: Arc<dyn CapacityProvider>) {
        let _ = self.azure.set(provider);
    }

    fn provider(&self, capacity: &Capacity) -> Arc<dyn CapacityProvider> {
        match capacity.provider.as_str() {
            "simulated" => self.simulated.clone(),
            "azure" => match self.azure.get() {
                Some(azure) => Arc::clone(azure),
                None => Arc::new(super::provider::Unavailable("azure")),
            },
            _ => self.local.clone(),
        }
    }

    fn event(
        &self,
        capacity: CapacityId,
        state: CapacityState,
        reason: &str,
        actor: Option<&str>,
        detail: Option<String>,
    ) -> CapacityEvent {
        CapacityEvent {
            id: 0,
            capacity_id: capacity,
            at: self.clock.now(),
            state,
            reason: reason.to_string(),
            actor: actor.map(str::to_string),
            detail,
        }
    }

    /// Starts the capacity unless it is running or already changing; returns its state after.
    pub async fn resume(
        self: &Arc<Self>,
        org: OrgId,
        id: CapacityId,
        reason: &str,
        actor: Option<&str>,
    ) -> StoreResult<CapacityState> {
        self.begin(org, id, Operation::Resume, reason, actor).await
    }

    /// Stops the capacity unless it is paused or already changing; returns its state after.
    pub async fn pause(
        self: &Arc<Self>,
        org: OrgId,
        id: CapacityId,
        reason: &str,
        actor: Option<&str>,
    ) -> StoreResult<CapacityState> {
        self.begin(org, id, Operation::Suspend, reason, actor).await
    }

    async fn begin(
        self: &Arc<Self>,
        org: OrgId,
        id: CapacityId,
        operation: Operation,
        reason: &str,
        actor: Option<&str>,
    ) -> StoreResult<CapacityState> {
        let capacity = self.store.get_capacity(org, id).await?;
        if !operation.from().contains(&capacity.state) {
            // Already moving or where it is asked to go: the thousand viewers that open a
            // paused capacity's reports at once cost one write, not a thousand.
            return Ok(capacity.state);
        }
        let starting = self.event(id, operation.underway(), reason, actor, None);
        let moved = self.store.transition_capacity(operation.from(), &starting).await;
        self.gate.forget_capacity(id);
        if moved? {
            self.announce(org, &starting);
            let this = Arc::clone(self);
            let (reason, actor) = (reason.to_string(), actor.map(str::to_string));
            tokio::spawn(async move {
                this.finish(capacity, operation, &reason, actor.as_deref()).await
            });
            return Ok(operation.underway());
        }
        Ok(self.store.get_capacity(org, id).await?.state)
    }

    /// Runs the provider's operation with a timeout and retries, then records the outcome.
    async fn finish(
        &self,
        capacity: Capacity,
        operation: Operation,
        reason: &str,
        actor: Option<&str>,
    ) {
        let provider = self.provider(&capacity);
        let mut failure = ProviderError::TimedOut;
        for attempt in 1..=self.attempts {
            let run = async {
                match operation {
                    Operation::Resume => provider.resume(&capacity).await,
                    Operation::Suspend => provider.suspend(&capacity).await,
                }
            };
            match tokio::time::timeout(self.operation_timeout, run).await {
                Ok(Ok(())) => {
                    let done = self.event(capacity.id, operation.done(), reason, actor, None);
                    self.settle(capacity.org_id, operation, &done).await;
                    return;
                }
                Ok(Err(error)) => failure = error,
                Err(_) => failure = ProviderError::TimedOut,
            }
            tracing::warn!(capacity = %capacity.id, attempt, error = %failure, "capacity operation failed");
            if attempt < self.attempts {
                tokio::time::sleep(self.retry_pause * attempt).await;
            }
        }
        let detail = format!(
            "{} after {} attempts: {failure}",
            if operation == Operation::Resume { "could not start" } else { "could not pause" },
            self.attempts
        );
        let failed =
            self.event(capacity.id, CapacityState::Failed, "provider", actor, Some(detail));
        self.settle(capacity.org_id, operation, &failed).await;
    }

    async fn settle(&self, org: OrgId, operation: Operation, event: &CapacityEvent) {
        let moved = self.store.transition_capacity(&[operation.underway()], event).await;
        self.gate.forget_capacity(event.capacity_id);
        match moved {
            Ok(true) => self.announce(org, event),
            Ok(false) => {
                tracing::warn!(capacity = %event.capacity_id, "capacity left its transition meanwhile")
            }
            Err(error) => {
                tracing::error!(capacity = %event.capacity_id, %error, "could not record a capacity transition")
            }
        }
    }

    /// Notes that `who` (a user holding `capacity.keepOn`) kept the capacity on at `at`, and
    /// answers whether to write it down: at most once per [`KEEPER_RESOLUTION`] per user, as
    /// idle time is counted in minutes and a write per token request would add nothing.
    pub fn keeper_seen(
        &self,
        capacity: CapacityId,
        who: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> bool {
        let mut written = self.keepers.lock().unwrap_or_else(|poison| poison.into_inner());
        let by = written.entry(capacity).or_default();
        if by.len() >= MAX_KEEPERS_REMEMBERED && !by.contains_key(who) {
            by.retain(|_, last| at - *last < KEEPER_RESOLUTION);
            if by.len() >= MAX_KEEPERS_REMEMBERED {
                by.clear();
            }
        }
        // On the token path: no allocation for someone already known.
        match by.get_mut(who) {
            Some(last) if *last <= at && at - *last < KEEPER_RESOLUTION => false,
            Some(last) => {
                *last = at;
                true
            }
            None => {
                by.insert(who.to_string(), at);
                true
            }
        }
    }

    /// Whether anyone may query `dataset` now (see [`LocalProvider::serves`]).
    pub async fn serves(
        &self,
        org: OrgId,
        dataset: vitrine_core::DatasetId,
    ) -> Result<bool, ProviderError> {
        self.local.serves(org, dataset).await
    }

    /// After a restart: transitions that were under way are carried out again (providers'
    /// operations are idempotent), so nothing stays in `Resuming` or `Pausing`.
    pub async fn recover(self: &Arc<Self>) -> StoreResult<usize> {
        let mut resumed = 0;
        for capacity in self.store.all_capacities().await? {
            let operation = match capacity.state {
                CapacityState::Resuming => Operation::Resume,
                CapacityState::Pausing => Operation::Suspend,
                _ => continue,
            };
            let this = Arc::clone(self);
            tokio::spawn(async move { this.finish(capacity, operation, "restart", None).await });
            resumed += 1;
        }
        Ok(resumed)
    }

    /// One pass of the scheduler: the keepers with a report open on this node are written down
    /// as activity, then each capacity's decision for now is acted on. Deciding twice for the
    /// same moment decides the same, and a transition under way is never doubled. A capacity
    /// that cannot be moved is logged and the pass goes on with the others; the last such
    /// error is answered after.
    pub async fn tick(self: &Arc<Self>) -> StoreResult<()> {
        self.pass(true).await
    }

    /// A pass of the scheduler on a node that decides (the leader) or only writes down its
    /// own viewers' presence for the leader to read (`decide` false).
    pub async fn pass(self: &Arc<Self>, decide: bool) -> StoreResult<()> {
        let now = self.clock.now();
        let mut failed = None;
        for capacity in self.store.all_capacities().await? {
            let schedule = WeeklySchedule::zone("timeZone", &capacity.time_zone)
                .ok()
                .map(|time_zone| WeeklySchedule { windows: capacity.schedule.clone(), time_zone });
            let mut last_activity = capacity.last_activity;
            if capacity.state == CapacityState::Running {
                match self.record_presence(&capacity, now).await {
                    Ok(true) => last_activity = Some(now),
                    Ok(false) => {}
                    Err(error) => {
                        tracing::error!(%error, capacity = %capacity.id, "could not record the open reports of a capacity");
                        failed = Some(error);
                    }
                }
            }
            if !decide {
                continue;
            }
            match self.reconcile(&capacity, now).await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(error) => {
                    tracing::error!(%error, capacity = %capacity.id, "could not reconcile a capacity with its provider");
                    failed = Some(error);
                }
            }
            let seen = Observation {
                now,
                state: capacity.state,
                running_since: (capacity.state == CapacityState::Running)
                    .then_some(capacity.state_since),
                last_activity,
            };
            let idle = Span::minutes(i64::from(capacity.idle_minutes));
            let decision = capacity::decide(capacity.mode, idle, schedule.as_ref(), &seen);
            let reason = |r: Reason| match r {
                Reason::Schedule => "schedule",
                Reason::Inactivity => "inactivity",
            };
            let moved = match decision {
                Decision::Resume(why) => {
                    self.resume(capacity.org_id, capacity.id, reason(why), None).await.map(drop)
                }
                Decision::Pause(why) => {
                    self.pause(capacity.org_id, capacity.id, reason(why), None).await.map(drop)
                }
                Decision::Stay => Ok(()),
            };
            if let Err(error) = moved {
                tracing::error!(%error, capacity = %capacity.id, "scheduler could not move a capacity");
                failed = Some(error);
            }
        }
        failed.map_or(Ok(()), Err)
    }

    /// Takes the state the provider reports when it differs from ours (someone paused the
    /// capacity in the Azure portal, or started it there), at most every
    /// [`RECONCILE_EVERY`] per capacity, for capacities at rest. A fault is noted on the
    /// timeline when it first appears, with when the next look is. Answers whether the
    /// capacity moved.
    async fn reconcile(
        &self,
        capacity: &Capacity,
        now: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<bool> {
        let at_rest = [CapacityState::Running, CapacityState::Paused, CapacityState::Failed];
        if !at_rest.contains(&capacity.state) {
            return Ok(false);
        }
        let last_fault = {
            let mut looked = self.looked.lock().unwrap_or_else(|poison| poison.into_inner());
            if looked.len() > 100_000 {
                looked.clear();
            }
            match looked.get(&capacity.id) {
                Some((at, _)) if now - *at < RECONCILE_EVERY && *at <= now => return Ok(false),
                Some((_, fault)) => fault.clone(),
                None => None,
            }
        };
        let Some(observed) = self.provider(capacity).observe(capacity).await else {
            return Ok(false);
        };
        let fault = observed.as_ref().err().map(ToString::to_string);
        self.looked
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .insert(capacity.id, (now, fault.clone()));
        let (to, detail) = match observed {
            Err(_) => {
                if let Some(fault) = fault.filter(|f| Some(f) != last_fault.as_ref()) {
                    let next = now + RECONCILE_EVERY;
                    let detail = format!("{fault}; next look at {}", next.format("%H:%M:%S UTC"));
                    let note =
                        self.event(capacity.id, capacity.state, "provider", None, Some(detail));
                    self.store.note_capacity_event(&note).await?;
                }
                return Ok(false);
            }
            Ok(Observed::Running) if capacity.state != CapacityState::Running => {
                (CapacityState::Running, "running in Azure: started outside Vitrine")
            }
            Ok(Observed::Paused) if capacity.state != CapacityState::Paused => {
                (CapacityState::Paused, "paused in Azure: paused outside Vitrine")
            }
            Ok(_) => return Ok(false),
        };
        let event = self.event(capacity.id, to, "azure", None, Some(detail.into()));
        let moved = self.store.transition_capacity(&[capacity.state], &event).await?;
        self.gate.forget_capacity(capacity.id);
        if moved {
            self.announce(capacity.org_id, &event);
        }
        Ok(moved)
    }

    /// Writes down that the capacity has reports open on this node by viewers who may keep it
    /// on, if it has: one write for all of them (each keeper named at most once per
    /// [`KEEPER_RESOLUTION`]), so that every node's open reports count wherever the scheduler
    /// decides. Answers whether there were any.
    async fn record_presence(
        &self,
        capacity: &Capacity,
        now: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<bool> {
        let keepers = self.presence.keepers(capacity.id);
        if keepers.is_empty() {
            return Ok(false);
        }
        let named: Vec<&str> = keepers
            .iter()
            .map(String::as_str)
            .filter(|who| self.keeper_seen(capacity.id, who, now))
            .collect();
        self.store.record_capacity_activity(capacity.id, &named, now).await?;
        Ok(true)
    }

    /// Runs the scheduler every `every` until the process ends: every node writes down its
    /// presence, the leader (by `leadership`) decides.
    pub fn spawn_scheduler(
        self: &Arc<Self>,
        every: Duration,
        leadership: Arc<crate::cluster::Leadership>,
    ) {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                if let Err(error) = this.pass(leadership.is_leader()).await {
                    tracing::warn!(%error, "capacity scheduler pass failed");
                }
            }
        });
    }
}
