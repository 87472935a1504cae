//! Helpers shared by the `workflow_*` integration tests.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use dagflow::event::{Observer, ObserverError, WorkflowEvent};

/// A log of what tasks did, with a global sequence number per entry so that
/// "x happened before y" can be asserted across threads.
/// One log line: sequence number, task, what happened.
type Entry = (usize, String, &'static str);

#[derive(Default, Clone)]
pub struct Log {
    seq: Arc<AtomicUsize>,
    entries: Arc<Mutex<Vec<Entry>>>,
}

impl Log {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `what` ("start", "end", ...) for `task`; returns its number.
    pub fn record(&self, task: &str, what: &'static str) -> usize {
        let mut entries = self.entries.lock().unwrap();
        let n = self.seq.fetch_add(1, Ordering::SeqCst);
        entries.push((n, task.to_string(), what));
        n
    }

    /// The sequence number of the first `what` of `task`.
    pub fn at(&self, task: &str, what: &str) -> usize {
        self.entries
            .lock()
            .unwrap()
            .iter()
            .find(|(_, t, w)| t == task && *w == what)
            .map(|(n, _, _)| *n)
            .unwrap_or_else(|| panic!("no `{what}` recorded for `{task}`"))
    }

    pub fn has(&self, task: &str, what: &str) -> bool {
        self.entries
            .lock()
            .unwrap()
            .iter()
            .any(|(_, t, w)| t == task && *w == what)
    }

    /// Tasks in the order of their `what` entries.
    pub fn order(&self, what: &str) -> Vec<String> {
        self.entries
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, _, w)| *w == what)
            .map(|(_, t, _)| t.clone())
            .collect()
    }

    pub fn count(&self, task: &str, what: &str) -> usize {
        self.entries
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, t, w)| t == task && *w == what)
            .count()
    }
}

/// An observer that keeps every event.
#[derive(Default)]
pub struct Collect(pub Mutex<Vec<WorkflowEvent>>);

impl Collect {
    pub fn events(&self) -> Vec<WorkflowEvent> {
        self.0.lock().unwrap().clone()
    }

    /// `kind` or `kind:task` per event, e.g. `task_started:a`.
    pub fn kinds(&self) -> Vec<String> {
        self.events()
            .iter()
            .map(|e| match e.task() {
                Some(t) => format!("{}:{t}", e.kind()),
                None => e.kind().to_string(),
            })
            .collect()
    }
}

impl Observer for Collect {
    fn on_event(&self, event: &WorkflowEvent) -> Result<(), ObserverError> {
        self.0.lock().unwrap().push(event.clone());
        Ok(())
    }
}
