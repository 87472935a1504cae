//! The DAG itself: tasks by index, validation, topological order, levels and
//! critical path.
//!
//! Everything here is pure (no I/O, no async) and iterative: every algorithm is
//! O(V + E) and uses no recursion, so a 1,000,000-task chain inserted sink
//! first validates and sorts without touching the stack's limits.
//!
//! Dependencies may name tasks that are added later; they are resolved when
//! [`DagBuilder::build`] runs.
//!
//! ```
//! use dagflow::graph::DagBuilder;
//!
//! let mut b = DagBuilder::new();
//! b.add("deploy", ["test"])?;          // dependencies may come later
//! b.add("build", [] as [&str; 0])?;
//! b.add("test", ["build"])?;
//! let dag = b.build()?;
//! let order: Vec<&str> = dag.topological_order().iter().map(|&t| dag.name(t)).collect();
//! assert_eq!(order, ["build", "test", "deploy"]);
//! # Ok::<(), dagflow::graph::GraphError>(())
//! ```

mod analysis;
mod builder;
mod error;
mod names;
mod sort;

use std::fmt;
use std::sync::{Arc, OnceLock};

pub use analysis::CriticalPath;
pub use builder::DagBuilder;
pub use error::{CycleError, GraphError};
use names::{NameIndex, NameList, NameSource};

/// The index of a task inside a [`Dag`], assigned in insertion order from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(u32);

impl TaskId {
    /// The position of the task in insertion order.
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// The id of the task at `index` in insertion order.
    ///
    /// Only meaningful for indices below the graph's length.
    pub fn from_index(index: usize) -> TaskId {
        TaskId(index as u32)
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A validated, acyclic task graph.
///
/// Tasks are addressed by [`TaskId`]; adjacency is stored in compressed
/// sparse rows, so `dependencies` and `dependents` are slices, not lookups.
#[derive(Debug, Clone)]
pub struct Dag {
    /// The names end to end in one string (see [`NameList`]).
    names: NameList,
    /// The names as shared strings, for events: made when first asked for
    /// (see [`name_arc`](Self::name_arc)), so that a graph nobody observes
    /// allocates no string per task.
    shared_names: OnceLock<Box<[Arc<str>]>>,
    index: NameIndex,
    dep_start: Vec<u32>,
    deps: Vec<TaskId>,
    out_start: Vec<u32>,
    outs: Vec<TaskId>,
    order: Vec<TaskId>,
}

/// Two graphs are equal when they have the same tasks, in the same insertion
/// order, with the same dependencies (everything else follows from those).
impl PartialEq for Dag {
    fn eq(&self, other: &Self) -> bool {
        self.names == other.names && self.dep_start == other.dep_start && self.deps == other.deps
    }
}

impl Dag {
    /// Builds a graph from `(name, dependencies)` pairs in insertion order.
    ///
    /// ```
    /// use dagflow::graph::Dag;
    /// let dag = Dag::from_tasks([("a", vec![]), ("b", vec!["a"])])?;
    /// assert_eq!(dag.len(), 2);
    /// # Ok::<(), dagflow::graph::GraphError>(())
    /// ```
    pub fn from_tasks<I, N, D, S>(tasks: I) -> Result<Dag, GraphError>
    where
        I: IntoIterator<Item = (N, D)>,
        N: AsRef<str>,
        D: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut b = DagBuilder::new();
        for (name, deps) in tasks {
            b.add(name, deps)?;
        }
        b.build()
    }

    /// Number of tasks.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether the graph has no task.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The name of a task (empty for an id that is not this graph's).
    pub fn name(&self, id: TaskId) -> &str {
        self.names.name_at(id.index())
    }

    /// The name of a task as a shared string (cheap to clone into events).
    ///
    /// The graph makes the shared strings of all its tasks the first time
    /// one is asked for, one allocation per task; the engines ask before a
    /// run that has observers starts (see [`share_names`](Self::share_names)).
    ///
    /// # Panics
    ///
    /// If `id` is not a task of this graph.
    pub fn name_arc(&self, id: TaskId) -> &Arc<str> {
        &self.share_names()[id.index()]
    }

    /// The shared string of every task's name, made now if it was not made
    /// yet (see [`name_arc`](Self::name_arc)).
    pub fn share_names(&self) -> &[Arc<str>] {
        self.shared_names
            .get_or_init(|| self.names.iter().map(Arc::from).collect())
    }

    /// All task names in insertion order.
    pub fn names(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.names.iter()
    }

    /// The id of the task called `name`.
    pub fn id(&self, name: &str) -> Option<TaskId> {
        self.index.get(&self.names, name)
    }

    /// All ids in insertion order.
    pub fn ids(&self) -> impl ExactSizeIterator<Item = TaskId> {
        (0..self.names.len() as u32).map(TaskId)
    }

    /// The tasks `id` depends on, deduplicated, in declaration order.
    pub fn dependencies(&self, id: TaskId) -> &[TaskId] {
        let i = id.index();
        &self.deps[self.dep_start[i] as usize..self.dep_start[i + 1] as usize]
    }

    /// The tasks that depend on `id`, in insertion order.
    pub fn dependents(&self, id: TaskId) -> &[TaskId] {
        let i = id.index();
        &self.outs[self.out_start[i] as usize..self.out_start[i + 1] as usize]
    }

    /// Number of (deduplicated) dependency edges.
    pub fn edge_count(&self) -> usize {
        self.deps.len()
    }

    /// A topological order: every task after all of its dependencies.
    ///
    /// Kahn's algorithm with a first-in-first-out queue: tasks without
    /// dependencies first, in insertion order; each task's newly ready
    /// dependents then join the queue in insertion order. Deterministic.
    pub fn topological_order(&self) -> &[TaskId] {
        &self.order
    }

    /// Tasks without dependencies, in insertion order.
    pub fn roots(&self) -> impl Iterator<Item = TaskId> + '_ {
        self.ids().filter(|&t| self.dependencies(t).is_empty())
    }

