//! `WorkflowJournal`: the observer that writes runs into a store.
//!
//! Attached to either engine, it turns each [`WorkflowEvent`] into at most
//! one [`JournalEntry`] and appends it at once (write-ahead), so a crash
//! leaves a truthful history up to the last event:
//!
//! | event | entry | status | fields |
//! | --- | --- | --- | --- |
//! | `WorkflowStarted` | `WorkflowStart` | `Started` | the definition (shared); details: `fingerprint`, `resumed_from` (see [`JournalEntry::workflow_start`]) |
//! | `TaskStarted` | nothing | | |
//! | `TaskRetrying` | `StepRetry` | `Failed` | attempt, duration, error; details `delay_ms` |
//! | `TaskCompleted` | `StepComplete` | `Completed` | attempt, duration, result |
//! | `TaskRestored` | `StepComplete` | `Completed` | attempt 0, duration 0, result; details `restored: true`, `reused_from` |
//! | `TaskFailed` | `StepComplete` | `Failed` | attempt, duration, error |
//! | `TaskSkipped` | `StepComplete` | `Skipped` | error = reason |
//! | `TaskCancelled` | `StepComplete` | `Cancelled` | error = reason |
//! | `WorkflowCompleted` | `WorkflowComplete` | `Completed` if it succeeded, else `Failed` if a task failed, else `Cancelled` if a task was cancelled, else `Failed` | duration; details `counts` |
//!
//! So a run of N steps journals 1 start + N step entries + 1 complete entry,
//! plus one `StepRetry` per retried attempt.

mod manual;

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde_json::{json, Value};

use super::entry::{EntryStatus, EventType, JournalEntry};
use super::memory::MemoryStore;
use super::store::{JournalStore, StoreError};
use crate::event::{Observer, ObserverError, WorkflowEvent};
use crate::thread_copy::thread_copy;

/// Records runs into a [`JournalStore`].
///
/// Cheap to clone (clones share the store and state), so one journal can be
/// attached to several engines and still be queried afterwards:
///
/// ```
/// use dagflow::engine::runner::{WorkflowRunner, WorkflowStep, WorkflowContext};
/// use dagflow::journal::{EventType, WorkflowJournal};
/// use std::sync::Arc;
///
/// let journal = WorkflowJournal::in_memory();
/// let mut runner = WorkflowRunner::new("hello");
/// runner.add_step(WorkflowStep::new("greet"))?;
/// runner.observe(Arc::new(journal.clone()));
/// let result = runner.run(WorkflowContext::new())?;
///
/// let entries = journal.by_workflow_id(&result.workflow_id)?;
/// let kinds: Vec<EventType> = entries.iter().map(|e| e.event_type).collect();
/// assert_eq!(kinds, [EventType::WorkflowStart, EventType::StepComplete, EventType::WorkflowComplete]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Store failures are never dropped: the observer call returns an
/// [`ObserverError`] (which the engine records in its summary) and the
/// journal keeps the [`StoreError`] for [`take_errors`](Self::take_errors).
#[derive(Clone)]
pub struct WorkflowJournal {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn JournalStore>,
    /// Read-locked on every task event (the common case: the run of the
    /// previous event), write-locked when runs start, end or alternate.
    runs: RwLock<RunTable>,
    errors: Mutex<Vec<StoreError>>,
}

/// What the journal remembers about a live run: task events carry only the
/// run id, entries also need the workflow name.
#[derive(Clone)]
pub(crate) struct RunInfo {
    pub(crate) workflow: Arc<str>,
    pub(crate) resumed_from: Option<Arc<str>>,
}

#[derive(Default)]
struct RunTable {
    /// The run of the previous event: nearly every event hits it, and the
    /// pointer comparison avoids hashing the id.
    last: Option<(Arc<str>, RunInfo)>,
    others: HashMap<Arc<str>, RunInfo>,
}

impl RunTable {
    /// The run of the previous event, if it is `run_id`.
    fn recent(&self, run_id: &str) -> Option<RunInfo> {
        match &self.last {
            Some((id, info)) if **id == *run_id => Some(info.clone()),
            _ => None,
        }
    }

