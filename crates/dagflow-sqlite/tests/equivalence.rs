//! The SQLite store answers every query exactly as the in-memory store does.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use dagflow::analytics::WorkflowAnalytics;
use dagflow::journal::{
    synthetic, EntryStatus, EventType, JournalEntry, JournalStore, MemoryStore, QueryFilter,
};
use dagflow_sqlite::SqliteStore;
use serde_json::json;

fn both(
    entries: &[JournalEntry],
    chunk: usize,
) -> (tempfile::TempDir, Arc<SqliteStore>, Arc<MemoryStore>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = Arc::new(SqliteStore::open(dir.path().join("journal.db")).expect("journal opens"));
    let memory = Arc::new(MemoryStore::new());
    for part in entries.chunks(chunk) {
        sqlite.append(part).expect("sqlite append");
        memory.append(part).expect("memory append");
    }
    (dir, sqlite, memory)
}

fn assert_same_answers(sqlite: &SqliteStore, memory: &MemoryStore, filters: &[QueryFilter]) {
    assert_eq!(
        sqlite.entry_count().unwrap(),
        memory.entry_count().unwrap(),
        "entry_count"
    );
    assert_eq!(
        sqlite.recent(7).unwrap(),
        memory.recent(7).unwrap(),
        "recent(7)"
    );
    assert_eq!(
        sqlite.workflow_names().unwrap(),
        memory.workflow_names().unwrap(),
        "workflow_names"
    );
    for event_type in EventType::ALL {
        assert_eq!(
            sqlite.by_event_type(event_type).unwrap(),
            memory.by_event_type(event_type).unwrap(),
            "by_event_type({event_type})"
        );
    }
    for filter in filters {
        assert_eq!(
            sqlite.workflow_totals(filter).unwrap(),
            memory.workflow_totals(filter).unwrap(),
            "workflow_totals({filter:?})"
        );
        assert_eq!(
            sqlite.step_totals(filter).unwrap(),
            memory.step_totals(filter).unwrap(),
            "step_totals({filter:?})"
        );
        for last in [None, Some(0), Some(1), Some(10), Some(1_000_000)] {
            assert_eq!(
                sqlite.workflow_durations(filter, last).unwrap(),
                memory.workflow_durations(filter, last).unwrap(),
                "workflow_durations({filter:?}, {last:?})"
            );
        }
        for limit in [0, 3, 50] {
            assert_eq!(
                sqlite.runs(filter, limit).unwrap(),
                memory.runs(filter, limit).unwrap(),
                "runs({filter:?}, {limit})"
            );
        }
        let sqlite_analytics =
            WorkflowAnalytics::new(Arc::new(sqlite.clone())).with_filter(filter.clone());
        let memory_analytics = WorkflowAnalytics::new(Arc::new(MemoryStore::from_entries(
            memory.entries().unwrap(),
        )))
        .with_filter(filter.clone());
        assert_eq!(
            sqlite_analytics.generate_insight().unwrap(),
            memory_analytics.generate_insight().unwrap(),
            "generate_insight({filter:?})"
        );
    }
}

#[test]
fn synthetic_history_of_100_000_workflows_gives_identical_answers_and_insight() {
    let entries: Vec<JournalEntry> = synthetic::history(100_000).collect();
    assert_eq!(entries.len(), 600_000);
    let (_dir, sqlite, memory) = both(&entries, 6_000);
    assert_same_answers(
        &sqlite,
        &memory,
        &[
            QueryFilter::all(),
            QueryFilter::workflow(synthetic::WORKFLOW_NAME),
            QueryFilter::workflow("absent"),
        ],
    );
    let some_run = &entries[6 * 4_242].workflow_id;
    assert_eq!(
        sqlite.by_workflow_id(some_run).unwrap(),
        memory.by_workflow_id(some_run).unwrap()
    );
    assert_eq!(sqlite.by_workflow_id(some_run).unwrap().len(), 6);
}

