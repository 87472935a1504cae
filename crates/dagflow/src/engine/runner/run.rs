//! The run loop of the sync engine.
//!
//! Steps run in plan order, one after another. Panics of inline actions are
//! caught by one guard around the whole loop rather than one per step: a
//! guard costs a call frame and a copy of the step's result through the
//! unwinding machinery, which is as much as a no-op step itself. When an
//! action panics, the guard ends, the step is recorded as failed with
//! [`StepError::Panicked`], and a new guard carries on with the next step.
//! A panic outside an action is not the step's failure and is passed on
//! to the caller unchanged (observers' panics never get here: `Observers`
//! contains them and keeps them as observer errors).

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::context::WorkflowContext;
use super::error::StepError;
use super::plan::Plan;
use super::result::Outcomes;
use super::step::StepAction;
use super::WorkflowRunner;
use crate::engine::clock::TaskClock;
use crate::event::{panic_message, StatusCounts, TaskStatus, WorkflowEvent};

/// How many positions ahead of the running step the loop prefetches an
/// action's closure. Fetching a closure from memory takes longer than
/// running several no-op steps, so the hint has to be issued well before
/// the step starts. On `layered-100x1000` (100,000 steps whose closures lie
/// scattered between the blocks their names and dependency lists were
/// built in) medians of 20 runs: 4 ahead 6.3 ms, 8 ahead 5.0 ms, 16 ahead
/// 4.5 ms, none 11.8 ms.
const PREFETCH_AHEAD: usize = 16;

/// The state of one run as the loop advances through the plan. `TIMED`
/// says whether it reads the clock after each step (see "Step timing" on
/// [`WorkflowRunner`]); the two loops are compiled apart, so the untimed
/// one carries no test for it.
pub(super) struct StepLoop<'a, const TIMED: bool> {
    runner: &'a WorkflowRunner,
    plan: &'a Plan,
    run_id: &'a Arc<str>,
    /// Whether observers are attached; read through [`observing`](Self::observing).
    observe: bool,
    /// The clock reading at the end of the previous step (the start of the
    /// next: one reading per step). Untimed, the run's start.
    last: u64,
    /// The next step to run.
    position: usize,
    /// Whether the step at `position` is inside its action, so that a
    /// caught panic can be told apart from one of the engine's own.
    in_action: bool,
    context: WorkflowContext,
    outcomes: Outcomes,
    counts: StatusCounts,
}

impl<'a, const TIMED: bool> StepLoop<'a, TIMED> {
    pub(super) fn new(
        runner: &'a WorkflowRunner,
        plan: &'a Arc<Plan>,
        run_id: &'a Arc<str>,
        context: WorkflowContext,
    ) -> Self {
        // The result keeps the clock, to convert the spans it is asked for.
        let clock = TaskClock::get();
        let last = clock.raw();
        let outcomes = Outcomes::new(Arc::clone(plan), clock, last, TIMED);
        StepLoop {
            runner,
            plan,
            run_id,
            // A runner with observers always times its steps (their events
            // carry durations), so the untimed loop compiles without events.
            observe: !runner.observers.is_empty(),
            last,
            position: 0,
            in_action: false,
            context,
            outcomes,
            counts: StatusCounts::default(),
        }
    }

    /// Runs every step and hands back the context, the outcomes (spans in
    /// raw clock ticks; the result converts the ones that are read) and the
    /// counts.
    pub(super) fn run_all(mut self) -> (WorkflowContext, Outcomes, StatusCounts) {
        while self.position < self.plan.len() {
            match catch_unwind(AssertUnwindSafe(|| self.run_from_position())) {
                Ok(()) => break,
                Err(panic) if self.in_action => {
                    self.in_action = false;
                    let span = self.lap();
                    let message = panic_message(&*panic);
                    self.fail(self.position, StepError::Panicked { message }, span);
                    self.position += 1;
                }
                Err(panic) => resume_unwind(panic),
            }
        }
        self.outcomes.ended = self.last;
        // Every step completed, failed or was skipped: completions are
        // counted here rather than one by one in the loop.
        let counts = &mut self.counts;
        counts.completed = self.plan.len() - counts.failed - counts.skipped;
        (self.context, self.outcomes, self.counts)
    }

