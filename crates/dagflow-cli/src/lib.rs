//! The library behind the `dagflow` command, split so each part can be
//! tested and reused on its own:
//!
//! - [`spec`]: the workflow-file format: YAML in, a validated
//!   [`WorkflowSpec`](spec::WorkflowSpec) out, every error with file, line
//!   and column; `when:` conditions in CEL.
//! - [`process`]: runs a command in its own process group, reads its output
//!   line by line, stops the whole group with SIGTERM then SIGKILL.
//! - [`execute`]: turns a spec into an engine
//!   [`Workflow`](dagflow::engine::workflow::Workflow) whose actions are
//!   processes, passing results through `DAGFLOW_RESULT_*` variables.
//! - [`journal`]: where the journal lives (`--journal`, `DAGFLOW_JOURNAL`,
//!   `.dagflow/journal.db`).
//! - [`resume`]: what `dagflow resume` checks around the core planner
//!   (the run's file, runs that cannot be resumed, refusals worded for the
//!   command line).
//!
//! ```
//! let spec = dagflow_cli::spec::parse(
//!     "name: hello\ntasks:\n  - name: greet\n    run: echo hello\n",
//!     "hello.yml",
//! )?;
//! assert_eq!(spec.tasks[0].name, "greet");
//! # Ok::<(), Box<dagflow_cli::spec::SpecError>>(())
//! ```
#![warn(missing_docs)]

pub mod execute;
pub mod journal;
pub mod process;
pub mod resume;
pub mod spec;
