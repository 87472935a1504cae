//! A run killed with SIGKILL at any point and resumed: every side effect
//! happens once, and every started step finds its dependencies journaled.
//!
//! The children are this test binary itself (see `child/mod.rs`).

mod child;

use std::time::Duration;

use child::*;
use dagflow::journal::{EntryStatus, EventType, JournalStore, QueryFilter};
use dagflow_sqlite::{LeaseKind, SqliteOptions, SqliteStore};
use serde_json::json;

/// Not a test: the body of the child processes the tests below start.
#[test]
fn child_process_entry_point() {
    run_if_child();
}

#[test]
fn a_run_killed_mid_way_resumes_and_every_side_effect_happens_once() {
    let s = setup();
    let mut child = spawn_paused_at(&s, "run-1", "package");
    // `docs` is not upstream of `package` and runs beside it: kill only once
    // its completion is journaled, so every step but the slow one is done.
    let reader = SqliteStore::open_with(&s.journal, SqliteOptions::new().read_only(true))
        .expect("the journal opens for reading while the child writes");
    wait_until("docs to be journaled", Duration::from_secs(60), || {
        completed_steps(&reader, "run-1").contains_key("docs")
    });
    drop(reader);
    child.kill().expect("SIGKILL");
    child.wait().expect("the child is reaped");

    // The journal opens, is intact, and holds every completion that came
    // before the kill: all of package's upstream steps, and docs.
    let store = SqliteStore::open(&s.journal).expect("the journal opens after the crash");
    let done = completed_steps(&store, "run-1");
    let mut names: Vec<&str> = done.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["build", "docs", "fetch", "lint", "test"]);
    let entries = store.by_workflow_id("run-1").unwrap();
    assert!(entries
        .iter()
        .all(|e| e.event_type != EventType::WorkflowComplete));
    assert_eq!(done["build"].result, Some(json!({"task": "build"})));
    let lease = store
        .lease("run-1", LeaseKind::Running)
        .unwrap()
        .expect("the dead run's lease");
    assert!(
        !lease.live,
        "the killed process cannot own the run: {lease:?}"
    );
    for task in ["fetch", "build", "lint", "docs", "test"] {
        assert_eq!(
            effect_count(&s.effects, task),
            1,
            "{task} ran once before the kill"
        );
    }
    assert_eq!(effect_count(&s.effects, "package"), 0);
    drop(store);
    integrity_ok(&s.journal);

    let mut vars = workflow_vars(&s, "pipeline", "run-2");
    vars.push(("RESUME_FROM", "run-1".to_string()));
    let status = spawn_child("workflow", &vars)
        .wait()
        .expect("the resume runs");
    assert!(status.success(), "the resumed run succeeds: {status:?}");

    for task in [
        "fetch", "build", "lint", "docs", "test", "package", "publish",
    ] {
        assert_eq!(
            effect_count(&s.effects, task),
            1,
            "{task}'s side effect happened exactly once"
        );
    }
    let store = SqliteStore::open(&s.journal).unwrap();
    let resumed = store.by_workflow_id("run-2").unwrap();
    assert_eq!(resumed[0].details["resumed_from"], json!("run-1"));
    let done = completed_steps(&store, "run-2");
    assert_eq!(done.len(), 7);
    for task in ["fetch", "build", "lint", "docs", "test"] {
        assert_eq!(
            done[task].details.get("reused_from"),
            Some(&json!("run-1")),
            "{task} restored"
        );
    }
    assert_eq!(done["package"].attempt, 1, "package ran in the resumed run");
    let end = resumed.last().unwrap();
    assert_eq!(
        (end.event_type, end.status),
        (EventType::WorkflowComplete, EntryStatus::Completed)
    );
    let runs = store.runs(&QueryFilter::all(), 10).unwrap();
    assert_eq!(runs[0].workflow_id, "run-2");
    assert_eq!(runs[0].resumed_from.as_deref(), Some("run-1"));
    assert_eq!(runs[1].status, EntryStatus::Started, "run-1 never ended");
}

#[test]
fn whenever_the_process_is_killed_started_steps_find_their_dependencies_journaled_and_resume_completes(
) {
    let s = setup();
    let tasks = shape("layered");
    let mut killed_mid_run = 0;
    for (attempt, kill_after_ms) in [20u64, 60, 100].into_iter().enumerate() {
        let run = format!("run-{attempt}");
        let mut vars = workflow_vars(&s, "layered", &run);
        vars.push(("TASK_SLEEP_MS", "25".to_string()));
        let mut child = spawn_child("workflow", &vars);
        // Wait for the run to start (the child may take a moment to boot).
        wait_until("the run to start", Duration::from_secs(60), || {
            s.effects.join("t0_0").exists() || s.effects.join("t0_1").exists()
        });
        std::thread::sleep(Duration::from_millis(kill_after_ms));
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");

        let store = SqliteStore::open(&s.journal).expect("the journal opens after the crash");
        let done = completed_steps(&store, &run);
        // The guarantee: a step's completion is durable before any step
        // that depends on it starts. A step whose side effect exists has
        // started, so its dependencies must be journaled as completed.
        for (task, deps) in &tasks {
            if effect_count(&s.effects, task) > 0 {
                for dep in deps {
                    assert!(
                        done.contains_key(dep),
                        "{task} started in {run} before {dep}'s completion was journaled"
                    );
                }
            }
        }
        if !done.is_empty() && done.len() < tasks.len() {
            killed_mid_run += 1;
        }
        eprintln!(
            "{run}: killed after {kill_after_ms} ms with {} of {} steps journaled",
            done.len(),
            tasks.len()
        );
        drop(store);
        integrity_ok(&s.journal);

        // Resuming finishes the run; steps journaled as completed keep
        // their single side effect, the others ran at least once.
        let mut vars = workflow_vars(&s, "layered", &format!("{run}-resumed"));
        vars.push(("RESUME_FROM", run.clone()));
        let status = spawn_child("workflow", &vars)
            .wait()
            .expect("the resume runs");
        assert!(status.success(), "the resume of {run} succeeds");
        for (task, _) in &tasks {
            let count = effect_count(&s.effects, task);
            if done.contains_key(task) {
                assert_eq!(
                    count, 1,
                    "{task} was journaled in {run} and must not run again"
                );
            } else {
                assert!((1..=2).contains(&count), "{task} ran {count} times");
            }
        }
        // Start the next attempt from a clean slate of side effects.
        for (task, _) in &tasks {
            let _ = std::fs::remove_file(s.effects.join(task));
        }
    }
    assert!(killed_mid_run > 0, "no kill landed in the middle of a run");
}
