//! Planning the resume of a journaled run: which completed tasks can keep
//! their results, and whether the workflow changed since.
//!
//! A task is reused when it completed in the run, and neither it nor any
//! task it depends on (directly or not) changed: same name, same
//! dependencies, same command, environment and working directory.
//!
//! Editing a task that did not complete (the usual fix after a failure) or
//! adding tasks is fine. Editing or removing a task that completed would
//! make its journaled result stale: without `force` the resume is refused,
//! listing those tasks; with `force` they run again, with every task after
//! them.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

use dagflow::journal::{journaled_definition, task_hash, EntryStatus, EventType, JournalEntry};
use serde_json::Value;

use crate::spec::WorkflowSpec;

/// Why a run cannot be resumed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResumeError {
    /// The journal has no start entry for the run.
    #[error("run `{run_id}` has no start entry in the journal, so it cannot be resumed; `dagflow runs` lists the recorded runs")]
    NoStart {
        /// The run.
        run_id: String,
    },
    /// The run succeeded.
    #[error("run `{run_id}` succeeded, so there is nothing to resume; start a new run with `dagflow run`")]
    AlreadySucceeded {
        /// The run.
        run_id: String,
    },
    /// The file defines another workflow.
    #[error("run `{run_id}` is of workflow `{expected}`, but the file defines `{found}`; pass the workflow's own file")]
    OtherWorkflow {
        /// The run.
        run_id: String,
        /// The run's workflow.
        expected: String,
        /// The file's workflow.
        found: String,
    },
    /// Tasks that completed in the run changed since.
    #[error("the workflow changed since run `{run_id}` in tasks that completed: {}; pass --force to resume anyway (they and the tasks after them run again)", describe(.changed, .removed))]
    Changed {
        /// Completed tasks whose definition changed.
        run_id: String,
        /// Completed tasks that changed.
        changed: Vec<String>,
        /// Completed tasks that the file no longer has.
        removed: Vec<String>,
    },
}

fn describe(changed: &[String], removed: &[String]) -> String {
    let mut parts = Vec::new();
    if !changed.is_empty() {
        parts.push(format!("changed: {}", changed.join(", ")));
    }
    if !removed.is_empty() {
        parts.push(format!("removed: {}", removed.join(", ")));
    }
    parts.join("; ")
}

/// What resuming a run will do.
#[derive(Debug, Clone, PartialEq)]
pub struct ResumePlan {
    /// The run resumed.
    pub run_id: String,
    /// Its workflow.
    pub workflow: String,
    /// The workflow file it ran from, if journaled.
    pub file: Option<PathBuf>,
    /// The directory it ran in, if journaled.
    pub cwd: Option<PathBuf>,
    /// Completed tasks whose results are reused, by name.
    pub reused: HashMap<String, Value>,
    /// Tasks that changed (or are new) since the run, sorted.
    pub changed: Vec<String>,
    /// Tasks of the run the file no longer has, sorted.
    pub removed: Vec<String>,
}

/// What a run's start entry says about where it came from, before the file
/// is loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOrigin {
    /// The workflow's name.
    pub workflow: String,
    /// The file, if journaled.
    pub file: Option<PathBuf>,
    /// The directory, if journaled.
    pub cwd: Option<PathBuf>,
}

/// Reads the origin of `run_id` from its entries; fails when the run has
/// no start or already succeeded.
pub fn run_origin(run_id: &str, entries: &[JournalEntry]) -> Result<RunOrigin, ResumeError> {
    let start = entries
        .iter()
        .find(|e| e.event_type == EventType::WorkflowStart)
        .ok_or_else(|| ResumeError::NoStart {
            run_id: run_id.to_owned(),
        })?;
    let succeeded = entries
        .iter()
        .any(|e| e.event_type == EventType::WorkflowComplete && e.status == EntryStatus::Completed);
    if succeeded {
        return Err(ResumeError::AlreadySucceeded {
            run_id: run_id.to_owned(),
        });
    }
    let path = |key: &str| {
        start
            .details
            .get(key)
            .and_then(Value::as_str)
            .map(PathBuf::from)
    };
    Ok(RunOrigin {
        workflow: start.workflow_name.clone(),
        file: path("file"),
        cwd: path("cwd"),
    })
}

