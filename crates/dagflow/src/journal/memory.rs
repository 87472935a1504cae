//! The in-memory `JournalStore`.
//!
//! Entries live in memory behind mutexes, in journal order. Aggregates are
//! computed by scanning them; they follow the trait's definitions exactly
//! (integer-microsecond sums, nearest-rank percentiles, sort orders), so the
//! database stores can be checked against this one.
//!
//! Appends and reads meet in two places. Each appending thread writes to a
//! shard of its own, tagging each entry with its journal position from one
//! shared counter; a read first moves every shard's entries into the
//! ordered list. One mutex for every append made the two workers of a
//! journaled run take turns at one cache line and at the list's tail: the
//! lock and the copy were two thirds of what the journal adds to a task.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use crossbeam_utils::CachePadded;

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
#[derive(Debug)]
pub struct MemoryStore {
    /// Entries in journal order, up to the last read.
    entries: Mutex<Entries>,
    /// Entries appended since, with their positions, by appending thread.
    shards: Box<[CachePadded<Mutex<Shard>>]>,
    /// The position of the next entry.
    next: AtomicU64,
}

/// Shards per store: threads beyond this many share them.
const SHARDS: usize = 8;

/// The shard of the calling thread: threads take the shards in turn, the
/// first time they append.
fn shard_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: Cell<Option<usize>> = const { Cell::new(None) };
    }
    SHARD.with(|shard| match shard.get() {
        Some(index) => index,
        None => {
            let index = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
            shard.set(Some(index));
            index
        }
    })
}

/// Items in fixed-size chunks: appending never moves earlier items (a
/// single `Vec` would copy the whole journal each time it grows, which
/// shows when a 100,000-task run is journaled as it happens).
#[derive(Debug)]
struct Chunked<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

/// How many slots past the last item a push asks the CPU to load.
///
/// An entry is a few cache lines written into memory no one has read yet,
/// and the shard's unlock right after waits for those writes to land: in
/// profiles that wait was most of a push. Loading the lines two entries
/// ahead lets them arrive meanwhile; on a journaled `layered-100x1000` run
/// the median fell from 97.2 to 77.6 ms (8 alternating rounds).
const PREFETCH_AHEAD: usize = 2;

/// The ordered entries.
type Entries = Chunked<JournalEntry>;

/// Entries appended by some threads since the last read, with their
/// journal positions.
type Shard = Chunked<(u64, JournalEntry)>;

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Chunked {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Chunked<T> {
    const CHUNK: usize = 4096;

    fn push(&mut self, item: T) {
        match self.chunks.last_mut() {
            Some(chunk) if chunk.len() < Self::CHUNK => {
                chunk.push(item);
                if let Some(slot) = chunk.spare_capacity_mut().get(PREFETCH_AHEAD) {
                    crate::prefetch::prefetch_all(slot);
                }
            }
            _ => {
                let mut chunk = Vec::with_capacity(Self::CHUNK);
                chunk.push(item);
                self.chunks.push(chunk);
            }
        }
        self.len += 1;
    }

    fn len(&self) -> usize {
        self.len
    }

    fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + '_ {
        self.chunks.iter().flat_map(|chunk| chunk.iter())
    }

    /// Takes every item out, leaving the container empty.
    fn take(&mut self) -> impl Iterator<Item = T> {
        self.len = 0;
        std::mem::take(&mut self.chunks).into_iter().flatten()
    }

    fn clear(&mut self) {
        self.chunks.clear();
        self.len = 0;
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::with_entries(Entries::default())
    }
}

