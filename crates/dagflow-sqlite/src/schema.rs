//! The file format: tables, indexes and versioned migrations.
//!
//! The version lives in `PRAGMA user_version`, the owner in
//! `PRAGMA application_id`. Opening a file applies the migrations it lacks,
//! in one `BEGIN IMMEDIATE` transaction, so two processes opening a new
//! file at once migrate it once. A file whose version is newer than
//! [`LATEST_VERSION`] is refused before anything is written to it.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use crate::codec::STEP_COMPLETE;
use crate::error::SqliteError;
use crate::summary::SummaryDelta;

/// `PRAGMA application_id` of dagflow journals ("dagf").
pub(crate) const APPLICATION_ID: i64 = 0x6461_6766;

/// The schema version this build writes.
pub const LATEST_VERSION: i64 = 4;

/// Version 1: the entries and what finds them.
///
/// Every index costs time on each insert, so the entries table has none
/// over all rows: runs are found through `run_spans` (one row per run and
/// stretch of the journal, updated once per transaction, not per entry),
/// and only the rarer lifecycle entries (everything but `step_complete`)
/// are indexed, by workflow name and type.
const VERSION_1: &str = "
CREATE TABLE entries (
    id            INTEGER PRIMARY KEY,
    workflow_id   TEXT    NOT NULL,
    workflow_name TEXT    NOT NULL,
    event_type    INTEGER NOT NULL,
    step_name     TEXT,
    status        INTEGER NOT NULL,
    timestamp_ms  INTEGER NOT NULL,
    duration_ms   REAL    NOT NULL,
    duration_us   INTEGER NOT NULL,
    attempt       INTEGER NOT NULL,
    error         TEXT,
    result        TEXT,
    details       TEXT
);
-- Where each run's entries are: ids first_id..=last_id hold them (among
-- other runs' entries written meanwhile). A run gets a new span when more
-- than a few thousand foreign entries separate its entries.
CREATE TABLE run_spans (
    workflow_id TEXT    NOT NULL,
    first_id    INTEGER NOT NULL,
    last_id     INTEGER NOT NULL,
    PRIMARY KEY (workflow_id, first_id)
) WITHOUT ROWID;
-- Starts, retries and ends of each workflow in journal order: runs(),
-- workflow_durations() and by_event_type() (merged over workflow names when
-- unfiltered). step_complete entries, the bulk, are left out.
CREATE INDEX entries_lifecycle ON entries(workflow_name, event_type)
    WHERE event_type <> 2;
-- Entries with readable names, for people using the sqlite3 shell.
CREATE VIEW journal AS
SELECT id, workflow_id, workflow_name,
       CASE event_type WHEN 0 THEN 'workflow_start' WHEN 1 THEN 'step_retry'
                       WHEN 2 THEN 'step_complete' WHEN 3 THEN 'workflow_complete'
                       ELSE 'unknown' END AS event_type,
       step_name,
       CASE status WHEN 0 THEN 'started' WHEN 1 THEN 'completed' WHEN 2 THEN 'failed'
                   WHEN 3 THEN 'skipped' WHEN 4 THEN 'cancelled' ELSE 'unknown' END AS status,
       timestamp_ms, duration_ms, attempt, error, result, details
FROM entries;
";

