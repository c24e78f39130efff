//! The report every visual query reads, with its definition parsed, kept for at most a second
//! ([`crate::timed`]), so that a query answered from the result cache does not pay a database
//! read and a parse for it.
//!
//! The services forget a report when they save its definition, rename it, place it on another
//! capacity or delete it; the change feed makes other nodes forget a saved definition or a new
//! capacity before it tells their viewers. The dataset's record is still read by every query:
//! its version is how a node learns at once of data another node switched in.

use std::sync::Arc;
use std::time::Duration;

use vitrine_core::{OrgId, ReportId};
use vitrine_engine::ReportDefinition;
use vitrine_store::{Report, Store, StoreError, StoreResult};

use crate::timed::{Freshness, Timed};

/// A report as a query reads it.
pub struct ReportRead {
    pub report: Report,
    /// Its definition, parsed once per read; `None` when it has none or it does not parse.
    pub definition: Option<ReportDefinition>,
}

#[derive(Default)]
pub struct QueryReads {
    reports: Timed<ReportId, Arc<ReportRead>>,
    fresh: Freshness,
}

impl QueryReads {
    /// The report, read from the store unless read within the last second.
    pub async fn report(
        &self,
        store: &dyn Store,
        org: OrgId,
        id: ReportId,
    ) -> StoreResult<Arc<ReportRead>> {
        let read = async {
            let report = store.get_report(org, id).await?;
            let definition =
                report.definition.clone().and_then(|value| ReportDefinition::from_json(value).ok());
            Ok::<_, StoreError>(Arc::new(ReportRead { report, definition }))
        };
        let read = self.reports.get_or_read(id, self.fresh.get(), read).await?;
        // Ids are unique across organizations: one of another is not there for this one.
        if read.report.org_id != org {
            return Err(StoreError::NotFound);
        }
        Ok(read)
    }

    /// The report changed (its definition, name or capacity) or is gone: read it again.
    pub fn forget_report(&self, id: ReportId) {
        self.reports.forget(Some(&id));
    }

    /// Keeps reads for `fresh_for` instead of a second: tests make it long, so that only
    /// forgetting can explain a change being seen.
    pub fn keep_reads_for(&self, fresh_for: Duration) {
        self.fresh.set(fresh_for);
    }
}
