//! Running one task: condition, attempts with timeout and cancellation,
//! panics caught, result transform, retries with backoff.

use std::future::Future;
use std::num::NonZeroU64;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::Value;

use super::context::TaskContext;
use super::drive::RunHandle;
use super::error::TaskError;
use super::finished::{nanos, Finished, Note, Outcome};
use super::options::{Action, ConditionFn, TaskSpec};
use super::scheduler::RunShared;
use crate::event::{panic_message, TaskStatus, WorkflowEvent};
use crate::graph::TaskId;

/// How a task ended, plus the duration of its last attempt (for events).
pub(crate) struct Execution {
    pub(crate) finished: Finished,
    pub(crate) last_attempt: Duration,
    /// The run clock's raw reading when the task's action returned, on the
    /// lean path only: a driver that goes straight on with a dependent may
    /// take it as that task's start (see [`execute`]). Non-zero so that it
    /// fits in 8 bytes; a reading of 0 is simply not passed on.
    pub(crate) ended: Option<NonZeroU64>,
}

impl Execution {
    fn settled(status: TaskStatus, reason: Arc<str>) -> Execution {
        Execution {
            finished: Finished::settled(status, reason),
            last_attempt: Duration::ZERO,
            ended: None,
        }
    }
}

/// Runs task `id` to its final state. Never panics on user code.
///
/// A task without options takes a lean path whose future stays small (it
/// lives in every spawned tokio task); options go through a boxed general
/// path.
///
/// `since` is a raw clock reading the lean path takes as the task's start
/// instead of reading the clock again: the [`Execution::ended`] of the task
/// the same driver ran just before, when nothing but the engine's own
/// bookkeeping (no observer, no yield to the runtime) came between. The
/// counter read costs about a tenth of a no-op task, and along a chain
/// every task would otherwise read it twice. The sync runner times its
/// steps the same way.
pub(crate) async fn execute(
    handle: &RunHandle,
    id: TaskId,
    since: Option<NonZeroU64>,
) -> Execution {
    // Fields are read through the run itself; the handle only to clone it
    // (its count is the line that moves between cores, see `RunHandle`).
    let run: &RunShared = handle;
    if let Some(reason) = run.stop_reason() {
        return Execution::settled(TaskStatus::Cancelled, reason);
    }
    // Scoped so that only the action, not the whole spec, is kept across
    // the awaits below.
    let action = {
        let Some(spec) = run.tasks.get(id.index()) else {
            return Execution::settled(TaskStatus::Failed, Arc::from("the task has no action"));
        };
        if spec.extras.is_some() || run.semaphore.is_some() {
            return Box::pin(execute_with_options(handle, id, spec)).await;
        }
        spec.action
    };
    run.wait_durable(id);
    run.emit_started(id, 1);
    // The run's raw counter, not `Instant::now()`: its readings are a good
    // part of a quick task's cost (see `engine/clock.rs`).
    let started = since.map_or_else(|| run.clock.raw(), NonZeroU64::get);
    let ctx = TaskContext::new(Arc::clone(handle), id, 1);
    let outcome = Abandonable::starting(run, action, ctx).await;
    let ended = run.clock.raw();
    let duration = Duration::from_nanos(run.clock.between(started, ended));
    match outcome {
        Ok(value) => Execution {
            ended: NonZeroU64::new(ended),
            ..completed(value, 1, duration, duration)
        },
        Err(error) if run.is_cancelling() => {
            let reason = run
                .stop_reason()
                .unwrap_or_else(|| Arc::from("workflow cancelled"));
            let since = Instant::now()
                .checked_sub(duration)
                .unwrap_or_else(Instant::now);
            stopped(run, reason, Some((error, duration)), since, 1)
        }
        Err(error) => failed(error, 1, duration, duration),
    }
}