    fn get(&mut self, run_id: &str) -> Option<RunInfo> {
        if let Some((id, info)) = &self.last {
            if **id == *run_id {
                return Some(info.clone());
            }
        }
        let (id, info) = self.others.remove_entry(run_id)?;
        if let Some((previous_id, previous)) = self.last.take() {
            self.others.insert(previous_id, previous);
        }
        self.last = Some((id, info.clone()));
        Some(info)
    }

    fn insert(&mut self, run_id: Arc<str>, info: RunInfo) {
        if let Some((id, previous)) = self.last.take() {
            if id != run_id {
                self.others.insert(id, previous);
            }
        }
        self.others.remove(&run_id);
        self.last = Some((run_id, info));
    }

    fn remove(&mut self, run_id: &str) {
        if self.last.as_ref().is_some_and(|(id, _)| **id == *run_id) {
            self.last = None;
        } else {
            self.others.remove(run_id);
        }
    }
}

/// The run a thread journaled last, and its workflow name.
struct SeenRun {
    /// The journal (its shared state's address) that saw it.
    journal: usize,
    run_id: Arc<str>,
    workflow: Arc<str>,
}

thread_local! {
    static LAST_RUN: RefCell<Option<SeenRun>> = const { RefCell::new(None) };
}

impl std::fmt::Debug for WorkflowJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkflowJournal").finish_non_exhaustive()
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl WorkflowJournal {
    /// A journal writing into `store`.
    pub fn new(store: Arc<dyn JournalStore>) -> Self {
        WorkflowJournal {
            inner: Arc::new(Inner {
                store,
                runs: RwLock::new(RunTable::default()),
                errors: Mutex::new(Vec::new()),
            }),
        }
    }

    /// A journal with a fresh [`MemoryStore`].
    pub fn in_memory() -> Self {
        Self::new(Arc::new(MemoryStore::new()))
    }

    /// The store entries go to (for analytics and queries).
    pub fn store(&self) -> &Arc<dyn JournalStore> {
        &self.inner.store
    }

    /// Every entry of run `workflow_id`, in journal order.
    pub fn by_workflow_id(&self, workflow_id: &str) -> Result<Vec<JournalEntry>, StoreError> {
        self.inner.store.by_workflow_id(workflow_id)
    }

    /// Every entry of one type, in journal order.
    pub fn by_event_type(&self, event_type: EventType) -> Result<Vec<JournalEntry>, StoreError> {
        self.inner.store.by_event_type(event_type)
    }

    /// The last `n` entries, oldest first.
    pub fn recent(&self, n: usize) -> Result<Vec<JournalEntry>, StoreError> {
        self.inner.store.recent(n)
    }

    /// Number of entries in the store.
    pub fn entry_count(&self) -> Result<u64, StoreError> {
        self.inner.store.entry_count()
    }

    /// Removes every entry from the store and forgets live runs and kept
    /// errors.
    pub fn clear(&self) -> Result<(), StoreError> {
        self.inner.store.clear()?;
        if let Ok(mut runs) = self.inner.runs.write() {
            *runs = RunTable::default();
        }
        if let Ok(mut errors) = self.inner.errors.lock() {
            errors.clear();
        }
        Ok(())
    }

    /// The store failures met while observing runs, oldest first; the
    /// journal forgets them.
    pub fn take_errors(&self) -> Vec<StoreError> {
        match self.inner.errors.lock() {
            Ok(mut errors) => std::mem::take(&mut *errors),
            Err(_) => Vec::new(),
        }
    }

    /// The message of the most recent store failure not yet taken.
    pub fn last_error(&self) -> Option<String> {
        self.inner
            .errors
            .lock()
            .ok()
            .and_then(|errors| errors.last().map(|e| e.to_string()))
    }

    pub(crate) fn remember_run(&self, run_id: Arc<str>, info: RunInfo) {
        if let Ok(mut runs) = self.inner.runs.write() {
            runs.insert(run_id, info);
        }
    }

    pub(crate) fn forget_run(&self, run_id: &str) {
        if let Ok(mut runs) = self.inner.runs.write() {
            runs.remove(run_id);
        }
    }

    /// The workflow name and resume origin of a live run; an empty name for
    /// a run the journal did not see start (attached mid-run).
    pub(crate) fn run_info(&self, run_id: &str) -> RunInfo {
        let recent = self
            .inner
            .runs
            .read()
            .ok()
            .and_then(|runs| runs.recent(run_id));
        recent
            .or_else(|| {
                self.inner
                    .runs
                    .write()
                    .ok()
                    .and_then(|mut runs| runs.get(run_id))
            })
            .unwrap_or_else(|| RunInfo {
                workflow: Arc::from(""),
                resumed_from: None,
            })
    }

    /// The workflow name of run `run_id`, as this thread's copy.
    ///
    /// Every step entry needs it: each thread remembers the last run it
    /// journaled, so the common case takes no lock and touches no reference
    /// count another thread touches (see `thread_copy`).
    fn workflow_of(&self, run_id: &Arc<str>) -> Arc<str> {
        let journal = Arc::as_ptr(&self.inner) as usize;
        let cached = LAST_RUN.try_with(|last| {
            let last = last.borrow();
            match &*last {
                Some(seen) if seen.journal == journal && *seen.run_id == **run_id => {
                    Some(Arc::clone(&seen.workflow))
                }
                _ => None,
            }
        });
        if let Ok(Some(workflow)) = cached {
            return workflow;
        }
        let workflow = thread_copy(&self.run_info(run_id).workflow);
        let _ = LAST_RUN.try_with(|last| {
            *last.borrow_mut() = Some(SeenRun {
                journal,
                run_id: thread_copy(run_id),
                workflow: Arc::clone(&workflow),
            });
        });
        workflow
    }

    /// The entry an event maps to (see the module documentation), updating
    /// the table of live runs.
    fn entry_for(&self, event: &WorkflowEvent) -> Option<JournalEntry> {
        let step_entry = |run_id: &Arc<str>, task: &Arc<str>, event_type, status, at| {
            JournalEntry::new(
                Arc::clone(run_id),
                self.workflow_of(run_id),
                event_type,
                Some(Arc::clone(task)),
                status,
                at,
            )
        };
        let entry = match event {
            WorkflowEvent::WorkflowStarted {
                run_id,
                workflow,
                definition,
                resumed_from,
                at,
            } => {
                self.remember_run(
                    Arc::clone(run_id),
                    RunInfo {
                        workflow: Arc::clone(workflow),
                        resumed_from: resumed_from.clone(),
                    },
                );
                JournalEntry::workflow_start(
                    Arc::clone(run_id),
                    Arc::clone(workflow),
                    Arc::clone(definition),
                    resumed_from.as_deref(),
                    *at,
                )
            }
            WorkflowEvent::TaskStarted { .. } => return None,
            WorkflowEvent::TaskRetrying {
                run_id,
                task,
                attempt,
                delay,
                duration,
                error,
                at,
                ..
            } => {
                let mut e =
                    step_entry(run_id, task, EventType::StepRetry, EntryStatus::Failed, *at);
                e.attempt = *attempt;
                e.duration_ms = ms(*duration);
                e.error = Some(error.clone());
                e.details.insert("delay_ms".into(), json!(ms(*delay)));
                e
            }
            WorkflowEvent::TaskCompleted {
                run_id,
                task,
                attempt,
                duration,
                result,
                at,
                ..
            } => {
                let mut e = step_entry(
                    run_id,
                    task,
                    EventType::StepComplete,
                    EntryStatus::Completed,
                    *at,
                );
                e.attempt = *attempt;
                e.duration_ms = ms(*duration);
                e.result = Some(Value::clone(result));
                e
            }
            WorkflowEvent::TaskRestored {
                run_id,
                task,
                result,
                at,
                ..
            } => {
                let info = self.run_info(run_id);
                let mut e = JournalEntry::new(
                    Arc::clone(run_id),
                    Arc::clone(&info.workflow),
                    EventType::StepComplete,
                    Some(Arc::clone(task)),
                    EntryStatus::Completed,
                    *at,
                );
                e.result = Some(Value::clone(result));
                e.details.insert("restored".into(), Value::Bool(true));
                e.details.insert(
                    "reused_from".into(),
                    info.resumed_from
                        .as_deref()
                        .map_or(Value::Null, Value::from),
                );
                e
            }
            WorkflowEvent::TaskFailed {
                run_id,
                task,
                attempt,
                duration,
                error,
                at,
                ..
            } => {
                let mut e = step_entry(
                    run_id,
                    task,
                    EventType::StepComplete,
                    EntryStatus::Failed,
                    *at,
                );
                e.attempt = *attempt;
                e.duration_ms = ms(*duration);
                e.error = Some(error.clone());
                e
            }
            WorkflowEvent::TaskSkipped {
                run_id,
                task,
                reason,
                at,
                ..
            }
            | WorkflowEvent::TaskCancelled {
                run_id,
                task,
                reason,
                at,
                ..
            } => {
                let status = if matches!(event, WorkflowEvent::TaskSkipped { .. }) {
                    EntryStatus::Skipped
                } else {
                    EntryStatus::Cancelled
                };
                let mut e = step_entry(run_id, task, EventType::StepComplete, status, *at);
                e.error = Some(reason.clone());
                e
            }
            WorkflowEvent::WorkflowCompleted {
                run_id,
                workflow,
                success,
                duration,
                counts,
                at,
            } => {
                self.forget_run(run_id);
                let status = if *success {
                    EntryStatus::Completed
                } else if counts.failed > 0 {
                    // A failure that stopped the rest (fail-fast) is still a failure.
                    EntryStatus::Failed
                } else if counts.cancelled > 0 {
                    EntryStatus::Cancelled
                } else {
                    EntryStatus::Failed
                };
                let mut e = JournalEntry::new(
                    Arc::clone(run_id),
                    Arc::clone(workflow),
                    EventType::WorkflowComplete,
                    None,
                    status,
                    *at,
                );
                e.duration_ms = ms(*duration);
                e.details.insert("counts".into(), json!(counts));
                e
            }
        };
        Some(entry)
    }

    /// Keeps a store failure for [`take_errors`](Self::take_errors) and turns
    /// it into the observer's error.
    fn keep_error(&self, context: &str, error: StoreError) -> ObserverError {
        let observer_error = ObserverError::new(
            "journal",
            format!(
                "could not journal {context}: {error}; the entry is lost, check the journal store"
            ),
        );
        tracing::error!(error = %error, "journal write failed while recording {context}");
        if let Ok(mut errors) = self.inner.errors.lock() {
            errors.push(error);
        }
        observer_error
    }
}

