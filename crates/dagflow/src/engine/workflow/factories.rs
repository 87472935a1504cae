//! Common shapes: a chain, independent tasks, fan-out / fan-in.

use super::options::Task;
use super::Workflow;

impl Workflow {
    /// A workflow where each task depends on the one before it (on top of
    /// the dependencies in its own options).
    ///
    /// ```
    /// use dagflow::engine::workflow::{Task, TaskContext, Workflow};
    /// use serde_json::json;
    ///
    /// let step = |n: i64| move |_ctx: TaskContext| async move { Ok::<_, String>(json!(n)) };
    /// let mut wf = Workflow::chain("steps", [Task::new("a", step(1)), Task::new("b", step(2))]);
    /// assert_eq!(wf.dag()?.dependencies(wf.dag()?.id("b").unwrap()).len(), 1);
    /// # Ok::<(), dagflow::engine::workflow::WorkflowError>(())
    /// ```
    pub fn chain(name: impl Into<String>, tasks: impl IntoIterator<Item = Task>) -> Workflow {
        let mut wf = Workflow::new(name);
        let mut previous: Option<String> = None;
        for mut task in tasks {
            if let Some(p) = previous.take() {
                task.options = task.options.depends_on([p]);
            }
            previous = Some(task.name.clone());
            wf.add(task);
        }
        wf
    }

    /// A workflow of tasks that may all run at once (only the dependencies
    /// in their own options apply).
    pub fn parallel(name: impl Into<String>, tasks: impl IntoIterator<Item = Task>) -> Workflow {
        let mut wf = Workflow::new(name);
        for task in tasks {
            wf.add(task);
        }
        wf
    }

    /// `source`, then every worker (all depending on `source`), then `sink`
    /// (depending on every worker).
    pub fn fan_out_fan_in(
        name: impl Into<String>,
        source: Task,
        workers: impl IntoIterator<Item = Task>,
        sink: Task,
    ) -> Workflow {
        let mut wf = Workflow::new(name);
        let source_name = source.name.clone();
        wf.add(source);
        let mut worker_names = Vec::new();
        for mut worker in workers {
            worker.options = worker.options.depends_on([source_name.as_str()]);
            worker_names.push(worker.name.clone());
            wf.add(worker);
        }
        let mut sink = sink;
        sink.options = if worker_names.is_empty() {
            sink.options.depends_on([source_name])
        } else {
            sink.options.depends_on(worker_names)
        };
        wf.add(sink);
        wf
    }
}