/// [`execute`] for tasks with options: condition, concurrency permit,
/// attempts under a timeout, result transform, retries.
async fn execute_with_options(handle: &RunHandle, id: TaskId, spec: TaskSpec<'_>) -> Execution {
    let run: &RunShared = handle;
    let extras = spec.extras;
    if let Some(condition) = extras.and_then(|e| e.condition.as_deref()) {
        if let Some(reason) = skip_reason(handle, id, condition) {
            return Execution::settled(TaskStatus::Skipped, Arc::from(reason));
        }
    }
    let policy = extras.and_then(|e| e.retry.as_ref());
    let max_attempts = policy.map_or(1, |p| p.attempts());
    // Set once the first attempt holds its permit: time spent queued for
    // a concurrency slot is not the task's duration.
    let mut first_start: Option<Instant> = None;
    let mut last_error: Option<(TaskError, Duration)> = None;
    let mut attempt = 1u32;
    loop {
        let permit = match &run.semaphore {
            Some(semaphore) => semaphore.acquire().await.ok(),
            None => None,
        };
        if first_start.is_none() {
            // Waited for here, with the permit held, rather than when the
            // task became ready: by now the journal has usually committed
            // the dependencies' ends on its own.
            run.wait_durable(id);
        }
        let attempt_start = Instant::now();
        let started = *first_start.get_or_insert(attempt_start);
        if permit.is_some() || attempt > 1 {
            if let Some(reason) = run.stop_reason() {
                return stopped(run, reason, last_error, started, attempt - 1);
            }
        }
        run.emit_started(id, attempt);
        let outcome = attempt_once(handle, spec, id, attempt).await;
        drop(permit);
        let end = Instant::now();
        let this_attempt = end - attempt_start;
        let error = match outcome {
            Ok(value) => return completed(value, attempt, end - started, this_attempt),
            Err(error) => error,
        };
        if run.is_cancelling() {
            let reason = run
                .stop_reason()
                .unwrap_or_else(|| Arc::from("workflow cancelled"));
            return stopped(run, reason, Some((error, this_attempt)), started, attempt);
        }
        let retry = match policy {
            Some(p) if attempt < max_attempts && p.should_retry(&error) && !run.is_stopping() => p,
            _ => return failed(error, attempt, end - started, this_attempt),
        };
        let delay = retry.delay_with_jitter(attempt);
        tracing::debug!(task = run.dag.name(id), attempt, ?delay, %error, "attempt failed; retrying");
        run.emit(|run_id| WorkflowEvent::TaskRetrying {
            run_id,
            task: Arc::clone(run.dag.name_arc(id)),
            task_id: id,
            attempt,
            delay,
            duration: this_attempt,
            error: error.to_string(),
            at: run.now(),
        });
        last_error = Some((error, this_attempt));
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = run.stop_token.cancelled() => {
                let reason = run.stop_reason().unwrap_or_else(|| Arc::from("workflow stopped"));
                return stopped(run, reason, last_error, started, attempt);
            }
        }
        attempt += 1;
    }
}

fn completed(value: Value, attempts: u32, total: Duration, last: Duration) -> Execution {
    Execution {
        finished: Finished {
            status: TaskStatus::Completed,
            attempts,
            nanos: nanos(total),
            outcome: Outcome::Owned(value),
        },
        last_attempt: last,
        ended: None,
    }
}

fn failed(error: TaskError, attempts: u32, total: Duration, last: Duration) -> Execution {
    tracing::debug!(attempts, %error, "task failed");
    Execution {
        finished: Finished {
            status: TaskStatus::Failed,
            attempts,
            nanos: nanos(total),
            outcome: Outcome::Note(Box::new(Note::Error(Arc::new(error)))),
        },
        last_attempt: last,
        ended: None,
    }
}

/// The run stopped while the task was between or inside attempts. A task
/// that already failed an attempt and is only stopped by fail-fast keeps
/// its failure; otherwise it is cancelled.
fn stopped(
    run: &RunShared,
    reason: Arc<str>,
    last_error: Option<(TaskError, Duration)>,
    started: Instant,
    attempts: u32,
) -> Execution {
    match last_error {
        Some((error, last)) if !run.is_cancelling() => {
            failed(error, attempts, started.elapsed(), last)
        }
        Some((_, last)) => Execution {
            finished: Finished {
                status: TaskStatus::Cancelled,
                attempts,
                nanos: nanos(started.elapsed()),
                outcome: Outcome::Note(Box::new(Note::Reason(reason))),
            },
            last_attempt: last,
            ended: None,
        },
        None => Execution::settled(TaskStatus::Cancelled, reason),
    }
}

/// Evaluates a condition; `Some(reason)` means skip.
fn skip_reason(handle: &RunHandle, id: TaskId, condition: &ConditionFn) -> Option<String> {
    let ctx = TaskContext::new(Arc::clone(handle), id, 0);
    match catch_unwind(AssertUnwindSafe(|| condition(&ctx))) {
        Ok(Ok(true)) => None,
        Ok(Ok(false)) => Some("condition was false".to_string()),
        Ok(Err(e)) => Some(format!("condition failed: {e}")),
        Err(panic) => Some(format!(
            "condition failed: it panicked: {}",
            panic_message(&*panic)
        )),
    }
}

