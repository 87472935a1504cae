//! Lifecycle events, observers and the broadcast event bus.
//!
//! Both engines emit the same [`WorkflowEvent`]s. Anything that wants to watch a
//! run (the journal, a progress display, metrics) implements [`Observer`] and
//! is called inline, in event order, as the run happens: that is what lets the
//! journal write ahead. An observer that returns an error or panics never
//! breaks a run: the error is logged with `tracing`, kept in the run's
//! summary, and the run goes on. Consumers that may be slow should subscribe
//! to an [`EventBus`] instead, which never blocks the engine (a receiver that
//! falls behind loses the oldest events and is told how many).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::graph::{Dag, TaskId};

/// The state of a task (or step) in a run.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TaskStatus {
    /// Not started yet.
    Pending,
    /// Running (possibly between retry attempts).
    Running,
    /// Finished successfully.
    Completed,
    /// Finished with an error after its last attempt.
    Failed,
    /// Not run: its condition was false or a dependency did not complete.
    Skipped,
    /// Not finished because the run was cancelled or timed out.
    Cancelled,
}

impl TaskStatus {
    /// The lower-case name used in journals and JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Pending => "pending",
            TaskStatus::Running => "running",
            TaskStatus::Completed => "completed",
            TaskStatus::Failed => "failed",
            TaskStatus::Skipped => "skipped",
            TaskStatus::Cancelled => "cancelled",
        }
    }

    /// Whether the task reached a final state.
    pub fn is_finished(self) -> bool {
        !matches!(self, TaskStatus::Pending | TaskStatus::Running)
    }
}

impl std::fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How many tasks ended in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StatusCounts {
    /// Tasks that completed.
    pub completed: usize,
    /// Tasks that failed.
    pub failed: usize,
    /// Tasks that were skipped.
    pub skipped: usize,
    /// Tasks that were cancelled or never started because the run stopped.
    pub cancelled: usize,
}

/// What one run is made of, as the journal needs to fingerprint it.
///
/// Serializes to (and deserializes from, validating the graph) the columnar
/// JSON form described in `journal/definition.rs`.
#[derive(Debug, Clone, PartialEq)]
pub struct RunDefinition {
    /// The validated graph (names and dependencies).
    pub dag: Arc<Dag>,
    /// Per task (indexed by `TaskId::index`), text that defines what it does
    /// beyond its name and dependencies, such as a shell command; `None` for
    /// closures, whose code cannot be fingerprinted.
    pub task_definitions: Vec<Option<String>>,
}

