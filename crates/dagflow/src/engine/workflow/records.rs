//! The per-task records of a run: one status byte per task in a dense
//! array, and one record (48 bytes, see [`Finished`]) per task in chunks.
//!
//! The status byte is both the task's final state and the flag that
//! publishes its record: 0 until the task ends, then claimed
//! (compare-and-swap) by the one thread that sets the record, and set to
//! the status code (a release store) once the record is written. So the
//! records need no initialisation before a run: a million-task run writes
//! 1 MB of zeroed status bytes up front instead of a flag in each of
//! 56 MB of records (7 ms here). This is what `OnceLock` does, for the one
//! pattern the engine needs, without its two atomic writes and its
//! out-of-line call through `Once`, a good part of a quick task's cost.
//! Nobody ever waits on a record: a reader that finds it unset gets `None`
//! (the engine reads a record only after the task ended: a dependent's
//! countdown or the run's end orders it).
//!
//! In one array, a million-task run would ask the allocator for 48 MB at
//! once, a size that malloc always takes from a fresh `mmap` and gives
//! back on free: every run would then pay a page fault per 4 KiB of it
//! (about 30 ms here) before a task has run. In chunks of [`CHUNK`]
//! records (192 KiB), the memory comes from the heap and a later run
//! reuses what the one before freed.

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicU8, Ordering};

use super::finished::Finished;
use crate::event::{StatusCounts, TaskStatus};

/// Records per chunk (a power of two: an index splits with a shift).
const CHUNK_BITS: u32 = 12;
const CHUNK: usize = 1 << CHUNK_BITS;

/// A status byte before its task ended.
const EMPTY: u8 = 0;
/// A status byte while its record is being written.
const WRITING: u8 = u8::MAX;
const COMPLETED: u8 = 1;
const FAILED: u8 = 2;
const SKIPPED: u8 = 3;
const CANCELLED: u8 = 4;

/// Whether a status byte says its record is set.
fn is_set(state: u8) -> bool {
    state != EMPTY && state != WRITING
}

fn status_code(status: TaskStatus) -> u8 {
    match status {
        TaskStatus::Completed => COMPLETED,
        TaskStatus::Failed => FAILED,
        TaskStatus::Skipped => SKIPPED,
        _ => CANCELLED,
    }
}

/// A record's storage: written once through a shared reference.
type Cell = UnsafeCell<MaybeUninit<Finished>>;

/// One record per task of a run, each set once when the task ends.
pub(crate) struct RecordTable {
    /// Per task: [`EMPTY`], [`WRITING`], or its status code once its
    /// record is set.
    states: Box<[AtomicU8]>,
    /// Full chunks of [`CHUNK`] records, the last one possibly shorter;
    /// a record is initialised once its state holds a status code.
    chunks: Box<[Box<[Cell]>]>,
}

// SAFETY: a record is written once, by the thread that won the claim on
// its state, before the release store of its status code; it is only read
// (shared) after an acquire load of that code, and dropped through
// `&mut self`. So the table shares `Finished` values across threads as
// `OnceLock<Finished>` would, which needs `Finished: Send + Sync`.
unsafe impl Sync for RecordTable {}
// SAFETY: the table owns its records; sending it sends them.
unsafe impl Send for RecordTable {}

const _: () = {
    const fn shareable<T: Send + Sync>() {}
    shareable::<Finished>();
};

impl RecordTable {
    /// `len` empty records. Only the status bytes are written.
    pub(crate) fn new(len: usize) -> RecordTable {
        let states = (0..len).map(|_| AtomicU8::new(EMPTY)).collect();
        let chunks = (0..len.div_ceil(CHUNK))
            .map(|c| {
                let size = (len - c * CHUNK).min(CHUNK);
                // Uninitialised: nothing is written here.
                (0..size)
                    .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
                    .collect()
            })
            .collect();
        RecordTable { states, chunks }
    }

    fn cell(&self, index: usize) -> Option<&Cell> {
        self.chunks
            .get(index >> CHUNK_BITS)?
            .get(index & (CHUNK - 1))
    }

