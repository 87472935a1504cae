//! Behaviour of `WorkflowTemplate` and the built-in templates.

use std::sync::{Arc, Mutex};

use dagflow::templates::{Overrides, TemplateError, WorkflowTemplate};
use dagflow::{TaskStatus, WorkflowContext};
use serde_json::{json, Value};

fn run_order(template: &WorkflowTemplate) -> Vec<String> {
    let runner = template.instantiate(Overrides::new()).unwrap();
    let result = runner.run(WorkflowContext::new()).unwrap();
    assert!(result.success, "{} runs as no-ops", template.name);
    assert!(result
        .steps()
        .all(|s| s.status == TaskStatus::Completed && s.result == Some(&Value::Null)));
    result.steps().map(|s| s.name.to_string()).collect()
}

#[test]
fn ci_cd_runs_lint_build_test_deploy() {
    let template = WorkflowTemplate::builtin("ci_cd").unwrap();
    assert_eq!(run_order(&template), ["lint", "build", "test", "deploy"]);
}

#[test]
fn code_review_runs_generate_test_review_merge() {
    let template = WorkflowTemplate::builtin("code_review").unwrap();
    assert_eq!(
        run_order(&template),
        ["generate", "test", "review", "merge"]
    );
}

#[test]
fn data_pipeline_runs_ingest_validate_transform_export() {
    let template = WorkflowTemplate::builtin("data_pipeline").unwrap();
    assert_eq!(
        run_order(&template),
        ["ingest", "validate", "transform", "export"]
    );
}

#[test]
fn builtins_are_listed_with_descriptions() {
    let names: Vec<String> = WorkflowTemplate::builtins()
        .into_iter()
        .map(|t| {
            assert!(!t.description.is_empty());
            assert!(t.steps.iter().all(|s| !s.description.is_empty()));
            t.name
        })
        .collect();
    assert_eq!(names, ["ci_cd", "code_review", "data_pipeline"]);
    assert!(WorkflowTemplate::builtin("nightly").is_none());
}

#[test]
fn overrides_run_in_place_of_no_ops_and_see_earlier_results() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen_in_test = Arc::clone(&seen);
    let runner = WorkflowTemplate::ci_cd()
        .instantiate(
            Overrides::new()
                .action("build", |_: &mut WorkflowContext| {
                    Ok::<_, String>(json!("target/app"))
                })
                .action("test", move |ctx: &mut WorkflowContext| {
                    let artifact = ctx.get("build").cloned().ok_or("nothing was built")?;
                    seen_in_test
                        .lock()
                        .map_err(|e| e.to_string())?
                        .push(artifact);
                    Ok::<_, String>(json!({"passed": 12}))
                }),
        )
        .unwrap();
    assert_eq!(runner.name(), "ci_cd");
    let result = runner.run(WorkflowContext::new()).unwrap();
    assert!(result.success);
    assert_eq!(*seen.lock().unwrap(), [json!("target/app")]);
    assert_eq!(result.context.get("test"), Some(&json!({"passed": 12})));
    assert_eq!(result.context.get("deploy"), Some(&Value::Null));
}

#[test]
fn failing_override_skips_the_rest_of_the_template() {
    let runner = WorkflowTemplate::data_pipeline()
        .instantiate(
            Overrides::new().action("validate", |_: &mut WorkflowContext| {
                Err::<Value, _>("row 7 has no id")
            }),
        )
        .unwrap();
    let result = runner.run(WorkflowContext::new()).unwrap();
    assert!(!result.success);
    let statuses: Vec<TaskStatus> = result.steps().map(|s| s.status).collect();
    assert_eq!(
        statuses,
        [
            TaskStatus::Completed,
            TaskStatus::Failed,
            TaskStatus::Skipped,
            TaskStatus::Skipped
        ]
    );
}

#[test]
fn override_of_an_unknown_step_is_an_error_listing_the_steps() {
    let error = WorkflowTemplate::code_review()
        .instantiate(
            Overrides::new().action("deploy", |_: &mut WorkflowContext| {
                Ok::<_, String>(Value::Null)
            }),
        )
        .unwrap_err();
    assert!(matches!(
        &error,
        TemplateError::UnknownStep { template, step, available }
            if template == "code_review" && step == "deploy" && available.len() == 4
    ));
    assert_eq!(
        error.to_string(),
        "template `code_review` has no step `deploy` to override; \
         its steps are: generate, test, review, merge"
    );
}

#[test]
fn custom_template_with_a_cycle_is_invalid() {
    let template = WorkflowTemplate::new("loop", "A broken template.")
        .step("a", ["b"], "first")
        .step("b", ["a"], "second");
    let error = template.instantiate(Overrides::new()).unwrap_err();
    match &error {
        TemplateError::Invalid { template, source } => {
            assert_eq!(template, "loop");
            assert_eq!(source.cycle().unwrap().path, ["a", "b", "a"]);
        }
        other => panic!("expected an invalid template, got {other}"),
    }
}
