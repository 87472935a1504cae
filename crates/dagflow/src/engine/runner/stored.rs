//! What a runner keeps of each added step, and the view it lends out.
//!
//! A step's name and dependency names go into the runner's graph builder,
//! which needs them anyway; the runner keeps only the action, with the
//! rarely set timeout and definition boxed behind one pointer. Keeping
//! each [`WorkflowStep`] whole beside the builder held every name twice and
//! cost about 200 bytes per step: a million-step chain peaked at 522 MiB.

use std::fmt;
use std::time::Duration;

use super::step::{StepAction, WorkflowStep};
use crate::graph::{DagBuilder, TaskId};

/// One added step, less the name and dependencies (16 + 8 bytes).
#[derive(Debug, Clone)]
pub(crate) struct StoredStep {
    pub(crate) action: Option<StepAction>,
    extras: Option<Box<StepExtras>>,
}

/// The parts of a step most steps leave unset.
#[derive(Debug, Clone)]
struct StepExtras {
    timeout: Option<Duration>,
    definition: Option<String>,
}

impl StoredStep {
    /// Splits `step` into its name, its dependency names and the rest.
    pub(crate) fn split(step: WorkflowStep) -> (String, Vec<String>, StoredStep) {
        let WorkflowStep {
            name,
            action,
            depends_on,
            timeout,
            definition,
        } = step;
        let extras = (timeout.is_some() || definition.is_some()).then(|| {
            Box::new(StepExtras {
                timeout,
                definition,
            })
        });
        (name, depends_on, StoredStep { action, extras })
    }

    pub(crate) fn timeout(&self) -> Option<Duration> {
        self.extras.as_ref().and_then(|e| e.timeout)
    }

    pub(crate) fn definition(&self) -> Option<&str> {
        self.extras.as_ref().and_then(|e| e.definition.as_deref())
    }
}

/// A step as added to a [`WorkflowRunner`](super::WorkflowRunner),
/// borrowed from it (see [`steps`](super::WorkflowRunner::steps) and
/// [`step`](super::WorkflowRunner::step)).
///
/// ```
/// use dagflow::engine::runner::{WorkflowRunner, WorkflowStep};
/// use std::time::Duration;
///
/// let mut runner = WorkflowRunner::new("release");
/// runner.add_step(WorkflowStep::new("test").depends_on(["build"]).timeout(Duration::from_secs(60)))?;
/// let test = runner.step("test").expect("added above");
/// assert_eq!(test.name(), "test");
/// assert_eq!(test.depends_on().collect::<Vec<_>>(), ["build"]);
/// assert_eq!(test.timeout(), Some(Duration::from_secs(60)));
/// assert!(test.action().is_none());
/// # Ok::<(), dagflow::engine::runner::RunnerError>(())
/// ```
#[derive(Clone, Copy)]
pub struct StepInfo<'a> {
    builder: &'a DagBuilder,
    id: TaskId,
    stored: &'a StoredStep,
}

impl<'a> StepInfo<'a> {
    pub(crate) fn new(builder: &'a DagBuilder, id: TaskId, stored: &'a StoredStep) -> Self {
        StepInfo {
            builder,
            id,
            stored,
        }
    }

    /// The step's name.
    pub fn name(&self) -> &'a str {
        self.builder.name(self.id).unwrap_or_default()
    }

    /// The names of the steps it depends on, as given (repeats included).
    pub fn depends_on(&self) -> impl ExactSizeIterator<Item = &'a str> + 'a {
        self.builder.dependency_names(self.id)
    }

    /// Its action; `None` completes at once with `null`.
    pub fn action(&self) -> Option<&'a StepAction> {
        self.stored.action.as_ref()
    }

    /// Its timeout.
    pub fn timeout(&self) -> Option<Duration> {
        self.stored.timeout()
    }

    /// Its definition text (for journal fingerprints).
    pub fn definition(&self) -> Option<&'a str> {
        self.stored.definition()
    }

    /// An owned copy, e.g. to add the step to another runner (the action
    /// is shared, not copied).
    pub fn to_step(&self) -> WorkflowStep {
        WorkflowStep {
            name: self.name().to_string(),
            action: self.stored.action.clone(),
            depends_on: self.depends_on().map(str::to_string).collect(),
            timeout: self.timeout(),
            definition: self.definition().map(str::to_string),
        }
    }
}

impl fmt::Debug for StepInfo<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StepInfo")
            .field("name", &self.name())
            .field("depends_on", &self.depends_on().collect::<Vec<_>>())
            .field("action", &self.action().is_some())
            .field("timeout", &self.timeout())
            .field("definition", &self.definition())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_step_is_three_words_and_boxes_only_what_is_set() {
        assert_eq!(std::mem::size_of::<StoredStep>(), 24);
        let (name, deps, plain) = StoredStep::split(WorkflowStep::new("a").depends_on(["b"]));
        assert_eq!((name.as_str(), deps), ("a", vec!["b".to_string()]));
        assert!(plain.extras.is_none());
        assert_eq!((plain.timeout(), plain.definition()), (None, None));
        let (_, _, timed) =
            StoredStep::split(WorkflowStep::new("t").timeout(Duration::from_millis(5)));
        assert_eq!(timed.timeout(), Some(Duration::from_millis(5)));
        assert_eq!(timed.definition(), None);
        let (_, _, defined) = StoredStep::split(WorkflowStep::new("d").definition("make all"));
        assert_eq!(
            (defined.timeout(), defined.definition()),
            (None, Some("make all"))
        );
    }
}
