//! `dagflow run FILE`: run a workflow file, journal it, report it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dagflow::engine::workflow::{CancelHandle, WorkflowError};
use dagflow::journal::{JournalStore, WorkflowJournal};
use dagflow_cli::execute::{build_workflow, AnnotatingStore, RunState};
use dagflow_cli::process::{ProcessGroups, ProcessRunner};
use dagflow_cli::spec::WorkflowSpec;
use serde_json::{Map, Value};

use super::{load_spec, open_journal};
use crate::cli::{ExecutionArgs, OutputFormat, RunArgs};
use crate::exit;
use crate::output::print_json;
use crate::output::progress::{Mode, Progress};
use crate::output::report::RunReport;

/// How to run, whether from `run` or `resume`.
#[derive(Debug, Clone)]
pub struct RunSettings {
    pub file: PathBuf,
    pub journal: Option<String>,
    pub concurrency: Option<usize>,
    pub output: OutputFormat,
    pub quiet: bool,
    pub grace: Duration,
}

impl RunSettings {
    /// Settings for running `file` with the command line's execution options.
    pub fn new(file: PathBuf, journal: Option<String>, execution: &ExecutionArgs) -> RunSettings {
        RunSettings {
            file,
            journal,
            concurrency: execution.concurrency.map(|c| c as usize),
            output: execution.output,
            quiet: execution.quiet,
            grace: execution.grace,
        }
    }
}

/// Results reused from an earlier run.
#[derive(Debug)]
pub struct Restore {
    pub results: HashMap<String, Value>,
    pub from_run: String,
}

pub async fn run(args: RunArgs, journal: Option<String>) -> anyhow::Result<u8> {
    let spec = load_spec(&args.file)?;
    let settings = RunSettings::new(args.file, journal, &args.execution);
    execute(spec, &settings, None).await
}

/// Runs `spec` to its end and reports; returns the exit code.
pub async fn execute(
    spec: WorkflowSpec,
    settings: &RunSettings,
    restore: Option<Restore>,
) -> anyhow::Result<u8> {
    let (location, store) = open_journal(settings.journal.as_deref(), true)?;
    let state = RunState::default();
    let progress = Progress::new(Mode::detect());
    let mut runner = ProcessRunner::new(settings.grace);
    if !settings.quiet {
        runner = runner.with_line_sink(progress.line_sink());
    }
    let mut workflow = build_workflow(&spec, &runner, &state, settings.concurrency);

    let store: Arc<dyn JournalStore> = Arc::new(store);
    let annotated = AnnotatingStore::new(
        Arc::clone(&store),
        state.clone(),
        run_details(&settings.file),
    );
    let journal = WorkflowJournal::new(Arc::new(annotated));
    workflow.observe(Arc::new(journal.clone()));
    workflow.observe(progress.clone());
    if let Some(restore) = restore {
        workflow.restore(restore.results, restore.from_run);
    }

    let signalled = Arc::new(AtomicU8::new(0));
    let watcher = tokio::spawn(watch_signals(
        workflow.cancel_handle(),
        runner.groups().clone(),
        Arc::clone(&progress),
        Arc::clone(&signalled),
        settings.grace,
    ));
    let outcome = workflow.run().await;
    watcher.abort();
    progress.finish();
    // Nothing a task started may outlive the run.
    runner.groups().shutdown(settings.grace).await;
    if let Err(e) = store.flush() {
        eprintln!(
            "warning: the journal {} could not be flushed: {e}",
            location.display()
        );
    }
    for e in journal.take_errors().iter().take(3) {
        eprintln!(
            "warning: the journal {} missed an entry: {e}",
            location.display()
        );
    }

    let summary = workflow.summary();
    // From the run state rather than `outcome`: a cancelled or timed-out
    // run still reports the results of the tasks that completed.
    let report = RunReport::new(&spec, &summary, &state);
    match settings.output {
        OutputFormat::Json => print_json(&report)?,
        OutputFormat::Text => {
            print!("{}", report.render_text(&spec));
            if !report.run_id.is_empty() {
                println!(
                    "journal: {}  (dagflow show {})",
                    location.display(),
                    report.run_id
                );
                if !summary.success {
                    // What to type next: the completed tasks are kept.
                    println!(
                        "to continue without redoing what completed: dagflow resume {}",
                        report.run_id
                    );
                }
            }
        }
    }

    let signal = signalled.load(Ordering::SeqCst);
    if signal != 0 {
        eprintln!("interrupted: the run was cancelled and journaled as such");
        return Ok(signal);
    }
    match outcome {
        Ok(_) if summary.success => Ok(exit::SUCCESS),
        Ok(_) => Ok(exit::FAILURE),
        Err(e @ WorkflowError::Timeout { .. }) => {
            eprintln!("error: {e}");
            Ok(exit::FAILURE)
        }
        Err(WorkflowError::Cancelled { .. }) => Ok(exit::INTERRUPTED),
        Err(e) => Err(e.into()),
    }
}

/// What the journal's start entry records beyond the definition, so that
/// `resume` can find the file again.
fn run_details(file: &Path) -> Map<String, Value> {
    let mut details = Map::new();
    let absolute = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    details.insert("file".into(), Value::String(absolute.display().to_string()));
    if let Ok(cwd) = std::env::current_dir() {
        details.insert("cwd".into(), Value::String(cwd.display().to_string()));
    }
    details
}

/// First SIGINT/SIGTERM: cancel the run (tasks get SIGTERM, then SIGKILL
/// after the grace period). Second: SIGKILL every task at once.
async fn watch_signals(
    cancel: CancelHandle,
    groups: ProcessGroups,
    progress: Arc<Progress>,
    signalled: Arc<AtomicU8>,
    grace: Duration,
) {
    use tokio::signal::unix::{signal, SignalKind};
    let (mut interrupt, mut terminate) = match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(i), Ok(t)) => (i, t),
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!(error = %e, "cannot watch for Ctrl-C; interrupting will not stop tasks gracefully");
            return;
        }
    };
    let mut count = 0u32;
    loop {
        let code = tokio::select! {
            _ = interrupt.recv() => exit::INTERRUPTED,
            _ = terminate.recv() => exit::TERMINATED,
        };
        count += 1;
        let _ = signalled.compare_exchange(0, code, Ordering::SeqCst, Ordering::SeqCst);
        if count == 1 {
            progress.line(&format!(
                "interrupted: stopping every task (SIGTERM, SIGKILL after {}); press Ctrl-C again to kill them now",
                dagflow_cli::spec::format_duration(grace)
            ));
            cancel.cancel();
        } else {
            progress.line("killing every task now");
            groups.kill_all();
        }
    }
}
