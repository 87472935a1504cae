//! The storage contract every journal back end implements.

use serde::{Deserialize, Serialize};

use super::entry::{EventType, JournalEntry};

/// Why a journal store could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The back end failed (database error, I/O error, ...).
    #[error("journal store error while {context}: {source}")]
    Backend {
        /// What the store was doing, e.g. "appending 12 entries to .dagflow/journal.db".
        context: String,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The stored data could not be read back (corrupt or foreign data).
    #[error("journal data is invalid: {0}")]
    Invalid(String),
    /// The store does not support this operation.
    #[error("this journal store does not support {operation}")]
    Unsupported {
        /// The operation asked for.
        operation: &'static str,
    },
}

impl StoreError {
    /// Wraps a back-end error with what the store was doing.
    pub fn backend(
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        StoreError::Backend {
            context: context.into(),
            source: source.into(),
        }
    }
}

/// Restricts aggregate queries; the default matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryFilter {
    /// Only runs of the workflow with this name.
    pub workflow: Option<String>,
}

impl QueryFilter {
    /// Every entry.
    pub fn all() -> Self {
        QueryFilter::default()
    }

    /// Only runs of workflow `name`.
    pub fn workflow(name: impl Into<String>) -> Self {
        QueryFilter {
            workflow: Some(name.into()),
        }
    }
}

/// Aggregate figures over finished runs (`WorkflowComplete` entries).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkflowTotals {
    /// Runs that ended.
    pub finished: u64,
    /// Of those, runs that succeeded (status `Completed`).
    pub succeeded: u64,
    /// Sum of their durations in whole microseconds.
    pub total_duration_us: i64,
    /// Number of `StepComplete` entries (of every run, finished or not),
    /// less the steps a resume reused ([`JournalEntry::is_restored`]).
    pub total_steps: u64,
}

/// Aggregate figures for one step name over `StepComplete` entries, less
/// the steps a resume reused ([`JournalEntry::is_restored`]): those did not
/// run, so they add no outcome and no duration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepTotals {
    /// The step's name.
    pub step_name: String,
    /// All final outcomes recorded for it.
    pub total: u64,
    /// Outcomes with status `Completed`.
    pub completed: u64,
    /// Outcomes with status `Failed`.
    pub failed: u64,
    /// Outcomes with status `Skipped`.
    pub skipped: u64,
    /// Outcomes with status `Cancelled`.
    pub cancelled: u64,
    /// Completed outcomes that needed more than one attempt.
    pub flaky: u64,
    /// Sum of the durations of completed outcomes, whole microseconds.
    pub completed_duration_us: i64,
    /// Median duration of completed outcomes (nearest rank), microseconds.
    pub p50_us: Option<i64>,
    /// 95th percentile duration of completed outcomes (nearest rank), microseconds.
    pub p95_us: Option<i64>,
    /// Longest completed outcome, microseconds.
    pub max_us: Option<i64>,
}

/// One run as listed by `dagflow runs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The run's id.
    pub workflow_id: String,
    /// The workflow's name.
    pub workflow_name: String,
    /// Start time, ms since the Unix epoch.
    pub started_ms: i64,
    /// Final status: `Started` while it has not ended.
    pub status: super::entry::EntryStatus,
    /// Run duration in ms, once ended.
    pub duration_ms: Option<f64>,
    /// The run it resumed, if any (`details.resumed_from` of its start entry).
    pub resumed_from: Option<String>,
}

/// Nearest-rank percentile index into `n` sorted values: the smallest rank
/// `r` (1-based) with `r >= p * n`, returned 0-based. `p` is in `(0, 1]`.
///
/// Every store uses this so percentiles agree exactly.
pub fn nearest_rank_index(p: f64, n: u64) -> u64 {
    debug_assert!(n > 0);
    let rank = (p * n as f64).ceil() as u64;
    rank.clamp(1, n) - 1
}

/// Where journal entries live.
///
/// Implementations: the in-memory store in this crate; SQLite and PostgreSQL
/// in their own crates. `append` must keep entries in the order given and
/// across calls (journal order). Aggregates are part of the trait so that a
/// database computes them with queries over indexes rather than by sending
/// every entry to the caller; every store returns identical figures for the
/// same entries (durations are aggregated as integer microseconds, see
/// [`JournalEntry::duration_us`]).
pub trait JournalStore: Send + Sync {
    /// Appends entries in order. When this returns `Ok`, the entries are
    /// visible to queries; durability beyond that is the store's documented
    /// guarantee.
    fn append(&self, entries: &[JournalEntry]) -> Result<(), StoreError>;

