//! The plan cache: a wallboard asks for the same visuals every refresh, and planning one
//! (DataFusion's logical and physical optimizers) can cost more than running it — a count
//! the file's footer answers takes no scan at all. A visual's physical plan is kept under the
//! key of what it computes (the result cache's: the dataset's version, the visual as defined,
//! every predicate with its typed values) and run again from a fresh copy of its state, as
//! DataFusion re-runs the plans of recursive queries ([`reset_plan_states`]).
//!
//! Bounded in plans; a new version of a dataset makes it forget that dataset's plans at once
//! (a plan holds its file open and its chunks in the column cache).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use datafusion::error::DataFusionError;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::execution_plan::reset_plan_states;

use crate::results::KEY_SEPARATOR;

/// How many plans an engine keeps: a plan takes a few kilobytes.
pub const PLANS_KEPT: u64 = 1024;

pub(crate) struct PlanCache {
    plans: moka::sync::Cache<String, Arc<dyn ExecutionPlan>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// What the plan cache holds and has served, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanCacheStats {
    pub hits: u64,
    pub misses: u64,
    pub plans: u64,
}

impl PlanCache {
    /// Keeps at most `max_plans` plans (0: none).
    pub(crate) fn new(max_plans: u64) -> Self {
        let plans = moka::sync::Cache::new(max_plans);
        Self { plans, hits: AtomicU64::new(0), misses: AtomicU64::new(0) }
    }

    /// A plan for `key` ready to run: the kept one in a fresh state, else the one `plan`
    /// makes, which is kept for the next time while `current` (its dataset is still the one
    /// answering: one replaced meanwhile has had its plans forgotten, and this one goes too).
    pub(crate) async fn get_or_plan<F, E>(
        &self,
        key: &str,
        plan: F,
        current: impl Fn() -> bool,
    ) -> Result<Arc<dyn ExecutionPlan>, E>
    where
        F: Future<Output = Result<Arc<dyn ExecutionPlan>, E>>,
        E: From<DataFusionError>,
    {
        if let Some(kept) = self.plans.get(key) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(reset_plan_states(kept)?);
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let planned = plan.await?;
        // The kept plan is never run itself: each run resets a copy of it. It is kept before
        // `current` is asked, and a replacement marks its dataset before forgetting: either
        // the forgetting finds this plan, or `current` sees the mark.
        self.plans.insert(key.to_string(), reset_plan_states(Arc::clone(&planned))?);
        if !current() {
            self.plans.invalidate(key);
        }
        Ok(planned)
    }

    /// Forgets every plan over dataset `id` now (their files and cached chunks go with them).
    pub(crate) fn forget_dataset(&self, id: &str) {
        let prefix = format!("{id}{KEY_SEPARATOR}");
        for (key, _) in self.plans.iter().filter(|(key, _)| key.starts_with(&prefix)) {
            self.plans.invalidate(key.as_str());
        }
        self.plans.run_pending_tasks();
    }

    pub(crate) fn stats(&self) -> PlanCacheStats {
        self.plans.run_pending_tasks();
        PlanCacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            plans: self.plans.entry_count(),
        }
    }
}
