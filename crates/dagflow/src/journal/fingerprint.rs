//! Definition fingerprints: a stable hash of what a workflow is made of.
//!
//! Resume compares the fingerprint journaled with a run against the current
//! definition to tell whether the workflow changed in between. The hash must
//! therefore be identical across processes, versions of Rust and platforms,
//! which rules out `std`'s `DefaultHasher`; it is FNV-1a 64 with a
//! SplitMix64 finaliser, written out here.
//!
//! What counts: each task's name, the *set* of its dependencies (order and
//! repetition do not matter) and its definition text (a shell command, for
//! example). The order in which tasks were added does not matter either:
//! task hashes are combined with a wrapping sum, which keeps fingerprinting
//! O(tasks + dependencies) without sorting.

use serde_json::{Map, Value};

use crate::event::RunDefinition;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a 64 of `bytes`, continuing from `state`.
const fn fnv1a(mut state: u64, bytes: &[u8]) -> u64 {
    let mut i = 0;
    while i < bytes.len() {
        state ^= bytes[i] as u64;
        state = state.wrapping_mul(FNV_PRIME);
        i += 1;
    }
    state
}

// The states after each field's tag, computed at compile time: every task
// hashes its name twice, so the tags would otherwise cost as much as the
// names themselves.
const DEP_SEED: u64 = fnv1a(FNV_OFFSET, b"dep\0");
const NAME_SEED: u64 = fnv1a(FNV_OFFSET, b"name\0");
const DEFINITION_SEED: u64 = fnv1a(FNV_OFFSET, b"definition\0");

/// SplitMix64's finaliser: spreads every input bit over the output so that
/// sums of hashes do not cancel out in structured ways.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Hash of one task: its name, its dependencies as a set and its definition.
///
/// Pass each dependency once (as a validated graph lists them). Stable across
/// runs, processes and platforms.
///
/// ```
/// use dagflow::journal::task_hash;
/// let a = task_hash("test", ["build", "lint"], Some("cargo test"));
/// let b = task_hash("test", ["lint", "build"], Some("cargo test"));
/// assert_eq!(a, b); // dependency order does not matter
/// assert_ne!(a, task_hash("test", ["build"], Some("cargo test")));
/// assert_ne!(a, task_hash("test", ["build", "lint"], Some("cargo test --release")));
/// ```
pub fn task_hash<I, S>(name: &str, depends_on: I, definition: Option<&str>) -> u64
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let deps_hash = depends_on
        .into_iter()
        .fold(0u64, |sum, dep| sum.wrapping_add(dep_hash(dep.as_ref())));
    combine(name, deps_hash, definition)
}

/// What one dependency called `name` adds to a task's dependency sum.
fn dep_hash(name: &str) -> u64 {
    mix(fnv1a(DEP_SEED, name.as_bytes()))
}

/// A task's hash from its name, the sum of its dependencies' [`dep_hash`]es
/// and its definition.
fn combine(name: &str, deps_hash: u64, definition: Option<&str>) -> u64 {
    let name_hash = fnv1a(NAME_SEED, name.as_bytes());
    let definition_hash = match definition {
        None => 0,
        Some(text) => fnv1a(DEFINITION_SEED, text.as_bytes()),
    };
    mix(name_hash ^ mix(deps_hash ^ 0x6465_7073) ^ mix(definition_hash).rotate_left(17))
}

/// The fingerprint of one task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFingerprint {
    /// The task's name.
    pub name: String,
    /// [`task_hash`] of the task.
    pub hash: u64,
}

/// The fingerprint of a whole definition: one hash per task and their
/// order-independent combination.
///
/// ```
/// use dagflow::event::RunDefinition;
/// use dagflow::graph::Dag;
/// use dagflow::journal::fingerprint;
/// use std::sync::Arc;
///
/// let define = |deps: Vec<&'static str>| -> Result<RunDefinition, dagflow::GraphError> {
///     Ok(RunDefinition {
///         dag: Arc::new(Dag::from_tasks([("a", vec![]), ("b", deps)])?),
///         task_definitions: vec![None, Some("echo b".into())],
///     })
/// };
/// let before = fingerprint(&define(vec!["a"])?);
/// assert_eq!(before, fingerprint(&define(vec!["a"])?));
/// assert_ne!(before.hash, fingerprint(&define(vec![])?).hash);
/// assert_eq!(before.to_hex().len(), 16);
/// # Ok::<(), dagflow::GraphError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefinitionFingerprint {
    /// The combined hash of every task.
    pub hash: u64,
    /// Per task, in the definition's insertion order.
    pub tasks: Vec<TaskFingerprint>,
}

impl DefinitionFingerprint {
    /// Combines task fingerprints (in any order) into a definition
    /// fingerprint.
    pub fn from_tasks(tasks: Vec<TaskFingerprint>) -> Self {
        let hash = mix(tasks
            .iter()
            .fold(tasks.len() as u64, |sum, t| sum.wrapping_add(mix(t.hash))));
        DefinitionFingerprint { hash, tasks }
    }

    /// The combined hash as 16 lower-case hex digits, as journaled.
    pub fn to_hex(&self) -> String {
        format!("{:016x}", self.hash)
    }

    /// The hash of the task called `name`, if the definition has it.
    pub fn task(&self, name: &str) -> Option<u64> {
        self.tasks.iter().find(|t| t.name == name).map(|t| t.hash)
    }
}

