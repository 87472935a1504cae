//! The standard workloads of WORKLOADS.md, generated into a compact,
//! engine-neutral [`GraphSpec`].
//!
//! The spec lives in every child process next to the engine under test, so it
//! is stored in flat arrays (one name buffer, dependencies in compressed
//! sparse rows): a few MiB for a million tasks, the same for every engine.

use std::fmt::Write as _;
use std::time::Duration;

use dagflow::journal::synthetic::Lcg;

/// The seed of every standard workload (WORKLOADS.md).
pub const SEED: u64 = 42;

/// Number of edges the standard layered workload (100 x 1,000, 3 picks) must
/// have; a different count means the generator drifted from WORKLOADS.md.
pub const LAYERED_EDGES: usize = 296_715;

/// The shape of a workload's graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `t{i}` depends on `t{i-1}`; `reverse` inserts the sink first.
    Chain {
        /// Number of tasks.
        n: usize,
        /// Insert tasks sink first (dependencies named before they exist).
        reverse: bool,
    },
    /// `src` -> `m0..m{n-1}` -> `sink`.
    Fanout {
        /// Number of middle tasks.
        n: usize,
    },
    /// `n` tasks without edges.
    Independent {
        /// Number of tasks.
        n: usize,
    },
    /// `layers` x `width` tasks; each task of a layer after the first depends
    /// on `picks` draws of `draw(width)` from the layer before, duplicates
    /// removed.
    Layered {
        /// Number of layers.
        layers: usize,
        /// Tasks per layer.
        width: usize,
        /// Draws per task.
        picks: usize,
        /// Each body sleeps this long (asynchronously), if set.
        sleep_ms: Option<u64>,
    },
    /// The journal workload: the synthetic history of `workflows` workflows
    /// (6 entries each), no graph.
    Journal {
        /// Number of workflows in the history.
        workflows: usize,
        /// What is measured.
        phase: JournalPhase,
    },
}

/// What a journal workload measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JournalPhase {
    /// Recording the whole history into a fresh store, durably.
    Record,
    /// `generate_insight()` over the recorded history.
    Insight,
}

/// A named standard workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workload {
    /// The name used on the command line and in the JSON output.
    pub name: &'static str,
    /// The graph.
    pub shape: Shape,
}

/// Every standard workload, in the order the suite runs them.
pub const ALL: &[Workload] = &[
    Workload {
        name: "chain-1000",
        shape: Shape::Chain {
            n: 1_000,
            reverse: false,
        },
    },
    Workload {
        name: "chain-10000",
        shape: Shape::Chain {
            n: 10_000,
            reverse: false,
        },
    },
    Workload {
        name: "chain-1000000",
        shape: Shape::Chain {
            n: 1_000_000,
            reverse: false,
        },
    },
    Workload {
        name: "chain-1000000-reverse",
        shape: Shape::Chain {
            n: 1_000_000,
            reverse: true,
        },
    },
    Workload {
        name: "fanout-10000",
        shape: Shape::Fanout { n: 10_000 },
    },
    Workload {
        name: "independent-100000",
        shape: Shape::Independent { n: 100_000 },
    },
    Workload {
        name: "layered-100x1000",
        shape: Shape::Layered {
            layers: 100,
            width: 1_000,
            picks: 3,
            sleep_ms: None,
        },
    },
    Workload {
        name: "sleepy-10x100",
        shape: Shape::Layered {
            layers: 10,
            width: 100,
            picks: 2,
            sleep_ms: Some(10),
        },
    },
    Workload {
        name: "journal-record-100000",
        shape: Shape::Journal {
            workflows: 100_000,
            phase: JournalPhase::Record,
        },
    },
    Workload {
        name: "journal-insight-100000",
        shape: Shape::Journal {
            workflows: 100_000,
            phase: JournalPhase::Insight,
        },
    },
    Workload {
        name: "journal-insight-1000000",
        shape: Shape::Journal {
            workflows: 1_000_000,
            phase: JournalPhase::Insight,
        },
    },
];

impl Workload {
    /// The standard workload called `name`, if any.
    pub fn by_name(name: &str) -> Option<Workload> {
        ALL.iter().copied().find(|w| w.name == name)
    }

    /// Number of tasks in the graph; for a journal workload, the entries
    /// it records or the workflows its insight covers (see [`Workload::unit`]).
    pub fn task_count(&self) -> usize {
        match self.shape {
            Shape::Chain { n, .. } | Shape::Independent { n } => n,
            Shape::Fanout { n } => n + 2,
            Shape::Layered { layers, width, .. } => layers * width,
            Shape::Journal {
                workflows,
                phase: JournalPhase::Record,
            } => workflows * 6,
            Shape::Journal { workflows, .. } => workflows,
        }
    }

