//! `dagflow show RUN_ID`: one run from the journal, task by task, with a
//! text timeline.

use console::style;
use dagflow::journal::{journaled_definition, EntryStatus, EventType, JournalEntry, JournalStore};
use dagflow_cli::spec::format_duration;
use serde::Serialize;
use serde_json::Value;

use super::runs::{local_time, run_status, run_status_cell};
use super::{find_run, open_journal};
use crate::cli::{OutputFormat, ShowArgs};
use crate::exit;
use crate::output::{print_json, table::clip, table::Table};

#[derive(Debug, Serialize)]
pub struct RunView {
    pub run_id: String,
    pub workflow: String,
    pub status: String,
    pub started_ms: i64,
    pub ended_ms: Option<i64>,
    pub duration_ms: Option<f64>,
    pub resumed_from: Option<String>,
    pub file: Option<String>,
    pub tasks: Vec<TaskView>,
}

#[derive(Debug, Serialize)]
pub struct TaskView {
    pub name: String,
    /// `completed`, `failed`, `skipped`, `cancelled`, or `not run` when the
    /// run ended (or stopped) before reaching it.
    pub status: String,
    pub attempts: u32,
    /// Start of the first attempt.
    pub start_ms: Option<i64>,
    /// Start of the last attempt.
    pub last_attempt_start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    /// From the start of the first attempt to the end of the last.
    pub duration_ms: Option<f64>,
    pub exit_code: Option<i64>,
    pub error: Option<String>,
    pub result: Option<Value>,
    pub restored: bool,
    pub stdout_tail: Option<String>,
    pub stderr_tail: Option<String>,
    pub failed_attempts: Vec<FailedAttempt>,
}

#[derive(Debug, Serialize)]
pub struct FailedAttempt {
    pub attempt: u32,
    pub start_ms: i64,
    pub duration_ms: f64,
    pub exit_code: Option<i64>,
    pub error: Option<String>,
}

pub fn show(args: ShowArgs, journal: Option<String>) -> anyhow::Result<u8> {
    let (_, store) = open_journal(journal.as_deref(), false)?;
    let run_id = find_run(&store, &args.run_id)?;
    let entries = store.by_workflow_id(&run_id)?;
    let mut view = RunView::from_entries(&run_id, &entries);
    if let Some(start) = entries
        .iter()
        .find(|e| e.event_type == EventType::WorkflowStart)
    {
        let ended = entries
            .iter()
            .any(|e| e.event_type == EventType::WorkflowComplete);
        if !ended {
            view.status = run_status(&store, &run_id, start.status);
        }
    }
    if args.output == OutputFormat::Json {
        print_json(&view)?;
    } else {
        print!("{}", view.render());
    }
    Ok(exit::SUCCESS)
}

