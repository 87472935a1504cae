//! Building a [`Dag`]: tasks added by name in any order, dependencies
//! resolved and validated at the end.

use std::sync::OnceLock;

use super::names::{NameIndex, NameList, NameSource};
use super::{Dag, GraphError, TaskId};

/// Marks an entry of `DagBuilder::deps` as an index into `unresolved`
/// rather than a task id: a dependency is resolved at once when its target is
/// already known (the common, topologically ordered case), kept by name
/// otherwise. Four bytes per dependency keeps large graphs small.
pub(super) const UNRESOLVED: u32 = 1 << 31;

/// Collects tasks and their dependencies, then validates them into a [`Dag`].
#[derive(Debug, Default, Clone)]
pub struct DagBuilder {
    /// The task names, end to end (see [`NameList`]): the graph's shared
    /// copies are made in [`build`](Self::build), all together.
    names: NameList,
    index: NameIndex,
    dep_start: Vec<u32>,
    deps: Vec<u32>,
    /// Dependency names not known yet when their task was added, kept in
    /// one buffer: a graph inserted in reverse has one per task, and a
    /// million small allocations freed after the build left a fragmented
    /// heap that slowed the run's own allocations (a reverse-inserted
    /// million-task chain ran 10-20 % slower than the same chain inserted
    /// in order).
    unresolved: NameList,
}

