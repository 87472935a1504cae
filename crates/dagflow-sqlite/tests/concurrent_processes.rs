//! Several processes on one journal: a live run is not resumed, two
//! processes cannot resume one run, and concurrent writers and openers
//! lose and duplicate nothing.
//!
//! The children are this test binary itself (see `child/mod.rs`).

mod child;

use std::process::Child;
use std::time::Duration;

use child::*;
use dagflow::journal::{JournalStore, QueryFilter};
use dagflow_sqlite::{LeaseKind, SqliteError, SqliteStore};

/// Not a test: the body of the child processes the tests below start.
#[test]
fn child_process_entry_point() {
    run_if_child();
}

#[test]
fn a_live_run_is_not_resumed_until_its_process_dies() {
    let s = setup();
    let mut child = spawn_paused_at(&s, "live-run", "package");
    let store = SqliteStore::open(&s.journal).unwrap();
    match store.claim_resume("live-run") {
        Err(SqliteError::RunStillLive { pid, .. }) => assert_eq!(pid, child.id()),
        other => panic!("expected RunStillLive, got {other:?}"),
    }
    let error = store.claim_resume("live-run").unwrap_err().to_string();
    assert!(
        error.contains("is still live") && error.contains(&child.id().to_string()),
        "{error}"
    );

    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    let claim = store
        .claim_resume("live-run")
        .expect("a dead owner frees the run");
    assert_eq!(claim.run_id(), "live-run");
}

#[test]
fn two_processes_cannot_resume_the_same_run_at_once() {
    let s = setup();
    let store = SqliteStore::open(&s.journal).unwrap();
    let vars = |hold: &str| {
        vec![
            ("JOURNAL", s.journal.display().to_string()),
            ("RUN", "r".to_string()),
            ("HOLD_MS", hold.to_string()),
        ]
    };
    let claim = store.claim_resume("r").expect("first claim");
    let code = spawn_child("claim", &vars("0")).wait().unwrap().code();
    assert_eq!(
        code,
        Some(3),
        "the second process is told the run is being resumed"
    );
    claim.release().expect("released");
    let code = spawn_child("claim", &vars("0")).wait().unwrap().code();
    assert_eq!(code, Some(0), "once released, another process may resume");

    // A claimer that dies without releasing frees the run too.
    let mut holder = spawn_child("claim", &vars("60000"));
    wait_until("the child's claim", Duration::from_secs(60), || {
        store
            .lease("r", LeaseKind::Resuming)
            .unwrap()
            .is_some_and(|l| l.live && l.pid == holder.id())
    });
    assert!(matches!(
        store.claim_resume("r"),
        Err(SqliteError::AlreadyResuming { .. })
    ));
    holder.kill().unwrap();
    holder.wait().unwrap();
    store
        .claim_resume("r")
        .expect("the dead claimer's lease is void");
}

#[test]
fn processes_writing_one_journal_at_once_lose_and_duplicate_nothing() {
    let s = setup();
    let runs_each = 150;
    let children: Vec<Child> = ["a", "b", "c"]
        .iter()
        .map(|prefix| {
            spawn_child(
                "writer",
                &[
                    ("JOURNAL", s.journal.display().to_string()),
                    ("PREFIX", prefix.to_string()),
                    ("RUNS", runs_each.to_string()),
                ],
            )
        })
        .collect();
    // This process writes too, in batches.
    let store = SqliteStore::open(&s.journal).unwrap();
    for i in 0..runs_each {
        store.append(&run_entries(&format!("p-{i}"), i)).unwrap();
    }
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let writers = 4;
    assert_eq!(
        store.entry_count().unwrap(),
        (writers * runs_each * 6) as u64
    );
    for prefix in ["a", "b", "c", "p"] {
        for i in 0..runs_each {
            let run = format!("{prefix}-{i}");
            let entries = store.by_workflow_id(&run).unwrap();
            let expected = run_entries(&run, i);
            assert_eq!(entries.len(), 6, "{run}");
            for (got, want) in entries.iter().zip(&expected) {
                assert_eq!(
                    (got.event_type, &got.step_name, got.duration_ms),
                    (want.event_type, &want.step_name, want.duration_ms),
                    "{run} in order"
                );
            }
        }
    }
    let totals = store.workflow_totals(&QueryFilter::all()).unwrap();
    assert_eq!(
        (totals.finished, totals.total_steps),
        (
            (writers * runs_each) as u64,
            (writers * runs_each * 4) as u64
        )
    );
    let steps = store.step_totals(&QueryFilter::all()).unwrap();
    assert_eq!(
        steps.iter().map(|t| t.completed).sum::<u64>(),
        (writers * runs_each * 4) as u64
    );
    // No lease outlives its run.
    for prefix in ["a", "p"] {
        assert!(store
            .lease(&format!("{prefix}-0"), LeaseKind::Running)
            .unwrap()
            .is_none());
    }
}

#[test]
fn processes_opening_a_new_journal_at_the_same_moment_all_succeed() {
    // Several processes create and migrate one fresh file at once: each must
    // wait for the others (WAL switch, schema) rather than fail.
    for round in 0..5 {
        let s = setup();
        let children: Vec<Child> = (0..6)
            .map(|i| {
                spawn_child(
                    "writer",
                    &[
                        ("JOURNAL", s.journal.display().to_string()),
                        ("PREFIX", format!("r{round}w{i}")),
                        ("RUNS", "1".to_string()),
                    ],
                )
            })
            .collect();
        for mut child in children {
            assert!(
                child.wait().unwrap().success(),
                "a process failed to open the new journal in round {round}"
            );
        }
        let store = SqliteStore::open(&s.journal).unwrap();
        assert_eq!(store.entry_count().unwrap(), 6 * 6);
    }
}
