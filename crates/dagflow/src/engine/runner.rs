//! The sync engine: `WorkflowRunner`.