    /// Runs the steps from `position` to the end (or to a panicking action).
    fn run_from_position(&mut self) {
        let plan = self.plan;
        let mut limits = plan.limits_from(self.position);
        while let Some(action) = plan.actions.get(self.position) {
            let position = self.position;
            if let Some(Some(ahead)) = plan.actions.get(position + PREFETCH_AHEAD) {
                ahead.prefetch();
            }
            // Until a step fails, every step before this one completed (a
            // skip needs a failure upstream), and dependencies come before
            // their dependents in the plan: there is nothing to check.
            if self.counts.failed > 0 {
                if let Some(blocker) = self.blocker(position) {
                    self.skip(position, blocker);
                    self.position += 1;
                    continue;
                }
            }
            if self.observing() && self.runner.observers.wants_task_starts() {
                self.runner.observers.emit(&WorkflowEvent::TaskStarted {
                    run_id: Arc::clone(self.run_id),
                    task: Arc::clone(plan.dag.name_arc(plan.id_at(position))),
                    task_id: plan.id_at(position),
                    attempt: 1,
                    at: SystemTime::now(),
                });
                self.last = self.outcomes.clock.raw();
            }
            match (action, limits.take(position)) {
                (Some(action), None) => {
                    // The action records its own result (see
                    // `StepAction::call_recording`): the value is written
                    // once, into its slot, and only the error comes back.
                    self.in_action = true;
                    let outcome = action.call_recording(&mut self.context, position);
                    self.in_action = false;
                    let span = self.lap();
                    match outcome {
                        Ok(()) => self.complete(position, span),
                        Err(error) => self.fail(position, StepError::Action(error), span),
                    }
                }
                (None, _) => {
                    let span = self.lap();
                    self.context.record_result(position, Value::Null);
                    self.complete(position, span);
                }
                (Some(action), Some(limit)) => {
                    let outcome = run_with_timeout(action, &mut self.context, limit);
                    let span = self.lap();
                    match outcome {
                        Ok(value) => {
                            self.context.record_result(position, value);
                            self.complete(position, span);
                        }
                        Err(error) => self.fail(position, error, span),
                    }
                }
            }
            self.position += 1;
        }
    }

    /// The first dependency of the step at `position` that did not
    /// complete, if any.
    fn blocker(&self, position: usize) -> Option<usize> {
        self.plan
            .dependencies(position)
            .iter()
            .find(|&&d| self.outcomes.status(d as usize) != TaskStatus::Completed)
            .map(|&d| d as usize)
    }

    /// Whether events go out (never untimed, known at compile time there).
    #[inline(always)]
    fn observing(&self) -> bool {
        TIMED && self.observe
    }

    /// Raw clock ticks since the previous lap (zero untimed).
    #[inline]
    fn lap(&mut self) -> u64 {
        if !TIMED {
            return 0;
        }
        let now = self.outcomes.clock.raw();
        // Saturating: the thread may have moved to a core whose counter
        // lags a little.
        let span = now.saturating_sub(self.last);
        self.last = now;
        span
    }

    /// Keeps the span of the step at `position` (untimed runs keep none).
    #[inline(always)]
    fn keep_span(&mut self, position: usize, span: u64) {
        if TIMED {
            self.outcomes.spans[position] = span;
        }
    }

    /// Finishes the step at `position`, which completed: its result is
    /// already in the context, and a completed step's state is the default
    /// (see `Outcomes::set_status`).
    #[inline(always)]
    fn complete(&mut self, position: usize, span: u64) {
        self.keep_span(position, span);
        if self.observing() {
            let duration = Duration::from_nanos(self.outcomes.clock.span_nanos(span, self.last));
            self.emit_completed(position, duration);
        }
    }

    fn fail(&mut self, position: usize, error: StepError, span: u64) {
        let id = self.plan.id_at(position);
        let dag = &self.plan.dag;
        self.keep_span(position, span);
        self.outcomes.set_status(position, TaskStatus::Failed);
        self.counts.failed += 1;
        tracing::debug!(workflow = %self.runner.name, step = dag.name(id), %error, "step failed");
        if self.observing() {
            self.runner.observers.emit(&WorkflowEvent::TaskFailed {
                run_id: Arc::clone(self.run_id),
                task: Arc::clone(dag.name_arc(id)),
                task_id: id,
                attempt: 1,
                duration: Duration::from_nanos(self.outcomes.clock.span_nanos(span, self.last)),
                error: error.to_string(),
                at: SystemTime::now(),
            });
        }
        self.outcomes.errors.push((position as u32, error));
    }

    fn skip(&mut self, position: usize, blocker: usize) {
        let dag = &self.plan.dag;
        let id = self.plan.id_at(position);
        self.outcomes.set_status(position, TaskStatus::Skipped);
        self.outcomes.errors.push((
            position as u32,
            StepError::DependencyFailed {
                dependency: Arc::clone(dag.name_arc(self.plan.id_at(blocker))),
            },
        ));
        self.counts.skipped += 1;
        if self.observing() {
            self.runner.observers.emit(&WorkflowEvent::TaskSkipped {
                run_id: Arc::clone(self.run_id),
                task: Arc::clone(dag.name_arc(id)),
                task_id: id,
                reason: "dependency failed".to_string(),
                at: SystemTime::now(),
            });
        }
    }

