//! The async engine: [`Workflow`].
//!
//! Tasks are async (or blocking) closures with dependencies. `run()` validates
//! the graph, then starts each task the moment its last dependency completes
//! (no level-by-level batches), with optional bounded concurrency, retries
//! with exponential backoff, per-task and workflow timeouts, conditions,
//! result transforms, fail-fast and cooperative cancellation.
//!
//! ```
//! use dagflow::engine::workflow::{RetryPolicy, TaskContext, TaskOptions, Workflow};
//! use serde_json::json;
//! use std::time::Duration;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let mut wf = Workflow::new("etl");
//! wf.add_task("extract", |_ctx: TaskContext| async { Ok::<_, std::io::Error>(json!(3)) },
//!         TaskOptions::new())
//!   .add_task("load", |ctx: TaskContext| async move {
//!         let n = ctx.result("extract").and_then(|v| v.as_i64()).unwrap_or(0);
//!         Ok::<_, String>(json!(n * 2))
//!     }, TaskOptions::new().depends_on(["extract"]).timeout(Duration::from_secs(5))
//!         .retry(RetryPolicy::default().max_attempts(3)))
//!   .add_blocking_task("report", |ctx: TaskContext| {
//!         Ok::<_, String>(json!(format!("loaded {}", ctx.result("load").unwrap_or(&json!(0)))))
//!     }, TaskOptions::new().depends_on(["load"]));
//! wf.max_concurrency(4).timeout(Duration::from_secs(600));
//!
//! let results = wf.run().await?;
//! assert_eq!(results["report"], json!("loaded 6"));
//! let summary = wf.summary();
//! assert!(summary.success);
//! assert_eq!(summary.counts.completed, 3);
//! # Ok::<(), dagflow::engine::workflow::WorkflowError>(())
//! # }).unwrap();
//! ```
//!
//! # Failures, fail-fast and cancellation
//! - A failed task (after its last attempt) does not make `run()` fail: see
//!   [`Workflow::summary`]. Its dependents are skipped with reason
//!   "dependency failed".
//! - With fail-fast (the default), after the first failure no task starts
//!   any more. Tasks already running may finish and keep their results;
//!   tasks waiting to retry stop retrying and fail with their last error;
//!   every task not started yet is `cancelled` with reason
//!   "fail-fast: task `x` failed".
//! - Cancelling ([`CancelHandle::cancel`]) or the workflow timeout cancels
//!   the token every running action sees. An action that returns when the
//!   token is cancelled keeps its result (it is polled once more before the
//!   engine gives up); otherwise the engine abandons it after the
//!   [`cancel_grace`](Workflow::cancel_grace) period (default: none). An
//!   abandoned async action is dropped; a blocking one keeps its thread
//!   until it returns, its result ignored. Every task not finished is
//!   `cancelled`, and `run()` returns [`WorkflowError::Cancelled`] or
//!   [`WorkflowError::Timeout`].
//! - A panic in an action, a condition or a transform fails (or skips) only
//!   that task.
//! - Stop a run with its [`CancelHandle`], not by dropping the `run()`
//!   future: `run()` drives some tasks itself (a chain, for one) and those
//!   end with it, while the tasks it had handed to the runtime go on
//!   unobserved.

mod attempt;
mod cancel;
mod context;
mod dependency_names;
mod drive;
mod error;
mod factories;
mod finished;
mod handoff;
mod options;
mod records;
mod results;
mod retry;
mod run;
mod scheduler;
mod summary;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

pub use cancel::CancelHandle;
pub use context::TaskContext;
pub use error::{BoxError, TaskError, WorkflowError};
pub use options::{Task, TaskOptions};
pub use results::RunResults;
pub use retry::RetryPolicy;
pub use summary::{TaskSummary, WorkflowSummary};

use crate::event::{Observer, Observers, RunDefinition};
use crate::graph::{Dag, DagBuilder, GraphError};
use options::{Action, TaskTable};
use summary::RunReport;

/// A DAG of async tasks, run by [`run`](Self::run). See the
/// [module documentation](self) for an example and the failure semantics.
pub struct Workflow {
    name: Arc<str>,
    /// Exactly one of `builder` and `dag` is set (the dag once validated).
    builder: Option<DagBuilder>,
    dag: Option<Arc<Dag>>,
    /// The first definition error (duplicate name, or a failed validation).
    invalid: Option<GraphError>,
    /// The tasks, shared with runs, once the graph is validated.
    tasks: Arc<TaskTable>,
    /// While `builder` is set: the tasks, taken out of `tasks`. Adding to an
    /// owned table needs no check that no run shares it (`Arc::make_mut`,
    /// an atomic compare-and-swap per task added: 6–8 % of building a
    /// plain workflow).
    staged: Option<TaskTable>,
    max_concurrency: Option<usize>,
    fail_fast: bool,
    timeout: Option<Duration>,
    cancel_grace: Duration,
    observers: Observers,
    cancel: CancelHandle,
    restored: Option<(HashMap<String, Value>, Arc<str>)>,
    next_run_id: Option<String>,
    last: Option<RunReport>,
}

