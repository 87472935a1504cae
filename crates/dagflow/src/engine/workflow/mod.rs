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

mod attempt;
mod cancel;
mod context;
mod error;
mod factories;
mod options;
mod retry;
mod scheduler;
mod summary;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

pub use cancel::CancelHandle;
pub use context::TaskContext;
pub use error::{BoxError, TaskError, WorkflowError};
pub use options::{Task, TaskOptions};
pub use retry::RetryPolicy;
pub use summary::{TaskSummary, WorkflowSummary};

use crate::event::{Observer, Observers, RunDefinition, StatusCounts, TaskStatus, WorkflowEvent};
use crate::graph::{Dag, DagBuilder, GraphError, TaskId};
use options::{Action, TaskSpec};
use scheduler::Finished;
use scheduler::{RunSetup, RunShared, StopKind};
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
    tasks: Arc<Vec<TaskSpec>>,
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
            .field("tasks", &self.tasks.len())
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
            tasks: Arc::new(Vec::new()),
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
        self.tasks.len()
    }

    /// Whether the workflow has no task.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
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
        name: impl Into<String>,
        action: F,
        options: TaskOptions,
    ) -> &mut Self
    where
        F: Fn(TaskContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        self.push(name.into(), Action::from_async(action), options)
    }

    /// Adds a task running the blocking `action` on tokio's blocking pool,
    /// never on the runtime's worker threads. Chainable.
    pub fn add_blocking_task<F, E>(
        &mut self,
        name: impl Into<String>,
        action: F,
        options: TaskOptions,
    ) -> &mut Self
    where
        F: Fn(TaskContext) -> Result<Value, E> + Send + Sync + 'static,
        E: Into<BoxError>,
    {
        self.push(name.into(), Action::from_blocking(action), options)
    }

    /// Adds a prepared [`Task`]. Chainable.
    pub fn add(&mut self, task: Task) -> &mut Self {
        self.push(task.name, task.action, task.options)
    }

    fn push(&mut self, name: String, action: Action, options: TaskOptions) -> &mut Self {
        let (dependencies, extras) = options.into_parts();
        if self.builder.is_none() {
            let builder = self
                .dag
                .take()
                .map_or_else(DagBuilder::new, |d| builder_of(&d));
            self.builder = Some(builder);
        }
        let Some(builder) = self.builder.as_mut() else {
            return self;
        };
        match builder.add(name, dependencies.iter()) {
            Ok(_) => Arc::make_mut(&mut self.tasks).push(TaskSpec { action, extras }),
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
        match self.builder.take().unwrap_or_default().build() {
            Ok(dag) => {
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
        self.tasks
            .iter()
            .map(|t| t.extras.as_ref().and_then(|e| e.definition.clone()))
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
    /// by name (restored ones included).
    ///
    /// Task failures are not errors here: see [`summary`](Self::summary).
    /// Errors: an invalid graph, the workflow timeout, cancellation, a
    /// restored result naming an unknown task, no tokio runtime.
    pub async fn run(&mut self) -> Result<HashMap<String, Value>, WorkflowError> {
        let dag = self.dag()?;
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(WorkflowError::NoRuntime);
        }
        let (restored, resumed_from) = match self.restored.take() {
            Some((results, from)) => (results, Some(from)),
            None => (HashMap::new(), None),
        };
        let mut restored_ids = Vec::with_capacity(restored.len());
        for (name, value) in restored {
            match dag.id(&name) {
                Some(id) => restored_ids.push((id, value)),
                None => {
                    return Err(WorkflowError::UnknownRestoredTask {
                        workflow: self.name.to_string(),
                        task: name,
                    })
                }
            }
        }
        restored_ids.sort_unstable_by_key(|(id, _)| *id);

        let run_id: Arc<str> = match self.next_run_id.take() {
            Some(id) => Arc::from(id),
            None => Arc::from(uuid::Uuid::new_v4().to_string()),
        };
        let observers = if self.observers.is_empty() {
            None
        } else {
            self.observers.clear_errors();
            Some(self.observers.clone())
        };
        let shared = Arc::new(RunShared::new(RunSetup {
            dag: Arc::clone(&dag),
            tasks: Arc::clone(&self.tasks),
            workflow: Arc::clone(&self.name),
            run_id: Arc::clone(&run_id),
            cancel: self.cancel.clone(),
            fail_fast: self.fail_fast,
            max_concurrency: self.max_concurrency,
            observers,
            cancel_grace: self.cancel_grace,
        }));
        let started = Instant::now();
        tracing::info!(workflow = %self.name, run_id = %run_id, tasks = dag.len(), "workflow started");
        shared.emit(|run_id| WorkflowEvent::WorkflowStarted {
            run_id,
            workflow: Arc::clone(&self.name),
            definition: Arc::new(RunDefinition {
                dag: Arc::clone(&dag),
                task_definitions: self.task_definitions(),
            }),
            resumed_from: resumed_from.clone(),
            at: SystemTime::now(),
        });
        for (id, value) in restored_ids {
            shared.restore(id, value);
        }
        shared.start();
        // Allocate the result map's keys while the tasks run: on another
        // thread than the workers this overlaps with them instead of adding
        // to the run's tail.
        let keys: Vec<String> = dag.names().map(str::to_string).collect();

        let (cancelled, timed_out) = self.wait(&shared).await;
        let elapsed = started.elapsed();
        shared.close();
        let stopped = match shared.stop_kind() {
            StopKind::Running => None,
            _ => shared.stop_reason().map(|r| r.to_string()),
        };
        let Outcomes {
            records,
            results,
            counts,
            unfinished,
        } = take_outcomes(shared, keys);

        let mut report = RunReport {
            run_id: Arc::clone(&run_id),
            resumed_from,
            dag: Arc::clone(&dag),
            records,
            counts,
            elapsed,
            stopped,
            interrupted: cancelled || timed_out,
            observer_errors: Vec::new(),
        };
        let success = report.success();
        if !self.observers.is_empty() {
            self.observers.emit(&WorkflowEvent::WorkflowCompleted {
                run_id: Arc::clone(&run_id),
                workflow: Arc::clone(&self.name),
                success,
                duration: elapsed,
                counts,
                at: SystemTime::now(),
            });
            report.observer_errors = self.observers.errors();
        }
        tracing::info!(workflow = %self.name, run_id = %run_id, success, ?elapsed, "workflow finished");
        self.last = Some(report);

        if timed_out {
            Err(WorkflowError::Timeout {
                workflow: self.name.to_string(),
                after: self.timeout.unwrap_or_default(),
            })
        } else if cancelled {
            Err(WorkflowError::Cancelled {
                workflow: self.name.to_string(),
            })
        } else if !unfinished.is_empty() {
            Err(WorkflowError::Deadlock {
                pending: unfinished
                    .iter()
                    .map(|&t| dag.name(t).to_string())
                    .collect(),
            })
        } else {
            Ok(results)
        }
    }

    /// Waits until no task is alive, reacting to cancellation and the
    /// workflow timeout. Returns (cancelled, timed out).
    async fn wait(&self, shared: &Arc<RunShared>) -> (bool, bool) {
        let deadline = self.timeout.map(|t| tokio::time::Instant::now() + t);
        let mut cancelled = false;
        let mut timed_out = false;
        loop {
            tokio::select! {
                () = shared.done.notified() => break,
                () = shared.token.cancelled(), if !cancelled && !timed_out => {
                    cancelled = true;
                    shared.stop(StopKind::Cancelled, || "workflow cancelled".to_string());
                }
                () = tokio::time::sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)),
                    if deadline.is_some() && !timed_out && !cancelled =>
                {
                    timed_out = true;
                    let after = self.timeout.unwrap_or_default();
                    shared.stop(StopKind::TimedOut, || format!("workflow timed out after {after:?}"));
                }
            }
        }
        (cancelled || self.cancel.is_cancelled(), timed_out)
    }
}

