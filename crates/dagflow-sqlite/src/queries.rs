//! The read side: entry lookups and aggregates, all over indexes or the
//! summary tables (see [`sql`] and the query-plan test below).
//!
//! Aggregates that read several tables run in one read transaction, so they
//! see one consistent snapshot while other threads or processes write.

use std::path::Path;

use dagflow::journal::{
    nearest_rank_index, EntryStatus, EventType, JournalEntry, QueryFilter, RunRecord, StepTotals,
    WorkflowTotals,
};
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, Connection, OptionalExtension, Params};

use crate::codec::{self, decode, entry_columns};
use crate::error::SqliteError;
use crate::summary::bucket_range;

/// Every query of the read side. Codes are literals (`event_type = 2`),
/// not parameters, where the partial index must match.
pub(crate) mod sql {
    use super::entry_columns;

    pub const ENTRY_COUNT: &str = "SELECT value FROM journal_counters WHERE name = 'entries'";
    pub const BY_WORKFLOW_ID: &str = concat!(
        "SELECT ",
        entry_columns!(),
        " FROM run_spans AS s JOIN entries ON entries.id BETWEEN s.first_id AND s.last_id
          WHERE s.workflow_id = ?1 AND entries.workflow_id = ?1 ORDER BY entries.id"
    );
    /// Lifecycle entries (`event_type <> 2` lets the partial index serve
    /// these) of one workflow name and type, oldest first.
    pub const LIFECYCLE_OF_WORKFLOW: &str = concat!(
        "SELECT ",
        entry_columns!(),
        " FROM entries INDEXED BY entries_lifecycle
          WHERE workflow_name = ?1 AND event_type = ?2 AND event_type <> 2 ORDER BY id"
    );
    /// Step outcomes are most entries: a scan in journal order.
    pub const STEP_OUTCOMES: &str = concat!(
        "SELECT ",
        entry_columns!(),
        " FROM entries WHERE event_type = 2 ORDER BY id"
    );
    pub const RECENT: &str = concat!(
        "SELECT ",
        entry_columns!(),
        " FROM entries ORDER BY id DESC LIMIT ?1"
    );
    pub const WORKFLOW_TOTALS: &str = "
        SELECT ifnull(sum(finished), 0), ifnull(sum(succeeded), 0),
               ifnull(sum(total_duration_us), 0), ifnull(sum(total_steps), 0)
        FROM workflow_stats WHERE ?1 IS NULL OR workflow_name = ?1";
    pub const STEP_TOTALS: &str = "
        SELECT step_name, sum(total), sum(completed), sum(failed), sum(skipped),
               sum(cancelled), sum(flaky), sum(completed_duration_us), max(max_us)
        FROM step_stats WHERE ?1 IS NULL OR workflow_name = ?1
        GROUP BY step_name ORDER BY step_name";
    /// Bucket counts per step name, from the one-integer keys (a rowid
    /// range per step key) and the version-2 rows of larger step keys.
    pub const STEP_HISTOGRAMS: &str = "
        SELECT step_name, bucket, sum(count) FROM (
            SELECT s.step_name AS step_name, b.bucket_key & 1099511627775 AS bucket,
                   b.count AS count
            FROM step_stats AS s JOIN step_buckets AS b
              ON b.bucket_key BETWEEN s.step_key << 40 AND (s.step_key << 40) + 1099511627775
            WHERE s.step_key BETWEEN 0 AND 8388607 AND (?1 IS NULL OR s.workflow_name = ?1)
            UNION ALL
            SELECT s.step_name, b.bucket, b.count
            FROM step_duration_buckets AS b JOIN step_stats AS s ON s.step_key = b.step_key
            WHERE ?1 IS NULL OR s.workflow_name = ?1)
        GROUP BY step_name, bucket ORDER BY step_name, bucket";
    pub const KEYS_OF_STEP: &str = "
        SELECT step_key FROM step_stats
        WHERE step_name = ?1 AND completed > 0 AND (?2 IS NULL OR workflow_name = ?2)";
    /// The distinct durations of step key ?1 from ?2 to ?3 µs with their
    /// counts, unordered: a rowid range of the one-integer keys (empty when
    /// the range or the step key lies outside them) and the version-2 rows
    /// of what does not fit.
    pub const DURATIONS_IN_BUCKET: &str = "
        SELECT duration_key & 1099511627775, count FROM step_durations
        WHERE ?1 BETWEEN 0 AND 8388607
          AND duration_key BETWEEN (?1 << 40) + min(max(?2, 0), 1099511627776)
                               AND (?1 << 40) + min(?3, 1099511627775)
        UNION ALL
        SELECT duration_us, count FROM step_duration_counts
        WHERE step_key = ?1 AND duration_us BETWEEN ?2 AND ?3";
    pub const WORKFLOW_NAMES: &str =
        "SELECT workflow_name FROM workflow_stats ORDER BY workflow_name";
    pub const DURATIONS_OF_WORKFLOW: &str = "
        SELECT id, duration_us FROM entries INDEXED BY entries_lifecycle
        WHERE workflow_name = ?1 AND event_type = 3 AND event_type <> 2 ORDER BY id LIMIT ?2";
    pub const LAST_DURATIONS_OF_WORKFLOW: &str = "
        SELECT id, duration_us FROM entries INDEXED BY entries_lifecycle
        WHERE workflow_name = ?1 AND event_type = 3 AND event_type <> 2
        ORDER BY id DESC LIMIT ?2";
    pub const LAST_STARTS_OF_WORKFLOW: &str = "
        SELECT id, workflow_id, workflow_name, timestamp_ms,
               json_extract(details, '$.resumed_from')
        FROM entries INDEXED BY entries_lifecycle
        WHERE workflow_name = ?1 AND event_type = 0 AND event_type <> 2
        ORDER BY id DESC LIMIT ?2";
    pub const RUN_END: &str = "
        SELECT entries.status, entries.duration_us
        FROM run_spans AS s JOIN entries ON entries.id BETWEEN s.first_id AND s.last_id
        WHERE s.workflow_id = ?1 AND entries.workflow_id = ?1 AND entries.event_type = 3
          AND (?2 IS NULL OR entries.workflow_name = ?2)
        ORDER BY entries.id DESC LIMIT 1";
}

