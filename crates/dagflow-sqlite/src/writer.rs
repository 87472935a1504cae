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

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TryRecvError};
use std::sync::{Arc, LazyLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{Connection, TransactionBehavior};

use crate::batch::{RunChange, Tail};
use crate::checkpoint::{self, Nudge};
use crate::codec::Row;
use crate::deferred::{Deferred, LINGER};
use crate::error::SqliteError;
use crate::fast_hash::FastMap;
use crate::lease::{self, HeldLeases, LeaseKind, Owner};
use crate::multirow::Template;
use crate::spans;
use crate::summary::SummaryDelta;

/// The answer to a request.
pub(crate) type Reply = SyncSender<Result<(), SqliteError>>;

/// The rest of a large append, sent while the writer inserts its start.
pub(crate) enum Part {
    /// More rows, in order.
    Rows(Vec<Row>),
    /// The append's summary, span and lease changes; nothing follows.
    End(Tail),
}

/// One append: its first rows, and either its tail or a stream of parts
/// ending with the tail.
pub(crate) struct Append {
    pub rows: Vec<Row>,
    pub rest: Rest,
    pub answer: Answer,
}

/// Who learns how an append went.
pub(crate) enum Answer {
    /// A caller waiting for the commit.
    Now(Reply),
    /// Nobody waits: the outcome goes to the store's [`Deferred`] record
    /// under this position.
    Deferred(u64),
}

/// How the rest of an [`Append`] arrives.
pub(crate) enum Rest {
    /// The append fitted in one chunk.
    Tail(Tail),
    /// More parts follow on this channel.
    Stream(Receiver<Part>),
}

/// What the writer thread is asked to do.
pub(crate) enum Command {
    /// Insert entries, in order, in one transaction.
    Append(Append),
    /// Delete every entry and summary (leases stay).
    Clear { reply: Reply },
    /// Recompute the summary tables from the entries.
    RebuildSummaries { reply: Reply },
    /// Copy the WAL into the database file and sync it.
    Checkpoint { reply: Reply },
    /// Commit the deferred appends queued so far now (someone waits).
    Flush,
    /// Take the resume lease of a run.
    ClaimResume { run_id: String, reply: Reply },
    /// Drop the resume lease of a run.
    ReleaseResume {
        run_id: String,
        reply: Option<Reply>,
    },
}

/// An append being written: its rows so far (kept for a retry) and, once
/// complete, its tail.
struct Pending {
    chunks: Vec<Vec<Row>>,
    stream: Option<Receiver<Part>>,
    tail: Option<Tail>,
    answer: Answer,
    entries: usize,
}

impl Pending {
    fn new(append: Append) -> Pending {
        let entries = append.rows.len();
        let (stream, tail) = match append.rest {
            Rest::Tail(tail) => (None, Some(tail)),
            Rest::Stream(stream) => (Some(stream), None),
        };
        Pending {
            chunks: vec![append.rows],
            stream,
            tail,
            answer: append.answer,
            entries,
        }
    }
}

/// The writer's state, owned by its thread.
pub(crate) struct Writer {
    pub conn: Connection,
    pub path: PathBuf,
    pub owner: Owner,
    pub lease_ttl: Duration,
    pub busy_ms: u64,
    pub max_batch_entries: usize,
    /// The leases this store holds, to renew and to drop.
    pub held: HeldLeases,
    /// Wakes the checkpointer after commits.
    pub checkpointer: Nudge,
    /// The write-ahead log file, watched for growth.
    pub wal_path: PathBuf,
    /// Positions and failures of deferred appends.
    pub deferred: Arc<Deferred>,
}

/// The entry insert (13 parameters per row).
///
/// `OR FAIL`: a multi-row statement that may abort halfway makes SQLite
/// keep a statement journal of every page it touches, to undo its own
/// rows; under `FAIL` a failing row ends the statement with the rows
/// before it kept. The writer rolls the whole transaction back on any
/// error anyway, so nothing half-written survives either way, and SQLite
/// writes no statement journal (6 % fewer instructions on the journal
/// benchmark, with the same for the spans).
static INSERT_ENTRIES: LazyLock<Template> = LazyLock::new(|| {
    Template::new(
        "INSERT OR FAIL INTO entries (id, workflow_id, workflow_name, event_type, step_name,
                              status, timestamp_ms, duration_ms, duration_us, attempt, error, result,
                              details)",
        13,
        "",
    )
});

