//! `dagflow`: run YAML workflow files of shell commands, and ask the journal
//! about past runs. This file parses the arguments and dispatches; each
//! command lives in `commands/`.

mod cli;
mod commands;
mod output;

use std::process::ExitCode;

use clap::Parser;
use dagflow_cli::journal::JournalError;
use dagflow_cli::spec::LoadError;

use cli::{Cli, Command};

/// Exit codes of the command line.
pub mod exit {
    /// The run (or command) succeeded.
    pub const SUCCESS: u8 = 0;
    /// A task failed, or the command could not do its job.
    pub const FAILURE: u8 = 1;
    /// Invalid workflow file or invalid usage.
    pub const USAGE: u8 = 2;
    /// Interrupted by Ctrl-C (SIGINT).
    pub const INTERRUPTED: u8 = 130;
    /// Stopped by SIGTERM.
    pub const TERMINATED: u8 = 143;
}

/// An error caused by how dagflow was called (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

fn main() -> ExitCode {
    restore_default_sigpipe();
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let journal = cli.journal;
    let outcome = match cli.command {
        Command::Run(args) => with_runtime(commands::run::run(args, journal)),
        Command::Resume(args) => with_runtime(commands::resume::resume(args, journal)),
        Command::Validate(args) => commands::validate::validate(args),
        Command::Graph(args) => commands::graph::graph(args),
        Command::Runs(args) => commands::runs::runs(args, journal),
        Command::Show(args) => commands::show::show(args, journal),
        Command::Insights(args) => commands::insights::insights(args, journal),
        Command::Templates(args) => commands::templates::templates(args),
        Command::Init(args) => commands::templates::init(args),
        Command::Completions(args) => commands::completions::completions(args),
    };
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            report_error(&error);
            ExitCode::from(exit_code_of(&error))
        }
    }
}

fn with_runtime(
    future: impl std::future::Future<Output = anyhow::Result<u8>>,
) -> anyhow::Result<u8> {
    // One thread. The command line's work is in its child processes: the
    // engine only starts them, reads their output and records how they end.
    // With a worker per core, every child's exit woke an idle worker that
    // found nothing to do, and those wake-ups took CPU from the children:
    // 1,000 one-line tasks ran 5-7 % slower than on one thread. Blocking
    // task work (the journal's commits) has threads of its own. What one
    // thread gives up is output throughput: four tasks printing 40 MB each
    // take 0.30 s instead of 0.24 s.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))?;
    let outcome = runtime.block_on(future);
    // Blocking tasks abandoned by a cancelled run must not hold up the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    outcome
}

fn report_error(error: &anyhow::Error) {
    if let Some(spec_error) = error
        .downcast_ref::<LoadError>()
        .and_then(LoadError::spec_error)
    {
        eprintln!(
            "{} {}",
            console::style("error:").red().bold().for_stderr(),
            spec_error.render()
        );
        return;
    }
    eprintln!(
        "{} {error:#}",
        console::style("error:").red().bold().for_stderr()
    );
}

fn exit_code_of(error: &anyhow::Error) -> u8 {
    if error.downcast_ref::<LoadError>().is_some() || error.downcast_ref::<UsageError>().is_some() {
        return exit::USAGE;
    }
    if error
        .downcast_ref::<JournalError>()
        .is_some_and(JournalError::is_usage)
    {
        return exit::USAGE;
    }
    exit::FAILURE
}

/// Dies quietly on a closed pipe (`dagflow runs | head`) like other Unix
/// tools, instead of panicking in `println!`. Runs are journaled before
/// anything is printed to stdout, so a closed pipe loses no history.
fn restore_default_sigpipe() {
    // SAFETY: resetting a signal disposition to its default has no
    // memory-safety preconditions; no handler code is involved.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
