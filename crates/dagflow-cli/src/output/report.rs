//! The end-of-run report: a table for people, one JSON object for programs.

use std::collections::BTreeMap;

use console::style;
use dagflow::engine::workflow::WorkflowSummary;
use dagflow::event::TaskStatus;
use dagflow_cli::execute::RunState;
use dagflow_cli::spec::{format_duration, WorkflowSpec};
use serde::Serialize;
use serde_json::Value;

use super::table::{clip, Table};

/// `dagflow run --output json`.
#[derive(Debug, Serialize)]
pub struct RunReport {
    pub run_id: String,
    pub workflow: String,
    pub success: bool,
    pub duration_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resumed_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    pub tasks: BTreeMap<String, TaskReport>,
}

#[derive(Debug, Serialize)]
pub struct TaskReport {
    pub status: TaskStatus,
    pub attempts: u32,
    pub duration_ms: f64,
    pub exit_code: Option<i32>,
    pub result: Value,
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub restored: bool,
}

impl RunReport {
    pub fn new(spec: &WorkflowSpec, summary: &WorkflowSummary, state: &RunState) -> RunReport {
        let tasks = summary
            .tasks
            .iter()
            .map(|(name, t)| {
                // The last attempt's code; none when it timed out or was
                // stopped before its process exited.
                let exit_code = if t.attempts > 0 && !t.restored {
                    state.attempt(name, t.attempts).and_then(|r| r.exit_code)
                } else {
                    None
                };
                let report = TaskReport {
                    status: t.status,
                    attempts: t.attempts,
                    duration_ms: t.duration.as_secs_f64() * 1000.0,
                    exit_code,
                    result: state.result(name).unwrap_or(Value::Null),
                    error: t.error.clone(),
                    reason: t.reason.clone(),
                    restored: t.restored,
                };
                (name.clone(), report)
            })
            .collect();
        RunReport {
            run_id: summary.run_id.clone().unwrap_or_default(),
            workflow: spec.name.clone(),
            success: summary.success,
            duration_ms: summary.elapsed.as_secs_f64() * 1000.0,
            resumed_from: summary.resumed_from.clone(),
            stopped: summary.stopped.clone(),
            tasks,
        }
    }

    /// The summary table in file order, then one line with the outcome.
    pub fn render_text(&self, spec: &WorkflowSpec) -> String {
        let mut table = Table::new(["TASK", "STATUS", "ATTEMPTS", "DURATION", "EXIT", "NOTE"]);
        for task in &spec.tasks {
            let Some(t) = self.tasks.get(&task.name) else {
                continue;
            };
            let note = t
                .error
                .as_deref()
                .or(t.reason.as_deref())
                .map(|n| clip(n, 80))
                .unwrap_or_else(|| {
                    if t.restored {
                        "reused from the resumed run".into()
                    } else {
                        String::new()
                    }
                });
            table.row(vec![
                task.name.clone(),
                status_cell(t.status),
                t.attempts.to_string(),
                if t.attempts == 0 {
                    "-".into()
                } else {
                    format_duration(std::time::Duration::from_secs_f64(t.duration_ms / 1000.0))
                },
                t.exit_code.map_or_else(|| "-".into(), |c| c.to_string()),
                note,
            ]);
        }
        let counts: Vec<String> = [
            TaskStatus::Completed,
            TaskStatus::Failed,
            TaskStatus::Skipped,
            TaskStatus::Cancelled,
        ]
        .into_iter()
        .filter_map(|status| {
            let n = self.tasks.values().filter(|t| t.status == status).count();
            (n > 0).then(|| format!("{n} {status}"))
        })
        .collect();
        let verdict = if self.success {
            style("succeeded").green().bold()
        } else {
            style("failed").red().bold()
        };
        format!(
            "{}\nrun {} of {} {verdict} in {} ({})\n",
            table.render(),
            self.run_id,
            self.workflow,
            format_duration(std::time::Duration::from_secs_f64(
                self.duration_ms / 1000.0
            )),
            counts.join(", ")
        )
    }
}

/// A status word, coloured.
pub fn status_cell(status: TaskStatus) -> String {
    let word = status.as_str();
    match status {
        TaskStatus::Completed => style(word).green().to_string(),
        TaskStatus::Failed => style(word).red().to_string(),
        TaskStatus::Cancelled => style(word).yellow().to_string(),
        _ => style(word).dim().to_string(),
    }
}
