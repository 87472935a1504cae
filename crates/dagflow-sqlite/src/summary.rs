//! Summary tables maintained on insert.
//!
//! Each write transaction adds up what its entries change (per workflow
//! name and step: counters, counts of each completed duration and of each
//! duration bucket; per workflow name: run totals) in memory, then applies
//! one upsert per changed key. A batch of 10,000 entries of one workflow
//! therefore costs a few summary writes, and analytics read a few rows per
//! step instead of every entry.
//!
//! Percentiles stay exact. The buckets are log-linear: durations below
//! 128 µs have a bucket each; above, each power of two is split into 64
//! buckets (under 1.6 % wide). Summing bucket counts tells which bucket holds
//! the k-th duration and how many smaller ones precede it; the exact value
//! is then found among that bucket's distinct durations only.

use std::sync::LazyLock;

use rusqlite::{params, Connection, OptionalExtension};

use crate::codec::{COMPLETED, STEP_COMPLETE, WORKFLOW_COMPLETE};
use crate::fast_hash::FastMap;
use crate::multirow::Template;
use crate::packed;

static UPSERT_DURATIONS: LazyLock<Template> = LazyLock::new(|| {
    Template::new(
        "INSERT INTO step_durations (duration_key, count)",
        2,
        "ON CONFLICT (duration_key) DO UPDATE SET count = count + excluded.count",
    )
});

static UPSERT_BUCKETS: LazyLock<Template> = LazyLock::new(|| {
    Template::new(
        "INSERT INTO step_buckets (bucket_key, count)",
        2,
        "ON CONFLICT (bucket_key) DO UPDATE SET count = count + excluded.count",
    )
});

/// Durations that do not fit a one-integer key (see packed.rs).
static UPSERT_SPILLED_DURATIONS: LazyLock<Template> = LazyLock::new(|| {
    Template::new(
        "INSERT INTO step_duration_counts (step_key, duration_us, count)",
        3,
        "ON CONFLICT (step_key, duration_us) DO UPDATE SET count = count + excluded.count",
    )
});

/// Buckets of step keys that do not fit a one-integer key.
static UPSERT_SPILLED_BUCKETS: LazyLock<Template> = LazyLock::new(|| {
    Template::new(
        "INSERT INTO step_duration_buckets (step_key, bucket, count)",
        3,
        "ON CONFLICT (step_key, bucket) DO UPDATE SET count = count + excluded.count",
    )
});

/// Sub-bucket bits: each power of two above 2^BITS is split in 2^BITS.
const BITS: u32 = 6;
const EXACT_BELOW: i64 = 1 << (BITS + 1);

/// The histogram bucket of a duration in microseconds (negative durations
/// share bucket 0 with zero). Monotonic: `a <= b` implies
/// `bucket(a) <= bucket(b)`.
pub(crate) fn duration_bucket(us: i64) -> i64 {
    if us <= 0 {
        return 0;
    }
    if us < EXACT_BELOW {
        return us;
    }
    let exponent = 63 - us.leading_zeros();
    let shift = exponent - BITS;
    let mantissa = us >> shift;
    i64::from(shift) * (1 << BITS) + mantissa
}

/// The smallest duration of a bucket (`i64::MIN` for bucket 0, which also
/// holds negative durations).
fn bucket_start(bucket: i64) -> i64 {
    if bucket <= 0 {
        return i64::MIN;
    }
    if bucket < EXACT_BELOW {
        return bucket;
    }
    let shift = bucket / (1 << BITS) - 1;
    let mantissa = bucket - shift * (1 << BITS);
    // Buckets past i64::MAX do not exist; saturate for the last one's end.
    i64::try_from(i128::from(mantissa) << shift).unwrap_or(i64::MAX)
}

/// The inclusive range of durations in `bucket`.
pub(crate) fn bucket_range(bucket: i64) -> (i64, i64) {
    // No bucket starts at i64::MAX, so a saturated next start means the
    // bucket runs to the end of the range.
    let next = bucket_start(bucket + 1);
    let end = if next == i64::MAX { i64::MAX } else { next - 1 };
    (bucket_start(bucket), end)
}

#[derive(Debug, Default, Clone, Copy)]
struct StepDelta {
    total: i64,
    completed: i64,
    failed: i64,
    skipped: i64,
    cancelled: i64,
    flaky: i64,
    completed_duration_us: i64,
    max_us: Option<i64>,
}

#[derive(Debug, Default, Clone, Copy)]
struct WorkflowDelta {
    finished: i64,
    succeeded: i64,
    total_duration_us: i64,
    total_steps: i64,
}

#[derive(Debug, Default)]
struct NameDelta {
    workflow: WorkflowDelta,
    steps: FastMap<String, StepDelta>,
    /// Per step, how many completions took each exact duration.
    durations: FastMap<String, FastMap<i64, i64>>,
}

