//! dagflow runs DAGs of tasks: dependencies, parallelism, retries with
//! backoff, timeouts, conditions and cancellation, with a journal of every
//! run and analytics over it.
#![warn(missing_docs)]

pub mod analytics;
pub mod engine;
pub mod event;
pub mod graph;
pub mod journal;
mod prefetch;
pub mod templates;
mod thread_copy;

pub use analytics::{WorkflowAnalytics, WorkflowInsight};
pub use engine::runner::{
    RunnerError, StepError, StepInfo, StepResult, WorkflowContext, WorkflowResult, WorkflowRunner,
    WorkflowStep,
};
pub use engine::workflow::{
    CancelHandle, RetryPolicy, RunResults, Task, TaskContext, TaskError, TaskOptions, TaskSummary,
    Workflow, WorkflowError, WorkflowSummary,
};
pub use event::{EventBus, Observer, TaskStatus, WorkflowEvent};
pub use graph::{CycleError, Dag, DagBuilder, GraphError, TaskId};
pub use journal::{EntryStatus, EventType, JournalEntry, JournalStore, StoreError};
pub use journal::{MemoryStore, QueryFilter, WorkflowJournal};
pub use templates::{TemplateError, WorkflowTemplate};
