//! Run spans: where each run's entries are in the journal.
//!
//! Instead of an index entry per journal entry, each write transaction
//! records, per run it touched, the range of entry ids holding that run's
//! entries (`run_spans`). Entries of one run written close together share a
//! span; when more than [`MAX_SPAN_GAP`] ids separate two of them a new span
//! starts. Reading a run therefore scans its entries plus the foreign
//! entries interleaved with them, never more than [`MAX_SPAN_GAP`] in a row.

use std::sync::LazyLock;

use rusqlite::{params, Connection, OptionalExtension};

use crate::batch::RunMarks;
use crate::multirow::Template;

/// `OR FAIL` for the reason given at the writer's entry insert.
static INSERT_SPANS: LazyLock<Template> = LazyLock::new(|| {
    Template::new(
        "INSERT OR FAIL INTO run_spans (workflow_id, first_id, last_id)",
        3,
        "",
    )
});

/// The largest id gap a span bridges.
pub(crate) const MAX_SPAN_GAP: i64 = 4096;

/// Writes the spans of one append whose first entry has id `base_id`,
/// extending each run's latest stored span when the gap allows. Call inside
/// the transaction that inserted the entries.
pub(crate) fn apply(
    conn: &Connection,
    runs: &[(String, RunMarks)],
    base_id: i64,
) -> rusqlite::Result<()> {
    let mut latest = conn.prepare_cached(
        "SELECT first_id, last_id FROM run_spans WHERE workflow_id = ?1
         ORDER BY first_id DESC LIMIT 1",
    )?;
    let mut extend = conn.prepare_cached(
        "UPDATE run_spans SET last_id = ?3 WHERE workflow_id = ?1 AND first_id = ?2",
    )?;
    let mut new_spans: Vec<(&str, i64, i64)> = Vec::new();
    for (run, marks) in runs {
        let Some(&(first, last)) = marks.spans.first() else {
            continue;
        };
        let (first, last) = (base_id + first, base_id + last);
        // A run whose first entry here is its start has no stored span to
        // extend (a run id journaled twice just gets a second span).
        let stored: Option<(i64, i64)> = if marks.starts_here {
            None
        } else {
            latest
                .query_row([run], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?
        };
        match stored {
            Some((stored_first, stored_last)) if first - stored_last <= MAX_SPAN_GAP => {
                extend.execute(params![run, stored_first, last])?;
            }
            _ => new_spans.push((run, first, last)),
        }
        for &(first, last) in &marks.spans[1..] {
            new_spans.push((run, base_id + first, base_id + last));
        }
    }
    INSERT_SPANS.execute(conn, &new_spans, |stmt, p, (run, first, last)| {
        stmt.raw_bind_parameter(p, run)?;
        stmt.raw_bind_parameter(p + 1, first)?;
        stmt.raw_bind_parameter(p + 2, last)
    })
}
