//! The definition a `WorkflowStart` entry carries, and its JSON form.
//!
//! A run's [`RunDefinition`] (its graph and per-task definition texts) is
//! what resume compares a workflow against. The journal keeps it as the
//! typed [`JournalEntry::definition`], shared with the engine that ran it:
//! journaling a run of 100,000 tasks copies a pointer, not 100,000 names.
//! Stores that write entries as JSON (SQLite, PostgreSQL) write it under
//! `details.definition` in a columnar form,
//!
//! ```json
//! {"tasks": ["build", "test", "deploy"],
//!  "depends_on": [[], [0], [1]],
//!  "definitions": ["make", "make test", null]}
//! ```
//!
//! where `tasks` lists the names in insertion order, `depends_on[i]` the
//! indices (into `tasks`) of task i's dependencies, each once, in
//! declaration order, and `definitions[i]` task i's text (the key is left
//! out when no task has one). [`DetailsJson`] writes an entry's details with
//! the definition inside; [`take_definition`] moves it back out when the
//! entry is read.

use std::sync::Arc;

use serde::de::Error as _;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::entry::JournalEntry;
use super::fingerprint::task_hash;
use super::store::StoreError;
use crate::event::RunDefinition;
use crate::graph::{Dag, TaskId};

/// The key of the definition in the JSON form of an entry's details.
const KEY: &str = "definition";

impl Serialize for RunDefinition {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let dag = &self.dag;
        let with_texts = self.task_definitions.iter().any(Option::is_some);
        let mut map = serializer.serialize_map(Some(2 + usize::from(with_texts)))?;
        map.serialize_entry("tasks", &Names(dag))?;
        map.serialize_entry("depends_on", &Dependencies(dag))?;
        if with_texts {
            let texts = (0..dag.len()).map(|i| self.task_definition(i));
            map.serialize_entry("definitions", &Seq(texts))?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for RunDefinition {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let columns = Columns::deserialize(deserializer)?;
        columns.into_definition().map_err(D::Error::custom)
    }
}

impl RunDefinition {
    /// Task `index`'s definition text, if it has one.
    pub fn task_definition(&self, index: usize) -> Option<&str> {
        self.task_definitions.get(index).and_then(|d| d.as_deref())
    }
}

/// Names in insertion order, written without collecting them.
struct Names<'a>(&'a Dag);

impl Serialize for Names<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.names())
    }
}

/// Each task's dependencies as indices.
struct Dependencies<'a>(&'a Dag);

impl Serialize for Dependencies<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let dag = self.0;
        let mut seq = serializer.serialize_seq(Some(dag.len()))?;
        for id in dag.ids() {
            seq.serialize_element(&Seq(dag.dependencies(id).iter().map(|d| d.index())))?;
        }
        seq.end()
    }
}

/// A sequence written from an iterator that can be cloned.
struct Seq<I>(I);

impl<I> Serialize for Seq<I>
where
    I: Iterator + Clone,
    I::Item: Serialize,
{
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.clone())
    }
}

/// The columnar form as read back.
#[derive(Deserialize)]
struct Columns {
    tasks: Vec<String>,
    depends_on: Vec<Vec<u64>>,
    #[serde(default)]
    definitions: Option<Vec<Option<String>>>,
}

impl Columns {
    fn into_definition(self) -> Result<RunDefinition, String> {
        let n = self.tasks.len();
        if self.depends_on.len() != n {
            return Err("has no `depends_on` list with one entry per task".into());
        }
        if self.definitions.as_ref().is_some_and(|d| d.len() != n) {
            return Err("has a `definitions` list whose length differs from `tasks`".into());
        }
        if self.depends_on.iter().flatten().any(|&d| d >= n as u64) {
            return Err("has a dependency index out of range".into());
        }
        let names = &self.tasks;
        let tasks = names.iter().zip(&self.depends_on).map(|(name, deps)| {
            let deps = deps.iter().map(move |&d| names[d as usize].as_str());
            (name.as_str(), deps)
        });
        let dag = Dag::from_tasks(tasks).map_err(|e| format!("is not a valid graph: {e}"))?;
        Ok(RunDefinition {
            dag: Arc::new(dag),
            task_definitions: self.definitions.unwrap_or_else(|| vec![None; n]),
        })
    }
}

