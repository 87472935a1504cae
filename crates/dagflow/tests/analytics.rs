//! Behaviour of `WorkflowAnalytics` over the synthetic history of
//! WORKLOADS.md, checked against figures computed here from the raw entries.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use dagflow::analytics::{WorkflowAnalytics, WorkflowInsight};
use dagflow::journal::{
    synthetic, EntryStatus, EventType, JournalEntry, JournalStore, MemoryStore, QueryFilter,
    WorkflowJournal,
};

const WORKFLOWS: usize = 5_000;

/// Figures computed directly from the entries, without the store.
#[derive(Default)]
struct Expected {
    finished: u64,
    succeeded: u64,
    durations_ms: Vec<f64>,
    failed: BTreeMap<String, u64>,
    completed: BTreeMap<String, u64>,
    outcomes: BTreeMap<String, u64>,
    completed_us: BTreeMap<String, Vec<i64>>,
}

fn expected(entries: &[JournalEntry]) -> Expected {
    let mut x = Expected::default();
    for e in entries {
        match e.event_type {
            EventType::WorkflowComplete => {
                x.finished += 1;
                x.succeeded += u64::from(e.status == EntryStatus::Completed);
                x.durations_ms.push(e.duration_ms);
            }
            EventType::StepComplete => {
                let name = e.step_name.as_deref().unwrap().to_string();
                *x.outcomes.entry(name.clone()).or_default() += 1;
                match e.status {
                    EntryStatus::Failed => *x.failed.entry(name).or_default() += 1,
                    EntryStatus::Completed => {
                        *x.completed.entry(name.clone()).or_default() += 1;
                        x.completed_us
                            .entry(name)
                            .or_default()
                            .push((e.duration_ms * 1000.0).round() as i64);
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    x
}

fn naive_moving_average(values: &[f64], window: usize) -> Vec<f64> {
    if values.is_empty() {
        return Vec::new();
    }
    if values.len() < window {
        return vec![values.iter().sum::<f64>() / values.len() as f64];
    }
    values
        .windows(window)
        .map(|w| w.iter().sum::<f64>() / window as f64)
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(1.0)
}

fn assert_all_close(actual: &[f64], expected: &[f64]) {
    assert_eq!(actual.len(), expected.len());
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(close(*a, *e), "point {i}: {a} != {e}");
    }
}

fn percentile(sorted: &[i64], p: f64) -> f64 {
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.max(1) - 1] as f64 / 1000.0
}

fn history_store() -> (Vec<JournalEntry>, WorkflowAnalytics) {
    let entries: Vec<JournalEntry> = synthetic::history(WORKFLOWS).collect();
    let store = Arc::new(MemoryStore::from_entries(entries.clone()));
    (entries, WorkflowAnalytics::new(store))
}

#[test]
fn insight_over_the_synthetic_history_matches_an_independent_count() {
    let (entries, analytics) = history_store();
    let x = expected(&entries);
    let insight = analytics.generate_insight().unwrap();

    assert_eq!(insight.total_workflows, WORKFLOWS as u64);
    assert_eq!(insight.total_steps, 4 * WORKFLOWS as u64);
    assert!(close(
        insight.overall_success_rate,
        x.succeeded as f64 / x.finished as f64
    ));
    let mean = x.durations_ms.iter().sum::<f64>() / x.finished as f64;
    assert!((insight.mean_duration_ms - mean).abs() < 1e-6);

    let mut hotspots: Vec<(String, u64)> = x.failed.clone().into_iter().collect();
    hotspots.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    assert_eq!(insight.failure_hotspots, hotspots);
    // Step 1 always runs, later steps are skipped after a failure, so it
    // fails most often.
    assert_eq!(insight.failure_hotspots[0].0, "step_1");

    for (name, rate) in &insight.step_success_rates {
        assert!(close(
            *rate,
            x.completed[name] as f64 / x.outcomes[name] as f64
        ));
    }
    assert_eq!(insight.step_success_rates.len(), 4);

    let tail = &x.durations_ms[x.durations_ms.len() - 59..];
    assert_all_close(&insight.duration_trend, &naive_moving_average(tail, 10));
    assert_eq!(insight.duration_trend.len(), 50);

    for (name, durations) in &insight.step_durations {
        let mut sorted = x.completed_us[name].clone();
        sorted.sort_unstable();
        assert_eq!(durations.p50_ms, percentile(&sorted, 0.5), "{name}");
        assert_eq!(durations.p95_ms, percentile(&sorted, 0.95), "{name}");
        assert_eq!(durations.max_ms, *sorted.last().unwrap() as f64 / 1000.0);
        assert_eq!(durations.samples, x.completed[name]);
        assert!(durations.p50_ms <= durations.p95_ms && durations.p95_ms <= 99.9);
    }
    assert!(
        insight.flaky_steps.is_empty(),
        "every synthetic step has one attempt"
    );
    assert_eq!(insight.slowest_steps.len(), 4);
    assert!(insight.slowest_steps.windows(2).all(|w| w[0].1 >= w[1].1));
}

#[test]
fn hotspots_trend_and_rates_agree_with_the_insight() {
    let (entries, analytics) = history_store();
    let x = expected(&entries);
    let insight = analytics.generate_insight().unwrap();

    assert_eq!(
        analytics.failure_hotspots(2).unwrap(),
        insight.failure_hotspots[..2]
    );
    assert_eq!(analytics.failure_hotspots(0).unwrap(), []);
    for (name, rate) in &insight.step_success_rates {
        assert_eq!(analytics.success_rate(name).unwrap(), *rate);
    }
    assert_eq!(analytics.success_rate("no_such_step").unwrap(), 0.0);

    let trend = analytics.duration_trend(10).unwrap();
    assert_eq!(trend.len(), WORKFLOWS - 9);
    assert_all_close(&trend, &naive_moving_average(&x.durations_ms, 10));
    assert_eq!(trend[trend.len() - 50..], insight.duration_trend[..]);
    assert_eq!(analytics.step_durations().unwrap(), insight.step_durations);
    assert_eq!(analytics.slowest_steps(5).unwrap(), insight.slowest_steps);
}

#[test]
fn duration_trend_with_fewer_runs_than_the_window_is_one_mean() {
    let store = Arc::new(MemoryStore::from_entries(synthetic::history(3)));
    let analytics = WorkflowAnalytics::new(store.clone());
    let durations = store.workflow_durations(&QueryFilter::all(), None).unwrap();
    assert_eq!(durations.len(), 3);
    let trend = analytics.duration_trend(10).unwrap();
    assert_eq!(trend.len(), 1);
    assert!(close(trend[0], durations.iter().sum::<f64>() / 3.0));
    assert_eq!(analytics.duration_trend(1).unwrap().len(), 3);
}

#[test]
fn empty_journal_gives_zero_rates_and_empty_lists() {
    let analytics = WorkflowAnalytics::from_journal(&WorkflowJournal::in_memory());
    let insight = analytics.generate_insight().unwrap();
    assert_eq!(
        insight,
        WorkflowInsight {
            total_workflows: 0,
            total_steps: 0,
            overall_success_rate: 0.0,
            mean_duration_ms: 0.0,
            failure_hotspots: vec![],
            step_success_rates: BTreeMap::new(),
            duration_trend: vec![],
            step_durations: BTreeMap::new(),
            flaky_steps: vec![],
            slowest_steps: vec![],
        }
    );
    assert_eq!(analytics.success_rate("build").unwrap(), 0.0);
    assert!(analytics.duration_trend(10).unwrap().is_empty());
    assert!(analytics.failure_hotspots(5).unwrap().is_empty());
}

fn step(
    run: &str,
    workflow: &str,
    name: &str,
    status: EntryStatus,
    attempt: u32,
    ms: f64,
) -> JournalEntry {
    let mut e = JournalEntry::new(
        run,
        workflow,
        EventType::StepComplete,
        Some(name.into()),
        status,
        SystemTime::now(),
    );
    e.attempt = attempt;
    e.duration_ms = ms;
    e
}

#[test]
fn flaky_steps_count_completions_after_a_retry_and_filters_select_a_workflow() {
    let store = Arc::new(MemoryStore::new());
    store
        .append(&[
            step("r1", "etl", "fetch", EntryStatus::Completed, 3, 10.0),
            step("r1", "etl", "parse", EntryStatus::Completed, 1, 5.0),
            step("r2", "etl", "fetch", EntryStatus::Completed, 2, 30.0),
            step("r2", "etl", "parse", EntryStatus::Failed, 2, 1.0),
            step("r3", "etl", "parse", EntryStatus::Completed, 2, 7.0),
            step("r4", "ci", "fetch", EntryStatus::Failed, 1, 1.0),
        ])
        .unwrap();
    let etl = WorkflowAnalytics::new(store.clone()).with_filter(QueryFilter::workflow("etl"));
    assert_eq!(
        etl.flaky_steps(5).unwrap(),
        [("fetch".to_string(), 2), ("parse".to_string(), 1)]
    );
    assert_eq!(etl.success_rate("fetch").unwrap(), 1.0);
    assert!(close(etl.success_rate("parse").unwrap(), 2.0 / 3.0));
    assert_eq!(etl.failure_hotspots(5).unwrap(), [("parse".to_string(), 1)]);
    let fetch = &etl.step_durations().unwrap()["fetch"];
    assert_eq!(
        (fetch.p50_ms, fetch.p95_ms, fetch.max_ms, fetch.mean_ms),
        (10.0, 30.0, 30.0, 20.0)
    );

    let all = WorkflowAnalytics::new(store);
    assert_eq!(all.success_rate("fetch").unwrap(), 2.0 / 3.0);
    assert_eq!(
        all.failure_hotspots(5).unwrap(),
        [("fetch".to_string(), 1), ("parse".to_string(), 1)],
        "ties are broken by name"
    );
}

#[test]
fn insight_serialises_with_the_specification_field_names() {
    let (_, analytics) = history_store();
    let json = serde_json::to_value(analytics.generate_insight().unwrap()).unwrap();
    for field in [
        "total_workflows",
        "total_steps",
        "overall_success_rate",
        "mean_duration_ms",
        "failure_hotspots",
        "step_success_rates",
        "duration_trend",
    ] {
        assert!(json.get(field).is_some(), "missing {field}");
    }
    assert!(json["failure_hotspots"][0][0].is_string());
    assert!(json["failure_hotspots"][0][1].is_u64());
}
