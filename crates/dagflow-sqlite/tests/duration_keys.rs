//! Percentiles stay exact for durations the one-integer keys of schema
//! version 3 cannot hold, and a version-2 journal is upgraded to the
//! latest version with the same answers.

use std::time::{Duration, UNIX_EPOCH};

use dagflow::journal::{
    EntryStatus, EventType, JournalEntry, JournalStore, MemoryStore, QueryFilter,
};
use dagflow_sqlite::SqliteStore;
use rusqlite::Connection;

/// Step `wait` of three workflows, with durations from negative to a
/// hundred years; `huge` gets a step key above what a packed key holds.
fn history() -> Vec<JournalEntry> {
    let durations_ms = [
        -3.0,
        0.0,
        0.5,
        12.0,
        12.0,
        1_500.0,
        86_400_000.0,
        // Past 2^40 µs (12.7 days):
        1_100_000_000.0,
        2_000_000_000.0,
        2_000_000_000.0,
        3_155_760_000_000.0,
    ];
    let mut out = Vec::new();
    for (w, name) in ["long", "short", "huge"].into_iter().enumerate() {
        for (i, &ms) in durations_ms.iter().enumerate() {
            if name == "short" && ms > 100_000.0 {
                continue;
            }
            let run = format!("{name}-{i}");
            let at = UNIX_EPOCH + Duration::from_millis(1_000 * (w * 100 + i) as u64);
            let mut start = JournalEntry::new(
                run.as_str(),
                name,
                EventType::WorkflowStart,
                None,
                EntryStatus::Started,
                at,
            );
            start.details.insert("fingerprint".into(), "00".into());
            let mut step = JournalEntry::new(
                run.as_str(),
                name,
                EventType::StepComplete,
                Some("wait".into()),
                EntryStatus::Completed,
                at,
            );
            step.attempt = 1;
            step.duration_ms = ms;
            let mut end = JournalEntry::new(
                run.as_str(),
                name,
                EventType::WorkflowComplete,
                None,
                EntryStatus::Completed,
                at,
            );
            end.duration_ms = ms;
            out.extend([start, step, end]);
        }
    }
    out
}

fn filters() -> [QueryFilter; 4] {
    [
        QueryFilter::all(),
        QueryFilter::workflow("long"),
        QueryFilter::workflow("short"),
        QueryFilter::workflow("huge"),
    ]
}

fn count(conn: &Connection, table: &str) -> i64 {
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{table}: {e}"))
}

/// A store on a new file with `history()` appended, one run per append;
/// before the first run of `huge`, its step `wait` gets step key 9,000,000
/// (above the 8,388,607 a packed key holds).
fn recorded(path: &std::path::Path) -> SqliteStore {
    let store = SqliteStore::open(path).expect("journal opens");
    for run in history().chunks(3) {
        if &*run[0].workflow_name == "huge" && &*run[0].workflow_id == "huge-0" {
            Connection::open(path)
                .expect("second connection")
                .execute(
                    "INSERT INTO step_stats (step_key, workflow_name, step_name, total, completed,
                                             failed, skipped, cancelled, flaky,
                                             completed_duration_us, max_us)
                     VALUES (9000000, 'huge', 'wait', 0, 0, 0, 0, 0, 0, 0, NULL)",
                    [],
                )
                .expect("step key set aside");
        }
        store.append(run).expect("append");
    }
    store
}

#[test]
fn durations_the_packed_keys_cannot_hold_keep_exact_percentiles() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("j.db");
    let sqlite = recorded(&path);
    let memory = MemoryStore::from_entries(history());
    for filter in filters() {
        let totals = sqlite.step_totals(&filter).expect("sqlite step totals");
        assert_eq!(
            totals,
            memory.step_totals(&filter).expect("memory step totals"),
            "{filter:?}"
        );
        assert!(totals
            .iter()
            .all(|t| t.p50_us.is_some() && t.p95_us.is_some()));
    }
    // Both layouts are in use: the long and negative durations, and every
    // row of the large step key, are in the version-2 tables.
    let conn = Connection::open(&path).expect("reader");
    let spilled: i64 = conn
        .query_row(
            "SELECT count(*) FROM step_duration_counts WHERE step_key <> 9000000",
            [],
            |r| r.get(0),
        )
        .expect("spilled durations");
    // long: -3 ms and the three distinct durations past 2^40 µs; short: -3 ms.
    assert_eq!(spilled, 4 + 1);
    let huge: (i64, i64) = conn
        .query_row(
            "SELECT (SELECT count(*) FROM step_duration_counts WHERE step_key = 9000000),
                    (SELECT count(*) FROM step_duration_buckets WHERE step_key = 9000000)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("huge rows");
    assert_eq!(huge.0, 9, "each distinct duration of huge");
    assert!(huge.1 > 0);
    assert!(count(&conn, "step_durations") > 0 && count(&conn, "step_buckets") > 0);
}

#[test]
fn a_version_2_journal_is_upgraded_with_the_same_answers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("j.db");
    let before: Vec<_> = {
        let store = recorded(&path);
        filters()
            .iter()
            .map(|f| store.step_totals(f).expect("step totals"))
            .collect()
    };
    // Rewrite the file as version 2 wrote it: every duration and bucket in
    // the two-column tables, no one-integer tables.
    let conn = Connection::open(&path).expect("raw connection");
    conn.execute_batch(
        "INSERT INTO step_duration_counts (step_key, duration_us, count)
             SELECT duration_key >> 40, duration_key & 1099511627775, count FROM step_durations;
         INSERT INTO step_duration_buckets (step_key, bucket, count)
             SELECT bucket_key >> 40, bucket_key & 1099511627775, count FROM step_buckets;
         DROP TABLE step_durations; DROP TABLE step_buckets;
         PRAGMA user_version = 2;",
    )
    .expect("file rewritten as version 2");
    let v2_rows = count(&conn, "step_duration_counts");
    drop(conn);

    let store = SqliteStore::open(&path).expect("upgrades on open");
    let after: Vec<_> = filters()
        .iter()
        .map(|f| store.step_totals(f).expect("step totals"))
        .collect();
    assert_eq!(after, before);
    let conn = Connection::open(&path).expect("reader");
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("version");
    assert_eq!(version, dagflow_sqlite::LATEST_VERSION);
    // Version 4 built the summaries again from the entries, in the
    // writer's layout: `huge` has a small step key now, so only the
    // durations no packed key holds are in the version-2 table (for `long`
    // and `huge`, -3 ms and the three past 2^40 µs; for `short`, -3 ms).
    let (moved, stayed) = (
        count(&conn, "step_durations"),
        count(&conn, "step_duration_counts"),
    );
    assert_eq!(moved + stayed, v2_rows);
    assert_eq!(stayed, 4 + 4 + 1);
    // New appends land in the same tables as in a new file.
    store
        .append(&history()[..3])
        .expect("append after the upgrade");
    assert_eq!(count(&conn, "step_durations"), moved);
}
