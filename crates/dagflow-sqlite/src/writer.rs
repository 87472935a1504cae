//! The writer thread: group commit.
//!
//! Every write of a store goes through one thread that owns the write
//! connection. Appending threads encode their entries, queue them and wait;
//! the writer takes everything queued (up to a batch limit), writes it in one
//! `BEGIN IMMEDIATE` transaction together with the summary and lease
//! changes, commits, and only then answers each waiter. So an `append` that
//! returned `Ok` is committed, and concurrent appends share one commit.
//!
//! If a grouped transaction fails, each request is retried alone, so one bad
//! append (say, one too big for the size limit) cannot fail the others and
//! every waiter gets its own precise error.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, TransactionBehavior};

use crate::checkpoint::Nudge;
use crate::codec::{Row, WORKFLOW_COMPLETE, WORKFLOW_START};
use crate::error::SqliteError;
use crate::lease::{self, LeaseKind, Owner};
use crate::spans::SpanBatch;
use crate::summary::SummaryDelta;

/// The answer to a request.
pub(crate) type Reply = SyncSender<Result<(), SqliteError>>;

/// What the writer thread is asked to do.
pub(crate) enum Command {
    /// Insert rows, in order, in one transaction.
    Append { rows: Vec<Row>, reply: Reply },
    /// Delete every entry and summary (leases stay).
    Clear { reply: Reply },
    /// Recompute the summary tables from the entries.
    RebuildSummaries { reply: Reply },
    /// Copy the WAL into the database file and sync it.
    Checkpoint { reply: Reply },
    /// Take the resume lease of a run.
    ClaimResume { run_id: String, reply: Reply },
    /// Drop the resume lease of a run.
    ReleaseResume {
        run_id: String,
        reply: Option<Reply>,
    },
}

/// The writer's state, owned by its thread.
pub(crate) struct Writer {
    pub conn: Connection,
    pub path: PathBuf,
    pub owner: Owner,
    pub lease_ttl: Duration,
    pub busy_ms: u64,
    pub max_batch_entries: usize,
    /// Lease keys this store holds, to renew and to drop.
    pub held: HashSet<String>,
    /// Wakes the checkpointer after commits.
    pub checkpointer: Nudge,
}

const INSERT_ENTRY: &str =
    "INSERT INTO entries (workflow_id, workflow_name, event_type, step_name, status,
                          timestamp_ms, duration_ms, duration_us, attempt, error, result, details)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";

impl Writer {
    /// Starts the writer thread; it ends when every sender is dropped,
    /// after answering what was queued.
    pub(crate) fn spawn(self, commands: Receiver<Command>) -> std::io::Result<JoinHandle<()>> {
        std::thread::Builder::new()
            .name("dagflow-journal".to_string())
            .spawn(move || self.run(commands))
    }