fn detail_str(entry: &JournalEntry, key: &str) -> Option<String> {
    entry
        .details
        .get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn start_of(entry: &JournalEntry) -> i64 {
    entry.timestamp_ms() - entry.duration_ms.round() as i64
}

impl RunView {
    pub fn from_entries(run_id: &str, entries: &[JournalEntry]) -> RunView {
        let mut view = RunView {
            run_id: run_id.to_owned(),
            workflow: entries
                .first()
                .map(|e| e.workflow_name.to_string())
                .unwrap_or_default(),
            status: "interrupted".into(),
            started_ms: entries.first().map_or(0, JournalEntry::timestamp_ms),
            ended_ms: None,
            duration_ms: None,
            resumed_from: None,
            file: None,
            tasks: Vec::new(),
        };
        for entry in entries {
            match entry.event_type {
                EventType::WorkflowStart => {
                    view.started_ms = entry.timestamp_ms();
                    view.resumed_from = detail_str(entry, "resumed_from");
                    view.file = detail_str(entry, "file");
                    let names = journaled_definition(entry)
                        .map(|tasks| tasks.into_iter().map(|t| t.name).collect())
                        .unwrap_or_else(|_| Vec::new());
                    for name in names {
                        view.task_mut(&name);
                    }
                }
                EventType::StepRetry => {
                    let Some(name) = &entry.step_name else {
                        continue;
                    };
                    let task = view.task_mut(name);
                    task.failed_attempts.push(FailedAttempt {
                        attempt: entry.attempt,
                        start_ms: start_of(entry),
                        duration_ms: entry.duration_ms,
                        exit_code: entry.details.get("exit_code").and_then(Value::as_i64),
                        error: entry.error.clone(),
                    });
                    task.start_ms.get_or_insert(start_of(entry));
                }
                EventType::StepComplete => {
                    let Some(name) = &entry.step_name else {
                        continue;
                    };
                    let task = view.task_mut(name);
                    task.status = entry.status.as_str().to_owned();
                    task.attempts = entry.attempt;
                    task.restored = entry
                        .details
                        .get("restored")
                        .and_then(Value::as_bool)
                        .unwrap_or(false);
                    task.error = entry.error.clone();
                    task.result = entry.result.clone();
                    task.exit_code = entry.details.get("exit_code").and_then(Value::as_i64);
                    task.stdout_tail = detail_str(entry, "stdout_tail");
                    task.stderr_tail = detail_str(entry, "stderr_tail");
                    let ran = entry.attempt > 0
                        && matches!(
                            entry.status,
                            EntryStatus::Completed | EntryStatus::Failed | EntryStatus::Cancelled
                        );
                    if ran && !task.restored {
                        task.start_ms.get_or_insert(start_of(entry));
                        task.last_attempt_start_ms = Some(start_of(entry));
                        task.end_ms = Some(entry.timestamp_ms());
                        task.duration_ms = task.start_ms.map(|s| (entry.timestamp_ms() - s) as f64);
                    }
                }
                EventType::WorkflowComplete => {
                    view.ended_ms = Some(entry.timestamp_ms());
                    view.duration_ms = Some(entry.duration_ms);
                    view.status = match entry.status {
                        EntryStatus::Completed => "succeeded".into(),
                        other => other.as_str().into(),
                    };
                }
                _ => {}
            }
        }
        view
    }

    fn task_mut(&mut self, name: &str) -> &mut TaskView {
        let index = match self.tasks.iter().position(|t| t.name == name) {
            Some(i) => i,
            None => {
                self.tasks.push(TaskView {
                    name: name.to_owned(),
                    status: "not run".into(),
                    attempts: 0,
                    start_ms: None,
                    last_attempt_start_ms: None,
                    end_ms: None,
                    duration_ms: None,
                    exit_code: None,
                    error: None,
                    result: None,
                    restored: false,
                    stdout_tail: None,
                    stderr_tail: None,
                    failed_attempts: Vec::new(),
                });
                self.tasks.len() - 1
            }
        };
        &mut self.tasks[index]
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let duration = self
            .duration_ms
            .map(|ms| format_duration(ms_duration(ms)))
            .unwrap_or_else(|| "-".into());
        out.push_str(&format!(
            "{} {}  {}\nworkflow {}  started {}  duration {}\n",
            style("run").bold(),
            self.run_id,
            run_status_cell(&self.status),
            self.workflow,
            local_time(self.started_ms),
            duration
        ));
        if let Some(from) = &self.resumed_from {
            out.push_str(&format!("resumed from {from}\n"));
        }
        if let Some(file) = &self.file {
            out.push_str(&format!("file {file}\n"));
        }
        out.push('\n');
        let mut table = Table::new([
            "TASK", "STATUS", "ATTEMPTS", "START", "END", "DURATION", "EXIT", "ERROR",
        ]);
        for t in &self.tasks {
            table.row(vec![
                t.name.clone(),
                task_status_cell(&t.status, t.restored),
                t.attempts.to_string(),
                t.start_ms.map(clock).unwrap_or_else(|| "-".into()),
                t.end_ms.map(clock).unwrap_or_else(|| "-".into()),
                t.duration_ms
                    .map(|ms| format_duration(ms_duration(ms)))
                    .unwrap_or_else(|| "-".into()),
                t.exit_code.map_or_else(|| "-".into(), |c| c.to_string()),
                t.error.as_deref().map(|e| clip(e, 70)).unwrap_or_default(),
            ]);
        }
        out.push_str(&table.render());
        out.push_str(&self.timeline(40));
        for t in &self.tasks {
            for a in &t.failed_attempts {
                out.push_str(&format!(
                    "\n{} attempt {} failed after {}: {}",
                    style(&t.name).bold(),
                    a.attempt,
                    format_duration(ms_duration(a.duration_ms)),
                    a.error.as_deref().unwrap_or("")
                ));
            }
        }
        for t in self.tasks.iter().filter(|t| t.status == "failed") {
            for (label, tail) in [("stdout", &t.stdout_tail), ("stderr", &t.stderr_tail)] {
                let Some(tail) = tail.as_deref().filter(|s| !s.trim().is_empty()) else {
                    continue;
                };
                out.push_str(&format!("\n\n{} {label} (tail):\n", style(&t.name).bold()));
                for line in tail.lines() {
                    out.push_str(&format!("  {line}\n"));
                }
            }
        }
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out
    }

    /// One bar per task that ran: `░` for failed attempts and retry waits,
    /// `█` for the last attempt.
    fn timeline(&self, width: usize) -> String {
        let width = width.max(2);
        let origin = self.started_ms;
        let end = self
            .tasks
            .iter()
            .filter_map(|t| t.end_ms)
            .chain(self.ended_ms)
            .max()
            .unwrap_or(origin);
        let span = (end - origin).max(1) as f64;
        let col = |ms: i64| (((ms - origin).max(0) as f64 / span) * width as f64).round() as usize;
        let name_width = self
            .tasks
            .iter()
            .map(|t| t.name.chars().count())
            .max()
            .unwrap_or(0);
        let mut out = format!(
            "\nTimeline ({} total)\n",
            format_duration(ms_duration(span))
        );
        let mut any = false;
        for t in &self.tasks {
            let (Some(start), Some(stop)) = (t.start_ms, t.end_ms) else {
                continue;
            };
            any = true;
            let final_from = t.last_attempt_start_ms.unwrap_or(start);
            // At least one cell for the last attempt, however short.
            let a = col(start).min(width - 1);
            let c = col(stop).max(a + 1).min(width);
            let b = col(final_from).clamp(a, c - 1);
            let mut bar = String::new();
            bar.extend(std::iter::repeat_n(' ', a));
            bar.extend(std::iter::repeat_n('░', b.saturating_sub(a)));
            bar.extend(std::iter::repeat_n('█', c - b));
            bar.extend(std::iter::repeat_n(' ', width.saturating_sub(c)));
            out.push_str(&format!(
                "  {:<name_width$} |{bar}| +{} → +{}\n",
                t.name,
                format_duration(ms_duration((start - origin) as f64)),
                format_duration(ms_duration((stop - origin) as f64)),
            ));
        }
        if !any {
            out.push_str("  (no task ran)\n");
        }
        out
    }
}

fn ms_duration(ms: f64) -> std::time::Duration {
    std::time::Duration::from_secs_f64(ms.max(0.0) / 1000.0)
}

fn clock(ms: i64) -> String {
    use chrono::TimeZone;
    match chrono::Local.timestamp_millis_opt(ms) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => {
            t.format("%H:%M:%S%.3f").to_string()
        }
        chrono::LocalResult::None => ms.to_string(),
    }
}

fn task_status_cell(status: &str, restored: bool) -> String {
    let word = if restored { "reused" } else { status };
    match status {
        "completed" => style(word).green().to_string(),
        "failed" => style(word).red().to_string(),
        "cancelled" => style(word).yellow().to_string(),
        _ => style(word).dim().to_string(),
    }
}
