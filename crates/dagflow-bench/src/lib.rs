//! The dagflow benchmark suite: dagflow's async `Workflow` and sync
//! `WorkflowRunner` against the peer crates `async_dag`, `dagx` and `dagrs`
//! and two hand-written references (a sync Kahn loop and a tokio executor
//! with atomic dependency counters), on the standard workloads of
//! `WORKLOADS.md`.
//!
//! The binary re-executes itself once per engine and workload
//! (`--child ENGINE WORKLOAD`), so each engine's peak memory is its own, and
//! prints medians as JSON lines or Markdown tables.
//!
//! ```
//! use dagflow_bench::engines::Engine;
//! use dagflow_bench::workload::Workload;
//!
//! let spec = Workload::by_name("chain-1000").expect("a standard workload").generate();
//! let sample = Engine::RefSync.measure(&spec, None)?;
//! assert!(sample.run > std::time::Duration::ZERO);
//! # Ok::<(), dagflow_bench::engines::BenchError>(())
//! ```
#![warn(missing_docs)]

pub mod emit;
pub mod engines;
pub mod harness;
pub mod machine;
pub mod options;
pub mod record;
pub mod report;
pub mod rounds;
pub mod rss;
pub mod targets;
pub mod workload;
