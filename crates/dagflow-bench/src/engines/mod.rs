//! The engines under test: dagflow's two engines, three peer crates and the
//! hand-written references (tokio, sync, and sync with a clock reading per
//! task), each behind the same measuring interface; and on the journal
//! workloads, dagflow's two journal stores.
//!
//! Every adapter builds the workload's graph (timed as `build`), runs it
//! (timed as `run`), then — outside both timings — checks that every task ran
//! exactly once by summing the values the bodies returned.

mod async_dag_peer;
mod dagflow_async;
mod dagflow_sync;
mod dagrs_peer;
mod dagx_peer;
mod journal;
pub use journal::release as release_journal;
pub mod ref_sync;
pub mod ref_tokio;

use std::time::Duration;

use crate::workload::{GraphSpec, Shape, Workload};

/// One timed build and run of a workload.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Time to construct the engine's graph or workflow object.
    pub build: Duration,
    /// Time of the run itself.
    pub run: Duration,
}

/// Why a measurement could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The engine cannot express the workload.
    #[error("engine `{engine}` cannot run workload `{workload}`: {reason}")]
    Unsupported {
        /// The engine's name.
        engine: &'static str,
        /// The workload's name.
        workload: &'static str,
        /// Why, in one sentence.
        reason: &'static str,
    },
    /// The engine reported an error while building or running.
    #[error("engine `{engine}` failed on workload `{workload}`: {message}")]
    Failed {
        /// The engine's name.
        engine: &'static str,
        /// The workload's name.
        workload: &'static str,
        /// The engine's error, rendered.
        message: String,
    },
    /// The run finished but not every task ran exactly once.
    #[error(
        "engine `{engine}` returned wrong results on workload `{workload}`: \
         {got_tasks} of {expected_tasks} task values, sum {got_sum} instead of {expected_sum}; \
         the adapter or the engine lost or repeated tasks"
    )]
    WrongResults {
        /// The engine's name.
        engine: &'static str,
        /// The workload's name.
        workload: &'static str,
        /// Number of tasks in the graph.
        expected_tasks: usize,
        /// Number of values collected.
        got_tasks: usize,
        /// Expected sum of values.
        expected_sum: u64,
        /// Collected sum of values.
        got_sum: u64,
    },
    /// The tokio runtime could not be created.
    #[error("could not start the tokio runtime for engine `{engine}`: {source}")]
    Runtime {
        /// The engine's name.
        engine: &'static str,
        /// The I/O error from tokio.
        source: std::io::Error,
    },
}

/// Every engine the suite knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Engine {
    /// dagflow's async `Workflow`.
    DagflowAsync,
    /// dagflow's async `Workflow` with a journal on an in-memory store.
    DagflowAsyncJournal,
    /// dagflow's sync `WorkflowRunner`.
    DagflowSync,
    /// The same with step timing off (`time_steps(false)`).
    DagflowSyncUntimed,
    /// The `async_dag` crate.
    AsyncDag,
    /// The `dagx` crate.
    Dagx,
    /// The `dagrs` crate.
    Dagrs,
    /// Hand-written sync Kahn loop (the floor for sync engines).
    RefSync,
    /// The same loop reading the clock once per task (the floor for sync
    /// engines that time every task).
    RefSyncTimed,
    /// Hand-written tokio executor (the floor for async engines).
    RefTokio,
    /// The SQLite journal store (journal workloads only).
    JournalSqlite,
    /// The in-memory journal store (journal workloads only).
    JournalMemory,
}

/// Every engine, in the order the suite runs them.
pub const ALL: &[Engine] = &[
    Engine::DagflowAsync,
    Engine::DagflowAsyncJournal,
    Engine::DagflowSync,
    Engine::DagflowSyncUntimed,
    Engine::AsyncDag,
    Engine::Dagx,
    Engine::Dagrs,
    Engine::RefTokio,
    Engine::RefSync,
    Engine::RefSyncTimed,
    Engine::JournalSqlite,
    Engine::JournalMemory,
];

