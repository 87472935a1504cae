//! One record of the journal.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::event::RunDefinition;

/// What a journal entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventType {
    /// A run started (one per run). `details` holds the definition.
    WorkflowStart,
    /// An attempt of a step failed and the step will be retried.
    StepRetry,
    /// A step reached its final state (one per step and run).
    StepComplete,
    /// A run ended (one per run that ended).
    WorkflowComplete,
}

impl EventType {
    /// Every event type, in lifecycle order.
    pub const ALL: [EventType; 4] = [
        EventType::WorkflowStart,
        EventType::StepRetry,
        EventType::StepComplete,
        EventType::WorkflowComplete,
    ];

    /// The snake_case name stored in journals (`"step_complete"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::WorkflowStart => "workflow_start",
            EventType::StepRetry => "step_retry",
            EventType::StepComplete => "step_complete",
            EventType::WorkflowComplete => "workflow_complete",
        }
    }

    /// Parses a name produced by [`as_str`](Self::as_str).
    pub fn parse(s: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The status an entry records.
///
/// `WorkflowStart` entries are `Started`; `StepRetry` entries are `Failed`;
/// `StepComplete` entries are `Completed`, `Failed`, `Skipped` or
/// `Cancelled`; `WorkflowComplete` entries are `Completed` (the run
/// succeeded), `Failed` or `Cancelled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EntryStatus {
    /// The run started.
    Started,
    /// Success.
    Completed,
    /// Failure.
    Failed,
    /// Not run.
    Skipped,
    /// Stopped by cancellation or timeout.
    Cancelled,
}

impl EntryStatus {
    /// Every status.
    pub const ALL: [EntryStatus; 5] = [
        EntryStatus::Started,
        EntryStatus::Completed,
        EntryStatus::Failed,
        EntryStatus::Skipped,
        EntryStatus::Cancelled,
    ];

    /// The lower-case name stored in journals.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryStatus::Started => "started",
            EntryStatus::Completed => "completed",
            EntryStatus::Failed => "failed",
            EntryStatus::Skipped => "skipped",
            EntryStatus::Cancelled => "cancelled",
        }
    }

    /// Parses a name produced by [`as_str`](Self::as_str).
    pub fn parse(s: &str) -> Option<EntryStatus> {
        EntryStatus::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl std::fmt::Display for EntryStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One structured record of a run's life, as in the specification, plus what
/// resume needs (attempt, error, result).
///
/// The run id, workflow name and step name are shared strings (`Arc<str>`):
/// every entry of a run repeats the same run id and workflow name, and the
/// engines already hold each task's name as an `Arc<str>`, so journaling a
/// step copies three pointers instead of allocating three strings. They
/// compare and print as strings: `&*entry.workflow_id == "run-1"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// The run's id.
    pub workflow_id: Arc<str>,
    /// The workflow's name (runs of the same workflow share it).
    pub workflow_name: Arc<str>,
    /// What happened.
    pub event_type: EventType,
    /// The step, for step entries.
    pub step_name: Option<Arc<str>>,
    /// The outcome.
    pub status: EntryStatus,
    /// When it happened.
    #[serde(with = "unix_millis")]
    pub timestamp: SystemTime,
    /// Duration of the step attempt or of the whole run, in milliseconds;
    /// 0 for `WorkflowStart` and skipped steps.
    pub duration_ms: f64,
    /// For step entries, the attempt number (from 1); 0 otherwise.
    pub attempt: u32,
    /// The error of a failed step or attempt, or the reason of a skip or
    /// cancellation.
    pub error: Option<String>,
    /// The result of a completed step.
    pub result: Option<Value>,
    /// Anything else (for `WorkflowStart`: the fingerprint and
    /// `resumed_from`; for restored steps: `reused_from`).
    pub details: Map<String, Value>,
    /// For `WorkflowStart`: the run's definition (graph and per-task
    /// definition texts), shared with the engine that ran it. Stores that
    /// write JSON keep it under `details.definition` (see
    /// [`DetailsJson`](super::DetailsJson)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<Arc<RunDefinition>>,
}

