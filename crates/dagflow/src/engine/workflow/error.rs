//! Errors of the async engine: why a task attempt failed ([`TaskError`]) and
//! why a whole run could not finish ([`WorkflowError`]).

use std::time::Duration;

use crate::graph::{CycleError, GraphError};

/// Any error an action, a condition or a result transform may return.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why one attempt of a task failed.
///
/// The error returned by an action is kept as it is in [`TaskError::Action`],
/// so a retry predicate can inspect it with [`TaskError::downcast_ref`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TaskError {
    /// The action returned an error.
    #[error("{0}")]
    Action(BoxError),
    /// The attempt ran longer than the task's timeout and was stopped.
    #[error(
        "the attempt timed out after {after:?}; raise the task's timeout or make the action faster"
    )]
    Timeout {
        /// The task's timeout.
        after: Duration,
    },
    /// The action panicked; the engine caught the panic.
    #[error("the action panicked: {message}")]
    Panicked {
        /// The panic message.
        message: String,
    },
    /// The run was cancelled or timed out while the attempt ran.
    #[error("the attempt was stopped because the workflow was cancelled or timed out")]
    Cancelled,
    /// The action succeeded but `transform_result` returned an error.
    #[error("transform_result failed: {0}")]
    Transform(BoxError),
}

impl TaskError {
    /// The error returned by the action (or the result transform), if it is
    /// of type `T`.
    ///
    /// ```
    /// use dagflow::engine::workflow::TaskError;
    /// let e = TaskError::Action(Box::new(std::io::Error::other("disk full")));
    /// assert!(e.downcast_ref::<std::io::Error>().is_some());
    /// assert!(TaskError::Cancelled.downcast_ref::<std::io::Error>().is_none());
    /// ```
    pub fn downcast_ref<T: std::error::Error + 'static>(&self) -> Option<&T> {
        match self {
            TaskError::Action(e) | TaskError::Transform(e) => e.downcast_ref::<T>(),
            _ => None,
        }
    }

    /// Whether the attempt hit the task's timeout.
    pub fn is_timeout(&self) -> bool {
        matches!(self, TaskError::Timeout { .. })
    }
}

/// Why [`Workflow::run`](super::Workflow::run) returned no results.
///
/// Task failures are not errors of the run: they are reported per task by
/// [`Workflow::summary`](super::Workflow::summary).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkflowError {
    /// The tasks do not form a valid DAG (duplicate name, unknown dependency
    /// or cycle).
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// The workflow's timeout expired; unfinished tasks were cancelled.
    #[error(
        "workflow `{workflow}` timed out after {after:?}; unfinished tasks were cancelled \
         (see summary()); raise the workflow timeout or speed up its tasks"
    )]
    Timeout {
        /// The workflow's name.
        workflow: String,
        /// The workflow's timeout.
        after: Duration,
    },
    /// The run was cancelled through its [`CancelHandle`](super::CancelHandle).
    #[error(
        "workflow `{workflow}` was cancelled; tasks that did not finish are reported as \
         cancelled in summary()"
    )]
    Cancelled {
        /// The workflow's name.
        workflow: String,
    },
    /// The scheduler ran out of work while tasks were still waiting.
    #[error(
        "the scheduler stopped while tasks {} never became ready; this is a bug in dagflow, \
         please report it with the workflow that triggers it",
        pending.join(", ")
    )]
    Deadlock {
        /// The tasks that never finished.
        pending: Vec<String>,
    },
    /// A result given to [`Workflow::restore`](super::Workflow::restore)
    /// names a task the workflow does not have.
    #[error(
        "the restored results name task `{task}`, which workflow `{workflow}` does not define; \
         drop it from the restored results or add the task"
    )]
    UnknownRestoredTask {
        /// The workflow's name.
        workflow: String,
        /// The unknown task name.
        task: String,
    },
    /// `run()` was polled outside a tokio runtime.
    #[error(
        "Workflow::run must be awaited inside a tokio runtime; start one with #[tokio::main] \
         or tokio::runtime::Runtime::new()"
    )]
    NoRuntime,
}

impl WorkflowError {
    /// The dependency cycle, when that is why the run was refused.
    pub fn cycle(&self) -> Option<&CycleError> {
        match self {
            WorkflowError::Graph(GraphError::Cycle(c)) => Some(c),
            _ => None,
        }
    }
}