/// One read connection of a store, with its error context.
pub(crate) struct Reader<'a> {
    pub conn: &'a Connection,
    pub path: &'a Path,
    pub busy_ms: u64,
}

impl<'a> Reader<'a> {
    fn err(&self, context: &'static str) -> impl Fn(rusqlite::Error) -> SqliteError + 'a {
        let (path, busy_ms) = (self.path, self.busy_ms);
        move |e| SqliteError::classify(path, context, e, busy_ms)
    }

    fn entries<P: Params>(&self, sql: &str, params: P) -> Result<Vec<JournalEntry>, SqliteError> {
        let err = self.err("reading entries");
        let mut stmt = self.conn.prepare_cached(sql).map_err(&err)?;
        let mut rows = stmt.query(params).map_err(&err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(&err)? {
            out.push(decode(row, self.path)?);
        }
        Ok(out)
    }

    pub(crate) fn entry_count(&self) -> Result<u64, SqliteError> {
        let count: Option<i64> = self
            .conn
            .prepare_cached(sql::ENTRY_COUNT)
            .and_then(|mut s| s.query_row([], |r| r.get(0)).optional())
            .map_err(self.err("counting entries"))?;
        Ok(count.map_or(0, non_negative))
    }

    pub(crate) fn by_workflow_id(
        &self,
        workflow_id: &str,
    ) -> Result<Vec<JournalEntry>, SqliteError> {
        self.entries(sql::BY_WORKFLOW_ID, [workflow_id])
    }

    pub(crate) fn by_event_type(
        &self,
        event_type: EventType,
    ) -> Result<Vec<JournalEntry>, SqliteError> {
        let code = match codec::event_code(event_type) {
            Some(codec::STEP_COMPLETE) => return self.entries(sql::STEP_OUTCOMES, []),
            Some(code) => code,
            // A type this format cannot store has no entries.
            None => return Ok(Vec::new()),
        };
        let err = self.err("reading entries by type");
        let mut stmt = self
            .conn
            .prepare_cached(sql::LIFECYCLE_OF_WORKFLOW)
            .map_err(&err)?;
        let mut merged = Vec::new();
        for name in self.workflow_names(&QueryFilter::all())? {
            let mut rows = stmt.query(params![name, code]).map_err(&err)?;
            while let Some(row) = rows.next().map_err(&err)? {
                merged.push((row.get::<_, i64>(0).map_err(&err)?, decode(row, self.path)?));
            }
        }
        merged.sort_unstable_by_key(|(id, _)| *id);
        Ok(merged.into_iter().map(|(_, entry)| entry).collect())
    }

    pub(crate) fn recent(&self, n: usize) -> Result<Vec<JournalEntry>, SqliteError> {
        let mut entries = self.entries(sql::RECENT, [limit(n)])?;
        entries.reverse();
        Ok(entries)
    }

    pub(crate) fn workflow_totals(
        &self,
        filter: &QueryFilter,
    ) -> Result<WorkflowTotals, SqliteError> {
        self.conn
            .prepare_cached(sql::WORKFLOW_TOTALS)
            .and_then(|mut s| {
                s.query_row([filter.workflow.as_deref()], |r| {
                    Ok(WorkflowTotals {
                        finished: non_negative(r.get(0)?),
                        succeeded: non_negative(r.get(1)?),
                        total_duration_us: r.get(2)?,
                        total_steps: non_negative(r.get(3)?),
                    })
                })
            })
            .map_err(self.err("computing workflow totals"))
    }

    pub(crate) fn step_totals(&self, filter: &QueryFilter) -> Result<Vec<StepTotals>, SqliteError> {
        let err = self.err("computing step totals");
        let name = filter.workflow.as_deref();
        let tx = self.conn.unchecked_transaction().map_err(&err)?;
        let mut steps: Vec<StepTotals> = tx
            .prepare_cached(sql::STEP_TOTALS)
            .and_then(|mut s| {
                s.query_map([name], |r| {
                    Ok(StepTotals {
                        step_name: r.get(0)?,
                        total: non_negative(r.get(1)?),
                        completed: non_negative(r.get(2)?),
                        failed: non_negative(r.get(3)?),
                        skipped: non_negative(r.get(4)?),
                        cancelled: non_negative(r.get(5)?),
                        flaky: non_negative(r.get(6)?),
                        completed_duration_us: r.get(7)?,
                        p50_us: None,
                        p95_us: None,
                        max_us: r.get(8)?,
                    })
                })?
                .collect()
            })
            .map_err(&err)?;
        let histograms: Vec<(String, i64, i64)> = tx
            .prepare_cached(sql::STEP_HISTOGRAMS)
            .and_then(|mut s| {
                s.query_map([name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect()
            })
            .map_err(&err)?;
        // Both lists are sorted by step name: walk them together.
        let mut rest = histograms.as_slice();
        for step in &mut steps {
            let start = rest.partition_point(|(s, _, _)| s.as_str() < step.step_name.as_str());
            let len = rest[start..].partition_point(|(s, _, _)| *s == step.step_name);
            let buckets = &rest[start..start + len];
            rest = &rest[start + len..];
            if step.completed == 0 {
                continue;
            }
            let keys = self.keys_of_step(name, &step.step_name)?;
            for (p, slot) in [(0.5, &mut step.p50_us), (0.95, &mut step.p95_us)] {
                let rank = i64::try_from(nearest_rank_index(p, step.completed)).unwrap_or(i64::MAX);
                *slot = self.kth_completed_duration(&keys, &step.step_name, buckets, rank)?;
            }
        }
        drop(tx);
        Ok(steps)
    }

    /// The step keys (one per workflow name) of `step` with completed
    /// outcomes, within `filtered` if set.
    fn keys_of_step(&self, filtered: Option<&str>, step: &str) -> Result<Vec<i64>, SqliteError> {
        self.conn
            .prepare_cached(sql::KEYS_OF_STEP)
            .and_then(|mut s| {
                s.query_map(params![step, filtered], |r| r.get(0))?
                    .collect()
            })
            .map_err(self.err("listing the workflows of a step"))
    }

    /// The `rank`-th (0-based) smallest completed duration of `step` over
    /// its step `keys`: the histogram (`buckets`, ascending) tells which bucket holds
    /// it and how many smaller durations precede it; the index supplies the
    /// exact value from inside that bucket.
    fn kth_completed_duration(
        &self,
        keys: &[i64],
        step: &str,
        buckets: &[(String, i64, i64)],
        rank: i64,
    ) -> Result<Option<i64>, SqliteError> {
        let mut before = 0;
        let mut found = None;
        for (_, bucket, in_bucket) in buckets {
            if before + in_bucket > rank {
                found = Some((*bucket, *in_bucket, rank - before));
                break;
            }
            before += in_bucket;
        }
        let Some((bucket, in_bucket, offset)) = found else {
            return Err(SqliteError::Inconsistent {
                path: self.path.to_path_buf(),
                detail: format!(
                    "the duration histogram of step `{step}` counts fewer completions than its counters"
                ),
            });
        };
        let (low, high) = bucket_range(bucket);
        let err = self.err("reading a step's duration percentile");
        // The bucket's distinct durations with their counts, merged over
        // the workflows that share the step.
        let mut counts: Vec<(i64, i64)> = Vec::new();
        let mut stmt = self
            .conn
            .prepare_cached(sql::DURATIONS_IN_BUCKET)
            .map_err(&err)?;
        for key in keys {
            let rows = stmt
                .query_map(params![key, low, high], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(&err)?;
            for row in rows {
                counts.push(row.map_err(&err)?);
            }
        }
        counts.sort_unstable_by_key(|&(duration, _)| duration);
        let mut seen = 0;
        for (duration, count) in counts {
            seen += count;
            if seen > offset {
                return Ok(Some(duration));
            }
        }
        Err(SqliteError::Inconsistent {
            path: self.path.to_path_buf(),
            detail: format!(
                "bucket {bucket} of step `{step}` holds fewer durations than its count of {in_bucket}"
            ),
        })
    }

    /// Every workflow name in the journal, sorted.
    pub(crate) fn all_workflow_names(&self) -> Result<Vec<String>, SqliteError> {
        self.workflow_names(&QueryFilter::all())
    }

    /// The workflow names `filter` selects: the one it names, or every
    /// name in the journal (index lists are per name and merged by id).
    fn workflow_names(&self, filter: &QueryFilter) -> Result<Vec<String>, SqliteError> {
        if let Some(name) = &filter.workflow {
            return Ok(vec![name.clone()]);
        }
        self.conn
            .prepare_cached(sql::WORKFLOW_NAMES)
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(self.err("listing workflow names"))
    }

    /// Runs `sql` (parameters: workflow name, limit) for each name `filter`
    /// selects and merges the `(id, value)` rows by id: oldest first, or
    /// the newest `limit` newest first.
    fn merged_by_id<T>(
        &self,
        filter: &QueryFilter,
        sql: &str,
        newest: Option<usize>,
        map: impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<(i64, T)>,
        context: &'static str,
    ) -> Result<Vec<T>, SqliteError> {
        let err = self.err(context);
        let limit = newest.map_or(-1, limit);
        let mut stmt = self.conn.prepare_cached(sql).map_err(&err)?;
        let mut merged: Vec<(i64, T)> = Vec::new();
        let names = self.workflow_names(filter)?;
        for name in &names {
            let rows = stmt.query_map(params![name, limit], &map).map_err(&err)?;
            for row in rows {
                merged.push(row.map_err(&err)?);
            }
        }
        if names.len() > 1 {
            match newest {
                Some(k) => {
                    merged.sort_unstable_by_key(|(id, _)| std::cmp::Reverse(*id));
                    merged.truncate(k);
                }
                None => merged.sort_unstable_by_key(|(id, _)| *id),
            }
        }
        Ok(merged.into_iter().map(|(_, value)| value).collect())
    }

    pub(crate) fn workflow_durations(
        &self,
        filter: &QueryFilter,
        last: Option<usize>,
    ) -> Result<Vec<f64>, SqliteError> {
        let sql = match last {
            Some(_) => sql::LAST_DURATIONS_OF_WORKFLOW,
            None => sql::DURATIONS_OF_WORKFLOW,
        };
        let mut durations = self.merged_by_id(
            filter,
            sql,
            last,
            |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as f64 / 1000.0)),
            "reading workflow durations",
        )?;
        if last.is_some() {
            durations.reverse();
        }
        Ok(durations)
    }

    pub(crate) fn runs(
        &self,
        filter: &QueryFilter,
        max: usize,
    ) -> Result<Vec<RunRecord>, SqliteError> {
        let err = self.err("listing runs");
        let tx = self.conn.unchecked_transaction().map_err(&err)?;
        type Start = (String, String, i64, SqlValue);
        let starts: Vec<Start> = self.merged_by_id(
            filter,
            sql::LAST_STARTS_OF_WORKFLOW,
            Some(max),
            |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))),
            "listing runs",
        )?;
        let mut end = tx.prepare_cached(sql::RUN_END).map_err(&err)?;
        let mut runs = Vec::with_capacity(starts.len());
        for (workflow_id, workflow_name, started_ms, resumed_from) in starts {
            let ended: Option<(i64, i64)> = end
                .query_row(params![workflow_id, filter.workflow], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()
                .map_err(&err)?;
            let status = match ended {
                Some((code, _)) => {
                    codec::status_from_code(code).ok_or_else(|| SqliteError::Inconsistent {
                        path: self.path.to_path_buf(),
                        detail: format!(
                            "run `{workflow_id}` ended with unknown status code {code}"
                        ),
                    })?
                }
                None => EntryStatus::Started,
            };
            runs.push(RunRecord {
                workflow_id,
                workflow_name,
                started_ms,
                status,
                duration_ms: ended.map(|(_, us)| us as f64 / 1000.0),
                resumed_from: match resumed_from {
                    SqlValue::Text(id) => Some(id),
                    _ => None,
                },
            });
        }
        drop(end);
        drop(tx);
        Ok(runs)
    }
}

/// A SQL `LIMIT` for `n` rows.
fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A count read from SQL (never negative in a consistent journal).
fn non_negative(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::sql;
    use rusqlite::Connection;

    fn plan(conn: &Connection, query: &str) -> String {
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {query}"))
            .unwrap_or_else(|e| panic!("{query}: {e}"));
        let count = stmt.parameter_count();
        let params: Vec<rusqlite::types::Value> = (0..count)
            .map(|_| rusqlite::types::Value::Integer(1))
            .collect();
        let rows = stmt
            .query_map(rusqlite::params_from_iter(params), |r| {
                r.get::<_, String>(3)
            })
            .expect("plan runs");
        rows.map(|r| r.expect("plan row"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    #[test]
    fn every_entries_query_uses_its_index() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("plan.db");
        let mut conn = Connection::open(&path).expect("opens");
        crate::schema::migrate(&mut conn, &path, crate::schema::LATEST_VERSION, 0).expect("schema");
        let expectations = [
            sql::LIFECYCLE_OF_WORKFLOW,
            sql::DURATIONS_OF_WORKFLOW,
            sql::LAST_DURATIONS_OF_WORKFLOW,
            sql::LAST_STARTS_OF_WORKFLOW,
        ];
        for query in expectations {
            let plan = plan(&conn, query);
            assert!(
                plan.contains("USING INDEX entries_lifecycle (workflow_name=? AND event_type=?)"),
                "expected entries_lifecycle in the plan of {query}: {plan}"
            );
            assert!(
                !plan.contains("TEMP B-TREE"),
                "no sort expected for {query}: {plan}"
            );
        }
        // A run's entries: its spans by primary key, then rowid ranges.
        for query in [sql::BY_WORKFLOW_ID, sql::RUN_END] {
            let plan = plan(&conn, query);
            assert!(
                plan.contains("SEARCH s USING PRIMARY KEY (workflow_id=?)"),
                "{query}: {plan}"
            );
            assert!(
                plan.contains("SEARCH entries USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)"),
                "{query}: {plan}"
            );
        }
        // Percentiles: rowid ranges of the one-integer keys, and the
        // primary key of the rows that do not fit them.
        let durations = plan(&conn, sql::DURATIONS_IN_BUCKET);
        assert!(
            durations
                .contains("SEARCH step_durations USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)")
                && durations.contains("SEARCH step_duration_counts USING PRIMARY KEY"),
            "{durations}"
        );
        assert!(!durations.contains("TEMP B-TREE"), "{durations}");
        let histograms = plan(&conn, sql::STEP_HISTOGRAMS);
        assert!(
            histograms.contains("SEARCH b USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)"),
            "{histograms}"
        );
        // `recent` walks the table backwards by rowid.
        let recent = plan(&conn, sql::RECENT);
        assert!(
            recent.starts_with("SCAN entries") && !recent.contains("TEMP B-TREE"),
            "{recent}"
        );
    }
}