/// An entry's details as stores write them: its `details` map, plus the
/// definition of a `WorkflowStart` entry under `"definition"`.
///
/// ```
/// use dagflow::event::RunDefinition;
/// use dagflow::graph::Dag;
/// use dagflow::journal::{DetailsJson, EntryStatus, EventType, JournalEntry};
/// use std::sync::Arc;
/// use std::time::SystemTime;
///
/// let mut start = JournalEntry::new("run-1", "ci", EventType::WorkflowStart, None,
///                                   EntryStatus::Started, SystemTime::now());
/// start.definition = Some(Arc::new(RunDefinition {
///     dag: Arc::new(Dag::from_tasks([("build", vec![]), ("test", vec!["build"])])?),
///     task_definitions: vec![None, None],
/// }));
/// let text = serde_json::to_string(&DetailsJson(&start))?;
/// assert_eq!(text, r#"{"definition":{"tasks":["build","test"],"depends_on":[[],[0]]}}"#);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct DetailsJson<'a>(pub &'a JournalEntry);

impl DetailsJson<'_> {
    /// Whether there is nothing to write (no details, no definition).
    pub fn is_empty(&self) -> bool {
        self.0.details.is_empty() && self.0.definition.is_none()
    }
}

impl Serialize for DetailsJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let entry = self.0;
        let definition = entry.definition.as_deref();
        let mut map = serializer.serialize_map(Some(
            entry.details.len() + usize::from(definition.is_some()),
        ))?;
        for (key, value) in &entry.details {
            // A typed definition wins over a stray one in the map.
            if !(definition.is_some() && key == KEY) {
                map.serialize_entry(key, value)?;
            }
        }
        if let Some(definition) = definition {
            map.serialize_entry(KEY, definition)?;
        }
        map.end()
    }
}

/// Moves a readable definition out of details read back from JSON (the
/// inverse of [`DetailsJson`]). A definition that cannot be read is left
/// where it is, for [`journaled_definition`] to report what is wrong with
/// it.
pub fn take_definition(details: &mut Map<String, Value>) -> Option<Arc<RunDefinition>> {
    let definition = RunDefinition::deserialize(details.get(KEY)?).ok()?;
    details.remove(KEY);
    Some(Arc::new(definition))
}

/// One task of a journaled definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournaledTask {
    /// The task's name.
    pub name: String,
    /// Names of its dependencies, in declaration order.
    pub depends_on: Vec<String>,
    /// Its definition text, if it had one.
    pub definition: Option<String>,
}

impl JournaledTask {
    /// The task's [`task_hash`], comparable with the current definition's.
    pub fn hash(&self) -> u64 {
        task_hash(&self.name, &self.depends_on, self.definition.as_deref())
    }
}

