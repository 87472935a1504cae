//! A task's action: run its command with the run's environment, turn stdout
//! into the result, and a non-zero exit into an error the retry policy can
//! inspect.

use std::sync::Arc;

use dagflow::engine::workflow::TaskContext;
use serde_json::Value;

use super::state::{AttemptRecord, RunState};
use crate::process::{Captured, Exit, ProcessRequest, ProcessRunner};
use crate::spec::result_variable;

/// A command that ran but did not exit with code 0.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the command {exit}{}", stderr_hint(.stderr_end))]
pub struct CommandFailed {
    /// How it ended.
    pub exit: Exit,
    /// The last lines of its stderr (up to a few hundred characters).
    pub stderr_end: String,
}

/// A `when:` condition that could not be evaluated (a missing key, a type
/// error): the task fails rather than being silently skipped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the `when` condition could not be evaluated, so the task did not run: {message}; reading a missing key is an error in CEL, test for it first (`\"KEY\" in env`, `has(tasks.x.result.field)`)")]
pub struct ConditionFailed {
    /// What the evaluation reported.
    pub message: String,
}

fn stderr_hint(stderr_end: &str) -> String {
    if stderr_end.is_empty() {
        String::new()
    } else {
        format!("; stderr ends with: {stderr_end}")
    }
}

/// The last lines of `text`, at most `max_chars` characters, joined by " | ".
fn last_lines(text: &str, max_lines: usize, max_chars: usize) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .collect();
    let joined = lines[lines.len().saturating_sub(max_lines)..].join(" | ");
    let count = joined.chars().count();
    if count <= max_chars {
        joined
    } else {
        let skip = count - max_chars;
        format!("...{}", joined.chars().skip(skip).collect::<String>())
    }
}

/// A task's result from its stdout: trimmed, parsed as JSON when it is
/// JSON, a string otherwise. Output beyond the result limit gives `null`
/// (the tail is still journaled).
///
/// ```
/// use serde_json::json;
/// use dagflow_cli::execute::result_from_text;
/// assert_eq!(result_from_text(" {\"rows\": 3}\n"), json!({"rows": 3}));
/// assert_eq!(result_from_text("done\n"), json!("done"));
/// assert_eq!(result_from_text("42"), json!(42));
/// ```
pub fn result_from_text(text: &str) -> Value {
    let trimmed = text.trim();
    serde_json::from_str(trimmed).unwrap_or_else(|_| Value::String(trimmed.to_owned()))
}

fn result_from_stdout(task: &str, stdout: &Captured) -> Value {
    if stdout.head_truncated() {
        tracing::warn!(
            task,
            bytes = stdout.total_bytes(),
            limit = stdout.head().len(),
            "the task's stdout is longer than the result limit, so its result is null; write large outputs to a file"
        );
        return Value::Null;
    }
    result_from_text(&String::from_utf8_lossy(stdout.head()))
}

/// The text of a result as passed in `DAGFLOW_RESULT_*`: strings as they
/// are, anything else as JSON.
pub fn result_env_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Everything an action needs, shared by all attempts of one task.
pub(crate) struct TaskAction {
    pub(crate) request: ProcessRequest,
    pub(crate) runner: ProcessRunner,
    pub(crate) state: RunState,
}

impl TaskAction {
    pub(crate) fn attempt(
        self: &Arc<Self>,
        ctx: TaskContext,
    ) -> impl std::future::Future<Output = Result<Value, Box<dyn std::error::Error + Send + Sync>>>
           + Send
           + 'static {
        let this = Arc::clone(self);
        let mut request = this.request.clone();
        request
            .env
            .push(("DAGFLOW_RUN_ID".into(), ctx.run_id().to_owned()));
        request
            .env
            .push(("DAGFLOW_WORKFLOW".into(), ctx.workflow().to_owned()));
        request
            .env
            .push(("DAGFLOW_TASK".into(), ctx.task().to_owned()));
        request
            .env
            .push(("DAGFLOW_ATTEMPT".into(), ctx.attempt().to_string()));
        for (name, value) in ctx.dependency_results() {
            request
                .env
                .push((result_variable(name), result_env_text(value)));
        }
        let cancel = ctx.cancellation().clone();
        let attempt = ctx.attempt();
        async move {
            if let Some(message) = this.state.condition_error(&request.label) {
                return Err(ConditionFailed { message }.into());
            }
            let output = this.runner.run(&request, &cancel).await?;
            let stderr_tail = output.stderr.tail_text();
            this.state.record_attempt(
                &request.label,
                attempt,
                AttemptRecord {
                    exit_code: output.exit.code(),
                    signal: match output.exit {
                        Exit::Signal(s) => Some(s),
                        Exit::Code(_) => None,
                    },
                    stdout_tail: output.stdout.tail_text(),
                    stderr_tail: stderr_tail.clone(),
                    stdout_truncated: output.stdout.head_truncated(),
                },
            );
            if output.exit.success() {
                Ok(result_from_stdout(&request.label, &output.stdout))
            } else {
                Err(CommandFailed {
                    exit: output.exit,
                    stderr_end: last_lines(&stderr_tail, 3, 300),
                }
                .into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn failure_message_quotes_the_end_of_stderr() {
        let err = CommandFailed {
            exit: Exit::Code(2),
            stderr_end: last_lines("a\nb\n\nc\nd\n", 3, 300),
        };
        assert_eq!(
            err.to_string(),
            "the command exited with code 2; stderr ends with: b | c | d"
        );
        let quiet = CommandFailed {
            exit: Exit::Code(1),
            stderr_end: String::new(),
        };
        assert_eq!(quiet.to_string(), "the command exited with code 1");
    }

    #[test]
    fn long_stderr_is_cut_from_the_front() {
        let end = last_lines(&"x".repeat(50), 3, 10);
        assert_eq!(end, format!("...{}", "x".repeat(10)));
    }

    #[test]
    fn results_are_json_when_they_parse() {
        assert_eq!(result_from_text("[1, 2]\n"), json!([1, 2]));
        assert_eq!(result_from_text("  hello world \n"), json!("hello world"));
        assert_eq!(result_from_text(""), json!(""));
        assert_eq!(result_from_text("true"), json!(true));
    }

    #[test]
    fn env_text_keeps_strings_raw() {
        assert_eq!(result_env_text(&json!("a b")), "a b");
        assert_eq!(result_env_text(&json!({"k": 1})), "{\"k\":1}");
    }
}
