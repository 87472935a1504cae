//! `dagflow-bench`: runs the benchmark suite (see `--help`).

use std::io::Write as _;

use anyhow::Context as _;
use dagflow_bench::engines::Engine;
use dagflow_bench::harness::{self, Outcome};
use dagflow_bench::options::{self, Mode, SuiteOptions};
use dagflow_bench::record::{ChildReport, Record};
use dagflow_bench::rounds;
use dagflow_bench::workload::Workload;
use dagflow_bench::{emit, engines, machine, report, workload};

fn main() -> anyhow::Result<()> {
    // Help goes to stdout (exit 0), usage errors to stderr (exit 2).
    match options::parse(std::env::args_os().skip(1)).unwrap_or_else(|e| e.exit()) {
        Mode::List => {
            println!("engines:");
            for e in engines::ALL {
                println!("  {}", e.name());
            }
            println!("workloads:");
            for w in workload::ALL {
                println!("  {} ({} {})", w.name, w.task_count(), w.unit());
            }
        }
        Mode::Emit {
            format,
            workload,
            command,
        } => print!("{}", emit::render(&workload.generate(), format, &command)),
        Mode::Child {
            engine,
            workload,
            runs,
            warmup,
        } => {
            // The parent shows the child's last stderr lines: keep them to the message.
            match harness::run_child(engine, workload, runs, warmup) {
                Ok(report) => println!("{}", serde_json::to_string(&report)?),
                Err(error) => {
                    eprintln!("error: {error}");
                    std::process::exit(2);
                }
            }
        }
        Mode::Report(file) => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("could not read results file {}", file.display()))?;
            let mut records = Vec::new();
            for (i, line) in text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
            {
                let record: Record = serde_json::from_str(line).with_context(|| {
                    format!("{}:{}: not a benchmark record", file.display(), i + 1)
                })?;
                records.push(record);
            }
            print!("{}", report::markdown(&records, &[]));
        }
        Mode::Suite(opts) => suite(&opts)?,
    }
    Ok(())
}

fn suite(opts: &SuiteOptions) -> anyhow::Result<()> {
    let exe = std::env::current_exe()
        .context("could not find this program's own binary to re-execute")?;
    let machine = machine::describe();
    eprintln!("machine: {machine}");
    let mut progress = Progress {
        done: 0,
        total: opts
            .workloads
            .iter()
            .map(|w| opts.engines.iter().filter(|e| e.applies_to(w)).count())
            .sum::<usize>()
            * opts.rounds,
    };
    let mut records = Vec::new();
    let mut skipped = Vec::new();
    let mut failures = 0;
    let mut stdout = std::io::stdout().lock();
    for w in &opts.workloads {
        let measured = measure_workload(&exe, opts, *w, &mut progress);
        failures += measured.failures;
        skipped.extend(measured.skipped);
        for report in measured.reports {
            let record = Record::from_report(&report);
            if opts.json {
                writeln!(stdout, "{}", serde_json::to_string(&record)?)?;
                stdout.flush()?;
            }
            records.push(record);
        }
    }
    if !opts.json {
        let samples = if opts.rounds > 1 {
            format!(
                "{} runs ({} rounds of {}, alternating the engines)",
                opts.rounds * opts.runs,
                opts.rounds,
                opts.runs
            )
        } else {
            format!("{} runs", opts.runs)
        };
        let warmup = match opts.warmup {
            0 => String::new(),
            1 => ", each process's first run unmeasured (a warm-up)".to_string(),
            w => format!(", each process's first {w} runs unmeasured (warm-up)"),
        };
        let extra = if opts.min_measured.is_zero() {
            String::new()
        } else {
            format!(
                "; an engine whose runs add up to less than {} ms gets further rounds, up to {}",
                opts.min_measured.as_millis(),
                opts.rounds * rounds::EXTRA_ROUNDS_FACTOR
            )
        };
        writeln!(
            stdout,
            "Machine: {machine}. Medians of {samples} per engine and workload{warmup}{extra}.\n"
        )?;
        write!(stdout, "{}", report::markdown(&records, &skipped))?;
    }
    if failures > 0 {
        eprintln!("{failures} measurement(s) failed; see the messages above");
    }
    Ok(())
}

