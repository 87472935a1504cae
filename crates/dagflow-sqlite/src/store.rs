//! `SqliteStore`: the journal in one SQLite file.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use dagflow::journal::{
    EventType, JournalEntry, JournalStore, QueryFilter, RunRecord, StepTotals, StoreError,
    WorkflowTotals,
};
use rusqlite::{Connection, OpenFlags, MAIN_DB};

use crate::batch::{self, TailBuilder, CHUNK_ENTRIES};
use crate::checkpoint;
use crate::connection::{open_reader, switch_to_wal, wal_path};
use crate::deferred::Deferred;
use crate::error::SqliteError;
use crate::lease::{self, HeldLeases, LeaseKind, Owner, RunLease};
use crate::options::SqliteOptions;
use crate::queries::Reader;
use crate::schema::{self, LATEST_VERSION};
use crate::writer::{Answer, Append, Command, Part, Rest, Writer};

/// Idle read connections kept for reuse.
const MAX_IDLE_READERS: usize = 4;

/// A journal kept in a SQLite file: durable, shared by processes, queried
/// with SQL.
///
/// Writes go through a writer thread that groups concurrent appends into
/// one transaction (group commit); `append` returns once its entries are
/// committed. Reads use their own connections and never wait for writes.
/// The store is `Send + Sync`: share it as `Arc<SqliteStore>` (or
/// `Arc<dyn JournalStore>`). Dropping the last handle finishes queued
/// writes and stops the writer thread.
///
/// ```
/// use dagflow::journal::{EntryStatus, EventType, JournalEntry, JournalStore};
/// use dagflow_sqlite::SqliteStore;
/// use std::time::SystemTime;
///
/// let dir = tempfile::tempdir()?;
/// let store = SqliteStore::open(dir.path().join("journal.db"))?;
/// let start = JournalEntry::new("run-1", "etl", EventType::WorkflowStart, None,
///                               EntryStatus::Started, SystemTime::now());
/// store.append(&[start])?;
/// assert_eq!(store.by_workflow_id("run-1")?.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct SqliteStore {
    shared: Arc<Shared>,
}