impl Engine {
    /// The name used on the command line and in the JSON output.
    pub fn name(self) -> &'static str {
        match self {
            Engine::DagflowAsync => "dagflow-async",
            Engine::DagflowAsyncJournal => "dagflow-async-journal",
            Engine::DagflowSync => "dagflow-sync",
            Engine::DagflowSyncUntimed => "dagflow-sync-untimed",
            Engine::AsyncDag => "async_dag",
            Engine::Dagx => "dagx",
            Engine::Dagrs => "dagrs",
            Engine::RefSync => "ref-sync",
            Engine::RefSyncTimed => "ref-sync-timed",
            Engine::RefTokio => "ref-tokio",
            Engine::JournalSqlite => "dagflow-sqlite",
            Engine::JournalMemory => "dagflow-memory",
        }
    }

    /// The engine called `name`, if any.
    pub fn by_name(name: &str) -> Option<Engine> {
        ALL.iter().copied().find(|e| e.name() == name)
    }

    /// True when the engine runs on a tokio runtime.
    pub fn is_async(self) -> bool {
        !matches!(
            self,
            Engine::DagflowSync
                | Engine::DagflowSyncUntimed
                | Engine::RefSync
                | Engine::RefSyncTimed
                | Engine::JournalSqlite
                | Engine::JournalMemory
        )
    }

    /// True for the journal stores, which measure the journal workloads.
    pub fn is_journal(self) -> bool {
        matches!(self, Engine::JournalSqlite | Engine::JournalMemory)
    }

    /// Whether the engine and the workload are of the same kind: graph
    /// engines run graphs, journal stores record histories. The suite
    /// leaves the other pairs out without a word.
    pub fn applies_to(self, workload: &Workload) -> bool {
        self.is_journal() == workload.is_journal()
    }

    /// Why this engine cannot run `workload`, or `None` when it can.
    pub fn unsupported_reason(self, workload: &Workload) -> Option<&'static str> {
        if !self.applies_to(workload) {
            return Some(if self.is_journal() {
                "a journal store runs the journal workloads, not graphs"
            } else {
                "a graph engine does not run the journal workloads"
            });
        }
        if !self.is_async() && workload.sleep().is_some() {
            return Some(
                "its bodies sleep asynchronously; a sync engine would run them one after another",
            );
        }
        match (self, workload.shape) {
            (Engine::AsyncDag, Shape::Fanout { .. }) => Some(
                "each dependency is a typed argument of the task closure and closures take at most 12, \
                 so the sink of 10,000 dependencies cannot be written",
            ),
            (Engine::Dagx, Shape::Fanout { .. }) => Some(
                "dependencies are a tuple of at most 8 typed handles, \
                 so the sink of 10,000 dependencies cannot be written",
            ),
            (Engine::Dagx, Shape::Chain { reverse: true, .. }) => Some(
                "a dependency must be an existing handle when its dependent is added, \
                 so tasks cannot be inserted sink first",
            ),
            _ => None,
        }
    }

    /// Builds and runs `spec` once, checking the results.
    ///
    /// `runtime` must be given for async engines (see [`Engine::is_async`]).
    pub fn measure(
        self,
        spec: &GraphSpec,
        runtime: Option<&tokio::runtime::Runtime>,
    ) -> Result<Sample, BenchError> {
        if let Some(reason) = self.unsupported_reason(&spec.workload) {
            return Err(BenchError::Unsupported {
                engine: self.name(),
                workload: spec.workload.name,
                reason,
            });
        }
        let ctx = Ctx { engine: self, spec };
        let rt = || {
            runtime.ok_or_else(|| ctx.failed("the harness gave an async engine no tokio runtime"))
        };
        match self {
            Engine::RefSync => ref_sync::measure(&ctx),
            Engine::RefSyncTimed => ref_sync::measure_timed(&ctx),
            Engine::DagflowSync => dagflow_sync::measure(&ctx, true),
            Engine::DagflowSyncUntimed => dagflow_sync::measure(&ctx, false),
            Engine::RefTokio => ref_tokio::measure(&ctx, rt()?),
            Engine::AsyncDag => async_dag_peer::measure(&ctx, rt()?),
            Engine::Dagx => dagx_peer::measure(&ctx, rt()?),
            Engine::Dagrs => dagrs_peer::measure(&ctx, rt()?),
            Engine::DagflowAsync => dagflow_async::measure(&ctx, rt()?, false),
            Engine::DagflowAsyncJournal => dagflow_async::measure(&ctx, rt()?, true),
            Engine::JournalSqlite => journal::measure(&ctx, journal::Store::Sqlite),
            Engine::JournalMemory => journal::measure(&ctx, journal::Store::Memory),
        }
    }
}

/// What every adapter needs: who is measured on what.
pub(crate) struct Ctx<'a> {
    pub engine: Engine,
    pub spec: &'a GraphSpec,
}

impl Ctx<'_> {
    pub fn failed(&self, message: impl std::fmt::Display) -> BenchError {
        BenchError::Failed {
            engine: self.engine.name(),
            workload: self.spec.workload.name,
            message: message.to_string(),
        }
    }

    /// Checks that `values` holds each task's value exactly once (by count
    /// and sum).
    pub fn check(&self, values: impl IntoIterator<Item = u64>) -> Result<(), BenchError> {
        let (mut count, mut sum) = (0usize, 0u64);
        for v in values {
            count += 1;
            sum = sum.wrapping_add(v);
        }
        let expected_sum = self.spec.expected_sum();
        if count == self.spec.len() && sum == expected_sum {
            Ok(())
        } else {
            Err(BenchError::WrongResults {
                engine: self.engine.name(),
                workload: self.spec.workload.name,
                expected_tasks: self.spec.len(),
                got_tasks: count,
                expected_sum,
                got_sum: sum,
            })
        }
    }
}

/// The body every async engine runs for task `i`: return the task's value,
/// after sleeping if the workload sleeps. One function for all engines, so
/// they run the same future.
pub async fn body(i: u64, sleep: Option<Duration>) -> u64 {
    if let Some(d) = sleep {
        tokio::time::sleep(d).await;
    }
    i
}
