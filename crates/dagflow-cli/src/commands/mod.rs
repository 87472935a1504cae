//! One module per subcommand.

pub mod completions;
pub mod graph;
pub mod insights;
pub mod resume;
pub mod run;
pub mod runs;
pub mod show;
pub mod templates;
pub mod validate;

use std::path::Path;

use dagflow::journal::{JournalStore, QueryFilter};
use dagflow_cli::journal::JournalLocation;
use dagflow_cli::spec::WorkflowSpec;
use dagflow_sqlite::SqliteStore;

use crate::UsageError;

/// Loads and validates a workflow file (errors carry file:line:column).
pub fn load_spec(path: &Path) -> anyhow::Result<WorkflowSpec> {
    Ok(dagflow_cli::spec::load(path)?)
}

/// Opens the journal named by `--journal` / `DAGFLOW_JOURNAL`.
pub fn open_journal(
    journal: Option<&str>,
    create: bool,
) -> anyhow::Result<(JournalLocation, SqliteStore)> {
    let location = JournalLocation::parse(journal)?;
    let store = location.open(create)?;
    Ok((location, store))
}

/// The full id of the run `id` names: the id itself, or the one run whose
/// id starts with it (among the most recent 10,000 runs).
pub fn find_run(store: &dyn JournalStore, id: &str) -> anyhow::Result<String> {
    if !store.by_workflow_id(id)?.is_empty() {
        return Ok(id.to_owned());
    }
    let matches: Vec<String> = store
        .runs(&QueryFilter::all(), 10_000)?
        .into_iter()
        .map(|r| r.workflow_id)
        .filter(|r| r.starts_with(id))
        .collect();
    match matches.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(UsageError(format!(
            "no run `{id}` in the journal; `dagflow runs` lists the recorded runs"
        ))
        .into()),
        many => Err(UsageError(format!(
            "`{id}` is the start of {} run ids ({}, ...); give more of the id",
            many.len(),
            many[..many.len().min(3)].join(", ")
        ))
        .into()),
    }
}