/// Inserts `rows`; they get the ids after the largest one in the table.
///
/// The id is left to SQLite (NULL) rather than bound: an explicit id costs
/// a B-tree seek per row to check that it is free, while SQLite's own
/// choice for a table without AUTOINCREMENT, one more than the largest id,
/// appends at the cursor (8 % fewer instructions for the writer on the
/// journal benchmark, under callgrind). The ids are the same as the ones
/// the writer counts from `max(id) + 1` for the run spans; they would
/// differ only once an id reached `i64::MAX`.
fn insert_rows(conn: &Connection, rows: &[Row]) -> rusqlite::Result<()> {
    INSERT_ENTRIES.execute(conn, rows, |stmt, p, row| {
        stmt.raw_bind_parameter(p, rusqlite::types::Null)?;
        stmt.raw_bind_parameter(p + 1, &row.workflow_id)?;
        stmt.raw_bind_parameter(p + 2, &row.workflow_name)?;
        stmt.raw_bind_parameter(p + 3, row.event_type)?;
        stmt.raw_bind_parameter(p + 4, &row.step_name)?;
        stmt.raw_bind_parameter(p + 5, row.status)?;
        stmt.raw_bind_parameter(p + 6, row.timestamp_ms)?;
        stmt.raw_bind_parameter(p + 7, row.duration_ms)?;
        stmt.raw_bind_parameter(p + 8, row.duration_us)?;
        stmt.raw_bind_parameter(p + 9, row.attempt)?;
        stmt.raw_bind_parameter(p + 10, &row.error)?;
        stmt.raw_bind_parameter(p + 11, &row.result)?;
        stmt.raw_bind_parameter(p + 12, &row.details)?;
        Ok(())
    })
}

impl Writer {
    /// Starts the writer thread; it ends when every sender is dropped,
    /// after answering what was queued.
    pub(crate) fn spawn(self, commands: Receiver<Command>) -> std::io::Result<JoinHandle<()>> {
        std::thread::Builder::new()
            .name("dagflow-journal".to_string())
            .spawn(move || {
                let deferred = Arc::clone(&self.deferred);
                self.run(commands);
                deferred.writer_gone();
            })
    }

