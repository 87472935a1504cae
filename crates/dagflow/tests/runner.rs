//! Behaviour of the sync engine `WorkflowRunner`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use dagflow::event::{Observer, ObserverError, StatusCounts, WorkflowEvent};
use dagflow::{
    GraphError, RunnerError, StepError, TaskStatus, WorkflowContext, WorkflowResult,
    WorkflowRunner, WorkflowStep,
};
use serde_json::{json, Value};

type Log = Arc<Mutex<Vec<String>>>;

/// A step that appends its name to `log` and returns its name.
fn logging_step(name: &str, log: &Log) -> WorkflowStep {
    let log = Arc::clone(log);
    let own = name.to_string();
    WorkflowStep::new(name).action(move |_: &mut WorkflowContext| {
        log.lock().map_err(|e| e.to_string())?.push(own.clone());
        Ok::<_, String>(json!(own))
    })
}

fn executed(log: &Log) -> Vec<String> {
    log.lock().expect("log lock").clone()
}

fn statuses(result: &WorkflowResult) -> Vec<(String, TaskStatus)> {
    result
        .steps()
        .map(|s| (s.name.to_string(), s.status))
        .collect()
}

#[test]
fn linear_steps_run_in_dependency_order_even_when_added_backwards() {
    let log = Log::default();
    let mut runner = WorkflowRunner::new("linear");
    runner
        .add_step(logging_step("c", &log).depends_on(["b"]))
        .unwrap()
        .add_step(logging_step("b", &log).depends_on(["a"]))
        .unwrap()
        .add_step(logging_step("a", &log))
        .unwrap();
    let result = runner.run(WorkflowContext::new()).unwrap();
    assert_eq!(executed(&log), ["a", "b", "c"]);
    assert!(result.success);
    assert_eq!((result.completed, result.failed, result.skipped), (3, 0, 0));
    assert_eq!(runner.step_names(), ["c", "b", "a"]);
    assert_eq!(runner.step_count(), 3);
}

#[test]
fn diamond_runs_source_then_branches_in_insertion_order_then_sink() {
    let log = Log::default();
    let mut runner = WorkflowRunner::new("diamond");
    for step in [
        logging_step("a", &log),
        logging_step("b", &log).depends_on(["a"]),
        logging_step("c", &log).depends_on(["a"]),
        logging_step("d", &log).depends_on(["b", "c"]),
    ] {
        runner.add_step(step).unwrap();
    }
    let result = runner.run(WorkflowContext::new()).unwrap();
    assert_eq!(executed(&log), ["a", "b", "c", "d"]);
    let order: Vec<&str> = result.steps().map(|s| s.name).collect();
    assert_eq!(order, ["a", "b", "c", "d"]);
}

#[test]
fn cycle_is_reported_with_its_path_and_nothing_runs() {
    let log = Log::default();
    let mut runner = WorkflowRunner::new("cyclic");
    runner
        .add_step(logging_step("start", &log))
        .unwrap()
        .add_step(logging_step("a", &log).depends_on(["start", "c"]))
        .unwrap()
        .add_step(logging_step("b", &log).depends_on(["a"]))
        .unwrap()
        .add_step(logging_step("c", &log).depends_on(["b"]))
        .unwrap();
    let error = runner.run(WorkflowContext::new()).unwrap_err();
    let cycle = error.cycle().expect("a cycle error");
    assert_eq!(cycle.path, ["a", "b", "c", "a"]);
    assert!(error.to_string().contains("a -> b -> c -> a"), "{error}");
    assert!(executed(&log).is_empty());
}

#[test]
fn duplicate_step_is_an_error_and_keeps_the_first_step() {
    let log = Log::default();
    let mut runner = WorkflowRunner::new("dup");
    runner.add_step(logging_step("a", &log)).unwrap();
    let error = runner
        .add_step(WorkflowStep::new("a").depends_on(["x"]))
        .unwrap_err();
    assert!(matches!(
        &error,
        RunnerError::Graph(GraphError::DuplicateTask { name }) if name == "a"
    ));
    assert!(error.to_string().contains("`a` is defined more than once"));
    assert_eq!(runner.step_count(), 1);
    runner.run(WorkflowContext::new()).unwrap();
    assert_eq!(executed(&log), ["a"]);
}

/// Name, dependencies, whether it has an action, timeout, definition.
type StepSummary<'a> = (
    &'a str,
    Vec<&'a str>,
    bool,
    Option<Duration>,
    Option<&'a str>,
);

