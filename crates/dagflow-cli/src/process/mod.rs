//! Running a task's command as a child process.
//!
//! Every process starts in its own process group, so a task's whole tree
//! (a shell and everything it starts) is signalled together. Stopping a task
//! (cancellation, Ctrl-C, or its future being dropped on timeout) sends
//! SIGTERM to the group and SIGKILL after a grace period. When the main
//! process exits, processes it left behind in its group are stopped the same
//! way: a task leaves nothing running (use `setsid` to start a daemon that
//! must outlive its task).
//!
//! Output is read line by line, so parallel tasks never interleave inside a
//! line; the start of stdout is kept for the task's result and the tail of
//! both streams for the journal.
//!
//! ```no_run
//! # async fn demo() -> Result<(), dagflow_cli::process::ProcessError> {
//! use std::time::Duration;
//! use dagflow_cli::process::{ProcessRequest, ProcessRunner};
//! use dagflow_cli::spec::CommandSpec;
//!
//! let runner = ProcessRunner::new(Duration::from_secs(5));
//! let request = ProcessRequest::new("greet", CommandSpec::Shell("echo hello".into()));
//! let output = runner.run(&request, &tokio_util::sync::CancellationToken::new()).await?;
//! assert_eq!(output.exit.code(), Some(0));
//! assert_eq!(output.stdout.head(), b"hello\n");
//! # Ok(()) }
//! ```

mod capture;
mod group;
mod lookup;

use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

pub use capture::{Captured, Stream};
pub use group::ProcessGroups;

use crate::spec::CommandSpec;
use group::{group_alive, signal_group, signal_name};
use lookup::ProgramLookup;

/// Bytes of stdout kept from the start, for the task's result.
pub const DEFAULT_RESULT_BYTES: usize = 64 * 1024;
/// Bytes kept from the end of stdout and of stderr, for the journal.
pub const DEFAULT_TAIL_BYTES: usize = 4 * 1024;
/// How long to keep reading output after the main process exited, in case
/// a leftover background process still holds the pipes open.
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(200);

/// Receives each line a task prints: the task's label, the stream, the line.
pub type LineSink = Arc<dyn Fn(&str, Stream, &str) + Send + Sync>;

/// What to run.
#[derive(Debug, Clone)]
pub struct ProcessRequest {
    /// Name shown with each output line (the task's name).
    pub label: String,
    /// The command.
    pub command: CommandSpec,
    /// Variables added to the inherited environment, in order (later wins).
    pub env: Vec<(String, String)>,
    /// Working directory; the current one when `None`.
    pub workdir: Option<PathBuf>,
}

impl ProcessRequest {
    /// A request to run `command` for the task called `label`.
    pub fn new(label: impl Into<String>, command: CommandSpec) -> Self {
        ProcessRequest {
            label: label.into(),
            command,
            env: Vec::new(),
            workdir: None,
        }
    }
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this code.
    Code(i32),
    /// It was killed by this signal.
    Signal(i32),
}

impl Exit {
    fn from_status(status: ExitStatus) -> Exit {
        match (status.code(), status.signal()) {
            (Some(code), _) => Exit::Code(code),
            (None, Some(signal)) => Exit::Signal(signal),
            (None, None) => Exit::Code(-1),
        }
    }

    /// The exit code, if the process exited.
    pub fn code(self) -> Option<i32> {
        match self {
            Exit::Code(c) => Some(c),
            Exit::Signal(_) => None,
        }
    }

    /// Whether it exited with code 0.
    pub fn success(self) -> bool {
        self == Exit::Code(0)
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Code(c) => write!(f, "exited with code {c}"),
            Exit::Signal(s) => write!(f, "was killed by signal {s} ({})", signal_name(*s)),
        }
    }
}

/// A finished process.
#[derive(Debug, Clone)]
pub struct ProcessOutput {
    /// How it ended.
    pub exit: Exit,
    /// Its standard output (start and tail).
    pub stdout: Captured,
    /// Its standard error (tail).
    pub stderr: Captured,
    /// Wall time from start to exit.
    pub duration: Duration,
}

/// Why a process could not run to its end.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProcessError {
    /// The working directory does not exist.
    #[error("task `{task}`: the working directory `{}` does not exist; create it in an earlier task or correct `workdir`", dir.display())]
    MissingWorkdir {
        /// The task.
        task: String,
        /// The directory.
        dir: PathBuf,
    },
    /// The program could not be started.
    #[error(
        "task `{task}`: cannot start `{program}`: {source}; check that it is installed and on PATH"
    )]
    Spawn {
        /// The task.
        task: String,
        /// The program.
        program: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Waiting for the process failed.
    #[error("task `{task}`: lost track of its process: {source}")]
    Wait {
        /// The task.
        task: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The run was cancelled and the process group was stopped.
    #[error("task `{task}` was stopped because the run was cancelled")]
    Stopped {
        /// The task.
        task: String,
    },
}

/// Starts processes, each in its own group, and keeps track of the groups.
///
/// A program named without a `/` (and the `sh` that runs a shell command)
/// is looked up on the PATH the process will see, the task's `env` applied,
/// and started by its full path with the name as written for `argv[0]`.
/// Where it was found is remembered per runner; where the name was not
/// found, or starting the remembered file fails, the process searches PATH
/// itself as usual. A program that appears later in a directory earlier on
/// PATH than the remembered one is not picked up by the same runner.
#[derive(Clone)]
pub struct ProcessRunner {
    groups: ProcessGroups,
    lookup: ProgramLookup,
    grace: Duration,
    sink: Option<LineSink>,
    result_bytes: usize,
    tail_bytes: usize,
}

impl std::fmt::Debug for ProcessRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessRunner")
            .field("grace", &self.grace)
            .field("live_groups", &self.groups.len())
            .field("result_bytes", &self.result_bytes)
            .field("tail_bytes", &self.tail_bytes)
            .finish()
    }
}

