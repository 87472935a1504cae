//! Process isolation: the suite re-executes its own binary as
//! `--child ENGINE WORKLOAD --runs R --warmup W` for every engine and workload, so the
//! peak memory it reads (`VmHWM`) belongs to that engine alone, and one
//! engine's heap or threads cannot slow the next.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::engines::{BenchError, Engine};
use crate::record::ChildReport;
use crate::rss::peak_rss_kb;
use crate::workload::Workload;

/// Why a child process gave no measurement.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// The child could not be started.
    #[error("could not start `{exe} --child {engine} {workload}`: {source}; check that the binary still exists")]
    Spawn {
        /// The binary.
        exe: String,
        /// Engine name.
        engine: &'static str,
        /// Workload name.
        workload: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// The child ran longer than the time limit and was killed.
    #[error("engine `{engine}` on workload `{workload}` ran longer than {limit_s} s and was stopped; raise --timeout-secs to wait longer")]
    Timeout {
        /// Engine name.
        engine: &'static str,
        /// Workload name.
        workload: &'static str,
        /// The limit in seconds.
        limit_s: u64,
    },
    /// The child exited unsuccessfully.
    #[error("engine `{engine}` on workload `{workload}` failed ({status}): {stderr}")]
    ChildFailed {
        /// Engine name.
        engine: &'static str,
        /// Workload name.
        workload: &'static str,
        /// Exit status, rendered.
        status: String,
        /// The last lines the child wrote to stderr.
        stderr: String,
    },
    /// The child's report could not be read.
    #[error("engine `{engine}` on workload `{workload}` printed no readable report ({reason}); its output was: {stdout}")]
    BadReport {
        /// Engine name.
        engine: &'static str,
        /// Workload name.
        workload: &'static str,
        /// The parse error.
        reason: String,
        /// What the child printed.
        stdout: String,
    },
    /// The generated graph differs from WORKLOADS.md.
    #[error("workload `{workload}` was generated with {got} edges instead of {expected}; the generator no longer follows WORKLOADS.md")]
    WrongWorkload {
        /// Workload name.
        workload: &'static str,
        /// Edges WORKLOADS.md fixes.
        expected: usize,
        /// Edges generated.
        got: usize,
    },
    /// The measurement itself failed (in child mode).
    #[error(transparent)]
    Bench(#[from] BenchError),
}

/// The result of one engine on one workload.
#[derive(Debug)]
pub enum Outcome {
    /// The child's samples.
    Measured(ChildReport),
    /// The engine cannot express the workload.
    Skipped {
        /// Engine.
        engine: Engine,
        /// Workload.
        workload: Workload,
        /// Why.
        reason: &'static str,
    },
    /// The child failed, timed out or printed nonsense.
    Failed {
        /// Engine.
        engine: Engine,
        /// Workload.
        workload: Workload,
        /// What went wrong.
        error: HarnessError,
    },
}

/// Makes glibc's allocator keep memory a run frees for the next run.
///
/// By default glibc returns freed memory at the top of the heap to the
/// kernel (trimming) and serves large blocks with fresh mappings, with
/// thresholds it adjusts as the process runs. Whether a run then pays a few
/// hundred page faults for its buffers depends on incidental heap layout:
/// parsing the command line differently moved `dagflow-sync` on
/// `chain-10000` between 0.24 and 0.50 ms from one run to the next, with the
/// same engine. Fixed thresholds (no trimming, blocks up to 32 MiB from the
/// heap) make every run after the first reuse the memory of the one before,
/// for every engine alike.
fn steady_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only sets allocator parameters; it is called before
    // this process starts any thread.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
    }
}

