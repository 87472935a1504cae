//! Journal runs of a sync workflow, then ask the journal questions.
//!
//! Twenty runs of a small ETL workflow whose `load` step fails every fifth
//! run are journaled in memory as they happen; the analytics then report
//! the hotspot, success rates and duration trend. A second part builds the
//! synthetic benchmark history (WORKLOADS.md) and prints its insight.
//!
//! Run with `cargo run -p dagflow --example journal_analytics`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use dagflow::journal::{synthetic, EventType, MemoryStore};
use dagflow::{WorkflowAnalytics, WorkflowContext, WorkflowJournal, WorkflowRunner, WorkflowStep};
use serde_json::{json, Value};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let journal = WorkflowJournal::in_memory();
    let runs = Arc::new(AtomicU32::new(0));

    let mut runner = WorkflowRunner::new("etl");
    let counter = Arc::clone(&runs);
    runner
        .add_step(
            WorkflowStep::new("extract").action(move |_: &mut WorkflowContext| {
                let run = counter.fetch_add(1, Ordering::SeqCst) + 1;
                Ok::<_, String>(json!({ "run": run, "rows": 100 + run }))
            }),
        )?
        .add_step(
            WorkflowStep::new("transform")
                .depends_on(["extract"])
                .action(|ctx: &mut WorkflowContext| {
                    let rows = ctx
                        .get("extract")
                        .and_then(|v| v["rows"].as_u64())
                        .unwrap_or(0);
                    Ok::<_, String>(json!(rows * 2))
                }),
        )?
        .add_step(WorkflowStep::new("load").depends_on(["transform"]).action(
            |ctx: &mut WorkflowContext| {
                let run = ctx
                    .get("extract")
                    .and_then(|v| v["run"].as_u64())
                    .unwrap_or(0);
                if run % 5 == 0 {
                    Err(format!("warehouse rejected batch {run}"))
                } else {
                    Ok(Value::Bool(true))
                }
            },
        ))?;
    runner.observe(Arc::new(journal.clone()));

    for _ in 0..20 {
        runner.run(WorkflowContext::new())?;
    }

    println!("journal: {} entries", journal.entry_count()?);
    for entry in journal
        .by_event_type(EventType::StepComplete)?
        .iter()
        .take(3)
    {
        println!(
            "  {} {:<9} {:<9} attempt {} result {}",
            &entry.workflow_id[..8],
            entry.step_name.as_deref().unwrap_or("-"),
            entry.status.as_str(),
            entry.attempt,
            entry.result.as_ref().unwrap_or(&Value::Null)
        );
    }

    let analytics = WorkflowAnalytics::from_journal(&journal);
    println!("failure hotspots: {:?}", analytics.failure_hotspots(5)?);
    println!(
        "success rate of load: {:.2}",
        analytics.success_rate("load")?
    );
    println!(
        "insight:\n{}",
        serde_json::to_string_pretty(&analytics.generate_insight()?)?
    );

    // The synthetic history used by the benchmarks and store comparisons.
    let store = Arc::new(MemoryStore::from_entries(synthetic::history(100_000)));
    let began = std::time::Instant::now();
    let insight = WorkflowAnalytics::new(store).generate_insight()?;
    println!(
        "synthetic history of 100,000 workflows: success rate {:.4}, mean {:.3} ms, hotspots {:?} \
         (insight computed in {:?})",
        insight.overall_success_rate,
        insight.mean_duration_ms,
        insight.failure_hotspots,
        began.elapsed()
    );
    Ok(())
}