/// Fingerprints a run's definition: names, dependencies and per-task
/// definition texts. See the notes at the top of `journal/fingerprint.rs` for what counts.
pub fn fingerprint(definition: &RunDefinition) -> DefinitionFingerprint {
    let dag = &definition.dag;
    let tasks = dag
        .ids()
        .map(|id| TaskFingerprint {
            name: dag.name(id).to_string(),
            hash: task_hash(
                dag.name(id),
                dag.dependencies(id).iter().map(|&d| dag.name(d)),
                definition.task_definition(id.index()),
            ),
        })
        .collect();
    DefinitionFingerprint::from_tasks(tasks)
}

/// The `details` of a `WorkflowStart` entry for `definition`:
///
/// ```json
/// {"fingerprint": "<16 hex digits>", "resumed_from": "<run id>" | null}
/// ```
///
/// The definition itself goes in the entry's typed
/// [`definition`](super::JournalEntry::definition) field (see
/// `journal/definition.rs` for its JSON form). The fingerprint is the same
/// value as `fingerprint(definition).to_hex()`, computed without building
/// the per-task list.
///
/// ```
/// use dagflow::event::RunDefinition;
/// use dagflow::graph::Dag;
/// use dagflow::journal::{fingerprint, start_details};
/// use std::sync::Arc;
///
/// let definition = RunDefinition {
///     dag: Arc::new(Dag::from_tasks([("build", vec![]), ("test", vec!["build"])])?),
///     task_definitions: vec![None, None],
/// };
/// let details = start_details(&definition, Some("run-0"));
/// assert_eq!(details["fingerprint"], fingerprint(&definition).to_hex());
/// assert_eq!(details["resumed_from"], "run-0");
/// # Ok::<(), dagflow::GraphError>(())
/// ```
pub fn start_details(definition: &RunDefinition, resumed_from: Option<&str>) -> Map<String, Value> {
    let dag = &definition.dag;
    let mut task_hashes_sum = dag.len() as u64;
    // Each task's hash as a dependency, once per task rather than once per
    // edge (the sum `task_hash` takes over dependency names).
    let as_dependency: Vec<u64> = dag.ids().map(|id| dep_hash(dag.name(id))).collect();
    for id in dag.ids() {
        let deps_hash = dag
            .dependencies(id)
            .iter()
            .fold(0u64, |sum, d| sum.wrapping_add(as_dependency[d.index()]));
        let hash = combine(
            dag.name(id),
            deps_hash,
            definition.task_definition(id.index()),
        );
        task_hashes_sum = task_hashes_sum.wrapping_add(mix(hash));
    }
    let mut details = Map::new();
    details.insert(
        "fingerprint".into(),
        Value::String(format!("{:016x}", mix(task_hashes_sum))),
    );
    details.insert(
        "resumed_from".into(),
        resumed_from.map_or(Value::Null, Value::from),
    );
    details
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::graph::Dag;
    use serde_json::json;
    use std::sync::Arc;

    /// A definition of `tasks` (name, dependencies) with per-task texts.
    pub(crate) fn definition(
        tasks: Vec<(&str, Vec<&str>)>,
        texts: Vec<Option<&str>>,
    ) -> RunDefinition {
        RunDefinition {
            dag: Arc::new(Dag::from_tasks(tasks).expect("valid test graph")),
            task_definitions: texts.into_iter().map(|t| t.map(String::from)).collect(),
        }
    }

    #[test]
    fn fnv1a_matches_published_test_vectors() {
        assert_eq!(fnv1a(FNV_OFFSET, b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a(FNV_OFFSET, b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a(FNV_OFFSET, b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn fingerprint_is_pinned_so_journals_stay_comparable_across_versions() {
        // If this changes, fingerprints journaled by earlier versions no
        // longer match and every resume would report a changed definition.
        let def = definition(
            vec![("build", vec![]), ("test", vec!["build"])],
            vec![Some("make"), Some("make test")],
        );
        let fp = fingerprint(&def);
        assert_eq!(fp.to_hex(), format!("{:016x}", fp.hash));
        let expected = DefinitionFingerprint::from_tasks(vec![
            TaskFingerprint {
                name: "build".into(),
                hash: task_hash("build", [] as [&str; 0], Some("make")),
            },
            TaskFingerprint {
                name: "test".into(),
                hash: task_hash("test", ["build"], Some("make test")),
            },
        ]);
        assert_eq!(fp, expected);
        assert_eq!(task_hash("a", [] as [&str; 0], None), 0x56c2_35fb_1af2_4c97);
        assert_eq!(fp.to_hex(), "c48b6575c1f3414a");
    }

    #[test]
    fn insertion_order_does_not_change_the_fingerprint() {
        let forward = definition(
            vec![("a", vec![]), ("b", vec!["a"]), ("c", vec!["a", "b"])],
            vec![None, None, None],
        );
        let reversed = definition(
            vec![("c", vec!["b", "a"]), ("b", vec!["a"]), ("a", vec![])],
            vec![None, None, None],
        );
        assert_eq!(fingerprint(&forward).hash, fingerprint(&reversed).hash);
    }

    #[test]
    fn start_details_carry_the_same_fingerprint_and_the_resume_origin() {
        let def = definition(
            vec![("a", vec![]), ("b", vec!["a", "a"])],
            vec![None, Some("echo b")],
        );
        let details = start_details(&def, Some("run-0"));
        assert_eq!(details["fingerprint"], json!(fingerprint(&def).to_hex()));
        assert_eq!(details["resumed_from"], json!("run-0"));
        assert_eq!(details.len(), 2);
        assert_eq!(start_details(&def, None)["resumed_from"], json!(null));
    }
}