    /// Each task's number of dependencies, in task order.
    pub(crate) fn dependency_counts(&self) -> impl ExactSizeIterator<Item = u32> + '_ {
        self.dep_start.windows(2).map(|w| w[1] - w[0])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn names(dag: &Dag, ids: &[TaskId]) -> Vec<String> {
        ids.iter().map(|&t| dag.name(t).to_string()).collect()
    }

    #[test]
    fn order_breaks_ties_by_insertion() {
        let dag = Dag::from_tasks([
            ("c", vec![]),
            ("a", vec![]),
            ("d", vec!["a", "c"]),
            ("b", vec!["c"]),
        ])
        .unwrap();
        assert_eq!(names(&dag, dag.topological_order()), ["c", "a", "b", "d"]);
    }

    #[test]
    fn cycle_reports_its_path_from_the_earliest_task() {
        let err = Dag::from_tasks([
            ("x", vec![]),
            ("b", vec!["a"]),
            ("c", vec!["b"]),
            ("a", vec!["c", "x"]),
        ])
        .unwrap_err();
        let GraphError::Cycle(c) = err else {
            panic!("expected a cycle, got {err:?}")
        };
        assert_eq!(c.path, ["b", "c", "a", "b"]);
        assert_eq!(
            c.to_string(),
            "dependency cycle: b -> c -> a -> b; remove one of these dependencies"
        );
    }

    #[test]
    fn self_dependency_is_a_cycle() {
        let err = Dag::from_tasks([("a", vec!["a"])]).unwrap_err();
        assert_eq!(
            err,
            GraphError::Cycle(CycleError {
                path: vec!["a".into(), "a".into()]
            })
        );
    }

    #[test]
    fn unknown_dependency_names_task_and_dependency() {
        let err = Dag::from_tasks([("a", vec![]), ("deploy", vec!["tset"])]).unwrap_err();
        assert_eq!(
            err,
            GraphError::UnknownDependency {
                task: "deploy".into(),
                dependency: "tset".into()
            }
        );
        assert!(err.to_string().contains("`deploy` depends on `tset`"));
    }