impl DagBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty builder with room for `tasks` tasks and `edges` dependencies.
    pub fn with_capacity(tasks: usize, edges: usize) -> Self {
        DagBuilder {
            names: NameList::with_capacity(tasks),
            index: NameIndex::with_capacity(tasks),
            dep_start: Vec::with_capacity(tasks + 1),
            deps: Vec::with_capacity(edges),
            unresolved: NameList::default(),
        }
    }

    /// Number of tasks added so far.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether no task was added yet.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The id of an already added task.
    pub fn id(&self, name: &str) -> Option<TaskId> {
        self.index.get(&self.names, name)
    }

    /// The name of the task `id`, if it was added.
    pub fn name(&self, id: TaskId) -> Option<&str> {
        self.names.get(id.index())
    }

    /// The names of the tasks added so far, in insertion order.
    pub fn names(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.names.iter()
    }

    /// The dependency names given for the task `id` when it was added, in
    /// the order given (repeats included); empty for an unknown id.
    ///
    /// ```
    /// use dagflow::graph::DagBuilder;
    ///
    /// let mut builder = DagBuilder::new();
    /// builder.add("fetch", [] as [&str; 0])?;
    /// let report = builder.add("report", ["fetch", "clean"])?;
    /// let deps: Vec<&str> = builder.dependency_names(report).collect();
    /// assert_eq!(deps, ["fetch", "clean"]);
    /// # Ok::<(), dagflow::GraphError>(())
    /// ```
    pub fn dependency_names(&self, id: TaskId) -> impl ExactSizeIterator<Item = &str> + '_ {
        let i = id.index();
        let range = match (self.dep_start.get(i), self.dep_start.get(i + 1)) {
            (Some(&start), Some(&end)) => start as usize..end as usize,
            _ => 0..0,
        };
        self.deps[range].iter().map(move |&pending| {
            if pending & UNRESOLVED == 0 {
                self.names.name_at(pending as usize)
            } else {
                self.unresolved.name_at((pending & !UNRESOLVED) as usize)
            }
        })
    }

    /// Adds a task and the names it depends on.
    ///
    /// Fails at once on a duplicate name; unknown dependencies and cycles are
    /// reported by [`build`](Self::build), since a dependency may be added later.
    pub fn add<I, S>(
        &mut self,
        name: impl AsRef<str>,
        dependencies: I,
    ) -> Result<TaskId, GraphError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let name = name.as_ref();
        if self.names.len() >= (UNRESOLVED - 1) as usize {
            return Err(GraphError::TooManyTasks);
        }
        let id = TaskId(self.names.len() as u32);
        if self.dep_start.is_empty() {
            self.dep_start.push(0);
        }
        // The dependencies first: the index is then probed for the new name
        // once, for the duplicate check and the insertion together. A task
        // that fails to be added leaves no trace.
        let (deps, unresolved) = (self.deps.len(), self.unresolved.len());
        let added = self.add_dependencies(dependencies).and_then(|()| {
            self.index
                .insert(&self.names, name, id)
                .map_err(|_| GraphError::DuplicateTask {
                    name: name.to_owned(),
                })
        });
        if let Err(e) = added {
            self.deps.truncate(deps);
            self.unresolved.truncate(unresolved);
            return Err(e);
        }
        self.dep_start.push(self.deps.len() as u32);
        self.names.push(name);
        Ok(id)
    }

    /// Records the dependencies of the task being added: as ids where the
    /// task is known, else by name for [`build`](Self::build) to resolve.
    fn add_dependencies<I, S>(&mut self, dependencies: I) -> Result<(), GraphError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for dep in dependencies {
            let dep = dep.as_ref();
            let pending = match self.index.get(&self.names, dep) {
                Some(d) => d.0,
                None => {
                    if self.unresolved.len() >= (UNRESOLVED - 1) as usize {
                        return Err(GraphError::TooManyTasks);
                    }
                    self.unresolved.push(dep);
                    UNRESOLVED | (self.unresolved.len() as u32 - 1)
                }
            };
            self.deps.push(pending);
        }
        if self.deps.len() > u32::MAX as usize {
            return Err(GraphError::TooManyTasks);
        }
        Ok(())
    }

    /// Resolves dependencies, rejects unknown names and cycles, and computes
    /// the topological order.
    ///
    /// Unknown dependencies are reported for the earliest-inserted task that
    /// has one. Repeated dependencies of one task count once.
    pub fn build(self) -> Result<Dag, GraphError> {
        let n = self.names.len();
        let mut dep_start = Vec::with_capacity(n + 1);
        let mut deps = Vec::with_capacity(self.deps.len());
        // `seen[d] == i + 1` marks that task i already lists d: O(1) dedup.
        let mut seen = vec![0u32; n];
        dep_start.push(0u32);
        for i in 0..n {
            let range = self.dep_start[i] as usize..self.dep_start[i + 1] as usize;
            for &pending in &self.deps[range] {
                let d = if pending & UNRESOLVED == 0 {
                    TaskId(pending)
                } else {
                    let name = self.unresolved.name_at((pending & !UNRESOLVED) as usize);
                    match self.index.get(&self.names, name) {
                        Some(d) => d,
                        None => {
                            return Err(GraphError::UnknownDependency {
                                task: self.names.name_at(i).to_string(),
                                dependency: name.to_string(),
                            })
                        }
                    }
                };
                if seen[d.index()] != i as u32 + 1 {
                    seen[d.index()] = i as u32 + 1;
                    deps.push(d);
                }
            }
            dep_start.push(deps.len() as u32);
        }
        drop(seen);
        drop(self.deps);
        drop(self.unresolved);

        // Reverse adjacency (dependents), in CSR form; filling in task order
        // keeps each task's dependents sorted by insertion order.
        let mut out_start = vec![0u32; n + 1];
        for d in &deps {
            out_start[d.index() + 1] += 1;
        }
        for i in 0..n {
            out_start[i + 1] += out_start[i];
        }
        let mut fill = out_start.clone();
        let mut outs = vec![TaskId(0); deps.len()];
        for i in 0..n {
            for d in &deps[dep_start[i] as usize..dep_start[i + 1] as usize] {
                let slot = &mut fill[d.index()];
                outs[*slot as usize] = TaskId(i as u32);
                *slot += 1;
            }
        }

        let mut dag = Dag {
            names: self.names,
            shared_names: OnceLock::new(),
            index: self.index,
            dep_start,
            deps,
            out_start,
            outs,
            order: Vec::new(),
        };
        dag.order = dag.kahn()?;
        Ok(dag)
    }
}
