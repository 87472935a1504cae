//! Multi-row statements: `INSERT ... VALUES (...), (...), ...`.
//!
//! Executing a statement from Rust costs a round of binding, stepping and
//! resetting; inserting 32 rows per statement shares that cost, which
//! matters on the write path where entries, spans and duration counts are
//! written by the thousand per transaction.

use rusqlite::{CachedStatement, Connection};

/// Rows per full statement.
pub(crate) const ROWS_PER_STATEMENT: usize = 32;

/// The text of one multi-row statement, for full blocks and for the
/// remaining single rows.
#[derive(Debug)]
pub(crate) struct Template {
    many: String,
    one: String,
    columns: usize,
}

impl Template {
    /// `head VALUES (?, ...), ... tail` with `columns` parameters per row.
    pub(crate) fn new(head: &str, columns: usize, tail: &str) -> Template {
        let row = format!("({})", vec!["?"; columns].join(", "));
        let rows = |n: usize| vec![row.as_str(); n].join(", ");
        Template {
            many: format!("{head} VALUES {} {tail}", rows(ROWS_PER_STATEMENT)),
            one: format!("{head} VALUES {} {tail}", rows(1)),
            columns,
        }
    }

    /// Executes the statement for every row of `rows`; `bind` binds one
    /// row's values from the given 1-based parameter index on.
    pub(crate) fn execute<R>(
        &self,
        conn: &Connection,
        rows: &[R],
        mut bind: impl FnMut(&mut CachedStatement<'_>, usize, &R) -> rusqlite::Result<()>,
    ) -> rusqlite::Result<()> {
        let mut blocks = rows.chunks_exact(ROWS_PER_STATEMENT);
        if rows.len() >= ROWS_PER_STATEMENT {
            let mut stmt = conn.prepare_cached(&self.many)?;
            for block in &mut blocks {
                for (i, row) in block.iter().enumerate() {
                    bind(&mut stmt, 1 + i * self.columns, row)?;
                }
                stmt.raw_execute()?;
            }
        }
        let rest = blocks.remainder();
        if !rest.is_empty() {
            let mut stmt = conn.prepare_cached(&self.one)?;
            for row in rest {
                bind(&mut stmt, 1, row)?;
                stmt.raw_execute()?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_is_written_whatever_the_count() {
        let conn = Connection::open_in_memory().expect("in-memory database");
        conn.execute_batch("CREATE TABLE t (a INTEGER PRIMARY KEY, b INTEGER)")
            .expect("table");
        let template = Template::new("INSERT INTO t (a, b)", 2, "");
        let rows: Vec<(i64, i64)> = (0..(2 * ROWS_PER_STATEMENT as i64 + 5))
            .map(|i| (i, i * i))
            .collect();
        template
            .execute(&conn, &rows, |stmt, p, &(a, b)| {
                stmt.raw_bind_parameter(p, a)?;
                stmt.raw_bind_parameter(p + 1, b)
            })
            .expect("insert");
        let (count, sum): (i64, i64) = conn
            .query_row("SELECT count(*), sum(b) FROM t", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .expect("query");
        assert_eq!(count, rows.len() as i64);
        assert_eq!(sum, rows.iter().map(|(_, b)| b).sum::<i64>());
    }
}
