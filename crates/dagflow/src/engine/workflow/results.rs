//! Results indexed by task: what [`Workflow::run`](super::Workflow::run)
//! returns.

use std::collections::HashMap;
use std::sync::Arc;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

use super::run::{Collector, Records};
use crate::graph::{Dag, TaskId};

/// The result of every completed task of a run (restored ones included),
/// stored by task index and named by the graph's own names.
///
/// Unlike a `HashMap<String, Value>` it allocates nothing per task (it
/// shares the run's own records), and it iterates in insertion order. It
/// serialises as a JSON object.
#[derive(Clone)]
pub struct RunResults {
    dag: Arc<Dag>,
    records: Records,
    len: usize,
}

impl std::fmt::Debug for RunResults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl RunResults {
    /// The result of task `name`, if it completed.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.get_id(self.dag.id(name)?)
    }

    /// The result of the task with index `id`, if it completed.
    pub fn get_id(&self, id: TaskId) -> Option<&Value> {
        self.records.get(id.index())?.output()
    }

    /// Whether task `name` completed.
    pub fn contains_key(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Number of completed tasks.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no task completed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `(name, result)` of every completed task, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> + '_ {
        self.dag
            .ids()
            .filter_map(|t| Some((self.dag.name(t), self.get_id(t)?)))
    }

    /// Names of the completed tasks, in insertion order.
    pub fn keys(&self) -> impl Iterator<Item = &str> + '_ {
        self.iter().map(|(k, _)| k)
    }

    /// Results of the completed tasks, in insertion order.
    pub fn values(&self) -> impl Iterator<Item = &Value> + '_ {
        self.iter().map(|(_, v)| v)
    }

    /// The results as a `HashMap` by name (copies every value).
    pub fn into_map(self) -> HashMap<String, Value> {
        let mut map = HashMap::with_capacity(self.len);
        for (name, value) in self.iter() {
            map.insert(name.to_string(), value.clone());
        }
        map
    }
}

impl std::ops::Index<&str> for RunResults {
    type Output = Value;

    /// The result of task `name`.
    ///
    /// # Panics
    /// If the task did not complete, as `HashMap` indexing does; use
    /// [`get`](RunResults::get) when that can happen.
    fn index(&self, name: &str) -> &Value {
        match self.get(name) {
            Some(value) => value,
            None => panic!("task `{name}` has no result: it did not complete or does not exist"),
        }
    }
}

impl<'a> IntoIterator for &'a RunResults {
    type Item = (&'a str, &'a Value);
    type IntoIter = Box<dyn Iterator<Item = (&'a str, &'a Value)> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

/// Equal when the same tasks completed with the same results.
impl PartialEq for RunResults {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl From<RunResults> for HashMap<String, Value> {
    fn from(results: RunResults) -> Self {
        results.into_map()
    }
}

impl Serialize for RunResults {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len))?;
        for (name, value) in self.iter() {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl Collector for RunResults {
    fn prepare(dag: &Arc<Dag>) -> Self {
        RunResults {
            dag: Arc::clone(dag),
            records: Arc::default(),
            len: 0,
        }
    }

    fn collect(self, records: &mut Records, completed: usize) -> Self {
        RunResults {
            dag: self.dag,
            records: Arc::clone(records),
            len: completed,
        }
    }
}
