//! The library behind the `dagflow` command: the workflow-file format
//! ([`spec`]) and the process runner ([`process`]) that turns each task into
//! a child process in its own process group.
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

pub mod spec;
pub mod process;
pub mod execute;
pub mod journal;
pub mod resume;
