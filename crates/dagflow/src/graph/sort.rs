//! Kahn's topological sort and, when it cannot order every task, the cycle
//! that stopped it.

use super::{CycleError, Dag, GraphError, TaskId};

impl Dag {
    pub(super) fn kahn(&self) -> Result<Vec<TaskId>, GraphError> {
        let n = self.len();
        let mut indegree: Vec<u32> = self.dependency_counts().collect();
        let mut order: Vec<TaskId> = Vec::with_capacity(n);
        order.extend(self.ids().filter(|t| indegree[t.index()] == 0));
        // `order` doubles as the FIFO queue: everything before `head` is done.
        let mut head = 0;
        while head < order.len() {
            let t = order[head];
            head += 1;
            for &o in self.dependents(t) {
                let d = &mut indegree[o.index()];
                *d -= 1;
                if *d == 0 {
                    order.push(o);
                }
            }
        }
        if order.len() == n {
            return Ok(order);
        }
        Err(GraphError::Cycle(self.find_cycle(&indegree)))
    }

    /// Finds one cycle among the tasks Kahn's algorithm could not order.
    ///
    /// Each such task still has an unordered dependency, so walking from one
    /// along unordered dependencies must revisit a task: that loop is a cycle.
    fn find_cycle(&self, indegree: &[u32]) -> CycleError {
        let stuck = |t: TaskId| indegree[t.index()] > 0;
        let start = self.ids().find(|&t| stuck(t)).unwrap_or(TaskId(0));
        let mut pos = vec![u32::MAX; self.len()];
        let mut walk: Vec<TaskId> = Vec::new();
        let mut cur = start;
        while pos[cur.index()] == u32::MAX {
            pos[cur.index()] = walk.len() as u32;
            walk.push(cur);
            cur = match self.dependencies(cur).iter().copied().find(|&d| stuck(d)) {
                Some(d) => d,
                None => break, // cannot happen for a stuck task; stop rather than loop
            };
        }
        let from = pos[cur.index()].min(walk.len() as u32 - 1) as usize;
        // The walk follows "depends on"; reverse it into execution direction.
        let mut cycle: Vec<TaskId> = walk[from..].to_vec();
        cycle.reverse();
        let first = cycle
            .iter()
            .enumerate()
            .min_by_key(|(_, t)| **t)
            .map_or(0, |(i, _)| i);
        cycle.rotate_left(first);
        let mut path: Vec<String> = cycle.iter().map(|&t| self.name(t).to_string()).collect();
        path.push(path[0].clone());
        CycleError { path }
    }
}
