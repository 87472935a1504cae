//! What an action sees of the run: its own identity, the results of finished
//! tasks, and the cancellation token.

use std::fmt;
use std::sync::LazyLock;

use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

use super::drive::RunHandle;
use crate::graph::TaskId;

static NO_METADATA: LazyLock<Map<String, Value>> = LazyLock::new(Map::new);

/// The context passed to an action (and to a condition).
///
/// Owned and cheap to clone (one reference count), so it can move into the
/// action's future or a spawned task.
///
/// ```
/// use dagflow::engine::workflow::{TaskContext, TaskOptions, Workflow};
/// use serde_json::json;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let mut wf = Workflow::new("ctx");
/// wf.add_task("a", |_ctx: TaskContext| async { Ok::<_, String>(json!(20)) }, TaskOptions::new())
///   .add_task("b", |ctx: TaskContext| async move {
///       assert_eq!((ctx.task(), ctx.attempt()), ("b", 1));
///       let a = ctx.result("a").and_then(|v| v.as_i64()).unwrap_or(0);
///       Ok::<_, String>(json!(a + 1))
///   }, TaskOptions::new().depends_on(["a"]));
/// let results = wf.run().await?;
/// assert_eq!(results["b"], json!(21));
/// # Ok::<(), dagflow::engine::workflow::WorkflowError>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct TaskContext {
    run: RunHandle,
    id: TaskId,
    attempt: u32,
}

impl fmt::Debug for TaskContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskContext")
            .field("task", &self.task())
            .field("attempt", &self.attempt)
            .field("run_id", &self.run_id())
            .finish()
    }
}

impl TaskContext {
    pub(crate) fn new(run: RunHandle, id: TaskId, attempt: u32) -> Self {
        TaskContext { run, id, attempt }
    }

    /// The task's name.
    pub fn task(&self) -> &str {
        self.run.dag.name(self.id)
    }

    /// The task's index in the workflow's graph.
    pub fn task_id(&self) -> TaskId {
        self.id
    }

    /// The attempt number, from 1 (0 while a condition is evaluated).
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The id of the run.
    pub fn run_id(&self) -> &str {
        &self.run.run_id
    }

    /// The workflow's name.
    pub fn workflow(&self) -> &str {
        &self.run.workflow
    }

    /// The result of the finished task `name` (restored results included).
    ///
    /// Only the task's dependencies are guaranteed to have finished; for any
    /// other task this is `None` unless it happened to finish already.
    pub fn result(&self, name: &str) -> Option<&Value> {
        let id = self.run.dag.id(name)?;
        self.run.result(id)
    }

    /// The results of this task's dependencies, in declaration order.
    /// Dependencies that completed without a stored result are left out.
    pub fn dependency_results(&self) -> impl Iterator<Item = (&str, &Value)> + '_ {
        let dag = &self.run.dag;
        dag.dependencies(self.id)
            .iter()
            .filter_map(move |&d| Some((dag.name(d), self.run.result(d)?)))
    }

    /// The results of every task finished so far, in insertion order.
    pub fn results(&self) -> impl Iterator<Item = (&str, &Value)> + '_ {
        let dag = &self.run.dag;
        dag.ids()
            .filter_map(move |t| Some((dag.name(t), self.run.result(t)?)))
    }

    /// Cancelled when the run is cancelled or times out. Long actions should
    /// watch it (e.g. `select!` on `cancelled()`) and return early.
    pub fn cancellation(&self) -> &CancellationToken {
        &self.run.token
    }

    /// Whether the run was cancelled or timed out.
    pub fn is_cancelled(&self) -> bool {
        self.run.token.is_cancelled()
    }

    /// The task's tags.
    pub fn tags(&self) -> &[String] {
        self.run
            .extras(self.id)
            .map_or(&[][..], |e| e.tags.as_slice())
    }

    /// The task's metadata.
    pub fn metadata(&self) -> &Map<String, Value> {
        self.run
            .extras(self.id)
            .map_or(&*NO_METADATA, |e| &e.metadata)
    }
}
