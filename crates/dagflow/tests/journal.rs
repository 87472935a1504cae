//! Behaviour of `WorkflowJournal`, `MemoryStore` and definition fingerprints.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use dagflow::journal::{
    fingerprint, journaled_definition, EntryStatus, EventType, JournalEntry, JournalStore,
    MemoryStore, QueryFilter, RunRecord, StepTotals, StoreError, WorkflowJournal, WorkflowTotals,
};
use dagflow::{WorkflowContext, WorkflowResult, WorkflowRunner, WorkflowStep};
use serde_json::{json, Value};

mod journal_support;
use journal_support::{shape, step};

/// build -> test -> deploy, where `test` fails when `fail_test` is set.
fn pipeline(fail_test: bool) -> WorkflowRunner {
    let mut runner = WorkflowRunner::new("pipeline");
    runner
        .add_step(
            WorkflowStep::new("build")
                .definition("make")
                .action(|_: &mut WorkflowContext| Ok::<_, String>(json!({"artifact": "app"}))),
        )
        .unwrap()
        .add_step(WorkflowStep::new("test").depends_on(["build"]).action(
            move |_: &mut WorkflowContext| {
                if fail_test {
                    Err("2 tests failed".to_string())
                } else {
                    Ok(json!(true))
                }
            },
        ))
        .unwrap()
        .add_step(WorkflowStep::new("deploy").depends_on(["test"]))
        .unwrap();
    runner
}

fn attached(runner: &mut WorkflowRunner) -> WorkflowJournal {
    let journal = WorkflowJournal::in_memory();
    runner.observe(Arc::new(journal.clone()));
    journal
}

#[test]
fn observed_run_journals_start_each_step_and_completion() {
    let mut runner = pipeline(false);
    let journal = attached(&mut runner);
    let result = runner.run(WorkflowContext::new()).unwrap();

    let entries = journal.by_workflow_id(&result.workflow_id).unwrap();
    assert_eq!(
        shape(&entries),
        [
            (EventType::WorkflowStart, None, EntryStatus::Started),
            (
                EventType::StepComplete,
                step("build"),
                EntryStatus::Completed
            ),
            (
                EventType::StepComplete,
                step("test"),
                EntryStatus::Completed
            ),
            (
                EventType::StepComplete,
                step("deploy"),
                EntryStatus::Completed
            ),
            (EventType::WorkflowComplete, None, EntryStatus::Completed),
        ]
    );
    assert!(entries.iter().all(|e| &*e.workflow_name == "pipeline"));
    assert_eq!(entries[1].result, Some(json!({"artifact": "app"})));
    assert_eq!(entries[1].attempt, 1);
    assert_eq!(entries[3].result, Some(Value::Null));
    let definition = entries[0]
        .definition
        .as_deref()
        .expect("the run's definition");
    assert_eq!(*definition, runner.definition().unwrap());
    assert_eq!(
        serde_json::to_value(definition).unwrap(),
        json!({
            "tasks": ["build", "test", "deploy"],
            "depends_on": [[], [0], [1]],
            "definitions": ["make", null, null],
        })
    );
    let tasks = journaled_definition(&entries[0]).unwrap();
    let start = &entries[0].details;
    assert_eq!(tasks[2].depends_on, ["test"]);
    assert_eq!(tasks[0].definition.as_deref(), Some("make"));
    assert_eq!(start["resumed_from"], Value::Null);
    let expected = fingerprint(&runner.definition().unwrap()).to_hex();
    assert_eq!(start["fingerprint"], json!(expected));
    let end = &entries[4];
    assert!(end.duration_ms >= entries[1..4].iter().map(|e| e.duration_ms).sum::<f64>());
    assert_eq!(end.details["counts"]["completed"], json!(3));
    assert!(journal.take_errors().is_empty());
}

