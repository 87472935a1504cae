//! What a graph's shape says: each task's level and the critical path.

use super::{Dag, TaskId};

/// The longest path through the graph by task duration.
#[derive(Debug, Clone, PartialEq)]
pub struct CriticalPath {
    /// Tasks on the path, first to run first.
    pub tasks: Vec<TaskId>,
    /// Sum of the durations along the path.
    pub total: f64,
}

impl Dag {
    /// The level of every task, indexed by `TaskId::index`: 0 for tasks
    /// without dependencies, else one more than the deepest dependency.
    pub fn level_of_each(&self) -> Vec<u32> {
        let mut level = vec![0u32; self.len()];
        for &t in &self.order {
            let l = self
                .dependencies(t)
                .iter()
                .map(|d| level[d.index()] + 1)
                .max()
                .unwrap_or(0);
            level[t.index()] = l;
        }
        level
    }

    /// Tasks grouped by level; within a level, in topological order.
    /// Tasks of one level never depend on each other.
    pub fn levels(&self) -> Vec<Vec<TaskId>> {
        let level = self.level_of_each();
        let depth = level.iter().copied().max().map_or(0, |m| m as usize + 1);
        let mut out = vec![Vec::new(); depth];
        for &t in &self.order {
            out[level[t.index()] as usize].push(t);
        }
        out
    }

    /// The longest path by `duration`, which gives each task's weight.
    /// Ties go to the earliest path found in topological order.
    ///
    /// ```
    /// use dagflow::graph::Dag;
    /// let dag = Dag::from_tasks([("a", vec![]), ("b", vec!["a"]), ("c", vec!["a"])])?;
    /// let cp = dag.critical_path(|t| if dag.name(t) == "c" { 5.0 } else { 1.0 });
    /// let names: Vec<_> = cp.tasks.iter().map(|&t| dag.name(t)).collect();
    /// assert_eq!((names, cp.total), (vec!["a", "c"], 6.0));
    /// # Ok::<(), dagflow::graph::GraphError>(())
    /// ```
    pub fn critical_path(&self, duration: impl Fn(TaskId) -> f64) -> CriticalPath {
        let n = self.len();
        if n == 0 {
            return CriticalPath {
                tasks: Vec::new(),
                total: 0.0,
            };
        }
        let mut finish = vec![0.0f64; n];
        let mut prev: Vec<Option<TaskId>> = vec![None; n];
        for &t in &self.order {
            let mut best: Option<(f64, TaskId)> = None;
            for &d in self.dependencies(t) {
                let f = finish[d.index()];
                if best.is_none_or(|(bf, _)| f > bf) {
                    best = Some((f, d));
                }
            }
            let start = best.map_or(0.0, |(f, _)| f);
            prev[t.index()] = best.map(|(_, d)| d);
            finish[t.index()] = start + duration(t);
        }
        let mut end = self.order[0];
        for &t in &self.order {
            if finish[t.index()] > finish[end.index()] {
                end = t;
            }
        }
        let total = finish[end.index()];
        let mut tasks = vec![end];
        let mut cur = end;
        while let Some(p) = prev[cur.index()] {
            tasks.push(p);
            cur = p;
        }
        tasks.reverse();
        CriticalPath { tasks, total }
    }
}
