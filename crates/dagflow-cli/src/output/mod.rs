//! Formatting for people and programs: tables, live progress, run reports,
//! graph pictures.

pub mod graph;
pub mod progress;
pub mod report;
pub mod table;

use serde::Serialize;

/// Prints `value` as pretty JSON on stdout.
pub fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    println!("{text}");
    Ok(())
}
