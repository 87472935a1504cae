//! Run leases: which process executes or resumes a run right now.
//!
//! A store that appends a run's `WorkflowStart` entry takes the lease
//! `run:<id>` in the same transaction and drops it with the run's
//! `WorkflowComplete` entry. A resume takes `resume:<id>` through
//! [`SqliteStore::claim_resume`](crate::SqliteStore::claim_resume), which
//! fails while either lease of that run is live. The store's writer thread
//! renews the heartbeat of every lease it holds each third of the lease TTL.
//!
//! A lease is live while its heartbeat is younger than its TTL and, when the
//! owner runs on this host, the owner process still exists: its pid is
//! running, is not a zombie, and started at the recorded time (so a reused
//! pid does not keep a dead run's lease alive). A process killed with
//! `SIGKILL` on this host thus frees its runs at once; on another host,
//! after the TTL.

use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OptionalExtension};

use crate::error::SqliteError;
use crate::fast_hash::FastSet;

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Who holds leases: this process, identified so other processes can tell
/// whether it is still alive.
#[derive(Debug, Clone)]
pub(crate) struct Owner {
    pub pid: u32,
    pub host: String,
    /// Start time of the process in clock ticks since boot (Linux), or 0
    /// where it cannot be read.
    pub process_start: i64,
    /// Unique per open store, so two stores in one process renew and
    /// release only their own leases.
    pub token: String,
}

impl Owner {
    pub(crate) fn current() -> Owner {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let pid = std::process::id();
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        Owner {
            pid,
            host: host_name(),
            process_start: process_start(pid).unwrap_or(0),
            token: format!("{pid}-{nanos:x}-{}", NEXT.fetch_add(1, Ordering::Relaxed)),
        }
    }
}

fn host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown-host".to_string())
}

/// Start time (clock ticks since boot) of a live, non-zombie process, from
/// `/proc/<pid>/stat`; `None` if there is no such process (or no /proc).
fn process_start(pid: u32) -> Option<i64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain anything; the
    // fields after the last ')' are: state, ppid, ... with starttime 20th.
    let after = &stat[stat.rfind(')')? + 1..];
    let mut fields = after.split_whitespace();
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

/// What a lease is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LeaseKind {
    /// A process is executing the run.
    Running,
    /// A process is resuming the run.
    Resuming,
}

impl LeaseKind {
    /// The `lease_key` of this kind of lease on `run_id`.
    pub(crate) fn key(self, run_id: &str) -> String {
        match self {
            LeaseKind::Running => format!("run:{run_id}"),
            LeaseKind::Resuming => format!("resume:{run_id}"),
        }
    }
}

/// The leases a store holds, by kind and run id: whether to keep renewing
/// them, and which ones an end entry drops. The journal's rows are keyed
/// by [`LeaseKind::key`]; these sets are looked up by run id, so no key is
/// formatted on the write path.
#[derive(Debug, Default)]
pub(crate) struct HeldLeases {
    running: FastSet<String>,
    resuming: FastSet<String>,
}

impl HeldLeases {
    fn set(&self, kind: LeaseKind) -> &FastSet<String> {
        match kind {
            LeaseKind::Running => &self.running,
            LeaseKind::Resuming => &self.resuming,
        }
    }

    fn set_mut(&mut self, kind: LeaseKind) -> &mut FastSet<String> {
        match kind {
            LeaseKind::Running => &mut self.running,
            LeaseKind::Resuming => &mut self.resuming,
        }
    }

    /// Whether no lease is held.
    pub(crate) fn is_empty(&self) -> bool {
        self.running.is_empty() && self.resuming.is_empty()
    }

    /// Whether the `kind` lease on `run_id` is held.
    pub(crate) fn contains(&self, kind: LeaseKind, run_id: &str) -> bool {
        self.set(kind).contains(run_id)
    }

    /// Records the `kind` lease on `run_id` as held.
    pub(crate) fn insert(&mut self, kind: LeaseKind, run_id: &str) {
        self.set_mut(kind).insert(run_id.to_string());
    }

    /// Records the `kind` lease on `run_id` as no longer held.
    pub(crate) fn remove(&mut self, kind: LeaseKind, run_id: &str) {
        self.set_mut(kind).remove(run_id);
    }

    /// Forgets every lease (someone else cleared or took them over).
    pub(crate) fn clear(&mut self) {
        self.running.clear();
        self.resuming.clear();
    }
}

/// A lease as stored in the journal, with its liveness judged now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunLease {
    /// The run.
    pub run_id: String,
    /// Running or resuming.
    pub kind: LeaseKind,
    /// The owner's process id.
    pub pid: u32,
    /// The owner's host name.
    pub host: String,
    /// When the lease was taken, ms since the Unix epoch.
    pub acquired_ms: i64,
    /// The owner's last heartbeat, ms since the Unix epoch.
    pub heartbeat_ms: i64,
    /// How long the lease lasts without a heartbeat, ms.
    pub ttl_ms: i64,
    /// Whether the owner is alive (same host: its process exists and started when the lease says; any host: its heartbeat is younger than the TTL).
    pub live: bool,
}

