//! The journal from the command line: `runs`, `show`, `insights`, `resume`.

mod common;

use common::Sandbox;
use serde_json::Value;

const FLAKY: &str = "name: nightly
fail_fast: false
tasks:
  - name: extract
    run: echo 10
  - name: transform
    run: |
      # fails on every second run, counted in runs.txt
      echo x >> runs.txt
      [ $(( $(wc -l < runs.txt) % 2 )) -eq 1 ] || exit 4
      echo transformed
    depends_on: [extract]
  - name: load
    run: echo loaded
    depends_on: [transform]
";

#[test]
fn runs_lists_recent_runs_newest_first() {
    let sb = Sandbox::new();
    sb.write(
        "a.yml",
        "name: alpha\ntasks:\n  - name: t\n    run: 'true'\n",
    );
    sb.write(
        "b.yml",
        "name: beta\ntasks:\n  - name: t\n    run: exit 1\n",
    );
    let (_, first) = sb.run_json("a.yml", &[]);
    let (_, second) = sb.run_json("b.yml", &[]);
    let runs = sb.json(&["runs", "--output", "json"]);
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["run_id"], second["run_id"]);
    assert_eq!(runs[0]["workflow"], "beta");
    assert_eq!(runs[0]["status"], "failed");
    assert_eq!(runs[1]["run_id"], first["run_id"]);
    assert_eq!(runs[1]["status"], "succeeded");

    let only_alpha = sb.json(&["runs", "--workflow", "alpha", "--output", "json"]);
    assert_eq!(only_alpha.as_array().unwrap().len(), 1);
    let limited = sb.json(&["runs", "--limit", "1", "--output", "json"]);
    assert_eq!(limited.as_array().unwrap().len(), 1);

    let text = sb.dagflow().arg("runs").assert().success();
    let stdout = String::from_utf8_lossy(&text.get_output().stdout).to_string();
    assert!(
        stdout.contains("RUN ID") && stdout.contains("alpha") && stdout.contains("beta"),
        "{stdout}"
    );
}

#[test]
fn journal_flag_and_environment_choose_the_file() {
    let sb = Sandbox::new();
    sb.write("wf.yml", "name: j\ntasks:\n  - name: t\n    run: 'true'\n");
    sb.dagflow()
        .args(["run", "wf.yml", "--journal", "custom.db"])
        .assert()
        .success();
    assert!(sb.file("custom.db").exists());
    assert!(!sb.file(".dagflow/journal.db").exists());
    let runs = sb.json(&[
        "runs",
        "--journal",
        "sqlite://custom.db",
        "--output",
        "json",
    ]);
    assert_eq!(runs.as_array().unwrap().len(), 1);
    let output = sb
        .dagflow()
        .args(["runs", "--output", "json"])
        .env("DAGFLOW_JOURNAL", "custom.db")
        .output()
        .unwrap();
    let runs: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 1);
}

#[test]
fn reading_commands_without_a_journal_say_so() {
    let sb = Sandbox::new();
    let assert = sb.dagflow().arg("runs").assert().code(1);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert!(
        stderr.contains("there is no journal at .dagflow/journal.db"),
        "{stderr}"
    );
}