fn at(ms: u64) -> std::time::SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// A journal with what the synthetic one lacks: several workflow names
/// sharing step names, retries, flaky and cancelled steps, a step without a
/// name, results, details, runs that never ended and resumed runs with a
/// restored step.
fn varied_history() -> Vec<JournalEntry> {
    let mut out = Vec::new();
    let mut t = 1_000;
    for i in 0..300u32 {
        let name = ["build", "deploy", "etl"][i as usize % 3];
        let run = format!("run-{i}");
        let mut start = JournalEntry::new(
            run.as_str(),
            name,
            EventType::WorkflowStart,
            None,
            EntryStatus::Started,
            at(t),
        );
        start.details.insert("fingerprint".into(), json!("00ff"));
        start.details.insert(
            "resumed_from".into(),
            if i % 7 == 3 {
                json!(format!("run-{}", i - 1))
            } else {
                json!(null)
            },
        );
        out.push(start);
        let mut total = 0.0;
        let mut failed = false;
        for (k, step) in ["compile", "test", "ship"].iter().enumerate() {
            t += 3;
            let d = f64::from((i * 37 + k as u32 * 101) % 997) / 7.0;
            let mut e = JournalEntry::new(
                run.as_str(),
                name,
                EventType::StepComplete,
                Some((*step).into()),
                EntryStatus::Completed,
                at(t),
            );
            if failed {
                e.status = EntryStatus::Skipped;
                e.error = Some("dependency failed".into());
            } else if i % 7 == 3 && k == 0 {
                // A resumed run reuses the result of its first step.
                e.result = Some(json!(i * 10));
                e.details.insert("restored".into(), json!(true));
                e.details
                    .insert("reused_from".into(), json!(format!("run-{}", i - 1)));
            } else if i % 11 == 5 && k == 1 {
                let mut retry = JournalEntry::new(
                    run.as_str(),
                    name,
                    EventType::StepRetry,
                    Some((*step).into()),
                    EntryStatus::Failed,
                    at(t),
                );
                retry.attempt = 1;
                retry.duration_ms = d / 2.0;
                retry.error = Some("flaky".into());
                retry.details.insert("delay_ms".into(), json!(100.0));
                out.push(retry);
                e.attempt = 2;
                e.duration_ms = d;
                e.result = Some(json!({"step": step, "i": i, "nested": [1, 2.5, null, "x"]}));
            } else if i % 13 == 4 && k == 2 {
                e.status = EntryStatus::Failed;
                e.attempt = 1;
                e.duration_ms = d;
                e.error = Some("boom".into());
                failed = true;
            } else if i % 17 == 8 && k == 2 {
                e.status = EntryStatus::Cancelled;
                e.error = Some("workflow cancelled".into());
            } else {
                e.attempt = 1;
                e.duration_ms = d;
                e.result = Some(json!(i * 10 + k as u32));
            }
            total += e.duration_ms;
            out.push(e);
        }
        if i % 19 == 0 {
            // A step entry without a step name is grouped under "".
            let mut odd = JournalEntry::new(
                run.as_str(),
                name,
                EventType::StepComplete,
                None,
                EntryStatus::Completed,
                at(t),
            );
            odd.attempt = 1;
            odd.duration_ms = 0.25;
            out.push(odd);
        }
        if i % 23 != 22 {
            let status = if failed {
                EntryStatus::Failed
            } else {
                EntryStatus::Completed
            };
            let mut end = JournalEntry::new(
                run.as_str(),
                name,
                EventType::WorkflowComplete,
                None,
                status,
                at(t),
            );
            end.duration_ms = total;
            end.details.insert("counts".into(), json!({"completed": 3}));
            out.push(end);
        }
        t += 10;
    }
    out
}

#[test]
fn varied_history_gives_identical_answers_for_every_filter() {
    let entries = varied_history();
    let (_dir, sqlite, memory) = both(&entries, 17);
    assert_eq!(memory.workflow_names().unwrap(), ["build", "deploy", "etl"]);
    assert_same_answers(
        &sqlite,
        &memory,
        &[
            QueryFilter::all(),
            QueryFilter::workflow("build"),
            QueryFilter::workflow("etl"),
            QueryFilter::workflow("nope"),
        ],
    );
    for i in [0, 5, 22, 299] {
        let run = format!("run-{i}");
        assert_eq!(
            sqlite.by_workflow_id(&run).unwrap(),
            memory.by_workflow_id(&run).unwrap(),
            "{run}"
        );
    }
}

#[test]
fn entries_round_trip_field_for_field() {
    let entries = varied_history();
    let (_dir, sqlite, _memory) = both(&entries, 1_000);
    assert_eq!(sqlite.recent(entries.len() + 10).unwrap(), entries);
}
