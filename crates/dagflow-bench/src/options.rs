//! Command-line options of `dagflow-bench` (clap derive).

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::{ArgAction, ArgGroup, CommandFactory, Parser};

use crate::emit::Format;
use crate::engines::{self, Engine};
use crate::rounds::RoundPolicy;
use crate::workload::{self, Workload};

/// Smallest accepted `--runs`: medians need at least three samples.
pub const MIN_RUNS: usize = 3;

const USAGE: &str = "\
dagflow-bench [--json] [--engines a,b] [--workloads x,y] [--runs N] [--warmup W] [--rounds R]
                     [--min-measured-ms B] [--timeout-secs S]
       dagflow-bench --report FILE
       dagflow-bench --list
       dagflow-bench --emit yaml|make WORKLOAD [--command CMD]
       dagflow-bench --child ENGINE WORKLOAD [--runs N] [--warmup W]";

const AFTER_HELP: &str = "\
Example:
  cargo run --release -p dagflow-bench -- --json \\
      --engines dagflow-async,async_dag --workloads layered-100x1000 --runs 7";

/// The command line, as clap reads it; [`Cli::into_mode`] turns it into a [`Mode`].
#[derive(Debug, Parser)]
#[command(
    name = "dagflow-bench",
    about = "dagflow's engines against peer crates and hand-written references",
    override_usage = USAGE,
    after_help = AFTER_HELP,
    args_override_self = true,
    group(ArgGroup::new("mode").args(["report", "list", "emit", "child"]).multiple(false))
)]
pub struct Cli {
    /// One JSON object per line per engine and workload (default: Markdown).
    #[arg(long, conflicts_with = "mode")]
    pub json: bool,

    /// Comma-separated engine names (default: all).
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        action = ArgAction::Set,
        value_parser = engine,
        conflicts_with = "mode"
    )]
    pub engines: Option<Vec<Engine>>,

    /// Comma-separated workload names (default: all).
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        action = ArgAction::Set,
        value_parser = workload,
        conflicts_with = "mode"
    )]
    pub workloads: Option<Vec<Workload>>,

    /// Runs per engine and workload, medians reported (at least 3).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 5,
        value_parser = runs,
        conflicts_with_all = ["report", "list", "emit"]
    )]
    pub runs: usize,

    /// Unmeasured runs before the measured ones in every engine's process
    /// (page faults, lazy initialisation); the first run's time is still
    /// reported, as `first_run_ms`.
    #[arg(
        long,
        value_name = "W",
        default_value_t = 1,
        conflicts_with_all = ["report", "list", "emit"]
    )]
    pub warmup: usize,

    /// Measure each workload in R rounds that alternate the engines (each a
    /// process of --runs runs); medians over all the rounds' samples (more
    /// rounds for short runs: see --min-measured-ms).
    #[arg(
        long,
        value_name = "R",
        default_value_t = 1,
        value_parser = rounds,
        conflicts_with_all = ["report", "list", "emit", "child"]
    )]
    pub rounds: usize,

    /// Give an engine whose runs are short further rounds, until its
    /// measured runs add up to B ms or it has had 5 x R rounds (0: exactly
    /// R rounds).
    #[arg(
        long,
        value_name = "B",
        default_value_t = 100,
        conflicts_with_all = ["report", "list", "emit", "child"]
    )]
    pub min_measured_ms: u64,

    /// Stop an engine's process after S seconds.
    #[arg(long, value_name = "S", default_value_t = 600, conflicts_with = "mode")]
    pub timeout_secs: u64,

    /// Markdown tables and targets from saved --json output.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// List engines and workloads.
    #[arg(long)]
    pub list: bool,

    /// The workload as a workflow file (yaml) or Makefile (make), for benches/cli.sh.
    #[arg(long, num_args = 2, value_names = ["FORMAT", "WORKLOAD"])]
    pub emit: Option<Vec<String>>,

    /// The command every emitted task runs.
    #[arg(
        long,
        value_name = "CMD",
        default_value = "true",
        requires = "emit",
        conflicts_with_all = ["report", "list", "child"],
        allow_hyphen_values = true
    )]
    pub command: String,

    /// Internal: measure one engine on one workload in this process.
    #[arg(long, num_args = 2, value_names = ["ENGINE", "WORKLOAD"])]
    pub child: Option<Vec<String>>,
}

