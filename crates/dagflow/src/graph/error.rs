//! Why a set of tasks is not a valid DAG.

use std::fmt;

use super::builder::UNRESOLVED;

/// A dependency cycle, with the tasks on it in execution direction.
///
/// `path` starts and ends with the same task: `["a", "b", "c", "a"]` means
/// `a` must run before `b`, `b` before `c`, and `c` before `a`. The cycle
/// starts at its earliest-inserted task, so the same graph always reports the
/// same path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CycleError {
    /// The tasks on the cycle; the first and last element are the same task.
    pub path: Vec<String>,
}

impl fmt::Display for CycleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "dependency cycle: {}; remove one of these dependencies",
            self.path.join(" -> ")
        )
    }
}

impl std::error::Error for CycleError {}

/// Why a set of tasks does not form a valid DAG.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GraphError {
    /// Two tasks share a name.
    #[error("task `{name}` is defined more than once; task names must be unique")]
    DuplicateTask {
        /// The repeated name.
        name: String,
    },
    /// A task depends on a name that no task has.
    #[error(
        "task `{task}` depends on `{dependency}`, which is not defined; \
         add a task named `{dependency}` or correct the dependency"
    )]
    UnknownDependency {
        /// The task that declares the dependency.
        task: String,
        /// The missing name.
        dependency: String,
    },
    /// The dependencies form a cycle.
    #[error(transparent)]
    Cycle(#[from] CycleError),
    /// More tasks than a `u32` index can hold.
    #[error("a workflow holds at most {max} tasks and dependencies", max = UNRESOLVED - 1)]
    TooManyTasks,
}