/// One attempt: the action under the task's timeout, abandoned when the run
/// is cancelled and the grace period is over; then the result transform.
async fn attempt_once(
    handle: &RunHandle,
    spec: TaskSpec<'_>,
    id: TaskId,
    attempt: u32,
) -> Result<Value, TaskError> {
    let run: &RunShared = handle;
    let extras = spec.extras;
    let ctx = TaskContext::new(Arc::clone(handle), id, attempt);
    let value = match extras.and_then(|e| e.timeout) {
        Some(after) => {
            let action = start(spec.action, ctx)?;
            let bounded = async move {
                tokio::time::timeout(after, action)
                    .await
                    .unwrap_or(Err(TaskError::Timeout { after }))
            };
            Abandonable::new(run, bounded.boxed()).await
        }
        None => Abandonable::starting(run, spec.action, ctx).await,
    }?;
    match extras.and_then(|e| e.transform.as_deref()) {
        None => Ok(value),
        Some(transform) => match catch_unwind(AssertUnwindSafe(|| transform(value))) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(TaskError::Transform(e)),
            Err(panic) => Err(TaskError::Panicked {
                message: format!("transform_result panicked: {}", panic_message(&*panic)),
            }),
        },
    }
}

/// A started action.
type Started = BoxFuture<'static, Result<Value, TaskError>>;

/// Calls the action; a panic while creating its future becomes
/// [`TaskError::Panicked`] (panics while polling it are caught by
/// [`Abandonable`], those on a blocking thread by the action itself).
fn start(action: &Action, ctx: TaskContext) -> Result<Started, TaskError> {
    catch_unwind(AssertUnwindSafe(|| action.0.start(ctx))).map_err(|p| panicked(&*p))
}

fn panicked(payload: &(dyn std::any::Any + Send)) -> TaskError {
    TaskError::Panicked {
        message: panic_message(payload),
    }
}

/// An attempt that the engine abandons once the run is cancelled and the
/// grace period is over.
///
/// The action is always polled first, so one that returns as soon as it
/// sees the token cancelled still delivers its own result. The wait for
/// cancellation is only set up (boxed) when the action is first pending:
/// actions that finish at their first poll cost nothing extra. Small on
/// purpose: it lives inside every spawned task's future.
struct Abandonable<'a> {
    run: &'a RunShared,
    /// The action and its context until the first poll starts it, inside
    /// that poll's panic guard: one guard per task, not two (each returns
    /// what it guards through memory, a stall on the next read).
    unstarted: Option<(&'a Action, TaskContext)>,
    action: Option<Started>,
    cancelled: Option<Pin<Box<dyn Future<Output = ()> + Send + 'a>>>,
}

impl<'a> Abandonable<'a> {
    /// An attempt whose action has started already.
    fn new(run: &'a RunShared, action: Started) -> Self {
        Abandonable {
            run,
            unstarted: None,
            action: Some(action),
            cancelled: None,
        }
    }

    /// An attempt that starts `action` when first polled.
    fn starting(run: &'a RunShared, action: &'a Action, ctx: TaskContext) -> Self {
        Abandonable {
            run,
            unstarted: Some((action, ctx)),
            action: None,
            cancelled: None,
        }
    }
}

impl Future for Abandonable<'_> {
    type Output = Result<Value, TaskError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let polled = catch_unwind(AssertUnwindSafe(|| {
            if let Some((action, ctx)) = this.unstarted.take() {
                this.action = Some(action.0.start(ctx));
            }
            this.action.as_mut().map(|action| action.as_mut().poll(cx))
        }));
        match polled {
            Ok(Some(Poll::Ready(result))) => return Poll::Ready(result),
            Ok(Some(Poll::Pending)) => {}
            // Only if polled again after its action panicked while starting.
            Ok(None) => {
                return Poll::Ready(Err(TaskError::Panicked {
                    message: "the action panicked while starting".to_string(),
                }))
            }
            Err(panic) => return Poll::Ready(Err(panicked(&*panic))),
        }
        let run = this.run;
        let cancelled = this
            .cancelled
            .get_or_insert_with(|| Box::pin(run.cancelled_after_grace()));
        match cancelled.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(TaskError::Cancelled)),
            Poll::Pending => Poll::Pending,
        }
    }
}