impl ProcessRunner {
    /// A runner that waits `grace` between SIGTERM and SIGKILL.
    pub fn new(grace: Duration) -> Self {
        ProcessRunner {
            groups: ProcessGroups::default(),
            lookup: ProgramLookup::default(),
            grace,
            sink: None,
            result_bytes: DEFAULT_RESULT_BYTES,
            tail_bytes: DEFAULT_TAIL_BYTES,
        }
    }

    /// Sends every output line to `sink` as it is printed.
    pub fn with_line_sink(mut self, sink: LineSink) -> Self {
        self.sink = Some(sink);
        self
    }

    /// Keeps `result_bytes` from the start of stdout and `tail_bytes` from
    /// the end of each stream.
    pub fn with_capture_limits(mut self, result_bytes: usize, tail_bytes: usize) -> Self {
        self.result_bytes = result_bytes;
        self.tail_bytes = tail_bytes;
        self
    }

    /// The grace period between SIGTERM and SIGKILL.
    pub fn grace(&self) -> Duration {
        self.grace
    }

    /// The process groups that may still be alive.
    pub fn groups(&self) -> &ProcessGroups {
        &self.groups
    }

    /// Runs `request` to its end, or until `cancel` fires (then the group
    /// is stopped and [`ProcessError::Stopped`] returned). Dropping the
    /// returned future also stops the group, in the background.
    pub async fn run(
        &self,
        request: &ProcessRequest,
        cancel: &CancellationToken,
    ) -> Result<ProcessOutput, ProcessError> {
        let task = &request.label;
        if let Some(dir) = &request.workdir {
            if !dir.is_dir() {
                return Err(ProcessError::MissingWorkdir {
                    task: task.clone(),
                    dir: dir.clone(),
                });
            }
        }
        let program = program_name(&request.command);
        let path_var = child_path(request);
        let found = path_var
            .as_deref()
            .and_then(|path_var| self.lookup.find(program.as_ref(), path_var));
        let started = Instant::now();
        let spawned = match (&found, &path_var) {
            (Some(file), Some(path_var)) => match build_command(request, Some(file)).spawn() {
                Ok(child) => Ok(child),
                Err(error) => {
                    // Removed or changed since it was found: search afresh,
                    // and report what a search by name reports.
                    tracing::debug!(
                        task,
                        file = %file.display(),
                        %error,
                        "starting the program found on PATH failed; starting it by name"
                    );
                    self.lookup.forget(program.as_ref(), path_var);
                    build_command(request, None).spawn()
                }
            },
            _ => build_command(request, None).spawn(),
        };
        let mut child = spawned.map_err(|source| ProcessError::Spawn {
            task: task.clone(),
            program: program.to_owned(),
            source,
        })?;
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let Some(pid) = child.id() else {
            return Err(ProcessError::Wait {
                task: task.clone(),
                source: std::io::Error::other("the process ended before its id was read"),
            });
        };
        let pgid = pid as i32;
        self.groups.register(pgid);
        let mut guard = RunningGroup {
            pgid,
            groups: self.groups.clone(),
            grace: self.grace,
            child: Some(child),
        };

        let mut out = Captured::new(self.result_bytes, self.tail_bytes);
        let mut err = Captured::new(0, self.tail_bytes);
        let (status, stopped) = {
            let sink = self.sink.clone();
            let out_lines = |line: &str| {
                if let Some(sink) = &sink {
                    sink(task, Stream::Stdout, line);
                }
            };
            let err_lines = |line: &str| {
                if let Some(sink) = &sink {
                    sink(task, Stream::Stderr, line);
                }
            };
            let io = async {
                tokio::join!(
                    read_optional(stdout, &mut out, out_lines),
                    read_optional(stderr, &mut err, err_lines)
                )
            };
            tokio::pin!(io);
            let mut io_done = false;
            let mut cancelled = false;
            let status = loop {
                tokio::select! {
                    _ = &mut io, if !io_done => io_done = true,
                    status = guard.wait() => break status,
                    _ = cancel.cancelled(), if !cancelled => {
                        cancelled = true;
                        break guard.stop(&mut io, &mut io_done).await;
                    }
                }
            };
            if !io_done {
                // Leftover background processes may hold the pipes open.
                let _ = tokio::time::timeout(DRAIN_AFTER_EXIT, &mut io).await;
            }
            (status, cancelled)
        };
        let duration = started.elapsed();
        guard.finish();
        if stopped {
            return Err(ProcessError::Stopped { task: task.clone() });
        }
        let status = status.map_err(|source| ProcessError::Wait {
            task: task.clone(),
            source,
        })?;
        Ok(ProcessOutput {
            exit: Exit::from_status(status),
            stdout: out,
            stderr: err,
            duration,
        })
    }
}