#[test]
fn show_reports_tasks_attempts_errors_and_output_tails() {
    let sb = Sandbox::new();
    sb.write(
        "wf.yml",
        "name: shown
fail_fast: false
tasks:
  - name: ok
    run: echo fine
  - name: flaky
    run: |
      echo x >> attempts
      [ $(wc -l < attempts) -ge 2 ] || { echo 'first try fails' >&2; exit 1; }
      echo recovered
    retry: {max_attempts: 2, initial_delay: 10ms}
  - name: broken
    run: echo 'partial output'; echo 'disk full' >&2; exit 7
",
    );
    let (_, report) = sb.run_json("wf.yml", &[]);
    let run_id = report["run_id"].as_str().unwrap();
    let view = sb.json(&["show", run_id, "--output", "json"]);
    assert_eq!(view["run_id"], run_id);
    assert_eq!(view["workflow"], "shown");
    assert_eq!(view["status"], "failed");
    assert!(view["file"].as_str().unwrap().ends_with("wf.yml"));
    let tasks = view["tasks"].as_array().unwrap();
    let names: Vec<&str> = tasks.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["ok", "flaky", "broken"], "file order");
    let flaky = &tasks[1];
    assert_eq!(flaky["status"], "completed");
    assert_eq!(flaky["attempts"], 2);
    assert_eq!(flaky["failed_attempts"][0]["attempt"], 1);
    assert_eq!(flaky["failed_attempts"][0]["exit_code"], 1);
    let broken = &tasks[2];
    assert_eq!(broken["status"], "failed");
    assert_eq!(broken["exit_code"], 7);
    assert_eq!(broken["stdout_tail"], "partial output\n");
    assert_eq!(broken["stderr_tail"], "disk full\n");
    assert!(broken["start_ms"].as_i64().unwrap() <= broken["end_ms"].as_i64().unwrap());

    // A prefix of the id is enough, and the text view has a timeline.
    let text = sb.dagflow().args(["show", &run_id[..8]]).assert().success();
    let stdout = String::from_utf8_lossy(&text.get_output().stdout).to_string();
    assert!(stdout.contains("Timeline"), "{stdout}");
    assert!(stdout.contains("disk full"), "{stdout}");
    assert!(stdout.contains("attempt 1 failed"), "{stdout}");
}

#[test]
fn show_of_an_unknown_run_exits_2() {
    let sb = Sandbox::new();
    sb.write("wf.yml", "name: x\ntasks:\n  - name: t\n    run: 'true'\n");
    sb.run_json("wf.yml", &[]);
    let assert = sb.dagflow().args(["show", "no-such-run"]).assert().code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert!(stderr.contains("no run `no-such-run`"), "{stderr}");
}