/// Child mode: generates the workload, builds and runs it `warmup` times
/// unmeasured, then measures `runs` builds and runs in this process, and
/// returns the samples with this process's peak memory and the time of its
/// very first run.
///
/// The warm-up runs keep the costs of a fresh process out of the medians,
/// for every engine alike: the first touch of the heap's pages, lazily
/// built tables, cold caches. On `chain-1000` the untimed sync runner's
/// first two runs took 54 and 34 µs and the later ones 8–9 µs, mostly page
/// faults on its result array; `ref-sync`, which keeps no results, 11 µs
/// and then 6 µs.
pub fn run_child(
    engine: Engine,
    workload: Workload,
    runs: usize,
    warmup: usize,
) -> Result<ChildReport, HarnessError> {
    steady_allocator();
    // Whatever the runs left on disk goes when this returns, error or not.
    let _release = ReleaseOnDrop;
    let spec = workload.generate();
    if let Some(expected) = workload.expected_edges() {
        if spec.edge_count() != expected {
            return Err(HarnessError::WrongWorkload {
                workload: workload.name,
                expected,
                got: spec.edge_count(),
            });
        }
    }
    let runtime = if engine.is_async() {
        Some(
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(|source| BenchError::Runtime {
                    engine: engine.name(),
                    source,
                })?,
        )
    } else {
        None
    };
    let mut first_run_ns = None;
    for _ in 0..warmup {
        let sample = engine.measure(&spec, runtime.as_ref())?;
        first_run_ns.get_or_insert(sample.run.as_nanos() as u64);
    }
    let mut build_ns = Vec::with_capacity(runs);
    let mut run_ns = Vec::with_capacity(runs);
    for _ in 0..runs {
        let sample = engine.measure(&spec, runtime.as_ref())?;
        build_ns.push(sample.build.as_nanos() as u64);
        run_ns.push(sample.run.as_nanos() as u64);
    }
    let first_run_ns = first_run_ns.or_else(|| run_ns.first().copied());
    let peak_rss_kb = peak_rss_kb().unwrap_or(0);
    Ok(ChildReport {
        engine: engine.name().to_string(),
        workload: workload.name.to_string(),
        n: workload.task_count(),
        build_ns,
        run_ns,
        first_run_ns: first_run_ns.into_iter().collect(),
        peak_rss_kb,
    })
}

/// Removes the files a child's runs keep between runs (the journal
/// workloads' recorded history) when dropped.
struct ReleaseOnDrop;

impl Drop for ReleaseOnDrop {
    fn drop(&mut self) {
        crate::engines::release_journal();
    }
}

/// Parent mode: measures `engine` on `workload` in a child process started
/// from `exe` (`runs` measured runs after `warmup` unmeasured ones), killing
/// it after `timeout`.
pub fn measure_in_child(
    exe: &Path,
    engine: Engine,
    workload: Workload,
    runs: usize,
    warmup: usize,
    timeout: Duration,
) -> Outcome {
    if let Some(reason) = engine.unsupported_reason(&workload) {
        return Outcome::Skipped {
            engine,
            workload,
            reason,
        };
    }
    match spawn_and_wait(exe, engine, workload, runs, warmup, timeout) {
        Ok(report) => Outcome::Measured(report),
        Err(error) => Outcome::Failed {
            engine,
            workload,
            error,
        },
    }
}

fn spawn_and_wait(
    exe: &Path,
    engine: Engine,
    workload: Workload,
    runs: usize,
    warmup: usize,
    timeout: Duration,
) -> Result<ChildReport, HarnessError> {
    let (e, w) = (engine.name(), workload.name);
    let mut child = Command::new(exe)
        .args(["--child", e, w, "--runs", &runs.to_string()])
        .args(["--warmup", &warmup.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| HarnessError::Spawn {
            exe: exe.display().to_string(),
            engine: e,
            workload: w,
            source,
        })?;
    // Drain both pipes on threads so a chatty child cannot block on a full pipe.
    let stdout = child.stdout.take().map(drain);
    let stderr = child.stderr.take().map(drain);
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > timeout => {
                // Only this child, which we started, is stopped.
                let _ = child.kill();
                let _ = child.wait();
                return Err(HarnessError::Timeout {
                    engine: e,
                    workload: w,
                    limit_s: timeout.as_secs(),
                });
            }
            Ok(None) => thread::sleep(Duration::from_millis(5)),
            Err(source) => {
                return Err(HarnessError::Spawn {
                    exe: exe.display().to_string(),
                    engine: e,
                    workload: w,
                    source,
                })
            }
        }
    };
    let stdout = stdout.and_then(|h| h.join().ok()).unwrap_or_default();
    let stderr = stderr.and_then(|h| h.join().ok()).unwrap_or_default();
    if !status.success() {
        return Err(HarnessError::ChildFailed {
            engine: e,
            workload: w,
            status: status.to_string(),
            stderr: last_lines(&stderr, 5),
        });
    }
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .unwrap_or("");
    serde_json::from_str(line).map_err(|err| HarnessError::BadReport {
        engine: e,
        workload: w,
        reason: err.to_string(),
        stdout: last_lines(&stdout, 5),
    })
}

fn drain<R: Read + Send + 'static>(mut pipe: R) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}
