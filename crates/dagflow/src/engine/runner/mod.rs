//! The sync engine: `WorkflowRunner`.
//!
//! Steps run one after another on the caller's thread, in Kahn topological
//! order (ties broken by insertion order), sharing one mutable
//! [`WorkflowContext`]. A step whose dependency failed (or was skipped) is
//! skipped with the reason "dependency failed"; the run goes on with the
//! other steps. Use it for scripts and tools that want a simple, predictable,
//! single-threaded pipeline; use the async [`Workflow`](crate::engine::workflow)
//! for parallelism and retries.
//!
//! ```
//! use dagflow::engine::runner::{WorkflowContext, WorkflowRunner, WorkflowStep};
//! use serde_json::json;
//!
//! let mut runner = WorkflowRunner::new("build");
//! runner
//!     .add_step(WorkflowStep::new("compile").action(|_: &mut WorkflowContext| Ok::<_, String>(json!("app.bin"))))?
//!     .add_step(WorkflowStep::new("test").depends_on(["compile"]))?;
//! let result = runner.run(WorkflowContext::new())?;
//! assert!(result.success);
//! assert_eq!(result.completed, 2);
//! assert_eq!(result.context.get("compile"), Some(&json!("app.bin")));
//! # Ok::<(), dagflow::engine::runner::RunnerError>(())
//! ```

mod context;
mod error;
mod plan;
mod result;
mod run;
mod step;
mod stored;

use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime};

pub use context::WorkflowContext;
pub use error::{RunnerError, StepError};
pub use result::{StepResult, WorkflowResult};

use plan::Plan;
use run::StepLoop;
pub use step::{BoxError, StepAction, WorkflowStep};
pub use stored::StepInfo;
use stored::StoredStep;

use crate::event::{Observer, Observers, RunDefinition, WorkflowEvent};
use crate::graph::{Dag, DagBuilder, TaskId};

/// Runs a DAG of steps sequentially in topological order.
///
/// # Timeouts
///
/// A step without a timeout runs inline on the caller's thread. A step with
/// a timeout runs on a helper thread with a *copy* of the context (values
/// copied, earlier results shared); the runner waits for it at most the
/// timeout:
/// - if the step returns in time, the runner continues with the copy, so its
///   changes to the context are kept;
/// - if not, the step fails with [`StepError::Timeout`], the runner goes on
///   with the context as it was before the step (everything the step wrote
///   is discarded), and [`WorkflowContext::is_cancelled`] turns true inside
///   the step. The thread cannot be killed: it runs until the action
///   returns, and then its result is dropped. Actions with a timeout should
///   check `is_cancelled()` in their loops and give up when it is true.
///
/// Copying the context costs a clone of its inserted values per timed step;
/// keep large data out of the context or out of timed steps.
///
/// # Panics in steps
///
/// A panicking action fails its step with [`StepError::Panicked`]; the run
/// goes on. Changes an inline step made to the context before panicking stay.
///
/// # Observers
///
/// [`observe`](Self::observe) attaches an [`Observer`] (the journal, a
/// progress display); the runner emits the same [`WorkflowEvent`]s as the
/// async engine: `WorkflowStarted`, then per step `TaskStarted` (attempt 1)
/// followed by `TaskCompleted` or `TaskFailed`, or only `TaskSkipped`, then
/// `WorkflowCompleted`. Without observers no event is built.
///
/// # Step timing
///
/// Every step's duration is measured by default ([`StepResult::duration`]),
/// with one reading of the CPU's time-stamp counter per step: about 10 ns,
/// as long as a whole step whose action does next to nothing. A runner
/// whose steps are that small, run many times over, can turn the reading
/// off with [`time_steps(false)`](Self::time_steps); see there.
#[derive(Clone, Default)]
pub struct WorkflowRunner {
    name: Arc<str>,
    /// Every step's name and dependency names, by step id.
    builder: DagBuilder,
    /// The rest of each step, by step id.
    steps: Vec<StoredStep>,
    plan: OnceLock<Arc<Plan>>,
    observers: Observers,
    /// Set by `time_steps(false)` (so that the default is to time).
    untimed: bool,
}

impl std::fmt::Debug for WorkflowRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkflowRunner")
            .field("name", &self.name)
            .field("steps", &self.steps.len())
            .field("observers", &self.observers)
            .field("timed", &self.timed())
            .finish()
    }
}

impl WorkflowRunner {
    /// An empty runner for the workflow called `name` (the name runs are
    /// journaled and analysed under).
    pub fn new(name: impl Into<String>) -> Self {
        WorkflowRunner {
            name: Arc::from(name.into()),
            ..Self::default()
        }
    }

    /// The workflow's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Adds a step. A name already used is an error
    /// ([`GraphError::DuplicateTask`](crate::GraphError::DuplicateTask)) and
    /// leaves the runner unchanged; dependencies may name steps added later.
    pub fn add_step(&mut self, step: WorkflowStep) -> Result<&mut Self, RunnerError> {
        let (name, depends_on, stored) = StoredStep::split(step);
        self.builder.add(name, &depends_on)?;
        self.steps.push(stored);
        self.plan = OnceLock::new();
        Ok(self)
    }

    /// Attaches an observer that receives every event of every run.
    pub fn observe(&mut self, observer: Arc<dyn Observer>) -> &mut Self {
        self.observers.push(observer);
        self
    }

