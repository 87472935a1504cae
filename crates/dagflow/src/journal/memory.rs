//! The in-memory `JournalStore`.