impl std::fmt::Debug for Workflow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workflow")
            .field("name", &self.name)
            .field("tasks", &self.table().len())
            .field("max_concurrency", &self.max_concurrency)
            .field("fail_fast", &self.fail_fast)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Workflow {
    /// An empty workflow called `name`: fail-fast, no timeout, unbounded
    /// concurrency.
    pub fn new(name: impl Into<String>) -> Workflow {
        Workflow {
            name: Arc::from(name.into()),
            builder: Some(DagBuilder::new()),
            dag: None,
            invalid: None,
            tasks: Arc::new(TaskTable::default()),
            staged: Some(TaskTable::default()),
            max_concurrency: None,
            fail_fast: true,
            timeout: None,
            cancel_grace: Duration::ZERO,
            observers: Observers::default(),
            cancel: CancelHandle::new(),
            restored: None,
            next_run_id: None,
            last: None,
        }
    }

    /// The workflow's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Number of tasks.
    pub fn len(&self) -> usize {
        self.table().len()
    }

    /// Whether the workflow has no task.
    pub fn is_empty(&self) -> bool {
        self.table().is_empty()
    }

    /// The tasks, staged or shared.
    fn table(&self) -> &TaskTable {
        self.staged.as_ref().unwrap_or(&self.tasks)
    }

    /// Task names in insertion order.
    pub fn task_names(&self) -> Vec<&str> {
        match (&self.dag, &self.builder) {
            (Some(dag), _) => dag.names().collect(),
            (None, Some(builder)) => builder.names().collect(),
            (None, None) => Vec::new(),
        }
    }

    /// Adds a task running the async `action`. Chainable.
    ///
    /// A duplicate name is reported by [`run`](Self::run) (and
    /// [`validate`](Self::validate)) as [`GraphError::DuplicateTask`].
    pub fn add_task<F, Fut, E>(
        &mut self,
        name: impl AsRef<str>,
        action: F,
        options: TaskOptions,
    ) -> &mut Self
    where
        F: Fn(TaskContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        self.push(name.as_ref(), Action::from_async(action), options)
    }

    /// Adds a task running the blocking `action` on tokio's blocking pool,
    /// never on the runtime's worker threads. Chainable.
    pub fn add_blocking_task<F, E>(
        &mut self,
        name: impl AsRef<str>,
        action: F,
        options: TaskOptions,
    ) -> &mut Self
    where
        F: Fn(TaskContext) -> Result<Value, E> + Send + Sync + 'static,
        E: Into<BoxError>,
    {
        self.push(name.as_ref(), Action::from_blocking(action), options)
    }

    /// Adds a prepared [`Task`]. Chainable.
    pub fn add(&mut self, task: Task) -> &mut Self {
        self.push(&task.name, task.action, task.options)
    }

    /// Takes the name by reference: the graph keeps its own shared copy, so
    /// an owned `String` here would only be copied again and freed.
    fn push(&mut self, name: &str, action: Action, options: TaskOptions) -> &mut Self {
        let (dependencies, extras) = options.into_parts();
        if self.builder.is_none() {
            let builder = self
                .dag
                .take()
                .map_or_else(DagBuilder::new, |d| builder_of(&d));
            self.builder = Some(builder);
            let shared = std::mem::take(&mut self.tasks);
            // A finished run may still hold the table: copy it then.
            self.staged = Some(Arc::try_unwrap(shared).unwrap_or_else(|t| TaskTable::clone(&t)));
        }
        let Some(builder) = self.builder.as_mut() else {
            return self;
        };
        match builder.add(name, dependencies.iter()) {
            Ok(_) => {
                if let Some(tasks) = self.staged.as_mut() {
                    tasks.push(action, extras);
                }
            }
            Err(e) => {
                self.invalid.get_or_insert(e);
            }
        }
        self
    }

    /// Runs at most `limit` attempts at the same time (at least 1).
    pub fn max_concurrency(&mut self, limit: usize) -> &mut Self {
        self.max_concurrency = Some(limit.max(1));
        self
    }

    /// Whether the first failure stops the run from starting further tasks
    /// (default true).
    pub fn fail_fast(&mut self, fail_fast: bool) -> &mut Self {
        self.fail_fast = fail_fast;
        self
    }

    /// Cancels the run when it takes longer than `timeout`; `run()` then
    /// returns [`WorkflowError::Timeout`].
    pub fn timeout(&mut self, timeout: Duration) -> &mut Self {
        self.timeout = Some(timeout);
        self
    }

    /// How long a running action may take to return after the run is
    /// cancelled or timed out, before the engine abandons it (default
    /// zero: it is polled once more, then abandoned).
    pub fn cancel_grace(&mut self, grace: Duration) -> &mut Self {
        self.cancel_grace = grace;
        self
    }

    /// Attaches an observer that receives every event of every run, in
    /// order, inline (see [`Observer`]).
    pub fn observe(&mut self, observer: Arc<dyn Observer>) -> &mut Self {
        self.observers.push(observer);
        self
    }

    /// A handle that cancels this workflow's runs from anywhere.
    pub fn cancel_handle(&self) -> CancelHandle {
        self.cancel.clone()
    }

    /// Cancels the run in flight (the specification's `cancel`). Usually
    /// called through a [`CancelHandle`], since `run()` borrows the workflow.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// Resumes a previous run: in the next run, the tasks named in
    /// `results` do not run; they count as completed with the given result
    /// (emitting `TaskRestored`), and `WorkflowStarted.resumed_from` is
    /// `from_run`. Applies to the next run only.
    pub fn restore(
        &mut self,
        results: HashMap<String, Value>,
        from_run: impl Into<String>,
    ) -> &mut Self {
        self.restored = Some((results, Arc::from(from_run.into())));
        self
    }

    /// Uses `run_id` as the id of the next run instead of a random UUID v4.
    pub fn run_id(&mut self, run_id: impl Into<String>) -> &mut Self {
        self.next_run_id = Some(run_id.into());
        self
    }

    /// The id of the last run, if any.
    pub fn last_run_id(&self) -> Option<&str> {
        self.last.as_ref().map(|r| &*r.run_id)
    }

    /// Checks the graph: duplicate names, unknown dependencies, cycles.
    ///
    /// A workflow that failed validation keeps failing: build a new one.
    pub fn validate(&mut self) -> Result<(), WorkflowError> {
        self.dag().map(|_| ())
    }

    /// The validated graph.
    pub fn dag(&mut self) -> Result<Arc<Dag>, WorkflowError> {
        if let Some(e) = &self.invalid {
            return Err(e.clone().into());
        }
        if let Some(dag) = &self.dag {
            return Ok(Arc::clone(dag));
        }
        let built = self.builder.take().unwrap_or_default().build();
        if let Some(mut tasks) = self.staged.take() {
            if built.is_ok() {
                // No more tasks are expected.
                tasks.shrink_to_fit();
            }
            self.tasks = Arc::new(tasks);
        }
        match built {
            Ok(dag) => {
                if !self.observers.is_empty() {
                    // Their events carry the names: make them now, not in the run.
                    dag.share_names();
                }
                let dag = Arc::new(dag);
                self.dag = Some(Arc::clone(&dag));
                Ok(dag)
            }
            Err(e) => {
                self.invalid = Some(e.clone());
                Err(e.into())
            }
        }
    }

    /// What the journal fingerprints: the graph and each task's
    /// [`definition`](TaskOptions::definition) text.
    pub fn definition(&mut self) -> Result<RunDefinition, WorkflowError> {
        Ok(RunDefinition {
            dag: self.dag()?,
            task_definitions: self.task_definitions(),
        })
    }

    fn task_definitions(&self) -> Vec<Option<String>> {
        (0..self.tasks.len())
            .map(|i| self.tasks.extras(i).and_then(|e| e.definition.clone()))
            .collect()
    }

    /// The summary of the last run (the specification's `get_summary`);
    /// before any run, every task is `pending`.
    pub fn summary(&self) -> WorkflowSummary {
        match &self.last {
            Some(report) => report.summary(&self.name),
            None => summary::never_run(&self.name, self.task_names().into_iter()),
        }
    }

    /// The error of the last attempt of task `name` in the last run, with
    /// the action's own error inside (see [`TaskError::downcast_ref`]).
    pub fn task_error(&self, name: &str) -> Option<&TaskError> {
        let report = self.last.as_ref()?;
        report.error_of(report.dag.id(name)?.index())
    }

    /// Validates, then runs every task; returns each completed task's result
    /// by name (restored ones included), as a [`RunResults`] map: indexed by
    /// task, keyed by the graph's own names (no per-task allocation),
    /// iterated in insertion order; `into_map()` gives a `HashMap`.
    ///
    /// Task failures are not errors here: see [`summary`](Self::summary).
    /// Errors: an invalid graph, the workflow timeout, cancellation, a
    /// restored result naming an unknown task, no tokio runtime.
    ///
    /// ```
    /// use dagflow::{TaskContext, TaskOptions, Workflow};
    /// use serde_json::json;
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let mut wf = Workflow::new("indexed");
    /// wf.add_task("a", |_c: TaskContext| async { Ok::<_, String>(json!(1)) }, TaskOptions::new())
    ///   .add_task("b", |_c: TaskContext| async { Ok::<_, String>(json!(2)) }, TaskOptions::new());
    /// let results = wf.run().await?;
    /// assert_eq!(results["b"], json!(2));
    /// assert_eq!(results.keys().collect::<Vec<_>>(), ["a", "b"]);
    /// # Ok::<(), dagflow::WorkflowError>(())
    /// # }).unwrap();
    /// ```
    pub async fn run(&mut self) -> Result<RunResults, WorkflowError> {
        self.run_collecting::<RunResults, _>().await
    }
}

/// A builder holding the same tasks as `dag`, to add more after validation.
fn builder_of(dag: &Dag) -> DagBuilder {
    let mut builder = DagBuilder::with_capacity(dag.len(), dag.edge_count());
    for t in dag.ids() {
        let deps = dag.dependencies(t).iter().map(|&d| dag.name(d));
        // Names in a validated graph are unique, so this cannot fail.
        let _ = builder.add(dag.name(t), deps);
    }
    builder
}
