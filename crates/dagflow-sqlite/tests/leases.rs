//! Run leases: a run is live while its owner is, and only then.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dagflow::journal::{EntryStatus, EventType, JournalEntry, JournalStore};
use dagflow_sqlite::{LeaseKind, SqliteError, SqliteOptions, SqliteStore};

fn entry(run: &str, event_type: EventType, status: EntryStatus) -> JournalEntry {
    JournalEntry::new(run, "w", event_type, None, status, SystemTime::now())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn a_run_lease_is_taken_with_the_start_entry_and_dropped_with_the_end_entry() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("j.db")).unwrap();
    assert!(store.lease("r", LeaseKind::Running).unwrap().is_none());

    store
        .append(&[entry("r", EventType::WorkflowStart, EntryStatus::Started)])
        .unwrap();
    let lease = store
        .lease("r", LeaseKind::Running)
        .unwrap()
        .expect("taken with the start");
    assert!(lease.live);
    assert_eq!(lease.pid, std::process::id());
    match store.claim_resume("r") {
        Err(SqliteError::RunStillLive { run_id, pid, .. }) => {
            assert_eq!((run_id.as_str(), pid), ("r", std::process::id()));
        }
        other => panic!("expected RunStillLive, got {other:?}"),
    }

    store
        .append(&[entry("r", EventType::WorkflowComplete, EntryStatus::Failed)])
        .unwrap();
    assert!(
        store.lease("r", LeaseKind::Running).unwrap().is_none(),
        "dropped with the end"
    );
    store
        .claim_resume("r")
        .expect("a finished run can be resumed");
}

#[test]
fn heartbeats_keep_a_long_run_live_beyond_its_ttl() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions::new().lease_ttl(Duration::from_millis(150));
    let store = SqliteStore::open_with(dir.path().join("j.db"), options).unwrap();
    store
        .append(&[entry(
            "long",
            EventType::WorkflowStart,
            EntryStatus::Started,
        )])
        .unwrap();
    std::thread::sleep(Duration::from_millis(600));
    let lease = store
        .lease("long", LeaseKind::Running)
        .unwrap()
        .expect("lease");
    assert!(lease.live, "renewed every 50 ms: {lease:?}");
    assert!(lease.heartbeat_ms > lease.acquired_ms + 300, "{lease:?}");
    assert!(matches!(
        store.claim_resume("long"),
        Err(SqliteError::RunStillLive { .. })
    ));
}

#[test]
fn a_remote_owner_that_stops_renewing_loses_the_run_after_its_ttl() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.db");
    let store = SqliteStore::open(&path).unwrap();
    // A lease as another host's store writes it (its process cannot be
    // checked from here: only the heartbeat counts).
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "INSERT INTO run_leases (lease_key, workflow_id, pid, host, process_start, token,
                                 acquired_ms, heartbeat_ms, ttl_ms)
         VALUES ('run:remote', 'remote', 1, 'another-host', 42, 'remote-token', ?1, ?1, 300)",
        [now_ms()],
    )
    .unwrap();
    match store.claim_resume("remote") {
        Err(SqliteError::RunStillLive { host, pid, .. }) => {
            assert_eq!((host.as_str(), pid), ("another-host", 1));
        }
        other => panic!("expected RunStillLive, got {other:?}"),
    }
    std::thread::sleep(Duration::from_millis(400));
    let lease = store
        .lease("remote", LeaseKind::Running)
        .unwrap()
        .expect("still recorded");
    assert!(
        !lease.live,
        "no heartbeat for longer than its TTL: {lease:?}"
    );
    store
        .claim_resume("remote")
        .expect("an expired lease frees the run");
}

#[test]
fn a_run_id_started_again_and_finished_in_one_append_drops_the_older_lease() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("j.db")).unwrap();
    store
        .append(&[
            entry("r", EventType::WorkflowStart, EntryStatus::Started),
            entry("other", EventType::WorkflowStart, EntryStatus::Started),
        ])
        .unwrap();
    assert!(store.lease("r", LeaseKind::Running).unwrap().is_some());
    // The same run id journaled twice: started and finished in one append,
    // while the first start's lease is still held.
    store
        .append(&[
            entry("r", EventType::WorkflowStart, EntryStatus::Started),
            entry("r", EventType::WorkflowComplete, EntryStatus::Completed),
        ])
        .unwrap();
    assert!(
        store.lease("r", LeaseKind::Running).unwrap().is_none(),
        "the older lease is dropped"
    );
    assert!(
        store.lease("other", LeaseKind::Running).unwrap().is_some(),
        "another run's lease stays"
    );
    // A run that starts and ends in one append never holds a lease.
    store
        .append(&[
            entry("quick", EventType::WorkflowStart, EntryStatus::Started),
            entry("quick", EventType::WorkflowComplete, EntryStatus::Completed),
        ])
        .unwrap();
    assert!(store.lease("quick", LeaseKind::Running).unwrap().is_none());
}
