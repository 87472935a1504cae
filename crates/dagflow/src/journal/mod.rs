//! The journal: a structured record of every run, written while it happens.
//!
//! [`JournalEntry`] is one record; a [`JournalStore`] keeps them.

mod entry;
mod store;

pub use entry::{
    duration_ms_to_us, ms_to_system_time, system_time_to_ms, EntryStatus, EventType, JournalEntry,
};
pub use store::{
    nearest_rank_index, JournalStore, QueryFilter, RunRecord, StepTotals, StoreError,
    WorkflowTotals,
};

// In-memory store and the observer that journals runs.
mod memory;
mod recorder;