    /// Emits `TaskCompleted` with the step's recorded result (moved into
    /// the event and back, without a copy unless an observer kept it).
    fn emit_completed(&mut self, position: usize, duration: Duration) {
        let id = self.plan.id_at(position);
        // An action that replaced the whole context dropped the run's
        // results along with it; its event then shows `null`.
        let slot = self.context.result_slot(position);
        let value = slot.and_then(Option::take).unwrap_or_default();
        let shared = Arc::new(value);
        self.runner.observers.emit(&WorkflowEvent::TaskCompleted {
            run_id: Arc::clone(self.run_id),
            task: Arc::clone(self.plan.dag.name_arc(id)),
            task_id: id,
            attempt: 1,
            duration,
            result: Arc::clone(&shared),
            at: SystemTime::now(),
        });
        if let Some(slot) = self.context.result_slot(position) {
            *slot = Some(Arc::try_unwrap(shared).unwrap_or_else(|kept| Value::clone(&kept)));
        }
    }
}

/// Runs an action on the caller's thread, turning a panic into a failure
/// (for steps on a helper thread, which the loop's guard does not cover).
fn run_guarded(action: &StepAction, context: &mut WorkflowContext) -> Result<Value, StepError> {
    match catch_unwind(AssertUnwindSafe(|| action.call(context))) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(StepError::Action(error)),
        Err(panic) => Err(StepError::Panicked {
            message: panic_message(&*panic),
        }),
    }
}

/// Runs an action on a helper thread with a copy of the context and waits
/// at most `limit` (see "Timeouts" on [`WorkflowRunner`]).
fn run_with_timeout(
    action: &StepAction,
    context: &mut WorkflowContext,
    limit: Duration,
) -> Result<Value, StepError> {
    let cancelled = Arc::new(AtomicBool::new(false));
    let mut fork = context.fork(Arc::clone(&cancelled));
    let action = action.clone();
    let (sender, receiver) = mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("dagflow-step".to_string())
        .spawn(move || {
            let outcome = run_guarded(&action, &mut fork);
            // After a timeout nobody listens any more; the result is dropped.
            let _ = sender.send((outcome, fork));
        })
        .map_err(StepError::Spawn)?;
    match receiver.recv_timeout(limit) {
        Ok((outcome, fork)) => {
            context.adopt(fork);
            outcome
        }
        Err(RecvTimeoutError::Timeout) => {
            cancelled.store(true, Ordering::Release);
            Err(StepError::Timeout { after: limit })
        }
        Err(RecvTimeoutError::Disconnected) => Err(StepError::Lost),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use serde_json::{json, Value};

    use crate::engine::runner::{WorkflowContext, WorkflowRunner, WorkflowStep};
    use crate::event::TaskStatus;

    /// Longer than the prefetch window, added sink first, with steps
    /// without actions and a panic inside the window: every action runs
    /// once, in dependency order, and every result lands on its own step.
    #[test]
    fn long_runs_call_each_action_once_in_order_across_the_prefetch_window() {
        let steps = 6 * super::PREFETCH_AHEAD;
        let panics_at = 3 * super::PREFETCH_AHEAD - 2;
        let actionless = |i: usize| i % 7 == 3;
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut runner = WorkflowRunner::new("long-chain");
        for i in (0..steps).rev() {
            let mut step = WorkflowStep::new(format!("s{i}"));
            if i == panics_at {
                step = step
                    .action(|_: &mut WorkflowContext| -> Result<Value, String> { panic!("boom") });
            } else if !actionless(i) {
                let log = Arc::clone(&log);
                step = step.action(move |_: &mut WorkflowContext| {
                    log.lock().map_err(|e| e.to_string())?.push(i);
                    Ok::<_, String>(json!(i))
                });
            }
            if i > 0 {
                step = step.depends_on([format!("s{}", i - 1)]);
            }
            runner.add_step(step).unwrap();
        }
        let result = runner.run(WorkflowContext::new()).unwrap();
        let ran: Vec<usize> = (0..panics_at).filter(|&i| !actionless(i)).collect();
        assert_eq!(*log.lock().unwrap(), ran);
        assert_eq!(result.steps().len(), steps);
        for (i, step) in result.steps().enumerate() {
            let (status, value) = match i {
                i if i == panics_at => (TaskStatus::Failed, None),
                i if i > panics_at => (TaskStatus::Skipped, None),
                i if actionless(i) => (TaskStatus::Completed, Some(Value::Null)),
                i => (TaskStatus::Completed, Some(json!(i))),
            };
            assert_eq!(step.name, format!("s{i}"));
            assert_eq!((step.status, step.result.cloned()), (status, value), "s{i}");
        }
        let counts = (result.completed, result.failed, result.skipped);
        assert_eq!(counts, (panics_at, 1, steps - panics_at - 1));
    }
}
