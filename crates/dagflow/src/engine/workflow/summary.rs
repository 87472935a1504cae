//! The outcome of a run, per task and overall.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::TaskError;
use super::finished::Note;
use super::records::RecordTable;
use super::scheduler::note_text;
use crate::event::{StatusCounts, TaskStatus};
use crate::graph::Dag;

/// What [`Workflow::summary`](super::Workflow::summary) reports: the
/// specification's `get_summary`, serialisable to JSON.
///
/// Durations serialise as floating-point milliseconds (`elapsed_ms`, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowSummary {
    /// The workflow's name.
    pub name: String,
    /// The id of the run, `None` before the first run.
    pub run_id: Option<String>,
    /// The run this one resumed, if any.
    pub resumed_from: Option<String>,
    /// True when every task completed or was skipped by its own condition,
    /// and the run was neither cancelled nor timed out.
    pub success: bool,
    /// Number of tasks.
    pub total_tasks: usize,
    /// Tasks per final state.
    pub counts: StatusCounts,
    /// Why the run stopped starting tasks early ("fail-fast: task `x`
    /// failed", "workflow cancelled", ...), if it did.
    pub stopped: Option<String>,
    /// Sum of the tasks' durations.
    #[serde(rename = "total_execution_time_ms", with = "millis")]
    pub total_execution_time: Duration,
    /// Wall time of the run.
    #[serde(rename = "elapsed_ms", with = "millis")]
    pub elapsed: Duration,
    /// Per task, by name.
    pub tasks: BTreeMap<String, TaskSummary>,
    /// Errors and panics of observers during the run (they never stop it).
    pub observer_errors: Vec<String>,
}

/// How one task ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSummary {
    /// Final state (`pending` before the first run).
    pub status: TaskStatus,
    /// Attempts made (0 when it never started).
    pub attempts: u32,
    /// From the start of its first attempt to the end of its last one,
    /// retry waits included.
    #[serde(rename = "duration_ms", with = "millis")]
    pub duration: Duration,
    /// The error of the last attempt, for failed tasks.
    pub error: Option<String>,
    /// Why it was skipped or cancelled.
    pub reason: Option<String>,
    /// Whether the result was restored from a previous run.
    pub restored: bool,
}

impl WorkflowSummary {
    /// The summary of task `name`.
    pub fn task(&self, name: &str) -> Option<&TaskSummary> {
        self.tasks.get(name)
    }
}

/// What the workflow keeps of its last run to answer `summary()`.
#[derive(Debug)]
pub(crate) struct RunReport {
    pub(crate) run_id: Arc<str>,
    pub(crate) resumed_from: Option<Arc<str>>,
    pub(crate) dag: Arc<Dag>,
    /// Per task; results were moved out into the results map.
    pub(crate) records: Arc<RecordTable>,
    pub(crate) counts: StatusCounts,
    pub(crate) elapsed: Duration,
    pub(crate) stopped: Option<String>,
    pub(crate) interrupted: bool,
    pub(crate) observer_errors: Vec<String>,
}

impl RunReport {
    /// Success: nothing failed or was cancelled and the run was not
    /// interrupted (a skip for a failed dependency implies a failure).
    pub(crate) fn success(&self) -> bool {
        !self.interrupted && self.counts.failed == 0 && self.counts.cancelled == 0
    }

    pub(crate) fn error_of(&self, index: usize) -> Option<&TaskError> {
        match self.records.get(index)?.note()? {
            Note::Error(e) => Some(e),
            _ => None,
        }
    }

    pub(crate) fn summary(&self, name: &str) -> WorkflowSummary {
        let mut total = Duration::ZERO;
        let mut tasks = BTreeMap::new();
        for (t, record) in self.dag.ids().zip(self.records.iter()) {
            let task = match record {
                Some(f) => {
                    total += f.duration();
                    let (error, reason) = match f.note() {
                        Some(Note::Error(e)) if f.status == TaskStatus::Failed => {
                            (Some(e.to_string()), None)
                        }
                        Some(Note::Restored) | None => (None, None),
                        note => (None, Some(note_text(note))),
                    };
                    TaskSummary {
                        status: f.status,
                        attempts: f.attempts,
                        duration: f.duration(),
                        error,
                        reason,
                        restored: f.is_restored(),
                    }
                }
                None => TaskSummary {
                    status: TaskStatus::Cancelled,
                    attempts: 0,
                    duration: Duration::ZERO,
                    error: None,
                    reason: Some(
                        self.stopped
                            .clone()
                            .unwrap_or_else(|| "the run ended before the task".into()),
                    ),
                    restored: false,
                },
            };
            tasks.insert(self.dag.name(t).to_string(), task);
        }
        WorkflowSummary {
            name: name.to_string(),
            run_id: Some(self.run_id.to_string()),
            resumed_from: self.resumed_from.as_ref().map(|r| r.to_string()),
            success: self.success(),
            total_tasks: self.records.len(),
            counts: self.counts,
            stopped: self.stopped.clone(),
            total_execution_time: total,
            elapsed: self.elapsed,
            tasks,
            observer_errors: self.observer_errors.clone(),
        }
    }
}

/// The summary of a workflow that has not run yet: every task pending.
pub(crate) fn never_run<'a>(name: &str, names: impl Iterator<Item = &'a str>) -> WorkflowSummary {
    let tasks: BTreeMap<String, TaskSummary> = names
        .map(|n| {
            (
                n.to_string(),
                TaskSummary {
                    status: TaskStatus::Pending,
                    attempts: 0,
                    duration: Duration::ZERO,
                    error: None,
                    reason: None,
                    restored: false,
                },
            )
        })
        .collect();
    WorkflowSummary {
        name: name.to_string(),
        run_id: None,
        resumed_from: None,
        success: false,
        total_tasks: tasks.len(),
        counts: StatusCounts::default(),
        stopped: None,
        total_execution_time: Duration::ZERO,
        elapsed: Duration::ZERO,
        tasks,
        observer_errors: Vec::new(),
    }
}

/// Durations as floating-point milliseconds.
mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64() * 1000.0)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let ms = f64::deserialize(d)?;
        Duration::try_from_secs_f64(ms / 1000.0).map_err(serde::de::Error::custom)
    }
}