/// Version 2: summaries maintained on insert, so that analytics cost
/// O(steps), not O(entries); and run leases for resume. Since version 3,
/// `step_duration_counts` and `step_duration_buckets` only hold the rows
/// that the one-integer keys of [`VERSION_3`] cannot.
const VERSION_2: &str = "
-- Per workflow name and step: outcome counters. step_key names the pair
-- compactly in the duration tables.
CREATE TABLE step_stats (
    step_key              INTEGER PRIMARY KEY,
    workflow_name         TEXT    NOT NULL,
    step_name             TEXT    NOT NULL,
    total                 INTEGER NOT NULL,
    completed             INTEGER NOT NULL,
    failed                INTEGER NOT NULL,
    skipped               INTEGER NOT NULL,
    cancelled             INTEGER NOT NULL,
    flaky                 INTEGER NOT NULL,
    completed_duration_us INTEGER NOT NULL,
    max_us                INTEGER,
    UNIQUE (workflow_name, step_name)
);
-- Completed durations of each step: how many of each exact value, and how
-- many per log-linear bucket (see summary.rs). Percentiles find the bucket
-- of the k-th value, then the value inside it.
CREATE TABLE step_duration_counts (
    step_key    INTEGER NOT NULL,
    duration_us INTEGER NOT NULL,
    count       INTEGER NOT NULL,
    PRIMARY KEY (step_key, duration_us)
) WITHOUT ROWID;
CREATE TABLE step_duration_buckets (
    step_key INTEGER NOT NULL,
    bucket   INTEGER NOT NULL,
    count    INTEGER NOT NULL,
    PRIMARY KEY (step_key, bucket)
) WITHOUT ROWID;
CREATE TABLE workflow_stats (
    workflow_name     TEXT    NOT NULL PRIMARY KEY,
    finished          INTEGER NOT NULL,
    succeeded         INTEGER NOT NULL,
    total_duration_us INTEGER NOT NULL,
    total_steps       INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE journal_counters (
    name  TEXT    NOT NULL PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
-- 'run:<id>' while a process executes the run, 'resume:<id>' while a process
-- resumes it. A lease is live while its heartbeat is younger than ttl_ms and,
-- on the same host, its process (pid + start time) still exists.
CREATE TABLE run_leases (
    lease_key     TEXT    NOT NULL PRIMARY KEY,
    workflow_id   TEXT    NOT NULL,
    pid           INTEGER NOT NULL,
    host          TEXT    NOT NULL,
    process_start INTEGER NOT NULL,
    token         TEXT    NOT NULL,
    acquired_ms   INTEGER NOT NULL,
    heartbeat_ms  INTEGER NOT NULL,
    ttl_ms        INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX run_leases_by_token ON run_leases(token);
";

/// Version 3: the duration counts and bucket counts keyed by one integer
/// each (see packed.rs); the version-2 tables keep what does not fit.
/// Existing rows move over in the migration.
pub(crate) const VERSION_3: &str = "
-- Exact counts of completed durations: duration_key is
-- step_key << 40 | duration_us, for step keys up to 8388607 and durations
-- from 0 to 1099511627775 us. Other durations stay in step_duration_counts.
CREATE TABLE step_durations (
    duration_key INTEGER PRIMARY KEY,
    count        INTEGER NOT NULL
);
-- Counts per duration bucket: bucket_key is step_key << 40 | bucket. Rows
-- of larger step keys stay in step_duration_buckets.
CREATE TABLE step_buckets (
    bucket_key INTEGER PRIMARY KEY,
    count      INTEGER NOT NULL
);
INSERT INTO step_durations (duration_key, count)
    SELECT (step_key << 40) + duration_us, count FROM step_duration_counts
    WHERE step_key BETWEEN 0 AND 8388607 AND duration_us BETWEEN 0 AND 1099511627775
    ORDER BY 1;
DELETE FROM step_duration_counts
    WHERE step_key BETWEEN 0 AND 8388607 AND duration_us BETWEEN 0 AND 1099511627775;
INSERT INTO step_buckets (bucket_key, count)
    SELECT (step_key << 40) + bucket, count FROM step_duration_buckets
    WHERE step_key BETWEEN 0 AND 8388607 AND bucket BETWEEN 0 AND 1099511627775
    ORDER BY 1;
DELETE FROM step_duration_buckets
    WHERE step_key BETWEEN 0 AND 8388607 AND bucket BETWEEN 0 AND 1099511627775;
";

/// Empties every summary table, for a backfill to build them again.
pub(crate) const CLEAR_SUMMARIES: &str = "
DELETE FROM step_stats; DELETE FROM step_durations; DELETE FROM step_buckets;
DELETE FROM step_duration_counts; DELETE FROM step_duration_buckets;
DELETE FROM workflow_stats; DELETE FROM journal_counters;
";

/// Version 4: the summaries leave out the steps a resume reused (they did
/// not run; their zero durations skewed the percentiles). No table changes:
/// the summaries of older files are emptied here and built again from the
/// entries.
const VERSION_4: &str = CLEAR_SUMMARIES;

/// What the header of a file says, read without writing anything.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Header {
    pub version: i64,
}

fn sql_error<'a>(
    path: &'a Path,
    context: &str,
    busy_ms: u64,
) -> impl Fn(rusqlite::Error) -> SqliteError + 'a {
    let context = context.to_string();
    move |e| SqliteError::classify(path, context.clone(), e, busy_ms)
}

