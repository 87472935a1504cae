//! One run: set up the shared state, start the roots, wait (reacting to
//! cancellation and the workflow timeout), then collect results and the
//! report for `summary()`.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime};

use serde_json::Value;

use super::error::WorkflowError;
use super::scheduler::{Finished, RunSetup, RunShared, StopKind};
use super::summary::RunReport;
use super::Workflow;
use crate::event::{RunDefinition, StatusCounts, TaskStatus, WorkflowEvent};
use crate::graph::{Dag, TaskId};

/// How a run hands its results back.
pub(super) trait Collector: Sized {
    /// Called while the tasks run (work done here overlaps with them).
    fn prepare(dag: &Arc<Dag>) -> Self;
    /// Takes the result of task `id`; called once per completed task, in
    /// index order.
    fn add(&mut self, id: TaskId, value: Value);
}

/// The `HashMap<String, Value>` of [`Workflow::run`]: keys are allocated
/// in `prepare`.
pub(super) struct NamedMap {
    keys: Vec<Option<String>>,
    map: HashMap<String, Value>,
}

impl Collector for NamedMap {
    fn prepare(dag: &Arc<Dag>) -> Self {
        NamedMap {
            keys: dag.names().map(|n| Some(n.to_string())).collect(),
            map: HashMap::with_capacity(dag.len()),
        }
    }

    fn add(&mut self, id: TaskId, value: Value) {
        if let Some(key) = self.keys.get_mut(id.index()).and_then(Option::take) {
            self.map.insert(key, value);
        }
    }
}

impl From<NamedMap> for HashMap<String, Value> {
    fn from(named: NamedMap) -> Self {
        named.map
    }
}

impl Workflow {
    /// Validates, runs every task, and collects the results with `C`.
    pub(super) async fn run_collecting<C, R>(&mut self) -> Result<R, WorkflowError>
    where
        C: Collector + Into<R>,
    {
        let dag = self.dag()?;
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(WorkflowError::NoRuntime);
        }
        let (restored, resumed_from) = match self.restored.take() {
            Some((results, from)) => (results, Some(from)),
            None => (HashMap::new(), None),
        };
        let mut restored_ids = Vec::with_capacity(restored.len());
        for (name, value) in restored {
            match dag.id(&name) {
                Some(id) => restored_ids.push((id, value)),
                None => {
                    return Err(WorkflowError::UnknownRestoredTask {
                        workflow: self.name.to_string(),
                        task: name,
                    })
                }
            }
        }
        restored_ids.sort_unstable_by_key(|(id, _)| *id);

        let run_id: Arc<str> = match self.next_run_id.take() {
            Some(id) => Arc::from(id),
            None => Arc::from(uuid::Uuid::new_v4().to_string()),
        };
        let observers = if self.observers.is_empty() {
            None
        } else {
            self.observers.clear_errors();
            Some(self.observers.clone())
        };
        let shared = Arc::new(RunShared::new(RunSetup {
            dag: Arc::clone(&dag),
            tasks: Arc::clone(&self.tasks),
            workflow: Arc::clone(&self.name),
            run_id: Arc::clone(&run_id),
            cancel: self.cancel.clone(),
            fail_fast: self.fail_fast,
            max_concurrency: self.max_concurrency,
            observers,
            cancel_grace: self.cancel_grace,
        }));
        let started = Instant::now();
        tracing::info!(workflow = %self.name, run_id = %run_id, tasks = dag.len(), "workflow started");
        shared.emit(|run_id| WorkflowEvent::WorkflowStarted {
            run_id,
            workflow: Arc::clone(&self.name),
            definition: Arc::new(RunDefinition {
                dag: Arc::clone(&dag),
                task_definitions: self.task_definitions(),
            }),
            resumed_from: resumed_from.clone(),
            at: SystemTime::now(),
        });
        for (id, value) in restored_ids {
            shared.restore(id, value);
        }
        shared.start();
        // Prepare the results while the tasks run: on another thread than
        // the workers this overlaps with them instead of adding to the tail.
        let collector = C::prepare(&dag);

