//! One run: set up the shared state, start the roots, wait (reacting to
//! cancellation and the workflow timeout), then collect results and the
//! report for `summary()`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use super::error::WorkflowError;
use super::records::RecordTable;
use super::scheduler::{RunSetup, RunShared, StopKind};
use super::summary::RunReport;
use super::Workflow;
use crate::event::{RunDefinition, WorkflowEvent};
use crate::graph::Dag;

/// The final records of a run, shared by the results and the report.
pub(super) type Records = Arc<RecordTable>;

/// How a run hands its results back.
pub(super) trait Collector: Sized {
    /// Called while the tasks run (work done here overlaps with them).
    fn prepare(dag: &Arc<Dag>) -> Self;
    /// Takes the results out of (or a handle to) the final records;
    /// `completed` tasks have one.
    fn collect(self, records: &mut Records, completed: usize) -> Self;
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
            None => crate::engine::new_run_id(),
        };
        let observers = if self.observers.is_empty() {
            None
        } else {
            self.observers.clear_errors();
            // Made at validation already unless the observers came later.
            dag.share_names();
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
        let driver = shared.start();
        // Prepare the results while the spawned drivers run.
        let collector = C::prepare(&dag);

        let (cancelled, timed_out) = self.wait(&shared, driver).await;
        let elapsed = started.elapsed();
        shared.close();
        let stopped = match shared.stop_kind() {
            StopKind::Running => None,
            _ => shared.stop_reason().map(|r| r.to_string()),
        };
        let (counts, unfinished) = shared.tally();
        let mut records = Arc::clone(&shared.finished);
        drop(shared);
        let results = collector.collect(&mut records, counts.completed);

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
    /// `driver` (the roots' driver `start` kept for this task) is polled
    /// here until it ends, whatever else happens.
    async fn wait(
        &self,
        shared: &Arc<RunShared>,
        driver: Option<impl std::future::Future<Output = ()>>,
    ) -> (bool, bool) {
        let deadline = self.timeout.map(|t| tokio::time::Instant::now() + t);
        let mut cancelled = false;
        let mut timed_out = false;
        let driving = driver.is_some();
        let driver = futures::future::OptionFuture::from(driver);
        tokio::pin!(driver);
        let mut driven = !driving;
        loop {
            tokio::select! {
                _ = &mut driver, if !driven => driven = true,
                () = shared.done.notified(), if driven => break,
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