impl JournalEntry {
    /// An entry with the given identity and no duration, attempt, error,
    /// result or details; set those fields directly.
    ///
    /// The names take anything that converts into an `Arc<str>` (`&str`,
    /// `String`, a shared `Arc<str>` without a copy).
    pub fn new(
        workflow_id: impl Into<Arc<str>>,
        workflow_name: impl Into<Arc<str>>,
        event_type: EventType,
        step_name: Option<Arc<str>>,
        status: EntryStatus,
        timestamp: SystemTime,
    ) -> Self {
        JournalEntry {
            workflow_id: workflow_id.into(),
            workflow_name: workflow_name.into(),
            event_type,
            step_name,
            status,
            timestamp,
            duration_ms: 0.0,
            attempt: 0,
            error: None,
            result: None,
            details: Map::new(),
            definition: None,
        }
    }

    /// The `WorkflowStart` entry of a run of `definition`: the definition
    /// (shared), its fingerprint and the run it resumes, if any, in
    /// `details` (see [`start_details`](super::start_details)).
    ///
    /// ```
    /// use dagflow::event::RunDefinition;
    /// use dagflow::graph::Dag;
    /// use dagflow::journal::{journaled_definition, EventType, JournalEntry};
    /// use std::sync::Arc;
    /// use std::time::SystemTime;
    ///
    /// let definition = Arc::new(RunDefinition {
    ///     dag: Arc::new(Dag::from_tasks([("build", vec![]), ("test", vec!["build"])])?),
    ///     task_definitions: vec![None, None],
    /// });
    /// let start = JournalEntry::workflow_start("run-2", "ci", definition, Some("run-1"), SystemTime::now());
    /// assert_eq!(start.event_type, EventType::WorkflowStart);
    /// assert_eq!(start.details["resumed_from"], "run-1");
    /// assert_eq!(journaled_definition(&start)?.len(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn workflow_start(
        workflow_id: impl Into<Arc<str>>,
        workflow_name: impl Into<Arc<str>>,
        definition: Arc<RunDefinition>,
        resumed_from: Option<&str>,
        timestamp: SystemTime,
    ) -> Self {
        let mut entry = JournalEntry::new(
            workflow_id,
            workflow_name,
            EventType::WorkflowStart,
            None,
            EntryStatus::Started,
            timestamp,
        );
        entry.details = super::start_details(&definition, resumed_from);
        entry.definition = Some(definition);
        entry
    }

    /// The duration in whole microseconds, as stores aggregate it.
    pub fn duration_us(&self) -> i64 {
        duration_ms_to_us(self.duration_ms)
    }

    /// The step's name, for step entries.
    pub fn step(&self) -> Option<&str> {
        self.step_name.as_deref()
    }

    /// The timestamp as milliseconds since the Unix epoch.
    pub fn timestamp_ms(&self) -> i64 {
        system_time_to_ms(self.timestamp)
    }

    /// Whether this is a step a resume reused from an earlier run
    /// (`details.restored`, written for `TaskRestored`) rather than one that
    /// ran. Stores leave such entries out of the step figures: the step
    /// did not run, and its zero duration would drag its percentiles down.
    ///
    /// ```
    /// use dagflow::journal::{EntryStatus, EventType, JournalEntry};
    /// use std::time::SystemTime;
    ///
    /// let mut entry = JournalEntry::new(
    ///     "run-2", "etl", EventType::StepComplete, Some("extract".into()),
    ///     EntryStatus::Completed, SystemTime::now(),
    /// );
    /// assert!(!entry.is_restored());
    /// entry.details.insert("restored".into(), true.into());
    /// assert!(entry.is_restored());
    /// ```
    pub fn is_restored(&self) -> bool {
        self.event_type == EventType::StepComplete
            && self.details.get("restored") == Some(&Value::Bool(true))
    }
}

/// Rounds a duration in milliseconds to whole microseconds.
///
/// Stores aggregate durations as integer microseconds so that every store
/// (in memory, SQLite, PostgreSQL) computes bit-identical sums and means.
pub fn duration_ms_to_us(ms: f64) -> i64 {
    (ms * 1000.0).round() as i64
}

/// Milliseconds since the Unix epoch (negative before it).
pub fn system_time_to_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

/// The inverse of [`system_time_to_ms`].
pub fn ms_to_system_time(ms: i64) -> SystemTime {
    if ms >= 0 {
        UNIX_EPOCH + Duration::from_millis(ms as u64)
    } else {
        UNIX_EPOCH - Duration::from_millis(ms.unsigned_abs())
    }
}

mod unix_millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::SystemTime;

    pub fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(super::system_time_to_ms(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        Ok(super::ms_to_system_time(i64::deserialize(d)?))
    }
}
