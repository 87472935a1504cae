//! `run()` refuses graphs that are not DAGs, before running anything.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use dagflow::{GraphError, TaskContext, TaskOptions, Workflow, WorkflowError};
use serde_json::Value;

fn noop(
    ran: &Arc<AtomicBool>,
) -> impl Fn(TaskContext) -> std::future::Ready<Result<Value, String>> + Send + Sync + 'static {
    let ran = ran.clone();
    move |_ctx| {
        ran.store(true, Ordering::SeqCst);
        std::future::ready(Ok(Value::Null))
    }
}

#[tokio::test]
async fn cycle_is_reported_with_its_path_and_nothing_runs() {
    let ran = Arc::new(AtomicBool::new(false));
    let mut wf = Workflow::new("loop");
    wf.add_task("x", noop(&ran), TaskOptions::new())
        .add_task("a", noop(&ran), TaskOptions::new().depends_on(["c", "x"]))
        .add_task("b", noop(&ran), TaskOptions::new().depends_on(["a"]))
        .add_task("c", noop(&ran), TaskOptions::new().depends_on(["b"]));
    let err = wf.run().await.unwrap_err();
    let cycle = err.cycle().expect("a cycle error");
    assert_eq!(cycle.path, ["a", "b", "c", "a"]);
    assert!(matches!(err, WorkflowError::Graph(GraphError::Cycle(_))));
    assert_eq!(
        err.to_string(),
        "dependency cycle: a -> b -> c -> a; remove one of these dependencies"
    );
    assert!(!ran.load(Ordering::SeqCst));
}

#[tokio::test]
async fn unknown_dependency_names_the_task_and_the_missing_name() {
    let ran = Arc::new(AtomicBool::new(false));
    let mut wf = Workflow::new("typo");
    wf.add_task("build", noop(&ran), TaskOptions::new())
        .add_task(
            "deploy",
            noop(&ran),
            TaskOptions::new().depends_on(["tset"]),
        );
    let err = wf.run().await.unwrap_err();
    match &err {
        WorkflowError::Graph(GraphError::UnknownDependency { task, dependency }) => {
            assert_eq!((task.as_str(), dependency.as_str()), ("deploy", "tset"));
        }
        other => panic!("expected an unknown dependency, got {other:?}"),
    }
    assert!(err.cycle().is_none());
    assert!(!ran.load(Ordering::SeqCst));
}

#[tokio::test]
async fn duplicate_task_name_is_an_error_not_a_replacement() {
    let ran = Arc::new(AtomicBool::new(false));
    let mut wf = Workflow::new("dup");
    wf.add_task("a", noop(&ran), TaskOptions::new())
        .add_task("a", noop(&ran), TaskOptions::new());
    assert_eq!(wf.len(), 1);
    let err = wf.validate().unwrap_err();
    assert!(matches!(
        &err,
        WorkflowError::Graph(GraphError::DuplicateTask { name }) if name == "a"
    ));
    assert!(wf.run().await.is_err());
    assert!(!ran.load(Ordering::SeqCst));
}

#[tokio::test]
async fn dependencies_may_be_declared_before_their_task_is_added() {
    let ran = Arc::new(AtomicBool::new(false));
    let mut wf = Workflow::new("forward");
    wf.add_task(
        "deploy",
        noop(&ran),
        TaskOptions::new().depends_on(["build"]),
    )
    .add_task("build", noop(&ran), TaskOptions::new());
    let results = wf.run().await.unwrap();
    assert_eq!(results.len(), 2);
}

#[tokio::test]
async fn restoring_an_unknown_task_is_refused() {
    let ran = Arc::new(AtomicBool::new(false));
    let mut wf = Workflow::new("resume");
    wf.add_task("a", noop(&ran), TaskOptions::new());
    wf.restore([("gone".to_string(), Value::Null)].into(), "run-0");
    let err = wf.run().await.unwrap_err();
    assert!(
        matches!(&err, WorkflowError::UnknownRestoredTask { task, .. } if task == "gone"),
        "{err:?}"
    );
    assert!(err.to_string().contains("`gone`"));
}

#[test]
fn run_outside_a_tokio_runtime_is_an_error_not_a_panic() {
    let ran = Arc::new(AtomicBool::new(false));
    let mut wf = Workflow::new("no-runtime");
    wf.add_task("a", noop(&ran), TaskOptions::new());
    let err = futures::executor::block_on(wf.run()).unwrap_err();
    assert!(matches!(err, WorkflowError::NoRuntime));
}
