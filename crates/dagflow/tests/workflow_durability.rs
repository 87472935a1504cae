//! The async `Workflow` with an observer that makes events durable in the
//! background (as the SQLite journal does): no task starts before the ends
//! of its dependencies are durable, and waits happen only where needed.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use dagflow::event::{Observer, ObserverError};
use dagflow::{TaskContext, TaskOptions, Workflow, WorkflowEvent};
use serde_json::Value;

/// Keeps task ends "pending" until `wait_durable` (or a background flush)
/// makes them durable, like a journal committing in the background. Checks,
/// at every task start, that the task's dependencies' ends are durable.
#[derive(Default)]
struct LazyJournal {
    deps: HashMap<String, Vec<String>>,
    state: Mutex<State>,
    waits: AtomicUsize,
}

#[derive(Default)]
struct State {
    /// Task ends in the order received, with their position (from 1).
    pending: Vec<(u64, String)>,
    queued: u64,
    durable: HashSet<String>,
    violations: Vec<String>,
    started: Vec<String>,
}

impl LazyJournal {
    fn make_durable(&self, state: &mut State, mark: u64) {
        let (now, later): (Vec<_>, Vec<_>) = state.pending.drain(..).partition(|(p, _)| *p <= mark);
        state.pending = later;
        state.durable.extend(now.into_iter().map(|(_, t)| t));
    }
}

impl Observer for LazyJournal {
    fn on_event(&self, event: &WorkflowEvent) -> Result<(), ObserverError> {
        let mut state = self.state.lock().unwrap();
        match event {
            WorkflowEvent::TaskStarted { task, .. } => {
                for dep in &self.deps[&**task] {
                    if !state.durable.contains(dep) {
                        state
                            .violations
                            .push(format!("{task} started before {dep}'s end was durable"));
                    }
                }
                state.started.push(task.to_string());
            }
            WorkflowEvent::TaskCompleted { task, .. } => {
                // An immediate event: durable with everything before it.
                state.queued += 1;
                let (position, task) = (state.queued, task.to_string());
                state.pending.push((position, task));
                self.make_durable(&mut state, position);
            }
            _ => {}
        }
        Ok(())
    }

    fn defers(&self) -> bool {
        true
    }

    fn on_event_deferred(&self, event: &WorkflowEvent) -> Result<(), ObserverError> {
        if let WorkflowEvent::TaskCompleted { task, .. } = event {
            let mut state = self.state.lock().unwrap();
            state.queued += 1;
            let position = state.queued;
            state.pending.push((position, task.to_string()));
            Ok(())
        } else {
            self.on_event(event)
        }
    }

    fn mark(&self) -> u64 {
        self.state.lock().unwrap().queued
    }

    fn wait_durable(&self, mark: u64) -> Result<(), ObserverError> {
        self.waits.fetch_add(1, Ordering::Relaxed);
        let mut state = self.state.lock().unwrap();
        self.make_durable(&mut state, mark);
        Ok(())
    }
}

fn noop(_ctx: TaskContext) -> futures::future::BoxFuture<'static, Result<Value, String>> {
    Box::pin(async { Ok(Value::Null) })
}

/// Layers of `width` tasks, each depending on two tasks of the layer before.
fn layered(layers: usize, width: usize) -> (Workflow, HashMap<String, Vec<String>>) {
    let mut wf = Workflow::new("layered");
    let mut deps = HashMap::new();
    for l in 0..layers {
        for i in 0..width {
            let name = format!("t{l}_{i}");
            let d: Vec<String> = if l == 0 {
                Vec::new()
            } else {
                vec![
                    format!("t{}_{i}", l - 1),
                    format!("t{}_{}", l - 1, (i + 1) % width),
                ]
            };
            wf.add_task(&name, noop, TaskOptions::new().depends_on(&d));
            deps.insert(name, d);
        }
    }
    (wf, deps)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_task_starts_before_its_dependencies_ends_are_durable() {
    for concurrency in [None, Some(2)] {
        let (mut wf, deps) = layered(20, 50);
        if let Some(c) = concurrency {
            wf.max_concurrency(c);
        }
        let journal = Arc::new(LazyJournal {
            deps,
            ..LazyJournal::default()
        });
        wf.observe(journal.clone());
        wf.run().await.unwrap();
        let state = journal.state.lock().unwrap();
        assert_eq!(state.started.len(), 1000);
        assert!(
            state.violations.is_empty(),
            "{:?}",
            &state.violations[..3.min(state.violations.len())]
        );
        assert_eq!(wf.summary().counts.completed, 1000);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roots_and_tasks_whose_dependencies_are_durable_do_not_wait() {
    // 100 independent tasks: nothing to wait for, ever.
    let mut wf = Workflow::new("independent");
    let mut deps = HashMap::new();
    for i in 0..100 {
        wf.add_task(format!("r{i}"), noop, TaskOptions::new());
        deps.insert(format!("r{i}"), Vec::new());
    }
    let journal = Arc::new(LazyJournal {
        deps,
        ..LazyJournal::default()
    });
    wf.observe(journal.clone());
    wf.run().await.unwrap();
    assert_eq!(journal.waits.load(Ordering::Relaxed), 0);

    // A chain: every link waits for the one before it.
    let mut wf = Workflow::new("chain");
    let mut deps = HashMap::new();
    for i in 0..50 {
        let d: Vec<String> = if i == 0 {
            vec![]
        } else {
            vec![format!("c{}", i - 1)]
        };
        wf.add_task(format!("c{i}"), noop, TaskOptions::new().depends_on(&d));
        deps.insert(format!("c{i}"), d);
    }
    let journal = Arc::new(LazyJournal {
        deps,
        ..LazyJournal::default()
    });
    wf.observe(journal.clone());
    wf.run().await.unwrap();
    assert_eq!(journal.waits.load(Ordering::Relaxed), 49);
    assert!(journal.state.lock().unwrap().violations.is_empty());
}
