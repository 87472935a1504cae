//! Run spans: where each run's entries are in the journal.
//!
//! Instead of an index entry per journal entry, each write transaction
//! records, per run it touched, the range of entry ids holding that run's
//! entries (`run_spans`). Entries of one run written close together share a
//! span; when more than [`MAX_SPAN_GAP`] ids separate two of them a new span
//! starts, so reading a run scans at most that many foreign entries per
//! span boundary plus the entries interleaved within its spans.

use std::collections::{HashMap, HashSet};

use rusqlite::{params, Connection, OptionalExtension};

/// The largest id gap a span bridges.
pub(crate) const MAX_SPAN_GAP: i64 = 4096;

/// The spans of the runs one transaction writes, built entry by entry.
#[derive(Debug, Default)]
pub(crate) struct SpanBatch<'a> {
    runs: HashMap<&'a str, Vec<(i64, i64)>>,
    /// Runs whose first entry here is their start: they have no stored
    /// span to extend, so no lookup is needed.
    started_here: HashSet<&'a str>,
    /// The run of the previous entry and its last span, to skip the hash
    /// lookup for consecutive entries of one run.
    last: Option<(&'a str, i64)>,
}

impl<'a> SpanBatch<'a> {
    /// Notes that entry `id` (ids increase within a transaction) belongs
    /// to `run`; `is_start` when it is the run's `WorkflowStart`.
    pub(crate) fn add(&mut self, run: &'a str, id: i64, is_start: bool) {
        if let Some((last_run, last_id)) = self.last {
            if last_run == run && id - last_id <= MAX_SPAN_GAP {
                if let Some(span) = self.runs.get_mut(run).and_then(|s| s.last_mut()) {
                    span.1 = id;
                    self.last = Some((run, id));
                    return;
                }
            }
        }
        let spans = self.runs.entry(run).or_default();
        if spans.is_empty() && is_start {
            self.started_here.insert(run);
        }
        match spans.last_mut() {
            Some(span) if id - span.1 <= MAX_SPAN_GAP => span.1 = id,
            _ => spans.push((id, id)),
        }
        self.last = Some((run, id));
    }

    /// Writes the spans, extending each run's latest stored span when the
    /// gap allows. Call inside the transaction that inserted the entries.
    pub(crate) fn apply(&self, conn: &Connection) -> rusqlite::Result<()> {
        let mut latest = conn.prepare_cached(
            "SELECT first_id, last_id FROM run_spans WHERE workflow_id = ?1
             ORDER BY first_id DESC LIMIT 1",
        )?;
        let mut extend = conn.prepare_cached(
            "UPDATE run_spans SET last_id = ?3 WHERE workflow_id = ?1 AND first_id = ?2",
        )?;
        let mut insert = conn.prepare_cached(
            "INSERT INTO run_spans (workflow_id, first_id, last_id) VALUES (?1, ?2, ?3)",
        )?;
        for (run, spans) in &self.runs {
            let Some(&(first, last)) = spans.first() else {
                continue;
            };
            // A run id journaled twice gets a second span, which is fine:
            // spans only need to cover a run's entries.
            let stored: Option<(i64, i64)> = if self.started_here.contains(run) {
                None
            } else {
                latest
                    .query_row([run], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?
            };
            let rest = match stored {
                Some((stored_first, stored_last)) if first - stored_last <= MAX_SPAN_GAP => {
                    extend.execute(params![run, stored_first, last])?;
                    &spans[1..]
                }
                _ => &spans[..],
            };
            for (first, last) in rest {
                insert.execute(params![run, first, last])?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_close_together_share_a_span_and_far_ones_start_a_new_one() {
        let mut batch = SpanBatch::default();
        batch.add("a", 1, true);
        batch.add("a", 2, false);
        batch.add("b", 3, false);
        batch.add("a", 4, false);
        batch.add("a", 4 + MAX_SPAN_GAP + 1, false);
        assert_eq!(
            batch.runs["a"],
            [(1, 4), (4 + MAX_SPAN_GAP + 1, 4 + MAX_SPAN_GAP + 1)]
        );
        assert_eq!(batch.runs["b"], [(3, 3)]);
        assert!(batch.started_here.contains("a") && !batch.started_here.contains("b"));
    }
}
