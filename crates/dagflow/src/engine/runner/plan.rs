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

/// The graph plus per-position step data.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) dag: Arc<Dag>,
    /// Each step's action, in execution (topological) order: 16 bytes a
    /// step, so that the loop streams as little memory as it can. A step's
    /// task id is the graph's topological order at the same position (see
    /// [`id_at`](Self::id_at)), and few steps have a timeout (see
    /// `limits`), so neither is kept next to the action: with both, a
    /// step took 40 bytes.
    pub(crate) actions: Vec<Option<StepAction>>,
    /// Position in execution order of each task id.
    pub(crate) position: Vec<u32>,
    /// Dependencies of the step at each position, as positions (CSR).
    dep_start: Vec<u32>,
    deps: Vec<u32>,
    /// The steps that have a time limit, by increasing position (see
    /// [`TimeLimits`]).
    limits: Vec<(u32, Duration)>,
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
        let mut limits = Vec::new();
        let actions = order
            .iter()
            .enumerate()
            .map(|(p, &id)| {
                deps.extend(dag.dependencies(id).iter().map(|d| position[d.index()]));
                dep_start.push(deps.len() as u32);
                let step = &steps[id.index()];
                if let Some(limit) = step.timeout() {
                    limits.push((p as u32, limit));
                }
                step.action.clone()
            })
            .collect();
        Plan {
            dag,
            actions,
            position,
            dep_start,
            deps,
            limits,
        }
    }

    /// Number of steps.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.actions.len()
    }

    /// The task id of the step at `position`.
    #[inline]
    pub(crate) fn id_at(&self, position: usize) -> TaskId {
        self.dag.topological_order()[position]
    }

    /// The time limits of the steps from `position` on, in order.
    pub(crate) fn limits_from(&self, position: usize) -> TimeLimits<'_> {
        TimeLimits::from_position(&self.limits, position)
    }

    /// The dependencies of the step at `position`, as positions.
    #[inline]
    pub(crate) fn dependencies(&self, position: usize) -> &[u32] {
        &self.deps[self.dep_start[position] as usize..self.dep_start[position + 1] as usize]
    }

    /// The name of the step at `position`.
    pub(crate) fn name_at(&self, position: usize) -> &str {
        self.dag.name(self.id_at(position))
    }

    /// The position of the task called `name`.
    pub(crate) fn position_of(&self, name: &str) -> Option<usize> {
        self.dag
            .id(name)
            .map(|id| self.position[id.index()] as usize)
    }
}

/// The run loop's cursor over the steps with a time limit: asking about
/// each position in turn costs one comparison with the next limited
/// step's position.
pub(crate) struct TimeLimits<'a> {
    rest: &'a [(u32, Duration)],
    /// The position of `rest`'s first step, `usize::MAX` when it is empty.
    next: usize,
}

impl<'a> TimeLimits<'a> {
    /// The cursor over `limits` (by increasing position) from `position` on.
    fn from_position(limits: &'a [(u32, Duration)], position: usize) -> Self {
        let first = limits.partition_point(|&(p, _)| (p as usize) < position);
        TimeLimits::over(&limits[first..])
    }

    fn over(rest: &'a [(u32, Duration)]) -> Self {
        let next = rest.first().map_or(usize::MAX, |&(p, _)| p as usize);
        TimeLimits { rest, next }
    }

    /// The time limit of the step at `position`, if it has one. Positions
    /// are asked in increasing order; limits of positions passed over (a
    /// skipped step's) are dropped on the way.
    #[inline(always)]
    pub(crate) fn take(&mut self, position: usize) -> Option<Duration> {
        if self.next > position {
            return None;
        }
        self.take_slow(position)
    }

    #[cold]
    fn take_slow(&mut self, position: usize) -> Option<Duration> {
        while let Some((&(p, limit), rest)) = self.rest.split_first() {
            if p as usize > position {
                break;
            }
            *self = TimeLimits::over(rest);
            if p as usize == position {
                return Some(limit);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::runner::step::WorkflowStep;

    /// Steps inserted out of execution order, some with a time limit: each
    /// step finds its own limit, and a step's action stays two words.
    #[test]
    fn each_planned_step_finds_its_own_time_limit() {
        assert_eq!(std::mem::size_of::<Option<StepAction>>(), 16);
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
        let mut cursor = plan.limits_from(0);
        let limits: Vec<(&str, Option<u64>)> = (0..plan.len())
            .map(|p| {
                let millis = cursor.take(p).map(|d| d.as_millis() as u64);
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

    /// A cursor started midway (the loop resuming after a panic) or asked
    /// past a limited step (a skipped one) still finds the later limits.
    #[test]
    fn the_limit_cursor_resumes_and_passes_over_skipped_steps() {
        let limits = vec![
            (1, Duration::from_millis(1)),
            (3, Duration::from_millis(3)),
            (6, Duration::from_millis(6)),
        ];
        let plan_limits = |from: usize| TimeLimits::from_position(&limits, from);
        let mut from_two = plan_limits(2);
        assert_eq!(from_two.take(2), None);
        assert_eq!(from_two.take(3), Some(Duration::from_millis(3)));
        let mut skipping = plan_limits(0);
        assert_eq!(skipping.take(0), None);
        // Positions 1 to 4 were skipped, never asked.
        assert_eq!(skipping.take(5), None);
        assert_eq!(skipping.take(6), Some(Duration::from_millis(6)));
        assert_eq!(skipping.take(7), None);
    }
}
