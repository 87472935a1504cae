//! What `dagflow resume` adds to the core planner
//! ([`dagflow::journal::ResumePlan`]): where the run came from (its file and
//! directory), which runs cannot be resumed at all (one that succeeded, one
//! of another workflow), and refusals worded for the command line.
//!
//! The policy is the core planner's: if the workflow changed since the run
//! (a task added or removed, its dependencies, command, environment or
//! working directory edited, even a task that failed), the resume is
//! refused with the list of changes, unless `--force`; then the changed
//! tasks and every task after them run again, and the other tasks that
//! completed keep their results.
//!
//! ```
//! use dagflow::journal::DefinitionChange;
//! use dagflow_cli::resume::ResumeError;
//!
//! let refusal = ResumeError::Changed {
//!     run_id: "3f2a".into(),
//!     file: None,
//!     changes: vec![DefinitionChange::TaskAdded { task: "report".into() }],
//! };
//! let message = refusal.to_string();
//! assert!(message.contains("task `report` was added"));
//! assert!(message.contains("dagflow resume 3f2a --force"));
//! ```

use std::fmt::Write as _;
use std::path::PathBuf;

use dagflow::event::RunDefinition;
use dagflow::journal::{
    DefinitionChange, EntryStatus, EventType, JournalEntry, JournalStore, ResumePlan,
};
use serde_json::Value;

/// Why a run cannot be resumed.
#[derive(Debug, thiserror::Error)]
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
    /// The workflow changed since the run and `--force` was not given.
    #[error(
        "the workflow changed since run `{run_id}`:\n{}\nto resume anyway, run `{}`: the changed tasks and every task after them run again, the other completed tasks keep their results",
        list_changes(.changes),
        forced_command(.run_id, .file.as_ref())
    )]
    Changed {
        /// The run.
        run_id: String,
        /// The workflow file given on the command line, if any (repeated
        /// in the suggested command).
        file: Option<PathBuf>,
        /// What changed, as the core planner found it.
        changes: Vec<DefinitionChange>,
    },
    /// The core planner refused for another reason (nothing left to run,
    /// no journaled definition, the journal could not be read).
    #[error(transparent)]
    Plan(dagflow::journal::ResumeError),
}

impl ResumeError {
    /// Whether the error comes from how dagflow was called (exit code 2)
    /// rather than from the journal failing.
    pub fn is_usage(&self) -> bool {
        !matches!(
            self,
            ResumeError::Plan(dagflow::journal::ResumeError::Store { .. })
        )
    }
}

/// What a run's start entry says about where it came from, before the file
/// is loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOrigin {
    /// The run.
    pub run_id: String,
    /// The workflow's name.
    pub workflow: String,
    /// The file, if journaled.
    pub file: Option<PathBuf>,
    /// The directory, if journaled.
    pub cwd: Option<PathBuf>,
}

impl RunOrigin {
    /// Fails unless `workflow` (the name in the file to resume with) is the
    /// run's workflow.
    pub fn check_workflow(&self, workflow: &str) -> Result<(), ResumeError> {
        if self.workflow == workflow {
            return Ok(());
        }
        Err(ResumeError::OtherWorkflow {
            run_id: self.run_id.clone(),
            expected: self.workflow.clone(),
            found: workflow.to_owned(),
        })
    }
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
        run_id: run_id.to_owned(),
        workflow: start.workflow_name.to_string(),
        file: path("file"),
        cwd: path("cwd"),
    })
}

/// Plans the resume of `run_id` with the core planner, `current` being the
/// definition a run of the file would journal
/// ([`run_definition`](crate::execute::run_definition)). `file` is the file
/// given on the command line, repeated in the refusal's suggestion.
pub fn plan_resume(
    store: &dyn JournalStore,
    run_id: &str,
    current: &RunDefinition,
    force: bool,
    file: Option<PathBuf>,
) -> Result<ResumePlan, ResumeError> {
    ResumePlan::from_journal(store, run_id, current, force).map_err(|error| match error {
        dagflow::journal::ResumeError::DefinitionChanged { run_id, changes } => {
            ResumeError::Changed {
                run_id,
                file,
                changes,
            }
        }
        other => ResumeError::Plan(other),
    })
}

/// The names of the tasks `changes` are about, each once, in order.
pub fn changed_tasks(changes: &[DefinitionChange]) -> Vec<&str> {
    let mut tasks: Vec<&str> = Vec::new();
    for change in changes {
        if !tasks.contains(&change.task()) {
            tasks.push(change.task());
        }
    }
    tasks
}

