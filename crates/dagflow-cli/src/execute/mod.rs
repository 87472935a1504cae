//! From a [`WorkflowSpec`] to an engine [`Workflow`] whose actions run the
//! tasks' commands as processes.
//!
//! Each attempt gets the inherited environment, the workflow's `env`, the
//! task's `env`, then `DAGFLOW_RUN_ID`, `DAGFLOW_WORKFLOW`, `DAGFLOW_TASK`,
//! `DAGFLOW_ATTEMPT` and one `DAGFLOW_RESULT_<NAME>` per task it depends on
//! directly (so the environment stays small however long the chain before
//! it). Results never enter command text, so they cannot inject shell code.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use dagflow_cli::execute::{build_workflow, RunState};
//! use dagflow_cli::process::ProcessRunner;
//!
//! let spec = dagflow_cli::spec::load("examples/workflows/data-pipeline.yml".as_ref())?;
//! let runner = ProcessRunner::new(Duration::from_secs(5));
//! let state = RunState::default();
//! let mut workflow = build_workflow(&spec, &runner, &state, None);
//! let results = workflow.run().await?;
//! println!("{} tasks completed", results.len());
//! # Ok(()) }
//! ```

mod action;
mod annotate;
mod state;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use dagflow::engine::workflow::{
    RetryPolicy, TaskContext, TaskError, TaskOptions, Workflow, WorkflowError,
};
use dagflow::event::RunDefinition;

pub use action::{result_env_text, result_from_text, CommandFailed, ConditionFailed};
pub use annotate::AnnotatingStore;
pub use state::{AttemptRecord, RunState};

use crate::process::{ProcessRequest, ProcessRunner};
use crate::spec::{RetrySpec, TaskSpec, WorkflowSpec};
use action::TaskAction;

/// Extra time the engine gives a stopping task beyond the SIGTERM grace
/// period, so the SIGKILL and the reaping happen before it gives up.
const STOP_MARGIN: Duration = Duration::from_millis(500);

/// The number of tasks run at once when neither the file nor the command
/// line says: the number of CPUs.
pub fn default_concurrency() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Builds the engine workflow for `spec`. Tasks run through `runner`;
/// attempt outcomes and condition facts go to `state`, which the caller
/// must also attach as an observer (see [`observe_state`]).
///
/// `concurrency` overrides the file's `concurrency` (default: CPUs).
pub fn build_workflow(
    spec: &WorkflowSpec,
    runner: &ProcessRunner,
    state: &RunState,
    concurrency: Option<usize>,
) -> Workflow {
    let mut workflow = Workflow::new(spec.name.clone());
    workflow
        .max_concurrency(
            concurrency
                .or(spec.concurrency)
                .unwrap_or_else(default_concurrency),
        )
        .fail_fast(spec.fail_fast)
        .cancel_grace(runner.grace() + STOP_MARGIN);
    if let Some(timeout) = spec.timeout {
        workflow.timeout(timeout);
    }
    let condition_env = Arc::new(condition_environment(spec));
    for task in &spec.tasks {
        let action = Arc::new(TaskAction {
            request: request_for(spec, task),
            runner: runner.clone(),
            state: state.clone(),
        });
        let options = task_options(task, state, &condition_env);
        workflow.add_task(
            task.name.clone(),
            move |ctx: TaskContext| action.attempt(ctx),
            options,
        );
    }
    observe_state(&mut workflow, state);
    workflow
}

/// The definition a run of `spec` journals (its graph and each task's
/// [`definition`](crate::spec::TaskSpec::definition) text), built the same
/// way as the workflow [`build_workflow`] runs, so that `dagflow resume`
/// compares like with like.
pub fn run_definition(spec: &WorkflowSpec) -> Result<RunDefinition, WorkflowError> {
    let runner = ProcessRunner::new(Duration::ZERO);
    build_workflow(spec, &runner, &RunState::default(), None).definition()
}

/// Attaches `state` to `workflow` as an observer (done by
/// [`build_workflow`]; exposed for workflows built otherwise).
pub fn observe_state(workflow: &mut Workflow, state: &RunState) {
    workflow.observe(Arc::new(state.clone()));
}

fn request_for(spec: &WorkflowSpec, task: &TaskSpec) -> ProcessRequest {
    let mut request = ProcessRequest::new(task.name.clone(), task.command.clone());
    request
        .env
        .extend(spec.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    request
        .env
        .extend(task.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    request.workdir = task.workdir.clone();
    request
}

fn task_options(
    task: &TaskSpec,
    state: &RunState,
    condition_env: &Arc<BTreeMap<String, String>>,
) -> TaskOptions {
    let mut options = TaskOptions::new()
        .depends_on(&task.depends_on)
        .tags(task.tags.iter().cloned())
        .definition(task.definition());
    if let Some(timeout) = task.timeout {
        options = options.timeout(timeout);
    }
    options = options.retry(retry_policy(task.retry.as_ref()));
    if let Some(condition) = &task.when {
        let condition = Arc::clone(condition);
        let reads: Vec<String> = condition.tasks_read().map(str::to_owned).collect();
        let state = state.clone();
        let env = Arc::clone(condition_env);
        let task_name = task.name.clone();
        options = options.condition(move |_ctx: &TaskContext| {
            let facts = state.facts(reads.iter().map(String::as_str));
            match condition.evaluate(&facts, &env) {
                Ok(run) => Ok::<bool, std::convert::Infallible>(run),
                Err(e) => {
                    // Fail the task (in its action) rather than skip it: a
                    // broken condition must not pass for a false one.
                    state.record_condition_error(&task_name, e.message);
                    Ok(true)
                }
            }
        });
    }
    options
}

/// The engine's retry policy for a task; no `retry:` means one attempt.
///
/// A failed condition is never retried; with `on_exit_codes`, only exits
/// with one of those codes are.
pub fn retry_policy(retry: Option<&RetrySpec>) -> RetryPolicy {
    let Some(retry) = retry else {
        return RetryPolicy::none();
    };
    let codes = retry.on_exit_codes.clone();
    RetryPolicy::new()
        .max_attempts(retry.max_attempts)
        .initial_delay(retry.initial_delay)
        .max_delay(retry.max_delay)
        .exponential_base(retry.backoff)
        .jitter(retry.jitter)
        .retry_if(move |error: &TaskError| {
            if error.downcast_ref::<ConditionFailed>().is_some() {
                return false;
            }
            if codes.is_empty() {
                return true;
            }
            error
                .downcast_ref::<CommandFailed>()
                .and_then(|failed| failed.exit.code())
                .is_some_and(|code| codes.contains(&code))
        })
}

/// What `env` means in conditions: the environment of `dagflow` with the
/// workflow's `env` over it.
fn condition_environment(spec: &WorkflowSpec) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = std::env::vars().collect();
    env.extend(spec.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    env
}
