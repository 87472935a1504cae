//! Resume planning: which steps of an earlier run keep their results.
//!
//! [`ResumePlan::from_journal`] reads one run from any [`JournalStore`] and
//! compares the definition journaled with it against the current one.
//! Steps that completed keep their journaled results (hand them to the
//! engine, e.g. `Workflow::restore(plan.restored, &plan.run_id)`); failed,
//! skipped, cancelled, interrupted and never-started steps run again. A run
//! that was itself a resume counts its restored steps as completed, so
//! chains of resumes work.
//!
//! If the definition changed (tasks added or removed, dependencies or
//! commands changed), planning fails with [`ResumeError::DefinitionChanged`]
//! listing the changes, unless forced: then every changed step, and every
//! step downstream of one (its inputs may change), runs again.
//!
//! Whether the run is still executing somewhere is the store's business
//! (the SQLite store's run leases, for instance); this module only reads
//! the journal.
//!
//! ```
//! use dagflow::event::RunDefinition;
//! use dagflow::graph::Dag;
//! use dagflow::journal::resume::ResumePlan;
//! use dagflow::journal::{EntryStatus, EventType, JournalEntry, JournalStore, MemoryStore};
//! use serde_json::json;
//! use std::sync::Arc;
//! use std::time::SystemTime;
//!
//! let definition = Arc::new(RunDefinition {
//!     dag: Arc::new(Dag::from_tasks([("fetch", vec![]), ("build", vec!["fetch"])])?),
//!     task_definitions: vec![None, None],
//! });
//! let store = MemoryStore::new();
//! let entry = |event, step: Option<&str>, status| {
//!     JournalEntry::new("run-1", "ci", event, step.map(Arc::from), status, SystemTime::now())
//! };
//! let start = JournalEntry::workflow_start("run-1", "ci", Arc::clone(&definition), None, SystemTime::now());
//! let mut fetched = entry(EventType::StepComplete, Some("fetch"), EntryStatus::Completed);
//! fetched.result = Some(json!("v1.2"));
//! let failed = entry(EventType::StepComplete, Some("build"), EntryStatus::Failed);
//! store.append(&[start, fetched, failed])?;
//!
//! let plan = ResumePlan::from_journal(&store, "run-1", &definition, false)?;
//! assert_eq!(plan.restored["fetch"], json!("v1.2"));
//! assert_eq!(plan.to_run, ["build"]);
//! assert!(plan.changes.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde_json::Value;

use super::entry::{EntryStatus, EventType, JournalEntry};
use super::store::{JournalStore, StoreError};
use crate::event::RunDefinition;
use crate::graph::TaskId;

/// How the current definition differs from the one journaled with a run.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DefinitionChange {
    /// The current definition has a task the run did not.
    TaskAdded {
        /// The task.
        task: String,
    },
    /// The run had a task the current definition lacks.
    TaskRemoved {
        /// The task.
        task: String,
    },
    /// The task depends on other tasks now (both lists sorted).
    DependenciesChanged {
        /// The task.
        task: String,
        /// Its dependencies in the run.
        before: Vec<String>,
        /// Its dependencies now.
        after: Vec<String>,
    },
    /// The task's definition text (its command) changed.
    DefinitionChanged {
        /// The task.
        task: String,
        /// The text in the run.
        before: Option<String>,
        /// The text now.
        after: Option<String>,
    },
}

impl DefinitionChange {
    /// The task the change is about.
    pub fn task(&self) -> &str {
        match self {
            DefinitionChange::TaskAdded { task }
            | DefinitionChange::TaskRemoved { task }
            | DefinitionChange::DependenciesChanged { task, .. }
            | DefinitionChange::DefinitionChanged { task, .. } => task,
        }
    }
}

impl fmt::Display for DefinitionChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = |t: &Option<String>| match t {
            Some(t) => format!("`{t}`"),
            None => "none".to_string(),
        };
        match self {
            DefinitionChange::TaskAdded { task } => write!(f, "task `{task}` was added"),
            DefinitionChange::TaskRemoved { task } => write!(f, "task `{task}` was removed"),
            DefinitionChange::DependenciesChanged {
                task,
                before,
                after,
            } => write!(
                f,
                "the dependencies of `{task}` changed from [{}] to [{}]",
                before.join(", "),
                after.join(", ")
            ),
            DefinitionChange::DefinitionChanged {
                task,
                before,
                after,
            } => write!(
                f,
                "the command of `{task}` changed from {} to {}",
                text(before),
                text(after)
            ),
        }
    }
}