/// Plans the resume of `run_id` (whose journal entries are `entries`) with
/// the workflow now defined by `spec`.
pub fn plan_resume(
    run_id: &str,
    entries: &[JournalEntry],
    spec: &WorkflowSpec,
    force: bool,
) -> Result<ResumePlan, ResumeError> {
    let origin = run_origin(run_id, entries)?;
    if origin.workflow != spec.name {
        return Err(ResumeError::OtherWorkflow {
            run_id: run_id.to_owned(),
            expected: origin.workflow,
            found: spec.name.clone(),
        });
    }
    let old_hashes = journaled_task_hashes(entries);
    let dag = &spec.dag;
    let new_hashes: HashMap<&str, u64> = spec
        .tasks
        .iter()
        .enumerate()
        .map(|(i, task)| {
            let id = dagflow::graph::TaskId::from_index(i);
            let deps = dag.dependencies(id).iter().map(|&d| dag.name(d));
            let definition = task.definition();
            (
                task.name.as_str(),
                task_hash(&task.name, deps, Some(&definition)),
            )
        })
        .collect();
    let changed: BTreeSet<String> = new_hashes
        .iter()
        .filter(|(name, hash)| old_hashes.get(**name) != Some(*hash))
        .map(|(name, _)| (*name).to_owned())
        .collect();
    let removed: BTreeSet<String> = old_hashes
        .keys()
        .filter(|name| !new_hashes.contains_key(name.as_str()))
        .cloned()
        .collect();
    let completed: BTreeSet<&str> = entries
        .iter()
        .filter(|e| e.event_type == EventType::StepComplete && e.status == EntryStatus::Completed)
        .filter_map(|e| e.step_name.as_deref())
        .collect();
    let stale_completed: Vec<String> = changed
        .iter()
        .filter(|t| completed.contains(t.as_str()))
        .cloned()
        .collect();
    let removed_completed: Vec<String> = removed
        .iter()
        .filter(|t| completed.contains(t.as_str()))
        .cloned()
        .collect();
    if !force && (!stale_completed.is_empty() || !removed_completed.is_empty()) {
        return Err(ResumeError::Changed {
            run_id: run_id.to_owned(),
            changed: stale_completed,
            removed: removed_completed,
        });
    }

    // A task is stale when it changed or anything before it is stale.
    let mut stale = vec![false; dag.len()];
    for &id in dag.topological_order() {
        stale[id.index()] =
            changed.contains(dag.name(id)) || dag.dependencies(id).iter().any(|d| stale[d.index()]);
    }
    let mut reused = HashMap::new();
    for entry in entries {
        if entry.event_type != EventType::StepComplete || entry.status != EntryStatus::Completed {
            continue;
        }
        let Some(name) = &entry.step_name else {
            continue;
        };
        if dag.id(name).is_some_and(|id| !stale[id.index()]) {
            reused.insert(name.clone(), entry.result.clone().unwrap_or(Value::Null));
        }
    }
    Ok(ResumePlan {
        run_id: run_id.to_owned(),
        workflow: origin.workflow,
        file: origin.file,
        cwd: origin.cwd,
        reused,
        changed: changed.into_iter().collect(),
        removed: removed.into_iter().collect(),
    })
}

