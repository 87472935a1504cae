//! The workflow file format: YAML in, a validated [`WorkflowSpec`] out.
//!
//! ```yaml
//! name: etl
//! concurrency: 4          # max tasks at once (default: number of CPUs)
//! timeout: 10m            # whole-workflow timeout
//! fail_fast: true         # stop starting tasks after the first failure
//! env: {REGION: eu}       # for every task
//! tasks:
//!   - name: ingest
//!     run: ./ingest.sh > raw.csv      # a shell command (sh -c) ...
//!   - name: count
//!     cmd: [wc, -l, raw.csv]          # ... or an argument list, no shell
//!     depends_on: [ingest]
//!     timeout: 30s
//!     retry: {max_attempts: 3, initial_delay: 1s, max_delay: 60s, backoff: 2.0, on_exit_codes: [1, 75]}
//!     when: tasks.ingest.status == "completed"
//!     env: {KEY: value}
//!     workdir: data/
//!     tags: [io]
//! ```
//!
//! Every error names the file, line and column: YAML syntax, unknown fields,
//! wrong types, bad durations, duplicate or unknown tasks, cycles (pointing
//! at the `depends_on` entry that closes the cycle) and invalid conditions.
//!
//! ```
//! use dagflow_cli::spec::{parse, SpecErrorKind};
//! let err = parse("name: x\ntasks:\n  - name: a\n    run: echo\n    depends_on: [b]\n", "wf.yml").unwrap_err();
//! assert_eq!(err.line(), Some(5));
//! assert!(matches!(err.kind, SpecErrorKind::UnknownDependency { .. }));
//! ```

mod condition;
mod duration;
mod error;
mod raw;
mod validate;
mod yaml;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use dagflow::graph::Dag;

pub use condition::{Condition, ConditionError, TaskFacts};
pub use duration::{format_duration, parse_duration};
pub use error::{LoadError, Location, SpecError, SpecErrorKind};

/// A validated workflow file.
#[derive(Debug, Clone)]
pub struct WorkflowSpec {
    /// The workflow's name (`name:`).
    pub name: String,
    /// Maximum number of tasks running at once, if set.
    pub concurrency: Option<usize>,
    /// Whole-workflow timeout, if set.
    pub timeout: Option<Duration>,
    /// Whether the first failure stops new tasks from starting (default true).
    pub fail_fast: bool,
    /// Environment for every task.
    pub env: BTreeMap<String, String>,
    /// The tasks in file order; `dag` ids index this list.
    pub tasks: Vec<TaskSpec>,
    /// The validated graph, with task ids in file order.
    pub dag: Arc<Dag>,
    /// Where the spec came from, as shown in messages.
    pub origin: String,
}

impl WorkflowSpec {
    /// The task called `name`.
    pub fn task(&self, name: &str) -> Option<&TaskSpec> {
        self.dag.id(name).map(|id| &self.tasks[id.index()])
    }
}

/// One task of a workflow file.
#[derive(Debug, Clone)]
pub struct TaskSpec {
    /// Unique name: letters, digits, `_` and `-`.
    pub name: String,
    /// What to run.
    pub command: CommandSpec,
    /// Names of the tasks that must complete first, as written.
    pub depends_on: Vec<String>,
    /// Per-attempt timeout.
    pub timeout: Option<Duration>,
    /// Retry policy, if any.
    pub retry: Option<RetrySpec>,
    /// Condition that must hold for the task to run.
    pub when: Option<Arc<Condition>>,
    /// Environment for this task (over the workflow's).
    pub env: BTreeMap<String, String>,
    /// Working directory, relative to where `dagflow` runs unless absolute.
    pub workdir: Option<PathBuf>,
    /// Free-form labels.
    pub tags: Vec<String>,
    /// Where the task's `name:` is written.
    pub location: Location,
}

impl TaskSpec {
    /// Text that identifies what the task does beyond its name and
    /// dependencies (command, environment, working directory), used to tell
    /// whether a task changed between a run and its resume.
    pub fn definition(&self) -> String {
        let command = match &self.command {
            CommandSpec::Shell(text) => serde_json::json!({ "run": text }),
            CommandSpec::Argv(argv) => serde_json::json!({ "cmd": argv }),
        };
        serde_json::json!({
            "command": command,
            "env": self.env,
            "workdir": self.workdir.as_ref().map(|p| p.display().to_string()),
        })
        .to_string()
    }
}

/// What a task runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandSpec {
    /// `run:` text, given to `sh -c`.
    Shell(String),
    /// `cmd:` list: program and arguments, no shell.
    Argv(Vec<String>),
}

impl CommandSpec {
    /// The command as one line for people (`sh -c` text, or arguments
    /// joined by spaces).
    pub fn display(&self) -> String {
        match self {
            CommandSpec::Shell(text) => text.clone(),
            CommandSpec::Argv(argv) => argv.join(" "),
        }
    }
}

/// When and how often a failed task is tried again.
#[derive(Debug, Clone, PartialEq)]
pub struct RetrySpec {
    /// Attempts in total, including the first (at least 1).
    pub max_attempts: u32,
    /// Wait before the second attempt.
    pub initial_delay: Duration,
    /// Upper bound of the wait between attempts.
    pub max_delay: Duration,
    /// Factor applied to the wait after each attempt (at least 1.0).
    pub backoff: f64,
    /// Fraction (0 to 1) by which each wait may be randomly shortened.
    pub jitter: f64,
    /// Retry only when the process exits with one of these codes; empty
    /// means retry any failure (including a timeout).
    pub on_exit_codes: Vec<i32>,
}

impl Default for RetrySpec {
    fn default() -> Self {
        RetrySpec {
            max_attempts: 3,
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            backoff: 2.0,
            jitter: 0.0,
            on_exit_codes: Vec::new(),
        }
    }
}

/// Parses and validates a workflow from YAML text; `origin` names it in
/// errors (usually the file path).
pub fn parse(source: &str, origin: &str) -> Result<WorkflowSpec, Box<SpecError>> {
    validate::parse(source, origin)
}

/// Reads, parses and validates the workflow file at `path`.
pub fn load(path: &Path) -> Result<WorkflowSpec, LoadError> {
    let source = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(parse(&source, &path.display().to_string())?)
}

/// The environment variable that carries `task`'s result to later tasks:
/// `DAGFLOW_RESULT_` and the name upper-cased, other characters as `_`.
///
/// ```
/// assert_eq!(dagflow_cli::spec::result_variable("load-db.v2"), "DAGFLOW_RESULT_LOAD_DB_V2");
/// ```
pub fn result_variable(task: &str) -> String {
    let mut out = String::with_capacity("DAGFLOW_RESULT_".len() + task.len());
    out.push_str("DAGFLOW_RESULT_");
    out.extend(task.chars().map(|c| {
        if c.is_ascii_alphanumeric() {
            c.to_ascii_uppercase()
        } else {
            '_'
        }
    }));
    out
}
