//! Steps a resume reused are left out of the SQLite summaries, as the
//! in-memory store leaves them out, and a version-3 journal, whose
//! summaries counted them, is corrected when it is opened.

use std::time::{Duration, UNIX_EPOCH};

use dagflow::analytics::WorkflowAnalytics;
use dagflow::journal::{
    EntryStatus, EventType, JournalEntry, JournalStore, MemoryStore, QueryFilter,
};
use dagflow_sqlite::SqliteStore;
use rusqlite::Connection;
use serde_json::json;

/// Three runs of `etl` (extract 40 ms, then load): the first fails at load,
/// the second resumes it and reuses extract, the third runs both afresh.
/// With `flagged = false`, the reused extract is journaled as an ordinary
/// success of zero length, which is how version 3 counted it.
fn history(flagged: bool) -> Vec<JournalEntry> {
    let mut out = Vec::new();
    for (i, load_fails) in [true, false, false].into_iter().enumerate() {
        let run = format!("run-{i}");
        let at = UNIX_EPOCH + Duration::from_secs(60 * i as u64);
        let entry = |event, step: Option<&str>, status| {
            JournalEntry::new(run.as_str(), "etl", event, step.map(Into::into), status, at)
        };
        let mut start = entry(EventType::WorkflowStart, None, EntryStatus::Started);
        start.details.insert("fingerprint".into(), "00".into());
        let mut extract = entry(
            EventType::StepComplete,
            Some("extract"),
            EntryStatus::Completed,
        );
        extract.result = Some(json!("rows"));
        if i == 1 {
            if flagged {
                extract.details.insert("restored".into(), json!(true));
                extract.details.insert("reused_from".into(), json!("run-0"));
            }
        } else {
            extract.attempt = 1;
            extract.duration_ms = 40.0;
        }
        let load_status = if load_fails {
            EntryStatus::Failed
        } else {
            EntryStatus::Completed
        };
        let mut load = entry(EventType::StepComplete, Some("load"), load_status);
        load.attempt = 1;
        load.duration_ms = 5.0;
        let mut end = entry(EventType::WorkflowComplete, None, load_status);
        end.duration_ms = 45.0;
        out.extend([start, extract, load, end]);
    }
    out
}

fn filters() -> [QueryFilter; 2] {
    [QueryFilter::all(), QueryFilter::workflow("etl")]
}

#[test]
fn reused_steps_are_left_out_as_the_memory_store_leaves_them_out() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = SqliteStore::open(dir.path().join("j.db")).expect("journal opens");
    for run in history(true).chunks(4) {
        sqlite.append(run).expect("append");
    }
    let memory = MemoryStore::from_entries(history(true));
    for filter in filters() {
        assert_eq!(
            sqlite.step_totals(&filter).expect("sqlite"),
            memory.step_totals(&filter).expect("memory"),
            "{filter:?}"
        );
        assert_eq!(
            sqlite.workflow_totals(&filter).expect("sqlite"),
            memory.workflow_totals(&filter).expect("memory"),
            "{filter:?}"
        );
    }
    let extract = sqlite.step_totals(&QueryFilter::all()).expect("totals");
    let extract = extract
        .iter()
        .find(|t| t.step_name == "extract")
        .expect("extract");
    assert_eq!((extract.total, extract.completed), (2, 2));
    assert_eq!(extract.p50_us, Some(40_000));
    assert_eq!(
        sqlite
            .workflow_totals(&QueryFilter::all())
            .expect("totals")
            .total_steps,
        5
    );
    // The reused entry itself is kept, field for field.
    let resumed = sqlite.by_workflow_id("run-1").expect("run-1");
    assert!(resumed[1].is_restored());
    assert_eq!(resumed[1].details["reused_from"], json!("run-0"));
}

#[test]
fn a_version_3_journal_that_counted_reused_steps_is_corrected_on_open() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("j.db");
    {
        // Summaries as version 3 built them: the reused extract counted.
        let store = SqliteStore::open(&path).expect("journal opens");
        store.append(&history(false)).expect("append");
        let totals = store.step_totals(&QueryFilter::all()).expect("totals");
        assert_eq!((totals[0].total, totals[0].p50_us), (3, Some(40_000)));
        assert_eq!(totals[0].completed_duration_us, 80_000);
    }
    let conn = Connection::open(&path).expect("raw connection");
    let flagged = conn
        .execute(
            "UPDATE entries SET details = '{\"restored\":true,\"reused_from\":\"run-0\"}'
             WHERE workflow_id = 'run-1' AND step_name = 'extract'",
            [],
        )
        .expect("entry flagged as version 3 journaled it");
    assert_eq!(flagged, 1);
    conn.pragma_update(None, "user_version", 3)
        .expect("version 3");
    drop(conn);

    let store = SqliteStore::open(&path).expect("upgrades on open");
    let memory = MemoryStore::from_entries(history(true));
    for filter in filters() {
        assert_eq!(
            store.step_totals(&filter).expect("sqlite"),
            memory.step_totals(&filter).expect("memory"),
            "{filter:?}"
        );
        assert_eq!(
            store.workflow_totals(&filter).expect("sqlite"),
            memory.workflow_totals(&filter).expect("memory"),
            "{filter:?}"
        );
    }
    let analytics = WorkflowAnalytics::new(std::sync::Arc::new(store));
    let extract = &analytics.step_durations().expect("durations")["extract"];
    assert_eq!((extract.samples, extract.p50_ms), (2, 40.0));
    assert_eq!(analytics.success_rate("load").expect("rate"), 2.0 / 3.0);
    let version: i64 = Connection::open(&path)
        .expect("reader")
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("version");
    assert_eq!(version, dagflow_sqlite::LATEST_VERSION);
}
