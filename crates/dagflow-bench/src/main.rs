//! `dagflow-bench`: runs the benchmark suite (see `--help`).

use std::io::Write as _;

use anyhow::Context as _;
use dagflow_bench::harness::{self, Outcome};
use dagflow_bench::options::{self, Mode, SuiteOptions};
use dagflow_bench::record::{ChildReport, Record};
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
                println!("  {} ({} tasks)", w.name, w.task_count());
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
    let total = opts.engines.len() * opts.workloads.len() * opts.rounds;
    let mut records = Vec::new();
    let mut skipped = Vec::new();
    let mut failures = 0;
    let mut stdout = std::io::stdout().lock();
    let mut k = 0;
    for w in &opts.workloads {
        // Per engine, its samples so far; an engine that was skipped or
        // failed is dropped from the later rounds.
        let mut pooled: Vec<Option<ChildReport>> = vec![None; opts.engines.len()];
        let mut dropped = vec![false; opts.engines.len()];
        for round in 1..=opts.rounds {
            for (i, e) in opts.engines.iter().enumerate() {
                k += 1;
                if dropped[i] {
                    continue;
                }
                let label = if opts.rounds > 1 {
                    format!(
                        "[{k}/{total}] {} {} (round {round}/{})",
                        e.name(),
                        w.name,
                        opts.rounds
                    )
                } else {
                    format!("[{k}/{total}] {} {}", e.name(), w.name)
                };
                match harness::measure_in_child(&exe, *e, *w, opts.runs, opts.warmup, opts.timeout)
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
                        skipped.push((
                            e.name().to_string(),
                            w.name.to_string(),
                            reason.to_string(),
                        ));
                    }
                    Outcome::Failed { error, .. } => {
                        failures += 1;
                        eprintln!("{label}: FAILED: {error}");
                        dropped[i] = true;
                        pooled[i] = None;
                        skipped.push((
                            e.name().to_string(),
                            w.name.to_string(),
                            format!("failed: {error}"),
                        ));
                    }
                }
            }
        }
        for report in pooled.into_iter().flatten() {
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
        writeln!(
            stdout,
            "Machine: {machine}. Medians of {samples} per engine and workload{warmup}.\n"
        )?;
        write!(stdout, "{}", report::markdown(&records, &skipped))?;
    }
    if failures > 0 {
        eprintln!("{failures} measurement(s) failed; see the messages above");
    }
    Ok(())
}
