//! Errors of the sync engine: why a run could not start, why a step failed.

use std::sync::Arc;
use std::time::Duration;

use super::step::BoxError;
use crate::graph::{CycleError, GraphError};

/// Why a [`WorkflowRunner`](super::WorkflowRunner) cannot add a step or run.
///
/// Step failures are not errors of the run: they are reported in the
/// [`WorkflowResult`](super::WorkflowResult).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunnerError {
    /// The steps do not form a valid DAG: a duplicate step name
    /// (`GraphError::DuplicateTask`, reported by `add_step`), an unknown
    /// dependency or a cycle (reported by `run` and `validate`).
    #[error(transparent)]
    Graph(#[from] GraphError),
}

impl RunnerError {
    /// The cycle, if that is what is wrong.
    pub fn cycle(&self) -> Option<&CycleError> {
        match self {
            RunnerError::Graph(GraphError::Cycle(cycle)) => Some(cycle),
            RunnerError::Graph(_) => None,
        }
    }
}

/// Why a step did not complete.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StepError {
    /// The action returned an error (kept for `downcast_ref`).
    #[error("{0}")]
    Action(BoxError),
    /// The step ran longer than its timeout; the runner moved on.
    #[error("timed out after {after:?}")]
    Timeout {
        /// The step's timeout.
        after: Duration,
    },
    /// The action panicked; the runner caught the panic.
    #[error("panicked: {message}")]
    Panicked {
        /// The panic's message.
        message: String,
    },
    /// The step did not run because a dependency did not complete.
    #[error("dependency failed")]
    DependencyFailed {
        /// The first dependency (in declaration order) that did not complete.
        dependency: Arc<str>,
    },
    /// No thread could be started for a step with a timeout.
    #[error("could not start a thread for the step ({0}); the system is out of threads or memory")]
    Spawn(std::io::Error),
    /// The step's thread ended without reporting a result.
    #[error("the step's thread ended without a result")]
    Lost,
}