struct Shared {
    path: PathBuf,
    options: SqliteOptions,
    /// `None` for a read-only store.
    commands: Option<Sender<Command>>,
    /// The writer thread, then the checkpointer thread (joined in order).
    writer: Mutex<Vec<JoinHandle<()>>>,
    readers: Mutex<Vec<Connection>>,
    owner: Owner,
    deferred: Arc<Deferred>,
    /// The writer thread, to wake it from its wait for more deferred
    /// appends when someone waits for them (`None` when read-only).
    writer_thread: Option<std::thread::Thread>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .field("read_only", &self.commands.is_none())
            .finish()
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Closing the channel lets the writer finish what is queued and exit.
        self.commands = None;
        if let Ok(mut threads) = self.writer.lock() {
            // The checkpointer stops once the writer (holding its nudge) has.
            for handle in threads.drain(..) {
                if handle.join().is_err() {
                    tracing::error!(path = %self.path.display(), "a journal thread panicked");
                }
            }
        }
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the journal at `path` with the default
    /// options: WAL, `synchronous=NORMAL`, 30 s busy timeout.
    ///
    /// Creates or upgrades the schema. Fails with a [`SqliteError`] naming
    /// the path if it is a directory, not a SQLite file, another
    /// application's database, a journal of a newer dagflow, or read-only;
    /// in each case the file is left untouched.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore, SqliteError> {
        SqliteStore::open_with(path, SqliteOptions::default())
    }

    /// Opens the journal at `path` with `options`.
    pub fn open_with(
        path: impl AsRef<Path>,
        options: SqliteOptions,
    ) -> Result<SqliteStore, SqliteError> {
        let path = path.as_ref().to_path_buf();
        if path.is_dir() {
            return Err(SqliteError::IsDirectory { path });
        }
        let busy_ms = options.busy_timeout.as_millis() as u64;
        let owner = Owner::current();
        if options.read_only {
            let conn = open_reader(&path, &options)?;
            let header = schema::check_header(&conn, &path, busy_ms)?;
            if header.version < LATEST_VERSION {
                return Err(SqliteError::NotAJournal {
                    path,
                    found: format!(
                        "its schema version {} is older than {LATEST_VERSION}; open it once without read_only to upgrade it",
                        header.version
                    ),
                });
            }
            return Ok(SqliteStore {
                shared: Arc::new(Shared {
                    path,
                    options,
                    commands: None,
                    writer: Mutex::new(Vec::new()),
                    readers: Mutex::new(vec![conn]),
                    owner,
                    deferred: Arc::default(),
                    writer_thread: None,
                }),
            });
        }
        if std::fs::metadata(&path).is_ok_and(|m| m.permissions().readonly()) {
            // Root could write anyway; respect the owner's intent.
            return Err(SqliteError::ReadOnly { path });
        }
        let mut conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| SqliteError::CannotOpen {
            path: path.clone(),
            source,
        })?;
        let err = |context: &'static str| {
            let path = path.clone();
            move |e| SqliteError::classify(&path, context, e, busy_ms)
        };
        conn.busy_timeout(options.busy_timeout)
            .map_err(err("setting the busy timeout"))?;
        schema::check_header(&conn, &path, busy_ms)?;
        if conn
            .is_readonly(MAIN_DB)
            .map_err(err("checking write access"))?
        {
            return Err(SqliteError::ReadOnly { path });
        }
        let mode =
            switch_to_wal(&conn, options.busy_timeout).map_err(err("switching to WAL mode"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(SqliteError::Setup {
                path: path.clone(),
                detail: format!(
                    "the file does not support WAL mode (journal_mode stayed `{mode}`); use a file on a local disk"
                ),
            });
        }
        conn.pragma_update(None, "synchronous", options.synchronous.pragma_value())
            .map_err(err("setting synchronous"))?;
        if let Some(pages) = options.max_page_count {
            conn.pragma_update(
                None,
                "max_page_count",
                i64::try_from(pages).unwrap_or(i64::MAX),
            )
            .map_err(err("setting max_page_count"))?;
        }
        // Statement journals of multi-row inserts stay in memory.
        conn.pragma_update(None, "temp_store", "MEMORY")
            .map_err(err("keeping temporary data in memory"))?;
        // Checkpoints run on their own thread (see checkpoint.rs).
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(err("disabling automatic checkpoints"))?;
        conn.pragma_update(None, "journal_size_limit", checkpoint::WAL_KEEP_BYTES)
            .map_err(err("limiting the write-ahead log"))?;
        schema::migrate(&mut conn, &path, LATEST_VERSION, busy_ms)?;
        conn.set_prepared_statement_cache_capacity(32);

        let thread_error = |e: std::io::Error| SqliteError::Setup {
            path: path.clone(),
            detail: format!("a journal thread could not start ({e}); free resources and retry"),
        };
        let (checkpointer, checkpoint_thread) =
            checkpoint::spawn(path.clone(), options.busy_timeout).map_err(thread_error)?;
        let (commands, receiver) = mpsc::channel();
        let deferred = Arc::new(Deferred::default());
        let writer = Writer {
            conn,
            path: path.clone(),
            owner: owner.clone(),
            lease_ttl: options.lease_ttl,
            busy_ms,
            max_batch_entries: options.max_batch_entries,
            held: HeldLeases::default(),
            checkpointer,
            wal_path: wal_path(&path),
            deferred: Arc::clone(&deferred),
        };
        let writer_thread = writer.spawn(receiver).map_err(thread_error)?;
        let writer_handle = writer_thread.thread().clone();
        Ok(SqliteStore {
            shared: Arc::new(Shared {
                path,
                options,
                commands: Some(commands),
                writer: Mutex::new(vec![writer_thread, checkpoint_thread]),
                readers: Mutex::new(Vec::new()),
                owner,
                deferred,
                writer_thread: Some(writer_handle),
            }),
        })
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// The options it was opened with.
    pub fn options(&self) -> &SqliteOptions {
        &self.shared.options
    }

    /// Wakes the writer if it is parked gathering deferred appends: someone
    /// now waits for it.
    fn wake_writer(&self) {
        SqliteStore::wake(&self.shared);
    }

    fn wake(shared: &Shared) {
        if let Some(writer) = &shared.writer_thread {
            writer.unpark();
        }
    }

    /// Sends a command to the writer thread and waits for its answer.
    fn call(
        &self,
        make: impl FnOnce(mpsc::SyncSender<Result<(), SqliteError>>) -> Command,
    ) -> Result<(), SqliteError> {
        let stopped = || SqliteError::WriterStopped {
            path: self.shared.path.clone(),
        };
        let Some(commands) = &self.shared.commands else {
            return Err(SqliteError::ReadOnly {
                path: self.shared.path.clone(),
            });
        };
        let (reply, answer) = mpsc::sync_channel(1);
        commands.send(make(reply)).map_err(|_| stopped())?;
        self.wake_writer();
        blocking(|| answer.recv()).map_err(|_| stopped())?
    }

    /// Appends entries (see [`JournalStore::append`]) with this crate's
    /// error type. All of them are written in one transaction, committed
    /// before this returns.
    pub fn append_entries(&self, entries: &[JournalEntry]) -> Result<(), SqliteError> {
        if entries.is_empty() {
            return Ok(());
        }
        let path = &self.shared.path;
        let mut tail = TailBuilder::default();
        if entries.len() <= CHUNK_ENTRIES {
            let rows = batch::encode(entries, path, &mut tail)?;
            let rest = Rest::Tail(tail.finish());
            return self.call(|reply| {
                Command::Append(Append {
                    rows,
                    rest,
                    answer: Answer::Now(reply),
                })
            });
        }
        let mut chunks = batch::chunks(entries);
        let first = batch::encode(chunks.next().unwrap_or_default(), path, &mut tail)?;
        // Large appends stream: the writer inserts chunk k while this
        // thread encodes chunk k + 1.
        let Some(commands) = &self.shared.commands else {
            return Err(SqliteError::ReadOnly { path: path.clone() });
        };
        let (parts, stream) = mpsc::sync_channel(2);
        let (reply, answer) = mpsc::sync_channel(1);
        let stopped = || SqliteError::WriterStopped { path: path.clone() };
        commands
            .send(Command::Append(Append {
                rows: first,
                rest: Rest::Stream(stream),
                answer: Answer::Now(reply),
            }))
            .map_err(|_| stopped())?;
        self.wake_writer();
        for chunk in chunks {
            // On an encoding error, dropping `parts` abandons the append.
            let rows = batch::encode(chunk, path, &mut tail)?;
            if parts.send(Part::Rows(rows)).is_err() {
                // The writer gave up on this append (the disk is full, say);
                // its answer says why.
                break;
            }
        }
        let _ = parts.send(Part::End(tail.finish()));
        blocking(|| answer.recv()).map_err(|_| stopped())?
    }

    /// Queues entries to be committed in the background, shortly and with
    /// whatever else is queued (see [`JournalStore::append_deferred`]);
    /// returns once they are queued, in journal order.
    pub fn append_entries_deferred(&self, entries: &[JournalEntry]) -> Result<(), SqliteError> {
        if entries.is_empty() {
            return Ok(());
        }
        let path = &self.shared.path;
        let Some(commands) = &self.shared.commands else {
            return Err(SqliteError::ReadOnly { path: path.clone() });
        };
        if entries.len() > CHUNK_ENTRIES {
            // Large appends stream, which deferral does not cover.
            return self.append_entries(entries);
        }
        let mut tail = TailBuilder::default();
        let rows = batch::encode(entries, path, &mut tail)?;
        let rest = Rest::Tail(tail.finish());
        self.shared.deferred.queue(|position| {
            commands
                .send(Command::Append(Append {
                    rows,
                    rest,
                    answer: Answer::Deferred(position),
                }))
                .map_err(|_| SqliteError::WriterStopped { path: path.clone() })
        })
    }

    /// Blocks until the deferred appends covered by `mark` (see
    /// [`JournalStore::mark`]) are committed, asking the writer to commit
    /// at once; reports the oldest deferred failure not reported yet.
    pub fn wait_committed(&self, mark: u64) -> Result<(), SqliteError> {
        let shared = &self.shared;
        if shared
            .deferred
            .is_committed(mark.min(shared.deferred.mark()))
        {
            // The usual case: nothing to wait for, so no thread hand-off.
            return shared.deferred.take_failure();
        }
        blocking(|| {
            shared.deferred.wait(
                mark,
                || {
                    if let Some(commands) = &shared.commands {
                        let _ = commands.send(Command::Flush);
                    }
                    SqliteStore::wake(shared);
                },
                &shared.path,
            )
        })
    }

    /// Copies the write-ahead log into the database file and syncs it, so
    /// that every committed entry also survives power loss.
    pub fn checkpoint(&self) -> Result<(), SqliteError> {
        self.call(|reply| Command::Checkpoint { reply })
    }

    /// Recomputes the summary tables from the entries (they are kept up to
    /// date on every append; this repairs a file edited by other programs).
    pub fn rebuild_summaries(&self) -> Result<(), SqliteError> {
        self.call(|reply| Command::RebuildSummaries { reply })
    }

    /// Takes the resume lease of `run_id`: fails with
    /// [`SqliteError::RunStillLive`] while a live process still executes the
    /// run and with [`SqliteError::AlreadyResuming`] while another resumes
    /// it. Hold the claim for as long as the resume runs; dropping it (or
    /// this process dying) releases it.
    ///
    /// ```
    /// use dagflow_sqlite::{SqliteError, SqliteStore};
    /// let dir = tempfile::tempdir()?;
    /// let store = SqliteStore::open(dir.path().join("journal.db"))?;
    /// let claim = store.claim_resume("run-1")?;
    /// assert!(matches!(store.claim_resume("run-1"), Err(SqliteError::AlreadyResuming { .. })));
    /// drop(claim);
    /// assert!(store.claim_resume("run-1").is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn claim_resume(&self, run_id: &str) -> Result<ResumeClaim, SqliteError> {
        let id = run_id.to_string();
        self.call(|reply| Command::ClaimResume { run_id: id, reply })?;
        Ok(ResumeClaim {
            store: self.clone(),
            run_id: run_id.to_string(),
            released: false,
        })
    }

    /// The lease of `kind` on `run_id`, if one is recorded, with whether its
    /// owner is alive.
    pub fn lease(&self, run_id: &str, kind: LeaseKind) -> Result<Option<RunLease>, SqliteError> {
        self.read(|r| {
            lease::read(r.conn, run_id, kind, &self.shared.owner)
                .map_err(|e| SqliteError::classify(r.path, "reading a run lease", e, r.busy_ms))
        })
    }

    /// The schema version of the file.
    pub fn schema_version(&self) -> Result<i64, SqliteError> {
        self.read(|r| {
            r.conn
                .pragma_query_value(None, "user_version", |row| row.get(0))
                .map_err(|e| {
                    SqliteError::classify(r.path, "reading the schema version", e, r.busy_ms)
                })
        })
    }

    /// Runs `f` with a pooled read connection.
    fn read<T>(
        &self,
        f: impl FnOnce(&Reader<'_>) -> Result<T, SqliteError>,
    ) -> Result<T, SqliteError> {
        let pooled = self
            .shared
            .readers
            .lock()
            .ok()
            .and_then(|mut pool| pool.pop());
        let conn = match pooled {
            Some(conn) => conn,
            None => open_reader(&self.shared.path, &self.shared.options)?,
        };
        let outcome = f(&Reader {
            conn: &conn,
            path: &self.shared.path,
            busy_ms: self.shared.options.busy_timeout.as_millis() as u64,
        });
        if let Ok(mut pool) = self.shared.readers.lock() {
            if pool.len() < MAX_IDLE_READERS {
                pool.push(conn);
            }
        }
        outcome
    }
}

