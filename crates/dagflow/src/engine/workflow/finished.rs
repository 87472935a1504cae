//! How a task ended: the record the scheduler keeps per task.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::error::TaskError;
use crate::event::TaskStatus;

/// Extra information about how a task ended.
#[derive(Debug, Clone)]
pub(crate) enum Note {
    /// The error of the last attempt.
    Error(Arc<TaskError>),
    /// Why it was skipped or cancelled.
    Reason(Arc<str>),
    /// Its result came from [`Workflow::restore`](super::Workflow::restore).
    Restored,
}

/// What a task left behind: its result (owned, or shared with the events
/// that carried it, or restored from an earlier run), or why it has none.
/// One enum rather than a result and a note side by side: it fits in the
/// result's 32 bytes, which keeps a task's record at 48 bytes.
#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    Owned(Value),
    Shared(Arc<Value>),
    /// Its result came from [`Workflow::restore`](super::Workflow::restore).
    Restored(Arc<Value>),
    /// Why it has no result (boxed: most tasks complete).
    Note(Box<Note>),
}

/// How a task ended.
#[derive(Debug, Clone)]
pub(crate) struct Finished {
    pub(crate) status: TaskStatus,
    pub(crate) attempts: u32,
    /// From the start of the first attempt to the end of the last one, in
    /// nanoseconds (a `u64` keeps a record within one cache line).
    pub(crate) nanos: u64,
    pub(crate) outcome: Outcome,
}

/// What [`Finished::note`] gives for a restored task.
static RESTORED: Note = Note::Restored;

impl Finished {
    pub(crate) fn settled(status: TaskStatus, reason: Arc<str>) -> Finished {
        Finished {
            status,
            attempts: 0,
            nanos: 0,
            outcome: Outcome::Note(Box::new(Note::Reason(reason))),
        }
    }

    /// The task's result, if it has one.
    pub(crate) fn output(&self) -> Option<&Value> {
        match &self.outcome {
            Outcome::Owned(v) => Some(v),
            Outcome::Shared(v) | Outcome::Restored(v) => Some(v),
            Outcome::Note(_) => None,
        }
    }

    /// A shared handle on the result (converting an owned one once), or
    /// `null` for a task without one.
    pub(crate) fn share_output(&mut self) -> Arc<Value> {
        if let Outcome::Owned(v) = &mut self.outcome {
            self.outcome = Outcome::Shared(Arc::new(std::mem::take(v)));
        }
        match &self.outcome {
            Outcome::Shared(v) | Outcome::Restored(v) => Arc::clone(v),
            Outcome::Owned(_) | Outcome::Note(_) => Arc::new(Value::Null),
        }
    }

    /// Takes the result back from [`share_output`](Self::share_output)
    /// when no observer kept a handle on it, freeing the shared block at
    /// once. Kept until the run's end, one such small block per task sits
    /// between the short-lived blocks of running tasks and fragments the
    /// allocator's free lists (glibc then consolidates them before every
    /// aligned allocation of a tokio task: 7,000 times per journaled
    /// 100,000-task run instead of 900).
    pub(crate) fn unshare_output(&mut self) {
        if let Outcome::Shared(shared) = &mut self.outcome {
            if let Some(value) = Arc::get_mut(shared) {
                self.outcome = Outcome::Owned(std::mem::take(value));
            }
        }
    }

    pub(crate) fn note(&self) -> Option<&Note> {
        match &self.outcome {
            Outcome::Note(note) => Some(note),
            Outcome::Restored(_) => Some(&RESTORED),
            Outcome::Owned(_) | Outcome::Shared(_) => None,
        }
    }

    /// Whether the result came from an earlier run.
    pub(crate) fn is_restored(&self) -> bool {
        matches!(self.outcome, Outcome::Restored(_))
    }

    /// The task's duration.
    pub(crate) fn duration(&self) -> Duration {
        Duration::from_nanos(self.nanos)
    }
}

/// Nanoseconds of `d`, saturating (after 584 years).
pub(crate) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn completed(value: Value) -> Finished {
        Finished {
            status: TaskStatus::Completed,
            attempts: 1,
            nanos: 0,
            outcome: Outcome::Owned(value),
        }
    }

    #[test]
    fn a_result_nobody_kept_is_owned_again_and_a_kept_one_stays_shared() {
        let mut alone = completed(Value::from(7));
        drop(alone.share_output());
        alone.unshare_output();
        assert!(matches!(alone.outcome, Outcome::Owned(Value::Number(_))));
        assert_eq!(alone.output(), Some(&Value::from(7)));

        let mut kept = completed(Value::from("x"));
        let handle = kept.share_output();
        kept.unshare_output();
        assert!(matches!(kept.outcome, Outcome::Shared(_)));
        assert_eq!(kept.output(), Some(&Value::from("x")));
        assert_eq!(*handle, Value::from("x"));
    }
}
