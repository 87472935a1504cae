//! Errors of the SQLite journal.

use std::path::{Path, PathBuf};

use rusqlite::ErrorCode;

/// Why the SQLite journal could not do what was asked.
///
/// Every message names the journal file and says what to do. When a write
/// fails, the entries already committed stay intact: a failed transaction is
/// rolled back as a whole.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqliteError {
    /// The path names a directory, not a file.
    #[error("the journal path {} is a directory; give a file path inside it, such as {}", path.display(), path.join("journal.db").display())]
    IsDirectory {
        /// The path given.
        path: PathBuf,
    },
    /// The file could not be opened or created.
    #[error("could not open the journal {}: {source}; check that its directory exists and is writable", path.display())]
    CannotOpen {
        /// The journal file.
        path: PathBuf,
        /// What SQLite reported.
        #[source]
        source: rusqlite::Error,
    },
    /// The journal could not be set up (the file system lacks a feature, or
    /// a thread could not start).
    #[error("could not set up the journal {}: {detail}", path.display())]
    Setup {
        /// The file.
        path: PathBuf,
        /// What failed and what to do.
        detail: String,
    },
    /// The file exists but is not a SQLite database.
    #[error("{} is not a SQLite database (another kind of file, or a damaged one); it was left untouched: choose another journal path", path.display())]
    NotADatabase {
        /// The file.
        path: PathBuf,
    },
    /// The file is a SQLite database of another application.
    #[error("{} is a SQLite database but not a dagflow journal ({found}); it was left untouched: choose another journal path", path.display())]
    NotAJournal {
        /// The file.
        path: PathBuf,
        /// What was found instead.
        found: String,
    },
    /// The journal was written by a newer dagflow.
    #[error("the journal {} has schema version {found}, newer than the {supported} this dagflow understands; it was left untouched: upgrade dagflow to use it", path.display())]
    NewerSchema {
        /// The file.
        path: PathBuf,
        /// The version found in the file.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// The file (or its directory) cannot be written.
    #[error("the journal {} is read-only; make the file and its directory writable (chmod u+w), or open it with SqliteOptions::read_only(true) to query it", path.display())]
    ReadOnly {
        /// The file.
        path: PathBuf,
    },
    /// The disk is full or the configured size limit was reached.
    #[error("the journal {} is full (no space left on the disk, or its max_page_count limit reached); the entries written before are intact: free disk space or raise the limit, then retry", path.display())]
    Full {
        /// The file.
        path: PathBuf,
    },
    /// Another process held the write lock for longer than the busy timeout.
    #[error("the journal {} stayed locked by another process for longer than the busy timeout ({timeout_ms} ms); retry, or raise SqliteOptions::busy_timeout", path.display())]
    Busy {
        /// The file.
        path: PathBuf,
        /// The timeout that elapsed.
        timeout_ms: u64,
    },
    /// SQLite found the file damaged.
    #[error("the journal {} is damaged ({detail}); restore it from a backup or move it aside and start a new one", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What SQLite reported.
        detail: String,
    },
    /// A row could not be turned back into a journal entry.
    #[error("the journal {} holds an entry that cannot be read (row {row}: {detail}); it was written by a foreign or damaged program", path.display())]
    InvalidRow {
        /// The file.
        path: PathBuf,
        /// The entry's row id.
        row: i64,
        /// What is wrong with it.
        detail: String,
    },
    /// The summary tables disagree with the entries.
    #[error("the summaries of the journal {} disagree with its entries ({detail}); it was changed by another program: rebuild them with SqliteStore::rebuild_summaries", path.display())]
    Inconsistent {
        /// The file.
        path: PathBuf,
        /// What disagrees.
        detail: String,
    },
    /// An entry could not be encoded (its result or details failed to serialize).
    #[error("an entry of run `{workflow_id}` could not be encoded for the journal {}: {detail}", path.display())]
    Encode {
        /// The file.
        path: PathBuf,
        /// The run of the entry.
        workflow_id: String,
        /// Why.
        detail: String,
    },
    /// Any other SQLite failure.
    #[error("SQLite failed while {context} in the journal {}: {source}", path.display())]
    Sqlite {
        /// The file.
        path: PathBuf,
        /// What the store was doing.
        context: String,
        /// What SQLite reported.
        #[source]
        source: rusqlite::Error,
    },
    /// The writer thread is gone (it panicked, or the store is shutting down).
    #[error("the writer of the journal {} has stopped; reopen the journal", path.display())]
    WriterStopped {
        /// The file.
        path: PathBuf,
    },
    /// The run is still being executed by a live process.
    #[error("run `{run_id}` is still live: process {pid} on host `{host}` owns it (last heartbeat {heartbeat_age_ms} ms ago); wait for it to finish or stop that process before resuming")]
    RunStillLive {
        /// The run.
        run_id: String,
        /// Its owner's process id.
        pid: u32,
        /// Its owner's host name.
        host: String,
        /// How long ago the owner last proved it was alive.
        heartbeat_age_ms: i64,
    },
    /// Another live process is already resuming the run.
    #[error("run `{run_id}` is already being resumed by process {pid} on host `{host}` (last heartbeat {heartbeat_age_ms} ms ago); wait for that resume to finish")]
    AlreadyResuming {
        /// The run.
        run_id: String,
        /// The resuming process id.
        pid: u32,
        /// The resuming host.
        host: String,
        /// How long ago that process last proved it was alive.
        heartbeat_age_ms: i64,
    },
}

