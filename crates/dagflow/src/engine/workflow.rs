//! The async engine: `Workflow`.
