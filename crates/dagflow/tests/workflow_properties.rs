//! Properties over random DAGs, and scale.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use dagflow::{TaskContext, TaskOptions, Workflow};
use proptest::prelude::*;
use serde_json::{json, Value};

/// Random DAGs: task i may depend on any earlier task; inserted in shuffled
/// order so dependencies often name tasks added later.
fn random_dag() -> impl Strategy<Value = Vec<(usize, Vec<usize>)>> {
    (1usize..40).prop_flat_map(|n| {
        let edges = proptest::collection::vec(
            proptest::collection::vec(any::<prop::sample::Index>(), 0..4),
            n,
        );
        let perm = Just((0..n).collect::<Vec<_>>()).prop_shuffle();
        (edges, perm).prop_map(move |(edges, perm)| {
            perm.iter()
                .map(|&i| {
                    let deps = if i == 0 {
                        vec![]
                    } else {
                        edges[i].iter().map(|ix| ix.index(i)).collect()
                    };
                    (i, deps)
                })
                .collect()
        })
    })
}

#[derive(Default)]
struct Trace {
    clock: AtomicUsize,
    /// Per task: how often it ran, its start and end ticks.
    runs: Vec<AtomicUsize>,
    start: Vec<AtomicUsize>,
    end: Vec<AtomicUsize>,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_task_runs_once_after_all_its_dependencies(tasks in random_dag(), cap in 0usize..4) {
        let n = tasks.len();
        let trace = Arc::new(Trace {
            runs: (0..n).map(|_| AtomicUsize::new(0)).collect(),
            start: (0..n).map(|_| AtomicUsize::new(0)).collect(),
            end: (0..n).map(|_| AtomicUsize::new(0)).collect(),
            ..Trace::default()
        });
        let mut wf = Workflow::new("random");
        for (i, deps) in &tasks {
            let i = *i;
            let trace = trace.clone();
            let dep_names: Vec<String> = deps.iter().map(|d| format!("t{d}")).collect();
            let expected = dep_names.clone();
            wf.add_task(
                format!("t{i}"),
                move |ctx: TaskContext| {
                    let trace = trace.clone();
                    let expected = expected.clone();
                    async move {
                        trace.start[i].store(trace.clock.fetch_add(1, Ordering::SeqCst), Ordering::SeqCst);
                        trace.runs[i].fetch_add(1, Ordering::SeqCst);
                        for d in &expected {
                            if ctx.result(d).is_none() {
                                return Err(format!("t{i} started before its dependency {d} finished"));
                            }
                        }
                        tokio::task::yield_now().await;
                        trace.end[i].store(trace.clock.fetch_add(1, Ordering::SeqCst), Ordering::SeqCst);
                        Ok::<_, String>(json!(i))
                    }
                },
                TaskOptions::new().depends_on(dep_names),
            );
        }
        if cap > 0 {
            wf.max_concurrency(cap);
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let results = rt.block_on(wf.run()).unwrap();
        let summary = wf.summary();
        prop_assert!(summary.success, "{:?}", summary);
        prop_assert_eq!(results.len(), n);
        for (i, deps) in &tasks {
            prop_assert_eq!(trace.runs[*i].load(Ordering::SeqCst), 1);
            prop_assert_eq!(&results[&format!("t{i}")], &json!(i));
            for d in deps {
                prop_assert!(
                    trace.end[*d].load(Ordering::SeqCst) < trace.start[*i].load(Ordering::SeqCst),
                    "t{} started before t{} ended", i, d
                );
            }
        }
    }
}

/// A 1,000,000-task chain inserted sink first: validation and scheduling
/// must not recurse, and every task must run in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reverse_inserted_million_task_chain_runs_in_order() {
    const N: usize = 1_000_000;
    let last_seen = Arc::new(AtomicUsize::new(usize::MAX));
    let out_of_order = Arc::new(AtomicUsize::new(0));
    let mut wf = Workflow::new("long-chain");
    for i in (0..N).rev() {
        let (last_seen, out_of_order) = (last_seen.clone(), out_of_order.clone());
        let options = if i == 0 {
            TaskOptions::new()
        } else {
            TaskOptions::new().depends_on([format!("t{}", i - 1)])
        };
        wf.add_task(
            format!("t{i}"),
            move |_ctx: TaskContext| {
                let previous = last_seen.swap(i, Ordering::SeqCst);
                if previous.wrapping_add(1) != i {
                    out_of_order.fetch_add(1, Ordering::SeqCst);
                }
                std::future::ready(Ok::<_, String>(Value::Null))
            },
            options,
        );
    }
    let results = wf.run().await.unwrap();
    assert_eq!(results.len(), N);
    assert_eq!(out_of_order.load(Ordering::SeqCst), 0);
    assert_eq!(last_seen.load(Ordering::SeqCst), N - 1);
}
