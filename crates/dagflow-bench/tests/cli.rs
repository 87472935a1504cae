//! The `dagflow-bench` binary: child processes, JSON lines, selection flags.

use std::process::Command;

use dagflow_bench::record::{ChildReport, Record};

fn bench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_dagflow-bench"))
}

/// Runs the suite with `args`, checks that it succeeded, and returns the
/// records it printed and its stderr.
fn suite(args: &[&str]) -> (Vec<Record>, String) {
    let out = bench()
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("could not run dagflow-bench: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    (records_of(&out.stdout), stderr)
}

/// Runs one child process with `args`, checks that it succeeded, and
/// returns the report it printed.
fn child(args: &[&str]) -> ChildReport {
    let out = bench()
        .arg("--child")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("could not run dagflow-bench: {e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not a child report: {e}: {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// The JSON records a suite run printed, one per line.
fn records_of(stdout: &[u8]) -> Vec<Record> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line {l}: {e}")))
        .collect()
}

/// (engine, workload) of each record, in order.
fn engine_and_workload(records: &[Record]) -> Vec<(&str, &str)> {
    records
        .iter()
        .map(|r| (r.engine.as_str(), r.workload.as_str()))
        .collect()
}

#[test]
fn child_reports_every_run_and_its_own_peak_memory() {
    let report = child(&["ref-sync", "chain-1000", "--runs", "3"]);
    assert_eq!(report.engine, "ref-sync");
    assert_eq!(report.workload, "chain-1000");
    assert_eq!(report.n, 1000);
    assert_eq!(report.build_ns.len(), 3);
    assert_eq!(report.run_ns.len(), 3);
    // The default warm-up run is reported apart from the measured ones.
    assert_eq!(report.first_run_ns.len(), 1);
    assert!(report.peak_rss_kb > 0);
}

#[test]
fn warm_up_runs_are_run_but_not_measured() {
    let sleepy = |warmup: &str| {
        let started = std::time::Instant::now();
        let report = child(&[
            "ref-tokio",
            "sleepy-10x100",
            "--runs",
            "3",
            "--warmup",
            warmup,
        ]);
        (report, started.elapsed())
    };
    // Each run of the sleepy workload sleeps 10 x 10 ms: two warm-up runs
    // and three measured ones take at least half a second.
    let (report, elapsed) = sleepy("2");
    assert_eq!(report.run_ns.len(), 3);
    assert_eq!(report.first_run_ns.len(), 1);
    assert!(report.first_run_ns[0] >= 100_000_000, "{report:?}");
    assert!(elapsed.as_millis() >= 500, "{elapsed:?}");
    // Without warm-up the first run is the first measured one.
    let (report, _) = sleepy("0");
    assert_eq!(report.run_ns.len(), 3);
    assert_eq!(report.first_run_ns, report.run_ns[..1]);
}

#[test]
fn suite_prints_one_json_line_per_measured_engine_and_workload() {
    let (records, stderr) = suite(&[
        "--json",
        "--runs",
        "3",
        "--engines",
        "ref-sync,ref-tokio",
        "--workloads",
        "chain-1000,sleepy-10x100",
    ]);
    let pairs = engine_and_workload(&records);
    // ref-sync cannot run sleeping bodies: said on stderr, absent from the JSON.
    assert_eq!(
        pairs,
        [
            ("ref-sync", "chain-1000"),
            ("ref-tokio", "chain-1000"),
            ("ref-tokio", "sleepy-10x100")
        ]
    );
    assert!(
        stderr.contains("ref-sync sleepy-10x100: not measured"),
        "{stderr}"
    );
    for r in &records {
        assert!(r.run_ms > 0.0 && r.peak_rss_kb > 0, "{r:?}");
        assert_eq!(
            r.per_task_ns,
            ((r.run_ms * 1e6 / r.n as f64) * 10.0).round() / 10.0
        );
    }
    let sleepy = &records[2];
    assert!(sleepy.run_ms >= 100.0, "{sleepy:?}");
}

#[test]
fn rounds_alternate_the_engines_and_pool_each_engines_samples() {
    let (records, stderr) = suite(&[
        "--json",
        "--runs",
        "3",
        "--rounds",
        "2",
        "--min-measured-ms",
        "0",
        "--engines",
        "ref-sync,ref-sync-timed",
        "--workloads",
        "chain-1000,sleepy-10x100",
    ]);
    // The engines take turns: round 1 of both, then round 2 of both.
    let order: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("chain-1000 (round"))
        .map(|l| l.split("] ").nth(1).unwrap_or(l))
        .collect();
    assert_eq!(
        order
            .iter()
            .map(|l| l.split(':').next().unwrap_or(l))
            .collect::<Vec<_>>(),
        [
            "ref-sync chain-1000 (round 1/2)",
            "ref-sync-timed chain-1000 (round 1/2)",
            "ref-sync chain-1000 (round 2/2)",
            "ref-sync-timed chain-1000 (round 2/2)",
        ],
        "{stderr}"
    );
    // A skipped pair is said once, not once per round.
    let skips = stderr
        .lines()
        .filter(|l| l.contains("sleepy-10x100 (round 1/2): not measured"))
        .count();
    assert_eq!(skips, 2, "{stderr}");
    assert!(!stderr.contains("sleepy-10x100 (round 2/2)"), "{stderr}");
    // One record per engine and workload, from both rounds.
    let pairs = engine_and_workload(&records);
    assert_eq!(
        pairs,
        [("ref-sync", "chain-1000"), ("ref-sync-timed", "chain-1000")]
    );
}

#[test]
fn engines_with_short_runs_get_extra_rounds_up_to_five_times_the_rounds() {
    let (records, stderr) = suite(&[
        "--json",
        "--runs",
        "3",
        "--min-measured-ms",
        "200",
        "--engines",
        "ref-sync,ref-tokio",
        "--workloads",
        "chain-1000,sleepy-10x100",
    ]);
    // Microsecond runs never reach 200 ms: 5 rounds each, alternating.
    let chain: Vec<String> = stderr
        .lines()
        .filter(|l| l.contains(" chain-1000"))
        .map(|l| {
            let (engine, rest) = l.split_once(" chain-1000").unwrap_or((l, ""));
            let round = rest.split(':').next().unwrap_or(rest);
            format!("{engine}{round}")
        })
        .collect();
    let mut expected = vec!["[1/4] ref-sync".to_string(), "[2/4] ref-tokio".to_string()];
    for round in 2..=5 {
        for engine in ["ref-sync", "ref-tokio"] {
            expected.push(format!("[extra] {engine} (round {round}"));
        }
    }
    assert_eq!(chain, expected, "{stderr}");
    assert!(
        stderr.contains("[extra] ref-sync chain-1000 (round 2: "),
        "{stderr}"
    );
    assert!(stderr.contains(" of 200 ms measured so far)"), "{stderr}");
    // Three sleepy runs take 300 ms: no extra round.
    assert!(!stderr.contains("[extra] ref-tokio sleepy"), "{stderr}");
    let runs: Vec<(&str, &str, Option<usize>)> = records
        .iter()
        .map(|r| (r.engine.as_str(), r.workload.as_str(), r.runs))
        .collect();
    assert_eq!(
        runs,
        [
            ("ref-sync", "chain-1000", Some(15)),
            ("ref-tokio", "chain-1000", Some(15)),
            ("ref-tokio", "sleepy-10x100", Some(3)),
        ]
    );
}

#[test]
fn unknown_workload_fails_with_the_list_of_known_ones() {
    let out = bench()
        .args(["--workloads", "diamond"])
        .output()
        .unwrap_or_else(|e| panic!("could not run dagflow-bench: {e}"));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown workload `diamond`; known workloads: chain-1000, chain-10000"),
        "{stderr}"
    );
}

#[test]
fn report_renders_saved_json_lines_as_markdown() {
    let dir = std::env::temp_dir().join(format!("dagflow-bench-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let file = dir.join("results.jsonl");
    let line = r#"{"engine":"ref-sync","workload":"layered-100x1000","n":100000,"build_ms":4.0,"run_ms":13.0,"per_task_ns":130.0,"peak_rss_kb":12288}"#;
    std::fs::write(&file, format!("{line}\n")).unwrap_or_else(|e| panic!("{e}"));
    let out = bench()
        .arg("--report")
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("could not run dagflow-bench: {e}"));
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("| layered-100x1000 | 13.0 |"), "{stdout}");
    assert!(
        stdout.contains(
            "| sync WorkflowRunner vs ref-sync, layered-100x1000 | — | 1.5 x | not measured |"
        ),
        "{stdout}"
    );
}
