//! How a journal file is opened.

use std::time::Duration;

/// When a committed transaction reaches the disk.
///
/// The journal always runs SQLite in WAL mode. Either level keeps every
/// acknowledged entry when the *process* dies (crash, panic, `SIGKILL`):
/// a commit is in the WAL file before `append` returns. They differ on
/// power loss or an operating-system crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Synchronous {
    /// `synchronous=NORMAL`: the WAL is synced at checkpoints, not at each
    /// commit. A power loss may lose the last transactions (never corrupt
    /// the file). The default: commits cost no `fsync`.
    #[default]
    Normal,
    /// `synchronous=FULL`: every commit is synced before `append` returns,
    /// so acknowledged entries also survive power loss. Each commit costs an
    /// `fsync`; group commit shares it among concurrent appends.
    Full,
}

impl Synchronous {
    pub(crate) fn pragma_value(self) -> &'static str {
        match self {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        }
    }
}

/// Options for [`SqliteStore::open_with`](crate::SqliteStore::open_with).
///
/// ```
/// use dagflow_sqlite::{SqliteOptions, Synchronous};
/// use std::time::Duration;
/// let options = SqliteOptions::new()
///     .synchronous(Synchronous::Full)
///     .busy_timeout(Duration::from_secs(10));
/// assert_eq!(options.get_busy_timeout(), Duration::from_secs(10));
/// ```
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    pub(crate) synchronous: Synchronous,
    pub(crate) busy_timeout: Duration,
    pub(crate) read_only: bool,
    pub(crate) max_page_count: Option<u64>,
    pub(crate) lease_ttl: Duration,
    pub(crate) max_batch_entries: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            synchronous: Synchronous::Normal,
            busy_timeout: Duration::from_secs(30),
            read_only: false,
            max_page_count: None,
            lease_ttl: Duration::from_secs(30),
            max_batch_entries: 50_000,
        }
    }
}

impl SqliteOptions {
    /// The defaults: `synchronous=NORMAL`, 30 s busy timeout, read-write,
    /// no size limit, 30 s run leases.
    pub fn new() -> Self {
        SqliteOptions::default()
    }

    /// When commits reach the disk (see [`Synchronous`]).
    pub fn synchronous(mut self, level: Synchronous) -> Self {
        self.synchronous = level;
        self
    }

    /// How long a write waits for another process holding the write lock
    /// before failing with [`SqliteError::Busy`](crate::SqliteError::Busy).
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// Opens the journal for queries only: nothing is created, migrated or
    /// written, and `append` fails with
    /// [`SqliteError::ReadOnly`](crate::SqliteError::ReadOnly).
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// Caps the file at `pages` database pages (4 KiB each): writes beyond
    /// fail with [`SqliteError::Full`](crate::SqliteError::Full), as on a
    /// full disk. `None` (the default) means no limit.
    pub fn max_page_count(mut self, pages: Option<u64>) -> Self {
        self.max_page_count = pages;
        self
    }

    /// How long a run's lease lasts without a heartbeat. The owning store
    /// renews its leases every third of this; a run whose owner stopped
    /// renewing for longer is considered dead and may be resumed.
    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl.max(Duration::from_millis(30));
        self
    }

    /// The most entries the writer puts in one transaction when it groups
    /// concurrent appends (a single larger append is still one transaction).
    pub fn max_batch_entries(mut self, entries: usize) -> Self {
        self.max_batch_entries = entries.max(1);
        self
    }

    /// The configured busy timeout.
    pub fn get_busy_timeout(&self) -> Duration {
        self.busy_timeout
    }

    /// The configured durability level.
    pub fn get_synchronous(&self) -> Synchronous {
        self.synchronous
    }
}
