//! Dependency-driven scheduling.
//!
//! Every task has a countdown of unfinished dependencies. The task that
//! finishes decrements its dependents' countdowns itself; a dependent whose
//! countdown reaches zero is ready at that moment. One of them runs next on
//! the finishing task's driver, which saves any hand-off along chains. The
//! others go to the run's queue of ready tasks, or to batch drivers when
//! many are ready together (see `super::handoff`). (Until 2026-12-02 each
//! of them was a tokio task of its own: 49,800 spawns in a run of
//! `layered`, half its time.) There is no central loop and no level
//! barrier.
//!
//! A task that did not complete (failed, skipped, cancelled) sets a flag in
//! its dependents' countdowns, so a ready task knows in O(1) whether it must
//! be skipped. Skips and cancellations cascade through an explicit worklist,
//! never by recursion, so a 1,000,000-task chain uses constant stack.
//!
//! The run is over when no spawned task is alive (`active == 0`): every task
//! then has exactly one [`Finished`] record, because each becomes ready
//! exactly once and is then either run or settled.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crossbeam_utils::CachePadded;
use serde_json::Value;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;

use super::attempt::Execution;
use super::cancel::CancelHandle;
use super::drive::{drive_batch, new_handle, ActiveGuard, Ready, RunHandle, SPAWN_AT_MOST};
use super::finished::{Finished, Note, Outcome};
use super::handoff::HandOff;
use super::options::{TaskExtras, TaskTable};
use super::records::RecordTable;
use crate::engine::clock::TaskClock;
use crate::event::{Observers, StatusCounts, TaskStatus, WorkflowEvent};
use crate::graph::{Dag, TaskId};
use crate::thread_copy::thread_copy;

/// Set in a countdown when a dependency did not complete.
pub(crate) const BLOCKED: u32 = 1 << 31;
const COUNT: u32 = BLOCKED - 1;

/// Why the run stopped starting tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum StopKind {
    Running = 0,
    FailFast = 1,
    Cancelled = 2,
    TimedOut = 3,
}

/// Everything the tasks of one run share.
pub(crate) struct RunShared {
    pub(crate) dag: Arc<Dag>,
    pub(crate) tasks: Arc<TaskTable>,
    pub(crate) workflow: Arc<str>,
    pub(crate) run_id: Arc<str>,
    /// Given to actions; cancelled when the run is cancelled or times out.
    pub(crate) token: CancellationToken,
    /// Cancelled on any stop (fail-fast too): wakes retry waits.
    pub(crate) stop_token: CancellationToken,
    /// Per task, the countdown of unfinished dependencies: dense, because
    /// dependents are touched in random order.
    pending: Box<[AtomicU32]>,
    /// Whether any task was restored (before the run started): their
    /// countdowns never reach zero.
    restored: AtomicBool,
    /// Per task, how it ended; shared with the results and the report
    /// after the run, so nothing is copied.
    pub(crate) finished: Arc<RecordTable>,
    pub(crate) semaphore: Option<Semaphore>,
    pub(crate) observers: Option<Observers>,
    /// Per task, the durability mark its dependencies' ends must reach
    /// before it starts; only when an observer commits in the background.
    marks: Option<Box<[AtomicU64]>>,
    pub(crate) cancel_grace: Duration,
    /// Times quick tasks (a raw counter read instead of a clock call).
    pub(crate) clock: TaskClock,
    /// The wall clock and the counter at the start of the run: events are
    /// stamped from the counter (see [`now`](Self::now)).
    wall_start: SystemTime,
    raw_start: u64,
    fail_fast: bool,
    cancel: CancelHandle,
    stop: AtomicU8,
    stop_reason: Mutex<Option<Arc<str>>>,
    /// Spawned tasks alive. Every task bumps it on both workers: on a
    /// cache line of its own, so that its traffic does not slow down the
    /// reads of the fields around it (the stop flag, checked before every
    /// task, was a cache miss each time).
    pub(super) active: CachePadded<AtomicUsize>,
    pub(crate) done: Arc<Notify>,
    /// Where ready tasks wait for a worker (see [`HandOff`]).
    pub(super) hand_off: HandOff,
    closed: AtomicBool,
    dependency_failed: Arc<str>,
}

