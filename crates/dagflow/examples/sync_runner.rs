//! A small report pipeline on the sync `WorkflowRunner`: steps share a
//! context, one step has a timeout, and an optional step fails without
//! stopping the independent ones.
//!
//! Run with `cargo run -p dagflow --example sync_runner`.

use std::time::Duration;

use dagflow::{WorkflowContext, WorkflowRunner, WorkflowStep};
use serde_json::{json, Value};

const TEXT: &str = "the quick brown fox jumps over the lazy dog the fox sleeps";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut runner = WorkflowRunner::new("word-report");
    runner
        .add_step(
            WorkflowStep::new("tokenize").action(|ctx: &mut WorkflowContext| {
                let text = ctx
                    .get("text")
                    .and_then(Value::as_str)
                    .ok_or("the context has no `text` to tokenize")?;
                let words: Vec<&str> = text.split_whitespace().collect();
                Ok::<_, String>(json!(words))
            }),
        )?
        .add_step(
            WorkflowStep::new("count")
                .depends_on(["tokenize"])
                .timeout(Duration::from_secs(2))
                .action(|ctx: &mut WorkflowContext| {
                    let mut counts = serde_json::Map::new();
                    for word in ctx
                        .get("tokenize")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        if ctx.is_cancelled() {
                            return Err("cancelled: the step ran out of time".to_string());
                        }
                        let word = word.as_str().unwrap_or_default().to_string();
                        let n = counts.get(&word).and_then(Value::as_u64).unwrap_or(0);
                        counts.insert(word, json!(n + 1));
                    }
                    Ok(Value::Object(counts))
                }),
        )?
        .add_step(WorkflowStep::new("top_word").depends_on(["count"]).action(
            |ctx: &mut WorkflowContext| {
                let counts = ctx
                    .get("count")
                    .and_then(Value::as_object)
                    .ok_or("`count` produced no table")?;
                let top = counts
                    .iter()
                    .max_by_key(|(word, n)| (n.as_u64(), std::cmp::Reverse(word.as_str())))
                    .map(|(word, _)| word.clone());
                ctx.insert("report_ready", true);
                Ok::<_, String>(json!(top))
            },
        ))?
        .add_step(WorkflowStep::new("upload").depends_on(["top_word"]).action(
            |_: &mut WorkflowContext| {
                Err::<Value, _>("no upload endpoint is configured (this step fails on purpose)")
            },
        ))?
        .add_step(WorkflowStep::new("notify").depends_on(["upload"]))?
        .add_step(
            WorkflowStep::new("archive")
                .depends_on(["tokenize"])
                .action(|ctx: &mut WorkflowContext| {
                    let n = ctx
                        .get("tokenize")
                        .and_then(Value::as_array)
                        .map_or(0, Vec::len);
                    Ok::<_, String>(json!(format!("archived {n} words")))
                }),
        )?;

    let mut context = WorkflowContext::new();
    context.insert("text", TEXT);
    let result = runner.run(context)?;

    println!("run {} of `{}`", result.workflow_id, result.workflow_name);
    for step in result.steps() {
        let detail = match (step.result, step.error) {
            (Some(value), _) => value.to_string(),
            (None, Some(error)) => format!("error: {error}"),
            (None, None) => String::new(),
        };
        println!(
            "  {:<9} {:<10} {:>9.3} ms  {}",
            step.name,
            step.status.as_str(),
            step.duration.as_secs_f64() * 1000.0,
            detail
        );
    }
    println!(
        "success: {} (completed {}, failed {}, skipped {}) in {:?}",
        result.success, result.completed, result.failed, result.skipped, result.duration
    );
    println!(
        "report_ready in context: {}",
        result.context.get("report_ready").unwrap_or(&Value::Null)
    );
    Ok(())
}
