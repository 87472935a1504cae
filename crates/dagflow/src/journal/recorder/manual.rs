//! The specification's recording API: journaling runs of the sync runner
//! by hand, call by call, instead of by observing them.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::json;

use super::{ms, RunInfo, WorkflowJournal};
use crate::engine::runner::{StepResult, WorkflowResult, WorkflowRunner};
use crate::event::TaskStatus;
use crate::journal::entry::{EntryStatus, EventType, JournalEntry};
use crate::journal::store::StoreError;

/// The specification's recording API, for runs of the sync
/// [`WorkflowRunner`] journaled by hand instead of by observing.
impl WorkflowJournal {
    /// Records the start of run `workflow_id` of `runner` (its definition
    /// and fingerprint, as the observer does). A runner whose steps do not
    /// form a valid DAG cannot be journaled ([`StoreError::Invalid`]).
    pub fn on_workflow_start(
        &self,
        runner: &WorkflowRunner,
        workflow_id: &str,
    ) -> Result<(), StoreError> {
        let run_id: Arc<str> = Arc::from(workflow_id);
        self.remember_run(
            Arc::clone(&run_id),
            RunInfo {
                workflow: Arc::from(runner.name()),
                resumed_from: None,
            },
        );
        self.inner
            .store
            .append_entry(start_entry(runner, workflow_id, SystemTime::now())?)
    }

    /// Records the final state of one step of run `workflow_id`.
    pub fn on_step_complete(
        &self,
        workflow_id: &str,
        step: &StepResult<'_>,
    ) -> Result<(), StoreError> {
        let workflow = self.run_info(workflow_id).workflow;
        self.inner
            .store
            .append_entry(step_entry(workflow_id, &workflow, step, SystemTime::now()))
    }

    /// Records the end of a run.
    pub fn on_workflow_complete(&self, result: &WorkflowResult) -> Result<(), StoreError> {
        self.forget_run(&result.workflow_id);
        self.inner
            .store
            .append_entry(complete_entry(result, SystemTime::now()))
    }

    /// Records a whole finished run in one append: its start, every step
    /// (timestamped when each step ended) and its end.
    pub fn record_full_workflow(
        &self,
        runner: &WorkflowRunner,
        result: &WorkflowResult,
    ) -> Result<(), StoreError> {
        let mut entries = Vec::with_capacity(result.step_count() + 2);
        entries.push(start_entry(runner, &result.workflow_id, result.started_at)?);
        // Steps run one after another: each ends when the durations so far
        // have elapsed.
        let mut elapsed = Duration::ZERO;
        for step in result.steps() {
            elapsed += step.duration;
            entries.push(step_entry(
                &result.workflow_id,
                &result.workflow_name,
                &step,
                result.started_at + elapsed,
            ));
        }
        entries.push(complete_entry(result, result.started_at + result.duration));
        self.inner.store.append(&entries)
    }
}

fn start_entry(
    runner: &WorkflowRunner,
    workflow_id: &str,
    at: SystemTime,
) -> Result<JournalEntry, StoreError> {
    let definition = runner.definition().map_err(|e| {
        StoreError::Invalid(format!(
            "workflow `{}` cannot be journaled because its steps are invalid: {e}",
            runner.name()
        ))
    })?;
    Ok(JournalEntry::workflow_start(
        workflow_id,
        runner.name(),
        Arc::new(definition),
        None,
        at,
    ))
}

fn step_entry(
    workflow_id: &str,
    workflow: &str,
    step: &StepResult,
    at: SystemTime,
) -> JournalEntry {
    let status = match step.status {
        TaskStatus::Completed => EntryStatus::Completed,
        TaskStatus::Skipped => EntryStatus::Skipped,
        TaskStatus::Cancelled => EntryStatus::Cancelled,
        _ => EntryStatus::Failed,
    };
    let mut entry = JournalEntry::new(
        workflow_id,
        workflow,
        EventType::StepComplete,
        Some(Arc::from(step.name)),
        status,
        at,
    );
    entry.duration_ms = ms(step.duration);
    entry.attempt = match status {
        EntryStatus::Completed | EntryStatus::Failed => 1,
        _ => 0,
    };
    entry.error = step.error.as_ref().map(|e| e.to_string());
    entry.result = step.result.cloned();
    entry
}

fn complete_entry(result: &WorkflowResult, at: SystemTime) -> JournalEntry {
    let mut entry = JournalEntry::new(
        result.workflow_id.as_str(),
        result.workflow_name.as_str(),
        EventType::WorkflowComplete,
        None,
        if result.success {
            EntryStatus::Completed
        } else {
            EntryStatus::Failed
        },
        at,
    );
    entry.duration_ms = ms(result.duration);
    entry
        .details
        .insert("counts".into(), json!(result.counts()));
    entry
}
