//! Journal benchmark on the synthetic history of `bench/WORKLOADS.md`.
//!
//! ```text
//! cargo bench -p dagflow-sqlite --bench journal             # 100,000 and 1,000,000 workflows
//! cargo bench -p dagflow-sqlite --bench journal -- 100000   # only the given sizes
//! ```
//!
//! For each size W (6 W entries), into a fresh file:
//! - `record`: the whole history appended in batches of 1,000 workflows
//!   (6,000 entries per `append`, one transaction each), then `flush`
//!   (checkpoint + fsync), with `synchronous=NORMAL` and `FULL`;
//! - `per-run x8`: 8 threads, each appending one workflow (6 entries) per
//!   call: group commit merges their transactions;
//! - `per-entry`: one entry per `append` from one thread, as the
//!   `WorkflowJournal` observer writes for the sync runner (on the first
//!   60,000 entries);
//! - `per-entry-deferred`: the same with `append_deferred` (as it writes
//!   task ends of the async engine), then one wait for all of them;
//! - `generate_insight()` on the recorded file, first call on a freshly
//!   opened store and the median of 20 further calls, next to the
//!   in-memory store.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dagflow::analytics::WorkflowAnalytics;
use dagflow::journal::{synthetic, JournalEntry, JournalStore, MemoryStore};
use dagflow_sqlite::{SqliteOptions, SqliteStore, Synchronous};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sizes: Vec<usize> = args
        .iter()
        .filter_map(|a| a.replace('_', "").parse().ok())
        .collect();
    // `--only <phase>` runs one phase: record, record-normal, per-run,
    // per-entry or per-entry-deferred.
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1).cloned());
    let sizes = if sizes.is_empty() {
        vec![100_000, 1_000_000]
    } else {
        sizes
    };
    let dir = tempfile::tempdir_in(std::env::var_os("BENCH_DIR").unwrap_or_else(|| ".".into()))?;
    for workflows in sizes {
        run_size(dir.path(), workflows, only.as_deref())?;
    }
    Ok(())
}

fn rate(entries: usize, elapsed: Duration) -> String {
    format!(
        "{:>9.0} entries/s ({} entries in {:.3} s)",
        entries as f64 / elapsed.as_secs_f64(),
        entries,
        elapsed.as_secs_f64()
    )
}

/// CPU time (user + system) of this process so far, from /proc (Linux);
/// on a shared machine it tells the cost apart from waiting for a core.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat[stat.rfind(')')? + 2..].split(' ').collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// Wall-clock and CPU figures of a phase that started at `wall` / `cpu`.
fn measured(entries: usize, wall: Instant, cpu: Option<Duration>) -> String {
    let elapsed = wall.elapsed();
    match (cpu, cpu_time()) {
        (Some(before), Some(after)) => format!(
            "{} | CPU {:.3} s = {:.0} entries per CPU-second",
            rate(entries, elapsed),
            (after - before).as_secs_f64(),
            entries as f64 / (after - before).as_secs_f64().max(1e-9)
        ),
        _ => rate(entries, elapsed),
    }
}

