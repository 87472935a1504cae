//! Where the journal lives: `--journal`, `DAGFLOW_JOURNAL`, or
//! `.dagflow/journal.db` under the current directory.
//!
//! ```
//! use std::path::PathBuf;
//! use dagflow_cli::journal::JournalLocation;
//! assert_eq!(JournalLocation::parse(None)?, JournalLocation::Sqlite(PathBuf::from(".dagflow/journal.db")));
//! assert_eq!(JournalLocation::parse(Some("sqlite://runs.db"))?, JournalLocation::Sqlite(PathBuf::from("runs.db")));
//! assert!(JournalLocation::parse(Some("postgres://db/dagflow"))?.open(true).is_err());
//! # Ok::<(), dagflow_cli::journal::JournalError>(())
//! ```

use std::path::{Path, PathBuf};

use dagflow_sqlite::{SqliteError, SqliteStore};

/// The default journal, relative to the current directory.
pub const DEFAULT_JOURNAL: &str = ".dagflow/journal.db";

/// A journal location as given by the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JournalLocation {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL URL (not supported yet).
    Postgres(String),
}

/// Why the journal could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// A PostgreSQL URL was given.
    #[error("PostgreSQL journals (`{url}`) are not supported yet; give a SQLite file path with --journal or DAGFLOW_JOURNAL, or leave both unset to use {DEFAULT_JOURNAL}")]
    Unsupported {
        /// The URL given.
        url: String,
    },
    /// A URL with a scheme dagflow does not know.
    #[error("the journal location `{location}` has an unknown scheme; give a file path or sqlite://PATH")]
    UnknownScheme {
        /// The location given.
        location: String,
    },
    /// A command that only reads found no journal file.
    #[error("there is no journal at {}; run a workflow first, or point --journal / DAGFLOW_JOURNAL at an existing journal", path.display())]
    Missing {
        /// The path looked at.
        path: PathBuf,
    },
    /// The journal's directory could not be created.
    #[error("cannot create the journal directory {}: {source}; check the permissions or choose another --journal path", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// SQLite refused the file.
    #[error(transparent)]
    Sqlite(#[from] SqliteError),
}

impl JournalError {
    /// Whether the error is the user's configuration (exit code 2) rather
    /// than a failure of the journal itself.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            JournalError::Unsupported { .. }
                | JournalError::UnknownScheme { .. }
                | JournalError::Sqlite(
                    SqliteError::IsDirectory { .. }
                        | SqliteError::NotADatabase { .. }
                        | SqliteError::NotAJournal { .. }
                        | SqliteError::NewerSchema { .. }
                )
        )
    }
}

impl JournalLocation {
    /// Interprets `--journal` / `DAGFLOW_JOURNAL` (`None`: the default).
    pub fn parse(given: Option<&str>) -> Result<JournalLocation, JournalError> {
        let Some(given) = given.filter(|g| !g.trim().is_empty()) else {
            return Ok(JournalLocation::Sqlite(PathBuf::from(DEFAULT_JOURNAL)));
        };
        if given.starts_with("postgres://") || given.starts_with("postgresql://") {
            return Ok(JournalLocation::Postgres(given.to_owned()));
        }
        if let Some(path) = given
            .strip_prefix("sqlite://")
            .or_else(|| given.strip_prefix("sqlite:"))
        {
            return Ok(JournalLocation::Sqlite(PathBuf::from(path)));
        }
        if given.contains("://") {
            return Err(JournalError::UnknownScheme {
                location: given.to_owned(),
            });
        }
        Ok(JournalLocation::Sqlite(PathBuf::from(given)))
    }

    /// Opens the journal. With `create`, a missing file (and its directory)
    /// is created; without, a missing file is [`JournalError::Missing`].
    pub fn open(&self, create: bool) -> Result<SqliteStore, JournalError> {
        let path = match self {
            JournalLocation::Postgres(url) => {
                return Err(JournalError::Unsupported { url: url.clone() })
            }
            JournalLocation::Sqlite(path) => path,
        };
        if !create && !path.exists() {
            return Err(JournalError::Missing { path: path.clone() });
        }
        if create {
            create_parent(path)?;
        }
        Ok(SqliteStore::open(path)?)
    }

    /// The location for messages.
    pub fn display(&self) -> String {
        match self {
            JournalLocation::Sqlite(path) => path.display().to_string(),
            JournalLocation::Postgres(url) => url.clone(),
        }
    }
}

fn create_parent(path: &Path) -> Result<(), JournalError> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.exists() => std::fs::create_dir_all(dir)
            .map_err(|source| JournalError::CreateDir {
                path: dir.to_path_buf(),
                source,
            }),
        _ => Ok(()),
    }
}
