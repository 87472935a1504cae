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

/// A task's result: owned, or shared with the events that carried it.
#[derive(Debug, Clone)]
pub(crate) enum Output {
    Owned(Value),
    Shared(Arc<Value>),
}

impl Output {
    pub(crate) fn get(&self) -> &Value {
        match self {
            Output::Owned(v) => v,
            Output::Shared(v) => v,
        }
    }

    /// A shared handle, converting an owned value once.
    pub(crate) fn share(&mut self) -> Arc<Value> {
        if let Output::Owned(v) = self {
            *self = Output::Shared(Arc::new(std::mem::take(v)));
        }
        match self {
            Output::Shared(v) => Arc::clone(v),
            Output::Owned(_) => Arc::new(Value::Null),
        }
    }
}

/// How a task ended.
#[derive(Debug, Clone)]
pub(crate) struct Finished {
    pub(crate) status: TaskStatus,
    pub(crate) attempts: u32,
    /// From the start of the first attempt to the end of the last one, in
    /// nanoseconds (a `u64` keeps a record within one cache line).
    pub(crate) nanos: u64,
    pub(crate) output: Option<Output>,
    /// Boxed: most tasks have none, and slots stay small.
    pub(crate) note: Option<Box<Note>>,
}

impl Finished {
    pub(crate) fn settled(status: TaskStatus, reason: Arc<str>) -> Finished {
        Finished {
            status,
            attempts: 0,
            nanos: 0,
            output: None,
            note: Some(Box::new(Note::Reason(reason))),
        }
    }

    pub(crate) fn note(&self) -> Option<&Note> {
        self.note.as_deref()
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