/// The right to resume one run, held by this process until dropped (see
/// [`SqliteStore::claim_resume`]).
#[derive(Debug)]
pub struct ResumeClaim {
    store: SqliteStore,
    run_id: String,
    released: bool,
}

impl ResumeClaim {
    /// The run being resumed.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Releases the claim now, reporting failure (dropping releases too,
    /// logging failure).
    pub fn release(mut self) -> Result<(), SqliteError> {
        self.released = true;
        let run_id = self.run_id.clone();
        self.store.call(|reply| Command::ReleaseResume {
            run_id,
            reply: Some(reply),
        })
    }
}

impl Drop for ResumeClaim {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        if let Some(commands) = &self.store.shared.commands {
            // Fire and forget: the writer logs a failure, and the lease
            // expires with its TTL anyway.
            let _ = commands.send(Command::ReleaseResume {
                run_id: std::mem::take(&mut self.run_id),
                reply: None,
            });
        }
    }
}

impl JournalStore for SqliteStore {
    fn append(&self, entries: &[JournalEntry]) -> Result<(), StoreError> {
        Ok(self.append_entries(entries)?)
    }

    fn flush(&self) -> Result<(), StoreError> {
        // The checkpoint is queued behind every deferred append.
        self.checkpoint()?;
        Ok(self.shared.deferred.take_failure()?)
    }