/// A moment in the life of a run. Every variant carries the run's id.
///
/// Names are shared strings and results shared values, so emitting an event
/// costs a few reference-count increments, not copies.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum WorkflowEvent {
    /// The run passed validation and is about to start its first task.
    WorkflowStarted {
        /// Unique id of this run.
        run_id: Arc<str>,
        /// The workflow's name.
        workflow: Arc<str>,
        /// Tasks and dependencies of the run.
        definition: Arc<RunDefinition>,
        /// When resuming, the id of the run this one continues.
        resumed_from: Option<Arc<str>>,
        /// When it started.
        at: SystemTime,
    },
    /// An attempt of a task started.
    TaskStarted {
        /// Run id.
        run_id: Arc<str>,
        /// Task name.
        task: Arc<str>,
        /// Task index in the run's graph.
        task_id: TaskId,
        /// Attempt number, from 1.
        attempt: u32,
        /// When the attempt started.
        at: SystemTime,
    },
    /// An attempt failed and the task will be tried again after `delay`.
    TaskRetrying {
        /// Run id.
        run_id: Arc<str>,
        /// Task name.
        task: Arc<str>,
        /// Task index.
        task_id: TaskId,
        /// The attempt that failed.
        attempt: u32,
        /// How long the engine waits before the next attempt.
        delay: Duration,
        /// Duration of the failed attempt.
        duration: Duration,
        /// Why the attempt failed.
        error: String,
        /// When the attempt failed.
        at: SystemTime,
    },
    /// A task finished successfully.
    TaskCompleted {
        /// Run id.
        run_id: Arc<str>,
        /// Task name.
        task: Arc<str>,
        /// Task index.
        task_id: TaskId,
        /// The attempt that succeeded (number of attempts made).
        attempt: u32,
        /// Duration of the successful attempt.
        duration: Duration,
        /// The task's result (after `transform_result`).
        result: Arc<Value>,
        /// When it finished.
        at: SystemTime,
    },
    /// A task was not run because a previous run already completed it; its
    /// journaled result is reused (see resume).
    TaskRestored {
        /// Run id (the new run).
        run_id: Arc<str>,
        /// Task name.
        task: Arc<str>,
        /// Task index.
        task_id: TaskId,
        /// The reused result.
        result: Arc<Value>,
        /// When it was restored.
        at: SystemTime,
    },
    /// A task failed after its last attempt.
    TaskFailed {
        /// Run id.
        run_id: Arc<str>,
        /// Task name.
        task: Arc<str>,
        /// Task index.
        task_id: TaskId,
        /// Number of attempts made.
        attempt: u32,
        /// Duration of the last attempt.
        duration: Duration,
        /// Why it failed.
        error: String,
        /// When it failed.
        at: SystemTime,
    },
    /// A task was not run.
    TaskSkipped {
        /// Run id.
        run_id: Arc<str>,
        /// Task name.
        task: Arc<str>,
        /// Task index.
        task_id: TaskId,
        /// Why, e.g. "dependency failed" or "condition was false".
        reason: String,
        /// When it was skipped.
        at: SystemTime,
    },
    /// A task was stopped, or never started, because the run was cancelled
    /// or timed out.
    TaskCancelled {
        /// Run id.
        run_id: Arc<str>,
        /// Task name.
        task: Arc<str>,
        /// Task index.
        task_id: TaskId,
        /// Why, e.g. "workflow cancelled".
        reason: String,
        /// When.
        at: SystemTime,
    },
    /// The run ended; no event of this run follows.
    WorkflowCompleted {
        /// Run id.
        run_id: Arc<str>,
        /// The workflow's name.
        workflow: Arc<str>,
        /// Whether the run succeeded.
        success: bool,
        /// Wall time of the run.
        duration: Duration,
        /// Tasks per final state.
        counts: StatusCounts,
        /// When it ended.
        at: SystemTime,
    },
}

impl WorkflowEvent {
    /// The id of the run the event belongs to.
    pub fn run_id(&self) -> &Arc<str> {
        match self {
            WorkflowEvent::WorkflowStarted { run_id, .. }
            | WorkflowEvent::TaskStarted { run_id, .. }
            | WorkflowEvent::TaskRetrying { run_id, .. }
            | WorkflowEvent::TaskCompleted { run_id, .. }
            | WorkflowEvent::TaskRestored { run_id, .. }
            | WorkflowEvent::TaskFailed { run_id, .. }
            | WorkflowEvent::TaskSkipped { run_id, .. }
            | WorkflowEvent::TaskCancelled { run_id, .. }
            | WorkflowEvent::WorkflowCompleted { run_id, .. } => run_id,
        }
    }

    /// The task the event is about, if any.
    pub fn task(&self) -> Option<&str> {
        match self {
            WorkflowEvent::TaskStarted { task, .. }
            | WorkflowEvent::TaskRetrying { task, .. }
            | WorkflowEvent::TaskCompleted { task, .. }
            | WorkflowEvent::TaskRestored { task, .. }
            | WorkflowEvent::TaskFailed { task, .. }
            | WorkflowEvent::TaskSkipped { task, .. }
            | WorkflowEvent::TaskCancelled { task, .. } => Some(task),
            WorkflowEvent::WorkflowStarted { .. } | WorkflowEvent::WorkflowCompleted { .. } => None,
        }
    }

    /// A short snake_case name of the variant, e.g. `task_completed`.
    pub fn kind(&self) -> &'static str {
        match self {
            WorkflowEvent::WorkflowStarted { .. } => "workflow_started",
            WorkflowEvent::TaskStarted { .. } => "task_started",
            WorkflowEvent::TaskRetrying { .. } => "task_retrying",
            WorkflowEvent::TaskCompleted { .. } => "task_completed",
            WorkflowEvent::TaskRestored { .. } => "task_restored",
            WorkflowEvent::TaskFailed { .. } => "task_failed",
            WorkflowEvent::TaskSkipped { .. } => "task_skipped",
            WorkflowEvent::TaskCancelled { .. } => "task_cancelled",
            WorkflowEvent::WorkflowCompleted { .. } => "workflow_completed",
        }
    }
}

