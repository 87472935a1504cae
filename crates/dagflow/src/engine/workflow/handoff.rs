//! How ready tasks reach the runtime's workers.
//!
//! A finishing task runs its first ready dependent itself (see
//! `RunShared::finish`). The others, and the run's roots, go one of two
//! ways:
//!
//! - A few (at most [`SPAWN_AT_MOST`](super::drive::SPAWN_AT_MOST)) go to
//!   the run's queue, which helpers drain (see [`help`]). A helper is
//!   spawned when a task is queued and fewer helpers than runtime workers
//!   are alive, so an idle worker takes the task at once; a helper leaves
//!   when the queue is empty.
//! - More, and the roots, go to a batch: one driver per worker takes them
//!   in turn (see [`drive_batch`]).
//!
//! Either way a task is first polled in place, and becomes a tokio task of
//! its own only if it waits.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crossbeam_utils::CachePadded;

use super::drive::{drive_batch, help, new_handle, ActiveGuard, Batch};
use super::scheduler::RunShared;
use crate::graph::TaskId;

/// The run's queue of ready tasks and the count of helpers draining it.
pub(super) struct HandOff {
    /// Ready tasks no driver has taken yet.
    queue: CachePadded<Mutex<Vec<TaskId>>>,
    /// Helpers alive: at most one per runtime worker.
    helpers: CachePadded<AtomicUsize>,
    /// The runtime's worker threads (at least 1), read once per run.
    workers: usize,
}

impl HandOff {
    /// An empty queue, sized for the current runtime's workers.
    pub(super) fn new() -> Self {
        HandOff {
            queue: CachePadded::new(Mutex::new(Vec::new())),
            helpers: CachePadded::new(AtomicUsize::new(0)),
            workers: tokio::runtime::Handle::try_current()
                .map_or(1, |h| h.metrics().num_workers())
                .max(1),
        }
    }

    /// The next queued task, if any.
    pub(super) fn take(&self) -> Option<TaskId> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).pop()
    }

    /// A helper found the queue empty: it leaves, unless a task was queued
    /// meanwhile and it may stay (then `true`). The queue is checked after
    /// the helper stopped counting, so a task queued by someone who still
    /// saw it counted is never left behind.
    pub(super) fn helper_stays(&self) -> bool {
        self.helpers.fetch_sub(1, Ordering::SeqCst);
        let queued = !self
            .queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty();
        // If it may not stay, the helpers counted will take the task.
        queued && self.count_helper()
    }

    fn push(&self, ids: &[TaskId]) {
        self.queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(ids);
    }

    /// Counts one more helper unless one per worker is counted already.
    fn count_helper(&self) -> bool {
        let mut alive = self.helpers.load(Ordering::SeqCst);
        while alive < self.workers {
            match self.helpers.compare_exchange(
                alive,
                alive + 1,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => return true,
                Err(now) => alive = now,
            }
        }
        false
    }
}

impl RunShared {
    /// Starts tasks that became ready together (the roots, or the
    /// dependents one task released): one driver per runtime worker takes
    /// them in turn and polls each once in place; a task that finishes at
    /// that first poll costs no tokio task of its own.
    pub(super) fn start_batch(self: &Arc<Self>, ids: Vec<TaskId>) {
        self.spawn_drivers(ids, 0);
    }

    /// Spawns the drivers of a batch of `ids`, one per runtime worker, less
    /// the `kept` ones the caller runs itself; returns the batch.
    pub(super) fn spawn_drivers(self: &Arc<Self>, ids: Vec<TaskId>, kept: usize) -> Arc<Batch> {
        let workers = self.hand_off.workers;
        let batch = Arc::new(Batch {
            next: AtomicUsize::new(0),
            ids,
        });
        for _ in kept..workers.min(batch.ids.len()) {
            let guard = ActiveGuard::counted(new_handle(self));
            tokio::spawn(drive_batch(guard, Arc::clone(&batch)));
        }
        batch
    }

    /// Makes `ids` available to any worker: they go to the run's queue,
    /// and a helper is spawned to take them unless one per worker is
    /// alive already (each takes from the queue until it is empty).
    pub(super) fn queue_ready(self: &Arc<Self>, ids: &[TaskId]) {
        self.hand_off.push(ids);
        if self.hand_off.count_helper() {
            tokio::spawn(help(ActiveGuard::counted(new_handle(self))));
        }
    }
}
