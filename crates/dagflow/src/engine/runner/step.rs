//! One step of a sync workflow and the action it runs.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::context::WorkflowContext;

/// The error type actions return once converted: any error that can cross
/// threads (`String`, `&str`, `std::io::Error`, `anyhow::Error`, ...).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

type ActionFn = dyn Fn(&mut WorkflowContext) -> Result<Value, BoxError> + Send + Sync;

/// What a step does: a closure over the shared [`WorkflowContext`] that
/// returns the step's result. Cheap to clone (shared).
#[derive(Clone)]
pub struct StepAction(Arc<ActionFn>);

impl StepAction {
    /// Wraps a closure. Its error type is anything convertible into a
    /// [`BoxError`].
    pub fn new<F, E>(action: F) -> Self
    where
        F: Fn(&mut WorkflowContext) -> Result<Value, E> + Send + Sync + 'static,
        E: Into<BoxError>,
    {
        StepAction(Arc::new(move |ctx: &mut WorkflowContext| {
            action(ctx).map_err(Into::into)
        }))
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
        (self.0)(context)
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
