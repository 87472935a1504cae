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

/// One step as the run loop needs it: 24 bytes, so that the loop streams
/// as little memory as it can. Few steps have a timeout, so the limits sit
/// in a side table and a step holds only its slot there (an
/// `Option<Duration>` in place would make the step 40 bytes; on
/// `independent-100000`, a sixth of the memory a run reads).
#[derive(Debug)]
pub(crate) struct PlannedStep {
    pub(crate) action: Option<StepAction>,
    pub(crate) id: TaskId,
    /// The step's slot in [`Plan::timeouts`], or [`NO_TIMEOUT`].
    timeout: u32,
}

/// The timeout slot of a step without a timeout.
const NO_TIMEOUT: u32 = u32::MAX;

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
    /// The time limits of the steps that have one (see [`Plan::timeout`]).
    timeouts: Vec<Duration>,
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
        let mut timeouts = Vec::new();
        let planned = order
            .iter()
            .map(|&id| {
                deps.extend(dag.dependencies(id).iter().map(|d| position[d.index()]));
                dep_start.push(deps.len() as u32);
                let step = &steps[id.index()];
                let timeout = match step.timeout() {
                    // A graph holds fewer than 2^31 tasks, so a slot never
                    // reaches `NO_TIMEOUT`.
                    Some(limit) => {
                        timeouts.push(limit);
                        (timeouts.len() - 1) as u32
                    }
                    None => NO_TIMEOUT,
                };
                PlannedStep {
                    action: step.action.clone(),
                    id,
                    timeout,
                }
            })
            .collect();
        Plan {
            dag,
            steps: planned,
            position,
            dep_start,
            deps,
            timeouts,
        }
    }

    /// The time limit of `step`, if it has one (`NO_TIMEOUT` is past the
    /// end of the table).
    #[inline(always)]
    pub(crate) fn timeout(&self, step: &PlannedStep) -> Option<Duration> {
        self.timeouts.get(step.timeout as usize).copied()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::runner::step::WorkflowStep;

    /// Steps inserted out of execution order, some with a time limit: each
    /// planned step finds its own limit, and the planned step stays small.
    #[test]
    fn each_planned_step_finds_its_own_time_limit() {
        assert_eq!(std::mem::size_of::<PlannedStep>(), 24);
        let steps = [
            WorkflowStep::new("late")
                .depends_on(["mid"])
                .timeout(Duration::from_millis(3)),
            WorkflowStep::new("mid").depends_on(["first"]),
            WorkflowStep::new("first").timeout(Duration::from_millis(1)),
            WorkflowStep::new("other").timeout(Duration::from_millis(2)),
        ];
        let mut tasks = Vec::new();
        let mut stored = Vec::new();
        for step in steps {
            let (name, deps, step) = StoredStep::split(step);
            tasks.push((name, deps));
            stored.push(step);
        }
        let dag = Arc::new(Dag::from_tasks(tasks).unwrap());
        let plan = Plan::new(dag, &stored);
        let limits: Vec<(&str, Option<u64>)> = (0..plan.steps.len())
            .map(|p| {
                let millis = plan.timeout(&plan.steps[p]).map(|d| d.as_millis() as u64);
                (plan.name_at(p), millis)
            })
            .collect();
        assert_eq!(
            limits,
            [
                ("first", Some(1)),
                ("other", Some(2)),
                ("mid", None),
                ("late", Some(3))
            ]
        );
    }
}
