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
            Some(format!("s{k}").into()),
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
            .execute_batch("DELETE FROM step_buckets; UPDATE workflow_stats SET finished = 0")
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

/// Deferred appends (how the async engine journals task ends): queued in
/// journal order with the synchronous ones, committed in the background
/// within milliseconds, at once when someone waits for their mark.
#[test]
fn deferred_appends_keep_journal_order_and_are_durable_once_their_mark_is_waited_for() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.db");
    let store = SqliteStore::open(&path).unwrap();
    assert!(store.defers());
    let entries = run_entries("r", 200);
    let (start, rest) = entries.split_first().unwrap();
    let (end, steps) = rest.split_last().unwrap();
    store.append(std::slice::from_ref(start)).unwrap();
    assert_eq!(store.mark(), 0, "synchronous appends take no mark");
    for step in steps {
        store.append_deferred(step.clone()).unwrap();
    }
    let mark = store.mark();
    assert_eq!(mark, 200);
    store.wait_durable(mark).unwrap();
    // Durable means committed: another connection sees every step.
    let other = SqliteStore::open(&path).unwrap();
    assert_eq!(other.by_workflow_id("r").unwrap().len(), 201);
    // A synchronous append after deferred ones lands after them.
    store.append_deferred(steps[0].clone()).unwrap();
    store.append(std::slice::from_ref(end)).unwrap();
    let journaled = other.by_workflow_id("r").unwrap();
    assert_eq!(journaled.len(), 203);
    assert_eq!(journaled[201].step_name.as_deref(), Some("s0"));
    assert_eq!(journaled[202].event_type, EventType::WorkflowComplete);
    assert_eq!(
        other
            .workflow_totals(&QueryFilter::all())
            .unwrap()
            .total_steps,
        201,
        "the summaries count deferred entries too"
    );
}

#[test]
fn deferred_appends_are_committed_without_anyone_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.db");
    let store = SqliteStore::open(&path).unwrap();
    for entry in run_entries("quiet", 3) {
        store.append_deferred(entry).unwrap();
    }
    let other = SqliteStore::open(&path).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while other.entry_count().unwrap() < 5 {
        assert!(
            std::time::Instant::now() < deadline,
            "deferred entries were never committed"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(other.by_workflow_id("quiet").unwrap().len(), 5);
}

#[test]
fn a_deferred_append_that_fails_is_reported_by_the_next_wait_and_others_still_land() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.db");
    let store =
        SqliteStore::open_with(&path, SqliteOptions::new().max_page_count(Some(200))).unwrap();
    store.append(&run_entries("small", 2)).unwrap();
    // One entry with a result far beyond 200 pages, between two small ones.
    let mut huge = run_entries("big", 1).remove(1);
    huge.result = Some(json!("x".repeat(2_000_000)));
    let mut small = run_entries("small", 2);
    store.append_deferred(small.remove(1)).unwrap();
    store.append_deferred(huge).unwrap();
    store.append_deferred(small.remove(1)).unwrap();
    let error = store
        .wait_durable(store.mark())
        .expect_err("the huge entry fails");
    assert!(
        error.to_string().contains("full") || error.to_string().contains("size limit"),
        "{error}"
    );
    store.wait_durable(store.mark()).expect("reported once");
    assert_eq!(
        store.entry_count().unwrap(),
        6,
        "the two small deferred entries landed"
    );
    assert!(store.by_workflow_id("big").unwrap().is_empty());
}

#[test]
fn a_start_entry_keeps_its_definition_in_the_columnar_json_and_reads_it_back_typed() {
    use dagflow::event::RunDefinition;
    use dagflow::graph::Dag;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.db");
    let store = SqliteStore::open(&path).unwrap();
    let definition = Arc::new(RunDefinition {
        dag: Arc::new(
            Dag::from_tasks([
                ("fetch", vec![]),
                ("build", vec!["fetch"]),
                ("test", vec!["build", "fetch"]),
            ])
            .unwrap(),
        ),
        task_definitions: vec![Some("git fetch".into()), None, Some("make test".into())],
    });
    let mut start = JournalEntry::workflow_start(
        "run-d",
        "ci",
        Arc::clone(&definition),
        None,
        SystemTime::now(),
    );
    start.details.insert("file".into(), json!("/work/ci.yml"));
    store.append(&[start]).unwrap();

    let read = store.by_workflow_id("run-d").unwrap();
    assert_eq!(read[0].definition.as_deref(), Some(&*definition));
    assert_eq!(read[0].details["file"], json!("/work/ci.yml"));
    assert!(
        !read[0].details.contains_key("definition"),
        "moved to the typed field"
    );

    // On disk: the same JSON as earlier versions wrote, so old and new
    // journals read alike.
    let raw: String = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row(
            "SELECT details FROM entries WHERE workflow_id = 'run-d'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    let raw: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(
        raw["definition"],
        json!({
            "tasks": ["fetch", "build", "test"],
            "depends_on": [[], [0], [1, 0]],
            "definitions": ["git fetch", null, "make test"],
        })
    );
    assert_eq!(raw["file"], json!("/work/ci.yml"));
    assert_eq!(raw["fingerprint"].as_str().map(str::len), Some(16));
}