    #[test]
    fn a_refused_duplicate_leaves_no_dependency_behind() {
        let mut b = DagBuilder::new();
        b.add("a", [] as [&str; 0]).unwrap();
        let err = b.add("a", ["ghost", "a"]).unwrap_err();
        assert_eq!(err, GraphError::DuplicateTask { name: "a".into() });
        let second = b.add("b", ["a"]).unwrap();
        assert_eq!(b.dependency_names(second).collect::<Vec<_>>(), ["a"]);
        let dag = b.build().expect("the refused task's `ghost` is gone");
        assert_eq!(dag.len(), 2);
        assert_eq!(names(&dag, dag.dependencies(second)), ["a"]);
    }

    #[test]
    fn shared_names_are_made_once_on_first_use_in_task_order() {
        let dag = Dag::from_tasks([
            ("fetch", vec![]),
            ("", vec!["fetch"]),
            ("é-report", vec![""]),
        ])
        .unwrap();
        assert!(
            dag.shared_names.get().is_none(),
            "a fresh graph shares no name yet"
        );
        let report = dag.id("é-report").unwrap();
        let first = Arc::clone(dag.name_arc(report));
        assert_eq!(&*first, "é-report");
        assert!(Arc::ptr_eq(&first, dag.name_arc(report)), "made once");
        let shared: Vec<&str> = dag.share_names().iter().map(|n| &**n).collect();
        assert_eq!(shared, ["fetch", "", "é-report"]);
        assert_eq!(dag.names().collect::<Vec<_>>(), shared);
        assert_eq!(dag.name(TaskId(7)), "", "an id of no task has no name");
        // A clone compares equal whether or not its names are shared.
        let fresh = Dag::from_tasks([
            ("fetch", vec![]),
            ("", vec!["fetch"]),
            ("é-report", vec![""]),
        ])
        .unwrap();
        assert_eq!(dag, fresh);
    }

    #[test]
    fn names_added_later_resolve_and_an_unknown_one_among_them_is_named() {
        // Every dependency names a task added after it (kept by name until
        // the build), with names of different lengths.
        let dag = Dag::from_tasks([
            ("deploy", vec!["integration-tests", "b"]),
            ("integration-tests", vec!["build"]),
            ("b", vec!["build"]),
            ("build", vec![]),
        ])
        .unwrap();
        let names = |ids: &[TaskId]| ids.iter().map(|&t| dag.name(t)).collect::<Vec<_>>();
        let deploy = dag.id("deploy").unwrap();
        assert_eq!(names(dag.dependencies(deploy)), ["integration-tests", "b"]);
        let build = dag.id("build").unwrap();
        assert_eq!(names(dag.dependents(build)), ["integration-tests", "b"]);

        let err = Dag::from_tasks([
            ("deploy", vec!["integration-tests", "b"]),
            ("b", vec!["buld"]),
            ("integration-tests", vec![]),
        ])
        .unwrap_err();
        assert_eq!(
            err,
            GraphError::UnknownDependency {
                task: "b".into(),
                dependency: "buld".into()
            }
        );
    }

    #[test]
    fn duplicate_task_is_rejected_when_added() {
        let mut b = DagBuilder::new();
        b.add("a", [] as [&str; 0]).unwrap();
        let err = b.add("a", [] as [&str; 0]).unwrap_err();
        assert_eq!(err, GraphError::DuplicateTask { name: "a".into() });
    }

    #[test]
    fn repeated_dependencies_count_once() {
        let dag = Dag::from_tasks([("a", vec![]), ("b", vec!["a", "a"])]).unwrap();
        assert_eq!(dag.edge_count(), 1);
        assert_eq!(dag.dependents(TaskId(0)), &[TaskId(1)]);
    }

    #[test]
    fn levels_group_independent_tasks() {
        let dag = Dag::from_tasks([
            ("a", vec![]),
            ("b", vec!["a"]),
            ("c", vec!["a"]),
            ("d", vec!["b", "c"]),
        ])
        .unwrap();
        let levels: Vec<Vec<String>> = dag.levels().iter().map(|l| names(&dag, l)).collect();
        assert_eq!(levels, vec![vec!["a"], vec!["b", "c"], vec!["d"]]);
    }