#[test]
fn insights_after_several_runs() {
    let sb = Sandbox::new();
    sb.write("wf.yml", FLAKY);
    let codes: Vec<i32> = (0..4).map(|_| sb.run_json("wf.yml", &[]).0).collect();
    assert_eq!(codes, [0, 1, 0, 1]);
    let insight = sb.json(&["insights", "--output", "json"]);
    assert_eq!(insight["total_workflows"], 4);
    assert_eq!(insight["total_steps"], 12);
    assert_eq!(insight["overall_success_rate"], 0.5);
    assert!(insight["mean_duration_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(
        insight["failure_hotspots"],
        serde_json::json!([["transform", 2]])
    );
    assert_eq!(insight["step_success_rates"]["extract"], 1.0);
    assert_eq!(insight["step_success_rates"]["transform"], 0.5);
    assert_eq!(insight["step_success_rates"]["load"], 0.5);
    // window 2 over 4 runs gives 3 points
    let trend = sb.json(&["insights", "--window", "2", "--output", "json"]);
    assert_eq!(trend["duration_trend"].as_array().unwrap().len(), 3);
    assert!(insight["step_durations"]["extract"]["p95_ms"]
        .as_f64()
        .is_some());
    assert!(insight.get("flaky_steps").is_some());

    let filtered = sb.json(&["insights", "--workflow", "other", "--output", "json"]);
    assert_eq!(filtered["total_workflows"], 0);

    let text = sb.dagflow().arg("insights").assert().success();
    let stdout = String::from_utf8_lossy(&text.get_output().stdout).to_string();
    assert!(
        stdout.contains("4 finished runs") && stdout.contains("Failure hotspots"),
        "{stdout}"
    );
}

#[test]
fn insights_report_each_workflow_of_a_shared_journal_on_its_own() {
    let sb = Sandbox::new();
    // Both workflows have a step `build`: it passes in `ci` and fails in
    // `release`, which must not make it a 50 % step of either.
    sb.write(
        "ci.yml",
        "name: ci\ntasks:\n  - name: build\n    run: 'true'\n  - name: test\n    run: 'true'\n    depends_on: [build]\n",
    );
    sb.write(
        "release.yml",
        "name: release\ntasks:\n  - name: build\n    run: exit 3\n",
    );
    assert_eq!(sb.run_json("ci.yml", &[]).0, 0);
    assert_eq!(sb.run_json("ci.yml", &[]).0, 0);
    assert_eq!(sb.run_json("release.yml", &[]).0, 1);

    let insight = sb.json(&["insights", "--output", "json"]);
    // The figures over every run stay where they were...
    assert_eq!(insight["total_workflows"], 3);
    assert_eq!(insight["total_steps"], 5);
    assert_eq!(insight["step_success_rates"]["build"], 2.0 / 3.0);
    // ...and each workflow has its own.
    let workflows = insight["workflows"].as_object().expect("per workflow");
    assert_eq!(workflows.keys().collect::<Vec<_>>(), ["ci", "release"]);
    let ci = &workflows["ci"];
    assert_eq!(ci["total_workflows"], 2);
    assert_eq!(ci["total_steps"], 4);
    assert_eq!(ci["overall_success_rate"], 1.0);
    assert_eq!(ci["step_success_rates"]["build"], 1.0);
    assert_eq!(ci["failure_hotspots"], serde_json::json!([]));
    assert_eq!(ci["duration_trend"].as_array().map(Vec::len), Some(1));
    let release = &workflows["release"];
    assert_eq!(release["total_workflows"], 1);
    assert_eq!(release["step_success_rates"]["build"], 0.0);
    assert_eq!(
        release["failure_hotspots"],
        serde_json::json!([["build", 1]])
    );
    assert!(release["step_success_rates"].get("test").is_none());

    // Filtered, the document is the workflow's own, without the map.
    let filtered = sb.json(&["insights", "--workflow", "ci", "--output", "json"]);
    assert_eq!(filtered["total_workflows"], 2);
    assert!(filtered.get("workflows").is_none());
    assert_eq!(&filtered["step_success_rates"], &ci["step_success_rates"]);

    let text = sb.dagflow().arg("insights").assert().success();
    let stdout = String::from_utf8_lossy(&text.get_output().stdout).to_string();
    let ci_at = stdout.find("== Workflow `ci`").expect(&stdout);
    let release_at = stdout.find("== Workflow `release`").expect(&stdout);
    assert!(
        stdout.starts_with("3 finished runs of 2 workflows: 66.7% succeeded"),
        "{stdout}"
    );
    assert!(ci_at < release_at, "{stdout}");
    let (ci_text, release_text) = stdout[ci_at..].split_at(release_at - ci_at);
    assert!(
        ci_text.contains("2 finished runs: 100.0% succeeded"),
        "{stdout}"
    );
    assert!(!ci_text.contains("Failure hotspots"), "{stdout}");
    assert!(
        release_text.contains("1 finished run: 0.0% succeeded"),
        "{stdout}"
    );
    assert!(release_text.contains("Failure hotspots"), "{stdout}");

    // A name the journal does not know is answered with the names it does.
    let unknown = sb
        .dagflow()
        .args(["insights", "--workflow", "deploy"])
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&unknown.get_output().stdout).to_string();
    assert_eq!(
        stdout.trim(),
        "No runs of workflow `deploy` in the journal; it holds runs of `ci` and `release`."
    );
}

