//! What a run knows about its tasks beyond the engine's events: the process
//! outcome of each attempt (exit code, output tails), and the facts `when:`
//! conditions read.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use dagflow::event::{Observer, ObserverError, WorkflowEvent};
use serde_json::Value;

use crate::spec::TaskFacts;

/// The process outcome of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    /// Exit code, `None` when killed by a signal.
    pub exit_code: Option<i32>,
    /// Signal that killed the process, if any.
    pub signal: Option<i32>,
    /// The end of stdout.
    pub stdout_tail: String,
    /// The end of stderr.
    pub stderr_tail: String,
    /// Whether stdout was longer than the result limit.
    pub stdout_truncated: bool,
}

#[derive(Default)]
struct Inner {
    attempts: HashMap<(String, u32), AttemptRecord>,
    last_attempt: HashMap<String, u32>,
    facts: BTreeMap<String, TaskFacts>,
    condition_errors: HashMap<String, String>,
}

/// Shared by a run's actions, conditions and the journal decorator; also an
/// [`Observer`] that turns final task events into condition facts.
#[derive(Clone, Default)]
pub struct RunState {
    inner: Arc<Mutex<Inner>>,
}

impl std::fmt::Debug for RunState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunState").finish_non_exhaustive()
    }
}

impl RunState {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every update is a single insert: a panic elsewhere cannot leave
        // the maps half-written.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records the process outcome of `task`'s attempt `attempt`.
    pub fn record_attempt(&self, task: &str, attempt: u32, record: AttemptRecord) {
        let mut inner = self.lock();
        inner.last_attempt.insert(task.to_owned(), attempt);
        inner.attempts.insert((task.to_owned(), attempt), record);
    }

    /// The process outcome of one attempt, if it ran to its end.
    pub fn attempt(&self, task: &str, attempt: u32) -> Option<AttemptRecord> {
        self.lock()
            .attempts
            .get(&(task.to_owned(), attempt))
            .cloned()
    }

    /// The process outcome of the last attempt of `task` that ran to its end.
    pub fn last_attempt(&self, task: &str) -> Option<AttemptRecord> {
        let inner = self.lock();
        let attempt = *inner.last_attempt.get(task)?;
        inner.attempts.get(&(task.to_owned(), attempt)).cloned()
    }

    /// Remembers that `task`'s condition could not be evaluated, so that
    /// its action fails with `message` instead of running.
    pub fn record_condition_error(&self, task: &str, message: String) {
        self.lock()
            .condition_errors
            .insert(task.to_owned(), message);
    }

    /// Why `task`'s condition could not be evaluated, if it could not.
    pub fn condition_error(&self, task: &str) -> Option<String> {
        self.lock().condition_errors.get(task).cloned()
    }

    /// The result of `task` if it completed (or was restored).
    pub fn result(&self, task: &str) -> Option<Value> {
        self.lock()
            .facts
            .get(task)
            .filter(|f| f.status == "completed")
            .map(|f| f.result.clone())
    }

    /// The facts of the given finished tasks (unfinished ones are left out).
    pub fn facts<'a>(
        &self,
        tasks: impl IntoIterator<Item = &'a str>,
    ) -> BTreeMap<String, TaskFacts> {
        let inner = self.lock();
        tasks
            .into_iter()
            .filter_map(|t| inner.facts.get(t).map(|f| (t.to_owned(), f.clone())))
            .collect()
    }

    fn set_fact(&self, task: &str, status: &str, result: Value) {
        let exit_code = self.last_attempt(task).and_then(|r| r.exit_code);
        self.lock().facts.insert(
            task.to_owned(),
            TaskFacts {
                status: status.to_owned(),
                result,
                exit_code,
            },
        );
    }
}

impl Observer for RunState {
    fn on_event(&self, event: &WorkflowEvent) -> Result<(), ObserverError> {
        match event {
            WorkflowEvent::TaskCompleted { task, result, .. }
            | WorkflowEvent::TaskRestored { task, result, .. } => {
                self.set_fact(task, "completed", Value::clone(result));
            }
            WorkflowEvent::TaskFailed { task, .. } => self.set_fact(task, "failed", Value::Null),
            WorkflowEvent::TaskSkipped { task, .. } => self.set_fact(task, "skipped", Value::Null),
            WorkflowEvent::TaskCancelled { task, .. } => {
                self.set_fact(task, "cancelled", Value::Null)
            }
            _ => {}
        }
        Ok(())
    }
}
