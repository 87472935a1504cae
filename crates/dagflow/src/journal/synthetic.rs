//! The synthetic journal history of `bench/WORKLOADS.md`, shared by the
//! analytics tests, the store comparisons and the benchmarks.
//!
//! W workflows, each a chain `step_1 -> step_2 -> step_3 -> step_4`, ids
//! `wf-{i:08x}`. One 64-bit LCG (seed 42, state advanced before each draw,
//! `draw(m) = (x >> 33) % m`) for the whole history. Per workflow, per step
//! in order: `r = draw(100)`, then `d = draw(1000) / 10.0` (both draws always
//! happen). A step after a failed one is skipped (duration 0, error
//! "dependency failed", attempt 0); else `r < 5` fails it (error "boom",
//! duration `d`, attempt 1); else it completes in `d` ms (attempt 1). The
//! workflow's duration is the sum of its step durations, in step order; it
//! succeeded iff no step failed. Each workflow is 1 start + 4 step + 1
//! complete entries.
//!
//! Fields the workload leaves open are fixed here so every consumer gets
//! identical entries: the workflow name is [`WORKFLOW_NAME`]; workflow `i`
//! starts at [`EPOCH_MS`]` + i * 1000` ms and each entry's timestamp is the
//! start plus the durations elapsed so far (truncated to whole ms); entries
//! carry no result and no details.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::entry::{EntryStatus, EventType, JournalEntry};

/// The workflow name of every synthetic run.
pub const WORKFLOW_NAME: &str = "synthetic";

/// The names of the four steps, in order.
pub const STEP_NAMES: [&str; 4] = ["step_1", "step_2", "step_3", "step_4"];

/// Start time of the first workflow: 2024-01-01T00:00:00Z, in ms since the
/// Unix epoch.
pub const EPOCH_MS: u64 = 1_704_067_200_000;

/// The shared pseudo-random generator of `WORKLOADS.md`.
///
/// ```
/// use dagflow::journal::synthetic::Lcg;
/// let mut rng = Lcg::new(42);
/// let first = rng.draw(100);
/// assert!(first < 100);
/// assert_eq!(Lcg::new(42).draw(100), first); // deterministic
/// ```
#[derive(Debug, Clone)]
pub struct Lcg {
    state: u64,
}

impl Lcg {
    /// A generator with the given seed (the workloads use 42).
    pub fn new(seed: u64) -> Self {
        Lcg { state: seed }
    }

    /// Advances the state, then returns `(state >> 33) % m`. `m` must be
    /// positive.
    pub fn draw(&mut self, m: u64) -> u64 {
        self.state = self
            .state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.state >> 33) % m
    }
}

/// Iterator over the entries of the synthetic history, in journal order.
#[derive(Debug, Clone)]
pub struct History {
    rng: Lcg,
    workflows: usize,
    next_workflow: usize,
    pending: std::vec::IntoIter<JournalEntry>,
}

/// The synthetic history of `workflows` workflows (`6 * workflows` entries).
///
/// ```
/// use dagflow::journal::synthetic;
/// use dagflow::journal::EventType;
///
/// let entries: Vec<_> = synthetic::history(10).collect();
/// assert_eq!(entries.len(), 60);
/// assert_eq!(&*entries[0].workflow_id, "wf-00000000");
/// assert_eq!(entries[0].event_type, EventType::WorkflowStart);
/// assert_eq!(entries[5].event_type, EventType::WorkflowComplete);
/// ```
pub fn history(workflows: usize) -> History {
    History {
        rng: Lcg::new(42),
        workflows,
        next_workflow: 0,
        pending: Vec::new().into_iter(),
    }
}