    fn defers(&self) -> bool {
        self.shared.commands.is_some()
    }

    fn append_deferred(&self, entry: JournalEntry) -> Result<(), StoreError> {
        Ok(self.append_entries_deferred(std::slice::from_ref(&entry))?)
    }

    fn mark(&self) -> u64 {
        self.shared.deferred.mark()
    }

    fn wait_durable(&self, mark: u64) -> Result<(), StoreError> {
        Ok(self.wait_committed(mark)?)
    }

    fn entry_count(&self) -> Result<u64, StoreError> {
        Ok(self.read(|r| r.entry_count())?)
    }

    fn by_workflow_id(&self, workflow_id: &str) -> Result<Vec<JournalEntry>, StoreError> {
        Ok(self.read(|r| r.by_workflow_id(workflow_id))?)
    }

    fn by_event_type(&self, event_type: EventType) -> Result<Vec<JournalEntry>, StoreError> {
        Ok(self.read(|r| r.by_event_type(event_type))?)
    }

    fn recent(&self, n: usize) -> Result<Vec<JournalEntry>, StoreError> {
        Ok(self.read(|r| r.recent(n))?)
    }

    fn clear(&self) -> Result<(), StoreError> {
        Ok(self.call(|reply| Command::Clear { reply })?)
    }

