//! dagflow's sync `WorkflowRunner`: steps added by name with their
//! dependencies, then `validate()` builds the checked plan (part of `build`,
//! as the sync reference builds its adjacency arrays there); `run()` reuses
//! it and runs every step inline in Kahn order. `dagflow-sync-untimed` is
//! the same runner with `time_steps(false)`: no clock reading per step.

use std::convert::Infallible;
use std::time::Instant;

use dagflow::{WorkflowContext, WorkflowRunner, WorkflowStep};
use serde_json::Value;

use super::{BenchError, Ctx, Sample};
use crate::workload::GraphSpec;

fn build(ctx: &Ctx<'_>, timed: bool) -> Result<WorkflowRunner, BenchError> {
    let spec = ctx.spec;
    let mut runner = WorkflowRunner::new(spec.workload.name);
    runner.time_steps(timed);
    for i in spec.insertion_order() {
        let value = GraphSpec::value(i);
        let step = WorkflowStep::new(spec.name(i))
            .depends_on(spec.deps(i).iter().map(|&d| spec.name(d as usize)))
            .action(move |_ctx: &mut WorkflowContext| Ok::<_, Infallible>(Value::from(value)));
        runner.add_step(step).map_err(|e| ctx.failed(e))?;
    }
    runner.validate().map_err(|e| ctx.failed(e))?;
    Ok(runner)
}

pub(super) fn measure(ctx: &Ctx<'_>, timed: bool) -> Result<Sample, BenchError> {
    let start = Instant::now();
    let runner = build(ctx, timed)?;
    let build = start.elapsed();
    let start = Instant::now();
    let outcome = runner.run(WorkflowContext::new());
    let run = start.elapsed();
    let result = outcome.map_err(|e| ctx.failed(e))?;
    if !result.success {
        return Err(ctx.failed(format!(
            "the run did not succeed: {} completed, {} failed",
            result.completed, result.failed
        )));
    }
    ctx.check(
        result
            .steps()
            .filter_map(|s| s.result.and_then(Value::as_u64)),
    )?;
    Ok(Sample { build, run })
}
