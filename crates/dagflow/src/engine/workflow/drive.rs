//! Driving tasks: the futures that run a task and then whichever dependent
//! it made ready, the batch drivers that start tasks that became ready
//! together (see [`RunShared::start`]), and the helpers that take ready
//! tasks from the run's queue (see `super::handoff`).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam_utils::CachePadded;
use smallvec::SmallVec;

use super::attempt::execute;
use super::scheduler::RunShared;
use crate::graph::TaskId;

/// A driver's reference to the run, shared by the tasks it starts.
///
/// Every task holds a reference to the run (its driver's guard and its
/// `TaskContext`) and takes it when it starts and drops it when it ends.
/// Were those clones of the run's own `Arc`, its count would be a cache
/// line both workers write several times per task. Each driver wraps
/// the run's `Arc` once, and its tasks clone that wrapper, whose count
/// mostly stays on the driver's core. The run's `Arc` sits on a cache line
/// apart from the wrapper's count, so reaching the run through a handle
/// never waits for that count's line.
pub(crate) type RunHandle = Arc<CachePadded<Arc<RunShared>>>;

/// A new handle on `run` for a driver of its own.
pub(super) fn new_handle(run: &Arc<RunShared>) -> RunHandle {
    Arc::new(CachePadded::new(Arc::clone(run)))
}

/// Holds a task's handle on the run and, when counted, keeps the run's
/// `active` count up while the task lives, even if it panics; the last
/// counted one to leave wakes `run()` after dropping its reference, so
/// `run()` can usually take the shared state back without copying.
pub(super) struct ActiveGuard {
    run: Option<RunHandle>,
    counted: bool,
}

impl ActiveGuard {
    /// Counts one more live task of `run` until dropped.
    pub(super) fn counted(run: RunHandle) -> ActiveGuard {
        run.active.fetch_add(1, Ordering::Relaxed);
        ActiveGuard {
            run: Some(run),
            counted: true,
        }
    }

    /// Holds `run` for a task polled inside its driver, whose own count
    /// covers it: a task that finishes at its first poll then costs no
    /// write to the count both workers share.
    fn uncounted(run: RunHandle) -> ActiveGuard {
        ActiveGuard {
            run: Some(run),
            counted: false,
        }
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        let Some(run) = self.run.take() else { return };
        if self.counted && run.active.fetch_sub(1, Ordering::AcqRel) == 1 {
            let done = Arc::clone(&run.done);
            drop(run);
            done.notify_one();
        }
    }
}

/// Up to this many ready dependents go to the run's queue; more go to a
/// batch (see [`RunShared::start_batch`]), which costs a few spawns itself.
pub(super) const SPAWN_AT_MOST: usize = 8;

/// The dependents a finishing task made ready.
#[derive(Default)]
pub(super) struct Ready {
    pub(super) first: Option<TaskId>,
    /// Inline up to the queue's share, so that a finish that makes a few
    /// tasks ready allocates nothing (on `layered`, about half the finishes
    /// do).
    pub(super) others: SmallVec<[TaskId; SPAWN_AT_MOST]>,
}

/// Tasks that became ready together, taken in turn by their drivers.
pub(super) struct Batch {
    pub(super) next: AtomicUsize,
    pub(super) ids: Vec<TaskId>,
}

/// Takes tasks of `batch` one at a time and runs each in place until it
/// first waits; then it goes on as a tokio task of its own (see
/// [`RunShared::start_batch`]), except the last one, which the driver
/// carries on with itself.
pub(super) async fn drive_batch(guard: ActiveGuard, batch: Arc<Batch>) {
    let Some(run) = guard.run.as_ref() else {
        return;
    };
    let len = batch.ids.len();
    // Tasks are taken a few at a time (a shared counter bumped per task
    // would bounce between the drivers' cores), but few enough that every
    // driver gets some.
    let step = (len / 64).clamp(1, 32);
    loop {
        let first = batch.next.fetch_add(step, Ordering::Relaxed);
        if first >= len {
            break;
        }
        let last = (first + step).min(len);
        for (i, &id) in batch.ids[first..last].iter().enumerate() {
            if let Some(task) = poll_in_place(run, id).await {
                if first + i + 1 == last && batch.next.load(Ordering::Relaxed) >= len {
                    // Nothing left to start: go on with this task here.
                    task.await;
                    return;
                }
                spawn_waiting(run, task);
            }
            // Let other tasks (the spawned ones among them) run now and then.
            tokio::task::coop::consume_budget().await;
        }
    }
}