#[test]
fn insights_of_many_workflows_give_one_line_to_each() {
    let sb = Sandbox::new();
    for i in 0..11 {
        let command = if i == 3 { "exit 1" } else { "'true'" };
        sb.write(
            &format!("w{i}.yml"),
            &format!("name: w{i:02}\ntasks:\n  - name: build\n    run: {command}\n"),
        );
        sb.run_json(&format!("w{i}.yml"), &[]);
    }
    let text = sb.dagflow().arg("insights").assert().success();
    let stdout = String::from_utf8_lossy(&text.get_output().stdout).to_string();
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("11 finished runs of 11 workflows: 90.9% succeeded"),
        "{stdout}"
    );
    assert!(!stdout.contains("== Workflow"), "{stdout}");
    let header = lines
        .iter()
        .position(|l| l.starts_with("WORKFLOW"))
        .expect(&stdout);
    let rows: Vec<Vec<&str>> = lines[header + 1..header + 12]
        .iter()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let names: Vec<&str> = rows.iter().map(|r| r[0]).collect();
    let expected: Vec<String> = (0..11).map(|i| format!("w{i:02}")).collect();
    assert_eq!(names, expected);
    assert_eq!(&rows[3][1..3], ["1", "0.0%"], "{stdout}");
    assert_eq!(&rows[4][1..3], ["1", "100.0%"], "{stdout}");
    assert_eq!(rows[4].last(), Some(&"1"), "{stdout}");
    assert!(
        stdout.contains("`dagflow insights --workflow NAME`"),
        "{stdout}"
    );

    // JSON has every workflow in full, however many.
    let insight = sb.json(&["insights", "--output", "json"]);
    let workflows = insight["workflows"].as_object().expect("per workflow");
    assert_eq!(workflows.len(), 11);
    assert_eq!(
        workflows["w03"]["failure_hotspots"],
        serde_json::json!([["build", 1]])
    );

    let unknown = sb
        .dagflow()
        .args(["insights", "--workflow", "w99"])
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&unknown.get_output().stdout).to_string();
    assert!(
        stdout.trim().ends_with("`w09`, ... (11 in all)."),
        "{stdout}"
    );
}

/// The rows of the text report's Steps table: each row's cells.
fn step_rows(stdout: &str) -> Vec<Vec<String>> {
    stdout
        .lines()
        .skip_while(|line| !line.starts_with("STEP  "))
        .skip(1)
        .take_while(|line| !line.is_empty())
        .map(|line| line.split_whitespace().map(str::to_string).collect())
        .collect()
}

#[test]
fn insights_list_steps_in_the_order_of_the_file() {
    let sb = Sandbox::new();
    sb.write("wf.yml", FLAKY);
    assert_eq!(sb.run_json("wf.yml", &[]).0, 0);
    let text = sb.dagflow().arg("insights").assert().success();
    let stdout = String::from_utf8_lossy(&text.get_output().stdout).to_string();
    let names: Vec<String> = step_rows(&stdout)
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    assert_eq!(names, ["extract", "transform", "load"], "{stdout}");

    // The latest run's file decides; a step it no longer has comes last.
    sb.write(
        "wf.yml",
        "name: nightly\ntasks:\n  - name: load\n    run: 'true'\n  - name: audit\n    run: 'true'\n  - name: extract\n    run: 'true'\n",
    );
    assert_eq!(sb.run_json("wf.yml", &[]).0, 0);
    let text = sb.dagflow().arg("insights").assert().success();
    let stdout = String::from_utf8_lossy(&text.get_output().stdout).to_string();
    let rows = step_rows(&stdout);
    let names: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(names, ["load", "audit", "extract", "transform"], "{stdout}");
    assert_eq!(rows[0][5], "2", "{stdout}");
    assert_eq!(rows[3][5], "1", "{stdout}");
}

#[test]
fn resume_reruns_only_what_did_not_complete() {
    let sb = Sandbox::new();
    sb.write(
        "wf.yml",
        "name: resumable
tasks:
  - name: download
    run: echo x >> download.count; echo '42'
  - name: process
    run: test -f fixed && echo \"processed $DAGFLOW_RESULT_DOWNLOAD\"
    depends_on: [download]
  - name: upload
    run: echo uploaded
    depends_on: [process]
",
    );
    let (code, first) = sb.run_json("wf.yml", &[]);
    assert_eq!(code, 1);
    assert_eq!(first["tasks"]["process"]["status"], "failed");
    let run_id = first["run_id"].as_str().unwrap();

    sb.write("fixed", "");
    let output = sb
        .dagflow()
        .args(["resume", run_id, "--output", "json"])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let resumed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(resumed["success"], true);
    assert_eq!(resumed["resumed_from"], run_id);
    assert_eq!(resumed["tasks"]["download"]["status"], "completed");
    assert_eq!(resumed["tasks"]["download"]["restored"], true);
    assert_eq!(resumed["tasks"]["process"]["result"], "processed 42");
    assert_eq!(
        sb.read("download.count").lines().count(),
        1,
        "download ran again"
    );

    let runs = sb.json(&["runs", "--output", "json"]);
    assert_eq!(runs[0]["resumed_from"], run_id);

    // The reused download is not a second outcome of download: the
    // analytics count what ran (3 steps, then 2), not what was restored.
    let insight = sb.json(&["insights", "--output", "json"]);
    assert_eq!(insight["total_workflows"], 2);
    assert_eq!(insight["total_steps"], 5);
    assert_eq!(insight["step_durations"]["download"]["samples"], 1);
    assert_eq!(insight["step_success_rates"]["process"], 0.5);
}