/// Reads the header and refuses files that are not (or not yet) ours.
pub(crate) fn check_header(
    conn: &Connection,
    path: &Path,
    busy_ms: u64,
) -> Result<Header, SqliteError> {
    let err = sql_error(path, "reading the file header", busy_ms);
    // One read transaction, so that a migration another process commits
    // meanwhile cannot show us its tables without its application id.
    let snapshot = conn.unchecked_transaction().map_err(&err)?;
    let application_id: i64 = snapshot
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .map_err(&err)?;
    let version: i64 = snapshot
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(&err)?;
    if application_id != APPLICATION_ID && application_id != 0 {
        return Err(SqliteError::NotAJournal {
            path: path.to_path_buf(),
            found: format!("its application id is {application_id:#x}"),
        });
    }
    if application_id == 0 {
        let tables: Vec<String> = snapshot
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name LIMIT 5")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(&err)?;
        if !tables.is_empty() || version != 0 {
            return Err(SqliteError::NotAJournal {
                path: path.to_path_buf(),
                found: format!("it holds the tables {}", tables.join(", ")),
            });
        }
    }
    if version > LATEST_VERSION {
        return Err(SqliteError::NewerSchema {
            path: path.to_path_buf(),
            found: version,
            supported: LATEST_VERSION,
        });
    }
    Ok(Header { version })
}

/// Applies every migration above the file's version, up to `target`.
///
/// A `target` below [`LATEST_VERSION`] (tests build old files that way)
/// creates that version's tables and leaves its summaries empty.
pub(crate) fn migrate(
    conn: &mut Connection,
    path: &Path,
    target: i64,
    busy_ms: u64,
) -> Result<(), SqliteError> {
    let err = sql_error(path, "upgrading the journal schema", busy_ms);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(&err)?;
    // Another process may have migrated between our header check and the
    // write lock: read the version again under the lock.
    let version: i64 = tx
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(&err)?;
    if version > LATEST_VERSION {
        return Err(SqliteError::NewerSchema {
            path: path.to_path_buf(),
            found: version,
            supported: LATEST_VERSION,
        });
    }
    if version >= target {
        return Ok(());
    }
    for next in (version + 1)..=target {
        tracing::info!(path = %path.display(), version = next, "upgrading the journal schema");
        match next {
            1 => tx.execute_batch(VERSION_1).map_err(&err)?,
            2 => tx.execute_batch(VERSION_2).map_err(&err)?,
            3 => tx.execute_batch(VERSION_3).map_err(&err)?,
            4 => tx.execute_batch(VERSION_4).map_err(&err)?,
            _ => unreachable_version(path, next)?,
        }
    }
    // Summaries are built once every table exists, in the writer's layout,
    // which is the latest version's: for a version-1 file, which had none,
    // and after version 4 emptied those of older rules.
    if version < 4 && target == LATEST_VERSION {
        backfill_summaries(&tx, path, busy_ms)?;
    }
    tx.pragma_update(None, "application_id", APPLICATION_ID)
        .map_err(&err)?;
    tx.pragma_update(None, "user_version", target)
        .map_err(&err)?;
    tx.commit().map_err(&err)
}

fn unreachable_version(path: &Path, version: i64) -> Result<(), SqliteError> {
    Err(SqliteError::NewerSchema {
        path: path.to_path_buf(),
        found: version,
        supported: LATEST_VERSION,
    })
}

