//! One step of a sync workflow and the action it runs.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::context::WorkflowContext;

/// The error type actions return once converted: any error that can cross
/// threads (`String`, `&str`, `std::io::Error`, `anyhow::Error`, ...).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A step's closure, callable two ways (both monomorphised per closure).
trait ActionFn: Send + Sync {
    /// Runs the closure and returns its result.
    fn call(&self, context: &mut WorkflowContext) -> Result<Value, BoxError>;

    /// Runs the closure and records a successful result in `context` as
    /// the result of the step at `position`. The value goes from the
    /// closure to its slot in one function, so it is written once, in
    /// place: returning it and storing it in the caller copied it through
    /// the stack, and reading back the narrow stores the closure had just
    /// made stalled the run loop (half of a no-op step's time).
    fn call_recording(
        &self,
        context: &mut WorkflowContext,
        position: usize,
    ) -> Result<(), BoxError>;
}

/// The closure behind a [`StepAction`], its error already boxed.
struct Closure<F>(F);

impl<F> ActionFn for Closure<F>
where
    F: Fn(&mut WorkflowContext) -> Result<Value, BoxError> + Send + Sync,
{
    fn call(&self, context: &mut WorkflowContext) -> Result<Value, BoxError> {
        (self.0)(context)
    }

    fn call_recording(
        &self,
        context: &mut WorkflowContext,
        position: usize,
    ) -> Result<(), BoxError> {
        let value = (self.0)(context)?;
        context.record_result(position, value);
        Ok(())
    }
}

/// What a step does: a closure over the shared [`WorkflowContext`] that
/// returns the step's result. Cheap to clone (shared).
#[derive(Clone)]
pub struct StepAction(Arc<dyn ActionFn>);

impl StepAction {
    /// Wraps a closure. Its error type is anything convertible into a
    /// [`BoxError`].
    pub fn new<F, E>(action: F) -> Self
    where
        F: Fn(&mut WorkflowContext) -> Result<Value, E> + Send + Sync + 'static,
        E: Into<BoxError>,
    {
        StepAction(Arc::new(Closure(move |context: &mut WorkflowContext| {
            action(context).map_err(Into::into)
        })))
    }

    /// Asks the CPU to start loading the action's closure (see
    /// `crate::prefetch`); the run loop calls it for a step some positions
    /// ahead.
    #[inline(always)]
    pub(crate) fn prefetch(&self) {
        crate::prefetch::prefetch(&*self.0);
    }

    /// Runs the action.
    pub fn call(&self, context: &mut WorkflowContext) -> Result<Value, BoxError> {
        self.0.call(context)
    }

    /// Runs the action and records its result, if it succeeds, as the
    /// result of the step at `position` in `context`.
    #[inline(always)]
    pub(crate) fn call_recording(
        &self,
        context: &mut WorkflowContext,
        position: usize,
    ) -> Result<(), BoxError> {
        self.0.call_recording(context, position)
    }
}

impl fmt::Debug for StepAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StepAction(..)")
    }
}

/// A step of a [`WorkflowRunner`](super::WorkflowRunner): a name, an
/// optional action, the steps it depends on and an optional timeout.
///
/// A step without an action completes at once with a `null` result (as the
/// templates' steps without overrides do).
///
/// ```
/// use dagflow::engine::runner::{WorkflowContext, WorkflowStep};
/// use std::time::Duration;
///
/// let step = WorkflowStep::new("test")
///     .depends_on(["build"])
///     .timeout(Duration::from_secs(30))
///     .action(|_ctx: &mut WorkflowContext| Ok::<_, String>(serde_json::json!("ok")));
/// assert_eq!(step.depends_on, ["build"]);
/// assert!(step.action.is_some());
/// ```
#[derive(Debug, Clone)]
pub struct WorkflowStep {
    /// Unique name within the workflow.
    pub name: String,
    /// What the step does; `None` completes at once with `null`.
    pub action: Option<StepAction>,
    /// Names of the steps that must complete first.
    pub depends_on: Vec<String>,
    /// Longest the step may run; see
    /// [`WorkflowRunner`](super::WorkflowRunner#timeouts) for how it is
    /// enforced.
    pub timeout: Option<Duration>,
    /// Text that defines what the step does beyond its name and
    /// dependencies (a command, a version), used by journal fingerprints.
    pub definition: Option<String>,
}

impl WorkflowStep {
    /// A step with no action, no dependencies and no timeout.
    pub fn new(name: impl Into<String>) -> Self {
        WorkflowStep {
            name: name.into(),
            action: None,
            depends_on: Vec::new(),
            timeout: None,
            definition: None,
        }
    }

    /// Sets the action.
    pub fn action<F, E>(mut self, action: F) -> Self
    where
        F: Fn(&mut WorkflowContext) -> Result<Value, E> + Send + Sync + 'static,
        E: Into<BoxError>,
    {
        self.action = Some(StepAction::new(action));
        self
    }

    /// Sets an already wrapped action (or removes it with `None`).
    pub fn with_action(mut self, action: Option<StepAction>) -> Self {
        self.action = action;
        self
    }

    /// Adds dependencies.
    pub fn depends_on<I, S>(mut self, steps: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.depends_on.extend(steps.into_iter().map(Into::into));
        self
    }

    /// Sets the timeout.
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = Some(limit);
        self
    }

    /// Sets the definition text used by journal fingerprints.
    pub fn definition(mut self, text: impl Into<String>) -> Self {
        self.definition = Some(text.into());
        self
    }
}