fn run_size(
    dir: &Path,
    workflows: usize,
    only: Option<&str>,
) -> Result<(), Box<dyn std::error::Error>> {
    println!("== {workflows} workflows ==");
    let entries: Vec<JournalEntry> = synthetic::history(workflows).collect();
    let wanted = |phase: &str| only.is_none_or(|o| o == phase);

    for (label, level) in [("NORMAL", Synchronous::Normal), ("FULL", Synchronous::Full)] {
        let only_normal = label == "NORMAL" && wanted("record-normal");
        if !(wanted("record") || only_normal) {
            continue;
        }
        let path = dir.join(format!("record-{workflows}-{label}.db"));
        let store = SqliteStore::open_with(&path, SqliteOptions::new().synchronous(level))?;
        let cpu = cpu_time();
        let start = Instant::now();
        for batch in entries.chunks(6_000) {
            store.append(batch)?;
        }
        store.flush()?;
        println!(
            "record, batches of 6000, synchronous={label:<6}, flushed: {}",
            measured(entries.len(), start, cpu)
        );
        if level == Synchronous::Normal && only != Some("record-normal") {
            drop(store);
            let size = std::fs::metadata(&path)?.len();
            println!("file size: {:.1} MiB", size as f64 / (1024.0 * 1024.0));
            insight(&path, &entries)?;
        } else {
            drop(store);
            std::fs::remove_file(&path)?;
        }
    }

    if workflows <= 100_000 && wanted("per-run") {
        let path = dir.join(format!("per-run-{workflows}.db"));
        let store = Arc::new(SqliteStore::open(&path)?);
        let runs: Vec<&[JournalEntry]> = entries.chunks(6).collect();
        let threads = 8;
        let cpu = cpu_time();
        let start = Instant::now();
        std::thread::scope(|scope| {
            for t in 0..threads {
                let store = Arc::clone(&store);
                let runs = &runs;
                scope.spawn(move || {
                    for run in runs.iter().skip(t).step_by(threads) {
                        if let Err(e) = store.append(run) {
                            eprintln!("append failed: {e}");
                        }
                    }
                });
            }
        });
        println!(
            "record, one run per append, {threads} threads: {}",
            measured(entries.len(), start, cpu)
        );
        assert_eq!(store.entry_count()? as usize, entries.len());
        drop(store);
        std::fs::remove_file(&path)?;
    }
    if workflows <= 100_000 && wanted("per-entry") {
        let path = dir.join(format!("per-entry-{workflows}.db"));
        let store = SqliteStore::open(&path)?;
        let subset = &entries[..entries.len().min(60_000)];
        let cpu = cpu_time();
        let start = Instant::now();
        for entry in subset {
            store.append(std::slice::from_ref(entry))?;
        }
        println!(
            "record, one entry per append, 1 thread: {}",
            measured(subset.len(), start, cpu)
        );
        drop(store);
        std::fs::remove_file(&path)?;
    }
    if workflows <= 100_000 && wanted("per-entry-deferred") {
        let path = dir.join(format!("per-entry-deferred-{workflows}.db"));
        let store = SqliteStore::open(&path)?;
        let subset = &entries[..entries.len().min(60_000)];
        let cpu = cpu_time();
        let start = Instant::now();
        for entry in subset {
            store.append_deferred(entry.clone())?;
        }
        store.wait_durable(store.mark())?;
        println!(
            "record, one entry per deferred append, 1 thread, then waited for: {}",
            measured(subset.len(), start, cpu)
        );
        assert_eq!(store.entry_count()? as usize, subset.len());
        drop(store);
        std::fs::remove_file(&path)?;
    }
    Ok(())
}

fn insight(path: &Path, entries: &[JournalEntry]) -> Result<(), Box<dyn std::error::Error>> {
    let store = Arc::new(SqliteStore::open(path)?);
    let analytics = WorkflowAnalytics::new(store.clone());
    let start = Instant::now();
    let first = analytics.generate_insight()?;
    let cold = start.elapsed();
    let mut times = Vec::new();
    for _ in 0..20 {
        let start = Instant::now();
        let again = analytics.generate_insight()?;
        times.push(start.elapsed());
        assert_eq!(again, first);
    }
    times.sort();
    println!(
        "generate_insight (SQLite): first {:.2} ms, median {:.2} ms, max {:.2} ms",
        cold.as_secs_f64() * 1e3,
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3
    );

    let memory = Arc::new(MemoryStore::from_entries(entries.iter().cloned()));
    let analytics = WorkflowAnalytics::new(memory);
    let mut times = Vec::new();
    let mut result = None;
    for _ in 0..5 {
        let start = Instant::now();
        result = Some(analytics.generate_insight()?);
        times.push(start.elapsed());
    }
    times.sort();
    println!(
        "generate_insight (memory): median {:.2} ms; identical to SQLite: {}",
        times[times.len() / 2].as_secs_f64() * 1e3,
        result.as_ref() == Some(&first)
    );
    Ok(())
}
