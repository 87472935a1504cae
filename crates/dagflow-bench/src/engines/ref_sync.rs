//! The floor for sync engines: Kahn's algorithm over a compressed adjacency
//! list, calling each task's boxed no-op closure inline. No names, no events,
//! no error handling: whatever a real engine spends beyond this is overhead.
//! `ref-sync-timed` is the same loop reading the clock once per task, the
//! floor for an engine that reports each task's duration.

use std::time::{Duration, Instant};

use super::{BenchError, Ctx, Sample};
use crate::workload::GraphSpec;

/// A task's action: a boxed closure returning the task's value.
pub type SyncAction = Box<dyn Fn() -> u64>;

/// The graph in the form the Kahn loop wants: in-degrees and dependents in
/// compressed sparse rows, one action per task.
pub struct SyncReference {
    indegree: Vec<u32>,
    out_start: Vec<u32>,
    outs: Vec<u32>,
    actions: Vec<SyncAction>,
}

impl SyncReference {
    /// Builds the reference graph for `spec` with `action(i)` as task `i`'s
    /// action.
    pub fn build(spec: &GraphSpec, mut action: impl FnMut(usize) -> SyncAction) -> Self {
        let n = spec.len();
        let mut indegree = vec![0u32; n];
        let mut out_start = vec![0u32; n + 1];
        for (i, deg) in indegree.iter_mut().enumerate() {
            let deps = spec.deps(i);
            *deg = deps.len() as u32;
            for &d in deps {
                out_start[d as usize + 1] += 1;
            }
        }
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
        let actions = (0..n).map(&mut action).collect();
        SyncReference {
            indegree,
            out_start,
            outs,
            actions,
        }
    }

    /// Runs every task once, dependencies first, and returns the values by
    /// task index.
    pub fn run(&self) -> Vec<u64> {
        self.kahn(|_| {})
    }

    /// Runs every task like [`run`](Self::run) and also times each one,
    /// reading the CPU's time-stamp counter once per task (`quanta`'s raw
    /// reading: the `rdtsc` that `WorkflowRunner` reads): the floor for a sync
    /// engine that reports every task's duration. Returns the values and
    /// each task's span in raw clock ticks, by task index.
    pub fn run_timed(&self, clock: &quanta::Clock) -> (Vec<u64>, Vec<u64>) {
        let mut spans = vec![0u64; self.actions.len()];
        let mut last = clock.raw();
        let results = self.kahn(|t| {
            let now = clock.raw();
            spans[t] = now.wrapping_sub(last);
            last = now;
        });
        (results, spans)
    }

    /// Kahn's loop; `after_task(t)` runs right after task `t`'s action.
    #[inline(always)]
    fn kahn(&self, mut after_task: impl FnMut(usize)) -> Vec<u64> {
        let n = self.actions.len();
        let mut remaining = self.indegree.clone();
        let mut ready: Vec<u32> = (0..n as u32)
            .filter(|&i| remaining[i as usize] == 0)
            .collect();
        let mut results = vec![0u64; n];
        while let Some(t) = ready.pop() {
            let t = t as usize;
            results[t] = (self.actions[t])();
            after_task(t);
            for &d in &self.outs[self.out_start[t] as usize..self.out_start[t + 1] as usize] {
                let r = &mut remaining[d as usize];
                *r -= 1;
                if *r == 0 {
                    ready.push(d);
                }
            }
        }
        results
    }
}

/// The reference graph of the context's workload, timed.
fn build_timed(ctx: &Ctx<'_>) -> (SyncReference, Duration) {
    let start = Instant::now();
    let graph = SyncReference::build(ctx.spec, |i| {
        let value = GraphSpec::value(i);
        Box::new(move || value)
    });
    (graph, start.elapsed())
}

pub(super) fn measure(ctx: &Ctx<'_>) -> Result<Sample, BenchError> {
    let (graph, build) = build_timed(ctx);
    let start = Instant::now();
    let results = graph.run();
    let run = start.elapsed();
    ctx.check(results)?;
    Ok(Sample { build, run })
}

/// `ref-sync-timed`: the reference with one clock reading per task.
pub(super) fn measure_timed(ctx: &Ctx<'_>) -> Result<Sample, BenchError> {
    let clock = quanta::Clock::new();
    let (graph, build) = build_timed(ctx);
    let start = Instant::now();
    let (results, spans) = graph.run_timed(&clock);
    let run = start.elapsed();
    std::hint::black_box(&spans);
    ctx.check(results)?;
    Ok(Sample { build, run })
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use super::*;
    use crate::workload::Workload;

    fn run_recording(name: &str) -> (GraphSpec, Vec<usize>) {
        let spec = Workload::by_name(name)
            .unwrap_or_else(|| panic!("workload {name} is not defined"))
            .generate();
        let order = Rc::new(RefCell::new(Vec::new()));
        let graph = SyncReference::build(&spec, |i| {
            let order = Rc::clone(&order);
            Box::new(move || {
                order.borrow_mut().push(i);
                i as u64
            })
        });
        let results = graph.run();
        assert_eq!(results, (0..spec.len() as u64).collect::<Vec<_>>());
        let order = order.borrow().clone();
        (spec, order)
    }

    #[test]
    fn layered_runs_every_task_once_after_its_dependencies() {
        let (spec, order) = run_recording("layered-100x1000");
        crate::workload::assert_dependencies_first(&spec, &order, "ran");
    }

    #[test]
    fn timed_run_returns_the_same_values_and_a_span_per_task() {
        let spec = Workload::by_name("layered-100x1000")
            .unwrap_or_else(|| panic!("workload is not defined"))
            .generate();
        let graph = SyncReference::build(&spec, |i| {
            Box::new(move || {
                // Long enough for the counter to move on every machine.
                std::hint::black_box((0..50).fold(0u64, |a, b| a ^ b));
                i as u64
            })
        });
        let clock = quanta::Clock::new();
        let (results, spans) = graph.run_timed(&clock);
        assert_eq!(results, graph.run());
        assert_eq!(spans.len(), spec.len());
        let total: u64 = spans.iter().sum();
        assert!(total > 0, "no task took any time");
        assert!(spans.iter().filter(|&&s| s > 0).count() > spec.len() / 2);
    }

    #[test]
    fn chain_runs_in_index_order() {
        let (_, order) = run_recording("chain-1000");
        assert_eq!(order, (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn fanout_runs_source_first_and_sink_last() {
        let (spec, order) = run_recording("fanout-10000");
        assert_eq!(order.first(), Some(&0));
        assert_eq!(order.last(), Some(&10_001));
        crate::workload::assert_dependencies_first(&spec, &order, "ran");
    }
}
