//! `dagflow insights`: analytics over the journal.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use console::style;
use dagflow::analytics::{WorkflowAnalytics, WorkflowInsight, INSIGHT_TREND_POINTS};
use dagflow::journal::{journaled_definition, EventType, JournalStore, QueryFilter};
use dagflow_cli::spec::format_duration;
use serde::Serialize;

use super::open_journal;
use crate::cli::{InsightsArgs, OutputFormat};
use crate::exit;
use crate::output::{print_json, table::Table};

/// Up to this many workflows, an unfiltered report shows each in full;
/// past it, one line per workflow (a journal of workflows named per run
/// would otherwise print thousands of reports).
const FULL_REPORTS_AT_MOST: usize = 10;

pub fn insights(args: InsightsArgs, journal: Option<String>) -> anyhow::Result<u8> {
    let (_, store) = open_journal(journal.as_deref(), false)?;
    let store: Arc<dyn JournalStore> = Arc::new(store);
    let names = store.workflow_names()?;
    let overall = report(&store, args.workflow.as_deref(), &args)?;
    // Unfiltered, each workflow is also reported on its own: steps of the
    // same name in two workflows are different steps, and a trend over two
    // workflows' runs means nothing.
    let each = |names: &[String]| -> anyhow::Result<BTreeMap<String, WorkflowInsight>> {
        names
            .iter()
            .map(|name| Ok((name.clone(), report(&store, Some(name), &args)?)))
            .collect()
    };
    if args.output == OutputFormat::Json {
        let workflows = match args.workflow {
            Some(_) => None,
            None => Some(each(&names)?),
        };
        print_json(&InsightsJson {
            overall: &overall,
            workflows: workflows.as_ref(),
        })?;
        return Ok(exit::SUCCESS);
    }

    if overall.total_workflows == 0 && overall.total_steps == 0 {
        match &args.workflow {
            Some(name) if !names.contains(name) && !names.is_empty() => println!(
                "No runs of workflow `{name}` in the journal; it holds runs of {}.",
                quoted(&names)
            ),
            Some(name) => println!("No finished runs of workflow `{name}` in the journal yet."),
            None => println!("No finished runs in the journal yet."),
        }
        return Ok(exit::SUCCESS);
    }
    if args.workflow.is_some() || names.len() < 2 {
        let workflow = args.workflow.as_ref().or(names.first());
        let order = match workflow {
            Some(name) => file_order(&store, name)?,
            None => Vec::new(),
        };
        print_report(&overall, &order, args.window);
        return Ok(exit::SUCCESS);
    }
    println!(
        "{} of {} workflows: {:.1}% succeeded, {}",
        style(counted(overall.total_workflows, "finished run")).bold(),
        names.len(),
        overall.overall_success_rate * 100.0,
        counted(overall.total_steps, "step outcome")
    );
    if names.len() <= FULL_REPORTS_AT_MOST {
        for (name, insight) in &each(&names)? {
            println!("\n{}", style(format!("== Workflow `{name}`")).bold());
            print_report(insight, &file_order(&store, name)?, args.window);
        }
    } else {
        println!();
        print!("{}", overview(&store, &names)?.render());
        println!("\n`dagflow insights --workflow NAME` reports one of them in full.");
    }
    Ok(exit::SUCCESS)
}

/// One line per workflow: its runs, success rate, mean duration and step
/// outcomes.
fn overview(store: &Arc<dyn JournalStore>, names: &[String]) -> anyhow::Result<Table> {
    let mut t = Table::new(["WORKFLOW", "RUNS", "SUCCESS", "MEAN", "STEP OUTCOMES"]);
    for name in names {
        let totals = store.workflow_totals(&QueryFilter::workflow(name))?;
        let (success, mean) = match totals.finished {
            0 => ("-".to_string(), "-".to_string()),
            n => (
                format!("{:.1}%", totals.succeeded as f64 * 100.0 / n as f64),
                format_duration(Duration::from_micros(
                    totals.total_duration_us.max(0) as u64 / n,
                )),
            ),
        };
        t.row(vec![
            name.clone(),
            totals.finished.to_string(),
            success,
            mean,
            totals.total_steps.to_string(),
        ]);
    }
    Ok(t)
}