/// `a` completes, `b` fails, `c` and `d` never start; each task counts its
/// runs in `<name>.count`. `d` depends on `a` only.
const CHANGING: &str = "name: changing
fail_fast: false
tasks:
  - name: a
    run: echo a >> a.count; echo from-a
  - name: b
    run: echo b >> b.count; exit 1
    depends_on: [a]
  - name: c
    run: echo c >> c.count
    depends_on: [b]
  - name: d
    run: echo d >> d.count; exit 1
    depends_on: [a]
";

fn runs_of(sb: &Sandbox, task: &str) -> usize {
    sb.read(&format!("{task}.count")).lines().count()
}

#[test]
fn resume_refuses_an_edited_failed_task_and_says_what_changed() {
    let sb = Sandbox::new();
    sb.write("wf.yml", CHANGING);
    let (code, first) = sb.run_json("wf.yml", &[]);
    assert_eq!(code, 1);
    assert_eq!(first["tasks"]["b"]["status"], "failed");
    let run_id = first["run_id"].as_str().unwrap();

    // Fixing the task that failed is still a change of the workflow.
    sb.write(
        "wf.yml",
        &CHANGING.replace("echo b >> b.count; exit 1", "echo b >> b.count"),
    );
    let assert = sb.dagflow().args(["resume", run_id]).assert().code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert!(
        stderr.contains(&format!("the workflow changed since run `{run_id}`"))
            && stderr.contains(
                "the command of `b` changed from `echo b >> b.count; exit 1` to `echo b >> b.count`"
            )
            && stderr.contains(&format!("dagflow resume {run_id} --force")),
        "{stderr}"
    );
    assert_eq!(runs_of(&sb, "b"), 1, "a refused resume runs nothing");

    let runs = sb.json(&["runs", "--output", "json"]);
    assert_eq!(
        runs.as_array().map(Vec::len),
        Some(1),
        "no run was journaled"
    );
}

#[test]
fn resume_lists_added_removed_and_rewired_tasks() {
    let sb = Sandbox::new();
    sb.write("wf.yml", CHANGING);
    let (_, first) = sb.run_json("wf.yml", &[]);
    let run_id = first["run_id"].as_str().unwrap();

    let edited = CHANGING
        .replace("    depends_on: [b]\n", "    depends_on: [a]\n")
        .replace(
            "  - name: d\n    run: echo d >> d.count; exit 1\n    depends_on: [a]\n",
            "",
        )
        + "  - name: e\n    run: 'true'\n";
    sb.write("edited.yml", &edited);
    let assert = sb
        .dagflow()
        .args(["resume", run_id, "edited.yml"])
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    for expected in [
        "the dependencies of `c` changed from [b] to [a]",
        "task `e` was added",
        "task `d` was removed",
        &format!("dagflow resume {run_id} edited.yml --force"),
    ] {
        assert!(
            stderr.contains(expected),
            "missing {expected:?} in {stderr}"
        );
    }
}

