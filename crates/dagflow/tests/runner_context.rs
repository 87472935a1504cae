//! The sync engine's `WorkflowContext` and step results: what steps read
//! and write, and where their results end up (the context, the run's
//! result, observers).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use dagflow::event::{Observer, ObserverError, WorkflowEvent};
use dagflow::{WorkflowContext, WorkflowRunner, WorkflowStep};
use serde_json::{json, Value};

#[test]
fn context_carries_initial_values_inserted_values_and_step_results() {
    let mut runner = WorkflowRunner::new("context");
    runner
        .add_step(
            WorkflowStep::new("load").action(|ctx: &mut WorkflowContext| {
                let rows = ctx.get("rows").and_then(Value::as_u64).ok_or("no rows")?;
                ctx.insert("loaded_at", "noon");
                Ok::<_, String>(json!(rows * 2))
            }),
        )
        .unwrap()
        .add_step(WorkflowStep::new("report").depends_on(["load"]).action(
            |ctx: &mut WorkflowContext| {
                let loaded = ctx.get("load").cloned().ok_or("load has no result")?;
                let when = ctx.get("loaded_at").cloned().ok_or("no time")?;
                Ok::<_, String>(json!({ "loaded": loaded, "when": when }))
            },
        ))
        .unwrap();
    let mut start = serde_json::Map::new();
    start.insert("rows".into(), json!(21));
    // A stale value under a step's name is replaced by the step's result.
    start.insert("load".into(), json!("stale"));
    let result = runner.run(WorkflowContext::from_map(start)).unwrap();
    assert!(result.success);
    assert_eq!(
        result.context.get("report"),
        Some(&json!({ "loaded": 42, "when": "noon" }))
    );
    let map = result.context.into_map();
    assert_eq!(map.get("load"), Some(&json!(42)));
    assert_eq!(map.get("rows"), Some(&json!(21)));
    assert_eq!(map.len(), 4);
}

#[test]
fn timed_step_reads_earlier_results_and_later_steps_read_its_result() {
    let mut runner = WorkflowRunner::new("timed-context");
    runner
        .add_step(
            WorkflowStep::new("base").action(|_: &mut WorkflowContext| Ok::<_, String>(json!(5))),
        )
        .unwrap()
        .add_step(
            WorkflowStep::new("double")
                .depends_on(["base"])
                .timeout(Duration::from_secs(5))
                .action(|ctx: &mut WorkflowContext| {
                    let base = ctx.get("base").and_then(Value::as_i64).ok_or("no base")?;
                    ctx.insert("doubled_on_helper_thread", true);
                    Ok::<_, String>(json!(base * 2))
                }),
        )
        .unwrap()
        .add_step(WorkflowStep::new("plus_one").depends_on(["double"]).action(
            |ctx: &mut WorkflowContext| {
                let doubled = ctx
                    .get("double")
                    .and_then(Value::as_i64)
                    .ok_or("no double")?;
                Ok::<_, String>(json!(doubled + 1))
            },
        ))
        .unwrap();
    let result = runner.run(WorkflowContext::new()).unwrap();
    assert!(result.success, "{:?}", result.step("plus_one"));
    assert_eq!(result.context.get("plus_one"), Some(&json!(11)));
    assert_eq!(
        result.context.get("doubled_on_helper_thread"),
        Some(&json!(true))
    );
    assert_eq!(result.step("double").unwrap().result, Some(&json!(10)));
}

/// Keeps the result carried by every `TaskCompleted` event.
#[derive(Default)]
struct ResultKeeper(Mutex<Vec<(String, Value)>>);

impl Observer for ResultKeeper {
    fn on_event(&self, event: &WorkflowEvent) -> Result<(), ObserverError> {
        if let WorkflowEvent::TaskCompleted { task, result, .. } = event {
            let kept = (task.to_string(), Value::clone(result));
            self.0.lock().unwrap().push(kept);
        }
        Ok(())
    }
}

#[test]
fn results_reach_observers_dependents_and_the_context_after_gaps_and_self_named_inserts() {
    let keeper = Arc::new(ResultKeeper::default());
    let mut runner = WorkflowRunner::new("results");
    runner
        .add_step(
            WorkflowStep::new("first").action(|ctx: &mut WorkflowContext| {
                // A value under the step's own name loses to its result.
                ctx.insert("first", "inserted by the step");
                Ok::<_, String>(json!(1))
            }),
        )
        .unwrap()
        .add_step(
            WorkflowStep::new("broken").action(|_: &mut WorkflowContext| Err::<Value, _>("no")),
        )
        .unwrap()
        .add_step(WorkflowStep::new("blocked").depends_on(["broken"]))
        .unwrap()
        // After a failure and a skip, results land behind empty slots.
        .add_step(WorkflowStep::new("after").depends_on(["first"]).action(
            |ctx: &mut WorkflowContext| {
                let first = ctx.get("first").and_then(Value::as_i64).ok_or("no first")?;
                Ok::<_, String>(json!(first + 10))
            },
        ))
        .unwrap()
        .add_step(WorkflowStep::new("plain").depends_on(["after"]))
        .unwrap();
    // Kept, so that the run must copy each result rather than move it.
    runner.observe(keeper.clone());
    let result = runner.run(WorkflowContext::new()).unwrap();
    assert_eq!(
        *keeper.0.lock().unwrap(),
        [
            ("first".to_string(), json!(1)),
            ("after".to_string(), json!(11)),
            ("plain".to_string(), Value::Null),
        ]
    );
    // In execution order: both results after `broken` follow an empty slot.
    let seen: Vec<(String, Option<Value>)> = result
        .steps()
        .map(|s| (s.name.to_string(), s.result.cloned()))
        .collect();
    assert_eq!(
        seen,
        [
            ("first".to_string(), Some(json!(1))),
            ("broken".to_string(), None),
            ("after".to_string(), Some(json!(11))),
            ("blocked".to_string(), None),
            ("plain".to_string(), Some(Value::Null)),
        ]
    );
    assert_eq!(result.context.get("first"), Some(&json!(1)));
    assert_eq!(result.context.get("after"), Some(&json!(11)));
    assert_eq!(result.context.get("broken"), None);
}
