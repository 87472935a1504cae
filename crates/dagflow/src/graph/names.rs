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
#[cfg(test)]
use std::sync::Arc;

use hashbrown::hash_table::Entry;
use hashbrown::{DefaultHashBuilder, HashTable};

use super::TaskId;

/// Where the index reads the name of a task id: the [`NameList`] that a
/// builder and its graph keep (and, in the tests, plain shared strings).
pub(super) trait NameSource {
    /// The name at `index` (which the index only asks for ids it holds).
    fn name_at(&self, index: usize) -> &str;
}

#[cfg(test)]
impl NameSource for [Arc<str>] {
    fn name_at(&self, index: usize) -> &str {
        &self[index]
    }
}

/// Names stored end to end in one string, with where each one ends.
///
/// A builder keeps its task names here and hands the list to the graph it
/// builds, which makes shared `Arc<str>`s of them only when events need
/// them. Allocating a name's `Arc` as each task is added put it between the
/// task actions that the caller allocates in the same loop, so every action
/// landed on a cache line of its own; a sync run of 100,000 no-op steps then
/// took 1.39 x as long as with the actions side by side. And an `Arc` per
/// name was a fifth of building a 100,000-task workflow nobody observes.
#[derive(Default, Clone, PartialEq, Eq)]
pub(super) struct NameList {
    text: String,
    ends: Vec<usize>,
}

impl NameList {
    /// An empty list with room for `names` names.
    pub(super) fn with_capacity(names: usize) -> Self {
        NameList {
            text: String::new(),
            ends: Vec::with_capacity(names),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.ends.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub(super) fn push(&mut self, name: &str) {
        self.text.push_str(name);
        self.ends.push(self.text.len());
    }

    /// Drops the names from `len` on.
    pub(super) fn truncate(&mut self, len: usize) {
        if len < self.len() {
            self.ends.truncate(len);
            self.text.truncate(self.ends.last().copied().unwrap_or(0));
        }
    }

    /// The name at `index`, if there is one.
    pub(super) fn get(&self, index: usize) -> Option<&str> {
        let end = *self.ends.get(index)?;
        let start = match index {
            0 => 0,
            _ => self.ends[index - 1],
        };
        self.text.get(start..end)
    }

    /// Every name, in order.
    pub(super) fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.len()).map(|i| self.name_at(i))
    }
}

impl std::fmt::Debug for NameList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl NameSource for NameList {
    fn name_at(&self, index: usize) -> &str {
        self.get(index).unwrap_or_default()
    }
}

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
    pub(super) fn get<N: NameSource + ?Sized>(&self, names: &N, name: &str) -> Option<TaskId> {
        self.table
            .find(self.hasher.hash_one(name), |&id| {
                names.name_at(id.index()) == name
            })
            .copied()
    }

    /// Files task `id` under `name` unless a task of that name is there
    /// already, whose id it then returns. One probe does both: the check for
    /// a duplicate finds the slot the new id goes into.
    ///
    /// The index must hold exactly the ids before `id`, and `names` their
    /// names; `name` need not be in `names` yet.
    pub(super) fn insert<N: NameSource + ?Sized>(
        &mut self,
        names: &N,
        name: &str,
        id: TaskId,
    ) -> Result<(), TaskId> {
        if self.table.len() == self.table.capacity() {
            self.grow(names, id.index());
        }
        let NameIndex { table, hasher } = self;
        let entry = table.entry(
            hasher.hash_one(name),
            |&other| names.name_at(other.index()) == name,
            // Only called to grow, and the table has room: see above.
            |&other| hasher.hash_one(names.name_at(other.index())),
        );
        match entry {
            Entry::Occupied(existing) => Err(*existing.get()),
            Entry::Vacant(slot) => {
                slot.insert(id);
                Ok(())
            }
        }
    }

    /// Doubles the table, inserting the first `len` ids afresh in id order.
    ///
    /// Growing in place would rehash the ids in slot order, which visits the
    /// names in random order: on a million tasks, a cache miss per name and
    /// a third of building the graph. In id order the names are read front
    /// to back, as they were allocated.
    #[cold]
    fn grow<N: NameSource + ?Sized>(&mut self, names: &N, len: usize) {
        let capacity = (self.table.capacity() * 2).max(16);
        let mut table = HashTable::with_capacity(capacity);
        for i in 0..len {
            let hash = self.hasher.hash_one(names.name_at(i));
            // The capacity is there: the hasher is never called.
            table.insert_unique(hash, TaskId::from_index(i), |&other| {
                self.hasher.hash_one(names.name_at(other.index()))
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
        for (i, name) in names.iter().enumerate() {
            assert_eq!(
                index.insert(&names[..], name, TaskId::from_index(i)),
                Ok(())
            );
        }
        // A name already filed is refused with the id it has.
        let again = TaskId::from_index(names.len());
        assert_eq!(
            index.insert(&names[..], "t42", again),
            Err(TaskId::from_index(42))
        );
        for (i, name) in names.iter().enumerate() {
            assert_eq!(index.get(&names[..], name), Some(TaskId::from_index(i)));
        }
        assert_eq!(index.get(&names[..], "t10000"), None);
        assert_eq!(index.get(&names[..], ""), None);
    }

    #[test]
    fn a_name_list_indexes_like_the_shared_names() {
        let shared: Vec<Arc<str>> = ["a", "", "bb", "a-long-name", "é"]
            .into_iter()
            .map(Arc::from)
            .collect();
        let mut list = NameList::with_capacity(2);
        let mut index = NameIndex::default();
        for (i, name) in shared.iter().enumerate() {
            assert_eq!(index.insert(&list, name, TaskId::from_index(i)), Ok(()));
            list.push(name);
        }
        assert_eq!(list.len(), shared.len());
        assert!(list.iter().eq(shared.iter().map(|n| &**n)));
        assert_eq!(list.get(shared.len()), None);
        for (i, name) in shared.iter().enumerate() {
            assert_eq!(list.get(i), Some(&**name));
            // The same index answers over either store.
            assert_eq!(index.get(&list, name), Some(TaskId::from_index(i)));
            assert_eq!(index.get(&shared[..], name), Some(TaskId::from_index(i)));
        }
        assert_eq!(index.get(&list, "b"), None);
    }
}