    /// Sets the record of task `index`; drops `finished` instead (and says
    /// so) if that record was set (or is being set) already, or `index` is
    /// out of range. (Not handing it back spares the hot path a copy of
    /// the record into a `Result`.)
    #[inline]
    pub(crate) fn set(&self, index: usize, finished: Finished) -> bool {
        let (Some(state), Some(cell)) = (self.states.get(index), self.cell(index)) else {
            return false;
        };
        let code = status_code(finished.status);
        if state
            .compare_exchange(EMPTY, WRITING, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        // SAFETY: winning the claim makes this the only thread that ever
        // writes the record, and no reader looks at it before the code.
        unsafe { (*cell.get()).write(finished) };
        state.store(code, Ordering::Release);
        true
    }

    /// The record of task `index`, once set.
    #[inline]
    pub(crate) fn get(&self, index: usize) -> Option<&Finished> {
        if !is_set(self.states.get(index)?.load(Ordering::Acquire)) {
            return None;
        }
        let cell = self.cell(index)?;
        // SAFETY: the code is stored (release) after the record was
        // written, and the record is never written again.
        Some(unsafe { (*cell.get()).assume_init_ref() })
    }

    /// Starts loading record `index`'s memory into the cache.
    #[inline]
    pub(crate) fn prefetch(&self, index: usize) {
        if let Some(cell) = self.cell(index) {
            crate::prefetch::prefetch_all(cell);
        }
    }

    /// Number of records (tasks).
    pub(crate) fn len(&self) -> usize {
        self.states.len()
    }

    /// The records in task order (`None` for a task without one).
    pub(crate) fn iter(&self) -> impl Iterator<Item = Option<&Finished>> {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Tasks per final state, and the indices of those without one (only
    /// after an engine bug). Reads the status bytes alone, once no task
    /// runs any more.
    pub(crate) fn tally(&self) -> (StatusCounts, Vec<usize>) {
        // Counted in locals (registers): a histogram indexed by the byte
        // chains every increment through memory, 2 ns a task.
        let mut counts = StatusCounts::default();
        let mut without = 0usize;
        for state in self.states.iter() {
            match state.load(Ordering::Acquire) {
                COMPLETED => counts.completed += 1,
                FAILED => counts.failed += 1,
                SKIPPED => counts.skipped += 1,
                CANCELLED => counts.cancelled += 1,
                _ => without += 1,
            }
        }
        // A task without a final state counts as cancelled.
        counts.cancelled += without;
        let unfinished = if without == 0 {
            Vec::new()
        } else {
            (0..self.len()).filter(|&i| self.get(i).is_none()).collect()
        };
        (counts, unfinished)
    }
}

impl Drop for RecordTable {
    fn drop(&mut self) {
        for (i, state) in self.states.iter_mut().enumerate() {
            if !is_set(*state.get_mut()) {
                continue;
            }
            if let Some(cell) = self
                .chunks
                .get_mut(i >> CHUNK_BITS)
                .and_then(|chunk| chunk.get_mut(i & (CHUNK - 1)))
            {
                // SAFETY: a status code means the record was written;
                // `&mut self` means no reference to it is left.
                unsafe { cell.get_mut().assume_init_drop() };
            }
        }
    }
}

impl std::fmt::Debug for RecordTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordTable")
            .field("len", &self.len())
            .field("set", &self.iter().flatten().count())
            .finish()
    }
}

impl Default for RecordTable {
    fn default() -> Self {
        RecordTable::new(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::sync::Arc;

    fn skipped(reason: &Arc<str>, attempts: u32) -> Finished {
        let mut record = Finished::settled(TaskStatus::Skipped, Arc::clone(reason));
        record.attempts = attempts;
        record
    }

    #[test]
    fn every_index_has_its_own_record_across_chunk_borders() {
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17] {
            let table = RecordTable::new(len);
            assert_eq!(table.len(), len);
            assert_eq!(table.iter().count(), len);
            assert!(table.get(len).is_none(), "index {len} of {len}");
            let reason: Arc<str> = Arc::from("skipped");
            assert!(!table.set(len, skipped(&reason, 0)), "out of range");
            // Every 97th index and the last one, each set once.
            let picked: BTreeSet<usize> = (0..len).step_by(97).chain(len.checked_sub(1)).collect();
            for &i in &picked {
                assert!(table.get(i).is_none());
                assert!(table.set(i, skipped(&reason, i as u32)));
            }
            // Each set landed on its own index, in order.
            let set: BTreeSet<usize> = table
                .iter()
                .enumerate()
                .filter_map(|(i, r)| r.map(|r| (i, r)))
                .map(|(i, r)| {
                    assert_eq!(r.attempts, i as u32, "record {i}");
                    i
                })
                .collect();
            assert_eq!(set, picked, "len {len}");
            let (counts, unfinished) = table.tally();
            assert_eq!(counts.skipped, picked.len());
            assert_eq!(unfinished.len(), len - picked.len());
            assert!(unfinished.iter().all(|i| !picked.contains(i)));
            // Dropping the table drops exactly the records that were set.
            drop(table);
            assert_eq!(Arc::strong_count(&reason), 1);
        }
    }

    #[test]
    fn the_status_byte_counts_each_final_state() {
        let table = RecordTable::new(5);
        let reason: Arc<str> = Arc::from("why");
        for (i, status) in [
            TaskStatus::Completed,
            TaskStatus::Failed,
            TaskStatus::Skipped,
            TaskStatus::Cancelled,
        ]
        .into_iter()
        .enumerate()
        {
            assert!(table.set(i, Finished::settled(status, Arc::clone(&reason))));
            assert_eq!(table.get(i).map(|r| r.status), Some(status));
        }
        let (counts, unfinished) = table.tally();
        assert_eq!(
            (
                counts.completed,
                counts.failed,
                counts.skipped,
                counts.cancelled
            ),
            (1, 1, 1, 2),
            "the unfinished task counts as cancelled"
        );
        assert_eq!(unfinished, [4]);
    }

    /// Threads racing to set one record: exactly one wins, the others'
    /// records are dropped, every reader after the race sees the winner's,
    /// and each record is dropped exactly once.
    #[test]
    fn a_record_is_set_once_under_a_race_and_dropped_once() {
        let reason: Arc<str> = Arc::from("shared");
        for _ in 0..50 {
            let table = RecordTable::new(2);
            let winners: Vec<u32> = std::thread::scope(|scope| {
                let tries: Vec<_> = (0..4u32)
                    .map(|t| {
                        let table = &table;
                        let reason = &reason;
                        scope.spawn(move || table.set(1, skipped(reason, t)).then_some(t))
                    })
                    .collect();
                tries
                    .into_iter()
                    .filter_map(|h| h.join().unwrap())
                    .collect()
            });
            assert_eq!(winners.len(), 1, "one winner, got {winners:?}");
            assert_eq!(table.get(1).map(|r| r.attempts), Some(winners[0]));
            assert!(table.get(0).is_none());
            // The losers' records are gone; the winner's lives in the table.
            assert_eq!(Arc::strong_count(&reason), 2);
            drop(table);
            assert_eq!(Arc::strong_count(&reason), 1);
        }
    }
}
