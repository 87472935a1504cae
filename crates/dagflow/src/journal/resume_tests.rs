//! Tests of resume planning (kept apart to keep `resume.rs` readable).

use super::*;
use crate::graph::Dag;
use crate::journal::MemoryStore;
use serde_json::json;
use std::sync::Arc;
use std::time::SystemTime;

fn definition(tasks: Vec<(&str, Vec<&str>, Option<&str>)>) -> RunDefinition {
    let dag =
        Dag::from_tasks(tasks.iter().map(|(n, d, _)| (*n, d.clone()))).expect("valid test graph");
    RunDefinition {
        dag: Arc::new(dag),
        task_definitions: tasks.iter().map(|(_, _, c)| c.map(String::from)).collect(),
    }
}

fn pipeline() -> RunDefinition {
    definition(vec![
        ("fetch", vec![], Some("git fetch")),
        ("build", vec!["fetch"], Some("make")),
        ("test", vec!["build"], Some("make test")),
        ("docs", vec!["fetch"], Some("make docs")),
    ])
}

fn entry(run: &str, event: EventType, step: Option<&str>, status: EntryStatus) -> JournalEntry {
    JournalEntry::new(
        run,
        "ci",
        event,
        step.map(Into::into),
        status,
        SystemTime::now(),
    )
}

fn start(run: &str, def: &RunDefinition, resumed_from: Option<&str>) -> JournalEntry {
    JournalEntry::workflow_start(
        run,
        "ci",
        Arc::new(def.clone()),
        resumed_from,
        SystemTime::now(),
    )
}

fn done(run: &str, step: &str, result: Value) -> JournalEntry {
    let mut e = entry(
        run,
        EventType::StepComplete,
        Some(step),
        EntryStatus::Completed,
    );
    e.result = Some(result);
    e.attempt = 1;
    e
}

fn outcome(run: &str, step: &str, status: EntryStatus) -> JournalEntry {
    entry(run, EventType::StepComplete, Some(step), status)
}

/// fetch and docs completed, build failed, test skipped.
fn failed_run(store: &MemoryStore, def: &RunDefinition) {
    store
        .append(&[
            start("r1", def, None),
            done("r1", "fetch", json!({"rev": "abc"})),
            done("r1", "docs", json!("site")),
            outcome("r1", "build", EntryStatus::Failed),
            outcome("r1", "test", EntryStatus::Skipped),
            entry("r1", EventType::WorkflowComplete, None, EntryStatus::Failed),
        ])
        .expect("append");
}

#[test]
fn completed_steps_are_restored_and_the_others_run() {
    let def = pipeline();
    let store = MemoryStore::new();
    failed_run(&store, &def);
    let plan = ResumePlan::from_journal(&store, "r1", &def, false).expect("plan");
    assert_eq!(plan.run_id, "r1");
    assert_eq!(plan.workflow_name, "ci");
    assert_eq!(
        plan.restored,
        HashMap::from([
            ("fetch".to_string(), json!({"rev": "abc"})),
            ("docs".to_string(), json!("site")),
        ])
    );
    assert_eq!(plan.to_run, ["build", "test"]);
    assert!(plan.changes.is_empty());
}

#[test]
fn an_interrupted_run_reruns_steps_that_only_retried_or_never_started() {
    let def = pipeline();
    let store = MemoryStore::new();
    let mut retry = entry(
        "r1",
        EventType::StepRetry,
        Some("build"),
        EntryStatus::Failed,
    );
    retry.attempt = 1;
    store
        .append(&[
            start("r1", &def, None),
            done("r1", "fetch", json!(1)),
            retry,
        ])
        .expect("append");
    let plan = ResumePlan::from_journal(&store, "r1", &def, false).expect("plan");
    assert_eq!(plan.restored.keys().collect::<Vec<_>>(), ["fetch"]);
    assert_eq!(plan.to_run, ["build", "test", "docs"]);
}

#[test]
fn a_resumed_run_counts_its_restored_steps_as_completed() {
    let def = pipeline();
    let store = MemoryStore::new();
    failed_run(&store, &def);
    let mut restored = done("r2", "fetch", json!({"rev": "abc"}));
    restored.attempt = 0;
    restored.details.insert("restored".into(), json!(true));
    restored.details.insert("reused_from".into(), json!("r1"));
    // A restored entry without its result is looked up in r1.
    let mut restored_docs = outcome("r2", "docs", EntryStatus::Completed);
    restored_docs
        .details
        .insert("reused_from".into(), json!("r1"));
    store
        .append(&[
            start("r2", &def, Some("r1")),
            restored,
            restored_docs,
            done("r2", "build", json!("binary")),
            outcome("r2", "test", EntryStatus::Failed),
            entry("r2", EventType::WorkflowComplete, None, EntryStatus::Failed),
        ])
        .expect("append");
    let plan = ResumePlan::from_journal(&store, "r2", &def, false).expect("plan");
    assert_eq!(plan.to_run, ["test"]);
    assert_eq!(plan.restored["fetch"], json!({"rev": "abc"}));
    assert_eq!(plan.restored["docs"], json!("site"));
    assert_eq!(plan.restored["build"], json!("binary"));
}

