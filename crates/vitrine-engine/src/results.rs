//! The result cache: a thousand screens showing one report cost one query per window, not a
//! thousand. Keys name the dataset's version, the visual as defined and every predicate with
//! its typed values (row-level security included), so two users share an entry only when
//! they would get the same rows. Concurrent misses for one key wait for a single run. Bounded
//! in bytes; a new version of a dataset makes it forget that dataset at once.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::engine::EngineError;
use crate::query::QueryResult;

/// Separates the parts of a key; a dataset id never holds it.
pub(crate) const KEY_SEPARATOR: char = '\u{1f}';

pub struct ResultCache {
    entries: moka::future::Cache<String, Arc<QueryResult>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// What the cache holds and has served, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub entries: u64,
    pub bytes: u64,
}

impl ResultCache {
    /// Entries live `window`; all together weigh at most `max_bytes`.
    pub fn new(window: Duration, max_bytes: u64) -> Self {
        let entries = moka::future::Cache::builder()
            .time_to_live(window)
            .max_capacity(max_bytes)
            .weigher(|key: &String, value: &Arc<QueryResult>| {
                u32::try_from(key.len() + weight(value)).unwrap_or(u32::MAX)
            })
            .support_invalidation_closures()
            .build();
        Self { entries, hits: AtomicU64::new(0), misses: AtomicU64::new(0) }
    }

    /// The cached result for `key`, else the result of `run` (shared with every caller that
    /// asks for the same key meanwhile). Failures are not kept.
    pub async fn get_or_run<F>(&self, key: String, run: F) -> Result<Arc<QueryResult>, EngineError>
    where
        F: Future<Output = Result<Arc<QueryResult>, EngineError>>,
    {
        let entry =
            self.entries.entry(key).or_try_insert_with(run).await.map_err(|e| (*e).clone())?;
        let counter = if entry.is_fresh() { &self.misses } else { &self.hits };
        counter.fetch_add(1, Ordering::Relaxed);
        Ok(entry.into_value())
    }

    /// Forgets every result computed from dataset `id`.
    pub fn forget_dataset(&self, id: &str) {
        let prefix = format!("{id}{KEY_SEPARATOR}");
        // Only fails when closures are not supported, which the builder turned on.
        let _ = self.entries.invalidate_entries_if(move |key, _| key.starts_with(&prefix));
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            entries: self.entries.entry_count(),
            bytes: self.entries.weighted_size(),
        }
    }
}

/// About what a result takes in memory: its cells and their text.
fn weight(result: &QueryResult) -> usize {
    let cells: usize = result
        .rows
        .iter()
        .flatten()
        .map(|value| match value {
            serde_json::Value::String(text) => 32 + text.len(),
            _ => 32,
        })
        .sum();
    let columns: usize = result.columns.iter().map(|c| 64 + c.name.len() + c.label.len()).sum();
    128 + cells + columns
}
