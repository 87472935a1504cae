//! `dagflow resume RUN_ID [FILE] [--force]`: continue a failed or
//! interrupted run; completed tasks keep their journaled results.

use dagflow::journal::JournalStore;
use dagflow_cli::resume::{plan_resume, run_origin};

use super::run::{execute, Restore, RunSettings};
use super::{find_run, load_spec, open_journal};
use crate::cli::ResumeArgs;
use crate::UsageError;

pub async fn resume(args: ResumeArgs, journal: Option<String>) -> anyhow::Result<u8> {
    let (_, store) = open_journal(journal.as_deref(), false)?;
    let run_id = find_run(&store, &args.run_id)?;
    let entries = store.by_workflow_id(&run_id)?;
    let origin = run_origin(&run_id, &entries).map_err(|e| UsageError(e.to_string()))?;
    let file = match (&args.file, &origin.file) {
        (Some(file), _) => file.clone(),
        (None, Some(file)) => file.clone(),
        (None, None) => {
            return Err(UsageError(format!(
                "run `{run_id}` does not record its workflow file; pass it: dagflow resume {run_id} FILE"
            ))
            .into())
        }
    };
    if !file.exists() {
        return Err(UsageError(format!(
            "the workflow file {} of run `{run_id}` no longer exists; pass the file: dagflow resume {run_id} FILE",
            file.display()
        ))
        .into());
    }
    let spec = load_spec(&file)?;
    let plan =
        plan_resume(&run_id, &entries, &spec, args.force).map_err(|e| UsageError(e.to_string()))?;
    if let (Some(cwd), Ok(here)) = (&plan.cwd, std::env::current_dir()) {
        if *cwd != here {
            eprintln!(
                "warning: run `{run_id}` ran in {}, and relative paths in its commands resolve from here ({})",
                cwd.display(),
                here.display()
            );
        }
    }
    // Held for the whole resume: a second `dagflow resume` of this run, or a
    // resume of a run still executing elsewhere, is refused.
    let _claim = store.claim_resume(&run_id)?;
    let rerun = spec.tasks.len() - plan.reused.len();
    eprintln!(
        "resuming run {run_id} of {}: {} completed task{} reused, {rerun} to run{}",
        spec.name,
        plan.reused.len(),
        if plan.reused.len() == 1 { "" } else { "s" },
        if plan.changed.is_empty() {
            String::new()
        } else {
            format!(" (changed: {})", plan.changed.join(", "))
        }
    );
    let settings = RunSettings {
        file,
        journal,
        concurrency: args.concurrency.map(|c| c as usize),
        output: args.output,
        quiet: args.quiet,
        grace: args.grace,
    };
    let restore = Restore {
        results: plan.reused,
        from_run: run_id,
    };
    execute(spec, &settings, Some(restore)).await
}