/// The tasks of a `WorkflowStart` entry's definition, in insertion order:
/// from [`JournalEntry::definition`], or from `details.definition` for an
/// entry that carries it only in its JSON form.
///
/// ```
/// use dagflow::event::RunDefinition;
/// use dagflow::graph::Dag;
/// use dagflow::journal::{journaled_definition, EntryStatus, EventType, JournalEntry};
/// use std::sync::Arc;
/// use std::time::SystemTime;
///
/// let mut start = JournalEntry::new("run-1", "ci", EventType::WorkflowStart, None,
///                                   EntryStatus::Started, SystemTime::now());
/// start.definition = Some(Arc::new(RunDefinition {
///     dag: Arc::new(Dag::from_tasks([("build", vec![]), ("test", vec!["build"])])?),
///     task_definitions: vec![Some("make".into()), Some("make test".into())],
/// }));
/// let tasks = journaled_definition(&start)?;
/// assert_eq!(tasks[1].name, "test");
/// assert_eq!(tasks[1].depends_on, ["build"]);
/// assert_eq!(tasks[1].definition.as_deref(), Some("make test"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn journaled_definition(entry: &JournalEntry) -> Result<Vec<JournaledTask>, StoreError> {
    let invalid = |what: &str| {
        StoreError::Invalid(format!(
            "the start entry's `details.definition` {what}; the journal was not written by this \
             version of dagflow or is damaged"
        ))
    };
    let read;
    let definition = match &entry.definition {
        Some(definition) => &**definition,
        None => {
            let value = entry
                .details
                .get(KEY)
                .ok_or_else(|| invalid("is missing"))?;
            read = RunDefinition::deserialize(value).map_err(|e| invalid(&e.to_string()))?;
            &read
        }
    };
    let dag = &definition.dag;
    Ok(dag
        .ids()
        .map(|id: TaskId| JournaledTask {
            name: dag.name(id).to_string(),
            depends_on: dag
                .dependencies(id)
                .iter()
                .map(|&d| dag.name(d).to_string())
                .collect(),
            definition: definition.task_definition(id.index()).map(str::to_string),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::fingerprint::tests::definition;
    use crate::journal::{fingerprint, EntryStatus, EventType};
    use serde_json::json;
    use std::time::SystemTime;

    fn start(details: Map<String, Value>, definition: Option<RunDefinition>) -> JournalEntry {
        let mut entry = JournalEntry::new(
            "run-1",
            "ci",
            EventType::WorkflowStart,
            None,
            EntryStatus::Started,
            SystemTime::UNIX_EPOCH,
        );
        entry.details = details;
        entry.definition = definition.map(Arc::new);
        entry
    }

    #[test]
    fn definitions_are_left_out_when_no_task_has_one() {
        let def = definition(vec![("a", vec![])], vec![None]);
        assert_eq!(
            serde_json::to_value(&def).expect("serializable"),
            json!({"tasks": ["a"], "depends_on": [[]]})
        );
        let tasks = journaled_definition(&start(Map::new(), Some(def))).expect("readable");
        assert_eq!(tasks[0].definition, None);
    }

    #[test]
    fn the_json_form_reads_back_into_the_same_tasks_and_hashes() {
        let def = definition(
            vec![("a", vec![]), ("b", vec!["a", "a"]), ("c", vec!["b", "a"])],
            vec![None, Some("echo b"), None],
        );
        let mut details = Map::new();
        details.insert("fingerprint".into(), json!(fingerprint(&def).to_hex()));
        let written = start(details, Some(def.clone()));
        let text = serde_json::to_string(&DetailsJson(&written)).expect("serializable");
        let mut read: Map<String, Value> = serde_json::from_str(&text).expect("a JSON object");
        assert_eq!(
            read["definition"],
            json!({
                "tasks": ["a", "b", "c"],
                "depends_on": [[], [0], [1, 0]],
                "definitions": [null, "echo b", null],
            })
        );
        let moved = take_definition(&mut read).expect("a readable definition");
        assert!(!read.contains_key("definition"), "moved out of the details");
        let typed = journaled_definition(&written).expect("readable");
        assert_eq!(
            journaled_definition(&start(read, Some((*moved).clone()))).expect("readable"),
            typed
        );
        let hashes: Vec<u64> = typed.iter().map(JournaledTask::hash).collect();
        let expected: Vec<u64> = fingerprint(&def).tasks.iter().map(|t| t.hash).collect();
        assert_eq!(hashes, expected);
        assert_eq!(typed[2].depends_on, ["b", "a"]);
    }

    #[test]
    fn a_definition_only_in_the_details_is_read_too() {
        let mut details = Map::new();
        details.insert(
            "definition".into(),
            json!({"tasks": ["a", "b"], "depends_on": [[], [0]]}),
        );
        let tasks = journaled_definition(&start(details, None)).expect("readable");
        assert_eq!(tasks[1].depends_on, ["a"]);
    }

    #[test]
    fn damaged_definitions_are_reported_and_left_in_place() {
        let mut details = Map::new();
        details.insert(
            "definition".into(),
            json!({"tasks": ["a"], "depends_on": [[3]]}),
        );
        assert!(take_definition(&mut details).is_none());
        assert!(details.contains_key("definition"));
        let error =
            journaled_definition(&start(details, None)).expect_err("index 3 does not exist");
        assert!(error.to_string().contains("out of range"), "{error}");

        let mut cyclic = Map::new();
        cyclic.insert(
            "definition".into(),
            json!({"tasks": ["a", "b"], "depends_on": [[1], [0]]}),
        );
        let error = journaled_definition(&start(cyclic, None)).expect_err("a cycle");
        assert!(error.to_string().contains("not a valid graph"), "{error}");
    }

    #[test]
    fn a_missing_definition_says_so() {
        let error = journaled_definition(&start(Map::new(), None)).expect_err("nothing to read");
        assert!(error.to_string().contains("is missing"), "{error}");
    }
}