/// Task hashes from the run's start entry (see
/// [`journaled_definition`]); empty when the entry has no readable
/// definition, so every task counts as changed.
fn journaled_task_hashes(entries: &[JournalEntry]) -> HashMap<String, u64> {
    entries
        .iter()
        .find(|e| e.event_type == EventType::WorkflowStart)
        .and_then(|e| journaled_definition(&e.details).ok())
        .map(|tasks| {
            tasks
                .into_iter()
                .map(|t| (t.name.clone(), t.hash()))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    use dagflow::event::RunDefinition;
    use dagflow::journal::start_details;
    use serde_json::json;

    use crate::spec::parse;

    const FILE: &str = "name: etl
tasks:
  - name: extract
    run: echo extract
  - name: transform
    run: echo transform
    depends_on: [extract]
  - name: load
    run: echo load
    depends_on: [transform]
";

    fn entries_of(
        spec: &WorkflowSpec,
        completed: &[(&str, Value)],
        failed: &[&str],
    ) -> Vec<JournalEntry> {
        let definition = RunDefinition {
            dag: spec.dag.clone(),
            task_definitions: spec.tasks.iter().map(|t| Some(t.definition())).collect(),
        };
        let mut start = JournalEntry::new(
            "run-1",
            "etl",
            EventType::WorkflowStart,
            None,
            EntryStatus::Started,
            SystemTime::now(),
        );
        start.details = start_details(&definition, None);
        start.details.insert("file".into(), json!("/work/etl.yml"));
        let mut entries = vec![start];
        for (name, result) in completed {
            let mut e = JournalEntry::new(
                "run-1",
                "etl",
                EventType::StepComplete,
                Some((*name).into()),
                EntryStatus::Completed,
                SystemTime::now(),
            );
            e.result = Some(result.clone());
            entries.push(e);
        }
        for name in failed {
            entries.push(JournalEntry::new(
                "run-1",
                "etl",
                EventType::StepComplete,
                Some((*name).into()),
                EntryStatus::Failed,
                SystemTime::now(),
            ));
        }
        entries
    }

    #[test]
    fn unchanged_workflow_reuses_completed_tasks() {
        let spec = parse(FILE, "etl.yml").unwrap();
        let entries = entries_of(&spec, &[("extract", json!(3))], &["transform"]);
        let plan = plan_resume("run-1", &entries, &spec, false).unwrap();
        assert_eq!(
            plan.reused,
            HashMap::from([("extract".to_string(), json!(3))])
        );
        assert!(plan.changed.is_empty());
        assert_eq!(plan.file, Some(PathBuf::from("/work/etl.yml")));
    }

    #[test]
    fn changed_command_refuses_without_force() {
        let spec = parse(FILE, "etl.yml").unwrap();
        let entries = entries_of(&spec, &[("extract", json!(3))], &["transform"]);
        let edited = parse(
            &FILE.replace("echo extract", "echo extract --all"),
            "etl.yml",
        )
        .unwrap();
        let err = plan_resume("run-1", &entries, &edited, false).unwrap_err();
        assert_eq!(
            err,
            ResumeError::Changed {
                run_id: "run-1".into(),
                changed: vec!["extract".into()],
                removed: vec![]
            }
        );
        assert!(err.to_string().contains("pass --force"));
    }

    #[test]
    fn fixing_the_failed_task_needs_no_force() {
        let spec = parse(FILE, "etl.yml").unwrap();
        let entries = entries_of(&spec, &[("extract", json!(3))], &["transform"]);
        let fixed = parse(
            &FILE.replace("echo transform", "echo transform --fixed"),
            "etl.yml",
        )
        .unwrap();
        let plan = plan_resume("run-1", &entries, &fixed, false).unwrap();
        assert_eq!(plan.reused.keys().collect::<Vec<_>>(), ["extract"]);
        assert_eq!(plan.changed, ["transform"]);
    }

    #[test]
    fn force_reruns_changed_tasks_and_everything_after_them() {
        let spec = parse(FILE, "etl.yml").unwrap();
        let entries = entries_of(
            &spec,
            &[("extract", json!(3)), ("transform", json!(4))],
            &["load"],
        );
        let edited = parse(
            &FILE.replace("echo transform", "echo transform2"),
            "etl.yml",
        )
        .unwrap();
        let plan = plan_resume("run-1", &entries, &edited, true).unwrap();
        assert_eq!(plan.reused.keys().collect::<Vec<_>>(), ["extract"]);
        assert_eq!(plan.changed, ["transform"]);
    }

    #[test]
    fn succeeded_run_has_nothing_to_resume() {
        let spec = parse(FILE, "etl.yml").unwrap();
        let mut entries = entries_of(&spec, &[], &[]);
        entries.push(JournalEntry::new(
            "run-1",
            "etl",
            EventType::WorkflowComplete,
            None,
            EntryStatus::Completed,
            SystemTime::now(),
        ));
        let err = plan_resume("run-1", &entries, &spec, false).unwrap_err();
        assert!(matches!(err, ResumeError::AlreadySucceeded { .. }));
    }

    #[test]
    fn file_of_another_workflow_is_refused() {
        let spec = parse(FILE, "etl.yml").unwrap();
        let entries = entries_of(&spec, &[], &[]);
        let other = parse(&FILE.replace("name: etl", "name: other"), "o.yml").unwrap();
        assert!(matches!(
            plan_resume("run-1", &entries, &other, false),
            Err(ResumeError::OtherWorkflow { .. })
        ));
    }
}