/// An error returned by an observer. It is logged and reported in the run's
/// summary; it does not stop the run.
#[derive(Debug, thiserror::Error)]
#[error("observer `{observer}` failed: {message}")]
pub struct ObserverError {
    /// Which observer failed.
    pub observer: String,
    /// What went wrong.
    pub message: String,
}

impl ObserverError {
    /// An error from the observer called `observer`.
    pub fn new(observer: impl Into<String>, message: impl std::fmt::Display) -> Self {
        ObserverError {
            observer: observer.into(),
            message: message.to_string(),
        }
    }
}

/// Watches runs. Called inline by the engine, in event order.
///
/// Keep `on_event` quick; hand slow work to another thread or use an
/// [`EventBus`]. Errors and panics are contained by the engine.
///
/// ```
/// use dagflow::event::{Observer, ObserverError, WorkflowEvent};
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// #[derive(Default)]
/// struct CountCompletions(AtomicUsize);
///
/// impl Observer for CountCompletions {
///     fn on_event(&self, event: &WorkflowEvent) -> Result<(), ObserverError> {
///         if let WorkflowEvent::TaskCompleted { .. } = event {
///             self.0.fetch_add(1, Ordering::Relaxed);
///         }
///         Ok(())
///     }
/// }
/// ```
pub trait Observer: Send + Sync {
    /// Handles one event.
    fn on_event(&self, event: &WorkflowEvent) -> Result<(), ObserverError>;

    /// Whether this observer uses [`WorkflowEvent::TaskStarted`]. Engines do
    /// not build that event (a clock reading and a few reference counts per
    /// task) when no observer does; a journal, which records only ends,
    /// says `false`.
    fn wants_task_starts(&self) -> bool {
        true
    }

    /// Whether this observer writes events somewhere durable in the
    /// background (a journal on disk) and supports the deferred calls
    /// below. The async engine then journals a task's end without waiting
    /// for the disk, and waits only before starting a task whose
    /// dependencies' ends are not durable yet.
    fn defers(&self) -> bool {
        false
    }

    /// Handles an event whose durability the engine will wait for later,
    /// through [`mark`](Self::mark) and [`wait_durable`](Self::wait_durable).
    /// By default the same as [`on_event`](Self::on_event).
    fn on_event_deferred(&self, event: &WorkflowEvent) -> Result<(), ObserverError> {
        self.on_event(event)
    }

    /// A mark covering every event handled so far.
    fn mark(&self) -> u64 {
        0
    }

    /// Blocks until everything covered by `mark` is durable.
    fn wait_durable(&self, mark: u64) -> Result<(), ObserverError> {
        let _ = mark;
        Ok(())
    }
}

/// The observers of an engine, with the failures they reported.
///
/// Engines call [`emit`](Self::emit) for every event; it contains panics and
/// errors so that no observer can break a run.
#[derive(Default, Clone)]
pub struct Observers {
    list: Vec<Arc<dyn Observer>>,
    errors: Arc<Mutex<Vec<String>>>,
    /// The first observer that [defers](Observer::defers): the one whose
    /// marks [`mark`](Self::mark) returns. Any other deferring observer is
    /// treated as immediate, so one mark is always enough.
    deferring: Option<usize>,
    /// Whether any observer wants `TaskStarted` events.
    starts: bool,
}

impl std::fmt::Debug for Observers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observers")
            .field("count", &self.list.len())
            .finish()
    }
}

impl Observers {
    /// Adds an observer.
    pub fn push(&mut self, observer: Arc<dyn Observer>) {
        if self.deferring.is_none() && observer.defers() {
            self.deferring = Some(self.list.len());
        }
        self.starts |= observer.wants_task_starts();
        self.list.push(observer);
    }

    /// Whether there is no observer (engines skip building events then).
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Delivers `event` to every observer in order; when this returns,
    /// what they made of it is durable.
    pub fn emit(&self, event: &WorkflowEvent) {
        for observer in &self.list {
            self.contain(event.kind(), || observer.on_event(event));
        }
    }

