//! What a child process reports and what the suite prints: one JSON object
//! per engine and workload.

use serde::{Deserialize, Serialize};

/// The raw samples one child process measured, printed by the child as a
/// single JSON line for the parent to read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChildReport {
    /// Engine name.
    pub engine: String,
    /// Workload name.
    pub workload: String,
    /// Number of tasks.
    pub n: usize,
    /// Build time of each run, in nanoseconds.
    pub build_ns: Vec<u64>,
    /// Run time of each measured run, in nanoseconds.
    pub run_ns: Vec<u64>,
    /// Run time of each process's very first run (a warm-up run, or the
    /// first measured one without warm-up), in nanoseconds: one entry per
    /// process. Empty in reports written before warm-up runs existed.
    #[serde(default)]
    pub first_run_ns: Vec<u64>,
    /// Peak resident memory of the child process (`VmHWM`), in KiB.
    pub peak_rss_kb: u64,
}

impl ChildReport {
    /// Adds the samples of another process of the same engine and workload
    /// (a later round); peak memory is the larger of the two.
    pub fn absorb(&mut self, other: ChildReport) {
        self.build_ns.extend(other.build_ns);
        self.run_ns.extend(other.run_ns);
        self.first_run_ns.extend(other.first_run_ns);
        self.peak_rss_kb = self.peak_rss_kb.max(other.peak_rss_kb);
    }
}

/// One line of the suite's `--json` output: medians over the runs of one
/// child process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Engine name.
    pub engine: String,
    /// Workload name.
    pub workload: String,
    /// Number of tasks.
    pub n: usize,
    /// Median time to construct the graph or workflow, in milliseconds.
    pub build_ms: f64,
    /// Median time of the run itself, in milliseconds.
    pub run_ms: f64,
    /// `run_ms` per task, in nanoseconds.
    pub per_task_ns: f64,
    /// Peak resident memory of the engine's process, in KiB.
    pub peak_rss_kb: u64,
    /// Median over the engine's processes of each one's first run, in
    /// milliseconds: the run in a fresh process that the warm-up keeps out
    /// of `run_ms`. Absent from records written before warm-up runs existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_run_ms: Option<f64>,
    /// How many measured runs the medians are over (all rounds). Absent
    /// from records written before the suite gave short workloads extra
    /// rounds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runs: Option<usize>,
}

impl Record {
    /// Summarises a child's samples by their medians.
    ///
    /// ```
    /// use dagflow_bench::record::{ChildReport, Record};
    /// let report = ChildReport {
    ///     engine: "ref-sync".into(),
    ///     workload: "chain-1000".into(),
    ///     n: 1000,
    ///     build_ns: vec![3_000, 1_000, 2_000],
    ///     run_ns: vec![50_000, 40_000, 90_000],
    ///     first_run_ns: vec![310_000],
    ///     peak_rss_kb: 2048,
    /// };
    /// let record = Record::from_report(&report);
    /// assert_eq!(record.build_ms, 0.002);
    /// assert_eq!(record.run_ms, 0.05);
    /// assert_eq!(record.per_task_ns, 50.0);
    /// assert_eq!(record.first_run_ms, Some(0.31));
    /// assert_eq!(record.runs, Some(3));
    /// ```
    pub fn from_report(report: &ChildReport) -> Record {
        let build_ms = median_ms(&report.build_ns);
        let run_ms = median_ms(&report.run_ns);
        // From the rounded `run_ms`, so the printed fields agree exactly.
        let per_task_ns = if report.n == 0 {
            0.0
        } else {
            run_ms * 1e6 / report.n as f64
        };
        Record {
            engine: report.engine.clone(),
            workload: report.workload.clone(),
            n: report.n,
            build_ms,
            run_ms,
            per_task_ns: round_to(per_task_ns, 1),
            peak_rss_kb: report.peak_rss_kb,
            first_run_ms: (!report.first_run_ns.is_empty())
                .then(|| median_ms(&report.first_run_ns)),
            runs: Some(report.run_ns.len()),
        }
    }

    /// Peak memory in MiB.
    pub fn peak_rss_mib(&self) -> f64 {
        self.peak_rss_kb as f64 / 1024.0
    }
}

/// The median of `samples` (the mean of the middle two for an even count),
/// or 0 for none.
pub fn median_ns(samples: &[u64]) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let n = sorted.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => sorted[n / 2] as f64,
        _ => (sorted[n / 2 - 1] as f64 + sorted[n / 2] as f64) / 2.0,
    }
}

/// The median of nanosecond `samples` in milliseconds, to 4 decimals.
fn median_ms(samples: &[u64]) -> f64 {
    round_to(median_ns(samples) / 1e6, 4)
}

fn round_to(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_pool_their_samples_and_keep_the_highest_peak() {
        let report = |runs: Vec<u64>, first: u64, rss: u64| ChildReport {
            engine: "ref-sync".into(),
            workload: "chain-1000".into(),
            n: 1000,
            build_ns: vec![1_000; runs.len()],
            run_ns: runs,
            first_run_ns: vec![first],
            peak_rss_kb: rss,
        };
        let mut first = report(vec![9_000_000, 1_000_000, 5_000_000], 20_000_000, 300);
        first.absorb(report(
            vec![2_000_000, 3_000_000, 4_000_000],
            12_000_000,
            500,
        ));
        let record = Record::from_report(&first);
        assert_eq!(first.run_ns.len(), 6);
        // Median of 1, 2, 3, 4, 5, 9 ms.
        assert_eq!(record.run_ms, 3.5);
        assert_eq!(record.peak_rss_kb, 500);
        // One first run per process: the median of 20 and 12 ms.
        assert_eq!(record.first_run_ms, Some(16.0));
        assert_eq!(record.runs, Some(6));
    }

    #[test]
    fn reports_and_records_from_before_warm_up_runs_still_read() {
        let report: ChildReport = serde_json::from_str(
            r#"{"engine":"ref-sync","workload":"chain-1000","n":1000,"build_ns":[1,2,3],"run_ns":[4,5,6],"peak_rss_kb":9}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(report.first_run_ns.is_empty());
        let record = Record::from_report(&report);
        assert_eq!(record.first_run_ms, None);
        let mut record = record;
        record.runs = None;
        let json = serde_json::to_string(&record).unwrap_or_default();
        assert!(!json.contains("first_run_ms"), "{json}");
        assert!(!json.contains("runs"), "{json}");
        let back: Record = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, record);
    }

    #[test]
    fn median_of_odd_count_is_the_middle_sample() {
        assert_eq!(median_ns(&[9, 1, 5]), 5.0);
    }

    #[test]
    fn median_of_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(median_ns(&[4, 1, 3, 100]), 3.5);
    }

    #[test]
    fn record_serialises_with_the_documented_keys() {
        let record = Record {
            engine: "ref-tokio".into(),
            workload: "layered-100x1000".into(),
            n: 100_000,
            build_ms: 1.5,
            run_ms: 47.0,
            per_task_ns: 470.0,
            peak_rss_kb: 21_000,
            first_run_ms: Some(52.0),
            runs: Some(9),
        };
        let json = serde_json::to_value(&record).unwrap_or_default();
        let keys: Vec<&str> = json
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let mut expected = vec![
            "engine",
            "workload",
            "n",
            "build_ms",
            "run_ms",
            "per_task_ns",
            "peak_rss_kb",
            "first_run_ms",
            "runs",
        ];
        let mut keys = keys;
        keys.sort_unstable();
        expected.sort_unstable();
        assert_eq!(keys, expected);
    }
}