#[test]
fn failed_run_journals_the_error_and_the_skip_reason() {
    let mut runner = pipeline(true);
    let journal = attached(&mut runner);
    let result = runner.run(WorkflowContext::new()).unwrap();
    let entries = journal.by_workflow_id(&result.workflow_id).unwrap();
    assert_eq!(
        shape(&entries)[2..],
        [
            (EventType::StepComplete, step("test"), EntryStatus::Failed),
            (
                EventType::StepComplete,
                step("deploy"),
                EntryStatus::Skipped
            ),
            (EventType::WorkflowComplete, None, EntryStatus::Failed),
        ]
    );
    assert_eq!(entries[2].error.as_deref(), Some("2 tests failed"));
    assert_eq!(entries[2].attempt, 1);
    assert_eq!(entries[3].error.as_deref(), Some("dependency failed"));
    assert_eq!(entries[3].attempt, 0);
    assert_eq!(entries[3].duration_ms, 0.0);
}

#[test]
fn each_run_adds_one_start_n_steps_and_one_completion() {
    let mut runner = pipeline(false);
    let journal = attached(&mut runner);
    let first = runner.run(WorkflowContext::new()).unwrap();
    let second = runner.run(WorkflowContext::new()).unwrap();

    assert_eq!(journal.entry_count().unwrap(), 2 * (1 + 3 + 1));
    assert_eq!(journal.by_workflow_id(&first.workflow_id).unwrap().len(), 5);
    let starts = journal.by_event_type(EventType::WorkflowStart).unwrap();
    let ids: Vec<&str> = starts.iter().map(|e| &*e.workflow_id).collect();
    assert_eq!(
        ids,
        [first.workflow_id.as_str(), second.workflow_id.as_str()]
    );
    assert_eq!(
        journal
            .by_event_type(EventType::StepComplete)
            .unwrap()
            .len(),
        6
    );
    assert!(journal
        .by_event_type(EventType::StepRetry)
        .unwrap()
        .is_empty());

    let recent = journal.recent(2).unwrap();
    assert_eq!(
        shape(&recent),
        [
            (
                EventType::StepComplete,
                step("deploy"),
                EntryStatus::Completed
            ),
            (EventType::WorkflowComplete, None, EntryStatus::Completed),
        ]
    );
    assert!(recent.iter().all(|e| *e.workflow_id == *second.workflow_id));
    assert_eq!(journal.recent(100).unwrap().len(), 10);

    journal.clear().unwrap();
    assert_eq!(journal.entry_count().unwrap(), 0);
    assert!(journal.recent(5).unwrap().is_empty());
}

#[test]
fn manual_recording_matches_what_the_observer_records() {
    let runner = pipeline(true);
    let result = runner.run(WorkflowContext::new()).unwrap();

    let by_hand = WorkflowJournal::in_memory();
    by_hand
        .on_workflow_start(&runner, &result.workflow_id)
        .unwrap();
    for step in result.steps() {
        by_hand
            .on_step_complete(&result.workflow_id, &step)
            .unwrap();
    }
    by_hand.on_workflow_complete(&result).unwrap();

    let in_one_call = WorkflowJournal::in_memory();
    in_one_call.record_full_workflow(&runner, &result).unwrap();

    let mut observed_runner = pipeline(true);
    let observed = attached(&mut observed_runner);
    let observed_result = observed_runner.run(WorkflowContext::new()).unwrap();

    let observed_entries = observed
        .by_workflow_id(&observed_result.workflow_id)
        .unwrap();
    for journal in [&by_hand, &in_one_call] {
        let entries = journal.by_workflow_id(&result.workflow_id).unwrap();
        assert_eq!(shape(&entries), shape(&observed_entries));
        assert!(entries.iter().all(|e| &*e.workflow_name == "pipeline"));
        assert_eq!(
            entries[0].details["fingerprint"],
            observed_entries[0].details["fingerprint"]
        );
        assert_eq!(entries[0].definition, observed_entries[0].definition);
        assert!(entries[0].definition.is_some());
        let errors: Vec<_> = entries.iter().map(|e| e.error.clone()).collect();
        let observed_errors: Vec<_> = observed_entries.iter().map(|e| e.error.clone()).collect();
        assert_eq!(errors, observed_errors);
    }
    let full = in_one_call.by_workflow_id(&result.workflow_id).unwrap();
    assert_eq!(full[0].timestamp, result.started_at);
    assert!(full.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));
}