/// `--output json`: the figures over every selected run, as the library's
/// `WorkflowInsight`, and without `--workflow` the same per workflow.
#[derive(Serialize)]
struct InsightsJson<'a> {
    #[serde(flatten)]
    overall: &'a WorkflowInsight,
    #[serde(skip_serializing_if = "Option::is_none")]
    workflows: Option<&'a BTreeMap<String, WorkflowInsight>>,
}

/// The insight over the runs of `workflow` (every run with `None`), with
/// the lists and the trend as the arguments ask.
fn report(
    store: &Arc<dyn JournalStore>,
    workflow: Option<&str>,
    args: &InsightsArgs,
) -> anyhow::Result<WorkflowInsight> {
    let mut analytics = WorkflowAnalytics::new(Arc::clone(store));
    if let Some(name) = workflow {
        analytics = analytics.with_filter(QueryFilter::workflow(name));
    }
    let mut insight = analytics.generate_insight()?;
    insight.failure_hotspots = analytics.failure_hotspots(args.top)?;
    insight.flaky_steps = analytics.flaky_steps(args.top)?;
    insight.slowest_steps = analytics.slowest_steps(args.top)?;
    insight.duration_trend =
        analytics.recent_duration_trend(args.window as usize, INSIGHT_TREND_POINTS)?;
    Ok(insight)
}

/// `word` for a count of one, else `word` with an `s`.
fn counted(count: u64, word: &str) -> String {
    match count {
        1 => format!("1 {word}"),
        _ => format!("{count} {word}s"),
    }
}