/// Takes tasks from the run's queue (see `super::handoff`) and runs
/// each in place until it first waits, like [`drive_batch`]; leaves when
/// the queue is empty.
pub(super) async fn help(guard: ActiveGuard) {
    let Some(run) = guard.run.as_ref() else {
        return;
    };
    loop {
        let Some(id) = run.hand_off.take() else {
            if run.hand_off.helper_stays() {
                continue;
            }
            return;
        };
        if let Some(task) = poll_in_place(run, id).await {
            spawn_waiting(run, task);
        }
        tokio::task::coop::consume_budget().await;
    }
}

/// Starts `id` (and whatever it makes ready next) in the caller's task and
/// polls it once; gives it back if it waits.
async fn poll_in_place(
    run: &RunHandle,
    id: TaskId,
) -> Option<Pin<Box<impl Future<Output = ()> + Send + 'static>>> {
    let mut task = Box::pin(drive(ActiveGuard::uncounted(Arc::clone(run)), id));
    // Polled here with the caller's waker; once spawned, the runtime polls
    // it again at once and it registers the task's own waker.
    futures::poll!(task.as_mut()).is_pending().then_some(task)
}

/// Lets a task that waits live on as a tokio task of its own, counted
/// from here (it no longer lives inside its starter).
fn spawn_waiting<F>(run: &RunHandle, task: Pin<Box<F>>)
where
    F: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(counted(ActiveGuard::counted(Arc::clone(run)), task));
}

/// Runs `task` to its end under `guard`'s count, then drops the task before
/// the count (the task holds a reference to the run too).
async fn counted<F: Future<Output = ()>>(guard: ActiveGuard, mut task: Pin<Box<F>>) {
    task.as_mut().await;
    drop(task);
    drop(guard);
}

/// Runs `first`, then whichever ready dependent each finished task hands
/// over, until none is left.
async fn drive(guard: ActiveGuard, first: TaskId) {
    let Some(run) = guard.run.as_ref() else {
        return;
    };
    let mut id = first;
    let mut since = None;
    loop {
        let execution = execute(run, id, since).await;
        let ended = execution.ended;
        match RunShared::finish(run, id, execution) {
            Some(next) => {
                id = next;
                // The next task's clock starts where this one's stopped,
                // unless observers ran in between or the driver yields
                // below (the budget is checked before it is consumed).
                let carries_on = tokio::task::coop::has_budget_remaining();
                since = ended.filter(|_| carries_on && run.observers.is_none());
                // Yield now and then so a long chain cannot hog a worker.
                tokio::task::coop::consume_budget().await;
            }
            None => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::workflow::finished::Finished;

    /// Every spawned task holds one of these futures: keep it small.
    #[test]
    fn drive_future_stays_small() {
        let future = drive(
            ActiveGuard {
                run: None,
                counted: false,
            },
            TaskId::from_index(0),
        );
        let size = std::mem::size_of_val(&future);
        eprintln!(
            "drive future: {size} bytes, record: {} bytes",
            std::mem::size_of::<Finished>()
        );
        // 168: 152 until the clock reading a driver carries from one task to
        // the next (8 bytes in `drive`, 8 in `execute`).
        assert!(size <= 168, "the drive future grew to {size} bytes");
        assert!(std::mem::size_of::<Finished>() <= 48);
    }
}