/// A real store whose writes always fail, like a full disk.
#[derive(Default)]
struct FullDisk {
    attempts: AtomicUsize,
}

impl JournalStore for FullDisk {
    fn append(&self, entries: &[JournalEntry]) -> Result<(), StoreError> {
        self.attempts.fetch_add(entries.len(), Ordering::SeqCst);
        Err(StoreError::backend(
            "appending to /var/journal.db",
            std::io::Error::other("no space left on device"),
        ))
    }
    fn entry_count(&self) -> Result<u64, StoreError> {
        Ok(0)
    }
    fn by_workflow_id(&self, _: &str) -> Result<Vec<JournalEntry>, StoreError> {
        Ok(Vec::new())
    }
    fn by_event_type(&self, _: EventType) -> Result<Vec<JournalEntry>, StoreError> {
        Ok(Vec::new())
    }
    fn recent(&self, _: usize) -> Result<Vec<JournalEntry>, StoreError> {
        Ok(Vec::new())
    }
    fn clear(&self) -> Result<(), StoreError> {
        Ok(())
    }
    fn workflow_totals(&self, _: &QueryFilter) -> Result<WorkflowTotals, StoreError> {
        Ok(WorkflowTotals::default())
    }
    fn step_totals(&self, _: &QueryFilter) -> Result<Vec<StepTotals>, StoreError> {
        Ok(Vec::new())
    }
    fn workflow_durations(
        &self,
        _: &QueryFilter,
        _: Option<usize>,
    ) -> Result<Vec<f64>, StoreError> {
        Ok(Vec::new())
    }
    fn runs(&self, _: &QueryFilter, _: usize) -> Result<Vec<RunRecord>, StoreError> {
        Ok(Vec::new())
    }
}

#[test]
fn store_failures_surface_in_the_result_and_the_journal() {
    let store = Arc::new(FullDisk::default());
    let journal = WorkflowJournal::new(store.clone());
    let mut runner = pipeline(false);
    runner.observe(Arc::new(journal.clone()));
    let result = runner.run(WorkflowContext::new()).unwrap();

    assert!(result.success, "a journal failure does not fail the run");
    assert_eq!(store.attempts.load(Ordering::SeqCst), 5);
    assert_eq!(result.observer_errors.len(), 5);
    assert!(
        result.observer_errors[1].contains("task_completed of task `build`"),
        "{}",
        result.observer_errors[1]
    );
    assert!(result.observer_errors[1].contains("no space left on device"));
    let last = journal.last_error().expect("a kept error");
    assert!(last.contains("appending to /var/journal.db"), "{last}");
    let errors = journal.take_errors();
    assert_eq!(errors.len(), 5);
    assert!(matches!(errors[0], StoreError::Backend { .. }));
    assert!(journal.take_errors().is_empty());
    assert!(journal.last_error().is_none());

    let manual = journal.on_workflow_complete(&result);
    assert!(matches!(manual, Err(StoreError::Backend { .. })));
}

/// The pipeline with `edit` applied to each of its steps.
fn edited(edit: impl Fn(&mut WorkflowStep)) -> WorkflowRunner {
    let mut runner = WorkflowRunner::new("pipeline");
    for step in pipeline(false).steps() {
        let mut step = step.to_step();
        edit(&mut step);
        runner.add_step(step).unwrap();
    }
    runner
}