/// What a finished run leaves behind.
struct Outcomes {
    /// Per task; results were moved out into `results`.
    records: Box<[OnceLock<Finished>]>,
    results: HashMap<String, Value>,
    counts: StatusCounts,
    /// Tasks without a final record (only after an engine bug).
    unfinished: Vec<TaskId>,
}

/// Takes the final records and builds the results map (with the names in
/// `keys`, by task index) in one pass, moving values out of the shared
/// state when no one else holds it (the normal case).
fn take_outcomes(shared: Arc<RunShared>, keys: Vec<String>) -> Outcomes {
    let mut records = match Arc::try_unwrap(shared) {
        Ok(run) => run.finished,
        Err(run) => run.finished.to_vec().into_boxed_slice(),
    };
    let mut results = HashMap::with_capacity(records.len());
    let mut counts = StatusCounts::default();
    let mut unfinished = Vec::new();
    for (i, (key, record)) in keys.into_iter().zip(records.iter_mut()).enumerate() {
        let Some(finished) = record.get_mut() else {
            unfinished.push(TaskId::from_index(i));
            counts.cancelled += 1;
            continue;
        };
        match finished.status {
            TaskStatus::Completed => counts.completed += 1,
            TaskStatus::Failed => counts.failed += 1,
            TaskStatus::Skipped => counts.skipped += 1,
            _ => counts.cancelled += 1,
        }
        if let Some(output) = finished.output.take() {
            results.insert(key, output.into_value());
        }
    }
    Outcomes {
        records,
        results,
        counts,
        unfinished,
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