/// The runner lends out each step as added: dependencies added before and
/// after their dependent, repeats kept, the boxed timeout and definition,
/// and an owned copy that behaves the same in another runner.
#[test]
fn added_steps_read_back_as_given_and_copy_into_another_runner() {
    let log = Log::default();
    let mut runner = WorkflowRunner::new("views");
    runner
        .add_step(logging_step("fetch", &log))
        .unwrap()
        .add_step(
            logging_step("report", &log)
                .depends_on(["fetch", "clean", "fetch"])
                .timeout(Duration::from_secs(5))
                .definition("report --all"),
        )
        .unwrap()
        .add_step(WorkflowStep::new("clean").depends_on(["fetch"]))
        .unwrap();

    let summary: Vec<StepSummary> = runner
        .steps()
        .map(|s| {
            let deps = s.depends_on().collect();
            (
                s.name(),
                deps,
                s.action().is_some(),
                s.timeout(),
                s.definition(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("fetch", vec![], true, None, None),
            (
                "report",
                vec!["fetch", "clean", "fetch"],
                true,
                Some(Duration::from_secs(5)),
                Some("report --all"),
            ),
            ("clean", vec!["fetch"], false, None, None),
        ]
    );
    assert_eq!(runner.step("clean").map(|s| s.name()), Some("clean"));
    assert!(runner.step("missing").is_none());

    let mut copy = WorkflowRunner::new("views");
    for step in runner.steps() {
        copy.add_step(step.to_step()).unwrap();
    }
    let copied = copy.step("report").unwrap().to_step();
    assert_eq!(copied.depends_on, ["fetch", "clean", "fetch"]);
    assert_eq!(copied.definition.as_deref(), Some("report --all"));
    let result = copy.run(WorkflowContext::new()).unwrap();
    assert_eq!(executed(&log), ["fetch", "report"]);
    assert_eq!(
        statuses(&result),
        [
            ("fetch".to_string(), TaskStatus::Completed),
            ("clean".to_string(), TaskStatus::Completed),
            ("report".to_string(), TaskStatus::Completed),
        ]
    );
}

#[test]
fn unknown_dependency_is_an_error_naming_both_steps() {
    let mut runner = WorkflowRunner::new("unknown");
    runner
        .add_step(WorkflowStep::new("deploy").depends_on(["tset"]))
        .unwrap();
    let error = runner.run(WorkflowContext::new()).unwrap_err();
    assert!(matches!(
        &error,
        RunnerError::Graph(GraphError::UnknownDependency { task, dependency })
            if task == "deploy" && dependency == "tset"
    ));
}

#[test]
fn failed_step_skips_its_dependents_but_not_independent_steps() {
    let log = Log::default();
    let mut runner = WorkflowRunner::new("failing");
    runner
        .add_step(
            WorkflowStep::new("fetch")
                .action(|_: &mut WorkflowContext| Err::<Value, _>("network unreachable")),
        )
        .unwrap()
        .add_step(logging_step("parse", &log).depends_on(["fetch"]))
        .unwrap()
        .add_step(logging_step("store", &log).depends_on(["parse"]))
        .unwrap()
        .add_step(logging_step("audit", &log))
        .unwrap();
    let result = runner.run(WorkflowContext::new()).unwrap();
    assert_eq!(executed(&log), ["audit"]);
    assert_eq!(
        statuses(&result),
        [
            ("fetch".to_string(), TaskStatus::Failed),
            ("audit".to_string(), TaskStatus::Completed),
            ("parse".to_string(), TaskStatus::Skipped),
            ("store".to_string(), TaskStatus::Skipped),
        ]
    );
    let fetch = result.step("fetch").unwrap();
    assert_eq!(fetch.error.unwrap().to_string(), "network unreachable");
    let store = result.step("store").unwrap();
    assert_eq!(store.error.unwrap().to_string(), "dependency failed");
    assert!(matches!(
        store.error,
        Some(StepError::DependencyFailed { dependency }) if &**dependency == "parse"
    ));
    assert!(!result.success);
    assert_eq!((result.completed, result.failed, result.skipped), (1, 1, 2));
}

#[test]
fn each_step_reports_the_time_it_took() {
    let sleeping = |ms: u64| {
        move |_: &mut WorkflowContext| {
            std::thread::sleep(Duration::from_millis(ms));
            Ok::<_, String>(json!(ms))
        }
    };
    let mut runner = WorkflowRunner::new("timed");
    runner
        .add_step(WorkflowStep::new("short").action(sleeping(5)))
        .unwrap()
        .add_step(
            WorkflowStep::new("long")
                .depends_on(["short"])
                .action(sleeping(40)),
        )
        .unwrap()
        .add_step(
            WorkflowStep::new("timed")
                .depends_on(["long"])
                .timeout(Duration::from_secs(5))
                .action(sleeping(20)),
        )
        .unwrap()
        .add_step(WorkflowStep::new("marker").depends_on(["timed"]))
        .unwrap();
    let result = runner.run(WorkflowContext::new()).unwrap();
    let took = |name: &str| result.step(name).unwrap().duration;
    assert!(
        took("short") >= Duration::from_millis(5),
        "{:?}",
        took("short")
    );
    assert!(
        took("long") >= Duration::from_millis(40),
        "{:?}",
        took("long")
    );
    assert!(
        took("timed") >= Duration::from_millis(20),
        "{:?}",
        took("timed")
    );
    // A step without an action takes (next to) no time, and the steps'
    // times add up to no more than the run's. Step times come from the
    // calibrated time-stamp counter and the run's from the monotonic clock,
    // whose rates agree to about 0.02 %: hence the 0.5 % allowance.
    assert!(
        took("marker") < Duration::from_millis(5),
        "{:?}",
        took("marker")
    );
    let total: Duration = result.steps().map(|s| s.duration).sum();
    assert!(
        total <= result.duration.mul_f64(1.005),
        "{total:?} > {:?}",
        result.duration
    );
}

#[test]
fn success_requires_a_completed_step_and_no_failure() {
    let empty = WorkflowRunner::new("empty")
        .run(WorkflowContext::new())
        .unwrap();
    assert!(!empty.success, "a workflow without steps did not succeed");
    assert_eq!(empty.counts(), StatusCounts::default());

    let mut no_ops = WorkflowRunner::new("no-ops");
    no_ops.add_step(WorkflowStep::new("only")).unwrap();
    let result = no_ops.run(WorkflowContext::new()).unwrap();
    assert!(result.success);
    assert_eq!(result.context.get("only"), Some(&Value::Null));

    let all_skipped = StatusCounts {
        skipped: 2,
        ..StatusCounts::default()
    };
    assert!(!WorkflowResult::success_rule(all_skipped));
}

#[test]
fn panicking_step_fails_with_its_message_and_the_run_goes_on() {
    let log = Log::default();
    let mut runner = WorkflowRunner::new("panics");
    runner
        .add_step(
            WorkflowStep::new("explode").action(
                |_: &mut WorkflowContext| -> Result<Value, String> { panic!("disk on fire") },
            ),
        )
        .unwrap()
        .add_step(
            WorkflowStep::new("timed_explode")
                .timeout(Duration::from_secs(5))
                .action(|_: &mut WorkflowContext| -> Result<Value, String> {
                    panic!("thread on fire")
                }),
        )
        .unwrap()
        .add_step(logging_step("survivor", &log))
        .unwrap();
    let result = runner.run(WorkflowContext::new()).unwrap();
    assert_eq!(executed(&log), ["survivor"]);
    let message = |name: &str| {
        result
            .step(name)
            .and_then(|s| s.error)
            .map(|e| e.to_string())
    };
    assert_eq!(
        message("explode").as_deref(),
        Some("panicked: disk on fire")
    );
    assert_eq!(
        message("timed_explode").as_deref(),
        Some("panicked: thread on fire")
    );
    assert_eq!(result.failed, 2);
}

#[test]
fn steps_after_consecutive_panics_still_run_in_order_and_dependents_are_skipped() {
    let log = Log::default();
    let boom = |_: &mut WorkflowContext| -> Result<Value, String> { panic!("boom") };
    let mut runner = WorkflowRunner::new("panics-in-a-row");
    runner
        .add_step(logging_step("first", &log))
        .unwrap()
        .add_step(WorkflowStep::new("p1").depends_on(["first"]).action(boom))
        .unwrap()
        .add_step(WorkflowStep::new("p2").depends_on(["first"]).action(boom))
        .unwrap()
        .add_step(logging_step("after_p1", &log).depends_on(["p1"]))
        .unwrap()
        .add_step(logging_step("last", &log).depends_on(["first"]))
        .unwrap();
    let result = runner.run(WorkflowContext::new()).unwrap();
    assert_eq!(executed(&log), ["first", "last"]);
    assert_eq!(
        statuses(&result),
        [
            ("first".to_string(), TaskStatus::Completed),
            ("p1".to_string(), TaskStatus::Failed),
            ("p2".to_string(), TaskStatus::Failed),
            ("last".to_string(), TaskStatus::Completed),
            ("after_p1".to_string(), TaskStatus::Skipped),
        ]
    );
    assert_eq!((result.completed, result.failed, result.skipped), (2, 2, 1));
}

/// An observer that panics when a given step completes.
struct PanickingObserver(&'static str);

impl Observer for PanickingObserver {
    fn on_event(&self, event: &WorkflowEvent) -> Result<(), ObserverError> {
        if let WorkflowEvent::TaskCompleted { task, .. } = event {
            if **task == *self.0 {
                panic!("observer broke on {task}");
            }
        }
        Ok(())
    }
}

#[test]
fn an_observer_panic_is_not_taken_for_the_step_failing() {
    let mut runner = WorkflowRunner::new("observer-panics");
    runner
        .add_step(WorkflowStep::new("fine"))
        .unwrap()
        .add_step(WorkflowStep::new("next").depends_on(["fine"]))
        .unwrap();
    runner.observe(Arc::new(PanickingObserver("fine")));
    let result = runner.run(WorkflowContext::new()).unwrap();
    assert_eq!(
        statuses(&result),
        [
            ("fine".to_string(), TaskStatus::Completed),
            ("next".to_string(), TaskStatus::Completed),
        ]
    );
    assert_eq!(
        result.observer_errors,
        ["observer panicked: observer broke on fine"]
    );
}

#[test]
fn runs_have_unique_ids_and_the_runner_can_run_again() {
    let mut runner = WorkflowRunner::new("again");
    runner.add_step(WorkflowStep::new("a")).unwrap();
    let first = runner.run(WorkflowContext::new()).unwrap();
    let second = runner.run(first.context).unwrap();
    assert_ne!(first.workflow_id, second.workflow_id);
    assert_eq!(second.workflow_id.len(), 36);
    assert!(second.success);
}

#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl Observer for Recorder {
    fn on_event(&self, event: &WorkflowEvent) -> Result<(), ObserverError> {
        let line = match event {
            WorkflowEvent::TaskStarted { task, attempt, .. } => {
                format!("task_started {task} {attempt}")
            }
            WorkflowEvent::WorkflowCompleted {
                success, counts, ..
            } => format!(
                "workflow_completed {success} {}/{}/{}",
                counts.completed, counts.failed, counts.skipped
            ),
            other => match other.task() {
                Some(task) => format!("{} {task}", other.kind()),
                None => other.kind().to_string(),
            },
        };
        self.0.lock().unwrap().push(line);
        Ok(())
    }
}

struct Broken;

impl Observer for Broken {
    fn on_event(&self, _: &WorkflowEvent) -> Result<(), ObserverError> {
        Err(ObserverError::new("broken", "always fails"))
    }
}

#[test]
fn observers_receive_lifecycle_events_in_order_and_cannot_break_the_run() {
    let recorder = Arc::new(Recorder::default());
    let mut runner = WorkflowRunner::new("events");
    runner
        .add_step(WorkflowStep::new("a"))
        .unwrap()
        .add_step(
            WorkflowStep::new("b")
                .depends_on(["a"])
                .action(|_: &mut WorkflowContext| Err::<Value, _>("no")),
        )
        .unwrap()
        .add_step(WorkflowStep::new("c").depends_on(["b"]))
        .unwrap();
    runner.observe(recorder.clone()).observe(Arc::new(Broken));
    let result = runner.run(WorkflowContext::new()).unwrap();
    assert_eq!(
        *recorder.0.lock().unwrap(),
        [
            "workflow_started",
            "task_started a 1",
            "task_completed a",
            "task_started b 1",
            "task_failed b",
            "task_skipped c",
            "workflow_completed false 1/1/1",
        ]
    );
    assert_eq!(result.observer_errors.len(), 7);
    assert!(result.observer_errors[0].contains("always fails"));
}

#[test]
fn an_observer_attached_after_validation_gets_every_step_name() {
    // Validation without observers leaves the names unshared; the run that
    // an observer joins later shares them before its first event.
    let recorder = Arc::new(Recorder::default());
    let mut runner = WorkflowRunner::new("late-observer");
    runner
        .add_step(WorkflowStep::new("extract"))
        .unwrap()
        .add_step(WorkflowStep::new("load").depends_on(["extract"]))
        .unwrap();
    runner.validate().unwrap();
    runner.observe(recorder.clone());
    assert!(runner.run(WorkflowContext::new()).unwrap().success);
    assert_eq!(
        *recorder.0.lock().unwrap(),
        [
            "workflow_started",
            "task_started extract 1",
            "task_completed extract",
            "task_started load 1",
            "task_completed load",
            "workflow_completed true 2/0/0",
        ]
    );
}