/// Why a run cannot be resumed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResumeError {
    /// The journal has no entry for the run.
    #[error("run `{run_id}` is not in the journal; list runs to find its id")]
    RunNotFound {
        /// The id asked for.
        run_id: String,
    },
    /// The run's start entry is missing or carries no definition.
    #[error("run `{run_id}` cannot be resumed: {detail}")]
    NoDefinition {
        /// The run.
        run_id: String,
        /// What is missing.
        detail: String,
    },
    /// The workflow changed since the run and resuming was not forced.
    #[error(
        "the workflow changed since run `{run_id}`: {}; resume with force to run the changed steps, and the steps that depend on them, again",
        changes.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
    )]
    DefinitionChanged {
        /// The run.
        run_id: String,
        /// What changed, in the current definition's task order (removed
        /// tasks last).
        changes: Vec<DefinitionChange>,
    },
    /// Every step of the run completed.
    #[error("run `{run_id}` has nothing to resume: every step completed")]
    NothingToResume {
        /// The run.
        run_id: String,
    },
    /// The journal could not be read.
    #[error("could not read run `{run_id}` from the journal: {source}")]
    Store {
        /// The run.
        run_id: String,
        /// The store's error.
        #[source]
        source: StoreError,
    },
}

/// What resuming a run will do.
#[derive(Debug, Clone, PartialEq)]
pub struct ResumePlan {
    /// The run being resumed (pass it as the new run's `resumed_from`).
    pub run_id: String,
    /// The workflow's name, as journaled.
    pub workflow_name: String,
    /// Results of the steps that keep their outcome, by task name.
    pub restored: HashMap<String, Value>,
    /// The tasks that will run, in the current definition's order.
    pub to_run: Vec<String>,
    /// How the definition changed (empty unless forced).
    pub changes: Vec<DefinitionChange>,
}

/// One task as journaled in a `WorkflowStart` entry's `definition`.
struct JournaledTask {
    depends_on: Vec<String>,
    definition: Option<String>,
}

impl ResumePlan {
    /// Plans the resume of `run_id` from `store` with the `current`
    /// definition; see the [module documentation](self).
    ///
    /// With `force`, a changed definition is accepted and the changed steps
    /// (and everything downstream of them) run again.
    pub fn from_journal(
        store: &dyn JournalStore,
        run_id: &str,
        current: &RunDefinition,
        force: bool,
    ) -> Result<ResumePlan, ResumeError> {
        let store_error = |source| ResumeError::Store {
            run_id: run_id.to_string(),
            source,
        };
        let entries = store.by_workflow_id(run_id).map_err(store_error)?;
        let Some(start) = entries
            .iter()
            .find(|e| e.event_type == EventType::WorkflowStart)
        else {
            return Err(if entries.is_empty() {
                ResumeError::RunNotFound {
                    run_id: run_id.to_string(),
                }
            } else {
                ResumeError::NoDefinition {
                    run_id: run_id.to_string(),
                    detail: "its start entry is missing from the journal".to_string(),
                }
            });
        };
        let journaled = journaled_tasks(start).map_err(|detail| ResumeError::NoDefinition {
            run_id: run_id.to_string(),
            detail,
        })?;
        let changes = compare(&journaled, current);
        if !changes.is_empty() && !force {
            return Err(ResumeError::DefinitionChanged {
                run_id: run_id.to_string(),
                changes,
            });
        }
        let completed = completed_results(store, &entries).map_err(store_error)?;
        let dag = &current.dag;
        let rerun = downstream_of(current, changes.iter().map(DefinitionChange::task));
        let mut restored = HashMap::new();
        let mut to_run = Vec::new();
        for id in dag.ids() {
            let name = dag.name(id);
            match completed.get(name) {
                Some(result) if !rerun.contains(&id) => {
                    restored.insert(name.to_string(), result.clone());
                }
                _ => to_run.push(name.to_string()),
            }
        }
        if to_run.is_empty() {
            return Err(ResumeError::NothingToResume {
                run_id: run_id.to_string(),
            });
        }
        Ok(ResumePlan {
            run_id: run_id.to_string(),
            workflow_name: start.workflow_name.to_string(),
            restored,
            to_run,
            changes,
        })
    }
}

