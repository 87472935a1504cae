//! Command-line options of `dagflow-bench`.

use std::path::PathBuf;
use std::time::Duration;

use crate::emit::Format;
use crate::engines::{self, Engine};
use crate::workload::{self, Workload};

/// The usage text printed by `--help`.
pub const USAGE: &str = "\
dagflow-bench: dagflow's engines against peer crates and hand-written references

USAGE:
    dagflow-bench [--json] [--engines a,b] [--workloads x,y] [--runs N] [--timeout-secs S]
    dagflow-bench --report FILE      Markdown tables and targets from saved --json output
    dagflow-bench --list             engines and workloads
    dagflow-bench --emit yaml|make WORKLOAD [--command CMD]
                                     the workload as a workflow file or Makefile (for benches/cli.sh)
    dagflow-bench --child ENGINE WORKLOAD [--runs N]   (internal: one measurement process)

OPTIONS:
    --json              one JSON object per line per engine and workload (default: Markdown)
    --engines LIST      comma-separated engine names (default: all)
    --workloads LIST    comma-separated workload names (default: all)
    --runs N            runs per engine and workload, medians reported (default 5, at least 3)
    --timeout-secs S    stop an engine's process after S seconds (default 600)
";

/// Smallest accepted `--runs`: medians need at least three samples.
pub const MIN_RUNS: usize = 3;

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
        /// Number of runs.
        runs: usize,
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
    /// Print usage.
    Help,
}

/// Options of a suite run.
#[derive(Debug, Clone, PartialEq)]
pub struct SuiteOptions {
    /// Engines to measure.
    pub engines: Vec<Engine>,
    /// Workloads to run.
    pub workloads: Vec<Workload>,
    /// Runs per engine and workload.
    pub runs: usize,
    /// Time limit per child process.
    pub timeout: Duration,
    /// JSON lines instead of Markdown.
    pub json: bool,
}

/// A command line that cannot be understood.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OptionsError {
    /// An option needs a value and got none.
    #[error("option `{0}` needs a value; see --help")]
    MissingValue(String),
    /// An option is not known.
    #[error("unknown option `{0}`; see --help")]
    Unknown(String),
    /// An engine name is not known.
    #[error("unknown engine `{name}`; known engines: {known}")]
    UnknownEngine {
        /// The name given.
        name: String,
        /// The known names.
        known: String,
    },
    /// A workload name is not known.
    #[error("unknown workload `{name}`; known workloads: {known}")]
    UnknownWorkload {
        /// The name given.
        name: String,
        /// The known names.
        known: String,
    },
    /// A number could not be read.
    #[error("option `{option}` needs a whole number, not `{value}`")]
    BadNumber {
        /// The option.
        option: String,
        /// The value given.
        value: String,
    },
    /// An `--emit` format is not known.
    #[error("unknown format `{0}` for --emit; use `yaml` or `make`")]
    UnknownFormat(String),
    /// Too few runs for a median.
    #[error("--runs must be at least {MIN_RUNS} so that medians mean something, not {0}")]
    TooFewRuns(usize),
}

