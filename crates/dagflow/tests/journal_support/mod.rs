//! Helpers shared by the `journal*` integration tests.
#![allow(dead_code)]

use dagflow::journal::{EntryStatus, EventType, JournalEntry};

/// Each entry's kind, step and status, for comparing whole journals.
pub fn shape(entries: &[JournalEntry]) -> Vec<(EventType, Option<String>, EntryStatus)> {
    entries
        .iter()
        .map(|e| {
            (
                e.event_type,
                e.step_name.as_deref().map(String::from),
                e.status,
            )
        })
        .collect()
}

/// A step name as `shape` lists it.
pub fn step(name: &str) -> Option<String> {
    Some(name.to_string())
}
