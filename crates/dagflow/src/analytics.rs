//! Analytics over a journal: `WorkflowAnalytics`, `WorkflowInsight`.
//!
//! Every figure comes from the [`JournalStore`]'s aggregate methods
//! (`workflow_totals`, `step_totals`, `workflow_durations`), so a database
//! store computes them with queries instead of sending every entry here, and
//! every store gives the same answers for the same entries.
//!
//! ```
//! use dagflow::analytics::WorkflowAnalytics;
//! use dagflow::journal::{synthetic, MemoryStore};
//! use std::sync::Arc;
//!
//! let store = Arc::new(MemoryStore::from_entries(synthetic::history(1_000)));
//! let analytics = WorkflowAnalytics::new(store);
//! let insight = analytics.generate_insight()?;
//! assert_eq!(insight.total_workflows, 1_000);
//! assert_eq!(insight.total_steps, 4_000);
//! assert!(insight.overall_success_rate > 0.7 && insight.overall_success_rate < 0.9);
//! # Ok::<(), dagflow::StoreError>(())
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::journal::{JournalStore, QueryFilter, StepTotals, StoreError, WorkflowJournal};

/// Number of hotspots, flaky and slowest steps an insight lists.
pub const INSIGHT_TOP_N: usize = 5;
/// Moving-average window of an insight's duration trend.
pub const INSIGHT_TREND_WINDOW: usize = 10;
/// Most trend points an insight holds (the most recent ones).
pub const INSIGHT_TREND_POINTS: usize = 50;

/// Duration percentiles of one step's completed outcomes, in ms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepDurations {
    /// Median (nearest rank).
    pub p50_ms: f64,
    /// 95th percentile (nearest rank).
    pub p95_ms: f64,
    /// Longest.
    pub max_ms: f64,
    /// Mean.
    pub mean_ms: f64,
    /// Number of completed outcomes these figures cover.
    pub samples: u64,
}

/// A summary of a journal: the specification's fields plus percentiles,
/// flaky steps and slowest steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowInsight {
    /// Runs that ended.
    pub total_workflows: u64,
    /// Step outcomes recorded (`StepComplete` entries).
    pub total_steps: u64,
    /// Share of ended runs that succeeded, in [0, 1]; 0 without runs.
    pub overall_success_rate: f64,
    /// Mean run duration in ms; 0 without runs.
    pub mean_duration_ms: f64,
    /// Up to 5 steps with the most failures: `(step, failures)`, most first,
    /// ties by name.
    pub failure_hotspots: Vec<(String, u64)>,
    /// Per step, completed outcomes / all outcomes.
    pub step_success_rates: BTreeMap<String, f64>,
    /// Moving average (window 10) of the durations of the most recent runs,
    /// at most 50 points, oldest first.
    pub duration_trend: Vec<f64>,
    /// Per step with at least one completed outcome, duration percentiles.
    pub step_durations: BTreeMap<String, StepDurations>,
    /// Up to 5 steps that completed only after more than one attempt:
    /// `(step, such outcomes)`, most first, ties by name.
    pub flaky_steps: Vec<(String, u64)>,
    /// Up to 5 steps by 95th-percentile duration: `(step, p95 ms)`, slowest
    /// first, ties by name.
    pub slowest_steps: Vec<(String, f64)>,
}

/// Answers questions about the runs in a journal.
#[derive(Clone)]
pub struct WorkflowAnalytics {
    store: Arc<dyn JournalStore>,
    filter: QueryFilter,
}

impl std::fmt::Debug for WorkflowAnalytics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkflowAnalytics")
            .field("filter", &self.filter)
            .finish_non_exhaustive()
    }
}