        let (cancelled, timed_out) = self.wait(&shared).await;
        let elapsed = started.elapsed();
        shared.close();
        let stopped = match shared.stop_kind() {
            StopKind::Running => None,
            _ => shared.stop_reason().map(|r| r.to_string()),
        };
        let Outcomes {
            records,
            results,
            counts,
            unfinished,
        } = take_outcomes(shared, collector);

        let mut report = RunReport {
            run_id: Arc::clone(&run_id),
            resumed_from,
            dag: Arc::clone(&dag),
            records,
            counts,
            elapsed,
            stopped,
            interrupted: cancelled || timed_out,
            observer_errors: Vec::new(),
        };
        let success = report.success();
        if !self.observers.is_empty() {
            self.observers.emit(&WorkflowEvent::WorkflowCompleted {
                run_id: Arc::clone(&run_id),
                workflow: Arc::clone(&self.name),
                success,
                duration: elapsed,
                counts,
                at: SystemTime::now(),
            });
            report.observer_errors = self.observers.errors();
        }
        tracing::info!(workflow = %self.name, run_id = %run_id, success, ?elapsed, "workflow finished");
        self.last = Some(report);

        if timed_out {
            Err(WorkflowError::Timeout {
                workflow: self.name.to_string(),
                after: self.timeout.unwrap_or_default(),
            })
        } else if cancelled {
            Err(WorkflowError::Cancelled {
                workflow: self.name.to_string(),
            })
        } else if !unfinished.is_empty() {
            Err(WorkflowError::Deadlock {
                pending: unfinished
                    .iter()
                    .map(|&t| dag.name(t).to_string())
                    .collect(),
            })
        } else {
            Ok(results.into())
        }
    }

    /// Waits until no task is alive, reacting to cancellation and the
    /// workflow timeout. Returns (cancelled, timed out).
    async fn wait(&self, shared: &Arc<RunShared>) -> (bool, bool) {
        let deadline = self.timeout.map(|t| tokio::time::Instant::now() + t);
        let mut cancelled = false;
        let mut timed_out = false;
        loop {
            tokio::select! {
                () = shared.done.notified() => break,
                () = shared.token.cancelled(), if !cancelled && !timed_out => {
                    cancelled = true;
                    shared.stop(StopKind::Cancelled, || "workflow cancelled".to_string());
                }
                () = tokio::time::sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)),
                    if deadline.is_some() && !timed_out && !cancelled =>
                {
                    timed_out = true;
                    let after = self.timeout.unwrap_or_default();
                    shared.stop(StopKind::TimedOut, || format!("workflow timed out after {after:?}"));
                }
            }
        }
        (cancelled || self.cancel.is_cancelled(), timed_out)
    }
}

/// What a finished run leaves behind.
struct Outcomes<C> {
    /// Per task; results were moved out into `results`.
    records: Box<[OnceLock<Finished>]>,
    results: C,
    counts: StatusCounts,
    /// Tasks without a final record (only after an engine bug).
    unfinished: Vec<TaskId>,
}

/// Takes the final records and collects the results in one pass, moving
/// values out of the shared state when no one else holds it (the normal
/// case).
fn take_outcomes<C: Collector>(shared: Arc<RunShared>, mut results: C) -> Outcomes<C> {
    let mut records = match Arc::try_unwrap(shared) {
        Ok(run) => run.finished,
        Err(run) => run.finished.to_vec().into_boxed_slice(),
    };
    let mut counts = StatusCounts::default();
    let mut unfinished = Vec::new();
    for (i, record) in records.iter_mut().enumerate() {
        let id = TaskId::from_index(i);
        let Some(finished) = record.get_mut() else {
            unfinished.push(id);
            counts.cancelled += 1;
            continue;
        };
        match finished.status {
            TaskStatus::Completed => counts.completed += 1,
            TaskStatus::Failed => counts.failed += 1,
            TaskStatus::Skipped => counts.skipped += 1,
            _ => counts.cancelled += 1,
        }
        if let Some(output) = finished.output.take() {
            results.add(id, output.into_value());
        }
    }
    Outcomes {
        records,
        results,
        counts,
        unfinished,
    }
}
