//! The write path: group commit from threads, visibility, atomicity.

use std::sync::Arc;
use std::time::SystemTime;

use dagflow::journal::{EntryStatus, EventType, JournalEntry, JournalStore, QueryFilter};
use dagflow_sqlite::{SqliteError, SqliteOptions, SqliteStore};
use serde_json::json;

fn run_entries(run: &str, steps: usize) -> Vec<JournalEntry> {
    let at = SystemTime::now();
    let mut out = vec![JournalEntry::new(
        run,
        "w",
        EventType::WorkflowStart,
        None,
        EntryStatus::Started,
        at,
    )];
    for k in 0..steps {
        let mut e = JournalEntry::new(
            run,
            "w",
            EventType::StepComplete,
            Some(format!("s{k}")),
            EntryStatus::Completed,
            at,
        );
        e.attempt = 1;
        e.duration_ms = k as f64 + 0.5;
        e.result = Some(json!({ "k": k, "pad": "p".repeat(100) }));
        out.push(e);
    }
    let mut end = JournalEntry::new(
        run,
        "w",
        EventType::WorkflowComplete,
        None,
        EntryStatus::Completed,
        at,
    );
    end.duration_ms = steps as f64;
    out.push(end);
    out
}

#[test]
fn threads_appending_one_entry_at_a_time_keep_every_run_complete_and_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("j.db")).unwrap());
    let (threads, runs_each, steps) = (8, 40, 4);
    std::thread::scope(|scope| {
        for t in 0..threads {
            let store = Arc::clone(&store);
            scope.spawn(move || {
                for i in 0..runs_each {
                    for entry in run_entries(&format!("t{t}-r{i}"), steps) {
                        store.append(&[entry]).expect("append");
                    }
                }
            });
        }
    });
    assert_eq!(
        store.entry_count().unwrap(),
        (threads * runs_each * (steps + 2)) as u64
    );
    for t in 0..threads {
        for i in 0..runs_each {
            let run = format!("t{t}-r{i}");
            let got = store.by_workflow_id(&run).unwrap();
            let want = run_entries(&run, steps);
            let kinds = |v: &[JournalEntry]| {
                v.iter()
                    .map(|e| (e.event_type, e.step_name.clone(), e.result.clone()))
                    .collect::<Vec<_>>()
            };
            assert_eq!(kinds(&got), kinds(&want), "{run}");
        }
    }
    let totals = store.workflow_totals(&QueryFilter::all()).unwrap();
    assert_eq!(totals.finished, (threads * runs_each) as u64);
}

#[test]
fn an_acknowledged_append_is_visible_to_another_connection_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.db");
    let store = SqliteStore::open(&path).unwrap();
    let other = rusqlite::Connection::open(&path).unwrap();
    let count = || -> i64 {
        other
            .query_row("SELECT count(*) FROM entries", [], |r| r.get(0))
            .unwrap()
    };
    for (i, entry) in run_entries("r", 3).into_iter().enumerate() {
        store.append(&[entry]).unwrap();
        assert_eq!(count(), i as i64 + 1);
    }
    store.append(&run_entries("big", 9_000)).unwrap();
    assert_eq!(count(), 5 + 9_002);
}

#[test]
fn a_large_append_that_does_not_fit_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.db");
    let store =
        SqliteStore::open_with(&path, SqliteOptions::new().max_page_count(Some(200))).unwrap();
    store.append(&run_entries("small", 2)).unwrap();
    // About 3 MB of results: far beyond 200 pages.
    let error = store
        .append_entries(&run_entries("huge", 20_000))
        .expect_err("too big");
    assert!(matches!(error, SqliteError::Full { .. }), "{error:?}");
    assert_eq!(
        store.entry_count().unwrap(),
        4,
        "the failed append is rolled back whole"
    );
    assert!(store.by_workflow_id("huge").unwrap().is_empty());
    assert_eq!(
        store
            .workflow_totals(&QueryFilter::all())
            .unwrap()
            .total_steps,
        2
    );
    store
        .append(&run_entries("after", 1))
        .expect("smaller appends still fit");
    assert_eq!(store.entry_count().unwrap(), 7);
}

#[test]
fn summaries_damaged_by_another_program_are_rebuilt_from_the_entries() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.db");
    let store = SqliteStore::open(&path).unwrap();
    for i in 0..20 {
        store.append(&run_entries(&format!("r{i}"), 3)).unwrap();
    }
    let before = store.step_totals(&QueryFilter::all()).unwrap();
    let totals = store.workflow_totals(&QueryFilter::all()).unwrap();
    {
        let other = rusqlite::Connection::open(&path).unwrap();
        other
            .execute_batch(
                "DELETE FROM step_duration_buckets; UPDATE workflow_stats SET finished = 0",
            )
            .unwrap();
    }
    let error = store
        .step_totals(&QueryFilter::all())
        .expect_err("inconsistent summaries");
    assert!(error.to_string().contains("rebuild_summaries"), "{error}");

    store.rebuild_summaries().unwrap();
    assert_eq!(store.step_totals(&QueryFilter::all()).unwrap(), before);
    assert_eq!(store.workflow_totals(&QueryFilter::all()).unwrap(), totals);
    assert_eq!(store.entry_count().unwrap(), 20 * 5);
}