    /// Appends one entry the caller no longer needs, with the same guarantee
    /// as [`append`](Self::append). Observers that journal event by event
    /// call this; stores that keep entries (in memory, in a write queue)
    /// override it to take the entry without copying it.
    fn append_entry(&self, entry: JournalEntry) -> Result<(), StoreError> {
        self.append(std::slice::from_ref(&entry))
    }

    /// Makes every appended entry durable (no-op for stores that write
    /// synchronously).
    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Whether [`append_deferred`](Self::append_deferred) may return before
    /// the entry is durable (stores that commit to disk in the background).
    /// Engines then wait for durability only where it matters: before a
    /// task whose dependencies' entries are not durable yet starts.
    fn defers(&self) -> bool {
        false
    }

    /// Appends one entry (after every entry appended before it, in journal
    /// order) without waiting for it to be durable: a store that
    /// [`defers`](Self::defers) commits it shortly, with whatever else is
    /// queued. A failure to commit it is reported by the next
    /// [`wait_durable`](Self::wait_durable) or [`flush`](Self::flush). By
    /// default the same as [`append_entry`](Self::append_entry).
    fn append_deferred(&self, entry: JournalEntry) -> Result<(), StoreError> {
        self.append_entry(entry)
    }

    /// A mark covering every entry appended so far, for
    /// [`wait_durable`](Self::wait_durable); 0 when there is nothing to
    /// wait for.
    fn mark(&self) -> u64 {
        0
    }

    /// Blocks until every entry covered by `mark` is durable, and reports
    /// the first failure of a deferred append not reported yet.
    fn wait_durable(&self, mark: u64) -> Result<(), StoreError> {
        let _ = mark;
        Ok(())
    }

    /// Number of entries.
    fn entry_count(&self) -> Result<u64, StoreError>;

    /// Every entry of one run, in journal order.
    fn by_workflow_id(&self, workflow_id: &str) -> Result<Vec<JournalEntry>, StoreError>;

    /// Every entry of one type, in journal order.
    fn by_event_type(&self, event_type: EventType) -> Result<Vec<JournalEntry>, StoreError>;

    /// The last `n` entries, oldest first.
    fn recent(&self, n: usize) -> Result<Vec<JournalEntry>, StoreError>;

    /// Removes every entry.
    fn clear(&self) -> Result<(), StoreError>;

    /// Totals over finished runs matching `filter`.
    fn workflow_totals(&self, filter: &QueryFilter) -> Result<WorkflowTotals, StoreError>;

    /// Per-step totals over `StepComplete` entries matching `filter`
    /// (restored ones left out, see [`StepTotals`]), sorted by step name.
    fn step_totals(&self, filter: &QueryFilter) -> Result<Vec<StepTotals>, StoreError>;

    /// Durations (ms) of finished runs matching `filter`, in journal order;
    /// with `last = Some(k)`, only the last `k` of them.
    fn workflow_durations(
        &self,
        filter: &QueryFilter,
        last: Option<usize>,
    ) -> Result<Vec<f64>, StoreError>;

    /// The most recent runs (newest first), at most `limit`.
    fn runs(&self, filter: &QueryFilter, limit: usize) -> Result<Vec<RunRecord>, StoreError>;

    /// The names of the workflows the journal holds entries of, sorted and
    /// each once: what a [`QueryFilter::workflow`] can select.
    ///
    /// By default the names of every run [`runs`](Self::runs) lists, which
    /// reads every run's start; the stores of this crate and
    /// `dagflow-sqlite` answer from what they keep per name.
    ///
    /// ```
    /// use std::time::SystemTime;
    /// use dagflow::journal::{EntryStatus, EventType, JournalEntry, JournalStore, MemoryStore};
    ///
    /// let store = MemoryStore::new();
    /// for (run, workflow) in [("r1", "release"), ("r2", "ci"), ("r3", "ci")] {
    ///     store.append(&[JournalEntry::new(run, workflow, EventType::WorkflowStart, None,
    ///                                      EntryStatus::Started, SystemTime::now())])?;
    /// }
    /// assert_eq!(store.workflow_names()?, ["ci", "release"]);
    /// # Ok::<(), dagflow::journal::StoreError>(())
    /// ```
    fn workflow_names(&self) -> Result<Vec<String>, StoreError> {
        let names: std::collections::BTreeSet<String> = self
            .runs(&QueryFilter::all(), usize::MAX)?
            .into_iter()
            .map(|run| run.workflow_name)
            .collect();
        Ok(names.into_iter().collect())
    }
}