/// What a batch of entries adds to the summary tables.
#[derive(Debug, Default)]
pub(crate) struct SummaryDelta {
    by_name: FastMap<String, NameDelta>,
    entries: i64,
}

/// Status codes, mirrored from codec for the counters.
const FAILED: i64 = 2;
const SKIPPED: i64 = 3;
const CANCELLED: i64 = 4;

impl SummaryDelta {
    /// Counts one entry, given its stored columns and whether it is a step
    /// a resume reused, which did not run: that one adds to no step figure
    /// (see `JournalEntry::is_restored`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn add_counts(
        &mut self,
        workflow_name: &str,
        event_type: i64,
        step_name: Option<&str>,
        status: i64,
        duration_us: i64,
        attempt: i64,
        restored: bool,
    ) {
        self.entries += 1;
        // Every name gets a `workflow_stats` row, even before its first
        // run ends: queries merging over names list them from there.
        let name = match self.by_name.get_mut(workflow_name) {
            Some(name) => name,
            None => self.by_name.entry(workflow_name.to_string()).or_default(),
        };
        if (event_type != STEP_COMPLETE && event_type != WORKFLOW_COMPLETE) || restored {
            return;
        }
        if event_type == WORKFLOW_COMPLETE {
            name.workflow.finished += 1;
            name.workflow.succeeded += i64::from(status == COMPLETED);
            name.workflow.total_duration_us += duration_us;
            return;
        }
        name.workflow.total_steps += 1;
        let step_key = step_name.unwrap_or_default();
        let step = match name.steps.get_mut(step_key) {
            Some(step) => step,
            None => name.steps.entry(step_key.to_string()).or_default(),
        };
        step.total += 1;
        match status {
            COMPLETED => {
                step.completed += 1;
                step.flaky += i64::from(attempt > 1);
                step.completed_duration_us += duration_us;
                step.max_us = Some(step.max_us.map_or(duration_us, |m| m.max(duration_us)));
                let durations = match name.durations.get_mut(step_key) {
                    Some(durations) => durations,
                    None => name.durations.entry(step_key.to_string()).or_default(),
                };
                *durations.entry(duration_us).or_insert(0) += 1;
            }
            FAILED => step.failed += 1,
            SKIPPED => step.skipped += 1,
            CANCELLED => step.cancelled += 1,
            _ => {}
        }
    }

    /// Adds `other` to this delta.
    pub(crate) fn merge(&mut self, other: &SummaryDelta) {
        self.entries += other.entries;
        for (workflow_name, theirs) in &other.by_name {
            let ours = self.by_name.entry(workflow_name.clone()).or_default();
            let (w, t) = (&mut ours.workflow, theirs.workflow);
            w.finished += t.finished;
            w.succeeded += t.succeeded;
            w.total_duration_us += t.total_duration_us;
            w.total_steps += t.total_steps;
            for (step_name, t) in &theirs.steps {
                let s = ours.steps.entry(step_name.clone()).or_default();
                s.total += t.total;
                s.completed += t.completed;
                s.failed += t.failed;
                s.skipped += t.skipped;
                s.cancelled += t.cancelled;
                s.flaky += t.flaky;
                s.completed_duration_us += t.completed_duration_us;
                s.max_us = match (s.max_us, t.max_us) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                };
            }
            for (step_name, durations) in &theirs.durations {
                let ours = ours.durations.entry(step_name.clone()).or_default();
                for (duration, count) in durations {
                    *ours.entry(*duration).or_insert(0) += count;
                }
            }
        }
    }

    /// Writes the delta: per workflow name and step, one update of its
    /// counters and one upsert per distinct duration and bucket, in key
    /// order (neighbouring keys share pages). Call inside the transaction
    /// that inserted the entries.
    pub(crate) fn apply(&self, conn: &Connection) -> rusqlite::Result<()> {
        let mut find_step = conn.prepare_cached(
            "SELECT step_key FROM step_stats WHERE workflow_name = ?1 AND step_name = ?2",
        )?;
        let mut new_step = conn.prepare_cached(
            "INSERT INTO step_stats (workflow_name, step_name, total, completed, failed, skipped,
                                     cancelled, flaky, completed_duration_us, max_us)
             VALUES (?1, ?2, 0, 0, 0, 0, 0, 0, 0, NULL)",
        )?;
        let mut add_step = conn.prepare_cached(
            "UPDATE step_stats SET
                total = total + ?2,
                completed = completed + ?3,
                failed = failed + ?4,
                skipped = skipped + ?5,
                cancelled = cancelled + ?6,
                flaky = flaky + ?7,
                completed_duration_us = completed_duration_us + ?8,
                max_us = CASE WHEN max_us IS NULL OR ?9 > max_us THEN ?9 ELSE max_us END
             WHERE step_key = ?1",
        )?;
        let mut workflow_upsert = conn.prepare_cached(
            "INSERT INTO workflow_stats (workflow_name, finished, succeeded, total_duration_us,
                                         total_steps)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (workflow_name) DO UPDATE SET
                finished = finished + excluded.finished,
                succeeded = succeeded + excluded.succeeded,
                total_duration_us = total_duration_us + excluded.total_duration_us,
                total_steps = total_steps + excluded.total_steps",
        )?;
        // (step key, duration or bucket, count), in key order.
        let mut durations_delta: Vec<(i64, i64, i64)> = Vec::new();
        let mut buckets_delta: Vec<(i64, i64, i64)> = Vec::new();
        for (workflow_name, name) in &self.by_name {
            let w = name.workflow;
            workflow_upsert.execute(params![
                workflow_name,
                w.finished,
                w.succeeded,
                w.total_duration_us,
                w.total_steps
            ])?;
            for (step_name, s) in &name.steps {
                let key: i64 = match find_step
                    .query_row(params![workflow_name, step_name], |r| r.get(0))
                    .optional()?
                {
                    Some(key) => key,
                    None => {
                        new_step.execute(params![workflow_name, step_name])?;
                        conn.last_insert_rowid()
                    }
                };
                add_step.execute(params![
                    key,
                    s.total,
                    s.completed,
                    s.failed,
                    s.skipped,
                    s.cancelled,
                    s.flaky,
                    s.completed_duration_us,
                    s.max_us
                ])?;
                let Some(durations) = name.durations.get(step_name) else {
                    continue;
                };
                let first = durations_delta.len();
                durations_delta.extend(durations.iter().map(|(d, c)| (key, *d, *c)));
                durations_delta[first..].sort_unstable();
                // Durations are sorted, so each bucket's are adjacent.
                for &(_, duration, count) in &durations_delta[first..] {
                    let bucket = duration_bucket(duration);
                    match buckets_delta.last_mut() {
                        Some((k, b, n)) if *k == key && *b == bucket => *n += count,
                        _ => buckets_delta.push((key, bucket, count)),
                    }
                }
            }
        }
        let bind_keyed = |stmt: &mut rusqlite::CachedStatement<'_>, p: usize, row: &(i64, i64)| {
            stmt.raw_bind_parameter(p, row.0)?;
            stmt.raw_bind_parameter(p + 1, row.1)
        };
        let bind_spilled =
            |stmt: &mut rusqlite::CachedStatement<'_>, p: usize, row: &(i64, i64, i64)| {
                stmt.raw_bind_parameter(p, row.0)?;
                stmt.raw_bind_parameter(p + 1, row.1)?;
                stmt.raw_bind_parameter(p + 2, row.2)
            };
        for (rows, keyed, spilled) in [
            (
                &durations_delta,
                &*UPSERT_DURATIONS,
                &*UPSERT_SPILLED_DURATIONS,
            ),
            (&buckets_delta, &*UPSERT_BUCKETS, &*UPSERT_SPILLED_BUCKETS),
        ] {
            let (keyed_rows, spilled_rows) = packed::split(rows);
            keyed.execute(conn, &keyed_rows, bind_keyed)?;
            spilled.execute(conn, &spilled_rows, bind_spilled)?;
        }
        if self.entries != 0 {
            conn.prepare_cached(
                "INSERT INTO journal_counters (name, value) VALUES ('entries', ?1)
                 ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
            )?
            .execute([self.entries])?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_exact_below_128_us_and_contiguous_above() {
        for us in 1..128 {
            assert_eq!(duration_bucket(us), us);
            assert_eq!(bucket_range(us), (us, us));
        }
        assert_eq!(duration_bucket(-5), 0);
        assert_eq!(bucket_range(0), (i64::MIN, 0));
        let mut previous_end = 127;
        for bucket in 128..3000 {
            let (start, end) = bucket_range(bucket);
            assert_eq!(
                start,
                previous_end + 1,
                "bucket {bucket} starts where {} ended",
                bucket - 1
            );
            assert!(end >= start);
            assert_eq!(duration_bucket(start), bucket);
            assert_eq!(duration_bucket(end), bucket);
            previous_end = end;
        }
    }

    #[test]
    fn buckets_are_at_most_one_sixty_fourth_of_their_start_wide() {
        for us in [
            128_i64,
            1_000,
            99_999,
            1_000_000,
            3_600_000_000,
            i64::MAX / 3,
        ] {
            let (start, end) = bucket_range(duration_bucket(us));
            assert!(start <= us && us <= end);
            assert!(
                (end - start + 1) * 64 <= start,
                "bucket of {us} is [{start}, {end}]"
            );
        }
    }

    #[test]
    fn the_largest_duration_has_a_bucket_that_ends_at_i64_max() {
        let bucket = duration_bucket(i64::MAX);
        let (start, end) = bucket_range(bucket);
        assert!(start < i64::MAX);
        assert_eq!(end, i64::MAX);
    }
}