/// What to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// Run the suite.
    Suite(SuiteOptions),
    /// Measure one engine on one workload in this process (internal).
    Child {
        /// Engine to measure.
        engine: Engine,
        /// Workload to run.
        workload: Workload,
        /// Number of measured runs.
        runs: usize,
        /// Number of unmeasured runs before them.
        warmup: usize,
    },
    /// Render Markdown from a file of `--json` lines.
    Report(PathBuf),
    /// List engines and workloads.
    List,
    /// Print a workload as a workflow file or Makefile.
    Emit {
        /// Output format.
        format: Format,
        /// Workload to write.
        workload: Workload,
        /// The command every task runs.
        command: String,
    },
}

/// Options of a suite run.
#[derive(Debug, Clone, PartialEq)]
pub struct SuiteOptions {
    /// Engines to measure.
    pub engines: Vec<Engine>,
    /// Workloads to run.
    pub workloads: Vec<Workload>,
    /// Runs per engine and workload in each round.
    pub runs: usize,
    /// Unmeasured runs before them, in each round's process.
    pub warmup: usize,
    /// Rounds per workload, alternating the engines.
    pub rounds: usize,
    /// Measured run time below which an engine gets further rounds.
    pub min_measured: Duration,
    /// Time limit per child process.
    pub timeout: Duration,
    /// JSON lines instead of Markdown.
    pub json: bool,
}

impl SuiteOptions {
    /// How many rounds each engine gets (`--rounds`, `--min-measured-ms`).
    pub fn round_policy(&self) -> RoundPolicy {
        RoundPolicy {
            rounds: self.rounds,
            min_measured: self.min_measured,
        }
    }
}

/// The message for a name that is none of `known`.
fn unknown<'a>(kind: &str, name: &str, known: impl Iterator<Item = &'a str>) -> String {
    let known: Vec<&str> = known.collect();
    format!(
        "unknown {kind} `{name}`; known {kind}s: {}",
        known.join(", ")
    )
}

fn engine(name: &str) -> Result<Engine, String> {
    Engine::by_name(name)
        .ok_or_else(|| unknown("engine", name, engines::ALL.iter().map(|e| e.name())))
}

fn workload(name: &str) -> Result<Workload, String> {
    Workload::by_name(name)
        .ok_or_else(|| unknown("workload", name, workload::ALL.iter().map(|w| w.name)))
}

fn format(name: &str) -> Result<Format, String> {
    Format::by_name(name)
        .ok_or_else(|| format!("unknown format `{name}` for --emit; use `yaml` or `make`"))
}

fn runs(value: &str) -> Result<usize, String> {
    let n: usize = value
        .parse()
        .map_err(|_| format!("`{value}` is not a whole number"))?;
    if n < MIN_RUNS {
        return Err(format!(
            "--runs must be at least {MIN_RUNS} so that medians mean something, not {n}"
        ));
    }
    Ok(n)
}

fn rounds(value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "--rounds takes a whole number of at least 1, not `{value}`"
        )),
    }
}

/// Splits the two values of `--emit` or `--child` (clap guarantees two).
fn pair(values: &[String]) -> (&str, &str) {
    match values {
        [a, b, ..] => (a, b),
        [a] => (a, ""),
        [] => ("", ""),
    }
}

impl Cli {
    /// Checks the names given to `--emit` and `--child` and picks the mode.
    pub fn into_mode(self) -> Result<Mode, clap::Error> {
        let invalid = |message: String| Cli::command().error(ErrorKind::InvalidValue, message);
        if let Some(values) = &self.emit {
            let (f, w) = pair(values);
            let workload = workload(w).map_err(invalid)?;
            if workload.is_journal() {
                return Err(invalid(format!(
                    "`{w}` is a journal workload, not a graph; --emit writes the graph workloads"
                )));
            }
            return Ok(Mode::Emit {
                format: format(f).map_err(invalid)?,
                workload,
                command: self.command,
            });
        }
        if let Some(values) = &self.child {
            let (e, w) = pair(values);
            return Ok(Mode::Child {
                engine: engine(e).map_err(invalid)?,
                workload: workload(w).map_err(invalid)?,
                runs: self.runs,
                warmup: self.warmup,
            });
        }
        if let Some(file) = self.report {
            return Ok(Mode::Report(file));
        }
        if self.list {
            return Ok(Mode::List);
        }
        Ok(Mode::Suite(SuiteOptions {
            engines: self.engines.unwrap_or_else(|| engines::ALL.to_vec()),
            workloads: self.workloads.unwrap_or_else(|| workload::ALL.to_vec()),
            runs: self.runs,
            warmup: self.warmup,
            rounds: self.rounds,
            min_measured: Duration::from_millis(self.min_measured_ms),
            timeout: Duration::from_secs(self.timeout_secs),
            json: self.json,
        }))
    }
}