/// The program a command starts, as the user wrote it.
fn program_name(command: &CommandSpec) -> &str {
    match command {
        CommandSpec::Shell(_) => "sh",
        CommandSpec::Argv(argv) => argv.first().map_or("", String::as_str),
    }
}

/// The PATH the process will see: the task's own (the last one wins) or
/// the inherited one.
fn child_path(request: &ProcessRequest) -> Option<OsString> {
    match request.env.iter().rev().find(|(key, _)| key == "PATH") {
        Some((_, value)) => Some(value.into()),
        None => std::env::var_os("PATH"),
    }
}

/// The command for `request`, started from `file` when given (with the
/// program's name as `argv[0]`), by name otherwise.
fn build_command(request: &ProcessRequest, file: Option<&Path>) -> Command {
    let program = program_name(&request.command);
    let mut command = match file {
        Some(file) => {
            let mut c = Command::new(file);
            c.arg0(program);
            c
        }
        None => Command::new(program),
    };
    match &request.command {
        CommandSpec::Shell(text) => {
            command.arg("-c").arg(text);
        }
        CommandSpec::Argv(argv) => {
            command.args(argv.iter().skip(1));
        }
    }
    command
        .envs(request.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(false);
    if let Some(dir) = &request.workdir {
        command.current_dir(dir);
    }
    command
}

async fn read_optional<R, F>(reader: Option<R>, capture: &mut Captured, on_line: F)
where
    R: tokio::io::AsyncRead + Unpin,
    F: FnMut(&str),
{
    if let Some(reader) = reader {
        capture::read_lines(reader, capture, on_line).await;
    }
}

/// A started process group. Dropped before [`finish`](Self::finish) (the
/// task's future was dropped, e.g. on timeout), it stops the group in the
/// background.
struct RunningGroup {
    pgid: i32,
    groups: ProcessGroups,
    grace: Duration,
    child: Option<Child>,
}

impl RunningGroup {
    async fn wait(&mut self) -> std::io::Result<ExitStatus> {
        match &mut self.child {
            Some(child) => child.wait().await,
            None => Err(std::io::Error::other("the process was already reaped")),
        }
    }

    /// SIGTERM, then SIGKILL after the grace period; keeps reading output.
    async fn stop<F: std::future::Future>(
        &mut self,
        io: &mut std::pin::Pin<&mut F>,
        io_done: &mut bool,
    ) -> std::io::Result<ExitStatus> {
        self.groups.terminate(self.pgid);
        let deadline = tokio::time::sleep(self.grace);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = io.as_mut(), if !*io_done => *io_done = true,
                status = self.wait() => return status,
                _ = &mut deadline => {
                    signal_group(self.pgid, libc::SIGKILL);
                    return self.wait().await;
                }
            }
        }
    }

    /// The main process has been reaped: stop what it left in its group.
    fn finish(mut self) {
        self.child = None;
        if group_alive(self.pgid) {
            tracing::debug!(pgid = self.pgid, "stopping processes left behind by a task");
            self.groups.terminate(self.pgid);
            spawn_reaper(self.pgid, None, self.groups.clone(), self.grace);
        } else {
            self.groups.deregister(self.pgid);
        }
        // `child` is None: Drop does nothing more.
    }
}

impl Drop for RunningGroup {
    fn drop(&mut self) {
        let Some(child) = self.child.take() else {
            return;
        };
        self.groups.terminate(self.pgid);
        spawn_reaper(self.pgid, Some(child), self.groups.clone(), self.grace);
    }
}

/// Waits for a terminated group to go, SIGKILLs it after `grace`, reaps the
/// main process and forgets the group.
fn spawn_reaper(pgid: i32, child: Option<Child>, groups: ProcessGroups, grace: Duration) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        // No runtime left to wait in: do not leave anything behind.
        signal_group(pgid, libc::SIGKILL);
        groups.deregister(pgid);
        return;
    };
    handle.spawn(async move {
        let deadline = tokio::time::sleep(grace);
        tokio::pin!(deadline);
        let mut child = child;
        if let Some(c) = &mut child {
            tokio::select! {
                _ = c.wait() => {}
                _ = &mut deadline => {}
            }
        }
        while group_alive(pgid) && !deadline.is_elapsed() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if group_alive(pgid) {
            signal_group(pgid, libc::SIGKILL);
        }
        if let Some(c) = &mut child {
            let _ = c.wait().await;
        }
        groups.deregister(pgid);
    });
}
