//! Events to observers, observer failures, resume from restored results,
//! blocking actions.

mod workflow_support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dagflow::event::{Observer, ObserverError};
use dagflow::{RetryPolicy, TaskContext, TaskOptions, TaskStatus, Workflow, WorkflowEvent};
use serde_json::{json, Value};
use workflow_support::Collect;

#[tokio::test]
async fn an_observer_attached_after_validation_gets_every_task_name() {
    // Validation without observers leaves the names unshared; the run that
    // an observer joins later shares them before its first event.
    let events = Arc::new(Collect::default());
    let mut wf = Workflow::new("late-observer");
    wf.add_task(
        "extract",
        |_ctx: TaskContext| async { Ok::<_, String>(json!(1)) },
        TaskOptions::new(),
    )
    .add_task(
        "load",
        |_ctx: TaskContext| async { Ok::<_, String>(json!(2)) },
        TaskOptions::new().depends_on(["extract"]),
    );
    wf.validate().unwrap();
    wf.observe(events.clone());
    wf.run().await.unwrap();
    assert_eq!(
        events.kinds(),
        [
            "workflow_started",
            "task_started:extract",
            "task_completed:extract",
            "task_started:load",
            "task_completed:load",
            "workflow_completed",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn events_arrive_in_lifecycle_order() {
    let events = Arc::new(Collect::default());
    let mut wf = Workflow::new("events");
    wf.add_task(
        "a",
        |ctx: TaskContext| async move {
            if ctx.attempt() == 1 {
                Err("first try fails")
            } else {
                Ok(json!(1))
            }
        },
        TaskOptions::new()
            .retry(RetryPolicy::default().initial_delay(Duration::from_millis(5)))
            .definition("echo a"),
    )
    .add_task(
        "b",
        |_ctx: TaskContext| async { Err::<Value, _>("b broke") },
        TaskOptions::new().depends_on(["a"]),
    )
    .add_task(
        "c",
        |_ctx: TaskContext| async { Ok::<_, String>(json!(3)) },
        TaskOptions::new().depends_on(["b"]),
    );
    wf.observe(events.clone()).fail_fast(false).run_id("run-1");
    wf.run().await.unwrap();

    assert_eq!(
        events.kinds(),
        [
            "workflow_started",
            "task_started:a",
            "task_retrying:a",
            "task_started:a",
            "task_completed:a",
            "task_started:b",
            "task_failed:b",
            "task_skipped:c",
            "workflow_completed",
        ]
    );
    let all = events.events();
    assert!(all.iter().all(|e| &**e.run_id() == "run-1"));
    match &all[0] {
        WorkflowEvent::WorkflowStarted {
            workflow,
            definition,
            resumed_from,
            ..
        } => {
            assert_eq!(&**workflow, "events");
            assert_eq!(definition.dag.len(), 3);
            assert_eq!(
                definition.task_definitions,
                [Some("echo a".to_string()), None, None]
            );
            assert!(resumed_from.is_none());
        }
        other => panic!("expected workflow_started, got {other:?}"),
    }
    match &all[4] {
        WorkflowEvent::TaskCompleted {
            attempt, result, ..
        } => {
            assert_eq!((*attempt, &**result), (2, &json!(1)));
        }
        other => panic!("expected task_completed, got {other:?}"),
    }
    match &all[7] {
        WorkflowEvent::TaskSkipped { reason, .. } => assert_eq!(reason, "dependency failed"),
        other => panic!("expected task_skipped, got {other:?}"),
    }
    match &all[8] {
        WorkflowEvent::WorkflowCompleted {
            success, counts, ..
        } => {
            assert!(!success);
            assert_eq!((counts.completed, counts.failed, counts.skipped), (1, 1, 1));
        }
        other => panic!("expected workflow_completed, got {other:?}"),
    }
}

struct Failing;
impl Observer for Failing {
    fn on_event(&self, event: &WorkflowEvent) -> Result<(), ObserverError> {
        Err(ObserverError::new(
            "failing",
            format!("disk full at {}", event.kind()),
        ))
    }
}

struct Panicking;
impl Observer for Panicking {
    fn on_event(&self, _event: &WorkflowEvent) -> Result<(), ObserverError> {
        panic!("observer bug")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_and_panicking_observers_do_not_break_the_run() {
    let events = Arc::new(Collect::default());
    let mut wf = Workflow::new("robust");
    wf.add_task(
        "a",
        |_c: TaskContext| async { Ok::<_, String>(json!(1)) },
        TaskOptions::new(),
    )
    .add_task(
        "b",
        |_c: TaskContext| async { Ok::<_, String>(json!(2)) },
        TaskOptions::new().depends_on(["a"]),
    );
    wf.observe(Arc::new(Failing))
        .observe(Arc::new(Panicking))
        .observe(events.clone());
    let results = wf.run().await.unwrap();
    assert_eq!(results.len(), 2);
    // The observer after the broken ones still saw everything.
    assert_eq!(events.kinds().len(), 6);
    let s = wf.summary();
    assert!(s.success);
    assert_eq!(s.observer_errors.len(), 12, "{:?}", s.observer_errors);
    assert!(s
        .observer_errors
        .contains(&"observer `failing` failed: disk full at task_completed".to_string()));
    assert!(s
        .observer_errors
        .contains(&"observer panicked: observer bug".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restored_tasks_do_not_run_and_pass_their_results_on() {
    let extract_runs = Arc::new(AtomicU32::new(0));
    let events = Arc::new(Collect::default());
    let mut wf = Workflow::new("resume");
    let runs = extract_runs.clone();
    wf.add_task(
        "extract",
        move |_c: TaskContext| {
            runs.fetch_add(1, Ordering::SeqCst);
            async { Ok::<_, String>(json!(1)) }
        },
        TaskOptions::new(),
    )
    .add_task(
        "transform",
        |ctx: TaskContext| async move {
            let n = ctx
                .result("extract")
                .and_then(Value::as_i64)
                .ok_or("no extract result")?;
            Ok::<_, String>(json!(n * 10))
        },
        TaskOptions::new().depends_on(["extract"]),
    );
    let restored: HashMap<String, Value> = [("extract".to_string(), json!(7))].into();
    wf.restore(restored, "run-0").observe(events.clone());
    let results = wf.run().await.unwrap();

    assert_eq!(extract_runs.load(Ordering::SeqCst), 0);
    assert_eq!(results["transform"], json!(70));
    assert_eq!(results["extract"], json!(7));
    let s = wf.summary();
    let extract = s.task("extract").unwrap();
    assert_eq!(
        (extract.status, extract.restored, extract.attempts),
        (TaskStatus::Completed, true, 0)
    );
    assert_eq!(s.resumed_from.as_deref(), Some("run-0"));
    assert!(s.success);
    assert_eq!(
        events.kinds(),
        [
            "workflow_started",
            "task_restored:extract",
            "task_started:transform",
            "task_completed:transform",
            "workflow_completed"
        ]
    );
    match &events.events()[0] {
        WorkflowEvent::WorkflowStarted { resumed_from, .. } => {
            assert_eq!(resumed_from.as_deref(), Some("run-0"));
        }
        other => panic!("expected workflow_started, got {other:?}"),
    }

    // The restore applied to that run only: the next run executes everything.
    wf.run().await.unwrap();
    assert_eq!(extract_runs.load(Ordering::SeqCst), 1);
}

/// A restored task whose one dependency runs again is not run after it:
/// its countdown holds the restore's extra count, which the engine's
/// shortcut for tasks with one dependency must respect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_task_does_not_run_when_its_one_dependency_runs_again() {
    let calls: Arc<std::sync::Mutex<Vec<&'static str>>> = Arc::default();
    let mut wf = Workflow::new("chain");
    for (name, dep) in [
        ("a", None),
        ("b", Some("a")),
        ("c", Some("b")),
        ("d", Some("c")),
    ] {
        let calls = calls.clone();
        let options = TaskOptions::new().depends_on(dep);
        wf.add_task(
            name,
            move |_c: TaskContext| {
                calls.lock().unwrap().push(name);
                async move { Ok::<_, String>(json!(name)) }
            },
            options,
        );
    }
    let restored: HashMap<String, Value> = [("b".to_string(), json!("kept"))].into();
    wf.restore(restored, "run-0");
    let results = wf.run().await.unwrap();

    let mut ran = calls.lock().unwrap().clone();
    ran.sort_unstable();
    assert_eq!(ran, ["a", "c", "d"], "b was restored and must not run");
    assert_eq!(results["b"], json!("kept"));
    assert_eq!(results["d"], json!("d"));
    let s = wf.summary();
    assert!(s.success);
    assert_eq!(
        s.task("b").map(|t| (t.restored, t.attempts)),
        Some((true, 0))
    );
}

/// On a current-thread runtime the test thread is the only scheduler thread:
/// a blocking action must run elsewhere, and async tasks keep running while
/// it blocks.
#[tokio::test]
async fn blocking_task_runs_on_the_blocking_pool() {
    let scheduler_thread = std::thread::current().id();
    let mut wf = Workflow::new("blocking");
    wf.add_blocking_task(
        "blocks",
        move |_ctx: TaskContext| {
            let on_scheduler = std::thread::current().id() == scheduler_thread;
            std::thread::sleep(Duration::from_millis(300));
            Ok::<_, String>(json!(on_scheduler))
        },
        TaskOptions::new(),
    )
    .add_task(
        "async_sibling",
        |_ctx: TaskContext| async {
            let start = std::time::Instant::now();
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok::<_, String>(json!(start.elapsed().as_millis() as u64))
        },
        TaskOptions::new(),
    );
    let results = wf.run().await.unwrap();
    assert_eq!(results["blocks"], json!(false));
    let sibling_ms = results["async_sibling"].as_u64().unwrap();
    assert!(
        sibling_ms < 250,
        "the async task waited for the blocking one: {sibling_ms} ms"
    );
}
