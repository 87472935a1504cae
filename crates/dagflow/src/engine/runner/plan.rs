//! The execution plan: the validated graph re-laid out in execution order.
//!
//! The run loop visits steps in topological order. Indexing per-step data by
//! task id would make it jump around memory (Kahn order interleaves ids), so
//! everything the loop touches is stored by *position* in that order:
//! actions, timeouts and dependency lists. The loop then streams through
//! memory front to back, which is what keeps the no-timeout path close to a
//! hand-written loop on 100,000-step graphs. The one thing it cannot lay out
//! is the actions' closures (each its own heap block), so the loop prefetches
//! those some steps ahead (see `PREFETCH_AHEAD` in the run loop).

use std::sync::Arc;
use std::time::Duration;

use super::step::StepAction;
use super::stored::StoredStep;
use crate::graph::{Dag, TaskId};

/// One step as the run loop needs it.
#[derive(Debug)]
pub(crate) struct PlannedStep {
    pub(crate) id: TaskId,
    pub(crate) action: Option<StepAction>,
    pub(crate) timeout: Option<Duration>,
}

/// The graph plus per-position step data.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) dag: Arc<Dag>,
    /// Steps in execution (topological) order.
    pub(crate) steps: Vec<PlannedStep>,
    /// Position in execution order of each task id.
    pub(crate) position: Vec<u32>,
    /// Dependencies of the step at each position, as positions (CSR).
    dep_start: Vec<u32>,
    deps: Vec<u32>,
}

impl Plan {
    pub(crate) fn new(dag: Arc<Dag>, steps: &[StoredStep]) -> Plan {
        let order = dag.topological_order();
        let mut position = vec![0u32; dag.len()];
        for (p, id) in order.iter().enumerate() {
            position[id.index()] = p as u32;
        }
        let mut dep_start = Vec::with_capacity(order.len() + 1);
        let mut deps = Vec::with_capacity(dag.edge_count());
        dep_start.push(0);
        let planned = order
            .iter()
            .map(|&id| {
                deps.extend(dag.dependencies(id).iter().map(|d| position[d.index()]));
                dep_start.push(deps.len() as u32);
                let step = &steps[id.index()];
                PlannedStep {
                    id,
                    action: step.action.clone(),
                    timeout: step.timeout(),
                }
            })
            .collect();
        Plan {
            dag,
            steps: planned,
            position,
            dep_start,
            deps,
        }
    }

    /// The dependencies of the step at `position`, as positions.
    #[inline]
    pub(crate) fn dependencies(&self, position: usize) -> &[u32] {
        &self.deps[self.dep_start[position] as usize..self.dep_start[position + 1] as usize]
    }

    /// The name of the step at `position`.
    pub(crate) fn name_at(&self, position: usize) -> &str {
        self.dag.name(self.steps[position].id)
    }

    /// The position of the task called `name`.
    pub(crate) fn position_of(&self, name: &str) -> Option<usize> {
        self.dag
            .id(name)
            .map(|id| self.position[id.index()] as usize)
    }
}