impl WorkflowJournal {
    /// Journals `event` with `append`, turning a failure into the
    /// observer's error.
    fn record(
        &self,
        event: &WorkflowEvent,
        append: impl FnOnce(&dyn JournalStore, JournalEntry) -> Result<(), StoreError>,
    ) -> Result<(), ObserverError> {
        let Some(entry) = self.entry_for(event) else {
            return Ok(());
        };
        append(&*self.inner.store, entry).map_err(|e| {
            let what = match event.task() {
                Some(task) => format!(
                    "{} of task `{task}` in run {}",
                    event.kind(),
                    event.run_id()
                ),
                None => format!("{} of run {}", event.kind(), event.run_id()),
            };
            self.keep_error(&what, e)
        })
    }
}

impl Observer for WorkflowJournal {
    fn on_event(&self, event: &WorkflowEvent) -> Result<(), ObserverError> {
        self.record(event, |store, entry| store.append_entry(entry))
    }

    fn wants_task_starts(&self) -> bool {
        false
    }

    fn defers(&self) -> bool {
        self.inner.store.defers()
    }

    fn on_event_deferred(&self, event: &WorkflowEvent) -> Result<(), ObserverError> {
        self.record(event, |store, entry| store.append_deferred(entry))
    }

    fn mark(&self) -> u64 {
        self.inner.store.mark()
    }

    fn wait_durable(&self, mark: u64) -> Result<(), ObserverError> {
        self.inner
            .store
            .wait_durable(mark)
            .map_err(|e| self.keep_error("the end of a task (committed in the background)", e))
    }
}
