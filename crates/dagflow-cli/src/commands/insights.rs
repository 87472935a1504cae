//! `dagflow insights`: analytics over the journal.

use std::sync::Arc;
use std::time::Duration;

use console::style;
use dagflow::analytics::{WorkflowAnalytics, INSIGHT_TREND_POINTS};
use dagflow::journal::{JournalStore, QueryFilter};
use dagflow_cli::spec::format_duration;

use super::open_journal;
use crate::cli::{InsightsArgs, OutputFormat};
use crate::exit;
use crate::output::{print_json, table::Table};

pub fn insights(args: InsightsArgs, journal: Option<String>) -> anyhow::Result<u8> {
    let (_, store) = open_journal(journal.as_deref(), false)?;
    let store: Arc<dyn JournalStore> = Arc::new(store);
    let mut analytics = WorkflowAnalytics::new(store);
    if let Some(name) = &args.workflow {
        analytics = analytics.with_filter(QueryFilter::workflow(name));
    }
    let window = args.window as usize;
    let mut insight = analytics.generate_insight()?;
    insight.failure_hotspots = analytics.failure_hotspots(args.top)?;
    insight.flaky_steps = analytics.flaky_steps(args.top)?;
    insight.slowest_steps = analytics.slowest_steps(args.top)?;
    insight.duration_trend = analytics.recent_duration_trend(window, INSIGHT_TREND_POINTS)?;
    if args.output == OutputFormat::Json {
        print_json(&insight)?;
        return Ok(exit::SUCCESS);
    }

    let scope = args
        .workflow
        .as_deref()
        .map(|w| format!(" of workflow `{w}`"))
        .unwrap_or_default();
    if insight.total_workflows == 0 && insight.total_steps == 0 {
        println!("No finished runs{scope} in the journal yet.");
        return Ok(exit::SUCCESS);
    }
    println!(
        "{} finished runs{scope}: {:.1}% succeeded, mean duration {}, {} step outcomes",
        style(insight.total_workflows).bold(),
        insight.overall_success_rate * 100.0,
        format_duration(ms(insight.mean_duration_ms)),
        insight.total_steps
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
    for (name, rate) in &insight.step_success_rates {
        let d = insight.step_durations.get(name);
        let cell = |f: fn(&dagflow::analytics::StepDurations) -> f64| {
            d.map(|d| format_duration(ms(f(d))))
                .unwrap_or_else(|| "-".into())
        };
        t.row(vec![
            name.clone(),
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
    Ok(exit::SUCCESS)
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
    use super::sparkline;

    #[test]
    fn sparkline_spans_lowest_to_highest() {
        assert_eq!(sparkline(&[1.0, 2.0, 8.0]), "▁▂█");
        assert_eq!(sparkline(&[3.0, 3.0]), "▁▁");
    }
}