/// Reports a poisoned lock. A panic while holding one cannot leave a
/// half-written entry (pushes are atomic from the reader's view), so the
/// entries are still safe to read; report it anyway so the caller knows.
fn poisoned(doing: &str) -> StoreError {
    StoreError::backend(
        format!("{doing} in the in-memory journal"),
        "a thread panicked while holding the journal lock; create a new MemoryStore",
    )
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
        MemoryStore::with_entries(stored)
    }

    fn with_entries(entries: Entries) -> Self {
        MemoryStore {
            entries: Mutex::new(entries),
            shards: (0..SHARDS).map(|_| CachePadded::default()).collect(),
            next: AtomicU64::new(0),
        }
    }

    /// Appends an entry by value, avoiding the copy [`JournalStore::append`]
    /// has to make.
    pub fn push(&self, entry: JournalEntry) -> Result<(), StoreError> {
        self.append_with(1, "appending an entry", |shard, position| {
            shard.push((position, entry));
        })
    }

    /// A copy of every entry, in journal order.
    pub fn entries(&self) -> Result<Vec<JournalEntry>, StoreError> {
        Ok(self.lock("reading every entry")?.iter().cloned().collect())
    }

    /// Takes `count` consecutive positions and lets `write` store the
    /// entries at them in the calling thread's shard.
    ///
    /// The positions are taken while the shard is locked: a reader, which
    /// holds every shard's lock at once, then finds every position taken so
    /// far in some shard, with no gap a later read would fill.
    fn append_with(
        &self,
        count: u64,
        doing: &str,
        write: impl FnOnce(&mut Shard, u64),
    ) -> Result<(), StoreError> {
        let mut shard = self.shards[shard_index()]
            .lock()
            .map_err(|_| poisoned(doing))?;
        // Relaxed is enough: the counter's own order agrees with every
        // happens-before between appends, and the shard locks publish the
        // entries to readers.
        let first = self.next.fetch_add(count, Ordering::Relaxed);
        write(&mut shard, first);
        Ok(())
    }

    /// The ordered entries, with every appended one moved in.
    fn lock(&self, doing: &str) -> Result<MutexGuard<'_, Entries>, StoreError> {
        let mut entries = self.entries.lock().map_err(|_| poisoned(doing))?;
        let mut shards = Vec::with_capacity(self.shards.len());
        for shard in self.shards.iter() {
            shards.push(shard.lock().map_err(|_| poisoned(doing))?);
        }
        // Each shard holds its entries in position order (positions are
        // taken under its lock), so a merge of the shards moves each entry
        // once, straight into the ordered list.
        let mut sources: Vec<_> = shards
            .iter_mut()
            .filter(|shard| shard.len() > 0)
            .map(|shard| shard.take().peekable())
            .collect();
        drop(shards);
        while let Some(source) = sources
            .iter_mut()
            .enumerate()
            .filter_map(|(i, source)| source.peek().map(|(position, _)| (*position, i)))
            .min()
            .map(|(_, i)| i)
        {
            match sources[source].next() {
                Some((_, entry)) => entries.push(entry),
                None => break,
            }
        }
        Ok(entries)
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
        self.append_with(entries.len() as u64, "appending entries", |shard, first| {
            for (position, entry) in (first..).zip(entries) {
                shard.push((position, entry.clone()));
            }
        })
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
        // Entries appended meanwhile are moved in by the lock, then cleared
        // with the rest.
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
                EventType::StepComplete if !entry.is_restored() => totals.total_steps += 1,
                _ => {}
            }
        }
        Ok(totals)
    }

    fn step_totals(&self, filter: &QueryFilter) -> Result<Vec<StepTotals>, StoreError> {
        let entries = self.lock("computing step totals")?;
        let mut by_step: BTreeMap<&str, StepAccumulator> = BTreeMap::new();
        for entry in entries.iter() {
            if entry.event_type != EventType::StepComplete
                || entry.is_restored()
                || !matches(filter, entry)
            {
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

    fn workflow_names(&self) -> Result<Vec<String>, StoreError> {
        let entries = self.lock("listing workflow names")?;
        let names: BTreeSet<&str> = entries.iter().map(|e| &*e.workflow_name).collect();
        Ok(names.into_iter().map(str::to_string).collect())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::sync::Arc;
    use std::time::SystemTime;

    use super::*;

    fn entry(run: &str, attempt: u32) -> JournalEntry {
        let mut entry = JournalEntry::new(
            run,
            "w",
            EventType::StepComplete,
            Some("s".into()),
            EntryStatus::Completed,
            SystemTime::now(),
        );
        entry.attempt = attempt;
        entry
    }

    /// More threads than shards append while another reads: nothing is
    /// lost, each thread's entries stay in its order, and a read never sees
    /// fewer entries than the one before.
    #[test]
    fn appends_from_many_threads_keep_each_threads_order_and_lose_nothing() {
        const THREADS: usize = SHARDS + 4;
        const EACH: u32 = 2_000;
        let store = Arc::new(MemoryStore::new());
        let writers: Vec<_> = (0..THREADS)
            .map(|t| {
                let store = Arc::clone(&store);
                std::thread::spawn(move || {
                    for i in 0..EACH {
                        if i % 2 == 0 {
                            store.push(entry(&format!("t{t}"), i)).unwrap();
                        } else {
                            store.append(&[entry(&format!("t{t}"), i)]).unwrap();
                        }
                    }
                })
            })
            .collect();
        let writing = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let reader = {
            let store = Arc::clone(&store);
            let writing = Arc::clone(&writing);
            std::thread::spawn(move || {
                let mut seen = 0;
                while writing.load(Ordering::Acquire) {
                    let count = store.entry_count().unwrap();
                    assert!(count >= seen, "a read saw {count} entries after {seen}");
                    seen = count;
                    let attempts: Vec<u32> = store
                        .by_workflow_id("t0")
                        .unwrap()
                        .iter()
                        .map(|e| e.attempt)
                        .collect();
                    assert_eq!(attempts, (0..attempts.len() as u32).collect::<Vec<_>>());
                }
            })
        };
        for writer in writers {
            writer.join().unwrap();
        }
        writing.store(false, Ordering::Release);
        reader.join().unwrap();
        assert_eq!(
            store.entry_count().unwrap(),
            THREADS as u64 * u64::from(EACH)
        );
        for t in 0..THREADS {
            let attempts: Vec<u32> = store
                .by_workflow_id(&format!("t{t}"))
                .unwrap()
                .iter()
                .map(|e| e.attempt)
                .collect();
            assert_eq!(attempts, (0..EACH).collect::<Vec<_>>(), "thread {t}");
        }
    }

    /// Each thread appends after the one before it has appended and told
    /// it so: the journal lists the entries in that order, across shards.
    #[test]
    fn an_append_made_after_another_comes_after_it_in_the_journal() {
        const THREADS: u32 = 3 * SHARDS as u32;
        let store = Arc::new(MemoryStore::new());
        let (first, mut previous) = mpsc::channel::<()>();
        let mut threads = Vec::new();
        for t in 0..THREADS {
            let (next, after) = mpsc::channel::<()>();
            let store = Arc::clone(&store);
            let before = std::mem::replace(&mut previous, after);
            threads.push(std::thread::spawn(move || {
                before.recv().unwrap();
                store.push(entry("chain", t)).unwrap();
                // The last thread's message has nobody to go to.
                let _ = next.send(());
            }));
        }
        first.send(()).unwrap();
        for thread in threads {
            thread.join().unwrap();
        }
        let attempts: Vec<u32> = store.entries().unwrap().iter().map(|e| e.attempt).collect();
        assert_eq!(attempts, (0..THREADS).collect::<Vec<_>>());
    }

    #[test]
    fn clear_drops_entries_not_read_yet_and_later_appends_count_from_zero() {
        let store = MemoryStore::from_entries([entry("a", 0)]);
        store.push(entry("a", 1)).unwrap();
        store.clear().unwrap();
        assert_eq!(store.entry_count().unwrap(), 0);
        store.push(entry("b", 2)).unwrap();
        let entries = store.entries().unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!((&*entries[0].workflow_id, entries[0].attempt), ("b", 2));
    }
}