impl SqliteError {
    /// Turns a SQLite error into the most precise variant for `path`;
    /// `context` says what the store was doing ("appending 3 entries").
    pub(crate) fn classify(
        path: &Path,
        context: impl Into<String>,
        source: rusqlite::Error,
        busy_timeout_ms: u64,
    ) -> SqliteError {
        let path = path.to_path_buf();
        let code = source.sqlite_error_code();
        match code {
            Some(ErrorCode::NotADatabase) => SqliteError::NotADatabase { path },
            Some(ErrorCode::ReadOnly) => SqliteError::ReadOnly { path },
            Some(ErrorCode::DiskFull) => SqliteError::Full { path },
            Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => SqliteError::Busy {
                path,
                timeout_ms: busy_timeout_ms,
            },
            Some(ErrorCode::DatabaseCorrupt) => SqliteError::Corrupt {
                path,
                detail: source.to_string(),
            },
            Some(ErrorCode::CannotOpen) | Some(ErrorCode::PermissionDenied) => {
                SqliteError::CannotOpen { path, source }
            }
            _ => SqliteError::Sqlite {
                path,
                context: context.into(),
                source,
            },
        }
    }
}

impl From<SqliteError> for dagflow::journal::StoreError {
    fn from(error: SqliteError) -> Self {
        let context = match &error {
            SqliteError::InvalidRow { .. } => return Self::Invalid(error.to_string()),
            SqliteError::NotADatabase { path }
            | SqliteError::NotAJournal { path, .. }
            | SqliteError::NewerSchema { path, .. }
            | SqliteError::ReadOnly { path }
            | SqliteError::Full { path }
            | SqliteError::Busy { path, .. }
            | SqliteError::Corrupt { path, .. }
            | SqliteError::Inconsistent { path, .. }
            | SqliteError::Setup { path, .. }
            | SqliteError::Encode { path, .. }
            | SqliteError::Sqlite { path, .. }
            | SqliteError::WriterStopped { path }
            | SqliteError::IsDirectory { path }
            | SqliteError::CannotOpen { path, .. } => {
                format!("using the SQLite journal {}", path.display())
            }
            SqliteError::RunStillLive { run_id, .. }
            | SqliteError::AlreadyResuming { run_id, .. } => {
                format!("claiming run `{run_id}`")
            }
        };
        Self::backend(context, error)
    }
}
