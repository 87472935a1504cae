//! Reusable workflow templates: `WorkflowTemplate` and the built-ins.
//!
//! A template is a named DAG of described steps without actions.
//! [`WorkflowTemplate::instantiate`] turns it into a [`WorkflowRunner`],
//! giving the steps you name an action; the others complete as no-ops (as in
//! the specification). The command line writes YAML starter files from the
//! same templates.
//!
//! ```
//! use dagflow::templates::{Overrides, WorkflowTemplate};
//! use dagflow::WorkflowContext;
//! use serde_json::json;
//!
//! let template = WorkflowTemplate::builtin("ci_cd").expect("ci_cd is built in");
//! let runner = template.instantiate(
//!     Overrides::new().action("build", |_: &mut WorkflowContext| Ok::<_, String>(json!("target/app"))),
//! )?;
//! let result = runner.run(WorkflowContext::new())?;
//! assert!(result.success);
//! assert_eq!(result.context.get("build"), Some(&json!("target/app")));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::engine::runner::{
    BoxError, RunnerError, StepAction, WorkflowContext, WorkflowRunner, WorkflowStep,
};

/// One step of a template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateStep {
    /// The step's name.
    pub name: String,
    /// Steps that must complete first.
    pub depends_on: Vec<String>,
    /// What the step is for (shown by `dagflow templates`).
    pub description: String,
}

/// A named, described DAG of steps to instantiate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowTemplate {
    /// Name, also the name of instantiated workflows.
    pub name: String,
    /// What the template is for.
    pub description: String,
    /// The steps, in insertion order.
    pub steps: Vec<TemplateStep>,
}

/// Why a template could not be instantiated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// An override names a step the template does not have.
    #[error(
        "template `{template}` has no step `{step}` to override; its steps are: {}",
        available.join(", ")
    )]
    UnknownStep {
        /// The template.
        template: String,
        /// The step named by the override.
        step: String,
        /// The template's steps, in order.
        available: Vec<String>,
    },
    /// The template's steps do not form a valid workflow (a custom template
    /// with a duplicate step, an unknown dependency or a cycle).
    #[error("template `{template}` is invalid: {source}")]
    Invalid {
        /// The template.
        template: String,
        /// What is wrong.
        #[source]
        source: RunnerError,
    },
}

/// Actions for some of a template's steps, by step name.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    actions: Vec<(String, StepAction)>,
}

impl Overrides {
    /// No overrides: every step is a no-op.
    pub fn new() -> Self {
        Self::default()
    }

    /// Gives step `step` an action (a later override of the same step wins).
    pub fn action<F, E>(mut self, step: impl Into<String>, action: F) -> Self
    where
        F: Fn(&mut WorkflowContext) -> Result<Value, E> + Send + Sync + 'static,
        E: Into<BoxError>,
    {
        self.actions.push((step.into(), StepAction::new(action)));
        self
    }

    /// Gives step `step` an already wrapped action.
    pub fn step_action(mut self, step: impl Into<String>, action: StepAction) -> Self {
        self.actions.push((step.into(), action));
        self
    }
}

impl<S: Into<String>> FromIterator<(S, StepAction)> for Overrides {
    fn from_iter<I: IntoIterator<Item = (S, StepAction)>>(iter: I) -> Self {
        Overrides {
            actions: iter.into_iter().map(|(s, a)| (s.into(), a)).collect(),
        }
    }
}

impl WorkflowTemplate {
    /// A template without steps.
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        WorkflowTemplate {
            name: name.into(),
            description: description.into(),
            steps: Vec::new(),
        }
    }

    /// Adds a step (builder style).
    pub fn step<I, S>(
        mut self,
        name: impl Into<String>,
        depends_on: I,
        description: impl Into<String>,
    ) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.steps.push(TemplateStep {
            name: name.into(),
            depends_on: depends_on.into_iter().map(Into::into).collect(),
            description: description.into(),
        });
        self
    }

    /// The step names in order.
    pub fn step_names(&self) -> Vec<&str> {
        self.steps.iter().map(|s| s.name.as_str()).collect()
    }

    /// A runner with the template's steps, named after the template; steps
    /// named in `overrides` get their action, the others none (they complete
    /// at once with `null`). Naming a step the template lacks is an error
    /// that lists the template's steps.
    pub fn instantiate(&self, overrides: Overrides) -> Result<WorkflowRunner, TemplateError> {
        let mut actions: Vec<Option<StepAction>> = vec![None; self.steps.len()];
        for (step, action) in overrides.actions {
            let Some(index) = self.steps.iter().position(|s| s.name == step) else {
                return Err(TemplateError::UnknownStep {
                    template: self.name.clone(),
                    step,
                    available: self.steps.iter().map(|s| s.name.clone()).collect(),
                });
            };
            actions[index] = Some(action);
        }
        let mut runner = WorkflowRunner::new(self.name.as_str());
        for (step, action) in self.steps.iter().zip(actions) {
            runner
                .add_step(
                    WorkflowStep::new(step.name.as_str())
                        .depends_on(step.depends_on.iter().cloned())
                        .with_action(action),
                )
                .map_err(|source| self.invalid(source))?;
        }
        runner.validate().map_err(|source| self.invalid(source))?;
        Ok(runner)
    }

    fn invalid(&self, source: RunnerError) -> TemplateError {
        TemplateError::Invalid {
            template: self.name.clone(),
            source,
        }
    }

    /// `ci_cd`: lint -> build -> test -> deploy.
    pub fn ci_cd() -> Self {
        WorkflowTemplate::new(
            "ci_cd",
            "Continuous integration and delivery: lint, build, test, deploy.",
        )
        .step(
            "lint",
            [] as [&str; 0],
            "Check formatting and static analysis.",
        )
        .step("build", ["lint"], "Compile the project.")
        .step("test", ["build"], "Run the test suite.")
        .step("deploy", ["test"], "Release the tested build.")
    }

    /// `code_review`: generate -> test -> review -> merge.
    pub fn code_review() -> Self {
        WorkflowTemplate::new(
            "code_review",
            "Change review: generate a change, test it, review it, merge it.",
        )
        .step(
            "generate",
            [] as [&str; 0],
            "Produce the change (by hand or by an agent).",
        )
        .step("test", ["generate"], "Run the tests against the change.")
        .step("review", ["test"], "Review the tested change.")
        .step("merge", ["review"], "Merge the approved change.")
    }

    /// `data_pipeline`: ingest -> validate -> transform -> export.
    pub fn data_pipeline() -> Self {
        WorkflowTemplate::new(
            "data_pipeline",
            "Batch data pipeline: ingest, validate, transform, export.",
        )
        .step("ingest", [] as [&str; 0], "Fetch the raw data.")
        .step(
            "validate",
            ["ingest"],
            "Check the raw data against its schema.",
        )
        .step("transform", ["validate"], "Clean and reshape the data.")
        .step(
            "export",
            ["transform"],
            "Write the result where it is consumed.",
        )
    }

    /// Every built-in template: `ci_cd`, `code_review`, `data_pipeline`.
    pub fn builtins() -> Vec<WorkflowTemplate> {
        vec![Self::ci_cd(), Self::code_review(), Self::data_pipeline()]
    }

    /// The built-in template called `name`.
    pub fn builtin(name: &str) -> Option<WorkflowTemplate> {
        Self::builtins().into_iter().find(|t| t.name == name)
    }
}