    /// What [`Workload::task_count`] counts.
    pub fn unit(&self) -> &'static str {
        match self.shape {
            Shape::Journal {
                phase: JournalPhase::Record,
                ..
            } => "entries",
            Shape::Journal { .. } => "workflows",
            _ => "tasks",
        }
    }

    /// The history's size and what is measured, for a journal workload.
    pub fn journal(&self) -> Option<(usize, JournalPhase)> {
        match self.shape {
            Shape::Journal { workflows, phase } => Some((workflows, phase)),
            _ => None,
        }
    }

    /// True for the journal workloads (no graph).
    pub fn is_journal(&self) -> bool {
        self.journal().is_some()
    }

    /// The edge count WORKLOADS.md fixes for this workload, if it fixes one
    /// (the standard layered graph: [`LAYERED_EDGES`]).
    pub fn expected_edges(&self) -> Option<usize> {
        match self.shape {
            Shape::Layered {
                layers: 100,
                width: 1_000,
                picks: 3,
                ..
            } => Some(LAYERED_EDGES),
            _ => None,
        }
    }

    /// How long each task body sleeps, if it sleeps.
    pub fn sleep(&self) -> Option<Duration> {
        match self.shape {
            Shape::Layered {
                sleep_ms: Some(ms), ..
            } => Some(Duration::from_millis(ms)),
            _ => None,
        }
    }

    /// Generates the graph (none for a journal workload).
    pub fn generate(&self) -> GraphSpec {
        let n = if self.is_journal() {
            0
        } else {
            self.task_count()
        };
        let mut spec = GraphSpec::with_capacity(*self, n);
        match self.shape {
            Shape::Journal { .. } => {}
            Shape::Chain { n, .. } => {
                for i in 0..n {
                    spec.push_indexed_name("t", i);
                    if i > 0 {
                        spec.deps.push((i - 1) as u32);
                    }
                    spec.dep_start.push(spec.deps.len() as u32);
                }
            }
            Shape::Independent { n } => {
                for i in 0..n {
                    spec.push_indexed_name("t", i);
                    spec.dep_start.push(0);
                }
            }
            Shape::Fanout { n } => {
                spec.push_name("src");
                spec.dep_start.push(0);
                for i in 0..n {
                    spec.push_indexed_name("m", i);
                    spec.deps.push(0);
                    spec.dep_start.push(spec.deps.len() as u32);
                }
                spec.push_name("sink");
                spec.deps.extend(1..=n as u32);
                spec.dep_start.push(spec.deps.len() as u32);
            }
            Shape::Layered {
                layers,
                width,
                picks,
                ..
            } => {
                let mut lcg = Lcg::new(SEED);
                for layer in 0..layers {
                    for task in 0..width {
                        let index = layer * width + task;
                        spec.push_indexed_name("t", index);
                        if layer > 0 {
                            let first_new = spec.deps.len();
                            for _ in 0..picks {
                                let pick =
                                    ((layer - 1) * width) as u32 + lcg.draw(width as u64) as u32;
                                if !spec.deps[first_new..].contains(&pick) {
                                    spec.deps.push(pick);
                                }
                            }
                        }
                        spec.dep_start.push(spec.deps.len() as u32);
                    }
                }
            }
        }
        spec
    }
}

/// A generated workload: task names and dependencies by task index.
///
/// Task `i`'s dependencies always have smaller indices, so index order is a
/// topological order; [`GraphSpec::insertion_order`] gives the order engines
/// must insert tasks in (reversed for the "reverse" workloads).
#[derive(Debug, Clone)]
pub struct GraphSpec {
    /// The workload this graph was generated from.
    pub workload: Workload,
    name_buf: String,
    name_end: Vec<u32>,
    dep_start: Vec<u32>,
    deps: Vec<u32>,
}

impl GraphSpec {
    fn with_capacity(workload: Workload, n: usize) -> Self {
        let mut dep_start = Vec::with_capacity(n + 1);
        dep_start.push(0);
        GraphSpec {
            workload,
            name_buf: String::with_capacity(n * 7),
            name_end: Vec::with_capacity(n),
            dep_start,
            deps: Vec::new(),
        }
    }

    fn push_name(&mut self, name: &str) {
        self.name_buf.push_str(name);
        self.name_end.push(self.name_buf.len() as u32);
    }

    fn push_indexed_name(&mut self, prefix: &str, i: usize) {
        self.name_buf.push_str(prefix);
        // Writing into a String cannot fail.
        let _ = write!(self.name_buf, "{i}");
        self.name_end.push(self.name_buf.len() as u32);
    }

    /// Number of tasks.
    pub fn len(&self) -> usize {
        self.name_end.len()
    }

    /// True when the graph has no tasks.
    pub fn is_empty(&self) -> bool {
        self.name_end.is_empty()
    }

    /// Number of (deduplicated) dependency edges.
    pub fn edge_count(&self) -> usize {
        self.deps.len()
    }

    /// The name of task `i`.
    pub fn name(&self, i: usize) -> &str {
        let start = if i == 0 {
            0
        } else {
            self.name_end[i - 1] as usize
        };
        &self.name_buf[start..self.name_end[i] as usize]
    }

    /// The indices of the tasks task `i` depends on, in draw order.
    pub fn deps(&self, i: usize) -> &[u32] {
        &self.deps[self.dep_start[i] as usize..self.dep_start[i + 1] as usize]
    }

