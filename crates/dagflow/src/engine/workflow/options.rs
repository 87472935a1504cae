//! Per-task options and the type-erased actions the scheduler calls.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::{Map, Value};

use super::context::TaskContext;
use super::dependency_names::DependencyNames;
use super::error::{BoxError, TaskError};
use super::retry::RetryPolicy;
use crate::event::panic_message;

pub(crate) type ConditionFn = dyn Fn(&TaskContext) -> Result<bool, BoxError> + Send + Sync;
pub(crate) type TransformFn = dyn Fn(Value) -> Result<Value, BoxError> + Send + Sync;

/// What a task does, type-erased: one pointer-sized handle per task.
pub(crate) trait ErasedAction: Send + Sync {
    /// Starts an attempt. Async actions are polled in place; blocking ones
    /// are sent to tokio's blocking pool by the returned future.
    fn start(&self, ctx: TaskContext) -> BoxFuture<'static, Result<Value, TaskError>>;
}

struct AsyncAction<F>(F);

impl<F, Fut, E> ErasedAction for AsyncAction<F>
where
    F: Fn(TaskContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Value, E>> + Send + 'static,
    E: Into<BoxError>,
{
    fn start(&self, ctx: TaskContext) -> BoxFuture<'static, Result<Value, TaskError>> {
        (self.0)(ctx)
            .map(|r| r.map_err(|e| TaskError::Action(e.into())))
            .boxed()
    }
}

struct BlockingAction<F>(Arc<F>);

impl<F, E> ErasedAction for BlockingAction<F>
where
    F: Fn(TaskContext) -> Result<Value, E> + Send + Sync + 'static,
    E: Into<BoxError>,
{
    fn start(&self, ctx: TaskContext) -> BoxFuture<'static, Result<Value, TaskError>> {
        let action = Arc::clone(&self.0);
        Box::pin(async move {
            let call = move || action(ctx).map_err(|e| TaskError::Action(e.into()));
            match tokio::task::spawn_blocking(call).await {
                Ok(result) => result,
                Err(e) if e.is_panic() => Err(TaskError::Panicked {
                    message: panic_message(&*e.into_panic()),
                }),
                // The runtime is shutting down.
                Err(_) => Err(TaskError::Cancelled),
            }
        })
    }
}

/// A task's action: an async closure polled on the runtime, or a blocking
/// closure run on tokio's blocking pool.
#[derive(Clone)]
pub(crate) struct Action(pub(crate) Arc<dyn ErasedAction>);

impl Action {
    pub(crate) fn from_async<F, Fut, E>(action: F) -> Action
    where
        F: Fn(TaskContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        Action(Arc::new(AsyncAction(action)))
    }

    pub(crate) fn from_blocking<F, E>(action: F) -> Action
    where
        F: Fn(TaskContext) -> Result<Value, E> + Send + Sync + 'static,
        E: Into<BoxError>,
    {
        Action(Arc::new(BlockingAction(Arc::new(action))))
    }

    /// Asks the CPU to start loading the action's closure (see
    /// `crate::prefetch`).
    #[inline(always)]
    pub(crate) fn prefetch(&self) {
        crate::prefetch::prefetch(&*self.0);
    }
}

/// Options of one task: dependencies, timeout, retries, condition, result
/// transform, tags, metadata. Built with chained calls.
///
/// ```
/// use dagflow::engine::workflow::{RetryPolicy, TaskOptions};
/// use std::time::Duration;
///
/// let options = TaskOptions::new()
///     .depends_on(["extract", "schema"])
///     .timeout(Duration::from_secs(30))
///     .retry(RetryPolicy::default().max_attempts(3))
///     .when(|ctx| ctx.result("schema").is_some())
///     .tag("etl")
///     .metadata("owner", "data-team");
/// ```
#[derive(Default, Clone)]
pub struct TaskOptions {
    pub(crate) dependencies: DependencyNames,
    /// Boxed by the first setter that needs it: a plain task's options stay
    /// five words wide, so passing them by value through the chained calls
    /// and into `add_task` copies 40 bytes rather than the 200 the extras
    /// take inline (those copies were a seventh of building a plain
    /// 100,000-task workflow).
    pub(crate) extras: Option<Box<TaskExtras>>,
}

/// The rarely used options, boxed per task only when one is set so that a
/// plain task costs a few words.
#[derive(Default, Clone)]
pub(crate) struct TaskExtras {
    pub(crate) timeout: Option<Duration>,
    pub(crate) retry: Option<RetryPolicy>,
    pub(crate) condition: Option<Arc<ConditionFn>>,
    pub(crate) transform: Option<Arc<TransformFn>>,
    pub(crate) tags: Vec<String>,
    pub(crate) metadata: Map<String, Value>,
    pub(crate) definition: Option<String>,
}