/// `a`, `b` and `c`; past ten names, the first ten and how many in all.
fn quoted(names: &[String]) -> String {
    const AT_MOST: usize = 10;
    let quoted: Vec<String> = names
        .iter()
        .take(AT_MOST)
        .map(|n| format!("`{n}`"))
        .collect();
    if names.len() > AT_MOST {
        return format!("{}, ... ({} in all)", quoted.join(", "), names.len());
    }
    match quoted.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// The workflow's task names in the order of its file, as its latest run
/// recorded them (the order `dagflow show` lists them in); empty when no
/// run recorded its definition.
fn file_order(store: &Arc<dyn JournalStore>, workflow: &str) -> anyhow::Result<Vec<String>> {
    let Some(latest) = store.runs(&QueryFilter::workflow(workflow), 1)?.pop() else {
        return Ok(Vec::new());
    };
    let entries = store.by_workflow_id(&latest.workflow_id)?;
    Ok(entries
        .iter()
        .find(|e| e.event_type == EventType::WorkflowStart)
        .and_then(|start| journaled_definition(start).ok())
        .map(|tasks| tasks.into_iter().map(|t| t.name).collect())
        .unwrap_or_default())
}

/// `insight`'s steps in `order`, then those `order` lacks (steps the
/// latest run no longer had) by name.
fn in_order<'a>(insight: &'a WorkflowInsight, order: &'a [String]) -> Vec<&'a str> {
    let listed: BTreeSet<&str> = order.iter().map(String::as_str).collect();
    let rates = &insight.step_success_rates;
    order
        .iter()
        .map(String::as_str)
        .filter(|name| rates.contains_key(*name))
        .chain(
            rates
                .keys()
                .map(String::as_str)
                .filter(|name| !listed.contains(name)),
        )
        .collect()
}

fn print_report(insight: &WorkflowInsight, order: &[String], window: u32) {
    println!(
        "{}: {:.1}% succeeded, mean duration {}, {}",
        style(counted(insight.total_workflows, "finished run")).bold(),
        insight.overall_success_rate * 100.0,
        format_duration(ms(insight.mean_duration_ms)),
        counted(insight.total_steps, "step outcome")
    );

    if !insight.failure_hotspots.is_empty() {
        println!("\n{}", style("Failure hotspots").bold());
        let mut t = Table::new(["STEP", "FAILURES"]);
        for (name, count) in &insight.failure_hotspots {
            t.row(vec![name.clone(), count.to_string()]);
        }
        print!("{}", t.render());
    }
    if !insight.flaky_steps.is_empty() {
        println!(
            "\n{}",
            style("Flaky steps (passed only after a retry)").bold()
        );
        let mut t = Table::new(["STEP", "TIMES"]);
        for (name, count) in &insight.flaky_steps {
            t.row(vec![name.clone(), count.to_string()]);
        }
        print!("{}", t.render());
    }

    println!("\n{}", style("Steps").bold());
    let mut t = Table::new(["STEP", "SUCCESS", "P50", "P95", "MAX", "COMPLETED"]);
    for name in in_order(insight, order) {
        let rate = insight.step_success_rates.get(name).copied().unwrap_or(0.0);
        let d = insight.step_durations.get(name);
        let cell = |f: fn(&dagflow::analytics::StepDurations) -> f64| {
            d.map(|d| format_duration(ms(f(d))))
                .unwrap_or_else(|| "-".into())
        };
        t.row(vec![
            name.to_string(),
            format!("{:.1}%", rate * 100.0),
            cell(|d| d.p50_ms),
            cell(|d| d.p95_ms),
            cell(|d| d.max_ms),
            d.map_or(0, |d| d.samples).to_string(),
        ]);
    }
    print!("{}", t.render());

    if !insight.slowest_steps.is_empty() {
        let slowest: Vec<String> = insight
            .slowest_steps
            .iter()
            .map(|(n, p95)| format!("{n} ({})", format_duration(ms(*p95))))
            .collect();
        println!("\nSlowest steps by p95: {}", slowest.join(", "));
    }
    if let (Some(first), Some(last)) = (
        insight.duration_trend.first(),
        insight.duration_trend.last(),
    ) {
        let change = if *first > 0.0 {
            (last - first) / first * 100.0
        } else {
            0.0
        };
        println!(
            "\n{} (moving average over {window} runs): {}  {} → {} ({change:+.0}%)",
            style("Duration trend").bold(),
            sparkline(&insight.duration_trend),
            format_duration(ms(*first)),
            format_duration(ms(*last)),
        );
    }
}

fn ms(value: f64) -> Duration {
    Duration::from_secs_f64(value.max(0.0) / 1000.0)
}

/// `▁▂▃▅▇`-style picture of `values`.
fn sparkline(values: &[f64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let range = (max - min).max(f64::EPSILON);
    values
        .iter()
        .map(|v| BARS[(((v - min) / range) * 7.0).round().clamp(0.0, 7.0) as usize])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{counted, quoted, sparkline};

    #[test]
    fn one_is_singular() {
        assert_eq!(counted(1, "finished run"), "1 finished run");
        assert_eq!(counted(0, "step outcome"), "0 step outcomes");
        assert_eq!(counted(12, "step outcome"), "12 step outcomes");
    }

    #[test]
    fn names_are_listed_with_an_and() {
        let names = |list: &[&str]| quoted(&list.iter().map(|n| n.to_string()).collect::<Vec<_>>());
        assert_eq!(names(&[]), "");
        assert_eq!(names(&["ci"]), "`ci`");
        assert_eq!(
            names(&["ci", "etl", "release"]),
            "`ci`, `etl` and `release`"
        );
        let many: Vec<String> = (0..12).map(|i| format!("w{i:02}")).collect();
        assert_eq!(
            quoted(&many),
            "`w00`, `w01`, `w02`, `w03`, `w04`, `w05`, `w06`, `w07`, `w08`, `w09`, ... (12 in all)"
        );
    }

    #[test]
    fn sparkline_spans_lowest_to_highest() {
        assert_eq!(sparkline(&[1.0, 2.0, 8.0]), "▁▂█");
        assert_eq!(sparkline(&[3.0, 3.0]), "▁▁");
    }
}