    fn workflow_totals(&self, filter: &QueryFilter) -> Result<WorkflowTotals, StoreError> {
        Ok(self.read(|r| r.workflow_totals(filter))?)
    }

    fn step_totals(&self, filter: &QueryFilter) -> Result<Vec<StepTotals>, StoreError> {
        Ok(self.read(|r| r.step_totals(filter))?)
    }

    fn workflow_durations(
        &self,
        filter: &QueryFilter,
        last: Option<usize>,
    ) -> Result<Vec<f64>, StoreError> {
        Ok(self.read(|r| r.workflow_durations(filter, last))?)
    }

    fn runs(&self, filter: &QueryFilter, limit: usize) -> Result<Vec<RunRecord>, StoreError> {
        Ok(self.read(|r| r.runs(filter, limit))?)
    }

    fn workflow_names(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.read(|r| r.all_workflow_names())?)
    }
}

/// Runs `wait`, a blocking wait for the writer thread. On a worker of a
/// multi-threaded tokio runtime, the worker's other tasks move to another
/// thread meanwhile (a task the engine just woke, say, would otherwise
/// wait for this commit too).
fn blocking<T>(wait: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    let on_worker =
        Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread);
    if on_worker {
        tokio::task::block_in_place(wait)
    } else {
        wait()
    }
}