impl TaskExtras {
    fn is_default(&self) -> bool {
        self.timeout.is_none()
            && self.retry.is_none()
            && self.condition.is_none()
            && self.transform.is_none()
            && self.tags.is_empty()
            && self.metadata.is_empty()
            && self.definition.is_none()
    }
}

impl fmt::Debug for TaskOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let default = TaskExtras::default();
        let e = self.extras.as_deref().unwrap_or(&default);
        f.debug_struct("TaskOptions")
            .field("dependencies", &self.dependencies)
            .field("timeout", &e.timeout)
            .field("retry", &e.retry)
            .field("condition", &e.condition.is_some())
            .field("transform_result", &e.transform.is_some())
            .field("tags", &e.tags)
            .field("metadata", &e.metadata)
            .field("definition", &e.definition)
            .finish()
    }
}

impl TaskOptions {
    /// No dependencies, no timeout, a single attempt, always runs.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds tasks that must complete before this one starts. They may be
    /// added to the workflow later; `run()` checks that they exist.
    pub fn depends_on<I, S>(mut self, dependencies: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.dependencies.extend(dependencies);
        self
    }

    /// Fails an attempt that runs longer than `timeout` with
    /// [`TaskError::Timeout`] (retried like any other error). An async
    /// action is dropped at the timeout; a blocking one keeps its thread
    /// until it returns, but its result is ignored.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.extras_mut().timeout = Some(timeout);
        self
    }

    /// Retries failed attempts according to `policy`.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.extras_mut().retry = Some(policy);
        self
    }

    /// Runs the task only if `condition` returns `Ok(true)` when the task
    /// becomes ready; `Ok(false)` skips it with reason "condition was
    /// false", an error or a panic skips it with reason "condition failed:
    /// ...". Its context has `attempt() == 0` and the results of the
    /// finished dependencies.
    pub fn condition<F, E>(mut self, condition: F) -> Self
    where
        F: Fn(&TaskContext) -> Result<bool, E> + Send + Sync + 'static,
        E: Into<BoxError>,
    {
        self.extras_mut().condition = Some(Arc::new(move |ctx| condition(ctx).map_err(Into::into)));
        self
    }

    /// Like [`condition`](Self::condition) for a condition that cannot fail.
    pub fn when<F>(self, condition: F) -> Self
    where
        F: Fn(&TaskContext) -> bool + Send + Sync + 'static,
    {
        self.condition(move |ctx| Ok::<bool, std::convert::Infallible>(condition(ctx)))
    }

    /// Replaces a successful result by `transform(result)`. An error fails
    /// the attempt with [`TaskError::Transform`].
    pub fn transform_result<F, E>(mut self, transform: F) -> Self
    where
        F: Fn(Value) -> Result<Value, E> + Send + Sync + 'static,
        E: Into<BoxError>,
    {
        self.extras_mut().transform = Some(Arc::new(move |v| transform(v).map_err(Into::into)));
        self
    }

    /// Adds a tag (free text, e.g. for grouping in reports).
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.extras_mut().tags.push(tag.into());
        self
    }

    /// Adds several tags.
    pub fn tags<I, S>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.extras_mut()
            .tags
            .extend(tags.into_iter().map(Into::into));
        self
    }

    /// Sets a metadata entry, readable from the task's context.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.extras_mut().metadata.insert(key.into(), value.into());
        self
    }

    /// Text that defines what the task does beyond its closure, such as the
    /// shell command it runs. The journal fingerprints it to notice changed
    /// definitions when a run is resumed.
    pub fn definition(mut self, definition: impl Into<String>) -> Self {
        self.extras_mut().definition = Some(definition.into());
        self
    }

    fn extras_mut(&mut self) -> &mut TaskExtras {
        self.extras.get_or_insert_with(Box::default)
    }

    pub(crate) fn into_parts(self) -> (DependencyNames, Option<Box<TaskExtras>>) {
        // A setter given only empty input (`tags([])`) leaves default extras.
        let extras = self.extras.filter(|e| !e.is_default());
        (self.dependencies, extras)
    }
}

/// One task of a [`TaskTable`]: its action and its options, if any.
#[derive(Clone, Copy)]
pub(crate) struct TaskSpec<'a> {
    pub(crate) action: &'a Action,
    pub(crate) extras: Option<&'a TaskExtras>,
}

/// The workflow's tasks, indexed like the graph's `TaskId`.
///
/// Actions are stored densely and the rarely set extras sparsely (sorted by
/// index), so a plain task costs one fat pointer here: at 100,000 tasks
/// that is 1.6 MB instead of 2.4 MB, before any growth slack.
#[derive(Clone, Default)]
pub(crate) struct TaskTable {
    actions: Vec<Action>,
    /// `(index, extras)` of the tasks that have extras, by index.
    extras: Vec<(u32, Box<TaskExtras>)>,
}