/// The tasks of a start entry's journaled definition (see [`crate::journal::journaled_definition`]).
fn journaled_tasks(start: &JournalEntry) -> Result<Vec<(String, JournaledTask)>, String> {
    let tasks = crate::journal::journaled_definition(start).map_err(|e| e.to_string())?;
    Ok(tasks
        .into_iter()
        .map(|t| {
            (
                t.name,
                JournaledTask {
                    depends_on: t.depends_on,
                    definition: t.definition,
                },
            )
        })
        .collect())
}

/// Differences between the journaled tasks and `current`, in the current
/// task order, removed tasks last.
fn compare(
    journaled: &[(String, JournaledTask)],
    current: &RunDefinition,
) -> Vec<DefinitionChange> {
    let dag = &current.dag;
    let before: HashMap<&str, &JournaledTask> =
        journaled.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let mut changes = Vec::new();
    for id in dag.ids() {
        let name = dag.name(id);
        let Some(old) = before.get(name) else {
            changes.push(DefinitionChange::TaskAdded {
                task: name.to_string(),
            });
            continue;
        };
        let mut old_deps: Vec<String> = old.depends_on.clone();
        old_deps.sort_unstable();
        old_deps.dedup();
        let mut new_deps: Vec<String> = dag
            .dependencies(id)
            .iter()
            .map(|&d| dag.name(d).to_string())
            .collect();
        new_deps.sort_unstable();
        new_deps.dedup();
        if old_deps != new_deps {
            changes.push(DefinitionChange::DependenciesChanged {
                task: name.to_string(),
                before: old_deps,
                after: new_deps,
            });
        }
        let new_definition = current.task_definitions.get(id.index()).cloned().flatten();
        if old.definition != new_definition {
            changes.push(DefinitionChange::DefinitionChanged {
                task: name.to_string(),
                before: old.definition.clone(),
                after: new_definition,
            });
        }
    }
    for (name, _) in journaled {
        if dag.id(name).is_none() {
            changes.push(DefinitionChange::TaskRemoved { task: name.clone() });
        }
    }
    changes
}

/// The tasks named in `changed` that exist in `current`, and every task
/// downstream of them.
fn downstream_of<'a>(
    current: &RunDefinition,
    changed: impl Iterator<Item = &'a str>,
) -> HashSet<TaskId> {
    let dag = &current.dag;
    let mut seen = HashSet::new();
    let mut stack: Vec<TaskId> = changed.filter_map(|name| dag.id(name)).collect();
    while let Some(id) = stack.pop() {
        if seen.insert(id) {
            stack.extend(dag.dependents(id).iter().copied());
        }
    }
    seen
}

/// The result of every step whose final outcome in the run is `Completed`
/// (restored steps of a resumed run included). A restored entry without a
/// result is looked up in the run it was reused from.
fn completed_results(
    store: &dyn JournalStore,
    entries: &[JournalEntry],
) -> Result<HashMap<String, Value>, StoreError> {
    let mut last: HashMap<&str, &JournalEntry> = HashMap::new();
    for entry in entries {
        if entry.event_type == EventType::StepComplete {
            if let Some(step) = entry.step_name.as_deref() {
                last.insert(step, entry);
            }
        }
    }
    let mut results = HashMap::new();
    for (step, entry) in last {
        if entry.status != EntryStatus::Completed {
            continue;
        }
        let result = match &entry.result {
            Some(result) => result.clone(),
            None => reused_result(store, entry, step)?.unwrap_or(Value::Null),
        };
        results.insert(step.to_string(), result);
    }
    Ok(results)
}

/// Follows `details.reused_from` back through earlier runs until a
/// journaled result of `step` is found.
fn reused_result(
    store: &dyn JournalStore,
    entry: &JournalEntry,
    step: &str,
) -> Result<Option<Value>, StoreError> {
    let mut visited = HashSet::new();
    let mut from = entry
        .details
        .get("reused_from")
        .and_then(Value::as_str)
        .map(str::to_string);
    while let Some(run) = from.take() {
        if !visited.insert(run.clone()) {
            break;
        }
        let earlier = store.by_workflow_id(&run)?;
        let Some(found) = earlier.iter().rev().find(|e| {
            e.event_type == EventType::StepComplete
                && e.status == EntryStatus::Completed
                && e.step_name.as_deref() == Some(step)
        }) else {
            break;
        };
        if let Some(result) = &found.result {
            return Ok(Some(result.clone()));
        }
        from = found
            .details
            .get("reused_from")
            .and_then(Value::as_str)
            .map(str::to_string);
    }
    Ok(None)
}

#[cfg(test)]
#[path = "resume_tests.rs"]
mod tests;
