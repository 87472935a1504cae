//! The per-task records of a run, in chunks.
//!
//! A run keeps one record per task (56 bytes, see [`Finished`]), each in a
//! [`RecordSlot`] that is set once. In one
//! array, a million-task run asks the allocator for 56 MB at once, a size
//! that malloc always takes from a fresh `mmap` and gives back on free:
//! every run then pays a page fault per 4 KiB of it (13,700 faults, about
//! 30 ms here) before a task has run. In chunks of [`CHUNK`] records
//! (224 KiB), the memory comes from the heap and a later run reuses what
//! the one before freed.

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicU8, Ordering};

use super::finished::Finished;

/// Records per chunk (a power of two: an index splits with a shift).
const CHUNK_BITS: u32 = 12;
const CHUNK: usize = 1 << CHUNK_BITS;

/// One record per task of a run, each set once when the task ends.
#[derive(Debug, Default)]
pub(crate) struct RecordTable {
    /// Full chunks of [`CHUNK`] records, the last one possibly shorter.
    chunks: Box<[Box<[RecordSlot]>]>,
}

impl RecordTable {
    /// `len` empty records.
    pub(crate) fn new(len: usize) -> RecordTable {
        let chunks = (0..len.div_ceil(CHUNK))
            .map(|c| {
                let size = (len - c * CHUNK).min(CHUNK);
                (0..size).map(|_| RecordSlot::new()).collect()
            })
            .collect();
        RecordTable { chunks }
    }

    /// The record of task `index`.
    #[inline]
    pub(crate) fn get(&self, index: usize) -> Option<&RecordSlot> {
        self.chunks
            .get(index >> CHUNK_BITS)?
            .get(index & (CHUNK - 1))
    }

    /// Number of records (tasks).
    pub(crate) fn len(&self) -> usize {
        self.chunks
            .last()
            .map_or(0, |last| (self.chunks.len() - 1) * CHUNK + last.len())
    }

    /// The records in task order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &RecordSlot> {
        self.chunks.iter().flat_map(|chunk| chunk.iter())
    }
}

/// A task's record: empty until the task ends, then set once and only
/// read.
///
/// What `OnceLock` does, for the one pattern the engine needs: a single
/// claim (compare-and-swap) and a release store, where `OnceLock::set`
/// takes two atomic writes and an out-of-line call through `Once`, a good
/// part of a quick task's cost. Nobody ever waits on a slot: a reader
/// that finds it empty gets `None` (the engine reads a record only after
/// the task ended: a dependent's countdown or the run's end orders it).
pub(crate) struct RecordSlot {
    state: AtomicU8,
    value: UnsafeCell<MaybeUninit<Finished>>,
}

const EMPTY: u8 = 0;
const WRITING: u8 = 1;
const SET: u8 = 2;

// SAFETY: the value is written once, by the thread that won the claim,
// before the release store of `SET`; it is only read (shared) after an
// acquire load of `SET`, and dropped through `&mut self`. So the slot
// shares a `Finished` across threads as `OnceLock<Finished>` would, which
// needs `Finished: Send + Sync`.
unsafe impl Sync for RecordSlot {}

const _: () = {
    const fn shareable<T: Send + Sync>() {}
    shareable::<Finished>();
};

impl RecordSlot {
    fn new() -> RecordSlot {
        RecordSlot {
            state: AtomicU8::new(EMPTY),
            value: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// Sets the record; gives it back if the slot was set (or is being
    /// set) already.
    #[inline]
    pub(crate) fn set(&self, finished: Finished) -> Result<(), Finished> {
        if self
            .state
            .compare_exchange(EMPTY, WRITING, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return Err(finished);
        }
        // SAFETY: winning the claim makes this the only thread that ever
        // writes the value, and no reader looks at it before `SET`.
        unsafe { (*self.value.get()).write(finished) };
        self.state.store(SET, Ordering::Release);
        Ok(())
    }

    /// The record, once set.
    #[inline]
    pub(crate) fn get(&self) -> Option<&Finished> {
        if self.state.load(Ordering::Acquire) == SET {
            // SAFETY: `SET` is stored (release) after the value was
            // written, and the value is never written again.
            Some(unsafe { (*self.value.get()).assume_init_ref() })
        } else {
            None
        }
    }
}

impl Drop for RecordSlot {
    fn drop(&mut self) {
        if *self.state.get_mut() == SET {
            // SAFETY: `SET` means the value was written; `&mut self` means
            // no reference to it is left.
            unsafe { self.value.get_mut().assume_init_drop() };
        }
    }
}

impl std::fmt::Debug for RecordSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RecordSlot").field(&self.get()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::TaskStatus;
    use std::collections::BTreeSet;
    use std::sync::Arc;

    #[test]
    fn every_index_has_its_own_record_across_chunk_borders() {
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17] {
            let table = RecordTable::new(len);
            assert_eq!(table.len(), len);
            assert_eq!(table.iter().count(), len);
            assert!(table.get(len).is_none(), "index {len} of {len}");
            // Every 97th index and the last one, each set once.
            let picked: BTreeSet<usize> = (0..len).step_by(97).chain(len.checked_sub(1)).collect();
            for &i in &picked {
                let record = table.get(i).expect("a record per index");
                let reason: Arc<str> = Arc::from(format!("task {i}"));
                assert!(record
                    .set(Finished::settled(TaskStatus::Skipped, reason))
                    .is_ok());
            }
            // Each set landed on its own index, in order.
            let set: BTreeSet<usize> = table
                .iter()
                .enumerate()
                .filter(|(_, r)| r.get().is_some())
                .map(|(i, _)| i)
                .collect();
            assert_eq!(set, picked, "len {len}");
        }
    }

    /// Threads racing to set one slot: exactly one wins, the others get
    /// their record back, every reader after the race sees the winner's,
    /// and each record is dropped exactly once.
    #[test]
    fn a_slot_is_set_once_under_a_race_and_drops_its_record_once() {
        let reason: Arc<str> = Arc::from("shared");
        for _ in 0..50 {
            let slot = RecordSlot::new();
            assert!(slot.get().is_none());
            let winners: Vec<usize> = std::thread::scope(|scope| {
                let tries: Vec<_> = (0..4)
                    .map(|t| {
                        let slot = &slot;
                        let reason = Arc::clone(&reason);
                        scope.spawn(move || {
                            let mut record = Finished::settled(TaskStatus::Skipped, reason);
                            record.attempts = t as u32;
                            match slot.set(record) {
                                Ok(()) => Some(t),
                                Err(back) => {
                                    assert_eq!(back.attempts, t as u32, "its own record back");
                                    None
                                }
                            }
                        })
                    })
                    .collect();
                tries
                    .into_iter()
                    .filter_map(|h| h.join().unwrap())
                    .collect()
            });
            assert_eq!(winners.len(), 1, "one winner, got {winners:?}");
            let set = slot.get().expect("set after the race");
            assert_eq!(set.attempts, winners[0] as u32);
            // The losers' records are gone; the winner's lives in the slot.
            assert_eq!(Arc::strong_count(&reason), 2);
            drop(slot);
            assert_eq!(Arc::strong_count(&reason), 1);
        }
    }
}
