//! `WorkflowRunner::time_steps`: runs without per-step timing give the same
//! results, statuses and errors as timed runs, with zero step durations;
//! an attached observer keeps steps timed.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use dagflow::event::{Observer, ObserverError, WorkflowEvent};
use dagflow::{
    StepError, TaskStatus, WorkflowContext, WorkflowResult, WorkflowRunner, WorkflowStep,
};
use serde_json::{json, Value};

fn sleeping(ms: u64) -> impl Fn(&mut WorkflowContext) -> Result<Value, String> {
    move |_: &mut WorkflowContext| {
        std::thread::sleep(Duration::from_millis(ms));
        Ok(json!(ms))
    }
}

/// `load` (sleeps 20 ms) → `parse` (panics) → `report` (skipped), and
/// `fetch` (sleeps 5 ms on a helper thread, within its timeout) →
/// `summary` (no action).
fn runner() -> WorkflowRunner {
    let mut runner = WorkflowRunner::new("timing");
    runner
        .add_step(WorkflowStep::new("load").action(sleeping(20)))
        .unwrap()
        .add_step(
            WorkflowStep::new("parse")
                .depends_on(["load"])
                .action(|_: &mut WorkflowContext| -> Result<Value, String> { panic!("bad row") }),
        )
        .unwrap()
        .add_step(WorkflowStep::new("report").depends_on(["parse"]))
        .unwrap()
        .add_step(
            WorkflowStep::new("fetch")
                .timeout(Duration::from_secs(5))
                .action(sleeping(5)),
        )
        .unwrap()
        .add_step(WorkflowStep::new("summary").depends_on(["fetch"]))
        .unwrap();
    runner
}

type Outcome = (String, TaskStatus, Option<Value>, Option<String>);

fn outcomes(result: &WorkflowResult) -> Vec<Outcome> {
    result
        .steps()
        .map(|s| {
            let error = s.error.map(StepError::to_string);
            (s.name.to_string(), s.status, s.result.cloned(), error)
        })
        .collect()
}

#[test]
fn untimed_runs_report_the_same_outcomes_with_zero_step_durations() {
    let timed = runner().run(WorkflowContext::new()).unwrap();
    let mut untimed_runner = runner();
    untimed_runner.time_steps(false);
    let untimed = untimed_runner.run(WorkflowContext::new()).unwrap();

    assert_eq!(outcomes(&untimed), outcomes(&timed));
    let statuses: Vec<(&str, TaskStatus)> = untimed.steps().map(|s| (s.name, s.status)).collect();
    use TaskStatus::{Completed, Failed, Skipped};
    assert_eq!(
        statuses,
        [
            ("load", Completed),
            ("fetch", Completed),
            ("parse", Failed),
            ("summary", Completed),
            ("report", Skipped)
        ]
    );
    assert_eq!(
        untimed.step("parse").unwrap().error.unwrap().to_string(),
        "panicked: bad row"
    );
    assert_eq!(
        (untimed.completed, untimed.failed, untimed.skipped),
        (3, 1, 1)
    );

    assert!(untimed.steps().all(|s| s.duration == Duration::ZERO));
    assert!(
        untimed.duration >= Duration::from_millis(25),
        "{:?}",
        untimed.duration
    );
    assert!(timed.step("load").unwrap().duration >= Duration::from_millis(20));
    assert!(timed.step("fetch").unwrap().duration >= Duration::from_millis(5));
}

#[test]
fn time_steps_can_be_turned_back_on() {
    let mut runner = runner();
    runner.time_steps(false).time_steps(true);
    let result = runner.run(WorkflowContext::new()).unwrap();
    assert!(result.step("load").unwrap().duration >= Duration::from_millis(20));
}

/// Keeps the duration of every `TaskCompleted` event, by task.
#[derive(Default)]
struct Durations(Mutex<Vec<(String, Duration)>>);

impl Observer for Durations {
    fn on_event(&self, event: &WorkflowEvent) -> Result<(), ObserverError> {
        if let WorkflowEvent::TaskCompleted { task, duration, .. } = event {
            let mut seen = self
                .0
                .lock()
                .map_err(|e| ObserverError::new("durations", e))?;
            seen.push((task.to_string(), *duration));
        }
        Ok(())
    }
}

#[test]
fn an_observer_keeps_steps_timed_so_events_carry_real_durations() {
    let observer = Arc::new(Durations::default());
    let mut runner = runner();
    runner.time_steps(false).observe(observer.clone());
    let result = runner.run(WorkflowContext::new()).unwrap();

    let load = result.step("load").unwrap().duration;
    assert!(load >= Duration::from_millis(20), "{load:?}");
    let seen = observer.0.lock().unwrap().clone();
    let names: Vec<&str> = seen.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["load", "fetch", "summary"]);
    // The event converts the span when it is sent and the result when it
    // is read, against a later calibration point: nanoseconds apart.
    assert!(
        seen[0].1.abs_diff(load) < Duration::from_micros(1),
        "{:?} vs {load:?}",
        seen[0].1
    );
    assert!(seen[1].1 >= Duration::from_millis(5), "{:?}", seen[1].1);
}
