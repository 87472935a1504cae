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
//!   `WorkflowJournal` observer writes (on the first 60,000 entries);
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
    // `--only <phase>` runs one phase: record, per-run or per-entry.
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
    if only == Some("floor") {
        floor(dir, &entries)?;
        return Ok(());
    }

    for (label, level) in [("NORMAL", Synchronous::Normal), ("FULL", Synchronous::Full)] {
        if !wanted("record") && !(label == "NORMAL" && wanted("record-normal")) {
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
            if std::env::var_os("BENCH_DEBUG").is_some() {
                std::fs::copy(&path, "/tmp/sqlite-bench/debug.db")?;
                let conn = rusqlite::Connection::open(&path)?;
                let mut stmt = conn.prepare("SELECT s.step_key, s.workflow_name, s.step_name, s.completed, (SELECT sum(count) FROM step_duration_buckets b WHERE b.step_key = s.step_key), (SELECT sum(count) FROM step_duration_counts c WHERE c.step_key = s.step_key) FROM step_stats s")?;
                let rows = stmt.query_map([], |r| Ok(format!("{:?} {:?} {:?} {:?} {:?} {:?}", r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, i64>(3)?, r.get::<_, Option<i64>>(4)?, r.get::<_, Option<i64>>(5)?)))?;
                for row in rows { println!("{}", row?); }
            }
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

/// Scratch: raw rusqlite inserts, to find the floor.
fn floor(dir: &Path, entries: &[JournalEntry]) -> Result<(), Box<dyn std::error::Error>> {
    for indexes in [0, 1, 3] {
        let path = dir.join(format!("floor-{indexes}.db"));
        let _ = std::fs::remove_file(&path);
        let mut conn = rusqlite::Connection::open(&path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch("CREATE TABLE entries (id INTEGER PRIMARY KEY, workflow_id TEXT NOT NULL, workflow_name TEXT NOT NULL, event_type INTEGER NOT NULL, step_name TEXT, status INTEGER NOT NULL, timestamp_ms INTEGER NOT NULL, duration_ms REAL NOT NULL, duration_us INTEGER NOT NULL, attempt INTEGER NOT NULL, error TEXT, result TEXT, details TEXT);")?;
        if indexes >= 1 { conn.execute_batch("CREATE INDEX a ON entries(workflow_id);")?; }
        if indexes >= 3 { conn.execute_batch("CREATE INDEX b ON entries(event_type); CREATE INDEX c ON entries(workflow_name, event_type);")?; }
        let cpu = cpu_time();
        let start = Instant::now();
        for batch in entries.chunks(6000) {
            let tx = conn.transaction()?;
            {
                let mut stmt = tx.prepare_cached("INSERT INTO entries (workflow_id, workflow_name, event_type, step_name, status, timestamp_ms, duration_ms, duration_us, attempt, error, result, details) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)")?;
                for e in batch {
                    stmt.execute(rusqlite::params![e.workflow_id, e.workflow_name, e.event_type as i64, e.step_name, e.status as i64, e.timestamp_ms(), e.duration_ms, e.duration_us(), e.attempt, e.error, Option::<String>::None, Option::<String>::None])?;
                }
            }
            tx.commit()?;
        }
        println!("floor with {indexes} indexes: {}", measured(entries.len(), start, cpu));
    }
    for per_statement in [10usize, 50] {
        let path = dir.join(format!("floor-multi-{per_statement}.db"));
        let _ = std::fs::remove_file(&path);
        let mut conn = rusqlite::Connection::open(&path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch("CREATE TABLE entries (id INTEGER PRIMARY KEY, workflow_id TEXT NOT NULL, workflow_name TEXT NOT NULL, event_type INTEGER NOT NULL, step_name TEXT, status INTEGER NOT NULL, timestamp_ms INTEGER NOT NULL, duration_ms REAL NOT NULL, duration_us INTEGER NOT NULL, attempt INTEGER NOT NULL, error TEXT, result TEXT, details TEXT);")?;
        let values = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; per_statement].join(", ");
        let sql = format!("INSERT INTO entries (workflow_id, workflow_name, event_type, step_name, status, timestamp_ms, duration_ms, duration_us, attempt, error, result, details) VALUES {values}");
        let cpu = cpu_time();
        let start = Instant::now();
        for batch in entries.chunks(6000) {
            let tx = conn.transaction()?;
            {
                let mut stmt = tx.prepare_cached(&sql)?;
                for chunk in batch.chunks(per_statement) {
                    if chunk.len() < per_statement { continue; }
                    let mut i = 1;
                    for e in chunk {
                        stmt.raw_bind_parameter(i, &e.workflow_id)?;
                        stmt.raw_bind_parameter(i + 1, &e.workflow_name)?;
                        stmt.raw_bind_parameter(i + 2, e.event_type as i64)?;
                        stmt.raw_bind_parameter(i + 3, &e.step_name)?;
                        stmt.raw_bind_parameter(i + 4, e.status as i64)?;
                        stmt.raw_bind_parameter(i + 5, e.timestamp_ms())?;
                        stmt.raw_bind_parameter(i + 6, e.duration_ms)?;
                        stmt.raw_bind_parameter(i + 7, e.duration_us())?;
                        stmt.raw_bind_parameter(i + 8, e.attempt)?;
                        stmt.raw_bind_parameter(i + 9, &e.error)?;
                        stmt.raw_bind_parameter(i + 10, Option::<String>::None)?;
                        stmt.raw_bind_parameter(i + 11, Option::<String>::None)?;
                        i += 12;
                    }
                    stmt.raw_execute()?;
                }
            }
            tx.commit()?;
        }
        println!("floor, {per_statement} rows per statement: {}", measured(entries.len(), start, cpu));
    }
    Ok(())
}
