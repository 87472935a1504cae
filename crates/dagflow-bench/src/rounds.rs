//! How many rounds an engine is measured in on one workload.
//!
//! Every engine gets the `--rounds` it was asked for. An engine whose runs
//! are short gets more, alternating with the other engines that still need
//! some, until its measured runs add up to `--min-measured-ms` or it has had
//! [`EXTRA_ROUNDS_FACTOR`] times the rounds asked for. Why: one process of
//! the same binary can run 1.7 x faster than the next for its whole life
//! (heap and code placement), so a median over three processes of a
//! microsecond workload moves by tens of percent from one suite run to the
//! next, while each further process costs a few milliseconds. Workloads of
//! 100 ms and more are not affected.

use std::time::Duration;

use crate::record::ChildReport;

/// At most this many times `--rounds` rounds per engine and workload.
pub const EXTRA_ROUNDS_FACTOR: usize = 5;

/// What decides whether an engine gets another round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoundPolicy {
    /// Rounds every engine gets.
    pub rounds: usize,
    /// Measured run time an engine should reach; zero turns extra rounds off.
    pub min_measured: Duration,
}

impl RoundPolicy {
    /// The most rounds any engine can get.
    pub fn max_rounds(&self) -> usize {
        if self.min_measured.is_zero() {
            self.rounds
        } else {
            self.rounds.saturating_mul(EXTRA_ROUNDS_FACTOR)
        }
    }

    /// Whether an engine that has had `done` rounds, with `pooled` samples
    /// so far (none if it has not been measured yet), gets another one.
    ///
    /// ```
    /// use std::time::Duration;
    /// use dagflow_bench::rounds::RoundPolicy;
    ///
    /// let policy = RoundPolicy { rounds: 3, min_measured: Duration::from_millis(100) };
    /// assert!(policy.another_round(2, None));
    /// assert!(!policy.another_round(15, None));
    /// ```
    pub fn another_round(&self, done: usize, pooled: Option<&ChildReport>) -> bool {
        if done < self.rounds {
            return true;
        }
        done < self.max_rounds() && measured(pooled) < self.min_measured
    }
}

/// The sum of an engine's measured runs so far.
pub fn measured(pooled: Option<&ChildReport>) -> Duration {
    let nanos: u64 = pooled.map_or(0, |r| r.run_ns.iter().sum());
    Duration::from_nanos(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(rounds: usize, min_measured_ms: u64) -> RoundPolicy {
        RoundPolicy {
            rounds,
            min_measured: Duration::from_millis(min_measured_ms),
        }
    }

    fn pooled(run_ms: &[u64]) -> ChildReport {
        ChildReport {
            engine: "ref-sync".into(),
            workload: "chain-1000".into(),
            n: 1000,
            build_ns: vec![1; run_ms.len()],
            run_ns: run_ms.iter().map(|ms| ms * 1_000_000).collect(),
            first_run_ns: vec![1],
            peak_rss_kb: 1,
        }
    }

    #[test]
    fn every_engine_gets_the_rounds_asked_for_however_long_its_runs() {
        let policy = policy(3, 100);
        let slow = pooled(&[500, 500, 500]);
        assert!(policy.another_round(0, None));
        assert!(policy.another_round(1, Some(&slow)));
        assert!(policy.another_round(2, Some(&slow)));
        assert!(!policy.another_round(3, Some(&slow)));
    }

    #[test]
    fn short_runs_get_more_rounds_until_the_time_is_reached_or_the_cap() {
        let policy = policy(3, 100);
        assert_eq!(policy.max_rounds(), 15);
        // 99 ms measured: one more round; 100 ms: enough.
        assert!(policy.another_round(3, Some(&pooled(&[33, 33, 33]))));
        assert!(!policy.another_round(3, Some(&pooled(&[50, 50]))));
        // Microsecond runs stop at the cap.
        let tiny = pooled(&[0; 45]);
        assert!(policy.another_round(14, Some(&tiny)));
        assert!(!policy.another_round(15, Some(&tiny)));
    }

    #[test]
    fn zero_minimum_turns_extra_rounds_off() {
        let policy = policy(2, 0);
        assert_eq!(policy.max_rounds(), 2);
        assert!(policy.another_round(1, Some(&pooled(&[0]))));
        assert!(!policy.another_round(2, Some(&pooled(&[0]))));
    }
}
