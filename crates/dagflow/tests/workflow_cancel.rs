//! Workflow timeout and cancellation.

mod workflow_support;

use std::time::{Duration, Instant};

use dagflow::{TaskContext, TaskOptions, TaskStatus, Workflow, WorkflowError};
use serde_json::{json, Value};
use workflow_support::Log;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflow_timeout_is_an_error_and_cancels_unfinished_tasks() {
    let mut wf = Workflow::new("slow");
    wf.add_task(
        "quick",
        |_ctx: TaskContext| async { Ok::<_, String>(json!("done")) },
        TaskOptions::new(),
    )
    .add_task(
        "hangs",
        |_ctx: TaskContext| async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok::<_, String>(Value::Null)
        },
        TaskOptions::new(),
    )
    .add_task(
        "after",
        |_ctx: TaskContext| async { Ok::<_, String>(Value::Null) },
        TaskOptions::new().depends_on(["hangs"]),
    );
    wf.timeout(Duration::from_millis(100));
    let start = Instant::now();
    let err = wf.run().await.unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    match &err {
        WorkflowError::Timeout { workflow, after } => {
            assert_eq!(
                (workflow.as_str(), *after),
                ("slow", Duration::from_millis(100))
            );
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    let s = wf.summary();
    assert!(!s.success);
    assert_eq!(s.task("quick").unwrap().status, TaskStatus::Completed);
    for t in ["hangs", "after"] {
        let task = s.task(t).unwrap();
        assert_eq!(task.status, TaskStatus::Cancelled, "{t}");
        assert_eq!(
            task.reason.as_deref(),
            Some("workflow timed out after 100ms")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_from_another_task_stops_the_run_and_running_tasks_see_it() {
    let log = Log::new();
    let mut wf = Workflow::new("cancel");
    let cancel = wf.cancel_handle();
    let watcher_log = log.clone();
    wf.add_task(
        "watches_token",
        move |ctx: TaskContext| {
            let log = watcher_log.clone();
            async move {
                log.record(ctx.task(), "start");
                ctx.cancellation().cancelled().await;
                log.record(ctx.task(), "saw cancel");
                Ok::<_, String>(json!("cleaned up"))
            }
        },
        TaskOptions::new(),
    )
    .add_task(
        "ignores_token",
        |_ctx: TaskContext| async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok::<_, String>(Value::Null)
        },
        TaskOptions::new(),
    )
    .add_task(
        "never_starts",
        |_ctx: TaskContext| async { Ok::<_, String>(Value::Null) },
        TaskOptions::new().depends_on(["watches_token"]),
    );
    let run_started = Instant::now();
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        cancel.cancel();
    });
    let err = wf.run().await.unwrap_err();
    canceller.await.unwrap();
    assert!(matches!(err, WorkflowError::Cancelled { ref workflow } if workflow == "cancel"));
    assert!(run_started.elapsed() < Duration::from_secs(5));
    assert!(log.has("watches_token", "saw cancel"));

    let s = wf.summary();
    // The task that returned when it saw the token keeps its result.
    assert_eq!(
        s.task("watches_token").unwrap().status,
        TaskStatus::Completed
    );
    let ignores = s.task("ignores_token").unwrap();
    assert_eq!(ignores.status, TaskStatus::Cancelled);
    assert_eq!(ignores.reason.as_deref(), Some("workflow cancelled"));
    assert_eq!(
        s.task("never_starts").unwrap().status,
        TaskStatus::Cancelled
    );
    assert_eq!(s.stopped.as_deref(), Some("workflow cancelled"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_grace_lets_actions_finish_their_cleanup() {
    let mut wf = Workflow::new("graceful");
    let cancel = wf.cancel_handle();
    wf.add_task(
        "slow_cleanup",
        |ctx: TaskContext| async move {
            ctx.cancellation().cancelled().await;
            // Cleanup that takes a few polls (like waiting for a child process).
            tokio::time::sleep(Duration::from_millis(50)).await;
            Ok::<_, String>(json!("cleaned"))
        },
        TaskOptions::new(),
    );
    wf.cancel_grace(Duration::from_secs(5));
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        cancel.cancel();
    });
    assert!(wf.run().await.is_err());
    let task = wf.summary().task("slow_cleanup").unwrap().clone();
    assert_eq!(task.status, TaskStatus::Completed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_workflow_stays_cancelled() {
    let mut wf = Workflow::new("pre-cancelled");
    wf.add_task(
        "a",
        |_ctx: TaskContext| async { Ok::<_, String>(Value::Null) },
        TaskOptions::new(),
    );
    wf.cancel();
    assert!(matches!(
        wf.run().await,
        Err(WorkflowError::Cancelled { .. })
    ));
    let task = wf.summary().task("a").unwrap().clone();
    assert_eq!((task.status, task.attempts), (TaskStatus::Cancelled, 0));
}