/// One change in words. A changed task definition is the text of
/// [`TaskSpec::definition`](crate::spec::TaskSpec::definition): it is told
/// apart into command, environment and working directory; anything else
/// reads as the core planner words it.
pub fn describe_change(change: &DefinitionChange) -> String {
    change_descriptions(change).join("; ")
}

/// [`describe_change`] as one sentence per part that changed.
fn change_descriptions(change: &DefinitionChange) -> Vec<String> {
    if let DefinitionChange::DefinitionChanged {
        task,
        before: Some(before),
        after: Some(after),
    } = change
    {
        if let (Ok(before), Ok(after)) = (
            serde_json::from_str::<Value>(before),
            serde_json::from_str::<Value>(after),
        ) {
            let parts = definition_differences(task, &before, &after);
            if !parts.is_empty() {
                return parts;
            }
        }
    }
    vec![change.to_string()]
}

fn definition_differences(task: &str, before: &Value, after: &Value) -> Vec<String> {
    let mut parts = Vec::new();
    if before["command"] != after["command"] {
        parts.push(format!(
            "the command of `{task}` changed from {} to {}",
            command_text(&before["command"]),
            command_text(&after["command"])
        ));
    }
    if before["env"] != after["env"] {
        let empty = serde_json::Map::new();
        let (old, new) = (
            before["env"].as_object().unwrap_or(&empty),
            after["env"].as_object().unwrap_or(&empty),
        );
        let mut names: Vec<&str> = old
            .keys()
            .chain(new.keys())
            .filter(|k| old.get(*k) != new.get(*k))
            .map(String::as_str)
            .collect();
        names.sort_unstable();
        names.dedup();
        parts.push(format!(
            "the environment of `{task}` changed ({})",
            names.join(", ")
        ));
    }
    if before["workdir"] != after["workdir"] {
        let dir = |v: &Value| v.as_str().map_or("none".to_owned(), |d| format!("`{d}`"));
        parts.push(format!(
            "the working directory of `{task}` changed from {} to {}",
            dir(&before["workdir"]),
            dir(&after["workdir"])
        ));
    }
    parts
}

/// A command on one line: `run:` text with its line breaks shown as `\n`,
/// or `cmd:` arguments joined by spaces; long ones are cut.
fn command_text(command: &Value) -> String {
    const LIMIT: usize = 80;
    let text = if let Some(run) = command["run"].as_str() {
        run.trim_end().replace('\n', "\\n")
    } else if let Some(argv) = command["cmd"].as_array() {
        argv.iter()
            .map(|a| a.as_str().unwrap_or_default())
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        command.to_string()
    };
    match text.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("`{}…`", &text[..cut]),
        None => format!("`{text}`"),
    }
}

fn list_changes(changes: &[DefinitionChange]) -> String {
    let mut list = String::new();
    for description in changes.iter().flat_map(change_descriptions) {
        let _ = writeln!(list, "  - {description}");
    }
    list.trim_end().to_owned()
}

