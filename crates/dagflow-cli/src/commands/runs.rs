//! `dagflow runs`: recent runs, newest first.

use console::style;
use dagflow::journal::{EntryStatus, JournalStore, QueryFilter, RunRecord};
use dagflow_cli::spec::format_duration;
use dagflow_sqlite::{LeaseKind, SqliteStore};
use serde::Serialize;

use super::open_journal;
use crate::cli::{OutputFormat, RunsArgs};
use crate::exit;
use crate::output::{print_json, table::Table};

#[derive(Debug, Serialize)]
struct RunRow {
    run_id: String,
    workflow: String,
    started_ms: i64,
    started: String,
    status: String,
    duration_ms: Option<f64>,
    resumed_from: Option<String>,
}

pub fn runs(args: RunsArgs, journal: Option<String>) -> anyhow::Result<u8> {
    let (location, store) = open_journal(journal.as_deref(), false)?;
    let filter = match &args.workflow {
        Some(name) => QueryFilter::workflow(name),
        None => QueryFilter::all(),
    };
    let rows: Vec<RunRow> = store
        .runs(&filter, args.limit)?
        .into_iter()
        .map(|r| row(&store, r))
        .collect();
    if args.output == OutputFormat::Json {
        print_json(&rows)?;
        return Ok(exit::SUCCESS);
    }
    if rows.is_empty() {
        println!("No runs recorded in {} yet.", location.display());
        return Ok(exit::SUCCESS);
    }
    let mut table = Table::new([
        "RUN ID",
        "WORKFLOW",
        "STARTED",
        "STATUS",
        "DURATION",
        "RESUMED FROM",
    ]);
    for r in &rows {
        table.row(vec![
            r.run_id.clone(),
            r.workflow.clone(),
            r.started.clone(),
            run_status_cell(&r.status),
            r.duration_ms
                .map(|ms| format_duration(std::time::Duration::from_secs_f64(ms.max(0.0) / 1000.0)))
                .unwrap_or_else(|| "-".into()),
            r.resumed_from.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    print!("{}", table.render());
    Ok(exit::SUCCESS)
}

fn row(store: &SqliteStore, r: RunRecord) -> RunRow {
    let status = run_status(store, &r.workflow_id, r.status);
    RunRow {
        started: local_time(r.started_ms),
        started_ms: r.started_ms,
        status,
        duration_ms: r.duration_ms,
        resumed_from: r.resumed_from,
        workflow: r.workflow_name,
        run_id: r.workflow_id,
    }
}

/// `succeeded`, `failed`, `cancelled`, or for a run without an end:
/// `running` while its process lives, else `interrupted`.
pub fn run_status(store: &SqliteStore, run_id: &str, status: EntryStatus) -> String {
    match status {
        EntryStatus::Completed => "succeeded".into(),
        EntryStatus::Started => match store.lease(run_id, LeaseKind::Running) {
            Ok(Some(lease)) if lease.live => "running".into(),
            _ => "interrupted".into(),
        },
        other => other.as_str().into(),
    }
}

pub fn run_status_cell(status: &str) -> String {
    match status {
        "succeeded" => style(status).green().to_string(),
        "failed" => style(status).red().to_string(),
        "running" => style(status).cyan().to_string(),
        _ => style(status).yellow().to_string(),
    }
}

/// Milliseconds since the epoch as local `YYYY-MM-DD HH:MM:SS`.
pub fn local_time(ms: i64) -> String {
    use chrono::TimeZone;
    match chrono::Local.timestamp_millis_opt(ms) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => {
            t.format("%Y-%m-%d %H:%M:%S").to_string()
        }
        chrono::LocalResult::None => ms.to_string(),
    }
}