/// The count of measurements for the progress lines (extra rounds apart).
struct Progress {
    done: usize,
    total: usize,
}

/// What one workload gave: per engine measured, its pooled samples.
struct WorkloadResults {
    reports: Vec<ChildReport>,
    /// Engine, workload and why, for engines that gave no figures.
    skipped: Vec<(String, String, String)>,
    failures: usize,
}

/// Measures every engine on `workload` in rounds that alternate the
/// engines (see `rounds::RoundPolicy`); an engine that was skipped or failed is
/// dropped from the later rounds.
fn measure_workload(
    exe: &std::path::Path,
    opts: &SuiteOptions,
    workload: Workload,
    progress: &mut Progress,
) -> WorkloadResults {
    let mut policy = opts.round_policy();
    if workload.is_journal() {
        // No extra rounds: a journal process records its history before
        // it measures (10 s for a million workflows), and its figures sit
        // far inside their limits, unlike the microsecond graphs the extra
        // rounds are for.
        policy.min_measured = std::time::Duration::ZERO;
    }
    let mut pooled: Vec<Option<ChildReport>> = vec![None; opts.engines.len()];
    let mut dropped = vec![false; opts.engines.len()];
    let mut results = WorkloadResults {
        reports: Vec::new(),
        skipped: Vec::new(),
        failures: 0,
    };
    for round in 1..=policy.max_rounds() {
        let mut any = false;
        let extra = round > opts.rounds;
        for (i, e) in opts.engines.iter().enumerate() {
            // Graph engines and journal stores measure different workloads.
            if !e.applies_to(&workload) {
                continue;
            }
            if !extra {
                progress.done += 1;
            }
            // Every engine still in has had `round - 1` rounds.
            if dropped[i] || !policy.another_round(round - 1, pooled[i].as_ref()) {
                continue;
            }
            any = true;
            let label = round_label(opts, progress, *e, workload, round, pooled[i].as_ref());
            match harness::measure_in_child(exe, *e, workload, opts.runs, opts.warmup, opts.timeout)
            {
                Outcome::Measured(report) => {
                    let record = Record::from_report(&report);
                    eprintln!(
                        "{label}: build {} ms, run {} ms, {:.0} MiB",
                        record.build_ms,
                        record.run_ms,
                        record.peak_rss_mib()
                    );
                    match &mut pooled[i] {
                        Some(earlier) => earlier.absorb(report),
                        slot => *slot = Some(report),
                    }
                }
                Outcome::Skipped { reason, .. } => {
                    eprintln!("{label}: not measured: {reason}");
                    dropped[i] = true;
                    results.skipped.push((
                        e.name().to_string(),
                        workload.name.to_string(),
                        reason.to_string(),
                    ));
                }
                Outcome::Failed { error, .. } => {
                    results.failures += 1;
                    eprintln!("{label}: FAILED: {error}");
                    dropped[i] = true;
                    pooled[i] = None;
                    results.skipped.push((
                        e.name().to_string(),
                        workload.name.to_string(),
                        format!("failed: {error}"),
                    ));
                }
            }
        }
        if !any {
            break;
        }
    }
    results.reports = pooled.into_iter().flatten().collect();
    results
}

/// The progress line's start: `[k/total] engine workload (round r/R)`, or
/// for a round beyond `--rounds`, how much the engine has measured so far.
fn round_label(
    opts: &SuiteOptions,
    progress: &Progress,
    engine: Engine,
    workload: Workload,
    round: usize,
    pooled: Option<&ChildReport>,
) -> String {
    let what = format!("{} {}", engine.name(), workload.name);
    if round > opts.rounds {
        let so_far = rounds::measured(pooled).as_secs_f64() * 1e3;
        format!(
            "[extra] {what} (round {round}: {so_far:.1} of {} ms measured so far)",
            opts.min_measured.as_millis()
        )
    } else if opts.rounds > 1 {
        format!(
            "[{}/{}] {what} (round {round}/{})",
            progress.done, progress.total, opts.rounds
        )
    } else {
        format!("[{}/{}] {what}", progress.done, progress.total)
    }
}
