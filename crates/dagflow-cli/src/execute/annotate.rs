//! A journal store decorator that adds what only the command line knows to
//! the entries the engine's journal writes: each step attempt's exit code
//! and output tails, and the workflow file a run came from (for `resume`).

use std::sync::Arc;

use dagflow::journal::{
    EventType, JournalEntry, JournalStore, QueryFilter, RunRecord, StepTotals, StoreError,
    WorkflowTotals,
};
use serde_json::{Map, Value};

use super::state::RunState;

/// Forwards every call to `inner`; on `append`, enriches entries:
/// - `WorkflowStart`: the given run details (such as `file` and `cwd`);
/// - `StepComplete` / `StepRetry` of an attempt that ran a process:
///   `exit_code`, `signal`, `stdout_tail`, `stderr_tail`.
pub struct AnnotatingStore {
    inner: Arc<dyn JournalStore>,
    state: RunState,
    run_details: Map<String, Value>,
}

impl AnnotatingStore {
    /// Wraps `inner`, reading attempt outcomes from `state`.
    pub fn new(
        inner: Arc<dyn JournalStore>,
        state: RunState,
        run_details: Map<String, Value>,
    ) -> Self {
        AnnotatingStore {
            inner,
            state,
            run_details,
        }
    }

    fn annotate(&self, entry: &mut JournalEntry) {
        match entry.event_type {
            EventType::WorkflowStart => {
                for (k, v) in &self.run_details {
                    entry.details.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
            EventType::StepComplete | EventType::StepRetry => {
                let Some(step) = &entry.step_name else { return };
                let Some(record) = self.state.attempt(step, entry.attempt) else {
                    return;
                };
                let d = &mut entry.details;
                d.insert(
                    "exit_code".into(),
                    record.exit_code.map_or(Value::Null, Value::from),
                );
                if let Some(signal) = record.signal {
                    d.insert("signal".into(), Value::from(signal));
                }
                d.insert("stdout_tail".into(), Value::String(record.stdout_tail));
                d.insert("stderr_tail".into(), Value::String(record.stderr_tail));
                if record.stdout_truncated {
                    d.insert("stdout_truncated".into(), Value::Bool(true));
                }
            }
            _ => {}
        }
    }
}

impl JournalStore for AnnotatingStore {
    fn append(&self, entries: &[JournalEntry]) -> Result<(), StoreError> {
        let mut entries = entries.to_vec();
        for entry in &mut entries {
            self.annotate(entry);
        }
        self.inner.append(&entries)
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.inner.flush()
    }

    fn defers(&self) -> bool {
        self.inner.defers()
    }

    fn append_deferred(&self, mut entry: JournalEntry) -> Result<(), StoreError> {
        self.annotate(&mut entry);
        self.inner.append_deferred(entry)
    }

    fn mark(&self) -> u64 {
        self.inner.mark()
    }

    fn wait_durable(&self, mark: u64) -> Result<(), StoreError> {
        self.inner.wait_durable(mark)
    }

    fn entry_count(&self) -> Result<u64, StoreError> {
        self.inner.entry_count()
    }

    fn by_workflow_id(&self, workflow_id: &str) -> Result<Vec<JournalEntry>, StoreError> {
        self.inner.by_workflow_id(workflow_id)
    }

    fn by_event_type(&self, event_type: EventType) -> Result<Vec<JournalEntry>, StoreError> {
        self.inner.by_event_type(event_type)
    }

    fn recent(&self, n: usize) -> Result<Vec<JournalEntry>, StoreError> {
        self.inner.recent(n)
    }

    fn clear(&self) -> Result<(), StoreError> {
        self.inner.clear()
    }

    fn workflow_totals(&self, filter: &QueryFilter) -> Result<WorkflowTotals, StoreError> {
        self.inner.workflow_totals(filter)
    }

    fn step_totals(&self, filter: &QueryFilter) -> Result<Vec<StepTotals>, StoreError> {
        self.inner.step_totals(filter)
    }

    fn workflow_durations(
        &self,
        filter: &QueryFilter,
        last: Option<usize>,
    ) -> Result<Vec<f64>, StoreError> {
        self.inner.workflow_durations(filter, last)
    }

    fn runs(&self, filter: &QueryFilter, limit: usize) -> Result<Vec<RunRecord>, StoreError> {
        self.inner.runs(filter, limit)
    }

    fn workflow_names(&self) -> Result<Vec<String>, StoreError> {
        self.inner.workflow_names()
    }
}