#[test]
fn a_changed_definition_is_refused_with_every_change_named() {
    let def = pipeline();
    let store = MemoryStore::new();
    failed_run(&store, &def);
    let changed = definition(vec![
        ("fetch", vec![], Some("git fetch --depth 1")),
        ("build", vec!["fetch", "lint"], Some("make")),
        ("lint", vec![], Some("clippy")),
        ("test", vec!["build"], Some("make test")),
    ]);
    let error = ResumePlan::from_journal(&store, "r1", &changed, false).expect_err("refused");
    let ResumeError::DefinitionChanged { changes, .. } = &error else {
        panic!("expected DefinitionChanged, got {error:?}");
    };
    assert_eq!(
        changes,
        &[
            DefinitionChange::DefinitionChanged {
                task: "fetch".into(),
                before: Some("git fetch".into()),
                after: Some("git fetch --depth 1".into()),
            },
            DefinitionChange::DependenciesChanged {
                task: "build".into(),
                before: vec!["fetch".into()],
                after: vec!["fetch".into(), "lint".into()],
            },
            DefinitionChange::TaskAdded {
                task: "lint".into()
            },
            DefinitionChange::TaskRemoved {
                task: "docs".into()
            },
        ]
    );
    let message = error.to_string();
    assert!(
        message
            .contains("the command of `fetch` changed from `git fetch` to `git fetch --depth 1`"),
        "{message}"
    );
    assert!(message.contains("task `lint` was added"), "{message}");
    assert!(message.contains("task `docs` was removed"), "{message}");
    assert!(message.contains("resume with force"), "{message}");
}

#[test]
fn forcing_reruns_changed_steps_and_everything_downstream() {
    let def = pipeline();
    let store = MemoryStore::new();
    failed_run(&store, &def);
    // Only docs' command changed: docs reruns, fetch keeps its result.
    let changed = definition(vec![
        ("fetch", vec![], Some("git fetch")),
        ("build", vec!["fetch"], Some("make")),
        ("test", vec!["build"], Some("make test")),
        ("docs", vec!["fetch"], Some("mkdocs build")),
    ]);
    let plan = ResumePlan::from_journal(&store, "r1", &changed, true).expect("forced plan");
    assert_eq!(plan.restored.keys().collect::<Vec<_>>(), ["fetch"]);
    assert_eq!(plan.to_run, ["build", "test", "docs"]);
    assert_eq!(plan.changes.len(), 1);

    // fetch changed: everything depends on it, so everything reruns.
    let changed = definition(vec![
        ("fetch", vec![], Some("git fetch --all")),
        ("build", vec!["fetch"], Some("make")),
        ("test", vec!["build"], Some("make test")),
        ("docs", vec!["fetch"], Some("make docs")),
    ]);
    let plan = ResumePlan::from_journal(&store, "r1", &changed, true).expect("forced plan");
    assert!(plan.restored.is_empty());
    assert_eq!(plan.to_run, ["fetch", "build", "test", "docs"]);
}

#[test]
fn a_fully_completed_run_has_nothing_to_resume() {
    let def = definition(vec![("only", vec![], None)]);
    let store = MemoryStore::new();
    store
        .append(&[start("r1", &def, None), done("r1", "only", json!(null))])
        .expect("append");
    let error = ResumePlan::from_journal(&store, "r1", &def, false).expect_err("nothing to do");
    assert!(
        matches!(error, ResumeError::NothingToResume { .. }),
        "{error:?}"
    );
}

#[test]
fn unknown_runs_and_runs_without_a_definition_are_refused() {
    let def = pipeline();
    let store = MemoryStore::new();
    let error = ResumePlan::from_journal(&store, "nope", &def, false).expect_err("unknown");
    assert_eq!(
        error.to_string(),
        "run `nope` is not in the journal; list runs to find its id"
    );
    store
        .append(&[entry(
            "bare",
            EventType::WorkflowStart,
            None,
            EntryStatus::Started,
        )])
        .expect("append");
    let error = ResumePlan::from_journal(&store, "bare", &def, false).expect_err("no definition");
    assert!(
        matches!(error, ResumeError::NoDefinition { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("details.definition"), "{error}");
}
