//! The floor for async engines: every ready task is spawned on tokio; when it
//! finishes it counts its dependents' remaining dependencies down with
//! atomics and spawns those that reach zero. Actions are type-erased
//! (`Fn() -> BoxFuture`) as in any engine that holds different tasks, but
//! there are no names, events, retries or results map.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Notify;

use super::{body, BenchError, Ctx, Sample};
use crate::workload::GraphSpec;

/// A boxed future returning a task's value.
pub type BoxFuture = Pin<Box<dyn Future<Output = u64> + Send>>;

/// A task's action: a closure producing the task's future.
pub type AsyncAction = Box<dyn Fn() -> BoxFuture + Send + Sync>;

struct Shared {
    remaining: Box<[AtomicU32]>,
    out_start: Box<[u32]>,
    outs: Box<[u32]>,
    actions: Box<[AsyncAction]>,
    results: Box<[AtomicU64]>,
    unfinished: AtomicUsize,
    done: Notify,
}

/// A graph ready to run once on the tokio reference executor.
pub struct TokioReference {
    shared: Arc<Shared>,
    roots: Vec<u32>,
}

impl TokioReference {
    /// Builds the reference graph for `spec` with `action(i)` as task `i`'s
    /// action.
    pub fn build(spec: &GraphSpec, mut action: impl FnMut(usize) -> AsyncAction) -> Self {
        let n = spec.len();
        let mut out_start = vec![0u32; n + 1];
        let mut roots = Vec::new();
        let remaining: Box<[AtomicU32]> = (0..n)
            .map(|i| {
                let deps = spec.deps(i);
                if deps.is_empty() {
                    roots.push(i as u32);
                }
                for &d in deps {
                    out_start[d as usize + 1] += 1;
                }
                AtomicU32::new(deps.len() as u32)
            })
            .collect();
        for i in 0..n {
            out_start[i + 1] += out_start[i];
        }
        let mut fill = out_start.clone();
        let mut outs = vec![0u32; spec.edge_count()];
        for i in 0..n {
            for &d in spec.deps(i) {
                let slot = &mut fill[d as usize];
                outs[*slot as usize] = i as u32;
                *slot += 1;
            }
        }
        let shared = Shared {
            remaining,
            out_start: out_start.into_boxed_slice(),
            outs: outs.into_boxed_slice(),
            actions: (0..n).map(&mut action).collect(),
            results: (0..n).map(|_| AtomicU64::new(0)).collect(),
            unfinished: AtomicUsize::new(n),
            done: Notify::new(),
        };
        TokioReference {
            shared: Arc::new(shared),
            roots,
        }
    }

    /// Runs every task once, dependencies first, and returns the values by
    /// task index. Must be called inside a tokio runtime.
    pub async fn run(self) -> Vec<u64> {
        if !self.shared.actions.is_empty() {
            // Spawning from a worker thread puts tasks on its local queue;
            // from the `block_on` thread every spawn would go through the
            // shared injection queue.
            let shared = Arc::clone(&self.shared);
            let roots = self.roots;
            tokio::spawn(async move {
                for root in roots {
                    spawn_task(Arc::clone(&shared), root);
                }
            });
            self.shared.done.notified().await;
        }
        self.shared
            .results
            .iter()
            .map(|r| r.load(Ordering::Acquire))
            .collect()
    }
}

fn spawn_task(shared: Arc<Shared>, task: u32) {
    tokio::spawn(async move {
        let t = task as usize;
        let value = (shared.actions[t])().await;
        shared.results[t].store(value, Ordering::Release);
        for &d in &shared.outs[shared.out_start[t] as usize..shared.out_start[t + 1] as usize] {
            if shared.remaining[d as usize].fetch_sub(1, Ordering::AcqRel) == 1 {
                spawn_task(Arc::clone(&shared), d);
            }
        }
        if shared.unfinished.fetch_sub(1, Ordering::AcqRel) == 1 {
            // `notify_one` stores a permit if `run` is not waiting yet.
            shared.done.notify_one();
        }
    });
}

pub(super) fn measure(ctx: &Ctx<'_>, rt: &tokio::runtime::Runtime) -> Result<Sample, BenchError> {
    let sleep = ctx.spec.sleep();
    let start = Instant::now();
    let graph = TokioReference::build(ctx.spec, |i| {
        let value = GraphSpec::value(i);
        Box::new(move || Box::pin(body(value, sleep)))
    });
    let build = start.elapsed();
    let (run, results) = rt.block_on(async move {
        let start = Instant::now();
        let results = graph.run().await;
        (start.elapsed(), results)
    });
    ctx.check(results)?;
    Ok(Sample { build, run })
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;
    use crate::workload::Workload;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("tokio runtime: {e}"))
    }

    fn spec(name: &str) -> GraphSpec {
        Workload::by_name(name)
            .unwrap_or_else(|| panic!("workload {name} is not defined"))
            .generate()
    }

    #[test]
    fn layered_runs_every_task_once_after_its_dependencies() {
        let spec = spec("layered-100x1000");
        let finished = Arc::new(Mutex::new(Vec::new()));
        let graph = TokioReference::build(&spec, |i| {
            let finished = Arc::clone(&finished);
            Box::new(move || {
                let finished = Arc::clone(&finished);
                Box::pin(async move {
                    finished.lock().unwrap_or_else(|e| e.into_inner()).push(i);
                    i as u64
                })
            })
        });
        let results = runtime().block_on(graph.run());
        assert_eq!(results, (0..spec.len() as u64).collect::<Vec<_>>());
        let order = finished.lock().unwrap_or_else(|e| e.into_inner()).clone();
        crate::workload::assert_dependencies_first(&spec, &order, "finished");
    }

    #[test]
    fn sleepy_layers_overlap_instead_of_running_one_by_one() {
        let spec = spec("sleepy-10x100");
        let graph = TokioReference::build(&spec, |i| {
            Box::new(move || Box::pin(body(i as u64, Some(Duration::from_millis(10)))))
        });
        let rt = runtime();
        let start = Instant::now();
        let results = rt.block_on(graph.run());
        let elapsed = start.elapsed();
        assert_eq!(results.len(), 1000);
        // Ten dependent layers of 10 ms each: at least 100 ms; one by one
        // would take 10 s.
        assert!(elapsed >= Duration::from_millis(100), "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(1), "{elapsed:?}");
    }
}
