//! Results indexed by task: what [`Workflow::run_results`](super::Workflow::run_results)
//! returns.

use std::collections::HashMap;
use std::sync::Arc;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

use super::run::Collector;
use crate::graph::{Dag, TaskId};

/// The result of every completed task of a run (restored ones included),
/// stored by task index and named by the graph's own names.
///
/// Unlike a `HashMap<String, Value>` it allocates nothing per task, and it
/// iterates in insertion order. It serialises as a JSON object.
#[derive(Debug, Clone)]
pub struct RunResults {
    dag: Arc<Dag>,
    values: Vec<Option<Value>>,
    len: usize,
}

impl RunResults {
    /// The result of task `name`, if it completed.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.get_id(self.dag.id(name)?)
    }

    /// The result of the task with index `id`, if it completed.
    pub fn get_id(&self, id: TaskId) -> Option<&Value> {
        self.values.get(id.index())?.as_ref()
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
            .zip(&self.values)
            .filter_map(|(t, v)| Some((self.dag.name(t), v.as_ref()?)))
    }

    /// Names of the completed tasks, in insertion order.
    pub fn keys(&self) -> impl Iterator<Item = &str> + '_ {
        self.iter().map(|(k, _)| k)
    }

    /// Results of the completed tasks, in insertion order.
    pub fn values(&self) -> impl Iterator<Item = &Value> + '_ {
        self.values.iter().flatten()
    }

    /// The results as a map by name (what [`run`](super::Workflow::run)
    /// returns).
    pub fn into_map(self) -> HashMap<String, Value> {
        let mut map = HashMap::with_capacity(self.len);
        for (t, value) in self.dag.ids().zip(self.values) {
            if let Some(value) = value {
                map.insert(self.dag.name(t).to_string(), value);
            }
        }
        map
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
            values: vec![None; dag.len()],
            len: 0,
        }
    }

    fn add(&mut self, id: TaskId, value: Value) {
        if let Some(slot) = self.values.get_mut(id.index()) {
            if slot.replace(value).is_none() {
                self.len += 1;
            }
        }
    }
}
