//! The journal stores on the journal workload of WORKLOADS.md (the
//! synthetic history): `dagflow-sqlite` is `dagflow_sqlite::SqliteStore`
//! with `synchronous=NORMAL` (the default: a committed entry survives a
//! crash of the process), `dagflow-memory` the in-memory `MemoryStore`.
//!
//! - `journal-record-*`: `build` opens a fresh store (a new file for
//!   SQLite); `run` appends the whole history in batches of 1,000
//!   workflows (6,000 entries, one transaction each) and flushes it (a
//!   checkpoint and an `fsync`). Per-task figures are per entry.
//! - `journal-insight-*`: the history is recorded once per process,
//!   outside every timing; `build` opens the store (SQLite: a new
//!   connection to the file), `run` is `generate_insight()`, the first call
//!   on that store.
//!
//! SQLite files go into a temporary directory under `BENCH_DIR`, else the
//! current directory: a real disk, where `/tmp` may be memory and make
//! durability free.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use dagflow::analytics::WorkflowAnalytics;
use dagflow::journal::{synthetic, JournalEntry, JournalStore, MemoryStore};
use dagflow_sqlite::{SqliteOptions, SqliteStore, Synchronous};
use tempfile::TempDir;

use super::{BenchError, Ctx, Sample};
use crate::workload::JournalPhase;

/// Which store an engine measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Store {
    Sqlite,
    Memory,
}

/// Entries appended per call (1,000 workflows of 6 entries).
const BATCH: usize = 6_000;

/// The history, generated once per process (a process measures one
/// workload).
fn history(workflows: usize) -> &'static [JournalEntry] {
    static HISTORY: OnceLock<Vec<JournalEntry>> = OnceLock::new();
    HISTORY.get_or_init(|| synthetic::history(workflows).collect())
}

fn scratch_dir() -> std::io::Result<TempDir> {
    let base = std::env::var_os("BENCH_DIR").map_or_else(|| PathBuf::from("."), PathBuf::from);
    tempfile::Builder::new()
        .prefix("dagflow-bench-journal-")
        .tempdir_in(base)
}

fn open_sqlite(path: &std::path::Path) -> Result<SqliteStore, dagflow_sqlite::SqliteError> {
    SqliteStore::open_with(path, SqliteOptions::new().synchronous(Synchronous::Normal))
}

/// A store holding the whole history, kept for the process's runs.
struct Recorded {
    /// The SQLite file's directory, removed with it.
    dir: Option<TempDir>,
    path: Option<PathBuf>,
    memory: Option<Arc<MemoryStore>>,
}

/// The recorded history of this process, until [`release`] removes it
/// (statics are never dropped, and a temporary directory is removed on
/// drop).
static RECORDED: Mutex<Option<Recorded>> = Mutex::new(None);

fn record_into(store: &dyn JournalStore, entries: &[JournalEntry]) -> Result<(), String> {
    for batch in entries.chunks(BATCH) {
        store.append(batch).map_err(|e| e.to_string())?;
    }
    store.flush().map_err(|e| e.to_string())
}

fn record(store: Store, workflows: usize) -> Result<Recorded, String> {
    let entries = history(workflows);
    match store {
        Store::Sqlite => {
            let dir = scratch_dir().map_err(|e| e.to_string())?;
            let path = dir.path().join("journal.db");
            let sqlite = open_sqlite(&path).map_err(|e| e.to_string())?;
            record_into(&sqlite, entries)?;
            Ok(Recorded {
                dir: Some(dir),
                path: Some(path),
                memory: None,
            })
        }
        Store::Memory => {
            let memory = MemoryStore::new();
            record_into(&memory, entries)?;
            Ok(Recorded {
                dir: None,
                path: None,
                memory: Some(Arc::new(memory)),
            })
        }
    }
}

/// The store with the recorded history, opened afresh (SQLite: a new
/// connection to the file recorded on the first call).
fn open_recorded(store: Store, workflows: usize) -> Result<Arc<dyn JournalStore>, String> {
    let mut slot = RECORDED
        .lock()
        .map_err(|_| "the recorded history's lock is poisoned")?;
    if slot.is_none() {
        *slot = Some(record(store, workflows)?);
    }
    match slot.as_ref() {
        Some(Recorded {
            path: Some(path), ..
        }) => Ok(Arc::new(open_sqlite(path).map_err(|e| e.to_string())?)),
        Some(Recorded {
            memory: Some(memory),
            ..
        }) => Ok(Arc::clone(memory) as Arc<dyn JournalStore>),
        _ => Err("the recorded history has no store".to_string()),
    }
}

/// Removes what the process recorded (the SQLite file and its directory).
pub fn release() {
    if let Ok(mut slot) = RECORDED.lock() {
        if let Some(Recorded { dir: Some(dir), .. }) = slot.take() {
            // Best effort: a directory left behind is named for what it is.
            let _ = dir.close();
        }
    }
}

pub(super) fn measure(ctx: &Ctx<'_>, store: Store) -> Result<Sample, BenchError> {
    let Some((workflows, phase)) = ctx.spec.workload.journal() else {
        return Err(ctx.failed("a journal store measures only the journal workloads"));
    };
    match phase {
        JournalPhase::Record => measure_record(ctx, store, workflows),
        JournalPhase::Insight => measure_insight(ctx, store, workflows),
    }
}

fn measure_record(ctx: &Ctx<'_>, store: Store, workflows: usize) -> Result<Sample, BenchError> {
    let entries = history(workflows);
    let dir = match store {
        Store::Sqlite => Some(scratch_dir().map_err(|e| ctx.failed(e))?),
        Store::Memory => None,
    };
    let start = Instant::now();
    let journal: Box<dyn JournalStore> = match &dir {
        Some(dir) => {
            Box::new(open_sqlite(&dir.path().join("journal.db")).map_err(|e| ctx.failed(e))?)
        }
        None => Box::new(MemoryStore::new()),
    };
    let build = start.elapsed();
    let start = Instant::now();
    record_into(journal.as_ref(), entries).map_err(|e| ctx.failed(e))?;
    let run = start.elapsed();
    let count = journal.entry_count().map_err(|e| ctx.failed(e))?;
    if count != entries.len() as u64 {
        return Err(ctx.failed(format!(
            "the store holds {count} entries after recording {}",
            entries.len()
        )));
    }
    // Closing the store and removing the file are not part of the run.
    drop(journal);
    drop(dir);
    Ok(Sample { build, run })
}

fn measure_insight(ctx: &Ctx<'_>, store: Store, workflows: usize) -> Result<Sample, BenchError> {
    // The first call records the history, outside the timings.
    drop(open_recorded(store, workflows).map_err(|e| ctx.failed(e))?);
    let start = Instant::now();
    let journal = open_recorded(store, workflows).map_err(|e| ctx.failed(e))?;
    let build = start.elapsed();
    let start = Instant::now();
    let insight = WorkflowAnalytics::new(journal)
        .generate_insight()
        .map_err(|e| ctx.failed(e))?;
    let run = start.elapsed();
    if insight.total_workflows != workflows as u64 {
        return Err(ctx.failed(format!(
            "the insight counts {} workflows of {workflows}",
            insight.total_workflows
        )));
    }
    Ok(Sample { build, run })
}
