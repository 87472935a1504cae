//! What a sync run returns.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::context::{StepResults, WorkflowContext};
use super::error::StepError;
use super::plan::Plan;
use crate::engine::clock::TaskClock;
use crate::event::{StatusCounts, TaskStatus};

/// The outcome of one step, borrowed from its [`WorkflowResult`].
#[derive(Debug, Clone, Copy)]
pub struct StepResult<'a> {
    /// The step's name.
    pub name: &'a str,
    /// `Completed`, `Failed` or `Skipped`.
    pub status: TaskStatus,
    /// The result of a completed step.
    pub result: Option<&'a Value>,
    /// Why the step failed or was skipped.
    pub error: Option<&'a StepError>,
    /// How long the step ran (zero when skipped, and for every step when
    /// the runner does not time steps: see
    /// [`WorkflowRunner::time_steps`](super::WorkflowRunner::time_steps)).
    pub duration: Duration,
}

/// Per-step outcomes of a run by position in execution order (struct of
/// arrays, so a run of 100,000 steps makes no per-step allocation).
#[derive(Debug)]
pub(crate) struct Outcomes {
    pub(crate) plan: Arc<Plan>,
    /// Each step's final state, made at the first failure (see
    /// [`set_status`](Self::set_status)). Until a step fails every step
    /// completes, so a run without failures writes no state per step.
    status: Vec<TaskStatus>,
    /// Each step's duration in raw clock ticks, converted when read (a
    /// conversion pass over every step cost as much as a no-op step).
    /// Empty when the run did not time its steps.
    pub(crate) spans: Vec<u64>,
    pub(crate) clock: TaskClock,
    /// The clock's latest reading: the run's start, then its end (for the
    /// conversions).
    pub(crate) ended: u64,
    /// Errors of failed and skipped steps by position, in increasing order
    /// (sparse: a successful run allocates nothing for them).
    pub(crate) errors: Vec<(u32, StepError)>,
    pub(crate) results: Option<Arc<StepResults>>,
}

impl Outcomes {
    pub(crate) fn new(plan: Arc<Plan>, clock: TaskClock, started: u64, timed: bool) -> Self {
        let n = plan.len();
        Outcomes {
            plan,
            status: Vec::new(),
            spans: if timed { vec![0; n] } else { Vec::new() },
            ended: started,
            clock,
            errors: Vec::new(),
            results: None,
        }
    }

    /// The final state of the step at `position`, once it has run.
    #[inline]
    pub(crate) fn status(&self, position: usize) -> TaskStatus {
        self.status
            .get(position)
            .copied()
            .unwrap_or(TaskStatus::Completed)
    }

    /// Records that the step at `position` failed or was skipped.
    pub(crate) fn set_status(&mut self, position: usize, status: TaskStatus) {
        if self.status.is_empty() {
            // Every step before the first failure completed, and a step
            // after it that completes writes nothing either.
            self.status = vec![TaskStatus::Completed; self.plan.len()];
        }
        self.status[position] = status;
    }

    fn view(&self, position: usize) -> StepResult<'_> {
        StepResult {
            name: self.plan.name_at(position),
            status: self.status(position),
            result: self.results.as_ref().and_then(|r| r.at(position)),
            error: self
                .errors
                .binary_search_by_key(&(position as u32), |(p, _)| *p)
                .ok()
                .map(|i| &self.errors[i].1),
            duration: self.spans.get(position).map_or(Duration::ZERO, |&span| {
                Duration::from_nanos(self.clock.span_nanos(span, self.ended))
            }),
        }
    }
}

/// The outcome of [`WorkflowRunner::run`](super::WorkflowRunner::run).
#[derive(Debug)]
pub struct WorkflowResult {
    /// Unique id of this run (a UUID v4).
    pub workflow_id: String,
    /// The workflow's name.
    pub workflow_name: String,
    /// At least one step completed, none failed, and every step completed
    /// or was skipped (see [`WorkflowResult::success_rule`]).
    pub success: bool,
    /// When the run started.
    pub started_at: SystemTime,
    /// Wall time of the run.
    pub duration: Duration,
    /// Steps that completed.
    pub completed: usize,
    /// Steps that failed.
    pub failed: usize,
    /// Steps that were skipped.
    pub skipped: usize,
    /// The context after the last step, with every completed step's result.
    pub context: WorkflowContext,
    /// Failures reported by observers during the run (the run went on).
    pub observer_errors: Vec<String>,
    pub(crate) outcomes: Outcomes,
}

impl WorkflowResult {
    /// The specification's success rule: at least one step completed, none
    /// failed, and every step either completed or was skipped. A workflow
    /// without steps, or whose steps were all skipped, did not succeed.
    ///
    /// ```
    /// use dagflow::engine::runner::WorkflowResult;
    /// use dagflow::event::StatusCounts;
    ///
    /// let ok = StatusCounts { completed: 2, skipped: 1, ..Default::default() };
    /// assert!(WorkflowResult::success_rule(ok));
    /// assert!(!WorkflowResult::success_rule(StatusCounts::default()));
    /// assert!(!WorkflowResult::success_rule(StatusCounts { skipped: 3, ..Default::default() }));
    /// ```
    pub fn success_rule(counts: StatusCounts) -> bool {
        counts.completed > 0 && counts.failed == 0 && counts.cancelled == 0
    }

    /// Every step, in the order the runner took them (Kahn order).
    pub fn steps(&self) -> impl ExactSizeIterator<Item = StepResult<'_>> + '_ {
        (0..self.outcomes.plan.len()).map(|position| self.outcomes.view(position))
    }

    /// The outcome of the step called `name`.
    pub fn step(&self, name: &str) -> Option<StepResult<'_>> {
        self.outcomes
            .plan
            .position_of(name)
            .map(|position| self.outcomes.view(position))
    }

    /// Number of steps.
    pub fn step_count(&self) -> usize {
        self.outcomes.plan.len()
    }

    /// Steps per final state.
    pub fn counts(&self) -> StatusCounts {
        StatusCounts {
            completed: self.completed,
            failed: self.failed,
            skipped: self.skipped,
            cancelled: 0,
        }
    }
}
