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

/// A resumed run journals the steps it reused as restored outcomes, and the
/// analytics leave those out: the reused step keeps the one outcome and the
/// duration it really ran with, instead of gaining a zero-length success.
#[tokio::test]
async fn steps_a_resume_reuses_are_left_out_of_the_analytics() {
    use dagflow::analytics::WorkflowAnalytics;
    use dagflow::journal::resume::ResumePlan;
    use dagflow::{RetryPolicy, TaskContext, TaskOptions, Workflow};
    use std::sync::atomic::AtomicBool;

    let journal = WorkflowJournal::in_memory();
    let broken = Arc::new(AtomicBool::new(true));
    let disk = Arc::clone(&broken);
    let mut wf = Workflow::new("etl");
    wf.add_task(
        "extract",
        |_: TaskContext| async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok::<_, String>(json!("rows"))
        },
        TaskOptions::new(),
    )
    .add_task(
        "load",
        move |_: TaskContext| {
            let disk = Arc::clone(&disk);
            async move {
                if disk.load(Ordering::SeqCst) {
                    Err("disk full".to_string())
                } else {
                    Ok(json!("loaded"))
                }
            }
        },
        TaskOptions::new()
            .depends_on(["extract"])
            .retry(RetryPolicy::none()),
    );
    wf.observe(Arc::new(journal.clone()));
    let results = wf.run().await.unwrap();
    assert!(!results.contains_key("load"), "load fails the first run");
    let first = wf.last_run_id().unwrap().to_string();

    let plan =
        ResumePlan::from_journal(&**journal.store(), &first, &wf.definition().unwrap(), false)
            .unwrap();
    assert_eq!(plan.to_run, ["load"]);
    broken.store(false, Ordering::SeqCst);
    wf.restore(plan.restored, &first);
    wf.run().await.unwrap();
    let second = wf.last_run_id().unwrap().to_string();

    let entries = journal.by_workflow_id(&second).unwrap();
    let reused: Vec<_> = entries.iter().filter(|e| e.is_restored()).collect();
    assert_eq!(reused.len(), 1, "{entries:?}");
    assert_eq!(reused[0].step_name.as_deref(), Some("extract"));
    assert_eq!(reused[0].status, EntryStatus::Completed);

    let store = journal.store();
    let totals = store.workflow_totals(&QueryFilter::default()).unwrap();
    assert_eq!((totals.finished, totals.succeeded), (2, 1));
    assert_eq!(totals.total_steps, 3, "extract once, load twice");
    let steps = store.step_totals(&QueryFilter::default()).unwrap();
    let counts: Vec<_> = steps
        .iter()
        .map(|t| (t.step_name.as_str(), t.total, t.completed, t.failed))
        .collect();
    assert_eq!(counts, [("extract", 1, 1, 0), ("load", 2, 1, 1)]);

    let analytics = WorkflowAnalytics::from_journal(&journal);
    assert_eq!(analytics.success_rate("extract").unwrap(), 1.0);
    assert_eq!(analytics.success_rate("load").unwrap(), 0.5);
    let durations = analytics.step_durations().unwrap();
    assert_eq!(durations["extract"].samples, 1);
    assert!(
        durations["extract"].p50_ms >= 20.0,
        "the real run's duration, not the reuse's zero: {:?}",
        durations["extract"]
    );
    assert!(journal.take_errors().is_empty());
}