/// The settings a run is started with.
pub(crate) struct RunSetup {
    pub(crate) dag: Arc<Dag>,
    pub(crate) tasks: Arc<TaskTable>,
    pub(crate) workflow: Arc<str>,
    pub(crate) run_id: Arc<str>,
    pub(crate) cancel: CancelHandle,
    pub(crate) fail_fast: bool,
    pub(crate) max_concurrency: Option<usize>,
    pub(crate) observers: Option<Observers>,
    pub(crate) cancel_grace: Duration,
}

impl RunShared {
    pub(crate) fn new(setup: RunSetup) -> RunShared {
        let dag = setup.dag;
        let pending = dag.dependency_counts().map(AtomicU32::new).collect();
        let finished = Arc::new(RecordTable::new(dag.len()));
        let clock = TaskClock::get();
        let raw_start = clock.raw();
        let marks = setup
            .observers
            .as_ref()
            .filter(|o| o.defers())
            .map(|_| dag.ids().map(|_| AtomicU64::new(0)).collect());
        RunShared {
            token: setup.cancel.token().child_token(),
            stop_token: CancellationToken::new(),
            pending,
            restored: AtomicBool::new(false),
            finished,
            semaphore: setup
                .max_concurrency
                .map(|n| Semaphore::new(n.clamp(1, Semaphore::MAX_PERMITS))),
            observers: setup.observers,
            marks,
            cancel_grace: setup.cancel_grace,
            clock,
            wall_start: SystemTime::now(),
            raw_start,
            fail_fast: setup.fail_fast,
            cancel: setup.cancel,
            stop: AtomicU8::new(StopKind::Running as u8),
            stop_reason: Mutex::new(None),
            active: CachePadded::new(AtomicUsize::new(0)),
            done: Arc::new(Notify::new()),
            hand_off: HandOff::new(),
            closed: AtomicBool::new(false),
            dependency_failed: Arc::from("dependency failed"),
            dag,
            tasks: setup.tasks,
            workflow: setup.workflow,
            run_id: setup.run_id,
        }
    }

    pub(crate) fn extras(&self, id: TaskId) -> Option<&TaskExtras> {
        self.tasks.extras(id.index())
    }

    pub(crate) fn result(&self, id: TaskId) -> Option<&Value> {
        self.finished.get(id.index())?.output()
    }

    /// Starts loading what running `id` will touch into the cache (see
    /// `crate::prefetch`): its action, its record and, for the events
    /// observers get, its name. Called when it becomes ready.
    ///
    /// Also the record of its first dependent, which along a chain runs
    /// right after it: on a million-task chain the records are not in the
    /// cache, and the write of one that had to be fetched held up the next
    /// task's first atomic operation (which waits for earlier writes):
    /// 5 % of the run.
    #[inline]
    fn prefetch_task(&self, id: TaskId) {
        self.tasks.prefetch_action(id.index());
        self.finished.prefetch(id.index());
        if let Some(&next) = self.dag.dependents(id).first() {
            self.finished.prefetch(next.index());
        }
        if self.observers.is_some() {
            crate::prefetch::prefetch(&**self.dag.name_arc(id));
        }
    }

    /// Stores how task `id` ended (once).
    fn record(&self, id: TaskId, finished: Finished) {
        self.finished.set(id.index(), finished);
    }

    /// Tasks per final state, and the tasks without one (only after an
    /// engine bug). Call once no task runs any more.
    pub(crate) fn tally(&self) -> (StatusCounts, Vec<TaskId>) {
        let (counts, unfinished) = self.finished.tally();
        (
            counts,
            unfinished.into_iter().map(TaskId::from_index).collect(),
        )
    }

    // ---- stopping -------------------------------------------------------