#[test]
fn forced_resume_reruns_the_edited_task_and_its_dependents_and_restores_the_rest() {
    let sb = Sandbox::new();
    sb.write("wf.yml", CHANGING);
    let (_, first) = sb.run_json("wf.yml", &[]);
    let run_id = first["run_id"].as_str().unwrap();
    assert_eq!(
        [
            runs_of(&sb, "a"),
            runs_of(&sb, "b"),
            runs_of(&sb, "c"),
            runs_of(&sb, "d")
        ],
        [1, 1, 0, 1]
    );

    // Fix `b`; `d` failed too and runs again, unchanged.
    sb.write(
        "wf.yml",
        &CHANGING
            .replace("echo b >> b.count; exit 1", "echo b >> b.count")
            .replace("echo d >> d.count; exit 1", "echo d >> d.count"),
    );
    let output = sb
        .dagflow()
        .args(["resume", run_id, "--force", "--output", "json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("1 completed task restored, 3 to run (changed since the run: b, d)"),
        "{stderr}"
    );
    let resumed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(resumed["resumed_from"], run_id);
    assert_eq!(resumed["tasks"]["a"]["restored"], true);
    assert_eq!(resumed["tasks"]["a"]["result"], "from-a");
    for task in ["b", "c", "d"] {
        assert_eq!(resumed["tasks"][task]["status"], "completed", "{task}");
    }
    assert_eq!(
        [
            runs_of(&sb, "a"),
            runs_of(&sb, "b"),
            runs_of(&sb, "c"),
            runs_of(&sb, "d")
        ],
        [1, 2, 1, 2],
        "a restored, not rerun; b, c and d ran"
    );
}

#[test]
fn forced_resume_reruns_a_changed_completed_task_and_everything_after_it() {
    let sb = Sandbox::new();
    sb.write("wf.yml", CHANGING);
    let (_, first) = sb.run_json("wf.yml", &[]);
    let run_id = first["run_id"].as_str().unwrap();
    sb.write(
        "wf.yml",
        &CHANGING
            .replace(
                "echo a >> a.count; echo from-a",
                "echo a >> a.count; echo A",
            )
            .replace("echo b >> b.count; exit 1", "echo b >> b.count")
            .replace("echo d >> d.count; exit 1", "echo d >> d.count"),
    );
    let output = sb
        .dagflow()
        .args(["resume", run_id, "--force", "--output", "json"])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let resumed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(resumed["tasks"]["a"]["result"], "A");
    assert_ne!(resumed["tasks"]["a"]["restored"], true);
    assert_eq!(
        [
            runs_of(&sb, "a"),
            runs_of(&sb, "b"),
            runs_of(&sb, "c"),
            runs_of(&sb, "d")
        ],
        [2, 2, 1, 2],
        "a changed, so it and everything after it ran"
    );
}

#[test]
fn resume_of_a_resumed_run_restores_results_from_the_first_run() {
    let sb = Sandbox::new();
    sb.write(
        "wf.yml",
        "name: chain
tasks:
  - name: a
    run: echo a >> a.count; echo 42
  - name: b
    run: test -f b.ok
    depends_on: [a]
  - name: c
    run: test -f c.ok && echo \"got $DAGFLOW_RESULT_A\"
    depends_on: [a, b]
",
    );
    let (_, first) = sb.run_json("wf.yml", &[]);
    let first_id = first["run_id"].as_str().unwrap();
    sb.write("b.ok", "");
    let output = sb
        .dagflow()
        .args(["resume", first_id, "--output", "json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "c fails in the second run");
    let second: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(second["tasks"]["c"]["status"], "failed");
    let second_id = second["run_id"].as_str().unwrap();

    sb.write("c.ok", "");
    let third = sb.json(&["resume", second_id, "--output", "json"]);
    assert_eq!(third["success"], true);
    assert_eq!(third["tasks"]["a"]["restored"], true);
    assert_eq!(third["tasks"]["b"]["restored"], true);
    assert_eq!(third["tasks"]["c"]["result"], "got 42");
    assert_eq!(runs_of(&sb, "a"), 1, "a ran in the first run only");
}

#[test]
fn resume_of_a_successful_run_is_refused() {
    let sb = Sandbox::new();
    sb.write(
        "wf.yml",
        "name: done\ntasks:\n  - name: t\n    run: 'true'\n",
    );
    let (_, report) = sb.run_json("wf.yml", &[]);
    let assert = sb
        .dagflow()
        .args(["resume", report["run_id"].as_str().unwrap()])
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert!(stderr.contains("nothing to resume"), "{stderr}");
}
