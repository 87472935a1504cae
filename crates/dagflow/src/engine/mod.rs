//! Execution: the async [`Workflow`](workflow::Workflow) engine and the sync
//! [`WorkflowRunner`](runner::WorkflowRunner).

pub mod runner;
pub mod workflow;