impl History {
    fn workflow(&mut self, i: usize) -> Vec<JournalEntry> {
        let id: Arc<str> = Arc::from(format!("wf-{i:08x}"));
        let start_ms = EPOCH_MS + i as u64 * 1000;
        let at = |elapsed_ms: f64| UNIX_EPOCH + Duration::from_millis(start_ms + elapsed_ms as u64);
        let entry = |event_type, step: Option<&str>, status, timestamp: SystemTime| {
            JournalEntry::new(
                Arc::clone(&id),
                WORKFLOW_NAME,
                event_type,
                step.map(Arc::from),
                status,
                timestamp,
            )
        };
        let mut out = Vec::with_capacity(6);
        out.push(entry(
            EventType::WorkflowStart,
            None,
            EntryStatus::Started,
            at(0.0),
        ));
        let mut failed = false;
        let mut elapsed = 0.0_f64;
        for step in STEP_NAMES {
            let r = self.rng.draw(100);
            let d = self.rng.draw(1000) as f64 / 10.0;
            let e = if failed {
                let mut e = entry(
                    EventType::StepComplete,
                    Some(step),
                    EntryStatus::Skipped,
                    at(elapsed),
                );
                e.error = Some("dependency failed".to_string());
                e
            } else {
                elapsed += d;
                let status = if r < 5 {
                    EntryStatus::Failed
                } else {
                    EntryStatus::Completed
                };
                let mut e = entry(EventType::StepComplete, Some(step), status, at(elapsed));
                e.duration_ms = d;
                e.attempt = 1;
                if r < 5 {
                    failed = true;
                    e.error = Some("boom".to_string());
                }
                e
            };
            out.push(e);
        }
        let mut end = entry(
            EventType::WorkflowComplete,
            None,
            if failed {
                EntryStatus::Failed
            } else {
                EntryStatus::Completed
            },
            at(elapsed),
        );
        end.duration_ms = elapsed;
        out.push(end);
        out
    }
}

impl Iterator for History {
    type Item = JournalEntry;

    fn next(&mut self) -> Option<JournalEntry> {
        if let Some(entry) = self.pending.next() {
            return Some(entry);
        }
        if self.next_workflow >= self.workflows {
            return None;
        }
        let i = self.next_workflow;
        self.next_workflow += 1;
        self.pending = self.workflow(i).into_iter();
        self.pending.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.pending.len() + (self.workflows - self.next_workflow) * 6;
        (n, Some(n))
    }
}

impl ExactSizeIterator for History {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lcg_follows_the_workload_formula() {
        let mut rng = Lcg::new(42);
        let x1 = 42u64
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let x2 = x1
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        assert_eq!(rng.draw(100), (x1 >> 33) % 100);
        assert_eq!(rng.draw(1000), (x2 >> 33) % 1000);
    }

    #[test]
    fn every_workflow_has_start_four_steps_and_complete() {
        let entries: Vec<_> = history(50).collect();
        assert_eq!(entries.len(), 300);
        for (i, run) in entries.chunks(6).enumerate() {
            let id = format!("wf-{i:08x}");
            assert!(run.iter().all(|e| *e.workflow_id == *id));
            assert_eq!(run[0].event_type, EventType::WorkflowStart);
            assert_eq!(run[5].event_type, EventType::WorkflowComplete);
            let steps: Vec<_> = run[1..5]
                .iter()
                .map(|e| e.step_name.as_deref().unwrap_or_default())
                .collect();
            assert_eq!(steps, STEP_NAMES);
            let failed = run[1..5].iter().any(|e| e.status == EntryStatus::Failed);
            let expected = if failed {
                EntryStatus::Failed
            } else {
                EntryStatus::Completed
            };
            assert_eq!(run[5].status, expected);
            let sum: f64 = run[1..5].iter().map(|e| e.duration_ms).sum();
            assert_eq!(run[5].duration_ms, sum);
        }
    }

    #[test]
    fn steps_after_a_failure_are_skipped_with_zero_duration() {
        let entries: Vec<_> = history(2000).collect();
        let mut saw_skip = false;
        for run in entries.chunks(6) {
            let first_failure = run[1..5]
                .iter()
                .position(|e| e.status == EntryStatus::Failed);
            for (k, e) in run[1..5].iter().enumerate() {
                if first_failure.is_some_and(|f| k > f) {
                    saw_skip = true;
                    assert_eq!(e.status, EntryStatus::Skipped);
                    assert_eq!(e.duration_ms, 0.0);
                    assert_eq!(e.error.as_deref(), Some("dependency failed"));
                }
            }
        }
        assert!(
            saw_skip,
            "2000 workflows at a 5% failure rate must skip some step"
        );
    }
}
