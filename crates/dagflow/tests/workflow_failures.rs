//! Failures, retries, timeouts, panics, conditions and result transforms.

mod workflow_support;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dagflow::{RetryPolicy, TaskContext, TaskError, TaskOptions, TaskStatus, Workflow};
use serde_json::{json, Value};
use workflow_support::{Collect, Log};

fn ok(
    value: Value,
) -> impl Fn(TaskContext) -> std::future::Ready<Result<Value, String>> + Send + Sync {
    move |_ctx| std::future::ready(Ok(value.clone()))
}

fn fail(
    message: &'static str,
) -> impl Fn(TaskContext) -> std::future::Ready<Result<Value, String>> + Send + Sync {
    move |_ctx| std::future::ready(Err(message.to_string()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_skips_dependents_when_fail_fast_is_off() {
    let mut wf = Workflow::new("skip");
    wf.add_task("a", fail("boom"), TaskOptions::new())
        .add_task("b", ok(json!(1)), TaskOptions::new().depends_on(["a"]))
        .add_task("c", ok(json!(2)), TaskOptions::new().depends_on(["b"]))
        .add_task("d", ok(json!(3)), TaskOptions::new());
    wf.fail_fast(false);
    let results = wf.run().await.expect("task failures are not run errors");
    assert_eq!(results.keys().collect::<Vec<_>>(), ["d"]);

    let s = wf.summary();
    assert_eq!(s.task("a").unwrap().status, TaskStatus::Failed);
    assert_eq!(s.task("a").unwrap().error.as_deref(), Some("boom"));
    for t in ["b", "c"] {
        let task = s.task(t).unwrap();
        assert_eq!(task.status, TaskStatus::Skipped);
        assert_eq!(task.reason.as_deref(), Some("dependency failed"));
        assert_eq!(task.attempts, 0);
    }
    assert_eq!(s.task("d").unwrap().status, TaskStatus::Completed);
    assert!(!s.success);
    assert_eq!(
        (s.counts.completed, s.counts.failed, s.counts.skipped),
        (1, 1, 2)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_fast_starts_nothing_after_the_first_failure() {
    let log = Log::new();
    let mut wf = Workflow::new("fail-fast");
    let logged = |ms: u64, fails: bool| {
        let log = log.clone();
        move |ctx: TaskContext| {
            let log = log.clone();
            async move {
                log.record(ctx.task(), "start");
                tokio::time::sleep(Duration::from_millis(ms)).await;
                log.record(ctx.task(), "end");
                if fails {
                    Err("broken".to_string())
                } else {
                    Ok(json!(ctx.task()))
                }
            }
        }
    };
    wf.add_task("fails", logged(20, true), TaskOptions::new())
        .add_task("slow", logged(200, false), TaskOptions::new())
        .add_task(
            "after_slow",
            logged(0, false),
            TaskOptions::new().depends_on(["slow"]),
        )
        .add_task(
            "after_fail",
            logged(0, false),
            TaskOptions::new().depends_on(["fails"]),
        );
    let results = wf.run().await.unwrap();

    // The running task finished and kept its result; nothing started later.
    assert_eq!(results.get("slow"), Some(&json!("slow")));
    let mut started = log.order("start");
    started.sort();
    assert_eq!(started, ["fails", "slow"]);
    assert!(log.at("fails", "end") < log.at("slow", "end"));

    let s = wf.summary();
    assert_eq!(s.stopped.as_deref(), Some("fail-fast: task `fails` failed"));
    for t in ["after_slow", "after_fail"] {
        let task = s.task(t).unwrap();
        assert_eq!(task.status, TaskStatus::Cancelled);
        assert_eq!(
            task.reason.as_deref(),
            Some("fail-fast: task `fails` failed")
        );
    }
    assert_eq!(s.task("slow").unwrap().status, TaskStatus::Completed);
    assert_eq!(
        (s.counts.completed, s.counts.failed, s.counts.cancelled),
        (1, 1, 2)
    );
}

#[tokio::test(start_paused = true)]
async fn retries_wait_with_exponential_backoff_then_succeed() {
    let attempts_at = Arc::new(Mutex::new(Vec::new()));
    let events = Arc::new(Collect::default());
    let mut wf = Workflow::new("retry");
    let times = attempts_at.clone();
    wf.add_task(
        "flaky",
        move |ctx: TaskContext| {
            let times = times.clone();
            async move {
                times.lock().unwrap().push(tokio::time::Instant::now());
                if ctx.attempt() < 3 {
                    Err(format!("attempt {} failed", ctx.attempt()))
                } else {
                    Ok(json!("third time lucky"))
                }
            }
        },
        TaskOptions::new().retry(
            RetryPolicy::default()
                .max_attempts(4)
                .initial_delay(Duration::from_millis(100))
                .exponential_base(2.0),
        ),
    );
    wf.observe(events.clone());
    let results = wf.run().await.unwrap();
    assert_eq!(results["flaky"], json!("third time lucky"));

    let times = attempts_at.lock().unwrap().clone();
    let gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(
        gaps,
        [Duration::from_millis(100), Duration::from_millis(200)]
    );
    assert_eq!(wf.summary().task("flaky").unwrap().attempts, 3);

    let retrying: Vec<(u32, Duration, String)> = events
        .events()
        .into_iter()
        .filter_map(|e| match e {
            dagflow::WorkflowEvent::TaskRetrying {
                attempt,
                delay,
                error,
                ..
            } => Some((attempt, delay, error)),
            _ => None,
        })
        .collect();
    assert_eq!(
        retrying,
        [
            (
                1,
                Duration::from_millis(100),
                "attempt 1 failed".to_string()
            ),
            (
                2,
                Duration::from_millis(200),
                "attempt 2 failed".to_string()
            )
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn task_fails_after_its_last_attempt() {
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    let mut wf = Workflow::new("exhaust");
    wf.add_task(
        "always",
        move |_ctx: TaskContext| {
            counter.fetch_add(1, Ordering::SeqCst);
            async { Err::<Value, _>("still broken") }
        },
        TaskOptions::new().retry(RetryPolicy::default().initial_delay(Duration::from_millis(10))),
    );
    wf.run().await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let task = wf.summary().task("always").unwrap().clone();
    assert_eq!((task.status, task.attempts), (TaskStatus::Failed, 3));
    assert_eq!(task.error.as_deref(), Some("still broken"));
}

#[derive(Debug, thiserror::Error)]
#[error("exit code {0}")]
struct ExitCode(i32);

#[tokio::test(start_paused = true)]
async fn retry_predicate_chooses_which_errors_are_retried() {
    let mut wf = Workflow::new("predicate");
    let policy = RetryPolicy::default()
        .max_attempts(5)
        .initial_delay(Duration::from_millis(1))
        .retry_if(|e: &TaskError| e.downcast_ref::<ExitCode>().is_some_and(|c| c.0 == 75));
    wf.add_task(
        "permanent",
        |_ctx: TaskContext| async { Err::<Value, _>(ExitCode(2)) },
        TaskOptions::new().retry(policy.clone()),
    )
    .add_task(
        "transient",
        |_ctx: TaskContext| async { Err::<Value, _>(ExitCode(75)) },
        TaskOptions::new().retry(policy),
    );
    wf.fail_fast(false);
    wf.run().await.unwrap();
    let s = wf.summary();
    assert_eq!(s.task("permanent").unwrap().attempts, 1);
    assert_eq!(s.task("transient").unwrap().attempts, 5);
    let code = wf
        .task_error("permanent")
        .and_then(|e| e.downcast_ref::<ExitCode>());
    assert_eq!(code.map(|c| c.0), Some(2));
}

#[tokio::test(start_paused = true)]
async fn task_timeout_fails_the_attempt_and_is_retried() {
    let mut wf = Workflow::new("timeouts");
    wf.add_task(
        "hangs",
        |_ctx: TaskContext| async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok::<_, String>(Value::Null)
        },
        TaskOptions::new().timeout(Duration::from_millis(50)).retry(
            RetryPolicy::default()
                .max_attempts(2)
                .initial_delay(Duration::ZERO),
        ),
    );
    let start = tokio::time::Instant::now();
    wf.run().await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_millis(100));
    let task = wf.summary().task("hangs").unwrap().clone();
    assert_eq!((task.status, task.attempts), (TaskStatus::Failed, 2));
    assert_eq!(
        task.error.as_deref(),
        Some(
            "the attempt timed out after 50ms; raise the task's timeout or make the action faster"
        )
    );
    assert!(wf.task_error("hangs").unwrap().is_timeout());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panic_in_an_action_fails_only_that_task() {
    let mut wf = Workflow::new("panics");
    wf.add_task(
        "explodes",
        |_ctx: TaskContext| async {
            if true {
                panic!("boom at step 3");
            }
            Ok::<_, String>(Value::Null)
        },
        TaskOptions::new(),
    )
    .add_task("fine", ok(json!("ok")), TaskOptions::new())
    // Panics while making its future, before any poll: on the lean path
    // (no options) and on the one with options (a timeout).
    .add_task(
        "explodes_starting",
        |_ctx: TaskContext| -> std::future::Ready<Result<Value, String>> {
            panic!("boom before the future")
        },
        TaskOptions::new(),
    )
    .add_task(
        "explodes_starting_with_timeout",
        |_ctx: TaskContext| -> std::future::Ready<Result<Value, String>> {
            panic!("boom before the timed future")
        },
        TaskOptions::new().timeout(Duration::from_secs(5)),
    )
    .add_task(
        "after_starting",
        ok(json!("never")),
        TaskOptions::new().depends_on(["explodes_starting"]),
    )
    .add_blocking_task(
        "explodes_blocking",
        |_ctx: TaskContext| -> Result<Value, String> { panic!("blocking boom") },
        TaskOptions::new(),
    );
    wf.fail_fast(false);
    let results = wf.run().await.unwrap();
    assert_eq!(results["fine"], json!("ok"));
    let s = wf.summary();
    assert_eq!(
        s.task("explodes").unwrap().error.as_deref(),
        Some("the action panicked: boom at step 3")
    );
    assert_eq!(
        s.task("explodes_blocking").unwrap().error.as_deref(),
        Some("the action panicked: blocking boom")
    );
    assert!(matches!(
        wf.task_error("explodes"),
        Some(TaskError::Panicked { .. })
    ));
    assert_eq!(
        s.task("explodes_starting").unwrap().error.as_deref(),
        Some("the action panicked: boom before the future")
    );
    assert_eq!(
        s.task("explodes_starting_with_timeout")
            .unwrap()
            .error
            .as_deref(),
        Some("the action panicked: boom before the timed future")
    );
    let after = s.task("after_starting").unwrap();
    assert_eq!(after.status, TaskStatus::Skipped);
    assert!(!results.contains_key("after_starting"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditions_skip_tasks_when_false_or_failing() {
    let mut wf = Workflow::new("conditions");
    wf.add_task("mode", ok(json!("fast")), TaskOptions::new())
        .add_task(
            "fast_path",
            ok(json!(1)),
            TaskOptions::new()
                .depends_on(["mode"])
                .when(|ctx| ctx.result("mode") == Some(&json!("fast"))),
        )
        .add_task(
            "slow_path",
            ok(json!(2)),
            TaskOptions::new()
                .depends_on(["mode"])
                .when(|ctx| ctx.result("mode") == Some(&json!("slow"))),
        )
        .add_task(
            "broken_condition",
            ok(json!(3)),
            TaskOptions::new().condition(|_ctx| Err::<bool, _>("no config file")),
        )
        .add_task(
            "after_slow",
            ok(json!(4)),
            TaskOptions::new().depends_on(["slow_path"]),
        );
    wf.fail_fast(false);
    let results = wf.run().await.unwrap();
    assert_eq!(results.get("fast_path"), Some(&json!(1)));
    assert!(!results.contains_key("slow_path"));

    let s = wf.summary();
    let reason = |t: &str| s.task(t).unwrap().reason.clone();
    assert_eq!(s.task("slow_path").unwrap().status, TaskStatus::Skipped);
    assert_eq!(reason("slow_path").as_deref(), Some("condition was false"));
    assert_eq!(
        reason("broken_condition").as_deref(),
        Some("condition failed: no config file")
    );
    assert_eq!(reason("after_slow").as_deref(), Some("dependency failed"));
    // Skipped by a condition is not a failure.
    assert!(s.success);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transform_result_replaces_the_result_seen_by_dependents() {
    let mut wf = Workflow::new("transform");
    wf.add_task(
        "raw",
        ok(json!(2)),
        TaskOptions::new()
            .transform_result(|v: Value| Ok::<_, String>(json!(v.as_i64().unwrap_or(0) * 10))),
    )
    .add_task(
        "uses",
        |ctx: TaskContext| async move {
            Ok::<_, String>(ctx.result("raw").cloned().unwrap_or_default())
        },
        TaskOptions::new().depends_on(["raw"]),
    )
    .add_task(
        "bad_transform",
        ok(json!("text")),
        TaskOptions::new()
            .transform_result(|v: Value| v.as_i64().map(Value::from).ok_or("expected a number")),
    );
    wf.fail_fast(false);
    let results = wf.run().await.unwrap();
    assert_eq!(results["raw"], json!(20));
    assert_eq!(results["uses"], json!(20));
    assert_eq!(
        wf.summary().task("bad_transform").unwrap().error.as_deref(),
        Some("transform_result failed: expected a number")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summary_counts_every_final_state_and_serialises() {
    let mut wf = Workflow::new("counts");
    wf.add_task("ok1", ok(json!(1)), TaskOptions::new())
        .add_task("ok2", ok(json!(2)), TaskOptions::new().depends_on(["ok1"]))
        .add_task("bad", fail("nope"), TaskOptions::new())
        .add_task(
            "skipped",
            ok(json!(3)),
            TaskOptions::new().depends_on(["bad"]),
        )
        .add_task("unwanted", ok(json!(4)), TaskOptions::new().when(|_| false));
    wf.fail_fast(false);
    wf.run().await.unwrap();
    let s = wf.summary();
    assert_eq!(s.name, "counts");
    assert_eq!(s.total_tasks, 5);
    assert_eq!(
        (
            s.counts.completed,
            s.counts.failed,
            s.counts.skipped,
            s.counts.cancelled
        ),
        (2, 1, 2, 0)
    );
    assert!(!s.success);
    assert!(s.elapsed >= s.tasks["ok1"].duration);

    let v = serde_json::to_value(&s).unwrap();
    assert_eq!(v["tasks"]["bad"]["status"], json!("failed"));
    assert_eq!(v["tasks"]["bad"]["error"], json!("nope"));
    assert_eq!(v["tasks"]["ok2"]["attempts"], json!(1));
    assert!(v["elapsed_ms"].is_f64());
    assert!(v["tasks"]["ok1"]["duration_ms"].is_f64());
    let back: dagflow::WorkflowSummary = serde_json::from_value(v).unwrap();
    assert_eq!(back.counts, s.counts);
}

#[tokio::test]
async fn summary_before_any_run_lists_pending_tasks() {
    let mut wf = Workflow::new("fresh");
    wf.add_task("a", ok(json!(1)), TaskOptions::new());
    let s = wf.summary();
    assert_eq!(s.task("a").unwrap().status, TaskStatus::Pending);
    assert!(s.run_id.is_none() && !s.success);
}

#[tokio::test(start_paused = true)]
async fn fail_fast_stops_pending_retries() {
    let mut wf = Workflow::new("stop-retries");
    wf.add_task(
        "flaky",
        |_ctx: TaskContext| async { Err::<Value, _>("flaky failure") },
        TaskOptions::new().retry(RetryPolicy::default().initial_delay(Duration::from_secs(10))),
    )
    .add_task(
        "fails_later",
        |_ctx: TaskContext| async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            Err::<Value, _>("broken")
        },
        TaskOptions::new(),
    );
    let start = tokio::time::Instant::now();
    wf.run().await.unwrap();
    // The 10 s retry wait was cut short by the other task's failure.
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    let flaky = wf.summary().task("flaky").unwrap().clone();
    assert_eq!((flaky.status, flaky.attempts), (TaskStatus::Failed, 1));
    assert_eq!(flaky.error.as_deref(), Some("flaky failure"));
}