impl TaskTable {
    pub(crate) fn len(&self) -> usize {
        self.actions.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// Appends the task with the next index.
    pub(crate) fn push(&mut self, action: Action, extras: Option<Box<TaskExtras>>) {
        if let Some(extras) = extras {
            // Indices fit in u32: the graph refuses more tasks than that.
            self.extras.push((self.actions.len() as u32, extras));
        }
        self.actions.push(action);
    }

    /// The task with index `index`.
    pub(crate) fn get(&self, index: usize) -> Option<TaskSpec<'_>> {
        Some(TaskSpec {
            action: self.actions.get(index)?,
            extras: self.extras(index),
        })
    }

    /// Starts loading the action of the task with index `index` into the
    /// cache (see `crate::prefetch`): called when the task becomes ready,
    /// some time before it starts.
    #[inline]
    pub(crate) fn prefetch_action(&self, index: usize) {
        if let Some(action) = self.actions.get(index) {
            action.prefetch();
        }
    }

    /// The extras of the task with index `index`, if it has any.
    pub(crate) fn extras(&self, index: usize) -> Option<&TaskExtras> {
        if self.extras.is_empty() {
            return None;
        }
        let found = self
            .extras
            .binary_search_by_key(&index, |(i, _)| *i as usize)
            .ok()?;
        Some(&self.extras[found].1)
    }

    /// Drops the growth slack once no more tasks are expected (validation).
    pub(crate) fn shrink_to_fit(&mut self) {
        self.actions.shrink_to_fit();
        self.extras.shrink_to_fit();
    }
}

/// A named task with its action and options, not yet part of a workflow;
/// what the factories ([`Workflow::chain`](super::Workflow::chain) and
/// friends) take.
///
/// ```
/// use dagflow::engine::workflow::{Task, TaskContext, TaskOptions};
/// use serde_json::json;
///
/// let fetch = Task::new("fetch", |_ctx: TaskContext| async { Ok::<_, String>(json!(1)) });
/// let parse = Task::blocking("parse", |_ctx: TaskContext| Ok::<_, String>(json!(2)))
///     .options(TaskOptions::new().tag("cpu"));
/// assert_eq!(parse.name(), "parse");
/// # let _ = fetch;
/// ```
#[derive(Clone)]
pub struct Task {
    pub(crate) name: String,
    pub(crate) action: Action,
    pub(crate) options: TaskOptions,
}

impl fmt::Debug for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task")
            .field("name", &self.name)
            .field("options", &self.options)
            .finish()
    }
}

impl Task {
    /// A task running an async action.
    pub fn new<F, Fut, E>(name: impl Into<String>, action: F) -> Task
    where
        F: Fn(TaskContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        Task {
            name: name.into(),
            action: Action::from_async(action),
            options: TaskOptions::new(),
        }
    }

    /// A task running a blocking action on tokio's blocking pool.
    pub fn blocking<F, E>(name: impl Into<String>, action: F) -> Task
    where
        F: Fn(TaskContext) -> Result<Value, E> + Send + Sync + 'static,
        E: Into<BoxError>,
    {
        Task {
            name: name.into(),
            action: Action::from_blocking(action),
            options: TaskOptions::new(),
        }
    }

    /// Replaces the task's options.
    pub fn options(mut self, options: TaskOptions) -> Task {
        self.options = options;
        self
    }

    /// The task's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::TaskOptions;

    #[test]
    fn plain_options_stay_five_words_and_carry_no_extras() {
        assert_eq!(std::mem::size_of::<TaskOptions>(), 40);
        let (deps, extras) = TaskOptions::new().depends_on(["a", "b"]).into_parts();
        assert_eq!(deps.iter().collect::<Vec<_>>(), ["a", "b"]);
        assert!(extras.is_none());
        // A setter given nothing leaves the task plain (the engine's lean path).
        let (_, extras) = TaskOptions::new().tags(Vec::<String>::new()).into_parts();
        assert!(extras.is_none());
    }

    #[test]
    fn each_setter_lands_in_the_extras() {
        let options = TaskOptions::new()
            .timeout(Duration::from_secs(3))
            .tag("etl")
            .metadata("owner", "data")
            .definition("make all");
        let debug = format!("{options:?}");
        assert!(debug.contains("timeout: Some(3s)"), "{debug}");
        let (_, extras) = options.into_parts();
        let extras = extras.expect("options with extras");
        assert_eq!(extras.timeout, Some(Duration::from_secs(3)));
        assert_eq!(extras.tags, ["etl"]);
        assert_eq!(extras.metadata["owner"], "data");
        assert_eq!(extras.definition.as_deref(), Some("make all"));
        assert!(format!("{:?}", TaskOptions::new()).contains("timeout: None"));
    }
}