    fn run(mut self, commands: Receiver<Command>) {
        let heartbeat_every = self.lease_ttl / 3;
        let mut next_heartbeat = Instant::now() + heartbeat_every;
        let mut held_back: Option<Command> = None;
        loop {
            let command = match held_back.take() {
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
                Command::Append(append) => {
                    let group = self.gather(Pending::new(append), &commands, &mut held_back);
                    self.append_group(group);
                }
                // Everything deferred was committed already.
                Command::Flush => {}
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

    /// Groups `first` with the appends queued behind it into one commit.
    /// While only deferred appends are in the group, waits up to
    /// [`LINGER`] for more; an append someone waits for, a
    /// [`Command::Flush`] or a full batch ends the wait. Any other command
    /// is held back for after the commit.
    ///
    /// The wait is a park, not a blocking receive: appends queued meanwhile
    /// do not wake this thread one by one (a waiter unparks it after
    /// sending its `Flush`).
    fn gather(
        &self,
        first: Pending,
        commands: &Receiver<Command>,
        held_back: &mut Option<Command>,
    ) -> Vec<Pending> {
        let mut urgent = matches!(first.answer, Answer::Now(_));
        let mut queued = first.entries;
        let mut group = vec![first];
        let deadline = Instant::now() + LINGER;
        while queued < self.max_batch_entries {
            let next = match commands.try_recv() {
                Ok(command) => Some(command),
                Err(TryRecvError::Empty) if !urgent => {
                    let now = Instant::now();
                    if now < deadline {
                        std::thread::park_timeout(deadline - now);
                        continue;
                    }
                    None
                }
                Err(_) => None,
            };
            match next {
                Some(Command::Append(append)) => {
                    urgent |= matches!(append.answer, Answer::Now(_));
                    queued += append.rows.len();
                    group.push(Pending::new(append));
                }
                Some(Command::Flush) => urgent = true,
                Some(other) => {
                    *held_back = Some(other);
                    break;
                }
                None => break,
            }
        }
        group
    }

    fn error(&self, context: impl Into<String>) -> impl Fn(rusqlite::Error) -> SqliteError + '_ {
        let context = context.into();
        move |e| SqliteError::classify(&self.path, context.clone(), e, self.busy_ms)
    }

    fn append_group(&mut self, mut group: Vec<Pending>) {
        let outcome = self.write(&mut group);
        if group.len() == 1 || outcome.is_ok() {
            let mut outcome = Some(outcome);
            for pending in group {
                let answer = match outcome.take() {
                    Some(first) => first,
                    None => Ok(()),
                };
                self.answer(pending.answer, answer);
            }
            return;
        }
        tracing::debug!(
            requests = group.len(),
            "grouped commit failed; retrying each append alone"
        );
        for pending in group {
            let mut alone = vec![pending];
            let outcome = self.write(&mut alone);
            if let Some(pending) = alone.pop() {
                self.answer(pending.answer, outcome);
            }
        }
    }

    /// Tells the waiting caller, or the deferred record, how an append went.
    fn answer(&self, answer: Answer, outcome: Result<(), SqliteError>) {
        match answer {
            Answer::Now(reply) => {
                let _ = reply.send(outcome);
            }
            Answer::Deferred(position) => {
                if let Err(e) = &outcome {
                    tracing::error!(path = %self.path.display(), error = %e, "a deferred journal append failed");
                }
                self.deferred.committed(position, outcome.err());
            }
        }
    }

    /// Writes the appends of `group` in order, with their summary, span and
    /// lease changes, in one transaction. Streamed parts are received (and
    /// kept, for a retry) as they arrive.
    fn write(&mut self, group: &mut [Pending]) -> Result<(), SqliteError> {
        let count: usize = group.iter().map(|p| p.entries).sum();
        let (path, busy_ms) = (self.path.clone(), self.busy_ms);
        let err =
            |e| SqliteError::classify(&path, format!("appending {count} entries"), e, busy_ms);
        let ttl_ms = self.lease_ttl.as_millis() as i64;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let mut next_id: i64 = tx
            .prepare_cached("SELECT ifnull(max(id), 0) + 1 FROM entries")
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .map_err(err)?;
        let mut bases = Vec::with_capacity(group.len());
        for pending in group.iter_mut() {
            bases.push(next_id);
            for rows in &pending.chunks {
                insert_rows(&tx, rows).map_err(err)?;
                next_id += rows.len() as i64;
            }
            while let Some(stream) = &pending.stream {
                match stream.recv() {
                    Ok(Part::Rows(rows)) => {
                        insert_rows(&tx, &rows).map_err(err)?;
                        next_id += rows.len() as i64;
                        pending.entries += rows.len();
                        pending.chunks.push(rows);
                    }
                    Ok(Part::End(tail)) => {
                        pending.tail = Some(tail);
                        pending.stream = None;
                    }
                    Err(_) => {
                        // The appending thread gave up (an entry failed to
                        // encode); it reports its own error.
                        pending.stream = None;
                    }
                }
            }
            if pending.tail.is_none() {
                return Err(SqliteError::Setup {
                    path: self.path.clone(),
                    detail: "the append was abandoned by its thread before it ended".to_string(),
                });
            }
        }
        // Summaries: one delta for the whole group (each append keeps its
        // own, in case the group fails and they are retried one by one).
        let tails: Vec<&Tail> = group.iter().filter_map(|p| p.tail.as_ref()).collect();
        match tails.as_slice() {
            [only] => only.summary.apply(&tx).map_err(err)?,
            several => {
                let mut merged = SummaryDelta::default();
                for tail in several {
                    merged.merge(&tail.summary);
                }
                merged.apply(&tx).map_err(err)?;
            }
        }
        let mut changes: FastMap<&str, RunChange> = FastMap::default();
        for (pending, base) in group.iter().zip(&bases) {
            let Some(tail) = &pending.tail else { continue };
            spans::apply(&tx, &tail.runs, *base).map_err(err)?;
            for (run, marks) in &tail.runs {
                if let Some(change) = marks.change {
                    changes
                        .entry(run.as_str())
                        .and_modify(|c| *c = c.then(change))
                        .or_insert(change);
                }
            }
        }
        let held = &self.held;
        let started = changes
            .iter()
            .filter(|(_, c)| **c == RunChange::Started)
            .map(|(id, _)| *id);
        // A run started and finished here needs no lease, unless an older
        // one of ours exists (a run id journaled twice).
        let finished = changes
            .iter()
            .filter(|(id, c)| {
                **c == RunChange::Finished
                    || (**c == RunChange::StartedAndFinished
                        && held.contains(LeaseKind::Running, id))
            })
            .map(|(id, _)| *id);
        lease::apply_run_changes(&tx, started, finished, &self.owner, ttl_ms).map_err(err)?;
        tx.commit().map_err(err)?;
        self.after_commit();
        for (id, change) in changes {
            match change {
                RunChange::Started => {
                    self.held.insert(LeaseKind::Running, id);
                }
                RunChange::Finished | RunChange::StartedAndFinished => {
                    self.held.remove(LeaseKind::Running, id);
                }
            }
        }
        Ok(())
    }

    /// Wakes the checkpointer; if the log still grew past
    /// [`checkpoint::WAL_LIMIT_BYTES`] (its checkpoints never catch up while
    /// commits keep coming), checkpoints here, between transactions, so
    /// that the next commit can restart the log from its beginning.
    fn after_commit(&mut self) {
        self.checkpointer.nudge();
        let size = std::fs::metadata(&self.wal_path).map_or(0, |m| m.len());
        if size > checkpoint::WAL_LIMIT_BYTES {
            if let Err(e) = self
                .conn
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            {
                tracing::warn!(path = %self.path.display(), error = %e, "checkpoint failed; retrying after the next commit");
            }
        }
    }

    fn clear(&mut self) -> Result<(), SqliteError> {
        self.rewrite(
            "clearing the journal",
            "DELETE FROM entries; DELETE FROM run_spans; DELETE FROM step_stats;
             DELETE FROM step_durations; DELETE FROM step_buckets;
             DELETE FROM step_duration_counts;
             DELETE FROM step_duration_buckets; DELETE FROM workflow_stats;
             DELETE FROM journal_counters;",
            false,
        )
    }

    fn rebuild_summaries(&mut self) -> Result<(), SqliteError> {
        self.rewrite(
            "rebuilding the summary tables",
            crate::schema::CLEAR_SUMMARIES,
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
        self.held.insert(LeaseKind::Resuming, run_id);
        Ok(())
    }

    fn release_resume(&mut self, run_id: &str) -> Result<(), SqliteError> {
        lease::release_resume(&self.conn, run_id, &self.owner)
            .map_err(self.error(format!("releasing the resume lease of run `{run_id}`")))?;
        self.held.remove(LeaseKind::Resuming, run_id);
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
