//! Opening connections to a journal file: the write-ahead log's path, read
//! connections, and the switch to WAL mode.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use crate::error::SqliteError;
use crate::options::SqliteOptions;

/// The write-ahead log of the journal at `path`.
pub(crate) fn wal_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

/// Opens a connection for queries.
pub(crate) fn open_reader(path: &Path, options: &SqliteOptions) -> Result<Connection, SqliteError> {
    let flags = if options.read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn =
        Connection::open_with_flags(path, flags).map_err(|source| SqliteError::CannotOpen {
            path: path.to_path_buf(),
            source,
        })?;
    let busy_ms = options.busy_timeout.as_millis() as u64;
    let err = |e| SqliteError::classify(path, "preparing a read connection", e, busy_ms);
    conn.busy_timeout(options.busy_timeout).map_err(err)?;
    conn.pragma_update(None, "query_only", true).map_err(err)?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

/// Switches the file to WAL mode (a no-op once it is). The switch takes an
/// exclusive lock without going through the busy handler, so while other
/// processes open the same new file it can fail with "busy" at once: retry
/// until the busy timeout runs out.
pub(crate) fn switch_to_wal(
    conn: &Connection,
    busy_timeout: std::time::Duration,
) -> rusqlite::Result<String> {
    let deadline = std::time::Instant::now() + busy_timeout;
    loop {
        match conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0)) {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if matches!(
                    e.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            outcome => return outcome,
        }
    }
}
