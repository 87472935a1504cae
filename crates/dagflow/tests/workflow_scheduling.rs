//! Order and concurrency of the async `Workflow`.

mod workflow_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dagflow::{Task, TaskContext, TaskOptions, TaskStatus, Workflow};
use serde_json::{json, Value};
use workflow_support::Log;

/// An action that logs its start and end, sleeps `ms`, and returns its name.
fn logged(
    log: &Log,
    ms: u64,
) -> impl Fn(TaskContext) -> futures::future::BoxFuture<'static, Result<Value, String>>
       + Send
       + Sync
       + 'static {
    let log = log.clone();
    move |ctx: TaskContext| {
        let log = log.clone();
        Box::pin(async move {
            log.record(ctx.task(), "start");
            if ms > 0 {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            log.record(ctx.task(), "end");
            Ok(json!(ctx.task()))
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linear_chain_runs_in_dependency_order() {
    let log = Log::new();
    let mut wf = Workflow::new("linear");
    wf.add_task("a", logged(&log, 1), TaskOptions::new())
        .add_task("b", logged(&log, 1), TaskOptions::new().depends_on(["a"]))
        .add_task("c", logged(&log, 1), TaskOptions::new().depends_on(["b"]))
        .add_task("d", logged(&log, 1), TaskOptions::new().depends_on(["c"]));
    let results = wf.run().await.unwrap();
    assert_eq!(log.order("start"), ["a", "b", "c", "d"]);
    for t in ["a", "b", "c"] {
        let next = (t.as_bytes()[0] + 1) as char;
        assert!(log.at(t, "end") < log.at(&next.to_string(), "start"));
    }
    assert_eq!(results.len(), 4);
    assert_eq!(results["d"], json!("d"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diamond_runs_middle_tasks_between_source_and_sink() {
    let log = Log::new();
    let mut wf = Workflow::new("diamond");
    wf.add_task("A", logged(&log, 5), TaskOptions::new())
        .add_task("B", logged(&log, 30), TaskOptions::new().depends_on(["A"]))
        .add_task("C", logged(&log, 30), TaskOptions::new().depends_on(["A"]))
        .add_task(
            "D",
            logged(&log, 0),
            TaskOptions::new().depends_on(["B", "C"]),
        );
    wf.run().await.unwrap();
    for mid in ["B", "C"] {
        assert!(log.at("A", "end") < log.at(mid, "start"));
        assert!(log.at(mid, "end") < log.at("D", "start"));
    }
    // B and C overlap: both start before either ends.
    assert!(log.at("B", "start") < log.at("C", "end"));
    assert!(log.at("C", "start") < log.at("B", "end"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dependent_starts_when_last_dependency_finishes_not_at_level_end() {
    let log = Log::new();
    let mut wf = Workflow::new("no-levels");
    wf.add_task("A", logged(&log, 400), TaskOptions::new())
        .add_task("B0", logged(&log, 10), TaskOptions::new())
        .add_task(
            "B1",
            logged(&log, 10),
            TaskOptions::new().depends_on(["B0"]),
        )
        .add_task(
            "B2",
            logged(&log, 10),
            TaskOptions::new().depends_on(["B1"]),
        );
    wf.run().await.unwrap();
    // Level-by-level scheduling would hold B1 (level 1) until A (level 0) ends.
    assert!(log.at("B1", "start") < log.at("A", "end"));
    assert!(log.at("B2", "end") < log.at("A", "end"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_cap_is_never_exceeded() {
    let running = Arc::new(AtomicUsize::new(0));
    let high_water = Arc::new(AtomicUsize::new(0));
    let mut wf = Workflow::new("capped");
    for i in 0..20 {
        let (running, high_water) = (running.clone(), high_water.clone());
        wf.add_task(
            format!("t{i}"),
            move |_ctx: TaskContext| {
                let (running, high_water) = (running.clone(), high_water.clone());
                async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    high_water.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(15)).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                    Ok::<_, String>(Value::Null)
                }
            },
            TaskOptions::new(),
        );
    }
    wf.max_concurrency(3);
    wf.run().await.unwrap();
    assert_eq!(high_water.load(Ordering::SeqCst), 3);
    assert_eq!(wf.summary().counts.completed, 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn independent_sleeps_run_concurrently() {
    let mut wf = Workflow::new("parallel");
    for i in 0..2 {
        wf.add_task(
            format!("sleep{i}"),
            |_ctx: TaskContext| async {
                tokio::time::sleep(Duration::from_secs(1)).await;
                Ok::<_, String>(Value::Null)
            },
            TaskOptions::new(),
        );
    }
    let start = std::time::Instant::now();
    wf.run().await.unwrap();
    assert!(
        start.elapsed() < Duration::from_millis(1800),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dependents_read_results_of_their_dependencies() {
    let mut wf = Workflow::new("sum");
    wf.add_task(
        "x",
        |_c: TaskContext| async { Ok::<_, String>(json!(2)) },
        TaskOptions::new(),
    )
    .add_task(
        "y",
        |_c: TaskContext| async { Ok::<_, String>(json!(3)) },
        TaskOptions::new(),
    )
    .add_task(
        "sum",
        |ctx: TaskContext| async move {
            let names: Vec<&str> = ctx.dependency_results().map(|(n, _)| n).collect();
            assert_eq!(names, ["x", "y"]);
            let total: i64 = ctx
                .dependency_results()
                .filter_map(|(_, v)| v.as_i64())
                .sum();
            Ok::<_, String>(json!(total))
        },
        TaskOptions::new().depends_on(["x", "y"]),
    );
    let results = wf.run().await.unwrap();
    assert_eq!(results["sum"], json!(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn factories_build_chain_parallel_and_fan_out_fan_in() {
    let log = Log::new();
    let task = |name: &str| Task::new(name, logged(&log, 1));

    let mut chain = Workflow::chain("chain", [task("a"), task("b"), task("c")]);
    chain.run().await.unwrap();
    assert_eq!(log.order("start"), ["a", "b", "c"]);

    let mut parallel = Workflow::parallel("parallel", [task("p"), task("q")]);
    let dag = parallel.dag().unwrap();
    assert_eq!(dag.edge_count(), 0);
    assert_eq!(parallel.run().await.unwrap().len(), 2);

    let mut fan = Workflow::fan_out_fan_in(
        "fan",
        task("src"),
        (0..5).map(|i| task(&format!("w{i}"))),
        task("sink"),
    );
    fan.run().await.unwrap();
    for i in 0..5 {
        let w = format!("w{i}");
        assert!(log.at("src", "end") < log.at(&w, "start"));
        assert!(log.at(&w, "end") < log.at("sink", "start"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_id_is_settable_and_visible_to_tasks() {
    let mut wf = Workflow::new("ids");
    wf.add_task(
        "a",
        |ctx: TaskContext| async move { Ok::<_, String>(json!(ctx.run_id())) },
        TaskOptions::new(),
    );
    wf.run_id("run-42");
    let results = wf.run().await.unwrap();
    assert_eq!(results["a"], json!("run-42"));
    assert_eq!(wf.last_run_id(), Some("run-42"));

    // Without an explicit id, each run gets a fresh UUID v4.
    let first = wf.run().await.unwrap()["a"].clone();
    let second = wf.run().await.unwrap()["a"].clone();
    assert_ne!(first, second);
    assert_eq!(first.as_str().unwrap().len(), 36);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_added_after_a_run_join_the_next_run() {
    let mut wf = Workflow::new("grow");
    wf.add_task(
        "a",
        |_c: TaskContext| async { Ok::<_, String>(json!(1)) },
        TaskOptions::new(),
    );
    // The first run's results stay alive while tasks are added: whatever
    // they share with the workflow must not change under them.
    let first = wf.run().await.unwrap();
    assert_eq!(first.len(), 1);
    wf.add_task(
        "b",
        |ctx: TaskContext| async move { Ok::<_, String>(ctx.result("a").cloned().unwrap_or_default()) },
        TaskOptions::new().depends_on(["a"]),
    );
    assert_eq!((wf.len(), wf.task_names()), (2, vec!["a", "b"]));
    let results = wf.run().await.unwrap();
    assert_eq!(results["b"], json!(1));
    assert_eq!((first.len(), results.len()), (1, 2));
    assert_eq!(
        wf.summary().task("b").unwrap().status,
        TaskStatus::Completed
    );
}

#[tokio::test]
async fn empty_workflow_succeeds_with_no_results() {
    let mut wf = Workflow::new("empty");
    assert!(wf.run().await.unwrap().is_empty());
    assert!(wf.summary().success);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indexed_results_match_the_map_and_keep_insertion_order() {
    let build = || {
        let mut wf = Workflow::new("indexed");
        wf.add_task(
            "z",
            |_c: TaskContext| async { Ok::<_, String>(json!(26)) },
            TaskOptions::new(),
        )
        .add_task(
            "a",
            |_c: TaskContext| async { Err::<Value, _>("no") },
            TaskOptions::new(),
        )
        .add_task(
            "m",
            |_c: TaskContext| async { Ok::<_, String>(json!("m")) },
            TaskOptions::new().depends_on(["z"]),
        );
        wf.fail_fast(false);
        wf
    };
    let results = build().run().await.unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results.keys().collect::<Vec<_>>(), ["z", "m"]);
    assert_eq!(results.get("m"), Some(&json!("m")));
    assert!(results.get("a").is_none() && !results.contains_key("missing"));
    assert_eq!(
        serde_json::to_string(&results).unwrap(),
        r#"{"z":26,"m":"m"}"#
    );

    let map = results.into_map();
    assert_eq!(map.len(), 2);
    assert_eq!(map["z"], json!(26));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_can_be_spawned_on_the_runtime() {
    fn assert_send<T: Send + 'static>(value: T) -> T {
        value
    }
    let mut wf = Workflow::new("spawned");
    wf.add_task(
        "a",
        |_c: TaskContext| async { Ok::<_, String>(json!(1)) },
        TaskOptions::new(),
    );
    let handle = tokio::spawn(assert_send(async move { wf.run().await.map(|r| r.len()) }));
    assert_eq!(handle.await.unwrap().unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_queued_for_a_concurrency_slot_is_not_part_of_a_tasks_duration() {
    let log = Log::new();
    let mut wf = Workflow::new("queued");
    for name in ["a", "b", "c"] {
        wf.add_task(name, logged(&log, 100), TaskOptions::new());
    }
    wf.max_concurrency(1);
    wf.run().await.unwrap();
    let summary = wf.summary();
    for name in ["a", "b", "c"] {
        let duration = summary.task(name).unwrap().duration;
        // Each ran 100 ms; the last of them waited 200 ms for its turn (and
        // reported 300 ms when queueing counted). Loose for loaded machines.
        assert!(
            duration >= Duration::from_millis(100) && duration < Duration::from_millis(250),
            "{name} reported {duration:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_task_along_a_chain_reports_its_own_duration() {
    // b runs right after a on the same driver, which takes a's end as b's
    // start: b must not report a's time, nor c the time of a and b.
    let log = Log::new();
    let mut wf = Workflow::new("timed-chain");
    wf.add_task("a", logged(&log, 120), TaskOptions::new())
        .add_task("b", logged(&log, 0), TaskOptions::new().depends_on(["a"]))
        .add_task("c", logged(&log, 40), TaskOptions::new().depends_on(["b"]));
    wf.run().await.unwrap();
    let summary = wf.summary();
    let duration = |name: &str| summary.task(name).unwrap().duration;
    assert!(
        duration("a") >= Duration::from_millis(120),
        "a: {:?}",
        duration("a")
    );
    // Loose upper bounds for loaded machines, below what double counting gives.
    assert!(
        duration("b") < Duration::from_millis(60),
        "b: {:?}",
        duration("b")
    );
    let c = duration("c");
    assert!(
        c >= Duration::from_millis(40) && c < Duration::from_millis(120),
        "c: {c:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_context_kept_after_its_task_ends_does_not_hold_up_the_run() {
    // Enough roots that batch drivers start them, and a chain after one of
    // them; `keeper` hands a copy of its context to a detached tokio task.
    let kept = Arc::new(std::sync::Mutex::new(None));
    let mut wf = Workflow::new("detached");
    for i in 0..200 {
        wf.add_task(
            format!("root{i}"),
            move |_ctx: TaskContext| async move { Ok::<_, String>(json!(i)) },
            TaskOptions::new(),
        );
    }
    let slot = Arc::clone(&kept);
    wf.add_task(
        "keeper",
        move |ctx: TaskContext| {
            let slot = Arc::clone(&slot);
            async move {
                let copy = ctx.clone();
                let later = tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(1500)).await;
                    copy.task().to_string()
                });
                *slot.lock().map_err(|e| e.to_string())? = Some(later);
                Ok::<_, String>(json!("kept"))
            }
        },
        TaskOptions::new().depends_on(["root0"]),
    );
    wf.add_task(
        "after",
        |ctx: TaskContext| async move { Ok::<_, String>(json!(ctx.result("keeper").cloned())) },
        TaskOptions::new().depends_on(["keeper"]),
    );
    let start = std::time::Instant::now();
    let results = wf.run().await.unwrap();
    let took = start.elapsed();
    assert!(
        took < Duration::from_millis(1000),
        "the run waited for the detached task: {took:?}"
    );
    assert_eq!(results.len(), 202);
    assert_eq!(results["root199"], json!(199));
    assert_eq!(results["after"], json!("kept"));
    // The detached copy still works after the run.
    let later = kept.lock().unwrap().take().expect("keeper ran");
    assert_eq!(later.await.unwrap(), "keeper");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_waits_for_roots_that_go_on_after_their_first_poll() {
    // Roots that wait at their first poll leave their batch driver and go
    // on as tokio tasks of their own; the run must still wait for each.
    let mut wf = Workflow::new("waiting-roots");
    for i in 0..100u64 {
        wf.add_task(
            format!("root{i}"),
            move |_ctx: TaskContext| async move {
                tokio::time::sleep(Duration::from_millis(30 + i % 7)).await;
                Ok::<_, String>(json!(i))
            },
            TaskOptions::new(),
        );
    }
    wf.add_task(
        "sink",
        |ctx: TaskContext| async move {
            let sum: u64 = (0..100)
                .filter_map(|i| ctx.result(&format!("root{i}")).and_then(Value::as_u64))
                .sum();
            Ok::<_, String>(json!(sum))
        },
        TaskOptions::new().depends_on((0..100).map(|i| format!("root{i}"))),
    );
    let start = std::time::Instant::now();
    let results = wf.run().await.unwrap();
    assert!(start.elapsed() >= Duration::from_millis(30));
    assert_eq!(results.len(), 101);
    assert_eq!(results["sink"], json!((0..100u64).sum::<u64>()));
}

/// Layers whose tasks each depend on three tasks of the layer before: a
/// finishing task often makes several dependents ready at once, and all
/// but one of them go through the run's queue of ready tasks to the
/// helpers on the other worker. Every task must run exactly once, after
/// its dependencies, whether the tasks finish at once or wait on a timer
/// (then a helper hands the waiting task to a tokio task of its own and
/// goes on), run after run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_dependents_handed_to_other_workers_each_run_once_after_their_dependencies() {
    const LAYERS: usize = 12;
    const WIDTH: usize = 150;
    let name = |l: usize, i: usize| format!("l{l}-{i}");
    for round in 0..6 {
        let done: Arc<Vec<AtomicUsize>> =
            Arc::new((0..LAYERS * WIDTH).map(|_| AtomicUsize::new(0)).collect());
        let mut wf = Workflow::new("layers");
        let mut x: u64 = 42 + round;
        for l in 0..LAYERS {
            for i in 0..WIDTH {
                let deps: Vec<usize> = if l == 0 {
                    Vec::new()
                } else {
                    (0..3)
                        .map(|_| {
                            x = x
                                .wrapping_mul(6364136223846793005)
                                .wrapping_add(1442695040888963407);
                            (x >> 33) as usize % WIDTH
                        })
                        .collect()
                };
                let me = l * WIDTH + i;
                let deps_done: Vec<usize> = deps.iter().map(|&d| (l - 1) * WIDTH + d).collect();
                let done = Arc::clone(&done);
                // Every seventh task of odd rounds waits on a timer first.
                let waits = round % 2 == 1 && me % 7 == 0;
                wf.add_task(
                    name(l, i),
                    move |_ctx: TaskContext| {
                        let done = Arc::clone(&done);
                        let deps_done = deps_done.clone();
                        async move {
                            if waits {
                                tokio::time::sleep(Duration::from_micros(200)).await;
                            }
                            for &d in &deps_done {
                                if done[d].load(Ordering::SeqCst) != 1 {
                                    return Err(format!("dependency {d} had not finished"));
                                }
                            }
                            done[me].fetch_add(1, Ordering::SeqCst);
                            Ok::<_, String>(json!(me))
                        }
                    },
                    TaskOptions::new().depends_on(deps.iter().map(|&d| name(l - 1, d))),
                );
            }
        }
        let results = wf.run().await.expect("the run completes");
        assert_eq!(results.len(), LAYERS * WIDTH, "round {round}");
        let s = wf.summary();
        assert!(s.success, "round {round}: {:?}", s.counts);
        for (t, count) in done.iter().enumerate() {
            assert_eq!(count.load(Ordering::SeqCst), 1, "round {round}: task {t}");
        }
    }
}
