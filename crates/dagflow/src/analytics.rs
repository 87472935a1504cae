//! Analytics over a journal: `WorkflowAnalytics`, `WorkflowInsight`.
