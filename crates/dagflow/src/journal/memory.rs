//! The in-memory `JournalStore`.
//!
//! Entries live in a `Vec` behind a mutex, in journal order. Aggregates are
//! computed by scanning that vector; they follow the trait's definitions
//! exactly (integer-microsecond sums, nearest-rank percentiles, sort orders),
//! so the database stores can be checked against this one.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use super::entry::{EntryStatus, EventType, JournalEntry};
use super::store::{
    nearest_rank_index, JournalStore, QueryFilter, RunRecord, StepTotals, StoreError,
    WorkflowTotals,
};

/// A journal kept in memory: fast, nothing to set up, gone when the process
/// ends. The default store of [`WorkflowJournal::in_memory`](super::WorkflowJournal::in_memory).
///
/// ```
/// use dagflow::journal::{EntryStatus, EventType, JournalEntry, JournalStore, MemoryStore};
/// use std::time::SystemTime;
///
/// let store = MemoryStore::new();
/// let entry = JournalEntry::new("run-1", "etl", EventType::WorkflowStart, None,
///                               EntryStatus::Started, SystemTime::now());
/// store.append(&[entry])?;
/// assert_eq!(store.entry_count()?, 1);
/// assert_eq!(store.by_workflow_id("run-1")?.len(), 1);
/// # Ok::<(), dagflow::StoreError>(())
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    entries: Mutex<Entries>,
}

/// Entries in journal order, in fixed-size chunks: appending never moves
/// earlier entries (a single `Vec` would copy the whole journal each time it
/// grows, which shows when a 100,000-task run is journaled as it happens).
#[derive(Debug, Default)]
struct Entries {
    chunks: Vec<Vec<JournalEntry>>,
    len: usize,
}

impl Entries {
    const CHUNK: usize = 4096;

    fn push(&mut self, entry: JournalEntry) {
        match self.chunks.last_mut() {
            Some(chunk) if chunk.len() < Self::CHUNK => chunk.push(entry),
            _ => {
                let mut chunk = Vec::with_capacity(Self::CHUNK);
                chunk.push(entry);
                self.chunks.push(chunk);
            }
        }
        self.len += 1;
    }

    fn len(&self) -> usize {
        self.len
    }

    fn iter(&self) -> impl DoubleEndedIterator<Item = &JournalEntry> + '_ {
        self.chunks.iter().flat_map(|chunk| chunk.iter())
    }

    fn clear(&mut self) {
        self.chunks.clear();
        self.len = 0;
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store holding `entries`, in that order.
    pub fn from_entries(entries: impl IntoIterator<Item = JournalEntry>) -> Self {
        let mut stored = Entries::default();
        for entry in entries {
            stored.push(entry);
        }
        MemoryStore {
            entries: Mutex::new(stored),
        }
    }

    /// Appends an entry by value, avoiding the copy [`JournalStore::append`]
    /// has to make.
    pub fn push(&self, entry: JournalEntry) -> Result<(), StoreError> {
        self.lock("appending an entry")?.push(entry);
        Ok(())
    }

    /// A copy of every entry, in journal order.
    pub fn entries(&self) -> Result<Vec<JournalEntry>, StoreError> {
        Ok(self.lock("reading every entry")?.iter().cloned().collect())
    }

    fn lock(&self, doing: &str) -> Result<MutexGuard<'_, Entries>, StoreError> {
        // A panic while holding the lock cannot leave a half-written entry
        // (pushes are atomic from the reader's view), so a poisoned lock is
        // still safe to read; report it anyway so the caller knows.
        self.entries.lock().map_err(|_| {
            StoreError::backend(
                format!("{doing} in the in-memory journal"),
                "a thread panicked while holding the journal lock; \
                 create a new MemoryStore",
            )
        })
    }
}

fn matches(filter: &QueryFilter, entry: &JournalEntry) -> bool {
    match &filter.workflow {
        Some(name) => *entry.workflow_name == **name,
        None => true,
    }
}

/// Durations are reported as whole microseconds converted back to ms, so
/// every store returns the same figures for the same entries.
fn us_to_ms(us: i64) -> f64 {
    us as f64 / 1000.0
}

#[derive(Default)]
struct StepAccumulator {
    total: u64,
    completed: u64,
    failed: u64,
    skipped: u64,
    cancelled: u64,
    flaky: u64,
    completed_durations_us: Vec<i64>,
}

impl JournalStore for MemoryStore {
    fn append(&self, entries: &[JournalEntry]) -> Result<(), StoreError> {
        let mut stored = self.lock("appending entries")?;
        for entry in entries {
            stored.push(entry.clone());
        }
        Ok(())
    }

    fn append_entry(&self, entry: JournalEntry) -> Result<(), StoreError> {
        self.push(entry)
    }

    fn entry_count(&self) -> Result<u64, StoreError> {
        Ok(self.lock("counting entries")?.len() as u64)
    }

    fn by_workflow_id(&self, workflow_id: &str) -> Result<Vec<JournalEntry>, StoreError> {
        let entries = self.lock("reading the entries of a run")?;
        Ok(entries
            .iter()
            .filter(|e| &*e.workflow_id == workflow_id)
            .cloned()
            .collect())
    }