    fn run(mut self, commands: Receiver<Command>) {
        let heartbeat_every = self.lease_ttl / 3;
        let mut next_heartbeat = Instant::now() + heartbeat_every;
        let mut deferred: Option<Command> = None;
        loop {
            let command = match deferred.take() {
                Some(command) => command,
                None if self.held.is_empty() => match commands.recv() {
                    Ok(command) => command,
                    Err(_) => break,
                },
                None => {
                    let wait = next_heartbeat.saturating_duration_since(Instant::now());
                    match commands.recv_timeout(wait) {
                        Ok(command) => command,
                        Err(RecvTimeoutError::Timeout) => {
                            self.heartbeat();
                            next_heartbeat = Instant::now() + heartbeat_every;
                            continue;
                        }
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
            };
            match command {
                Command::Append { rows, reply } => {
                    // Group every append already queued into this commit.
                    let mut group = vec![(rows, reply)];
                    let mut queued = group[0].0.len();
                    while queued < self.max_batch_entries {
                        match commands.try_recv() {
                            Ok(Command::Append { rows, reply }) => {
                                queued += rows.len();
                                group.push((rows, reply));
                            }
                            Ok(other) => {
                                deferred = Some(other);
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    self.append_group(group);
                }
                Command::Clear { reply } => {
                    let _ = reply.send(self.clear());
                }
                Command::RebuildSummaries { reply } => {
                    let _ = reply.send(self.rebuild_summaries());
                }
                Command::Checkpoint { reply } => {
                    let _ = reply.send(self.checkpoint());
                }
                Command::ClaimResume { run_id, reply } => {
                    let _ = reply.send(self.claim_resume(&run_id));
                }
                Command::ReleaseResume { run_id, reply } => {
                    let outcome = self.release_resume(&run_id);
                    if let Err(e) = &outcome {
                        tracing::warn!(run_id, error = %e, "could not release a resume lease; it expires with its TTL");
                    }
                    if let Some(reply) = reply {
                        let _ = reply.send(outcome);
                    }
                }
            }
            if !self.held.is_empty() && Instant::now() >= next_heartbeat {
                self.heartbeat();
                next_heartbeat = Instant::now() + heartbeat_every;
            }
        }
        // Leases of runs this process never finished stay: they die with
        // the process (pid check) or with their TTL, which is what a crash
        // looks like too. Resume leases are released by their claims.
        tracing::debug!(path = %self.path.display(), "journal writer stopped");
    }

    fn error(&self, context: impl Into<String>) -> impl Fn(rusqlite::Error) -> SqliteError + '_ {
        let context = context.into();
        move |e| SqliteError::classify(&self.path, context.clone(), e, self.busy_ms)
    }

    fn append_group(&mut self, group: Vec<(Vec<Row>, Reply)>) {
        if group.len() > 1 {
            let all: Vec<&[Row]> = group.iter().map(|(rows, _)| rows.as_slice()).collect();
            if self.write(&all).is_ok() {
                for (_, reply) in group {
                    let _ = reply.send(Ok(()));
                }
                return;
            }
            tracing::debug!(
                requests = group.len(),
                "grouped commit failed; retrying each append alone"
            );
        }
        for (rows, reply) in group {
            let _ = reply.send(self.write(&[rows.as_slice()]));
        }
    }

    /// Inserts `parts` in order, with their summary and lease changes, in
    /// one transaction.
    fn write(&mut self, parts: &[&[Row]]) -> Result<(), SqliteError> {
        let count: usize = parts.iter().map(|p| p.len()).sum();
        let err = |e| {
            SqliteError::classify(
                &self.path,
                format!("appending {count} entries"),
                e,
                self.busy_ms,
            )
        };
        let ttl_ms = self.lease_ttl.as_millis() as i64;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let mut delta = SummaryDelta::default();
        let mut spans = SpanBatch::default();
        // Last lifecycle event of each run in this transaction: true when it
        // started (and has not finished) here.
        let mut runs: HashMap<&str, RunChange> = HashMap::new();
        {
            let mut insert = tx.prepare_cached(INSERT_ENTRY).map_err(err)?;
            for row in parts.iter().flat_map(|p| p.iter()) {
                insert
                    .execute(params![
                        row.workflow_id,
                        row.workflow_name,
                        row.event_type,
                        row.step_name,
                        row.status,
                        row.timestamp_ms,
                        row.duration_ms,
                        row.duration_us,
                        row.attempt,
                        row.error,
                        row.result,
                        row.details
                    ])
                    .map_err(err)?;
                spans.add(
                    &row.workflow_id,
                    tx.last_insert_rowid(),
                    row.event_type == WORKFLOW_START,
                );
                delta.add_counts(
                    &row.workflow_name,
                    row.event_type,
                    row.step_name.as_deref(),
                    row.status,
                    row.duration_us,
                    row.attempt,
                );
                if row.event_type == WORKFLOW_START {
                    runs.insert(&row.workflow_id, RunChange::Started);
                } else if row.event_type == WORKFLOW_COMPLETE {
                    let change = match runs.get(row.workflow_id.as_str()) {
                        Some(RunChange::Started) | Some(RunChange::StartedAndFinished) => {
                            RunChange::StartedAndFinished
                        }
                        _ => RunChange::Finished,
                    };
                    runs.insert(&row.workflow_id, change);
                }
            }
        }
        delta.apply(&tx).map_err(err)?;
        spans.apply(&tx).map_err(err)?;
        let held = &self.held;
        let started = runs
            .iter()
            .filter(|(_, c)| **c == RunChange::Started)
            .map(|(id, _)| *id);
        // A run started and finished here needs no lease, unless an older
        // one of ours exists (a run id journaled twice).
        let finished = runs
            .iter()
            .filter(|(id, c)| {
                **c == RunChange::Finished
                    || (**c == RunChange::StartedAndFinished && held.contains(&run_key(id)))
            })
            .map(|(id, _)| *id);
        lease::apply_run_changes(&tx, started, finished, &self.owner, ttl_ms).map_err(err)?;
        tx.commit().map_err(err)?;
        self.checkpointer.nudge();
        for (id, change) in runs {
            match change {
                RunChange::Started => {
                    self.held.insert(run_key(id));
                }
                RunChange::Finished | RunChange::StartedAndFinished => {
                    self.held.remove(&run_key(id));
                }
            }
        }
        Ok(())
    }

    fn clear(&mut self) -> Result<(), SqliteError> {
        self.rewrite(
            "clearing the journal",
            "DELETE FROM entries; DELETE FROM step_stats; DELETE FROM step_duration_counts;
             DELETE FROM step_duration_buckets; DELETE FROM workflow_stats;
             DELETE FROM journal_counters;",
            false,
        )
    }

    fn rebuild_summaries(&mut self) -> Result<(), SqliteError> {
        self.rewrite(
            "rebuilding the summary tables",
            "DELETE FROM step_stats; DELETE FROM step_duration_counts;
             DELETE FROM step_duration_buckets; DELETE FROM workflow_stats;
             DELETE FROM journal_counters;",
            true,
        )
    }

    /// Runs `sql` (and a summary backfill if asked) in one write transaction.
    fn rewrite(&mut self, context: &str, sql: &str, backfill: bool) -> Result<(), SqliteError> {
        let (path, busy_ms) = (self.path.clone(), self.busy_ms);
        let err = |e| SqliteError::classify(&path, context, e, busy_ms);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        tx.execute_batch(sql).map_err(err)?;
        if backfill {
            crate::schema::backfill_summaries(&tx, &path, busy_ms)?;
        }
        tx.commit().map_err(err)
    }

    /// A `FULL` checkpoint; retried while the checkpointer thread holds
    /// the checkpoint lock, up to the busy timeout.
    fn checkpoint(&mut self) -> Result<(), SqliteError> {
        let err = self.error("checkpointing the write-ahead log");
        let deadline = Instant::now() + Duration::from_millis(self.busy_ms);
        loop {
            let busy: i64 = self
                .conn
                .query_row("PRAGMA wal_checkpoint(FULL)", [], |r| r.get(0))
                .map_err(&err)?;
            if busy == 0 {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(SqliteError::Busy {
                    path: self.path.clone(),
                    timeout_ms: self.busy_ms,
                });
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn claim_resume(&mut self, run_id: &str) -> Result<(), SqliteError> {
        let ttl_ms = self.lease_ttl.as_millis() as i64;
        let path = self.path.clone();
        let busy_ms = self.busy_ms;
        let context = format!("claiming run `{run_id}` for resume");
        let err = move |e| SqliteError::classify(&path, context.clone(), e, busy_ms);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&err)?;
        lease::claim_resume(&tx, run_id, &self.owner, ttl_ms, &err)?;
        tx.commit().map_err(&err)?;
        self.held.insert(resume_key(run_id));
        Ok(())
    }

    fn release_resume(&mut self, run_id: &str) -> Result<(), SqliteError> {
        lease::release_resume(&self.conn, run_id, &self.owner)
            .map_err(self.error(format!("releasing the resume lease of run `{run_id}`")))?;
        self.held.remove(&resume_key(run_id));
        Ok(())
    }

    fn heartbeat(&mut self) {
        match lease::heartbeat(&self.conn, &self.owner) {
            Ok(0) => {
                // Someone cleared or took over our leases: stop renewing.
                self.held.clear();
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "could not renew run leases; retrying at the next heartbeat")
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RunChange {
    Started,
    Finished,
    StartedAndFinished,
}

fn run_key(run_id: &str) -> String {
    LeaseKind::Running.key(run_id)
}

fn resume_key(run_id: &str) -> String {
    LeaseKind::Resuming.key(run_id)
}