fn forced_command(run_id: &str, file: Option<&PathBuf>) -> String {
    match file {
        Some(file) => format!("dagflow resume {run_id} {} --force", file.display()),
        None => format!("dagflow resume {run_id} --force"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    use dagflow::journal::MemoryStore;
    use serde_json::json;
    use std::sync::Arc;

    use crate::execute::run_definition;
    use crate::spec::{parse, WorkflowSpec};

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

    fn spec(text: &str) -> WorkflowSpec {
        parse(text, "etl.yml").expect("valid test workflow")
    }

    fn entry(event: EventType, step: Option<&str>, status: EntryStatus) -> JournalEntry {
        JournalEntry::new(
            "run-1",
            "etl",
            event,
            step.map(Into::into),
            status,
            SystemTime::now(),
        )
    }

    /// A run of `spec` in which `extract` completed and `transform` failed.
    fn failed_run(spec: &WorkflowSpec) -> MemoryStore {
        let definition = run_definition(spec).expect("valid definition");
        let mut start = JournalEntry::workflow_start(
            "run-1",
            "etl",
            Arc::new(definition),
            None,
            SystemTime::now(),
        );
        start.details.insert("file".into(), json!("/work/etl.yml"));
        start.details.insert("cwd".into(), json!("/work"));
        let mut extracted = entry(
            EventType::StepComplete,
            Some("extract"),
            EntryStatus::Completed,
        );
        extracted.result = Some(json!(3));
        let failed = entry(
            EventType::StepComplete,
            Some("transform"),
            EntryStatus::Failed,
        );
        let store = MemoryStore::new();
        store
            .append(&[start, extracted, failed])
            .expect("memory append");
        store
    }

    fn origin(store: &MemoryStore) -> Result<RunOrigin, ResumeError> {
        let entries = store.by_workflow_id("run-1").expect("memory read");
        run_origin("run-1", &entries)
    }

    #[test]
    fn origin_reads_the_journaled_file_and_directory() {
        let store = failed_run(&spec(FILE));
        let origin = origin(&store).unwrap();
        assert_eq!(origin.workflow, "etl");
        assert_eq!(origin.file, Some(PathBuf::from("/work/etl.yml")));
        assert_eq!(origin.cwd, Some(PathBuf::from("/work")));
    }

    #[test]
    fn unchanged_file_restores_completed_tasks() {
        let file = spec(FILE);
        let store = failed_run(&file);
        let current = run_definition(&file).unwrap();
        let plan = plan_resume(&store, "run-1", &current, false, None).unwrap();
        assert_eq!(plan.restored["extract"], json!(3));
        assert_eq!(plan.to_run, ["transform", "load"]);
        assert!(plan.changes.is_empty());
    }

    #[test]
    fn edited_failed_task_is_refused_with_the_change_and_the_force_command() {
        let store = failed_run(&spec(FILE));
        let edited = spec(&FILE.replace("echo transform", "echo transform --fixed"));
        let current = run_definition(&edited).unwrap();
        let err =
            plan_resume(&store, "run-1", &current, false, Some("edited.yml".into())).unwrap_err();
        assert!(
            matches!(&err, ResumeError::Changed { changes, .. } if changed_tasks(changes) == ["transform"]),
            "{err:?}"
        );
        assert!(err.is_usage());
        let message = err.to_string();
        assert!(
            message.contains(
                "the command of `transform` changed from `echo transform` to `echo transform --fixed`"
            ),
            "{message}"
        );
        assert!(
            message.contains("`dagflow resume run-1 edited.yml --force`"),
            "{message}"
        );
    }

    #[test]
    fn forced_resume_reruns_the_changed_task_and_everything_after_it() {
        let store = failed_run(&spec(FILE));
        let edited = spec(&FILE.replace("echo extract", "echo extract --all"));
        let current = run_definition(&edited).unwrap();
        let plan = plan_resume(&store, "run-1", &current, true, None).unwrap();
        assert!(plan.restored.is_empty());
        assert_eq!(plan.to_run, ["extract", "transform", "load"]);
        assert_eq!(changed_tasks(&plan.changes), ["extract"]);
    }

    #[test]
    fn environment_and_workdir_changes_are_named() {
        let before = spec(&FILE.replace(
            "    run: echo load\n",
            "    run: echo load\n    env: {A: '1', B: '2'}\n",
        ));
        let after = spec(&FILE.replace(
            "    run: echo load\n",
            "    run: echo load\n    env: {A: '1', B: '3', C: '4'}\n    workdir: out\n",
        ));
        let load = |s: &WorkflowSpec| s.task("load").map(|t| t.definition());
        let change = DefinitionChange::DefinitionChanged {
            task: "load".into(),
            before: load(&before),
            after: load(&after),
        };
        assert_eq!(
            describe_change(&change),
            "the environment of `load` changed (B, C); the working directory of `load` changed from none to `out`"
        );
    }

    #[test]
    fn multi_line_commands_are_shown_on_one_line() {
        let change = DefinitionChange::DefinitionChanged {
            task: "t".into(),
            before: Some(json!({"command": {"run": "a\nb\n"}}).to_string()),
            after: Some(json!({"command": {"cmd": ["make", "all"]}}).to_string()),
        };
        assert_eq!(
            describe_change(&change),
            "the command of `t` changed from `a\\nb` to `make all`"
        );
    }

    #[test]
    fn succeeded_run_has_nothing_to_resume() {
        let store = failed_run(&spec(FILE));
        store
            .append(&[entry(
                EventType::WorkflowComplete,
                None,
                EntryStatus::Completed,
            )])
            .unwrap();
        assert!(matches!(
            origin(&store),
            Err(ResumeError::AlreadySucceeded { .. })
        ));
    }

    #[test]
    fn file_of_another_workflow_is_refused() {
        let store = failed_run(&spec(FILE));
        let err = origin(&store).unwrap().check_workflow("other").unwrap_err();
        assert_eq!(
            err.to_string(),
            "run `run-1` is of workflow `etl`, but the file defines `other`; pass the workflow's own file"
        );
    }
}
