//! `dagflow resume RUN_ID [FILE] [--force]`: continue a failed or
//! interrupted run; completed tasks keep their journaled results.

use dagflow::journal::JournalStore;
use dagflow_cli::execute::run_definition;
use dagflow_cli::resume::{changed_tasks, plan_resume, run_origin, ResumeError};

use super::run::{execute, Restore, RunSettings};
use super::{find_run, load_spec, open_journal};
use crate::cli::ResumeArgs;
use crate::UsageError;

pub async fn resume(args: ResumeArgs, journal: Option<String>) -> anyhow::Result<u8> {
    let (_, store) = open_journal(journal.as_deref(), false)?;
    let run_id = find_run(&store, &args.run_id)?;
    let entries = store.by_workflow_id(&run_id)?;
    let origin = run_origin(&run_id, &entries).map_err(refusal)?;
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
    origin.check_workflow(&spec.name).map_err(refusal)?;
    // Held for the whole resume: a second `dagflow resume` of this run, or a
    // resume of a run still executing elsewhere, is refused before planning
    // from a journal that may still grow.
    let _claim = store.claim_resume(&run_id)?;
    let current = run_definition(&spec)?;
    let plan =
        plan_resume(&store, &run_id, &current, args.force, args.file.clone()).map_err(refusal)?;
    if let (Some(cwd), Ok(here)) = (&origin.cwd, std::env::current_dir()) {
        if *cwd != here {
            eprintln!(
                "warning: run `{run_id}` ran in {}, and relative paths in its commands resolve from here ({})",
                cwd.display(),
                here.display()
            );
        }
    }
    let restored = plan.restored.len();
    eprintln!(
        "resuming run {run_id} of {}: {restored} completed task{} restored, {} to run{}",
        spec.name,
        if restored == 1 { "" } else { "s" },
        plan.to_run.len(),
        if plan.changes.is_empty() {
            String::new()
        } else {
            format!(
                " (changed since the run: {})",
                changed_tasks(&plan.changes).join(", ")
            )
        }
    );
    let settings = RunSettings::new(file, journal, &args.execution);
    let restore = Restore {
        results: plan.restored,
        from_run: run_id,
    };
    execute(spec, &settings, Some(restore)).await
}

/// A refusal is a usage error (exit 2); a journal that cannot be read is not.
fn refusal(error: ResumeError) -> anyhow::Error {
    if error.is_usage() {
        UsageError(error.to_string()).into()
    } else {
        error.into()
    }
}
