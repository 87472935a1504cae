//! Execution: the async [`Workflow`](workflow::Workflow) engine and the sync
//! [`WorkflowRunner`](runner::WorkflowRunner).

pub mod runner;
pub mod workflow;

/// Starts calibrating the clock both engines time tasks with, on a thread
/// of its own, and returns at once.
///
/// Each task's duration is read from the CPU's time-stamp counter, which
/// has to be calibrated against the system clock once per process. The
/// first run does that before its first task starts unless it was done
/// already: about 0.6 ms usually, 10-15 ms on a busy virtual machine.
/// Call this early, before parsing a workflow file or building a large
/// workflow, to do it meanwhile on another core; a run that starts before
/// the calibration has finished waits for the rest of it.
///
/// Returns the calibrating thread (join it to wait for the calibration),
/// or `None` when the clock is calibrated already or no thread could be
/// started (the first run then calibrates as usual).
///
/// ```
/// use dagflow::engine::calibrate_clock_in_background;
///
/// let calibrating = calibrate_clock_in_background();
/// // ... parse a workflow file, build the workflow ...
/// if let Some(thread) = calibrating {
///     thread.join().expect("calibration does not panic");
/// }
/// // The clock is ready now: asking again starts nothing.
/// assert!(calibrate_clock_in_background().is_none());
/// ```
pub fn calibrate_clock_in_background() -> Option<std::thread::JoinHandle<()>> {
    runner::clock::calibrate_in_background()
}
