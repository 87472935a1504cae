//! The async engine's runs as the journal records them: retries, failures
//! and skips, fail-fast, and concurrent runs sharing journals.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use dagflow::journal::{
    fingerprint, journaled_definition, EntryStatus, EventType, QueryFilter, WorkflowJournal,
};
use serde_json::{json, Value};

mod journal_support;
use journal_support::{shape, step};

#[tokio::test]
async fn async_workflow_is_journaled_with_retries_failures_and_skips() {
    use dagflow::analytics::WorkflowAnalytics;
    use dagflow::{RetryPolicy, TaskContext, TaskOptions, Workflow};
    use std::sync::atomic::AtomicU32;

    let journal = WorkflowJournal::in_memory();
    let attempts = Arc::new(AtomicU32::new(0));
    let seen = Arc::clone(&attempts);
    let mut wf = Workflow::new("async-etl");
    wf.add_task(
        "extract",
        |_: TaskContext| async { Ok::<_, String>(json!(7)) },
        TaskOptions::new().definition("curl data"),
    )
    .add_task(
        "flaky",
        move |_: TaskContext| {
            let seen = Arc::clone(&seen);
            async move {
                if seen.fetch_add(1, Ordering::SeqCst) == 0 {
                    Err("connection reset".to_string())
                } else {
                    Ok(json!("ok"))
                }
            }
        },
        TaskOptions::new().depends_on(["extract"]).retry(
            RetryPolicy::default()
                .max_attempts(2)
                .initial_delay(Duration::from_millis(5)),
        ),
    )
    .add_task(
        "load",
        |_: TaskContext| async { Err::<Value, _>("disk full") },
        TaskOptions::new()
            .depends_on(["flaky"])
            .retry(RetryPolicy::none()),
    )
    .add_task(
        "report",
        |_: TaskContext| async { Ok::<_, String>(Value::Null) },
        TaskOptions::new().depends_on(["load"]),
    );
    wf.fail_fast(false);
    wf.observe(Arc::new(journal.clone()));
    wf.run().await.unwrap();
    let run_id = wf.last_run_id().unwrap().to_string();

    let entries = journal.by_workflow_id(&run_id).unwrap();
    assert_eq!(
        shape(&entries),
        [
            (EventType::WorkflowStart, None, EntryStatus::Started),
            (
                EventType::StepComplete,
                step("extract"),
                EntryStatus::Completed
            ),
            (EventType::StepRetry, step("flaky"), EntryStatus::Failed),
            (
                EventType::StepComplete,
                step("flaky"),
                EntryStatus::Completed
            ),
            (EventType::StepComplete, step("load"), EntryStatus::Failed),
            (
                EventType::StepComplete,
                step("report"),
                EntryStatus::Skipped
            ),
            (EventType::WorkflowComplete, None, EntryStatus::Failed),
        ]
    );
    assert!(entries.iter().all(|e| &*e.workflow_name == "async-etl"));
    assert_eq!(
        (entries[2].attempt, entries[2].error.as_deref()),
        (1, Some("connection reset"))
    );
    assert_eq!(
        (entries[3].attempt, entries[3].result.clone()),
        (2, Some(json!("ok")))
    );
    assert_eq!(entries[5].error.as_deref(), Some("dependency failed"));
    assert_eq!(
        entries[0].details["fingerprint"],
        json!(fingerprint(&wf.definition().unwrap()).to_hex())
    );
    assert_eq!(
        journaled_definition(&entries[0]).unwrap()[0]
            .definition
            .as_deref(),
        Some("curl data")
    );

    let analytics = WorkflowAnalytics::from_journal(&journal);
    assert_eq!(
        analytics.flaky_steps(5).unwrap(),
        [("flaky".to_string(), 1)]
    );
    assert_eq!(
        analytics.failure_hotspots(5).unwrap(),
        [("load".to_string(), 1)]
    );
    assert!(journal.take_errors().is_empty());
}

#[tokio::test]
async fn fail_fast_run_is_journaled_as_failed_not_cancelled() {
    use dagflow::{TaskContext, TaskOptions, Workflow};

    let journal = WorkflowJournal::in_memory();
    let mut wf = Workflow::new("stops-early");
    wf.add_task(
        "breaks",
        |_: TaskContext| async { Err::<Value, _>("boom") },
        TaskOptions::new(),
    )
    .add_task(
        "slow",
        |ctx: TaskContext| async move {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(5)) => Ok::<_, String>(json!(1)),
                _ = ctx.cancellation().cancelled() => Err("stopped".to_string()),
            }
        },
        TaskOptions::new(),
    )
    .add_task(
        "after",
        |_: TaskContext| async { Ok::<_, String>(json!(2)) },
        TaskOptions::new().depends_on(["slow"]),
    );
    wf.observe(Arc::new(journal.clone()));
    let _ = wf.run().await;
    let summary = wf.summary();
    assert!(!summary.success);

    let completions = journal.by_event_type(EventType::WorkflowComplete).unwrap();
    assert_eq!(completions.len(), 1);
    assert_eq!(completions[0].status, EntryStatus::Failed);
    let runs = journal.store().runs(&QueryFilter::all(), 10).unwrap();
    assert_eq!(runs[0].status, EntryStatus::Failed);
}

/// Two workflows of many quick tasks run at once on the same worker
/// threads, journaled into one journal and into a second one: every entry
/// carries its own run's id and workflow name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_runs_of_two_workflows_are_journaled_under_their_own_names() {
    use dagflow::{TaskContext, TaskOptions, Workflow};

    let shared = WorkflowJournal::in_memory();
    let second = WorkflowJournal::in_memory();
    let workflow = |name: &str| {
        let mut wf = Workflow::new(name);
        for i in 0..200 {
            let deps: Vec<String> = if i >= 10 {
                vec![format!("t{}", i - 10)]
            } else {
                vec![]
            };
            wf.add_task(
                format!("t{i}"),
                move |_: TaskContext| async move { Ok::<_, String>(json!(i)) },
                TaskOptions::new().depends_on(deps),
            );
        }
        wf.observe(Arc::new(shared.clone()));
        wf
    };
    let mut alpha = workflow("alpha");
    let mut beta = workflow("beta");
    beta.observe(Arc::new(second.clone()));
    let (a, b) = tokio::join!(alpha.run(), beta.run());
    a.unwrap();
    b.unwrap();
    let a = alpha.last_run_id().unwrap().to_string();
    let b = beta.last_run_id().unwrap().to_string();
    for (run_id, name) in [(&a, "alpha"), (&b, "beta")] {
        let entries = shared.by_workflow_id(run_id).unwrap();
        assert_eq!(entries.len(), 202, "{name}: start, 200 steps, end");
        assert!(entries.iter().all(|e| &*e.workflow_name == name), "{name}");
        assert!(entries.iter().all(|e| *e.workflow_id == **run_id));
    }
    let only_beta = second.by_workflow_id(&b).unwrap();
    assert_eq!(only_beta.len(), 202);
    assert!(only_beta.iter().all(|e| &*e.workflow_name == "beta"));
    assert!(second.by_workflow_id(&a).unwrap().is_empty());
}
