//! Human-readable output: Markdown tables of the records and of the targets,
//! as pasted into BENCHMARKS.md.

use std::fmt::Write as _;

use crate::engines::{self, Engine};
use crate::record::Record;
use crate::targets::{self, Check};
use crate::workload;

/// A Markdown section: run time per workload and engine, the full records,
/// and the targets.
pub fn markdown(records: &[Record], skipped: &[(String, String, String)]) -> String {
    let mut out = String::new();
    let engines: Vec<Engine> = engines::ALL
        .iter()
        .copied()
        .filter(|e| records.iter().any(|r| r.engine == e.name()))
        .collect();
    let workloads: Vec<&str> = workload::ALL
        .iter()
        .map(|w| w.name)
        .filter(|w| records.iter().any(|r| r.workload == *w))
        .collect();

    out.push_str("### Run time (ms, median)\n\n| workload |");
    for e in &engines {
        let _ = write!(out, " {} |", e.name());
    }
    out.push_str("\n| --- |");
    out.push_str(&" ---: |".repeat(engines.len()));
    out.push('\n');
    for w in &workloads {
        let _ = write!(out, "| {w} |");
        for e in &engines {
            match records
                .iter()
                .find(|r| r.engine == e.name() && r.workload == *w)
            {
                Some(r) => {
                    let _ = write!(out, " {} |", fmt_ms(r.run_ms));
                }
                None => out.push_str(" — |"),
            }
        }
        out.push('\n');
    }

    out.push_str(
        "\n### All figures\n\n| engine | workload | n | build ms | run ms | ns/task | peak RSS MiB | first run ms | runs |\n\
         | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for w in &workloads {
        for e in &engines {
            if let Some(r) = records
                .iter()
                .find(|r| r.engine == e.name() && r.workload == *w)
            {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {:.1} | {:.1} | {} | {} |",
                    r.engine,
                    r.workload,
                    r.n,
                    fmt_ms(r.build_ms),
                    fmt_ms(r.run_ms),
                    r.per_task_ns,
                    r.peak_rss_mib(),
                    r.first_run_ms.map_or_else(|| "—".to_string(), fmt_ms),
                    r.runs.map_or_else(|| "—".to_string(), |n| n.to_string())
                );
            }
        }
    }

    if !skipped.is_empty() {
        out.push_str("\n### Not measured\n\n| engine | workload | why |\n| --- | --- | --- |\n");
        for (e, w, why) in skipped {
            let _ = writeln!(out, "| {e} | {w} | {why} |");
        }
    }

    out.push_str("\n### Targets\n\n| target | measured | limit | met | note |\n| --- | ---: | ---: | --- | --- |\n");
    for c in targets::evaluate(records) {
        let _ = writeln!(
            out,
            "| {} | {} | {} {} | {} | {} |",
            c.what,
            fmt_measured(&c),
            c.limit,
            c.unit,
            match c.met() {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "not measured",
            },
            c.note
        );
    }
    out
}

fn fmt_measured(c: &Check) -> String {
    match c.measured {
        Some(m) if c.unit == "x" => format!("{m:.2} x"),
        Some(m) => format!("{m:.1} {}", c.unit),
        None => "—".to_string(),
    }
}

/// Milliseconds with three significant digits, at least two decimals below 1.
fn fmt_ms(ms: f64) -> String {
    if ms >= 100.0 {
        format!("{ms:.0}")
    } else if ms >= 10.0 {
        format!("{ms:.1}")
    } else if ms >= 1.0 {
        format!("{ms:.2}")
    } else {
        format!("{ms:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_lists_each_measured_engine_once_per_workload() {
        let records = vec![
            Record {
                engine: "ref-sync".into(),
                workload: "chain-1000".into(),
                n: 1000,
                build_ms: 0.01,
                run_ms: 0.0171,
                per_task_ns: 17.1,
                peak_rss_kb: 2048,
                first_run_ms: Some(0.0712),
                runs: Some(45),
            },
            Record {
                engine: "ref-tokio".into(),
                workload: "chain-1000".into(),
                n: 1000,
                build_ms: 0.02,
                run_ms: 0.5,
                per_task_ns: 500.0,
                peak_rss_kb: 4096,
                first_run_ms: None,
                runs: None,
            },
        ];
        let md = markdown(&records, &[]);
        assert!(md.contains("| workload | ref-tokio | ref-sync |"), "{md}");
        assert!(
            md.contains("| ref-tokio | chain-1000 | 1000 | 0.020 | 0.500 | 500.0 | 4.0 | — | — |"),
            "{md}"
        );
        assert!(md.contains("| chain-1000 | 0.500 | 0.017 |"), "{md}");
        assert!(
            md.contains(
                "| ref-sync | chain-1000 | 1000 | 0.010 | 0.017 | 17.1 | 2.0 | 0.071 | 45 |"
            ),
            "{md}"
        );
    }
}
