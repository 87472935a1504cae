//! Driving tasks: the futures that run a task and then whichever dependent
//! it made ready, and the batch drivers that start tasks that became ready
//! together (see [`RunShared::start`]).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam_utils::CachePadded;

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

/// Keeps the run's `active` count up while a spawned task lives, even if it
/// panics; the last one to leave wakes `run()` after dropping its reference,
/// so `run()` can usually take the shared state back without copying.
pub(super) struct ActiveGuard(pub(super) Option<RunHandle>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        let Some(run) = self.0.take() else { return };
        if run.active.fetch_sub(1, Ordering::AcqRel) == 1 {
            let done = Arc::clone(&run.done);
            drop(run);
            done.notify_one();
        }
    }
}

/// Up to this many ready dependents are spawned one by one; more go to a
/// batch (see [`RunShared::start_batch`]), which costs a few spawns itself.
pub(super) const SPAWN_AT_MOST: usize = 8;

/// The dependents a finishing task made ready.
#[derive(Default)]
pub(super) struct Ready {
    pub(super) first: Option<TaskId>,
    pub(super) others: Vec<TaskId>,
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
    let Some(run) = guard.0.as_ref() else { return };
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
            run.active.fetch_add(1, Ordering::Relaxed);
            let mut task = Box::pin(drive(ActiveGuard(Some(Arc::clone(run))), id));
            // Polled here with this driver's waker; once spawned, the
            // runtime polls it again at once and it registers the task's
            // own waker.
            if futures::poll!(task.as_mut()).is_pending() {
                if first + i + 1 == last && batch.next.load(Ordering::Relaxed) >= len {
                    // Nothing left to start: go on with this task here.
                    task.await;
                    return;
                }
                tokio::spawn(task);
            }
            // Let other tasks (the spawned ones among them) run now and then.
            tokio::task::coop::consume_budget().await;
        }
    }
}

/// Spawns a tokio task that runs `id` (and whatever it makes ready next),
/// sharing the caller's handle.
pub(super) fn spawn(run: &RunHandle, id: TaskId) {
    run.active.fetch_add(1, Ordering::Relaxed);
    tokio::spawn(drive(ActiveGuard(Some(Arc::clone(run))), id));
}

/// Runs `first`, then whichever ready dependent each finished task hands
/// over, until none is left.
async fn drive(guard: ActiveGuard, first: TaskId) {
    let Some(run) = guard.0.as_ref() else { return };
    let mut id = first;
    loop {
        let execution = execute(run, id).await;
        match RunShared::finish(run, id, execution) {
            Some(next) => {
                id = next;
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
    use std::sync::OnceLock;

    /// Every spawned task holds one of these futures: keep it small.
    #[test]
    fn drive_future_stays_small() {
        let future = drive(ActiveGuard(None), TaskId::from_index(0));
        let size = std::mem::size_of_val(&future);
        eprintln!(
            "drive future: {size} bytes, record: {} bytes",
            std::mem::size_of::<OnceLock<Finished>>()
        );
        assert!(size <= 160, "the drive future grew to {size} bytes");
        assert!(std::mem::size_of::<OnceLock<Finished>>() <= 56);
    }
}
