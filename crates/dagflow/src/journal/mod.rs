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

// In-memory store, the observer that journals runs, definitions and their
// fingerprints, and the synthetic benchmark history.
mod definition;
mod fingerprint;
mod memory;
mod recorder;
pub mod synthetic;

pub use definition::{journaled_definition, take_definition, DetailsJson, JournaledTask};
pub use fingerprint::{
    fingerprint, start_details, task_hash, DefinitionFingerprint, TaskFingerprint,
};
pub use memory::MemoryStore;
pub use recorder::WorkflowJournal;

// Resume planning: which steps of an earlier run keep their results.
pub mod resume;
pub use resume::{DefinitionChange, ResumeError, ResumePlan};
