//! Deferred appends: entries committed in the background, and the marks
//! that let a caller wait for them.
//!
//! An engine journals a task's end with a deferred append and goes on; the
//! writer commits it within [`LINGER`], together with whatever else arrived
//! meanwhile. Only before starting a task whose dependencies' ends are not
//! committed yet does the engine wait, and that wait asks the writer to
//! commit at once. So a run of many short tasks shares one commit among
//! several ends instead of paying one commit per task, while the guarantee
//! stays: no task starts before its dependencies' ends are durable.
//!
//! Positions: each deferred append gets the next position when it is
//! queued (under a lock, so queue order and position order agree). The
//! writer commits in queue order and records the highest position
//! committed; a mark is a position, and it is durable once the committed
//! position reaches it.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use crate::error::SqliteError;

/// How long the writer waits for more deferred appends before committing
/// the ones it has, unless someone waits for them.
///
/// A task that needs an end committed asks for it at once, so this bounds
/// only how late an end no task is waiting for reaches the file. Each
/// commit writes every page it touched (the entries' and the summaries'),
/// so longer groups write much less: for 1,000 quick shell tasks at 2 ms
/// the commits wrote about 9 MB of log in 210 transactions, at 20 ms
/// about 3.5 MB in 28, and the run with its teardown took 5-10 % less.
pub(crate) const LINGER: Duration = Duration::from_millis(20);

/// Positions of deferred appends: queued, committed, and the failures not
/// reported yet.
#[derive(Debug, Default)]
pub(crate) struct Deferred {
    /// Held while queueing, so positions follow queue order.
    order: Mutex<()>,
    /// The last position queued.
    queued: AtomicU64,
    /// The last position committed (or given up on, with a failure kept).
    committed: AtomicU64,
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// Failures of deferred appends, oldest first, until reported.
    failures: Vec<SqliteError>,
    /// Set when the writer thread ends: nothing more will be committed.
    writer_gone: bool,
}

impl Deferred {
    /// Queues one deferred append with `send`, giving it the next position.
    pub(crate) fn queue<E>(&self, send: impl FnOnce(u64) -> Result<(), E>) -> Result<(), E> {
        let _order = lock(&self.order);
        let position = self.queued.load(Ordering::Relaxed) + 1;
        send(position)?;
        self.queued.store(position, Ordering::Release);
        Ok(())
    }

    /// A mark covering every deferred append queued so far.
    pub(crate) fn mark(&self) -> u64 {
        self.queued.load(Ordering::Acquire)
    }

    /// Whether everything up to `mark` is committed.
    pub(crate) fn is_committed(&self, mark: u64) -> bool {
        self.committed.load(Ordering::Acquire) >= mark
    }

    /// Called by the writer after a commit (or a failed one) that ended
    /// with the append at `position`.
    pub(crate) fn committed(&self, position: u64, failure: Option<SqliteError>) {
        let mut state = lock(&self.state);
        if let Some(failure) = failure {
            state.failures.push(failure);
        }
        self.committed.fetch_max(position, Ordering::Release);
        drop(state);
        self.changed.notify_all();
    }

    /// Called when the writer thread ends.
    pub(crate) fn writer_gone(&self) {
        lock(&self.state).writer_gone = true;
        self.changed.notify_all();
    }

    /// Blocks until everything up to `mark` (at most what was queued) is
    /// committed, asking the writer to hurry with `hurry` first. Then
    /// reports the oldest failure not reported yet.
    pub(crate) fn wait(
        &self,
        mark: u64,
        hurry: impl FnOnce(),
        path: &Path,
    ) -> Result<(), SqliteError> {
        let mark = mark.min(self.mark());
        if !self.is_committed(mark) {
            hurry();
            let mut state = lock(&self.state);
            while !self.is_committed(mark) {
                if state.writer_gone {
                    return Err(SqliteError::WriterStopped {
                        path: path.to_path_buf(),
                    });
                }
                state = match self.changed.wait(state) {
                    Ok(state) => state,
                    Err(poisoned) => poisoned.into_inner(),
                };
            }
        }
        self.take_failure()
    }

    /// Reports (and forgets) the oldest failure not reported yet; the
    /// others follow on later calls.
    pub(crate) fn take_failure(&self) -> Result<(), SqliteError> {
        let mut state = lock(&self.state);
        if state.failures.is_empty() {
            Ok(())
        } else {
            Err(state.failures.remove(0))
        }
    }
}

/// Locks a mutex, recovering the data if a panicking thread poisoned it
/// (the counters and lists stay consistent either way).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn positions_follow_queue_order_and_waits_end_at_the_commit() {
        let deferred = Arc::new(Deferred::default());
        let mut sent = Vec::new();
        for _ in 0..3 {
            deferred
                .queue(|p| {
                    sent.push(p);
                    Ok::<(), ()>(())
                })
                .unwrap();
        }
        assert_eq!(sent, [1, 2, 3]);
        assert_eq!(deferred.mark(), 3);
        assert!(!deferred.is_committed(1));

        let committer = Arc::clone(&deferred);
        let path = std::path::PathBuf::from("j.db");
        let waited = std::thread::spawn(move || {
            // The "writer" commits once asked to hurry.
            committer.wait(
                2,
                || {
                    let c = Arc::clone(&committer);
                    std::thread::spawn(move || c.committed(2, None));
                },
                &path,
            )
        });
        assert!(waited.join().unwrap().is_ok());
        assert!(deferred.is_committed(2));
        assert!(!deferred.is_committed(3));
    }

    #[test]
    fn a_failed_send_takes_no_position_and_failures_are_reported_once() {
        let deferred = Deferred::default();
        assert_eq!(deferred.queue(|_| Err("closed")), Err("closed"));
        assert_eq!(deferred.mark(), 0);
        let path = std::path::PathBuf::from("j.db");
        deferred.committed(0, Some(SqliteError::WriterStopped { path: path.clone() }));
        assert!(matches!(
            deferred.wait(0, || {}, &path),
            Err(SqliteError::WriterStopped { .. })
        ));
        assert!(deferred.wait(0, || {}, &path).is_ok());
    }

    #[test]
    fn a_wait_ends_with_an_error_when_the_writer_is_gone() {
        let deferred = Deferred::default();
        deferred.queue(|_| Ok::<(), ()>(())).unwrap();
        deferred.writer_gone();
        let path = std::path::PathBuf::from("j.db");
        assert!(matches!(
            deferred.wait(1, || {}, &path),
            Err(SqliteError::WriterStopped { .. })
        ));
    }
}