#[test]
fn fingerprint_is_stable_and_detects_changes() {
    let base = fingerprint(&pipeline(false).definition().unwrap());
    assert_eq!(
        base,
        fingerprint(&pipeline(true).definition().unwrap()),
        "actions are closures and do not count; names, dependencies and definitions do"
    );

    let changed_command = edited(|step| {
        if step.name == "build" {
            step.definition = Some("make -j4".into());
        }
    });
    let after_command = fingerprint(&changed_command.definition().unwrap());
    assert_ne!(base.hash, after_command.hash);
    assert_ne!(base.task("build"), after_command.task("build"));
    assert_eq!(base.task("test"), after_command.task("test"));

    let extra_dependency = edited(|step| {
        if step.name == "deploy" {
            step.depends_on.push("build".into());
        }
    });
    let after_dependency = fingerprint(&extra_dependency.definition().unwrap());
    assert_ne!(base.hash, after_dependency.hash);
    assert_ne!(base.task("deploy"), after_dependency.task("deploy"));
    assert_eq!(base.task("build"), after_dependency.task("build"));

    let mut added = pipeline(false);
    added.add_step(WorkflowStep::new("notify")).unwrap();
    let after_add = fingerprint(&added.definition().unwrap());
    assert_ne!(base.hash, after_add.hash);
    assert_eq!(after_add.tasks.len(), 4);
}

fn entry(id: &str, name: &str, kind: EventType, status: EntryStatus, ms: f64) -> JournalEntry {
    let mut e = JournalEntry::new(id, name, kind, None, status, SystemTime::UNIX_EPOCH);
    e.timestamp += Duration::from_secs(1);
    e.duration_ms = ms;
    e
}

#[test]
fn memory_store_lists_runs_newest_first_with_their_final_state() {
    let store = MemoryStore::new();
    let mut resumed = entry(
        "r3",
        "etl",
        EventType::WorkflowStart,
        EntryStatus::Started,
        0.0,
    );
    resumed.details.insert("resumed_from".into(), json!("r1"));
    store
        .append(&[
            entry(
                "r1",
                "etl",
                EventType::WorkflowStart,
                EntryStatus::Started,
                0.0,
            ),
            entry(
                "r2",
                "ci",
                EventType::WorkflowStart,
                EntryStatus::Started,
                0.0,
            ),
            entry(
                "r1",
                "etl",
                EventType::WorkflowComplete,
                EntryStatus::Failed,
                12.3456,
            ),
            resumed,
        ])
        .unwrap();
    let runs = store.runs(&QueryFilter::all(), 10).unwrap();
    let ids: Vec<&str> = runs.iter().map(|r| r.workflow_id.as_str()).collect();
    assert_eq!(ids, ["r3", "r2", "r1"]);
    assert_eq!(runs[0].resumed_from.as_deref(), Some("r1"));
    assert_eq!(runs[0].status, EntryStatus::Started);
    assert_eq!(runs[0].duration_ms, None);
    assert_eq!(runs[2].status, EntryStatus::Failed);
    // Durations come back as whole microseconds, as every store returns them.
    assert_eq!(runs[2].duration_ms, Some(12.346));
    assert_eq!(runs[0].started_ms, 1000);

    let etl = store.runs(&QueryFilter::workflow("etl"), 1).unwrap();
    assert_eq!(etl.len(), 1);
    assert_eq!(etl[0].workflow_id, "r3");
}

#[test]
fn journal_attached_to_a_result_keeps_the_run_result_consistent() {
    // The journal's figures agree with the result the runner returned.
    let mut runner = pipeline(true);
    let journal = attached(&mut runner);
    let result: WorkflowResult = runner.run(WorkflowContext::new()).unwrap();
    let totals = journal
        .store()
        .workflow_totals(&QueryFilter::all())
        .unwrap();
    assert_eq!(totals.finished, 1);
    assert_eq!(totals.succeeded, 0);
    assert_eq!(totals.total_steps as usize, result.step_count());
    let steps = journal.store().step_totals(&QueryFilter::all()).unwrap();
    let names: Vec<&str> = steps.iter().map(|s| s.step_name.as_str()).collect();
    assert_eq!(names, ["build", "deploy", "test"], "sorted by step name");
    assert_eq!(steps[2].failed, 1);
    assert_eq!(steps[1].skipped, 1);
}

