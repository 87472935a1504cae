//! Reusable workflow templates: `WorkflowTemplate` and the built-ins.