    fn by_event_type(&self, event_type: EventType) -> Result<Vec<JournalEntry>, StoreError> {
        let entries = self.lock("reading entries by event type")?;
        Ok(entries
            .iter()
            .filter(|e| e.event_type == event_type)
            .cloned()
            .collect())
    }

    fn recent(&self, n: usize) -> Result<Vec<JournalEntry>, StoreError> {
        let entries = self.lock("reading recent entries")?;
        let mut recent: Vec<JournalEntry> = entries.iter().rev().take(n).cloned().collect();
        recent.reverse();
        Ok(recent)
    }

    fn clear(&self) -> Result<(), StoreError> {
        self.lock("clearing the journal")?.clear();
        Ok(())
    }

    fn workflow_totals(&self, filter: &QueryFilter) -> Result<WorkflowTotals, StoreError> {
        let entries = self.lock("computing workflow totals")?;
        let mut totals = WorkflowTotals::default();
        for entry in entries.iter().filter(|e| matches(filter, e)) {
            match entry.event_type {
                EventType::WorkflowComplete => {
                    totals.finished += 1;
                    if entry.status == EntryStatus::Completed {
                        totals.succeeded += 1;
                    }
                    totals.total_duration_us += entry.duration_us();
                }
                EventType::StepComplete => totals.total_steps += 1,
                _ => {}
            }
        }
        Ok(totals)
    }

    fn step_totals(&self, filter: &QueryFilter) -> Result<Vec<StepTotals>, StoreError> {
        let entries = self.lock("computing step totals")?;
        let mut by_step: BTreeMap<&str, StepAccumulator> = BTreeMap::new();
        for entry in entries.iter() {
            if entry.event_type != EventType::StepComplete || !matches(filter, entry) {
                continue;
            }
            let name = entry.step_name.as_deref().unwrap_or_default();
            let acc = by_step.entry(name).or_default();
            acc.total += 1;
            match entry.status {
                EntryStatus::Completed => {
                    acc.completed += 1;
                    if entry.attempt > 1 {
                        acc.flaky += 1;
                    }
                    acc.completed_durations_us.push(entry.duration_us());
                }
                EntryStatus::Failed => acc.failed += 1,
                EntryStatus::Skipped => acc.skipped += 1,
                EntryStatus::Cancelled => acc.cancelled += 1,
                _ => {}
            }
        }
        Ok(by_step
            .into_iter()
            .map(|(name, mut acc)| {
                acc.completed_durations_us.sort_unstable();
                let durations = &acc.completed_durations_us;
                let percentile = |p: f64| {
                    (!durations.is_empty())
                        .then(|| durations[nearest_rank_index(p, durations.len() as u64) as usize])
                };
                StepTotals {
                    step_name: name.to_string(),
                    total: acc.total,
                    completed: acc.completed,
                    failed: acc.failed,
                    skipped: acc.skipped,
                    cancelled: acc.cancelled,
                    flaky: acc.flaky,
                    completed_duration_us: durations.iter().sum(),
                    p50_us: percentile(0.5),
                    p95_us: percentile(0.95),
                    max_us: durations.last().copied(),
                }
            })
            .collect())
    }

    fn workflow_durations(
        &self,
        filter: &QueryFilter,
        last: Option<usize>,
    ) -> Result<Vec<f64>, StoreError> {
        let entries = self.lock("reading workflow durations")?;
        let finished = entries
            .iter()
            .filter(|e| e.event_type == EventType::WorkflowComplete && matches(filter, e));
        match last {
            None => Ok(finished.map(|e| us_to_ms(e.duration_us())).collect()),
            Some(k) => {
                // Walk backwards so only the last k are touched.
                let mut tail: Vec<f64> = entries
                    .iter()
                    .rev()
                    .filter(|e| e.event_type == EventType::WorkflowComplete && matches(filter, e))
                    .take(k)
                    .map(|e| us_to_ms(e.duration_us()))
                    .collect();
                tail.reverse();
                Ok(tail)
            }
        }
    }

    fn runs(&self, filter: &QueryFilter, limit: usize) -> Result<Vec<RunRecord>, StoreError> {
        let entries = self.lock("listing runs")?;
        // The last completion entry of each run decides its final status.
        let mut ends: HashMap<&str, &JournalEntry> = HashMap::new();
        for entry in entries.iter() {
            if entry.event_type == EventType::WorkflowComplete && matches(filter, entry) {
                ends.insert(&*entry.workflow_id, entry);
            }
        }
        Ok(entries
            .iter()
            .rev()
            .filter(|e| e.event_type == EventType::WorkflowStart && matches(filter, e))
            .take(limit)
            .map(|start| {
                let end = ends.get(&*start.workflow_id);
                RunRecord {
                    workflow_id: start.workflow_id.to_string(),
                    workflow_name: start.workflow_name.to_string(),
                    started_ms: start.timestamp_ms(),
                    status: end.map_or(EntryStatus::Started, |e| e.status),
                    duration_ms: end.map(|e| us_to_ms(e.duration_us())),
                    resumed_from: start
                        .details
                        .get("resumed_from")
                        .and_then(|v| v.as_str())
                        .map(str::to_string),
                }
            })
            .collect())
    }
}