    #[test]
    fn critical_path_follows_the_heaviest_branch() {
        let dag = Dag::from_tasks([
            ("a", vec![]),
            ("b", vec!["a"]),
            ("c", vec!["a"]),
            ("d", vec!["b", "c"]),
        ])
        .unwrap();
        let w = |t: TaskId| [1.0, 2.0, 7.0, 1.0][t.index()];
        let cp = dag.critical_path(w);
        assert_eq!(names(&dag, &cp.tasks), ["a", "c", "d"]);
        assert_eq!(cp.total, 9.0);
    }

    #[test]
    fn empty_graph_is_valid() {
        let dag = DagBuilder::new().build().unwrap();
        assert!(dag.is_empty());
        assert!(dag.levels().is_empty());
        assert_eq!(dag.critical_path(|_| 1.0).total, 0.0);
    }

    /// A random DAG: task i may depend on any earlier task. Inserted in a
    /// shuffled order so dependencies often name tasks added later.
    fn random_dag() -> impl Strategy<Value = Vec<(String, Vec<String>)>> {
        (1usize..60).prop_flat_map(|n| {
            let edges = proptest::collection::vec(
                proptest::collection::vec(any::<prop::sample::Index>(), 0..4),
                n,
            );
            let perm = Just((0..n).collect::<Vec<_>>()).prop_shuffle();
            (edges, perm).prop_map(move |(edges, perm)| {
                let tasks: Vec<(String, Vec<String>)> = (0..n)
                    .map(|i| {
                        let deps = if i == 0 {
                            vec![]
                        } else {
                            edges[i]
                                .iter()
                                .map(|ix| format!("t{}", ix.index(i)))
                                .collect()
                        };
                        (format!("t{i}"), deps)
                    })
                    .collect();
                perm.iter().map(|&p| tasks[p].clone()).collect()
            })
        })
    }

    proptest! {
        #[test]
        fn order_respects_every_dependency(tasks in random_dag()) {
            let dag = Dag::from_tasks(tasks.clone()).unwrap();
            let order = dag.topological_order();
            prop_assert_eq!(order.len(), tasks.len());
            let mut pos = vec![usize::MAX; dag.len()];
            for (i, t) in order.iter().enumerate() {
                prop_assert_eq!(pos[t.index()], usize::MAX, "task listed twice");
                pos[t.index()] = i;
            }
            for t in dag.ids() {
                for d in dag.dependencies(t) {
                    prop_assert!(pos[d.index()] < pos[t.index()]);
                }
            }
            let level = dag.level_of_each();
            for t in dag.ids() {
                for d in dag.dependencies(t) {
                    prop_assert!(level[d.index()] < level[t.index()]);
                }
            }
        }

        #[test]
        fn adding_a_back_edge_reports_a_real_cycle(tasks in random_dag(), pick in any::<prop::sample::Index>()) {
            // Make some task depend on one of its own dependents' descendants:
            // choose an edge d -> t and add t as a dependency of d.
            let mut tasks = tasks;
            let with_deps: Vec<usize> = (0..tasks.len()).filter(|&i| !tasks[i].1.is_empty()).collect();
            prop_assume!(!with_deps.is_empty());
            let i = with_deps[pick.index(with_deps.len())];
            let t = tasks[i].0.clone();
            let d = tasks[i].1[0].clone();
            let j = tasks.iter().position(|(n, _)| *n == d).unwrap();
            tasks[j].1.push(t);
            let err = Dag::from_tasks(tasks.clone()).unwrap_err();
            let GraphError::Cycle(c) = err else { panic!("expected cycle") };
            prop_assert_eq!(c.path.first(), c.path.last());
            // each arrow a -> b must be a real edge: b depends on a
            for w in c.path.windows(2) {
                let (_, deps) = tasks.iter().find(|(n, _)| *n == w[1]).unwrap();
                prop_assert!(deps.contains(&w[0]), "{} -> {} is not an edge", w[0], w[1]);
            }
        }
    }
}
