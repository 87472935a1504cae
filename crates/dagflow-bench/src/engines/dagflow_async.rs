//! dagflow's async `Workflow`, optionally with a `WorkflowJournal` on an
//! in-memory store attached as an observer. Tasks are added by name with
//! `TaskOptions::depends_on`, then `validate()` turns them into the checked
//! graph (part of `build`, as the references build their adjacency arrays
//! there); `run()` reuses it.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use dagflow::engine::workflow::{TaskContext, TaskOptions, Workflow};
use dagflow::WorkflowJournal;
use serde_json::Value;

use super::{body, BenchError, Ctx, Sample};
use crate::workload::GraphSpec;

fn build(ctx: &Ctx<'_>, journal: bool) -> Result<Workflow, BenchError> {
    let spec = ctx.spec;
    let sleep = spec.sleep();
    let mut wf = Workflow::new(spec.workload.name);
    if journal {
        wf.observe(Arc::new(WorkflowJournal::in_memory()));
    }
    for i in spec.insertion_order() {
        let value = GraphSpec::value(i);
        let options =
            TaskOptions::new().depends_on(spec.deps(i).iter().map(|&d| spec.name(d as usize)));
        wf.add_task(
            spec.name(i),
            move |_ctx: TaskContext| async move {
                Ok::<_, Infallible>(Value::from(body(value, sleep).await))
            },
            options,
        );
    }
    wf.validate().map_err(|e| ctx.failed(e))?;
    Ok(wf)
}

pub(super) fn measure(
    ctx: &Ctx<'_>,
    rt: &tokio::runtime::Runtime,
    journal: bool,
) -> Result<Sample, BenchError> {
    let start = Instant::now();
    let mut wf = build(ctx, journal)?;
    let build = start.elapsed();
    let (run, outcome) = rt.block_on(async {
        let start = Instant::now();
        let outcome = wf.run().await;
        (start.elapsed(), outcome)
    });
    let results = outcome.map_err(|e| ctx.failed(e))?;
    // Only completed tasks have a result: the check also proves none failed.
    ctx.check(results.values().filter_map(Value::as_u64))?;
    Ok(Sample { build, run })
}
