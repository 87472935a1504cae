//! Execution: the async [`Workflow`](workflow::Workflow) engine and the sync
//! [`WorkflowRunner`](runner::WorkflowRunner).

pub(crate) mod clock;
pub mod runner;
pub mod workflow;