/// Reads the lease of `kind` for `run_id`, judging its liveness from `me`.
pub(crate) fn read(
    conn: &Connection,
    run_id: &str,
    kind: LeaseKind,
    me: &Owner,
) -> rusqlite::Result<Option<RunLease>> {
    let now = now_ms();
    conn.prepare_cached(
        "SELECT pid, host, process_start, acquired_ms, heartbeat_ms, ttl_ms
         FROM run_leases WHERE lease_key = ?1",
    )?
    .query_row([kind.key(run_id)], |r| {
        let pid: i64 = r.get(0)?;
        let host: String = r.get(1)?;
        let started: i64 = r.get(2)?;
        let heartbeat_ms: i64 = r.get(4)?;
        let ttl_ms: i64 = r.get(5)?;
        let pid = u32::try_from(pid).unwrap_or(0);
        let fresh = heartbeat_ms.saturating_add(ttl_ms) > now;
        let process_alive =
            host != me.host || started == 0 || process_start(pid).is_some_and(|s| s == started);
        Ok(RunLease {
            run_id: run_id.to_string(),
            kind,
            pid,
            host,
            acquired_ms: r.get(3)?,
            heartbeat_ms,
            ttl_ms,
            live: fresh && process_alive,
        })
    })
    .optional()
}

fn insert(
    conn: &Connection,
    run_id: &str,
    kind: LeaseKind,
    me: &Owner,
    ttl_ms: i64,
) -> rusqlite::Result<()> {
    let now = now_ms();
    conn.prepare_cached(
        "INSERT OR REPLACE INTO run_leases
             (lease_key, workflow_id, pid, host, process_start, token, acquired_ms,
              heartbeat_ms, ttl_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8)",
    )?
    .execute(params![
        kind.key(run_id),
        run_id,
        me.pid,
        me.host,
        me.process_start,
        me.token,
        now,
        ttl_ms
    ])?;
    Ok(())
}

/// Takes the running lease of each run in `started` and drops it for each
/// run in `finished` (a run both started and finished in the batch has
/// been removed from `started` by the caller).
pub(crate) fn apply_run_changes<'a>(
    conn: &Connection,
    started: impl Iterator<Item = &'a str>,
    finished: impl Iterator<Item = &'a str>,
    me: &Owner,
    ttl_ms: i64,
) -> rusqlite::Result<usize> {
    let mut taken = 0;
    for run_id in started {
        insert(conn, run_id, LeaseKind::Running, me, ttl_ms)?;
        taken += 1;
    }
    let mut delete = conn.prepare_cached("DELETE FROM run_leases WHERE lease_key = ?1")?;
    for run_id in finished {
        delete.execute([LeaseKind::Running.key(run_id)])?;
    }
    Ok(taken)
}

/// Takes `resume:<run_id>` unless the run is live or already being resumed.
/// Call inside a write transaction.
pub(crate) fn claim_resume(
    conn: &Connection,
    run_id: &str,
    me: &Owner,
    ttl_ms: i64,
    err: impl Fn(rusqlite::Error) -> SqliteError,
) -> Result<(), SqliteError> {
    if let Some(lease) = read(conn, run_id, LeaseKind::Running, me).map_err(&err)? {
        if lease.live {
            return Err(SqliteError::RunStillLive {
                run_id: run_id.to_string(),
                pid: lease.pid,
                host: lease.host,
                heartbeat_age_ms: now_ms() - lease.heartbeat_ms,
            });
        }
    }
    if let Some(lease) = read(conn, run_id, LeaseKind::Resuming, me).map_err(&err)? {
        if lease.live {
            return Err(SqliteError::AlreadyResuming {
                run_id: run_id.to_string(),
                pid: lease.pid,
                host: lease.host,
                heartbeat_age_ms: now_ms() - lease.heartbeat_ms,
            });
        }
    }
    insert(conn, run_id, LeaseKind::Resuming, me, ttl_ms).map_err(&err)
}

/// Drops the resume lease of `run_id` if `me` holds it.
pub(crate) fn release_resume(conn: &Connection, run_id: &str, me: &Owner) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM run_leases WHERE lease_key = ?1 AND token = ?2")?
        .execute(params![LeaseKind::Resuming.key(run_id), me.token])?;
    Ok(())
}

/// Renews every lease `me` holds; returns how many there are.
pub(crate) fn heartbeat(conn: &Connection, me: &Owner) -> rusqlite::Result<usize> {
    conn.prepare_cached("UPDATE run_leases SET heartbeat_ms = ?1 WHERE token = ?2")?
        .execute(params![now_ms(), me.token])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_a_start_time_and_a_dead_pid_has_none() {
        let me = Owner::current();
        if std::path::Path::new("/proc/self/stat").exists() {
            assert!(me.process_start > 0);
            assert_eq!(process_start(me.pid), Some(me.process_start));
        }
        // Pids are below 2^22 on Linux.
        assert_eq!(process_start(u32::MAX - 1), None);
    }

    #[test]
    fn two_stores_in_one_process_have_distinct_tokens() {
        assert_ne!(Owner::current().token, Owner::current().token);
    }
}
