//! Task names to ids.
//!
//! A hash table of ids only: each slot holds a 4-byte [`TaskId`], and
//! hashing and comparison go through the graph's own name list. The hasher
//! is hashbrown's default (foldhash, seeded per process): task names come
//! from the workflow's author, so SipHash's resistance to chosen collisions
//! buys nothing here and costs a third of building a large graph. A map from
//! `Arc<str>` to id would hold 24 bytes a slot, about 3 MB more on a
//! 100,000-task graph.

use std::hash::BuildHasher;
use std::sync::Arc;

use hashbrown::{DefaultHashBuilder, HashTable};

use super::TaskId;

/// The ids of a graph's tasks, found by name.
#[derive(Clone, Default)]
pub(super) struct NameIndex {
    table: HashTable<TaskId>,
    hasher: DefaultHashBuilder,
}

impl std::fmt::Debug for NameIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NameIndex")
            .field("len", &self.table.len())
            .finish()
    }
}

impl NameIndex {
    /// An empty index with room for `tasks` names.
    pub(super) fn with_capacity(tasks: usize) -> Self {
        NameIndex {
            table: HashTable::with_capacity(tasks),
            hasher: DefaultHashBuilder::default(),
        }
    }

    /// The id of `name`, where `names[id]` is the name of task `id`.
    pub(super) fn get(&self, names: &[Arc<str>], name: &str) -> Option<TaskId> {
        self.get_hashed(names, name, self.hash(name))
    }

    /// The hash the index files `name` under, for [`get_hashed`](Self::get_hashed)
    /// and [`insert_new`](Self::insert_new): a task added after a
    /// duplicate check hashes its name once, not twice.
    pub(super) fn hash(&self, name: &str) -> u64 {
        self.hasher.hash_one(name)
    }

    /// [`get`](Self::get) with `name`'s [`hash`](Self::hash).
    pub(super) fn get_hashed(&self, names: &[Arc<str>], name: &str, hash: u64) -> Option<TaskId> {
        self.table
            .find(hash, |&id| &*names[id.index()] == name)
            .copied()
    }

    /// Adds task `id`, whose name is `names[id]` (with [`hash`](Self::hash)
    /// `hash`) and not in the index yet; the index holds exactly the ids
    /// before it.
    pub(super) fn insert_new(&mut self, names: &[Arc<str>], id: TaskId, hash: u64) {
        if self.table.len() == self.table.capacity() {
            self.grow(names, id.index());
        }
        let NameIndex { table, hasher } = self;
        table.insert_unique(hash, id, |&other| hasher.hash_one(&*names[other.index()]));
    }

    /// Doubles the table, inserting the first `len` ids afresh in id order.
    ///
    /// Growing in place would rehash the ids in slot order, which visits the
    /// names in random order: on a million tasks, a cache miss per name and
    /// a third of building the graph. In id order the names are read front
    /// to back, as they were allocated.
    #[cold]
    fn grow(&mut self, names: &[Arc<str>], len: usize) {
        let capacity = (self.table.capacity() * 2).max(16);
        let mut table = HashTable::with_capacity(capacity);
        for (i, name) in names[..len].iter().enumerate() {
            let hash = self.hasher.hash_one(&**name);
            // The capacity is there: the hasher is never called.
            table.insert_unique(hash, TaskId::from_index(i), |&other| {
                self.hasher.hash_one(&*names[other.index()])
            });
        }
        self.table = table;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_name_and_nothing_else() {
        let names: Vec<Arc<str>> = (0..10_000).map(|i| Arc::from(format!("t{i}"))).collect();
        let mut index = NameIndex::default();
        for i in 0..names.len() {
            let hash = index.hash(&names[i]);
            index.insert_new(&names, TaskId::from_index(i), hash);
        }
        for (i, name) in names.iter().enumerate() {
            assert_eq!(index.get(&names, name), Some(TaskId::from_index(i)));
        }
        assert_eq!(index.get(&names, "t10000"), None);
        assert_eq!(index.get(&names, ""), None);
    }
}
