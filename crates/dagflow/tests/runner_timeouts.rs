//! Time limits of the sync engine's steps.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dagflow::{StepError, TaskStatus, WorkflowContext, WorkflowRunner, WorkflowStep};
use serde_json::json;

/// A step that runs up to five seconds unless cancelled.
fn slow_step(name: &str, limit: Duration) -> WorkflowStep {
    WorkflowStep::new(name)
        .timeout(limit)
        .action(|ctx: &mut WorkflowContext| {
            let begin = Instant::now();
            while begin.elapsed() < Duration::from_secs(5) {
                if ctx.is_cancelled() {
                    return Err("gave up");
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(json!("too late"))
        })
}

fn is_timeout_after(error: Option<&StepError>, limit: Duration) -> bool {
    matches!(error, Some(StepError::Timeout { after }) if *after == limit)
}

#[test]
fn step_timeout_fails_the_step_and_the_runner_moves_on() {
    let saw_cancel = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&saw_cancel);
    let mut runner = WorkflowRunner::new("timeouts");
    runner
        .add_step(
            WorkflowStep::new("slow")
                .timeout(Duration::from_millis(100))
                .action(move |ctx: &mut WorkflowContext| {
                    ctx.insert("slow_was_here", true);
                    let begin = Instant::now();
                    while begin.elapsed() < Duration::from_secs(5) {
                        if ctx.is_cancelled() {
                            flag.store(true, Ordering::SeqCst);
                            return Err("gave up");
                        }
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Ok(json!("too late"))
                }),
        )
        .unwrap()
        .add_step(WorkflowStep::new("after").depends_on(["slow"]))
        .unwrap()
        .add_step(
            WorkflowStep::new("quick")
                .timeout(Duration::from_secs(5))
                .action(|ctx: &mut WorkflowContext| {
                    ctx.insert("quick_was_here", true);
                    Ok::<_, String>(json!(1))
                }),
        )
        .unwrap();
    let began = Instant::now();
    let result = runner.run(WorkflowContext::new()).unwrap();
    let elapsed = began.elapsed();
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");

    let slow = result.step("slow").unwrap();
    assert_eq!(slow.status, TaskStatus::Failed);
    assert!(matches!(
        slow.error,
        Some(StepError::Timeout { after }) if *after == Duration::from_millis(100)
    ));
    assert_eq!(result.step("after").unwrap().status, TaskStatus::Skipped);
    // A step that finished in time keeps its writes; a timed-out one does not.
    assert_eq!(result.step("quick").unwrap().status, TaskStatus::Completed);
    assert_eq!(result.context.get("quick_was_here"), Some(&json!(true)));
    assert_eq!(result.context.get("slow_was_here"), None);

    // The abandoned thread sees the cancellation flag.
    let deadline = Instant::now() + Duration::from_secs(3);
    while !saw_cancel.load(Ordering::SeqCst) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(saw_cancel.load(Ordering::SeqCst));
}

/// A skipped step's time limit is passed over, and the limits of the
/// steps after it still apply, each to its own step.
#[test]
fn limits_after_a_skipped_limited_step_still_apply() {
    let mut runner = WorkflowRunner::new("skips");
    runner
        .add_step(
            WorkflowStep::new("broken")
                .action(|_: &mut WorkflowContext| Err::<serde_json::Value, _>("no input")),
        )
        .unwrap()
        .add_step(WorkflowStep::new("start"))
        .unwrap()
        // Skipped (its dependency failed), with a limit of its own.
        .add_step(slow_step("needs-broken", Duration::from_secs(4)).depends_on(["broken"]))
        .unwrap()
        .add_step(slow_step("late", Duration::from_millis(60)).depends_on(["start"]))
        .unwrap();
    let began = Instant::now();
    let result = runner.run(WorkflowContext::new()).unwrap();
    assert!(
        began.elapsed() < Duration::from_secs(3),
        "took {:?}",
        began.elapsed()
    );
    let order: Vec<&str> = result.steps().map(|s| s.name).collect();
    assert_eq!(order, ["broken", "start", "needs-broken", "late"]);
    let needs = result.step("needs-broken").unwrap();
    assert_eq!(needs.status, TaskStatus::Skipped);
    let late = result.step("late").unwrap();
    assert_eq!(late.status, TaskStatus::Failed);
    assert!(
        is_timeout_after(late.error, Duration::from_millis(60)),
        "{:?}",
        late.error
    );
}