    /// Delivers `event` like [`emit`](Self::emit), except that the
    /// deferring observer (a journal on disk) may make it durable later:
    /// pass a [`mark`](Self::mark) taken afterwards to
    /// [`wait_durable`](Self::wait_durable) before anything that must not
    /// happen until then.
    pub fn emit_deferred(&self, event: &WorkflowEvent) {
        for (i, observer) in self.list.iter().enumerate() {
            if Some(i) == self.deferring {
                self.contain(event.kind(), || observer.on_event_deferred(event));
            } else {
                self.contain(event.kind(), || observer.on_event(event));
            }
        }
    }

    /// Whether any observer wants `TaskStarted` events (engines skip
    /// building them otherwise).
    pub fn wants_task_starts(&self) -> bool {
        self.starts
    }

    /// Whether an observer defers durability (then marks are worth taking).
    pub fn defers(&self) -> bool {
        self.deferring.is_some()
    }

    /// A mark covering every event delivered so far; 0 if no observer
    /// defers.
    pub fn mark(&self) -> u64 {
        match self.deferring.and_then(|i| self.list.get(i)) {
            Some(observer) => catch_unwind(AssertUnwindSafe(|| observer.mark())).unwrap_or(0),
            None => 0,
        }
    }

    /// Blocks until the events covered by `mark` are durable. A failure is
    /// recorded like any observer failure; the run goes on.
    pub fn wait_durable(&self, mark: u64) {
        if mark == 0 {
            return;
        }
        if let Some(observer) = self.deferring.and_then(|i| self.list.get(i)) {
            self.contain("durability", || observer.wait_durable(mark));
        }
    }

    /// Runs one observer call, keeping its error or panic.
    fn contain(&self, what: &str, call: impl FnOnce() -> Result<(), ObserverError>) {
        let message = match catch_unwind(AssertUnwindSafe(call)) {
            Ok(Ok(())) => return,
            Ok(Err(e)) => e.to_string(),
            Err(panic) => format!("observer panicked: {}", panic_message(&*panic)),
        };
        tracing::warn!(event = what, error = %message, "observer failed; the run goes on");
        if let Ok(mut errors) = self.errors.lock() {
            errors.push(message);
        }
    }

    /// The failures observers reported so far, oldest first.
    pub fn errors(&self) -> Vec<String> {
        self.errors.lock().map(|e| e.clone()).unwrap_or_default()
    }

    /// Forgets reported failures (engines call this when a run starts).
    pub fn clear_errors(&self) {
        if let Ok(mut errors) = self.errors.lock() {
            errors.clear();
        }
    }
}

/// The text of a panic payload (`&str` or `String`), or a placeholder.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

/// A broadcast channel of events: any number of subscribers, none of which
/// can slow the engine down.
///
/// A subscriber that falls more than `capacity` events behind loses the
/// oldest ones and receives `RecvError::Lagged(n)` telling how many.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use dagflow::event::{EventBus, Observer};
/// let bus = EventBus::new(1024);
/// let mut rx = bus.subscribe();
/// // attach `bus.clone()` to an engine as an observer, then:
/// drop(bus);
/// assert!(rx.recv().await.is_err()); // closed: no sender left
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct EventBus {
    sender: tokio::sync::broadcast::Sender<WorkflowEvent>,
}

impl EventBus {
    /// A bus that buffers up to `capacity` events per subscriber.
    pub fn new(capacity: usize) -> Self {
        let (sender, _) = tokio::sync::broadcast::channel(capacity.max(1));
        EventBus { sender }
    }

    /// A new receiver of every event emitted from now on.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<WorkflowEvent> {
        self.sender.subscribe()
    }

    /// Number of current subscribers.
    pub fn subscriber_count(&self) -> usize {
        self.sender.receiver_count()
    }
}

impl Observer for EventBus {
    fn on_event(&self, event: &WorkflowEvent) -> Result<(), ObserverError> {
        if self.sender.receiver_count() > 0 {
            // Err only means nobody listens right now, which is fine.
            let _ = self.sender.send(event.clone());
        }
        Ok(())
    }
}
