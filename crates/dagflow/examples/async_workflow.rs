//! A small ETL pipeline on the async engine: two downloads in parallel, a
//! CPU-bound parse on the blocking pool, a flaky upload retried with backoff,
//! a report that runs only when there is something to report.
//!
//! Run with `cargo run -p dagflow --example async_workflow`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dagflow::{RetryPolicy, TaskContext, TaskOptions, Workflow};
use serde_json::{json, Value};

/// Pretends to download `rows` rows of CSV.
async fn download(rows: u32) -> Result<Value, std::io::Error> {
    tokio::time::sleep(Duration::from_millis(80)).await;
    let csv: Vec<String> = (1..=rows).map(|i| format!("{i},{}", i * 7 % 13)).collect();
    Ok(json!(csv))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let upload_attempts = Arc::new(AtomicU32::new(0));

    let mut wf = Workflow::new("daily-etl");
    wf.add_task(
        "download_orders",
        |_ctx: TaskContext| download(5),
        TaskOptions::new().tag("io").timeout(Duration::from_secs(5)),
    )
    .add_task(
        "download_refunds",
        |_ctx: TaskContext| download(3),
        TaskOptions::new().tag("io").timeout(Duration::from_secs(5)),
    )
    .add_blocking_task(
        "parse",
        |ctx: TaskContext| -> Result<Value, String> {
            // CPU work runs on tokio's blocking pool, not on the scheduler.
            let mut total = 0i64;
            for (_, rows) in ctx.dependency_results() {
                for row in rows.as_array().ok_or("expected rows")? {
                    let amount = row
                        .as_str()
                        .and_then(|r| r.split(',').nth(1))
                        .and_then(|a| a.parse::<i64>().ok())
                        .ok_or_else(|| format!("bad row {row}"))?;
                    total += amount;
                }
            }
            Ok(json!({ "total": total }))
        },
        TaskOptions::new().depends_on(["download_orders", "download_refunds"]),
    )
    .add_task(
        "upload",
        {
            let attempts = upload_attempts.clone();
            move |ctx: TaskContext| {
                let attempts = attempts.clone();
                async move {
                    // The warehouse rejects the first attempt.
                    if attempts.fetch_add(1, Ordering::SeqCst) == 0 {
                        return Err("warehouse busy (503)".to_string());
                    }
                    Ok(json!({ "uploaded": ctx.result("parse").cloned() }))
                }
            }
        },
        TaskOptions::new()
            .depends_on(["parse"])
            .retry(RetryPolicy::default().initial_delay(Duration::from_millis(50))),
    )
    .add_task(
        "report",
        |ctx: TaskContext| async move {
            let total = ctx
                .result("parse")
                .and_then(|p| p["total"].as_i64())
                .unwrap_or(0);
            Ok::<_, String>(json!(format!("daily total: {total}")))
        },
        TaskOptions::new()
            .depends_on(["upload"])
            .when(|ctx| ctx.result("parse").is_some_and(|p| p["total"] != 0)),
    );
    wf.max_concurrency(4).timeout(Duration::from_secs(30));

    let results = wf.run().await?;
    let mut names: Vec<_> = results.keys().collect();
    names.sort();
    for name in names {
        println!("{name:>17}: {}", results[name]);
    }
    println!("{}", serde_json::to_string_pretty(&wf.summary())?);
    Ok(())
}
