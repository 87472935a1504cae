//! Peer: the `dagx` crate (0.3). Tasks are structs with a `#[task]` `run`
//! method whose parameters are the dependencies' outputs, so the adapter has
//! one struct per number of dependencies (0 to 3). `dagx` runs layer by
//! layer, spawning each task of a layer with the spawner it is given
//! (`tokio::spawn` here) and running single-task layers inline.

use std::time::{Duration, Instant};

use dagx::{task, DagRunner, Task, TaskHandle};

use super::{body, BenchError, Ctx, Sample};
use crate::workload::GraphSpec;

struct Source {
    value: u64,
    sleep: Option<Duration>,
}

#[task]
impl Source {
    async fn run(&self) -> u64 {
        body(self.value, self.sleep).await
    }
}

struct OneDep {
    value: u64,
    sleep: Option<Duration>,
}

#[task]
impl OneDep {
    async fn run(&self, _a: &u64) -> u64 {
        body(self.value, self.sleep).await
    }
}

struct TwoDeps {
    value: u64,
    sleep: Option<Duration>,
}

#[task]
impl TwoDeps {
    async fn run(&self, _a: &u64, _b: &u64) -> u64 {
        body(self.value, self.sleep).await
    }
}

struct ThreeDeps {
    value: u64,
    sleep: Option<Duration>,
}

#[task]
impl ThreeDeps {
    async fn run(&self, _a: &u64, _b: &u64, _c: &u64) -> u64 {
        body(self.value, self.sleep).await
    }
}

fn build(ctx: &Ctx<'_>) -> Result<(DagRunner, Vec<TaskHandle<u64>>), BenchError> {
    let spec = ctx.spec;
    let sleep = spec.sleep();
    let dag = DagRunner::new();
    let mut handles: Vec<TaskHandle<u64>> = Vec::with_capacity(spec.len());
    for i in spec.insertion_order() {
        let value = GraphSpec::value(i);
        let h = |d: u32| &handles[d as usize];
        let handle = match *spec.deps(i) {
            [] => dag.add_task(Source { value, sleep }).into(),
            [a] => dag.add_task(OneDep { value, sleep }).depends_on(h(a)),
            [a, b] => dag
                .add_task(TwoDeps { value, sleep })
                .depends_on((h(a), h(b))),
            [a, b, c] => dag
                .add_task(ThreeDeps { value, sleep })
                .depends_on((h(a), h(b), h(c))),
            ref deps => {
                return Err(ctx.failed(format!(
                    "the adapter has task structs for at most 3 dependencies, not {}",
                    deps.len()
                )))
            }
        };
        handles.push(handle);
    }
    Ok((dag, handles))
}

pub(super) fn measure(ctx: &Ctx<'_>, rt: &tokio::runtime::Runtime) -> Result<Sample, BenchError> {
    // Insertion is in index order here (reverse is declared unsupported), so
    // `handles[i]` is task i.
    let start = Instant::now();
    let (dag, handles) = build(ctx)?;
    let build = start.elapsed();
    let run = rt.block_on(async {
        let start = Instant::now();
        let outcome = dag
            .run(|fut| {
                tokio::spawn(fut);
            })
            .await;
        (start.elapsed(), outcome)
    });
    let run = match run {
        (elapsed, Ok(())) => elapsed,
        (_, Err(e)) => return Err(ctx.failed(e)),
    };
    let values: Vec<u64> = handles.iter().filter_map(|&h| dag.get(h).ok()).collect();
    ctx.check(values)?;
    Ok(Sample { build, run })
}