/// Parses the arguments after the program name.
///
/// `--help` and usage errors come back as a [`clap::Error`]; its
/// [`exit`](clap::Error::exit) prints help on stdout or the error on stderr.
///
/// ```
/// use dagflow_bench::options::{parse, Mode};
/// let mode = parse(["--json", "--engines", "ref-sync", "--workloads", "chain-1000"])?;
/// let Mode::Suite(opts) = mode else { panic!("expected a suite run") };
/// assert!(opts.json);
/// assert_eq!(opts.engines.len(), 1);
/// assert_eq!(opts.runs, 5);
/// # Ok::<(), clap::Error>(())
/// ```
pub fn parse<I, S>(args: I) -> Result<Mode, clap::Error>
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    let args =
        std::iter::once(OsString::from("dagflow-bench")).chain(args.into_iter().map(Into::into));
    Cli::try_parse_from(args)?.into_mode()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(args: &[&str]) -> String {
        match parse(args) {
            Ok(mode) => panic!("{args:?} should be refused, got {mode:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn no_arguments_run_everything_five_times_with_a_ten_minute_limit() {
        let mode = parse::<_, &str>([]);
        let Ok(Mode::Suite(opts)) = mode else {
            panic!("expected a suite run, got {mode:?}")
        };
        assert_eq!(opts.engines, engines::ALL);
        assert_eq!(opts.workloads, workload::ALL);
        assert_eq!(opts.runs, 5);
        assert_eq!(opts.warmup, 1);
        assert_eq!(opts.rounds, 1);
        assert_eq!(opts.min_measured, Duration::from_millis(100));
        assert_eq!(opts.timeout, Duration::from_secs(600));
        assert!(!opts.json);
    }

    #[test]
    fn selects_engines_and_workloads_in_the_order_given() {
        let mode = parse([
            "--engines",
            "dagx,ref-tokio",
            "--workloads",
            "sleepy-10x100,chain-1000",
            "--timeout-secs",
            "30",
        ]);
        let Ok(Mode::Suite(opts)) = mode else {
            panic!("expected a suite run, got {mode:?}")
        };
        assert_eq!(opts.engines, [Engine::Dagx, Engine::RefTokio]);
        let names: Vec<&str> = opts.workloads.iter().map(|w| w.name).collect();
        assert_eq!(names, ["sleepy-10x100", "chain-1000"]);
        assert_eq!(opts.timeout, Duration::from_secs(30));
        assert!(!opts.json);
    }

    #[test]
    fn a_repeated_option_keeps_its_last_value() {
        let mode = parse([
            "--engines",
            "dagx",
            "--engines",
            "dagrs",
            "--runs",
            "4",
            "--runs",
            "6",
        ]);
        let Ok(Mode::Suite(opts)) = mode else {
            panic!("expected a suite run, got {mode:?}")
        };
        assert_eq!(opts.engines, [Engine::Dagrs]);
        assert_eq!(opts.runs, 6);
    }

    #[test]
    fn child_mode_takes_engine_and_workload() {
        let mode = parse(["--child", "ref-sync", "layered-100x1000", "--runs", "3"]);
        assert!(matches!(
            mode,
            Ok(Mode::Child { engine: Engine::RefSync, workload, runs: 3, warmup: 1 }) if workload.name == "layered-100x1000"
        ));
        let mode = parse(["--child", "ref-sync", "chain-1000", "--warmup", "0"]);
        assert!(
            matches!(
                mode,
                Ok(Mode::Child {
                    runs: 5,
                    warmup: 0,
                    ..
                })
            ),
            "{mode:?}"
        );
    }

    #[test]
    fn emit_takes_format_workload_and_command() {
        let mode = parse(["--emit", "make", "sleepy-10x100", "--command", "true"]);
        assert!(
            matches!(
                &mode,
                Ok(Mode::Emit { format: Format::Make, workload, command })
                    if workload.name == "sleepy-10x100" && command == "true"
            ),
            "{mode:?}"
        );
        let mode = parse(["--emit", "yaml", "chain-1000"]);
        assert!(
            matches!(
                &mode,
                Ok(Mode::Emit { format: Format::Yaml, command, .. }) if command == "true"
            ),
            "{mode:?}"
        );
        let err = parse(["--emit", "yaml", "journal-record-100000"]).unwrap_err();
        assert!(
            err.to_string()
                .contains("is a journal workload, not a graph"),
            "{err}"
        );
    }

    #[test]
    fn report_and_list_modes() {
        assert_eq!(
            parse(["--report", "results.jsonl"]).ok(),
            Some(Mode::Report(PathBuf::from("results.jsonl")))
        );
        assert_eq!(parse(["--list"]).ok(), Some(Mode::List));
    }

    #[test]
    fn unknown_engine_names_the_known_ones() {
        let message = error(&["--engines", "ref-sync,airflow"]);
        assert!(
            message.contains(
                "unknown engine `airflow`; known engines: dagflow-async, dagflow-async-journal,"
            ),
            "{message}"
        );
        let message = error(&["--child", "airflow", "chain-1000"]);
        assert!(
            message.contains("unknown engine `airflow`; known engines: dagflow-async,"),
            "{message}"
        );
    }

    #[test]
    fn unknown_workload_and_format_are_named() {
        let message = error(&["--workloads", "diamond"]);
        assert!(
            message
                .contains("unknown workload `diamond`; known workloads: chain-1000, chain-10000"),
            "{message}"
        );
        let message = error(&["--emit", "json", "chain-1000"]);
        assert!(
            message.contains("unknown format `json` for --emit; use `yaml` or `make`"),
            "{message}"
        );
    }

    #[test]
    fn rounds_split_the_measurement_and_zero_rounds_are_refused() {
        let mode = parse(["--rounds", "3", "--runs", "3"]);
        let Ok(Mode::Suite(opts)) = mode else {
            panic!("expected a suite run, got {mode:?}")
        };
        assert_eq!((opts.rounds, opts.runs), (3, 3));
        let message = error(&["--rounds", "0"]);
        assert!(
            message.contains("--rounds takes a whole number of at least 1, not `0`"),
            "{message}"
        );
        let message = error(&["--child", "ref-sync", "chain-1000", "--rounds", "2"]);
        assert!(message.contains("cannot be used with"), "{message}");
        let mode = parse(["--min-measured-ms", "0"]);
        let Ok(Mode::Suite(opts)) = mode else {
            panic!("expected a suite run, got {mode:?}")
        };
        assert_eq!(opts.min_measured, Duration::ZERO);
        let message = error(&[
            "--child",
            "ref-sync",
            "chain-1000",
            "--min-measured-ms",
            "5",
        ]);
        assert!(message.contains("cannot be used with"), "{message}");
    }

    #[test]
    fn fewer_than_three_runs_is_refused() {
        let message = error(&["--runs", "2"]);
        assert!(
            message.contains("--runs must be at least 3 so that medians mean something, not 2"),
            "{message}"
        );
        let message = error(&["--child", "ref-sync", "chain-1000", "--runs", "1"]);
        assert!(message.contains("at least 3"), "{message}");
        let message = error(&["--runs", "many"]);
        assert!(
            message.contains("`many` is not a whole number"),
            "{message}"
        );
    }

    #[test]
    fn conflicting_modes_are_refused() {
        for args in [
            &["--report", "r.jsonl", "--child", "ref-sync", "chain-1000"][..],
            &["--list", "--emit", "yaml", "chain-1000"],
            &["--json", "--list"],
            &["--report", "r.jsonl", "--runs", "3"],
            &["--command", "true"],
            &["--list", "--command", "true"],
            &["--child", "ref-sync", "chain-1000", "--command", "true"],
        ] {
            let kind = parse(args).err().map(|e| e.kind());
            assert!(
                matches!(
                    kind,
                    Some(ErrorKind::ArgumentConflict | ErrorKind::MissingRequiredArgument)
                ),
                "{args:?}: {kind:?}"
            );
        }
    }

    #[test]
    fn unknown_options_and_missing_values_are_refused() {
        assert_eq!(
            parse(["--fast"]).err().map(|e| e.kind()),
            Some(ErrorKind::UnknownArgument)
        );
        assert!(parse(["--emit", "yaml"]).is_err());
        assert!(parse(["--engines"]).is_err());
    }

    #[test]
    fn help_lists_the_flags_and_an_example() {
        let kind = parse(["--help"]).err().map(|e| e.kind());
        assert_eq!(kind, Some(ErrorKind::DisplayHelp));
        let help = Cli::command().term_width(200).render_help().to_string();
        for flag in [
            "--json",
            "--engines",
            "--workloads",
            "--runs",
            "--warmup",
            "--rounds",
            "--min-measured-ms",
            "--timeout-secs",
            "--report",
            "--list",
            "--emit",
            "--command",
            "--child",
        ] {
            assert!(help.contains(flag), "{flag} missing from help:\n{help}");
        }
        assert!(
            help.contains(
                "--json \\\n      --engines dagflow-async,async_dag --workloads layered-100x1000 --runs 7"
            ),
            "{help}"
        );
    }
}
