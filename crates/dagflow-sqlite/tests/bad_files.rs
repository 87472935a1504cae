//! Paths and files the journal must refuse with a clear error, leaving any
//! existing file exactly as it was.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::SystemTime;

use dagflow::journal::{EntryStatus, EventType, JournalEntry, JournalStore};
use dagflow_sqlite::{SqliteError, SqliteOptions, SqliteStore, LATEST_VERSION};

fn start(run: &str) -> JournalEntry {
    JournalEntry::new(
        run,
        "etl",
        EventType::WorkflowStart,
        None,
        EntryStatus::Started,
        SystemTime::now(),
    )
}

fn step(run: &str, i: usize) -> JournalEntry {
    let mut e = JournalEntry::new(
        run,
        "etl",
        EventType::StepComplete,
        Some(format!("step-{i}").into()),
        EntryStatus::Completed,
        SystemTime::now(),
    );
    e.attempt = 1;
    e.duration_ms = i as f64;
    e.result = Some(serde_json::json!({"payload": "x".repeat(200), "i": i}));
    e
}

fn bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).expect("file is readable")
}

/// A journal with a few entries, closed (no WAL left behind).
fn journal_with_entries(path: &Path) {
    let store = SqliteStore::open(path).expect("journal opens");
    store
        .append(&[start("r1"), step("r1", 1), step("r1", 2)])
        .expect("append");
}

#[test]
fn a_directory_is_refused_and_the_message_suggests_a_file_inside_it() {
    let dir = tempfile::tempdir().unwrap();
    let error = SqliteStore::open(dir.path()).expect_err("a directory is not a journal");
    assert!(
        matches!(error, SqliteError::IsDirectory { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains(&dir.path().display().to_string()),
        "{message}"
    );
    assert!(
        message.contains("is a directory") && message.contains("journal.db"),
        "{message}"
    );
}

#[test]
fn a_path_in_a_missing_directory_cannot_be_opened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no/such/dir/journal.db");
    let error = SqliteStore::open(&path).expect_err("the directory does not exist");
    assert!(matches!(error, SqliteError::CannotOpen { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .contains("check that its directory exists"),
        "{error}"
    );
    assert!(!path.exists());
}

#[test]
fn a_file_that_is_not_sqlite_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "These are my notes, not a database.\n".repeat(100)).unwrap();
    let before = bytes(&path);
    let error = SqliteStore::open(&path).expect_err("not a database");
    assert!(
        matches!(error, SqliteError::NotADatabase { .. }),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("is not a SQLite database"),
        "{error}"
    );
    assert_eq!(bytes(&path), before);
    assert!(!dir.path().join("notes.txt-wal").exists());
}

#[test]
fn another_applications_database_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE users (name TEXT); INSERT INTO users VALUES ('ada');")
            .unwrap();
    }
    let before = bytes(&path);
    let error = SqliteStore::open(&path).expect_err("not a journal");
    assert!(
        matches!(error, SqliteError::NotAJournal { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("users"), "{error}");
    assert_eq!(bytes(&path), before);
}

#[test]
fn a_journal_of_a_newer_version_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    journal_with_entries(&path);
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", LATEST_VERSION + 1)
            .unwrap();
    }
    let before = bytes(&path);
    let error = SqliteStore::open(&path).expect_err("newer schema");
    match &error {
        SqliteError::NewerSchema {
            found, supported, ..
        } => {
            assert_eq!((*found, *supported), (LATEST_VERSION + 1, LATEST_VERSION));
        }
        other => panic!("expected NewerSchema, got {other:?}"),
    }
    assert!(error.to_string().contains("upgrade dagflow"), "{error}");
    assert_eq!(bytes(&path), before);
}

#[test]
fn a_read_only_file_is_refused_for_writing_and_still_readable_with_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    journal_with_entries(&path);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
    let before = bytes(&path);

    let error = SqliteStore::open(&path).expect_err("read-only file");
    assert!(matches!(error, SqliteError::ReadOnly { .. }), "{error:?}");
    assert!(error.to_string().contains("read_only(true)"), "{error}");

    let reader = SqliteStore::open_with(&path, SqliteOptions::new().read_only(true))
        .expect("opens for queries");
    assert_eq!(reader.entry_count().unwrap(), 3);
    assert_eq!(reader.by_workflow_id("r1").unwrap().len(), 3);
    let error = reader
        .append_entries(&[start("r2")])
        .expect_err("no writes");
    assert!(matches!(error, SqliteError::ReadOnly { .. }), "{error:?}");
    drop(reader);
    assert_eq!(bytes(&path), before);
}

/// Appends runs of one start and `steps` step entries to a journal limited
/// to 64 pages until it is full, then checks that the failed append left
/// nothing behind and that every acknowledged entry is still there.
fn fill_until_full_and_check(steps: usize) {
    let per_run = steps as u64 + 1;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    let acknowledged = {
        let store = SqliteStore::open_with(&path, SqliteOptions::new().max_page_count(Some(64)))
            .expect("journal opens");
        let mut acknowledged = 0u64;
        let error = loop {
            let run = format!("run-{acknowledged}");
            let batch: Vec<JournalEntry> = std::iter::once(start(&run))
                .chain((0..steps).map(|i| step(&run, i)))
                .collect();
            match store.append_entries(&batch) {
                Ok(()) => acknowledged += batch.len() as u64,
                Err(e) => break e,
            }
            assert!(acknowledged < 1_000_000, "the size limit never triggered");
        };
        assert!(matches!(error, SqliteError::Full { .. }), "{error:?}");
        assert!(
            error
                .to_string()
                .contains("entries written before are intact"),
            "{error}"
        );
        // The failed transaction left nothing behind.
        assert_eq!(store.entry_count().unwrap(), acknowledged);
        acknowledged
    };
    assert!(acknowledged > 0);

    let store = SqliteStore::open(&path).expect("reopens without the limit");
    assert_eq!(store.entry_count().unwrap(), acknowledged);
    assert_eq!(
        store.by_event_type(EventType::WorkflowStart).unwrap().len() as u64,
        acknowledged / per_run
    );
    store
        .append(&[start("after")])
        .expect("writes again once there is room");
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}

#[test]
fn a_full_journal_reports_full_and_keeps_every_acknowledged_entry() {
    fill_until_full_and_check(20);
}

#[test]
fn a_journal_filling_up_inside_a_multi_row_insert_keeps_none_of_its_rows() {
    // 150 entries per append: the entries go in by statements of 32 rows,
    // inserted `OR FAIL`, so the disk fills in the middle of one of them.
    fill_until_full_and_check(149);
}