    /// True when tasks must be inserted sink first.
    pub fn is_reversed(&self) -> bool {
        matches!(self.workload.shape, Shape::Chain { reverse: true, .. })
    }

    /// Task indices in the order an engine must insert them.
    pub fn insertion_order(&self) -> impl Iterator<Item = usize> {
        let n = self.len();
        let reverse = self.is_reversed();
        (0..n).map(move |k| if reverse { n - 1 - k } else { k })
    }

    /// How long each body sleeps, if it sleeps.
    pub fn sleep(&self) -> Option<Duration> {
        self.workload.sleep()
    }

    /// The largest number of dependencies any task has.
    pub fn max_fan_in(&self) -> usize {
        self.dep_start
            .windows(2)
            .map(|w| (w[1] - w[0]) as usize)
            .max()
            .unwrap_or(0)
    }

    /// The value task `i`'s body returns: its index. Engines check the
    /// results they collect against [`GraphSpec::expected_sum`].
    pub fn value(i: usize) -> u64 {
        i as u64
    }

    /// Sum of every task's value, for checking that every task ran once.
    pub fn expected_sum(&self) -> u64 {
        let n = self.len() as u64;
        n * n.saturating_sub(1) / 2
    }
}

/// Test helper: asserts that `order` (task indices in the order they ran
/// or finished, as `what` says) holds every task once, each after its
/// dependencies.
#[cfg(test)]
pub(crate) fn assert_dependencies_first(spec: &GraphSpec, order: &[usize], what: &str) {
    let mut position = vec![usize::MAX; spec.len()];
    for (p, &t) in order.iter().enumerate() {
        assert_eq!(position[t], usize::MAX, "task {t} ran twice");
        position[t] = p;
    }
    assert_eq!(order.len(), spec.len());
    for t in 0..spec.len() {
        for &d in spec.deps(t) {
            assert!(
                position[d as usize] < position[t],
                "task {t} {what} before its dependency {d}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workload(name: &str) -> GraphSpec {
        Workload::by_name(name)
            .unwrap_or_else(|| panic!("workload {name} is not defined"))
            .generate()
    }

    #[test]
    fn layered_has_the_documented_edge_count() {
        let spec = workload("layered-100x1000");
        assert_eq!(spec.len(), 100_000);
        assert_eq!(spec.edge_count(), LAYERED_EDGES);
        assert_eq!(spec.workload.expected_edges(), Some(spec.edge_count()));
    }

    #[test]
    fn layered_draws_go_layer_task_pick_in_order() {
        let spec = workload("layered-100x1000");
        let mut lcg = Lcg::new(SEED);
        let mut first: Vec<u32> = Vec::new();
        for _ in 0..3 {
            let pick = 1000 + lcg.draw(1000) as u32;
            if !first.contains(&pick) {
                first.push(pick);
            }
        }
        // Task 0 of layer 1 draws first; its picks index layer 0.
        let first: Vec<u32> = first.iter().map(|p| p - 1000).collect();
        assert_eq!(spec.deps(1000), first.as_slice());
        assert!(spec.deps(999).is_empty());
        for i in 1000..2000 {
            assert!(spec.deps(i).iter().all(|&d| d < 1000));
        }
    }

    #[test]
    fn sleepy_is_ten_layers_of_a_hundred_with_at_most_two_picks() {
        let spec = workload("sleepy-10x100");
        assert_eq!(spec.len(), 1_000);
        assert_eq!(spec.max_fan_in(), 2);
        assert_eq!(spec.sleep(), Some(Duration::from_millis(10)));
        for i in 100..1000 {
            let layer_start = (i / 100 - 1) * 100;
            assert!(spec
                .deps(i)
                .iter()
                .all(|&d| (layer_start..layer_start + 100).contains(&(d as usize))));
        }
    }

    #[test]
    fn fanout_names_source_middles_and_sink() {
        let spec = workload("fanout-10000");
        assert_eq!(spec.len(), 10_002);
        assert_eq!(spec.name(0), "src");
        assert_eq!(spec.name(1), "m0");
        assert_eq!(spec.name(10_000), "m9999");
        assert_eq!(spec.name(10_001), "sink");
        assert_eq!(spec.deps(10_001).len(), 10_000);
        assert_eq!(spec.deps(5), &[0]);
    }

    #[test]
    fn reverse_chain_inserts_the_sink_first() {
        let spec = workload("chain-1000000-reverse");
        let order: Vec<usize> = spec.insertion_order().take(2).collect();
        assert_eq!(order, [999_999, 999_998]);
        assert_eq!(spec.insertion_order().last(), Some(0));
        assert_eq!(spec.deps(999_999), &[999_998]);
        assert_eq!(spec.name(999_999), "t999999");
    }

    #[test]
    fn independent_has_no_edges() {
        let spec = workload("independent-100000");
        assert_eq!(spec.edge_count(), 0);
        assert_eq!(spec.expected_sum(), 100_000 * 99_999 / 2);
    }
}