fn engine(name: &str) -> Result<Engine, OptionsError> {
    Engine::by_name(name).ok_or_else(|| OptionsError::UnknownEngine {
        name: name.to_string(),
        known: engines::ALL
            .iter()
            .map(|e| e.name())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

fn workload(name: &str) -> Result<Workload, OptionsError> {
    Workload::by_name(name).ok_or_else(|| OptionsError::UnknownWorkload {
        name: name.to_string(),
        known: workload::ALL
            .iter()
            .map(|w| w.name)
            .collect::<Vec<_>>()
            .join(", "),
    })
}

fn number(option: &str, value: &str) -> Result<u64, OptionsError> {
    value.parse().map_err(|_| OptionsError::BadNumber {
        option: option.to_string(),
        value: value.to_string(),
    })
}

/// Parses the arguments after the program name.
///
/// ```
/// use dagflow_bench::options::{parse, Mode};
/// let mode = parse(["--json", "--engines", "ref-sync", "--workloads", "chain-1000"])?;
/// let Mode::Suite(opts) = mode else { panic!("expected a suite run") };
/// assert!(opts.json);
/// assert_eq!(opts.engines.len(), 1);
/// assert_eq!(opts.runs, 5);
/// # Ok::<(), dagflow_bench::options::OptionsError>(())
/// ```
pub fn parse<I, S>(args: I) -> Result<Mode, OptionsError>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut args = args.into_iter().map(Into::into);
    let mut suite = SuiteOptions {
        engines: engines::ALL.to_vec(),
        workloads: workload::ALL.to_vec(),
        runs: 5,
        timeout: Duration::from_secs(600),
        json: false,
    };
    let mut child: Option<(Engine, Workload)> = None;
    let mut report = None;
    let mut list = false;
    let mut emit: Option<(Format, Workload)> = None;
    let mut command = "true".to_string();
    while let Some(arg) = args.next() {
        let mut value = |option: &str| {
            args.next()
                .ok_or_else(|| OptionsError::MissingValue(option.to_string()))
        };
        match arg.as_str() {
            "--json" => suite.json = true,
            "--engines" => {
                suite.engines = value("--engines")?
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(engine)
                    .collect::<Result<_, _>>()?
            }
            "--workloads" => {
                suite.workloads = value("--workloads")?
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(workload)
                    .collect::<Result<_, _>>()?
            }
            "--runs" => suite.runs = number("--runs", &value("--runs")?)? as usize,
            "--timeout-secs" => {
                suite.timeout =
                    Duration::from_secs(number("--timeout-secs", &value("--timeout-secs")?)?)
            }
            "--child" => {
                let e = engine(&value("--child")?)?;
                let w = workload(&value("--child")?)?;
                child = Some((e, w));
            }
            "--report" => report = Some(PathBuf::from(value("--report")?)),
            "--list" => list = true,
            "--emit" => {
                let name = value("--emit")?;
                let format = Format::by_name(&name).ok_or(OptionsError::UnknownFormat(name))?;
                emit = Some((format, workload(&value("--emit")?)?));
            }
            "--command" => command = value("--command")?,
            "--help" | "-h" => return Ok(Mode::Help),
            other => return Err(OptionsError::Unknown(other.to_string())),
        }
    }
    if suite.runs < MIN_RUNS {
        return Err(OptionsError::TooFewRuns(suite.runs));
    }
    if let Some((format, workload)) = emit {
        return Ok(Mode::Emit {
            format,
            workload,
            command,
        });
    }
    Ok(match (child, report, list) {
        (Some((engine, workload)), _, _) => Mode::Child {
            engine,
            workload,
            runs: suite.runs,
        },
        (None, Some(file), _) => Mode::Report(file),
        (None, None, true) => Mode::List,
        (None, None, false) => Mode::Suite(suite),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selects_engines_and_workloads_in_the_order_given() {
        let mode = parse([
            "--engines",
            "dagx,ref-tokio",
            "--workloads",
            "sleepy-10x100,chain-1000",
        ]);
        let Ok(Mode::Suite(opts)) = mode else {
            panic!("expected a suite run, got {mode:?}")
        };
        assert_eq!(opts.engines, [Engine::Dagx, Engine::RefTokio]);
        let names: Vec<&str> = opts.workloads.iter().map(|w| w.name).collect();
        assert_eq!(names, ["sleepy-10x100", "chain-1000"]);
        assert!(!opts.json);
    }

    #[test]
    fn child_mode_takes_engine_and_workload() {
        let mode = parse(["--child", "ref-sync", "layered-100x1000", "--runs", "3"]);
        assert!(matches!(
            mode,
            Ok(Mode::Child { engine: Engine::RefSync, workload, runs: 3 }) if workload.name == "layered-100x1000"
        ));
    }

    #[test]
    fn unknown_engine_names_the_known_ones() {
        let err = parse(["--engines", "airflow"]).err();
        let message = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            message.starts_with("unknown engine `airflow`; known engines: dagflow-async,"),
            "{message}"
        );
    }

    #[test]
    fn fewer_than_three_runs_is_refused() {
        assert_eq!(parse(["--runs", "2"]), Err(OptionsError::TooFewRuns(2)));
    }
}
