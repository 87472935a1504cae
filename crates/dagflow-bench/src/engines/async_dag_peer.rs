//! Peer: the `async_dag` crate (0.1). A dependency is a typed argument of the
//! dependent's closure, so a task with k dependencies is a k-argument
//! closure; the adapter writes closures of 0 to 3 arguments, enough for every
//! workload it can express. It runs all futures inside the caller's task
//! (no spawning), on the tokio runtime's thread that calls `block_on`.

use std::time::{Duration, Instant};

use async_dag::{Graph, NodeIndex};

use super::{body, BenchError, Ctx, Sample};
use crate::workload::GraphSpec;

fn add_task(
    graph: &mut Graph<'static>,
    arity: usize,
    value: u64,
    sleep: Option<Duration>,
) -> Option<NodeIndex> {
    Some(match arity {
        0 => graph.add_task(move || body(value, sleep)),
        1 => graph.add_task(move |_: u64| body(value, sleep)),
        2 => graph.add_task(move |_: u64, _: u64| body(value, sleep)),
        3 => graph.add_task(move |_: u64, _: u64, _: u64| body(value, sleep)),
        _ => return None,
    })
}

/// Forward insertion: the first dependency through `add_child_task`, which
/// the crate documents as the cheaper way.
fn add_child_task(
    graph: &mut Graph<'static>,
    parent: NodeIndex,
    arity: usize,
    value: u64,
    sleep: Option<Duration>,
) -> Result<NodeIndex, String> {
    let node = match arity {
        1 => graph
            .add_child_task(parent, move |_: u64| body(value, sleep), 0)
            .map_err(|e| e.error.to_string())?,
        2 => graph
            .add_child_task(parent, move |_: u64, _: u64| body(value, sleep), 0)
            .map_err(|e| e.error.to_string())?,
        3 => graph
            .add_child_task(parent, move |_: u64, _: u64, _: u64| body(value, sleep), 0)
            .map_err(|e| e.error.to_string())?,
        _ => {
            return Err(format!(
                "the adapter writes closures of at most 3 arguments, not {arity}"
            ))
        }
    };
    Ok(node)
}

fn build(ctx: &Ctx<'_>) -> Result<(Graph<'static>, Vec<NodeIndex>), BenchError> {
    let spec = ctx.spec;
    let sleep = spec.sleep();
    let mut graph = Graph::new();
    let placeholder = NodeIndex::new(usize::MAX);
    let mut nodes = vec![placeholder; spec.len()];
    let too_many = |arity: usize| {
        ctx.failed(format!(
            "the adapter writes closures of at most 3 arguments, not {arity}"
        ))
    };
    if spec.is_reversed() {
        // Sink first: every node exists before any edge is added.
        for i in spec.insertion_order() {
            let arity = spec.deps(i).len();
            nodes[i] = add_task(&mut graph, arity, GraphSpec::value(i), sleep)
                .ok_or_else(|| too_many(arity))?;
        }
        for i in 0..spec.len() {
            for (k, &d) in spec.deps(i).iter().enumerate() {
                graph
                    .update_dependency(nodes[d as usize], nodes[i], k as u8)
                    .map_err(|e| ctx.failed(e))?;
            }
        }
    } else {
        for i in spec.insertion_order() {
            let deps = spec.deps(i);
            let value = GraphSpec::value(i);
            let node = match deps.split_first() {
                None => add_task(&mut graph, 0, value, sleep).ok_or_else(|| too_many(0))?,
                Some((&first, rest)) => {
                    let node =
                        add_child_task(&mut graph, nodes[first as usize], deps.len(), value, sleep)
                            .map_err(|e| ctx.failed(e))?;
                    for (k, &d) in rest.iter().enumerate() {
                        graph
                            .update_dependency(nodes[d as usize], node, (k + 1) as u8)
                            .map_err(|e| ctx.failed(e))?;
                    }
                    node
                }
            };
            nodes[i] = node;
        }
    }
    Ok((graph, nodes))
}

pub(super) fn measure(ctx: &Ctx<'_>, rt: &tokio::runtime::Runtime) -> Result<Sample, BenchError> {
    let start = Instant::now();
    let (mut graph, nodes) = build(ctx)?;
    let build = start.elapsed();
    let run = rt.block_on(async {
        let start = Instant::now();
        graph.run().await;
        start.elapsed()
    });
    let values: Vec<u64> = nodes
        .iter()
        .filter_map(|&n| graph.get_value::<u64>(n))
        .collect();
    ctx.check(values)?;
    Ok(Sample { build, run })
}
