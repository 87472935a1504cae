//! `WorkflowJournal`: the observer that writes runs into a store.