    /// Whether runs measure each step's duration (`true`, the default).
    ///
    /// With `false`, runs skip the clock reading of every step (see "Step
    /// timing" above) and every [`StepResult::duration`] is zero; the run's
    /// own [`WorkflowResult::duration`] is still measured. While an
    /// observer is attached, steps are timed whatever this says: events
    /// and the journal carry every step's duration. A result recorded
    /// afterwards with
    /// [`WorkflowJournal::record_full_workflow`](crate::WorkflowJournal::record_full_workflow)
    /// has zero step durations in the journal too; attach the journal as an
    /// observer to keep them.
    ///
    /// ```
    /// use std::time::Duration;
    /// use dagflow::engine::runner::{WorkflowContext, WorkflowRunner, WorkflowStep};
    ///
    /// let mut runner = WorkflowRunner::new("hot-path");
    /// runner.time_steps(false);
    /// runner.add_step(WorkflowStep::new("parse").action(|_: &mut WorkflowContext| {
    ///     std::thread::sleep(Duration::from_millis(2));
    ///     Ok::<_, String>(serde_json::json!(42))
    /// }))?;
    /// let result = runner.run(WorkflowContext::new())?;
    /// let parse = result.step("parse").unwrap();
    /// assert_eq!(parse.result, Some(&serde_json::json!(42)));
    /// assert_eq!(parse.duration, Duration::ZERO);
    /// assert!(result.duration >= Duration::from_millis(2));
    /// # Ok::<(), dagflow::engine::runner::RunnerError>(())
    /// ```
    pub fn time_steps(&mut self, on: bool) -> &mut Self {
        self.untimed = !on;
        self
    }

    /// Whether a run times its steps (see [`time_steps`](Self::time_steps)).
    fn timed(&self) -> bool {
        !self.untimed || !self.observers.is_empty()
    }

    /// Number of steps.
    pub fn step_count(&self) -> usize {
        self.steps.len()
    }

    /// Step names in insertion order.
    pub fn step_names(&self) -> Vec<&str> {
        self.builder.names().collect()
    }

    /// The steps in insertion order.
    pub fn steps(&self) -> impl ExactSizeIterator<Item = StepInfo<'_>> + '_ {
        self.steps
            .iter()
            .enumerate()
            .map(|(i, stored)| StepInfo::new(&self.builder, TaskId::from_index(i), stored))
    }

    /// The step called `name`.
    pub fn step(&self, name: &str) -> Option<StepInfo<'_>> {
        let id = self.builder.id(name)?;
        let stored = self.steps.get(id.index())?;
        Some(StepInfo::new(&self.builder, id, stored))
    }

    /// Checks dependencies and cycles, and caches the validated graph so
    /// that [`run`](Self::run) does not build it again.
    pub fn validate(&self) -> Result<(), RunnerError> {
        self.plan().map(drop)
    }

    /// The validated graph of the steps.
    pub fn dag(&self) -> Result<Arc<Dag>, RunnerError> {
        Ok(Arc::clone(&self.plan()?.dag))
    }

    fn plan(&self) -> Result<Arc<Plan>, RunnerError> {
        if let Some(plan) = self.plan.get() {
            return Ok(Arc::clone(plan));
        }
        let dag = Arc::new(self.builder.clone().build()?);
        if !self.observers.is_empty() {
            // Their events carry the names: make them now, not in the run.
            dag.share_names();
        }
        let plan = Arc::new(Plan::new(dag, &self.steps));
        Ok(Arc::clone(self.plan.get_or_init(|| plan)))
    }

    /// The run definition (graph and per-step definition texts) that
    /// observers and journal fingerprints see.
    pub fn definition(&self) -> Result<RunDefinition, RunnerError> {
        Ok(RunDefinition {
            dag: self.dag()?,
            task_definitions: self
                .steps
                .iter()
                .map(|s| s.definition().map(str::to_string))
                .collect(),
        })
    }

    /// Runs every step once, in topological order, starting from `context`.
    ///
    /// Fails only if the steps do not form a valid DAG (unknown dependency,
    /// cycle); step failures are reported in the result.
    pub fn run(&self, context: WorkflowContext) -> Result<WorkflowResult, RunnerError> {
        let plan = self.plan()?;
        let run_id = crate::engine::new_run_id();
        let observe = !self.observers.is_empty();
        let started_at = SystemTime::now();
        let start = Instant::now();
        let mut context = context;
        context.begin_run(Arc::clone(&plan));

        if observe {
            self.observers.clear_errors();
            // Made at validation already unless the observers came later.
            plan.dag.share_names();
            self.observers.emit(&WorkflowEvent::WorkflowStarted {
                run_id: Arc::clone(&run_id),
                workflow: Arc::clone(&self.name),
                definition: Arc::new(self.definition()?),
                resumed_from: None,
                at: started_at,
            });
        }

        let (mut context, mut outcomes, counts) = if self.timed() {
            StepLoop::<true>::new(self, &plan, &run_id, context).run_all()
        } else {
            StepLoop::<false>::new(self, &plan, &run_id, context).run_all()
        };
        outcomes.results = context.share_results();

        let duration = start.elapsed();
        let success = WorkflowResult::success_rule(counts);
        let observer_errors = if observe {
            self.observers.emit(&WorkflowEvent::WorkflowCompleted {
                run_id: Arc::clone(&run_id),
                workflow: Arc::clone(&self.name),
                success,
                duration,
                counts,
                at: SystemTime::now(),
            });
            self.observers.errors()
        } else {
            Vec::new()
        };
        Ok(WorkflowResult {
            workflow_id: run_id.to_string(),
            workflow_name: self.name.to_string(),
            success,
            started_at,
            duration,
            completed: counts.completed,
            failed: counts.failed,
            skipped: counts.skipped,
            context,
            observer_errors,
            outcomes,
        })
    }
}
