//! Peer: the `dagrs` crate (0.5), flow-based: every node is spawned at once
//! and a dependency is a channel the dependent waits on. Each body first
//! receives one packet from every input channel, runs, then broadcasts its
//! value to its dependents; that is how `dagrs` expresses ordering.
//!
//! `Graph::add_edge` takes tokio's `blocking_lock`, so the graph is built
//! outside the runtime and run with `async_start` inside it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dagrs::async_trait::async_trait;
use dagrs::{
    Action, Content, DefaultNode, EnvVar, Graph, InChannels, Node, NodeId, NodeTable, OutChannels,
    Output,
};

use super::{body, BenchError, Ctx, Sample};
use crate::workload::GraphSpec;

struct Body {
    value: u64,
    sleep: Option<Duration>,
}

#[async_trait]
impl Action for Body {
    async fn run(
        &self,
        inputs: &mut InChannels,
        outputs: &mut OutChannels,
        _env: Arc<EnvVar>,
    ) -> Output {
        inputs.map(|_| ()).await;
        let value = body(self.value, self.sleep).await;
        outputs.broadcast(Content::new(value)).await;
        Output::new(value)
    }
}

fn build(ctx: &Ctx<'_>) -> Graph {
    let spec = ctx.spec;
    let sleep = spec.sleep();
    let mut table = NodeTable::new();
    let mut graph = Graph::new();
    let mut ids: Vec<Option<NodeId>> = vec![None; spec.len()];
    for i in spec.insertion_order() {
        let action = Body {
            value: GraphSpec::value(i),
            sleep,
        };
        let node = DefaultNode::with_action(spec.name(i).to_string(), action, &mut table);
        ids[i] = Some(node.id());
        graph.add_node(node);
    }
    // Every node exists now, whatever the insertion order.
    for i in 0..spec.len() {
        for &d in spec.deps(i) {
            if let (Some(from), Some(to)) = (ids[d as usize], ids[i]) {
                graph.add_edge(from, vec![to]);
            }
        }
    }
    graph
}

pub(super) fn measure(ctx: &Ctx<'_>, rt: &tokio::runtime::Runtime) -> Result<Sample, BenchError> {
    let start = Instant::now();
    let mut graph = build(ctx);
    let build = start.elapsed();
    let (run, outcome) = rt.block_on(async {
        let start = Instant::now();
        let outcome = graph.async_start().await;
        (start.elapsed(), outcome)
    });
    outcome.map_err(|e| ctx.failed(format!("{e:?}")))?;
    let values: Vec<u64> = graph
        .get_results::<u64>()
        .into_values()
        .flatten()
        .map(|v| *v)
        .collect();
    ctx.check(values)?;
    Ok(Sample { build, run })
}