/// Builds the summaries from the entries (of a version-1 file, or after
/// they were cleared).
pub(crate) fn backfill_summaries(
    conn: &Connection,
    path: &Path,
    busy_ms: u64,
) -> Result<(), SqliteError> {
    let err = sql_error(path, "building the journal summaries", busy_ms);
    let mut delta = SummaryDelta::default();
    let mut stmt = conn
        .prepare(&format!(
            "SELECT workflow_name, event_type, step_name, status, duration_us, attempt,
                    event_type = {STEP_COMPLETE}
                        AND IFNULL(json_type(details, '$.restored') = 'true', 0)
             FROM entries ORDER BY id"
        ))
        .map_err(&err)?;
    let mut rows = stmt.query([]).map_err(&err)?;
    while let Some(row) = rows.next().map_err(&err)? {
        let name: String = row.get(0).map_err(&err)?;
        let step: Option<String> = row.get(2).map_err(&err)?;
        delta.add_counts(
            &name,
            row.get(1).map_err(&err)?,
            step.as_deref(),
            row.get(3).map_err(&err)?,
            row.get(4).map_err(&err)?,
            row.get(5).map_err(&err)?,
            row.get(6).map_err(&err)?,
        );
    }
    delta.apply(conn).map_err(&err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(path: &Path) -> Connection {
        Connection::open(path).expect("test database opens")
    }

    #[test]
    fn a_version_1_file_is_upgraded_with_summaries_built_from_its_entries() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("v1.db");
        let mut conn = open(&path);
        migrate(&mut conn, &path, 1, 0).expect("version 1 is created");
        conn.execute_batch(
            "INSERT INTO entries (workflow_id, workflow_name, event_type, step_name, status,
                                  timestamp_ms, duration_ms, duration_us, attempt)
             VALUES ('r1', 'etl', 2, 'load', 1, 0, 1.5, 1500, 2),
                    ('r1', 'etl', 2, 'load', 2, 0, 3.0, 3000, 1),
                    ('r1', 'etl', 3, NULL, 2, 0, 4.5, 4500, 0)",
        )
        .expect("entries are inserted");
        assert_eq!(check_header(&conn, &path, 0).expect("header").version, 1);

        migrate(&mut conn, &path, LATEST_VERSION, 0).expect("upgrade to the latest version");

        assert_eq!(
            check_header(&conn, &path, 0).expect("header").version,
            LATEST_VERSION
        );
        let (total, completed, failed, flaky, max_us): (i64, i64, i64, i64, i64) = conn
            .query_row(
                "SELECT total, completed, failed, flaky, max_us FROM step_stats
                 WHERE workflow_name = 'etl' AND step_name = 'load'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .expect("the step summary exists");
        assert_eq!(
            (total, completed, failed, flaky, max_us),
            (2, 1, 1, 1, 1500)
        );
        let (finished, succeeded, duration_us, steps): (i64, i64, i64, i64) = conn
            .query_row(
                "SELECT finished, succeeded, total_duration_us, total_steps FROM workflow_stats",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .expect("the workflow summary exists");
        assert_eq!((finished, succeeded, duration_us, steps), (1, 0, 4500, 2));
        let entries: i64 = conn
            .query_row(
                "SELECT value FROM journal_counters WHERE name = 'entries'",
                [],
                |r| r.get(0),
            )
            .expect("the entry counter exists");
        assert_eq!(entries, 3);
    }

    #[test]
    fn migrating_twice_changes_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("j.db");
        let mut conn = open(&path);
        migrate(&mut conn, &path, LATEST_VERSION, 0).expect("first migration");
        migrate(&mut conn, &path, LATEST_VERSION, 0).expect("second migration is a no-op");
        let header = check_header(&conn, &path, 0).expect("header");
        let application_id: i64 = conn
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .expect("application id");
        assert_eq!(
            (application_id, header.version),
            (APPLICATION_ID, LATEST_VERSION)
        );
    }
}
