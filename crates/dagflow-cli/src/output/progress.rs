//! Live progress of a run on stderr.
//!
//! On a terminal: a spinner line per running task with its elapsed time and
//! an overall bar (indicatif), with task output and finished tasks printed
//! above them. Otherwise: plain timestamped lines, one per event and per
//! output line. Each line goes out in one write, so parallel tasks never
//! mix within a line.

use std::collections::HashMap;
use std::fmt::{Display, Write as _};
use std::io::Write as _;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use console::{style, StyledObject};
use dagflow::event::{Observer, ObserverError, WorkflowEvent};
use dagflow_cli::process::{LineSink, Stream};
use dagflow_cli::spec::format_duration;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::table::clip;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Spinners and a bar (stderr is a terminal).
    Bars,
    /// Timestamped lines.
    Lines,
}

impl Mode {
    pub fn detect() -> Mode {
        if console::Term::stderr().is_term() {
            Mode::Bars
        } else {
            Mode::Lines
        }
    }
}

/// Writes `line` and a newline to stderr in one `write_all`: stderr is not
/// buffered, and formatting straight into it would issue a write per piece.
fn write_stderr(line: std::fmt::Arguments<'_>) {
    let mut buf = String::with_capacity(128);
    let _ = writeln!(buf, "{line}");
    let _ = std::io::stderr().lock().write_all(buf.as_bytes());
}

/// Styles text written to stderr (colours only when stderr is a terminal).
fn paint<D>(text: D) -> StyledObject<D> {
    style(text).for_stderr()
}

struct Bars {
    multi: MultiProgress,
    overall: ProgressBar,
    running: HashMap<String, ProgressBar>,
}

pub struct Progress {
    mode: Mode,
    bars: Mutex<Option<Bars>>,
}

impl Progress {
    pub fn new(mode: Mode) -> Arc<Progress> {
        Arc::new(Progress {
            mode,
            bars: Mutex::new(None),
        })
    }

    fn bars(&self) -> MutexGuard<'_, Option<Bars>> {
        self.bars.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Prints one line above the bars, or as a timestamped line.
    pub fn line(&self, text: &str) {
        self.print(text);
    }

    /// [`line`](Self::line) for text still to be formatted, formatted once.
    fn print(&self, text: impl Display) {
        match self.mode {
            Mode::Bars => {
                let bars = self.bars();
                match &*bars {
                    Some(b) => {
                        let _ = b.multi.println(text.to_string());
                    }
                    None => write_stderr(format_args!("{text}")),
                }
            }
            Mode::Lines => {
                let now = chrono::Local::now().format("%H:%M:%S%.3f");
                write_stderr(format_args!("{now} {text}"));
            }
        }
    }

    /// A sink for the tasks' output lines: `task | line`.
    pub fn line_sink(self: &Arc<Self>) -> LineSink {
        let progress = Arc::clone(self);
        Arc::new(move |task: &str, stream: Stream, line: &str| {
            let bar = match stream {
                Stream::Stdout => paint("|").dim(),
                Stream::Stderr => paint("!").yellow(),
            };
            progress.print(format_args!("{} {bar} {line}", paint(task).cyan()));
        })
    }

    /// Removes the bars (call before printing the summary).
    pub fn finish(&self) {
        if let Some(bars) = self.bars().take() {
            for (_, bar) in bars.running {
                bar.finish_and_clear();
            }
            bars.overall.finish_and_clear();
            let _ = bars.multi.clear();
        }
    }