#[test]
fn memory_store_queries_keep_journal_order_across_its_internal_chunks() {
    use dagflow::journal::synthetic;
    let all: Vec<JournalEntry> = synthetic::history(1_000).collect();
    let store = MemoryStore::new();
    // One by one, as the journal appends while runs happen.
    for entry in all.iter().cloned() {
        store.append_entry(entry).unwrap();
    }
    assert_eq!(store.entry_count().unwrap(), 6_000);
    assert_eq!(store.recent(10).unwrap(), all[5_990..]);
    assert_eq!(store.entries().unwrap(), all);
    // Workflow 682 occupies entries 4092..4098, across the 4096 boundary.
    let run = store.by_workflow_id("wf-000002aa").unwrap();
    assert_eq!(run, all[4_092..4_098]);
    let completions = store.by_event_type(EventType::WorkflowComplete).unwrap();
    assert_eq!(completions.len(), 1_000);
    assert_eq!(completions[999], all[5_999]);
    let last_three = store
        .workflow_durations(&QueryFilter::all(), Some(3))
        .unwrap();
    let expected: Vec<f64> = [
        all[5_987].duration_ms,
        all[5_993].duration_ms,
        all[5_999].duration_ms,
    ]
    .iter()
    .map(|ms| (ms * 1000.0).round() / 1000.0)
    .collect();
    assert_eq!(last_three, expected);
}

/// A store that keeps its entries in a `MemoryStore` and leaves
/// `workflow_names` to the trait's default.
struct NamesByDefault(MemoryStore);

impl JournalStore for NamesByDefault {
    fn append(&self, entries: &[JournalEntry]) -> Result<(), StoreError> {
        self.0.append(entries)
    }
    fn entry_count(&self) -> Result<u64, StoreError> {
        self.0.entry_count()
    }
    fn by_workflow_id(&self, id: &str) -> Result<Vec<JournalEntry>, StoreError> {
        self.0.by_workflow_id(id)
    }
    fn by_event_type(&self, event_type: EventType) -> Result<Vec<JournalEntry>, StoreError> {
        self.0.by_event_type(event_type)
    }
    fn recent(&self, n: usize) -> Result<Vec<JournalEntry>, StoreError> {
        self.0.recent(n)
    }
    fn clear(&self) -> Result<(), StoreError> {
        self.0.clear()
    }
    fn workflow_totals(&self, filter: &QueryFilter) -> Result<WorkflowTotals, StoreError> {
        self.0.workflow_totals(filter)
    }
    fn step_totals(&self, filter: &QueryFilter) -> Result<Vec<StepTotals>, StoreError> {
        self.0.step_totals(filter)
    }
    fn workflow_durations(
        &self,
        filter: &QueryFilter,
        last: Option<usize>,
    ) -> Result<Vec<f64>, StoreError> {
        self.0.workflow_durations(filter, last)
    }
    fn runs(&self, filter: &QueryFilter, limit: usize) -> Result<Vec<RunRecord>, StoreError> {
        self.0.runs(filter, limit)
    }
}

#[test]
fn workflow_names_are_sorted_and_listed_once() {
    let memory = MemoryStore::new();
    let by_default = NamesByDefault(MemoryStore::new());
    assert!(memory.workflow_names().unwrap().is_empty());
    assert!(by_default.workflow_names().unwrap().is_empty());
    let names = ["release", "ci", "release", "ci", "ci"];
    for (i, name) in names.into_iter().enumerate() {
        let run = format!("run-{i}");
        let entries = [
            JournalEntry::new(
                run.as_str(),
                name,
                EventType::WorkflowStart,
                None,
                EntryStatus::Started,
                SystemTime::UNIX_EPOCH,
            ),
            JournalEntry::new(
                run.as_str(),
                name,
                EventType::StepComplete,
                Some("build".into()),
                EntryStatus::Completed,
                SystemTime::UNIX_EPOCH,
            ),
        ];
        memory.append(&entries).unwrap();
        by_default.append(&entries).unwrap();
    }
    assert_eq!(memory.workflow_names().unwrap(), ["ci", "release"]);
    assert_eq!(by_default.workflow_names().unwrap(), ["ci", "release"]);
}
