//! Graph validation and ordering through the public API.

use dagflow::graph::{Dag, DagBuilder, GraphError};

/// A chain `t0 -> t1 -> ... -> t{n-1}` inserted sink first, so every
/// dependency names a task that is only added later.
fn reverse_chain(n: usize) -> DagBuilder {
    let mut b = DagBuilder::with_capacity(n, n);
    for i in (0..n).rev() {
        let deps: Vec<String> = if i == 0 {
            vec![]
        } else {
            vec![format!("t{}", i - 1)]
        };
        b.add(format!("t{i}"), deps).expect("names are unique");
    }
    b
}

#[test]
fn million_task_chain_inserted_sink_first_sorts_without_overflow() {
    let n = 1_000_000;
    let dag = reverse_chain(n).build().expect("a chain is acyclic");
    let order = dag.topological_order();
    assert_eq!(order.len(), n);
    assert_eq!(dag.name(order[0]), "t0");
    assert_eq!(dag.name(order[n - 1]), format!("t{}", n - 1));
    let levels = dag.level_of_each();
    assert_eq!(levels.iter().copied().max(), Some(n as u32 - 1));
    let cp = dag.critical_path(|_| 1.0);
    assert_eq!(cp.tasks.len(), n);
}

#[test]
fn long_cycle_is_reported_in_full() {
    // t0 -> t1 -> ... -> t9 -> t0
    let tasks: Vec<(String, Vec<String>)> = (0..10)
        .map(|i| (format!("t{i}"), vec![format!("t{}", (i + 9) % 10)]))
        .collect();
    let err = Dag::from_tasks(tasks).unwrap_err();
    let GraphError::Cycle(cycle) = err else {
        panic!("expected a cycle, got {err:?}");
    };
    let expected: Vec<String> = (0..10).chain([0]).map(|i| format!("t{i}")).collect();
    assert_eq!(cycle.path, expected);
}

#[test]
fn diamond_levels_and_dependents() {
    let dag = Dag::from_tasks([
        ("a", vec![]),
        ("b", vec!["a"]),
        ("c", vec!["a"]),
        ("d", vec!["b", "c"]),
    ])
    .unwrap();
    let a = dag.id("a").unwrap();
    let d = dag.id("d").unwrap();
    let dependents: Vec<&str> = dag.dependents(a).iter().map(|&t| dag.name(t)).collect();
    assert_eq!(dependents, ["b", "c"]);
    let deps: Vec<&str> = dag.dependencies(d).iter().map(|&t| dag.name(t)).collect();
    assert_eq!(deps, ["b", "c"]);
    assert_eq!(dag.levels().len(), 3);
    assert_eq!(dag.roots().collect::<Vec<_>>(), vec![a]);
}
