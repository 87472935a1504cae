//! Command-line arguments (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Examples:
  dagflow run examples/workflows/data-pipeline.yml
  dagflow validate ci.yml
  dagflow runs --limit 5
  dagflow show <RUN_ID>
  dagflow insights --workflow etl

Exit codes: 0 success, 1 a task or the command failed, 2 invalid file or usage, 130 interrupted.
The journal is .dagflow/journal.db unless --journal or DAGFLOW_JOURNAL says otherwise.";

/// Run DAGs of shell commands from a YAML file, with retries, timeouts,
/// parallelism and a journal of every run.
#[derive(Debug, Parser)]
#[command(name = "dagflow", version, after_help = AFTER_HELP, propagate_version = true)]
pub struct Cli {
    /// Journal location: a SQLite file path (or sqlite://PATH).
    #[arg(long, global = true, env = "DAGFLOW_JOURNAL", value_name = "PATH|URL")]
    pub journal: Option<String>,

    /// More log output on stderr (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a workflow file.
    #[command(
        after_help = "Example:\n  dagflow run etl.yml --concurrency 2\n  dagflow run etl.yml --output json > report.json"
    )]
    Run(RunArgs),
    /// Check a workflow file and print its execution order and levels.
    #[command(after_help = "Example:\n  dagflow validate etl.yml")]
    Validate(FileArg),
    /// Print the task graph as Graphviz DOT or Mermaid.
    #[command(
        after_help = "Example:\n  dagflow graph etl.yml | dot -Tsvg > etl.svg\n  dagflow graph etl.yml --format mermaid"
    )]
    Graph(GraphArgs),
    /// List recent runs from the journal.
    #[command(after_help = "Example:\n  dagflow runs --workflow etl --limit 10")]
    Runs(RunsArgs),
    /// Show one run: tasks, attempts, timings, errors, output tails, timeline.
    #[command(
        after_help = "Example:\n  dagflow show 3f2a9c1e   (a unique prefix of the run id is enough)"
    )]
    Show(ShowArgs),
    /// Analytics over the journal: success rates, hotspots, trends, percentiles.
    #[command(after_help = "Example:\n  dagflow insights --workflow etl --top 3 --output json")]
    Insights(InsightsArgs),
    /// Continue a failed or interrupted run without redoing completed tasks.
    #[command(
        after_help = "Example:\n  dagflow resume 3f2a9c1e\n  dagflow resume 3f2a9c1e etl.yml --force   (the file changed since)"
    )]
    Resume(ResumeArgs),
    /// List the built-in templates.
    #[command(after_help = "Example:\n  dagflow templates")]
    Templates(OutputArg),
    /// Write a starter workflow file from a template.
    #[command(after_help = "Example:\n  dagflow init --template ci_cd ci.yml")]
    Init(InitArgs),
    /// Print a shell completion script.
    #[command(
        after_help = "Example:\n  dagflow completions bash > ~/.local/share/bash-completion/completions/dagflow"
    )]
    Completions(CompletionsArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum OutputFormat {
    /// Human-readable text.
    #[default]
    Text,
    /// One JSON document on stdout.
    Json,
}

#[derive(Debug, Args)]
pub struct FileArg {
    /// The workflow file (YAML).
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct OutputArg {
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The workflow file (YAML).
    pub file: PathBuf,
    #[command(flatten)]
    pub execution: ExecutionArgs,
}

/// How a run executes; shared by `run` and `resume`.
#[derive(Debug, Args)]
pub struct ExecutionArgs {
    /// Maximum tasks at once (overrides the file's `concurrency`).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub concurrency: Option<u32>,
    /// Output format: json prints one report on stdout, everything else on stderr.
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
    /// Do not print the tasks' output lines.
    #[arg(short, long)]
    pub quiet: bool,
    /// Time between SIGTERM and SIGKILL when stopping a task.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration_arg)]
    pub grace: std::time::Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum GraphFormat {
    /// Graphviz DOT.
    #[default]
    Dot,
    /// Mermaid flowchart.
    Mermaid,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    /// The workflow file (YAML).
    pub file: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: GraphFormat,
}

#[derive(Debug, Args)]
pub struct RunsArgs {
    /// Only runs of this workflow.
    #[arg(long, value_name = "NAME")]
    pub workflow: Option<String>,
    /// Number of runs to list.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub limit: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The run id, or a unique prefix of it.
    pub run_id: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct InsightsArgs {
    /// Only runs of this workflow (without it: a line over every run, then
    /// each workflow of the journal on its own).
    #[arg(long, value_name = "NAME")]
    pub workflow: Option<String>,
    /// Number of hotspots, flaky and slowest steps to list.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub top: usize,
    /// Moving-average window of the duration trend, in runs.
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub window: u32,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The run to continue (id or unique prefix).
    pub run_id: String,
    /// The workflow file; by default the file the run came from.
    pub file: Option<PathBuf>,
    /// Resume even though the workflow changed since the run: the changed
    /// tasks and every task after them run again.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub execution: ExecutionArgs,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The template to start from (see `dagflow templates`).
    #[arg(long, value_name = "NAME")]
    pub template: String,
    /// The file to write.
    #[arg(default_value = "dagflow.yml")]
    pub file: PathBuf,
    /// Overwrite the file if it exists.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    pub shell: clap_complete::Shell,
}

fn parse_duration_arg(text: &str) -> Result<std::time::Duration, String> {
    dagflow_cli::spec::parse_duration(text)
        .ok_or_else(|| format!("`{text}` is not a duration; write e.g. 500ms, 5s or 1m"))
}
