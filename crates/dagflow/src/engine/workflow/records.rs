//! The per-task records of a run, in chunks.
//!
//! A run keeps one record per task (56 bytes, see [`Finished`]). In one
//! array, a million-task run asks the allocator for 56 MB at once, a size
//! that malloc always takes from a fresh `mmap` and gives back on free:
//! every run then pays a page fault per 4 KiB of it (13,700 faults, about
//! 30 ms here) before a task has run. In chunks of [`CHUNK`] records
//! (224 KiB), the memory comes from the heap and a later run reuses what
//! the one before freed.

use std::sync::OnceLock;

use super::finished::Finished;

/// Records per chunk (a power of two: an index splits with a shift).
const CHUNK_BITS: u32 = 12;
const CHUNK: usize = 1 << CHUNK_BITS;

/// One record per task of a run, each set once when the task ends.
#[derive(Debug, Default)]
pub(crate) struct RecordTable {
    /// Full chunks of [`CHUNK`] records, the last one possibly shorter.
    chunks: Box<[Box<[OnceLock<Finished>]>]>,
}

impl RecordTable {
    /// `len` empty records.
    pub(crate) fn new(len: usize) -> RecordTable {
        let chunks = (0..len.div_ceil(CHUNK))
            .map(|c| {
                let size = (len - c * CHUNK).min(CHUNK);
                (0..size).map(|_| OnceLock::new()).collect()
            })
            .collect();
        RecordTable { chunks }
    }

    /// The record of task `index`.
    #[inline]
    pub(crate) fn get(&self, index: usize) -> Option<&OnceLock<Finished>> {
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
    pub(crate) fn iter(&self) -> impl Iterator<Item = &OnceLock<Finished>> {
        self.chunks.iter().flat_map(|chunk| chunk.iter())
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
}
