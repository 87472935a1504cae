//! A durable SQLite journal for dagflow.
//!
//! [`SqliteStore`] implements [`dagflow::journal::JournalStore`] over one
//! SQLite file: the embedded default journal, with nothing to install.
//!
//! - **Write-ahead, group commit.** A writer thread owns the write
//!   connection and commits everything queued at once in one transaction;
//!   `append` returns after its entries are committed.
//! - **Durability.** WAL mode. With the default [`Synchronous::Normal`], an
//!   acknowledged entry survives the crash of the process (`SIGKILL`
//!   included); with [`Synchronous::Full`] it also survives power loss. The
//!   async engine journals a task's end with a deferred append (committed
//!   in the background within 20 ms, many per transaction) and
//!   waits for it only before starting a dependent, so a step's result is
//!   durable before any step that depends on it starts.
//! - **Analytics in SQL.** Summary tables maintained on insert make every
//!   aggregate of the trait cost O(steps), and exact percentiles come from
//!   counts of each distinct duration, read within one bucket.
//! - **Several processes** may write one file at once (WAL, busy timeout,
//!   `BEGIN IMMEDIATE`): no entry is lost or duplicated.
//! - **Run leases** tell whether a run is still executing, so a live run is
//!   never resumed (see [`SqliteStore::claim_resume`]).
//! - **Versioned schema.** Older files are upgraded on open; files of a newer
//!   version, other applications' databases and non-SQLite files are refused
//!   untouched.
//!
//! ```
//! use dagflow::journal::{EntryStatus, EventType, JournalEntry, JournalStore, QueryFilter};
//! use dagflow_sqlite::SqliteStore;
//! use std::time::SystemTime;
//!
//! let dir = tempfile::tempdir()?;
//! let store = SqliteStore::open(dir.path().join("journal.db"))?;
//! let mut step = JournalEntry::new("run-1", "etl", EventType::StepComplete,
//!                                  Some("load".into()), EntryStatus::Completed, SystemTime::now());
//! step.duration_ms = 12.5;
//! step.attempt = 1;
//! store.append(&[step])?;
//! let totals = store.step_totals(&QueryFilter::all())?;
//! assert_eq!(totals[0].step_name, "load");
//! assert_eq!(totals[0].p50_us, Some(12_500));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

mod batch;
mod checkpoint;
mod codec;
mod connection;
mod deferred;
mod error;
mod fast_hash;
mod lease;
mod multirow;
mod options;
mod packed;
mod queries;
mod schema;
mod spans;
mod store;
mod summary;
mod writer;

pub use error::SqliteError;
pub use lease::{LeaseKind, RunLease};
pub use options::{SqliteOptions, Synchronous};
pub use schema::LATEST_VERSION;
pub use store::{ResumeClaim, SqliteStore};
