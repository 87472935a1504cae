//! The checkpointer thread: copies the write-ahead log into the database.
//!
//! SQLite's automatic checkpoint runs inside the commit that crosses its
//! threshold, and with `synchronous=NORMAL` that is where the `fsync`s
//! happen: an append would now and then wait for the disk. The writer
//! therefore disables it and, after its commits, wakes this thread, which
//! runs a `PASSIVE` checkpoint on its own connection (at most every
//! [`MIN_INTERVAL`]) while the writer goes on committing.
//!
//! Under a steady stream of commits such a checkpoint never catches up with
//! the end of the log, and the log only restarts from its beginning once a
//! checkpoint has. So when the log file passes [`WAL_LIMIT_BYTES`], the
//! writer checkpoints the (by then small) rest itself between two
//! transactions; the log then restarts and is truncated to
//! [`WAL_KEEP_BYTES`].

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

/// Log size past which the writer checkpoints itself.
pub(crate) const WAL_LIMIT_BYTES: u64 = 64 * 1024 * 1024;

/// Size the log is truncated to when it restarts (`journal_size_limit`).
pub(crate) const WAL_KEEP_BYTES: i64 = 16 * 1024 * 1024;

/// The shortest pause between two checkpoints.
pub(crate) const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// Wakes the checkpointer; never blocks.
#[derive(Debug, Clone)]
pub(crate) struct Nudge(SyncSender<()>);

impl Nudge {
    pub(crate) fn nudge(&self) {
        match self.0.try_send(()) {
            Ok(()) | Err(TrySendError::Full(())) | Err(TrySendError::Disconnected(())) => {}
        }
    }
}

/// Starts the checkpointer for the journal at `path`; it stops when every
/// [`Nudge`] is dropped.
pub(crate) fn spawn(
    path: PathBuf,
    busy_timeout: Duration,
) -> std::io::Result<(Nudge, JoinHandle<()>)> {
    let (sender, receiver) = std::sync::mpsc::sync_channel(1);
    let handle = std::thread::Builder::new()
        .name("dagflow-ckpt".to_string())
        .spawn(move || run(path, busy_timeout, receiver))?;
    Ok((Nudge(sender), handle))
}

fn run(path: PathBuf, busy_timeout: Duration, nudges: Receiver<()>) {
    let conn = match Connection::open_with_flags(
        &path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .and_then(|c| c.busy_timeout(busy_timeout).map(|()| c))
    {
        Ok(conn) => conn,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "the checkpointer could not open the journal; the write-ahead log grows until the journal is closed");
            return;
        }
    };
    // A nudge that arrives during the pause after a checkpoint is kept for
    // the next one; the store closing ends the pause at once.
    let mut nudged = false;
    loop {
        if !nudged && nudges.recv().is_err() {
            return;
        }
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(path = %path.display(), error = %e, "checkpoint failed; retrying at the next one");
        }
        nudged = false;
        let pause_end = Instant::now() + MIN_INTERVAL;
        loop {
            match nudges.recv_timeout(pause_end.saturating_duration_since(Instant::now())) {
                Ok(()) => nudged = true,
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }
}