fn us_to_ms(us: i64) -> f64 {
    us as f64 / 1000.0
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// The `n` largest `(name, count)` pairs with a positive count, largest
/// first, ties by name.
fn top_by_count(mut pairs: Vec<(String, u64)>, n: usize) -> Vec<(String, u64)> {
    pairs.retain(|(_, count)| *count > 0);
    pairs.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    pairs.truncate(n);
    pairs
}

/// Moving average with `window` (0 counts as 1) over `durations`: with
/// k >= window values, the k - window + 1 means of each full window, oldest
/// first; with fewer values, one mean of them all; none gives none.
///
/// Sums are taken in whole microseconds, so the result does not depend on
/// floating-point summation order.
///
/// ```
/// use dagflow::analytics::moving_average;
/// assert_eq!(moving_average(&[1.0, 2.0, 3.0, 4.0], 2), [1.5, 2.5, 3.5]);
/// assert_eq!(moving_average(&[1.0, 2.0], 10), [1.5]);
/// assert!(moving_average(&[], 10).is_empty());
/// ```
pub fn moving_average(durations: &[f64], window: usize) -> Vec<f64> {
    if durations.is_empty() {
        return Vec::new();
    }
    let us: Vec<i64> = durations
        .iter()
        .map(|&ms| crate::journal::duration_ms_to_us(ms))
        .collect();
    let window = window.clamp(1, us.len());
    let mut sum: i128 = us[..window].iter().map(|&v| i128::from(v)).sum();
    let mean = |sum: i128| sum as f64 / window as f64 / 1000.0;
    let mut out = Vec::with_capacity(us.len() - window + 1);
    out.push(mean(sum));
    for i in window..us.len() {
        sum += i128::from(us[i]) - i128::from(us[i - window]);
        out.push(mean(sum));
    }
    out
}

impl WorkflowAnalytics {
    /// Analytics over every run in `store`.
    pub fn new(store: Arc<dyn JournalStore>) -> Self {
        WorkflowAnalytics {
            store,
            filter: QueryFilter::all(),
        }
    }

    /// Analytics over the store of `journal`.
    pub fn from_journal(journal: &WorkflowJournal) -> Self {
        Self::new(Arc::clone(journal.store()))
    }

    /// Restricts every figure to the runs `filter` matches.
    pub fn with_filter(mut self, filter: QueryFilter) -> Self {
        self.filter = filter;
        self
    }

    /// The filter in use.
    pub fn filter(&self) -> &QueryFilter {
        &self.filter
    }

    /// The `n` steps with the most failures, most first, ties by name; steps
    /// that never failed are left out.
    pub fn failure_hotspots(&self, n: usize) -> Result<Vec<(String, u64)>, StoreError> {
        let totals = self.store.step_totals(&self.filter)?;
        Ok(top_by_count(
            totals
                .into_iter()
                .map(|t| (t.step_name, t.failed))
                .collect(),
            n,
        ))
    }

    /// Moving average of the durations of every finished run, in journal
    /// order; see [`moving_average`] for the exact definition.
    pub fn duration_trend(&self, window: usize) -> Result<Vec<f64>, StoreError> {
        let durations = self.store.workflow_durations(&self.filter, None)?;
        Ok(moving_average(&durations, window))
    }

    /// Like [`duration_trend`](Self::duration_trend) but only over the
    /// `points + window - 1` most recent runs, giving at most `points`
    /// values: cheap on very large journals.
    pub fn recent_duration_trend(
        &self,
        window: usize,
        points: usize,
    ) -> Result<Vec<f64>, StoreError> {
        if points == 0 {
            return Ok(Vec::new());
        }
        let last = points + window.max(1) - 1;
        let durations = self.store.workflow_durations(&self.filter, Some(last))?;
        Ok(moving_average(&durations, window))
    }

    /// Share of `step`'s recorded outcomes that completed, in [0, 1]; 0.0
    /// when the journal has no outcome for it.
    pub fn success_rate(&self, step: &str) -> Result<f64, StoreError> {
        let totals = self.store.step_totals(&self.filter)?;
        Ok(totals
            .iter()
            .find(|t| t.step_name == step)
            .map_or(0.0, |t| ratio(t.completed, t.total)))
    }

    /// Per step, its duration percentiles (steps without a completed outcome
    /// are left out).
    pub fn step_durations(&self) -> Result<BTreeMap<String, StepDurations>, StoreError> {
        Ok(durations_of(&self.store.step_totals(&self.filter)?))
    }

    /// The `n` steps with the most outcomes that completed only after a
    /// retry, most first, ties by name.
    pub fn flaky_steps(&self, n: usize) -> Result<Vec<(String, u64)>, StoreError> {
        let totals = self.store.step_totals(&self.filter)?;
        Ok(top_by_count(
            totals.into_iter().map(|t| (t.step_name, t.flaky)).collect(),
            n,
        ))
    }

    /// The `n` steps with the longest 95th-percentile duration, slowest
    /// first, ties by name.
    pub fn slowest_steps(&self, n: usize) -> Result<Vec<(String, f64)>, StoreError> {
        Ok(slowest_of(
            &durations_of(&self.store.step_totals(&self.filter)?),
            n,
        ))
    }

    /// Everything at once, with three store queries. The duration trend
    /// covers only the most recent runs ([`INSIGHT_TREND_POINTS`] points of
    /// window [`INSIGHT_TREND_WINDOW`]) so that an insight over millions of
    /// runs stays fast; use [`duration_trend`](Self::duration_trend) for the
    /// whole history.
    pub fn generate_insight(&self) -> Result<WorkflowInsight, StoreError> {
        let workflows = self.store.workflow_totals(&self.filter)?;
        let steps = self.store.step_totals(&self.filter)?;
        let duration_trend =
            self.recent_duration_trend(INSIGHT_TREND_WINDOW, INSIGHT_TREND_POINTS)?;
        let step_durations = durations_of(&steps);
        Ok(WorkflowInsight {
            total_workflows: workflows.finished,
            total_steps: workflows.total_steps,
            overall_success_rate: ratio(workflows.succeeded, workflows.finished),
            mean_duration_ms: if workflows.finished == 0 {
                0.0
            } else {
                us_to_ms(workflows.total_duration_us) / workflows.finished as f64
            },
            failure_hotspots: top_by_count(
                steps
                    .iter()
                    .map(|t| (t.step_name.clone(), t.failed))
                    .collect(),
                INSIGHT_TOP_N,
            ),
            step_success_rates: steps
                .iter()
                .map(|t| (t.step_name.clone(), ratio(t.completed, t.total)))
                .collect(),
            duration_trend,
            slowest_steps: slowest_of(&step_durations, INSIGHT_TOP_N),
            step_durations,
            flaky_steps: top_by_count(
                steps
                    .iter()
                    .map(|t| (t.step_name.clone(), t.flaky))
                    .collect(),
                INSIGHT_TOP_N,
            ),
        })
    }
}

fn durations_of(steps: &[StepTotals]) -> BTreeMap<String, StepDurations> {
    steps
        .iter()
        .filter_map(|t| {
            Some((
                t.step_name.clone(),
                StepDurations {
                    p50_ms: us_to_ms(t.p50_us?),
                    p95_ms: us_to_ms(t.p95_us?),
                    max_ms: us_to_ms(t.max_us?),
                    mean_ms: us_to_ms(t.completed_duration_us) / t.completed.max(1) as f64,
                    samples: t.completed,
                },
            ))
        })
        .collect()
}

fn slowest_of(durations: &BTreeMap<String, StepDurations>, n: usize) -> Vec<(String, f64)> {
    let mut slowest: Vec<(String, f64)> = durations
        .iter()
        .map(|(name, d)| (name.clone(), d.p95_ms))
        .collect();
    slowest.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    slowest.truncate(n);
    slowest
}