    /// Stops starting tasks; the first reason wins.
    pub(crate) fn stop(&self, kind: StopKind, reason: impl FnOnce() -> String) {
        {
            let mut current = self.stop_reason.lock().unwrap_or_else(|e| e.into_inner());
            if current.is_none() {
                *current = Some(Arc::from(reason()));
                self.stop.store(kind as u8, Ordering::Release);
            }
        }
        if kind != StopKind::FailFast {
            self.token.cancel();
        }
        self.stop_token.cancel();
    }

    /// Whether no new task may start. Two atomic loads on the hot path.
    #[inline]
    pub(crate) fn is_stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire) != StopKind::Running as u8 || self.cancel.is_cancelled()
    }

    /// Why no new task may start, if so. Checked before every task: the
    /// check is inlined, the rest (a lock) is not, so that the common
    /// answer costs no call.
    #[inline]
    pub(crate) fn stop_reason(&self) -> Option<Arc<str>> {
        if !self.is_stopping() {
            return None;
        }
        self.stopping_reason()
    }

    #[cold]
    #[inline(never)]
    fn stopping_reason(&self) -> Option<Arc<str>> {
        if self.stop.load(Ordering::Acquire) == StopKind::Running as u8 {
            // The handle was cancelled before `run()` noticed.
            self.stop(StopKind::Cancelled, || "workflow cancelled".to_string());
        }
        self.stop_reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The stop kind (the first one set).
    pub(crate) fn stop_kind(&self) -> StopKind {
        match self.stop.load(Ordering::Acquire) {
            1 => StopKind::FailFast,
            2 => StopKind::Cancelled,
            3 => StopKind::TimedOut,
            _ => StopKind::Running,
        }
    }

    /// Whether running tasks are being cancelled (not merely fail-fast).
    pub(crate) fn is_cancelling(&self) -> bool {
        matches!(self.stop_kind(), StopKind::Cancelled | StopKind::TimedOut)
            || self.cancel.is_cancelled()
            || self.token.is_cancelled()
    }

    /// Completes once the run is cancelled and the grace period has passed:
    /// then a running attempt is abandoned.
    pub(crate) async fn cancelled_after_grace(&self) {
        self.token.cancelled().await;
        if !self.cancel_grace.is_zero() {
            tokio::time::sleep(self.cancel_grace).await;
        }
    }

    // ---- events ---------------------------------------------------------

    /// The time of an event: the run's start on the wall clock plus the
    /// counter's time since. A counter read costs a fraction of a clock
    /// call, and events stay in order if the wall clock is set meanwhile.
    pub(crate) fn now(&self) -> SystemTime {
        self.wall_start + Duration::from_nanos(self.clock.between(self.raw_start, self.clock.raw()))
    }

    /// Sends an event built by `make` to the observers, if there are any.
    pub(crate) fn emit(&self, make: impl FnOnce(Arc<str>) -> WorkflowEvent) {
        if let Some(observers) = &self.observers {
            if !self.closed.load(Ordering::Acquire) {
                observers.emit(&make(Arc::clone(&self.run_id)));
            }
        }
    }

    /// Sends `TaskStarted` for attempt `attempt` of `id`, if an observer
    /// wants it. (Inlined down to the test for observers: without any, the
    /// call frame of the event's construction was most of its cost.)
    #[inline]
    pub(crate) fn emit_started(&self, id: TaskId, attempt: u32) {
        if let Some(observers) = &self.observers {
            self.emit_started_to(observers, id, attempt);
        }
    }

    #[inline(never)]
    fn emit_started_to(&self, observers: &Observers, id: TaskId, attempt: u32) {
        if observers.wants_task_starts() && !self.closed.load(Ordering::Acquire) {
            observers.emit(&WorkflowEvent::TaskStarted {
                run_id: Arc::clone(&self.run_id),
                task: Arc::clone(self.dag.name_arc(id)),
                task_id: id,
                attempt,
                at: self.now(),
            });
        }
    }

    /// Sends a task's end to the observers; a journal on disk may commit it
    /// in the background (see [`wait_durable`](Self::wait_durable)).
    fn emit_deferred(&self, make: impl FnOnce(Arc<str>) -> WorkflowEvent) {
        if let Some(observers) = &self.observers {
            if !self.closed.load(Ordering::Acquire) {
                // A copy per worker thread: see `thread_copy`.
                observers.emit_deferred(&make(thread_copy(&self.run_id)));
            }
        }
    }

    /// Notes, as `id` becomes ready, a mark covering every task end
    /// journaled so far: its dependencies' ends were journaled before their
    /// countdowns fell to zero.
    fn take_mark(&self, id: TaskId) {
        if let (Some(marks), Some(observers)) = (&self.marks, &self.observers) {
            marks[id.index()].store(observers.mark(), Ordering::Relaxed);
        }
    }

    /// Waits until the ends of `id`'s dependencies are durable: called
    /// before it starts, so a crash never leaves a started task whose
    /// dependencies the journal does not show as ended. Usually they
    /// already are (the journal commits within milliseconds) and this costs
    /// one comparison in the observer.
    pub(crate) fn wait_durable(&self, id: TaskId) {
        if let (Some(marks), Some(observers)) = (&self.marks, &self.observers) {
            let mark = marks[id.index()].load(Ordering::Relaxed);
            if mark != 0 {
                observers.wait_durable(mark);
            }
        }
    }

    /// No event of this run may follow (abandoned attempts finish later).
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    /// Sends how `id` ended to the observers, if there are any.
    #[inline]
    fn emit_finished(&self, id: TaskId, finished: &mut Finished, last_attempt: Duration) {
        if self.observers.is_some() {
            self.emit_finished_now(id, finished, last_attempt);
        }
    }

    #[inline(never)]
    fn emit_finished_now(&self, id: TaskId, finished: &mut Finished, last_attempt: Duration) {
        let task = Arc::clone(self.dag.name_arc(id));
        let at = self.now();
        self.emit_deferred(|run_id| match finished.status {
            TaskStatus::Completed => WorkflowEvent::TaskCompleted {
                run_id,
                task,
                task_id: id,
                attempt: finished.attempts,
                duration: last_attempt,
                result: finished.share_output(),
                at,
            },
            TaskStatus::Failed => WorkflowEvent::TaskFailed {
                run_id,
                task,
                task_id: id,
                attempt: finished.attempts,
                duration: last_attempt,
                error: note_text(finished.note()),
                at,
            },
            TaskStatus::Skipped => WorkflowEvent::TaskSkipped {
                run_id,
                task,
                task_id: id,
                reason: note_text(finished.note()),
                at,
            },
            _ => WorkflowEvent::TaskCancelled {
                run_id,
                task,
                task_id: id,
                reason: note_text(finished.note()),
                at,
            },
        });
        finished.unshare_output();
    }

    // ---- scheduling -----------------------------------------------------

    /// Marks a restored task finished before the run starts. Its countdown
    /// gets an extra count that is never released, so it never becomes ready.
    pub(crate) fn restore(&self, id: TaskId, value: Value) {
        self.restored.store(true, Ordering::Relaxed);
        self.pending[id.index()].fetch_add(1, Ordering::Relaxed);
        let result = Arc::new(value);
        self.emit(|run_id| WorkflowEvent::TaskRestored {
            run_id,
            task: Arc::clone(self.dag.name_arc(id)),
            task_id: id,
            result: Arc::clone(&result),
            at: SystemTime::now(),
        });
        self.record(
            id,
            Finished {
                status: TaskStatus::Completed,
                attempts: 0,
                nanos: 0,
                outcome: Outcome::Restored(result),
            },
        );
        for &d in self.dag.dependents(id) {
            self.pending[d.index()].fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Starts every task whose countdown is zero (called once by `run()`,
    /// after restoring).
    ///
    /// The ready set is collected before anything runs: once tasks run,
    /// they bring other countdowns to zero and start those tasks themselves.
    /// The roots go to [`start_batch`](Self::start_batch): a root that
    /// finishes at its first poll (a quick in-process task) costs no tokio
    /// task at all, and one that waits (I/O, a timer, a concurrency permit)
    /// becomes a tokio task of its own from there. So roots start at once
    /// and in parallel, and 100,000 of them are not pushed through tokio's
    /// queues in one burst.
    ///
    /// One of the roots' drivers is returned for `run()` to poll itself
    /// rather than spawned: a small graph then runs on the caller's task
    /// with no hand-off to a worker thread and back.
    pub(crate) fn start(self: &Arc<Self>) -> Option<impl Future<Output = ()> + Send + 'static> {
        let ids: Vec<TaskId> = self
            .pending
            .iter()
            .enumerate()
            .filter(|(_, p)| p.load(Ordering::Relaxed) == 0)
            .map(|(i, _)| TaskId::from_index(i))
            .collect();
        if ids.is_empty() {
            // Nothing to run (every task was restored): the run is over.
            self.done.notify_one();
            return None;
        }
        let batch = self.spawn_drivers(ids, 1);
        Some(drive_batch(ActiveGuard::counted(new_handle(self)), batch))
    }

    /// Records how `id` ended, releases its dependents, and returns one
    /// ready dependent for the caller to run next.
    ///
    /// `handle` is the caller's (see [`RunHandle`]): dependents spawned
    /// one by one share it.
    pub(super) fn finish(handle: &RunHandle, id: TaskId, execution: Execution) -> Option<TaskId> {
        let run: &RunShared = handle;
        let Execution {
            mut finished,
            last_attempt,
            ..
        } = execution;
        let completed = finished.status == TaskStatus::Completed;
        if finished.status == TaskStatus::Failed && run.fail_fast {
            run.stop(StopKind::FailFast, || {
                format!("fail-fast: task `{}` failed", run.dag.name(id))
            });
        }
        run.emit_finished(id, &mut finished, last_attempt);
        run.record(id, finished);

        // The first ready dependent runs next on this task; the others
        // start in parallel. (Nothing is allocated along a chain.)
        let mut ready = Ready::default();
        let mut cascade: Vec<TaskId> = Vec::new();
        run.release_dependents(id, completed, &mut ready, &mut cascade);
        while let Some(t) = cascade.pop() {
            run.release_dependents(t, false, &mut ready, &mut cascade);
        }
        if ready.others.len() > SPAWN_AT_MOST {
            handle.start_batch(ready.others.into_vec());
        } else if !ready.others.is_empty() {
            handle.queue_ready(&ready.others);
        }
        ready.first
    }

    fn release_dependents(
        &self,
        id: TaskId,
        completed: bool,
        ready: &mut Ready,
        cascade: &mut Vec<TaskId>,
    ) {
        for &d in self.dag.dependents(id) {
            let pending = &self.pending[d.index()];
            // A task with one dependency waits for this one alone, and no
            // other task writes its countdown: no atomic write is needed
            // (along a chain, none at all). Unless tasks were restored,
            // whose countdowns hold an extra count.
            let before =
                if self.dag.dependencies(d).len() == 1 && !self.restored.load(Ordering::Relaxed) {
                    1 | if completed { 0 } else { BLOCKED }
                } else {
                    if !completed {
                        pending.fetch_or(BLOCKED, Ordering::Relaxed);
                    }
                    pending.fetch_sub(1, Ordering::AcqRel)
                };
            if before & COUNT != 1 {
                continue;
            }
            let mut settled = if let Some(reason) = self.stop_reason() {
                Finished::settled(TaskStatus::Cancelled, reason)
            } else if before & BLOCKED != 0 {
                Finished::settled(TaskStatus::Skipped, Arc::clone(&self.dependency_failed))
            } else {
                self.take_mark(d);
                self.prefetch_task(d);
                if ready.first.is_none() {
                    ready.first = Some(d);
                } else {
                    ready.others.push(d);
                }
                continue;
            };
            self.emit_finished(d, &mut settled, Duration::ZERO);
            self.record(d, settled);
            cascade.push(d);
        }
    }
}

/// The text of a note, for events and summaries.
pub(crate) fn note_text(note: Option<&Note>) -> String {
    match note {
        Some(Note::Error(e)) => e.to_string(),
        Some(Note::Reason(r)) => r.to_string(),
        Some(Note::Restored) => "restored from a previous run".to_string(),
        None => String::new(),
    }
}