    fn start_bars(&self, total: usize) {
        if self.mode != Mode::Bars {
            return;
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let overall = multi.add(ProgressBar::new(total as u64));
        overall.set_style(
            ProgressStyle::with_template("{bar:30.green/dim} {pos}/{len} tasks  {elapsed_precise}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        overall.enable_steady_tick(Duration::from_millis(200));
        *self.bars() = Some(Bars {
            multi,
            overall,
            running: HashMap::new(),
        });
    }

    fn task_started(&self, task: &str, attempt: u32) {
        let suffix = if attempt > 1 {
            format!(" (attempt {attempt})")
        } else {
            String::new()
        };
        match self.mode {
            Mode::Bars => {
                let mut guard = self.bars();
                let Some(bars) = guard.as_mut() else { return };
                let bar = bars.running.remove(task).unwrap_or_else(|| {
                    let count = bars
                        .multi
                        .insert_before(&bars.overall, ProgressBar::new_spinner());
                    count.set_style(
                        ProgressStyle::with_template(
                            "{spinner:.cyan} {prefix:.bold} {msg} {elapsed:.dim}",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    );
                    count.enable_steady_tick(Duration::from_millis(100));
                    count
                });
                bar.set_prefix(task.to_owned());
                bar.set_message(suffix);
                bar.reset_elapsed();
                bars.running.insert(task.to_owned(), bar);
            }
            Mode::Lines => self.print(format_args!("start    {task}{suffix}")),
        }
    }

    fn task_retrying(&self, task: &str, attempt: u32, delay: Duration, error: &str) {
        let text = format!(
            "attempt {attempt} failed: {}; retrying in {}",
            clip(error, 100),
            format_duration(delay)
        );
        match self.mode {
            Mode::Bars => {
                let guard = self.bars();
                if let Some(bar) = guard.as_ref().and_then(|b| b.running.get(task)) {
                    bar.set_message(paint(&text).yellow().to_string());
                }
                drop(guard);
                self.print(format_args!("{} {task}: {text}", paint("↻").yellow()));
            }
            Mode::Lines => self.print(format_args!("retry    {task}: {text}")),
        }
    }

    fn task_finished(&self, task: &str, symbol: StyledObject<&str>, word: &str, detail: String) {
        match self.mode {
            Mode::Bars => {
                let mut guard = self.bars();
                if let Some(bars) = guard.as_mut() {
                    if let Some(bar) = bars.running.remove(task) {
                        bar.finish_and_clear();
                        bars.multi.remove(&bar);
                    }
                    bars.overall.inc(1);
                }
                drop(guard);
                self.print(format_args!("{symbol} {} {detail}", paint(task).bold()));
            }
            Mode::Lines => self.print(format_args!("{word:<8} {task} {detail}")),
        }
    }
}

impl Observer for Progress {
    fn on_event(&self, event: &WorkflowEvent) -> Result<(), ObserverError> {
        match event {
            WorkflowEvent::WorkflowStarted {
                run_id,
                workflow,
                definition,
                resumed_from,
                ..
            } => {
                let resumed = resumed_from
                    .as_ref()
                    .map(|r| format!(", resuming {r}"))
                    .unwrap_or_default();
                self.print(format_args!(
                    "run {run_id} of {workflow}: {} tasks{resumed}",
                    definition.dag.len()
                ));
                self.start_bars(definition.dag.len());
            }
            WorkflowEvent::TaskStarted { task, attempt, .. } => self.task_started(task, *attempt),
            WorkflowEvent::TaskRetrying {
                task,
                attempt,
                delay,
                error,
                ..
            } => self.task_retrying(task, *attempt, *delay, error),
            WorkflowEvent::TaskCompleted {
                task,
                attempt,
                duration,
                ..
            } => {
                let attempts = if *attempt > 1 {
                    format!(" after {attempt} attempts")
                } else {
                    String::new()
                };
                self.task_finished(
                    task,
                    paint("✔").green(),
                    "done",
                    format!("completed in {}{attempts}", format_duration(*duration)),
                );
            }
            WorkflowEvent::TaskRestored { task, .. } => self.task_finished(
                task,
                paint("↺").green(),
                "reused",
                "reused the result of the resumed run".into(),
            ),
            WorkflowEvent::TaskFailed {
                task,
                attempt,
                error,
                ..
            } => self.task_finished(
                task,
                paint("✘").red(),
                "failed",
                format!(
                    "failed after {attempt} attempt{}: {}",
                    if *attempt == 1 { "" } else { "s" },
                    clip(error, 200)
                ),
            ),
            WorkflowEvent::TaskSkipped { task, reason, .. } => self.task_finished(
                task,
                paint("-").dim(),
                "skipped",
                format!("skipped: {reason}"),
            ),
            WorkflowEvent::TaskCancelled { task, reason, .. } => self.task_finished(
                task,
                paint("■").yellow(),
                "cancel",
                format!("cancelled: {reason}"),
            ),
            WorkflowEvent::WorkflowCompleted { .. } => self.finish(),
            _ => {}
        }
        Ok(())
    }
}
