//! Execution: the async [`Workflow`](workflow::Workflow) engine and the sync
//! [`WorkflowRunner`](runner::WorkflowRunner).

pub(crate) mod clock;
pub mod runner;
pub mod workflow;

use std::sync::Arc;

/// A fresh run id: a random (v4) UUID in its hyphenated form, written
/// straight into the shared string.
pub(crate) fn new_run_id() -> Arc<str> {
    let mut buffer = uuid::Uuid::encode_buffer();
    Arc::from(&*uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buffer))
}

#[cfg(test)]
mod tests {
    #[test]
    fn run_ids_are_distinct_hyphenated_v4_uuids() {
        let ids: Vec<_> = (0..100).map(|_| super::new_run_id()).collect();
        for id in &ids {
            let parsed = uuid::Uuid::parse_str(id).unwrap();
            assert_eq!(parsed.get_version_num(), 4, "{id}");
            assert_eq!(&**id, parsed.hyphenated().to_string(), "{id}");
        }
        let distinct: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
    }
}
