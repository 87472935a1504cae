//! `dagflow run` end to end: the real binary, real processes, a real journal.

mod common;

use std::time::{Duration, Instant};

use common::{alive, Sandbox};
use serde_json::{json, Value};

#[test]
fn successful_run_exits_0_and_reports_every_task() {
    let sb = Sandbox::new();
    sb.write(
        "wf.yml",
        "name: hello\ntasks:\n  - name: greet\n    run: echo hello\n  - name: shout\n    cmd: [printf, '{\"loud\": true}']\n    depends_on: [greet]\n",
    );
    let (code, report) = sb.run_json("wf.yml", &[]);
    assert_eq!(code, 0);
    assert_eq!(report["workflow"], "hello");
    assert_eq!(report["success"], true);
    assert!(report["run_id"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(report["duration_ms"].as_f64().is_some());
    let greet = &report["tasks"]["greet"];
    assert_eq!(greet["status"], "completed");
    assert_eq!(greet["attempts"], 1);
    assert_eq!(greet["exit_code"], 0);
    assert_eq!(greet["result"], "hello");
    assert_eq!(greet["error"], Value::Null);
    assert!(greet["duration_ms"].as_f64().is_some());
    assert_eq!(report["tasks"]["shout"]["result"], json!({"loud": true}));
}

#[test]
fn json_report_has_exactly_the_documented_shape() {
    let sb = Sandbox::new();
    sb.write(
        "wf.yml",
        "name: shape\ntasks:\n  - name: a\n    run: echo 1\n",
    );
    let (_, report) = sb.run_json("wf.yml", &[]);
    let mut keys: Vec<&str> = report
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["duration_ms", "run_id", "success", "tasks", "workflow"]
    );
    let mut task_keys: Vec<&str> = report["tasks"]["a"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    task_keys.sort_unstable();
    assert_eq!(
        task_keys,
        [
            "attempts",
            "duration_ms",
            "error",
            "exit_code",
            "result",
            "status"
        ]
    );
}

#[test]
fn failed_task_exits_1_and_skips_its_dependents() {
    let sb = Sandbox::new();
    sb.write(
        "wf.yml",
        "name: broken\nfail_fast: false\ntasks:\n  - name: build\n    run: echo 'compiler says no' >&2; exit 3\n  - name: test\n    run: echo never\n    depends_on: [build]\n",
    );
    let (code, report) = sb.run_json("wf.yml", &[]);
    assert_eq!(code, 1);
    assert_eq!(report["success"], false);
    let build = &report["tasks"]["build"];
    assert_eq!(build["status"], "failed");
    assert_eq!(build["exit_code"], 3);
    let error = build["error"].as_str().unwrap();
    assert!(
        error.contains("exited with code 3") && error.contains("compiler says no"),
        "{error}"
    );
    assert_eq!(report["tasks"]["test"]["status"], "skipped");
}

#[test]
fn fail_fast_cancels_tasks_not_started_yet() {
    let sb = Sandbox::new();
    sb.write(
        "wf.yml",
        "name: ff\ntasks:\n  - name: a\n    run: exit 1\n  - name: b\n    run: touch b-ran\n    depends_on: [a]\n",
    );
    let (code, report) = sb.run_json("wf.yml", &[]);
    assert_eq!(code, 1);
    assert_eq!(report["tasks"]["b"]["status"], "cancelled");
    assert!(report["tasks"]["b"]["reason"]
        .as_str()
        .unwrap()
        .contains("fail-fast"));
    assert!(!sb.file("b-ran").exists());
}

#[test]
fn invalid_file_exits_2_with_its_line_and_runs_nothing() {
    let sb = Sandbox::new();
    sb.write(
        "wf.yml",
        "name: bad\ntasks:\n  - name: a\n    run: touch ran\n  - name: b\n    run: echo\n    depends_on: [missing]\n",
    );
    let assert = sb.dagflow().args(["run", "wf.yml"]).assert().code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert!(stderr.contains("wf.yml:7:18"), "{stderr}");
    assert!(stderr.contains("depends on `missing`"), "{stderr}");
    assert!(
        !sb.file("ran").exists(),
        "a task ran although the file is invalid"
    );
}

#[test]
fn missing_file_and_bad_flags_exit_2() {
    let sb = Sandbox::new();
    sb.dagflow().args(["run", "nope.yml"]).assert().code(2);
    sb.write("wf.yml", "name: x\ntasks:\n  - name: a\n    run: 'true'\n");
    sb.dagflow()
        .args(["run", "wf.yml", "--concurrency", "0"])
        .assert()
        .code(2);
    sb.dagflow()
        .args(["run", "wf.yml", "--no-such-flag"])
        .assert()
        .code(2);
}

#[test]
fn postgres_journal_is_refused_with_exit_2() {
    let sb = Sandbox::new();
    sb.write(
        "wf.yml",
        "name: x\ntasks:\n  - name: a\n    run: touch ran\n",
    );
    let assert = sb
        .dagflow()
        .args([
            "run",
            "wf.yml",
            "--journal",
            "postgres://db.example/dagflow",
        ])
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert!(stderr.contains("not supported yet"), "{stderr}");
    assert!(!sb.file("ran").exists());
}

#[test]
fn dependencies_order_the_tasks() {
    let sb = Sandbox::new();
    sb.write(
        "wf.yml",
        "name: order
tasks:
  - name: deploy
    run: echo deploy >> log
    depends_on: [test, docs]
  - name: test
    run: sleep 0.2; echo test >> log
    depends_on: [build]
  - name: docs
    run: echo docs >> log
    depends_on: [build]
  - name: build
    run: echo build >> log
",
    );
    let (code, _) = sb.run_json("wf.yml", &[]);
    assert_eq!(code, 0);
    let log = sb.read("log");
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0], "build");
    assert_eq!(lines[3], "deploy");
    assert!(lines[1..3].contains(&"test") && lines[1..3].contains(&"docs"));
}

#[test]
fn independent_tasks_run_in_parallel() {
    let sb = Sandbox::new();
    sb.write(
        "wf.yml",
        "name: par\nconcurrency: 2\ntasks:\n  - name: a\n    run: sleep 1\n  - name: b\n    run: sleep 1\n",
    );
    let started = Instant::now();
    let (code, _) = sb.run_json("wf.yml", &[]);
    let elapsed = started.elapsed();
    assert_eq!(code, 0);
    assert!(
        elapsed < Duration::from_millis(1800),
        "two 1 s sleeps took {elapsed:?}"
    );
}

#[test]
fn concurrency_flag_limits_parallelism() {
    let sb = Sandbox::new();
    sb.write(
        "wf.yml",
        "name: serial\ntasks:\n  - name: a\n    run: sleep 0.5\n  - name: b\n    run: sleep 0.5\n",
    );
    let started = Instant::now();
    let (code, _) = sb.run_json("wf.yml", &["--concurrency", "1"]);
    assert_eq!(code, 0);
    assert!(
        started.elapsed() >= Duration::from_millis(1000),
        "tasks overlapped with --concurrency 1"
    );
}

#[test]
fn failing_attempts_are_retried_until_success() {
    let sb = Sandbox::new();
    sb.write(
        "wf.yml",
        "name: flaky
tasks:
  - name: fetch
    run: |
      echo x >> attempts
      [ $(wc -l < attempts) -ge 3 ] || exit 1
      echo fetched
    retry: {max_attempts: 5, initial_delay: 10ms, backoff: 1.0}
",
    );
    let (code, report) = sb.run_json("wf.yml", &[]);
    assert_eq!(code, 0);
    assert_eq!(sb.read("attempts").lines().count(), 3);
    assert_eq!(report["tasks"]["fetch"]["attempts"], 3);
    assert_eq!(report["tasks"]["fetch"]["result"], "fetched");
}

#[test]
fn retries_stop_at_max_attempts() {
    let sb = Sandbox::new();
    sb.write(
        "wf.yml",
        "name: hopeless\ntasks:\n  - name: t\n    run: echo x >> attempts; exit 1\n    retry: {max_attempts: 3, initial_delay: 10ms}\n",
    );
    let (code, report) = sb.run_json("wf.yml", &[]);
    assert_eq!(code, 1);
    assert_eq!(sb.read("attempts").lines().count(), 3);
    assert_eq!(report["tasks"]["t"]["attempts"], 3);
}

#[test]
fn on_exit_codes_retries_only_the_listed_codes() {
    let sb = Sandbox::new();
    sb.write(
        "wf.yml",
        "name: codes
fail_fast: false
tasks:
  - name: temporary
    run: echo x >> temporary; [ $(wc -l < temporary) -ge 2 ] || exit 75
    retry: {max_attempts: 4, initial_delay: 10ms, on_exit_codes: [75]}
  - name: permanent
    run: echo x >> permanent; exit 3
    retry: {max_attempts: 4, initial_delay: 10ms, on_exit_codes: [75]}
",
    );
    let (code, report) = sb.run_json("wf.yml", &[]);
    assert_eq!(code, 1);
    assert_eq!(report["tasks"]["temporary"]["status"], "completed");
    assert_eq!(sb.read("temporary").lines().count(), 2);
    assert_eq!(report["tasks"]["permanent"]["status"], "failed");
    assert_eq!(report["tasks"]["permanent"]["exit_code"], 3);
    assert_eq!(
        sb.read("permanent").lines().count(),
        1,
        "exit code 3 is not in on_exit_codes"
    );
}

#[test]
fn timeout_fails_the_task_and_leaves_no_process() {
    let sb = Sandbox::new();
    sb.write(
        "wf.yml",
        "name: slow\ntasks:\n  - name: hang\n    run: sleep 30 & echo $! > child.pid; echo $$ > shell.pid; wait\n    timeout: 500ms\n",
    );
    let started = Instant::now();
    let (code, report) = sb.run_json("wf.yml", &["--grace", "1s"]);
    assert_eq!(code, 1);
    assert!(started.elapsed() < Duration::from_secs(10));
    let hang = &report["tasks"]["hang"];
    assert_eq!(hang["status"], "failed");
    assert!(
        hang["error"].as_str().unwrap().contains("timed out"),
        "{hang}"
    );
    for file in ["child.pid", "shell.pid"] {
        let pid: i32 = sb.read(file).trim().parse().expect("pid file");
        assert!(!alive(pid), "{file} ({pid}) survived the timeout");
    }
}

#[test]
fn timeout_kills_processes_that_ignore_sigterm() {
    let sb = Sandbox::new();
    sb.write(
        "wf.yml",
        "name: stubborn\ntasks:\n  - name: t\n    run: trap '' TERM; echo $$ > shell.pid; while true; do sleep 0.1; done\n    timeout: 300ms\n",
    );
    let (code, _) = sb.run_json("wf.yml", &["--grace", "300ms"]);
    assert_eq!(code, 1);
    let pid: i32 = sb.read("shell.pid").trim().parse().expect("pid file");
    assert!(!alive(pid), "a process ignoring SIGTERM survived");
}

#[test]
fn workflow_timeout_cancels_and_exits_1() {
    let sb = Sandbox::new();
    sb.write(
        "wf.yml",
        "name: long\ntimeout: 500ms\ntasks:\n  - name: t\n    run: sleep 30\n  - name: after\n    run: 'true'\n    depends_on: [t]\n",
    );
    let (code, report) = sb.run_json("wf.yml", &["--grace", "200ms"]);
    assert_eq!(code, 1);
    assert_eq!(report["success"], false);
    assert_eq!(report["tasks"]["t"]["status"], "cancelled");
    assert_eq!(report["tasks"]["after"]["status"], "cancelled");
}

#[test]
fn conditions_decide_which_tasks_run() {
    let sb = Sandbox::new();
    sb.write(
        "wf.yml",
        r#"name: cond
tasks:
  - name: check
    run: |
      echo '{"rows": 12, "mode": "full"}'
  - name: load
    run: touch loaded
    depends_on: [check]
    when: tasks.check.result.rows > 10 && tasks.check.status == "completed"
  - name: alert
    run: touch alerted
    depends_on: [check]
    when: tasks.check.result.rows == 0
  - name: by-env
    run: touch by-env
    depends_on: [check]
    when: env.TARGET == "prod"
"#,
    );
    let output = sb
        .dagflow()
        .args(["run", "wf.yml", "--output", "json"])
        .env("TARGET", "prod")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["tasks"]["load"]["status"], "completed");
    assert_eq!(report["tasks"]["alert"]["status"], "skipped");
    assert_eq!(report["tasks"]["by-env"]["status"], "completed");
    assert!(sb.file("loaded").exists());
    assert!(!sb.file("alerted").exists());
}

#[test]
fn results_and_run_facts_arrive_in_environment_variables() {
    let sb = Sandbox::new();
    sb.write(
        "wf.yml",
        r#"name: env
env: {GREETING: hi}
tasks:
  - name: count-rows
    run: |
      echo '{"rows": 3}'
  - name: label
    run: echo 'text; $(touch injected)'
  - name: use
    depends_on: [count-rows, label]
    env: {GREETING: hello}
    run: |
      printf '%s\n' "$DAGFLOW_RESULT_COUNT_ROWS" "$DAGFLOW_RESULT_LABEL" "$DAGFLOW_TASK" "$DAGFLOW_ATTEMPT" "$DAGFLOW_RUN_ID" "$GREETING" > seen
"#,
    );
    let (code, report) = sb.run_json("wf.yml", &[]);
    assert_eq!(code, 0);
    let seen = sb.read("seen");
    let lines: Vec<&str> = seen.lines().collect();
    assert_eq!(lines[0], r#"{"rows":3}"#);
    assert_eq!(lines[1], "text; $(touch injected)");
    assert_eq!(lines[2], "use");
    assert_eq!(lines[3], "1");
    assert_eq!(lines[4], report["run_id"].as_str().unwrap());
    assert_eq!(lines[5], "hello", "the task's env wins over the workflow's");
    assert!(
        !sb.file("injected").exists(),
        "a result was executed as shell code"
    );
}

#[test]
fn workdir_sets_the_directory_of_a_task() {
    let sb = Sandbox::new();
    std::fs::create_dir(sb.file("data")).unwrap();
    sb.write(
        "wf.yml",
        "name: wd\ntasks:\n  - name: t\n    run: pwd > here\n    workdir: data\n",
    );
    let (code, _) = sb.run_json("wf.yml", &[]);
    assert_eq!(code, 0);
    assert!(sb.read("data/here").trim().ends_with("/data"));
}

#[test]
fn json_output_keeps_stdout_clean_while_tasks_print() {
    let sb = Sandbox::new();
    sb.write(
        "wf.yml",
        "name: noisy\ntasks:\n  - name: a\n    run: for i in 1 2 3; do echo line $i; echo warn $i >&2; done\n",
    );
    let output = sb
        .dagflow()
        .args(["run", "wf.yml", "--output", "json"])
        .output()
        .unwrap();
    let report: Value =
        serde_json::from_slice(&output.stdout).expect("stdout is exactly one JSON document");
    assert_eq!(report["tasks"]["a"]["result"], "line 1\nline 2\nline 3");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("a | line 2"), "{stderr}");
    assert!(stderr.contains("a ! warn 3"), "{stderr}");
}

#[test]
fn parallel_output_lines_are_never_mixed() {
    let sb = Sandbox::new();
    let line = "x".repeat(3000);
    sb.write(
        "wf.yml",
        &format!(
            "name: lines\ntasks:\n  - name: a\n    run: for i in $(seq 200); do echo A{line}; done\n  - name: b\n    run: for i in $(seq 200); do echo B{line}; done\n"
        ),
    );
    let output = sb
        .dagflow()
        .args(["run", "wf.yml", "--output", "json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let mut seen = 0;
    for l in stderr.lines().filter(|l| l.contains(" | ")) {
        let text = l.split(" | ").nth(1).unwrap();
        assert!(
            text == format!("A{line}") || text == format!("B{line}"),
            "mixed line: {}",
            &l[..80.min(l.len())]
        );
        seen += 1;
    }
    assert_eq!(seen, 400);
}

#[test]
fn text_output_prints_a_summary_table() {
    let sb = Sandbox::new();
    sb.write(
        "wf.yml",
        "name: txt\ntasks:\n  - name: compile\n    run: 'true'\n",
    );
    let assert = sb.dagflow().args(["run", "wf.yml"]).assert().code(0);
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).to_string();
    assert!(
        stdout.contains("TASK") && stdout.contains("STATUS"),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("compile") && l.contains("completed")),
        "{stdout}"
    );
    assert!(stdout.contains("succeeded"), "{stdout}");
    assert!(!stdout.contains("dagflow resume"), "{stdout}");
}

#[test]
fn a_failed_run_prints_the_command_that_resumes_it() {
    let sb = Sandbox::new();
    sb.write(
        "wf.yml",
        "name: flaky\ntasks:\n  - name: first\n    run: echo once >> first.log\n  - name: second\n    run: test -f fixed\n    depends_on: [first]\n",
    );
    let assert = sb.dagflow().args(["run", "wf.yml"]).assert().code(1);
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).to_string();
    let hint = stdout
        .lines()
        .find_map(|l| l.strip_prefix("to continue without redoing what completed: "))
        .unwrap_or_else(|| panic!("no resume hint in:\n{stdout}"));
    let args: Vec<&str> = hint.split_whitespace().collect();
    assert_eq!(args.len(), 3, "{hint}");
    assert_eq!(args[..2], ["dagflow", "resume"]);
    // The printed command works as printed, and `first` does not run again.
    sb.write("fixed", "");
    sb.dagflow().args(&args[1..]).assert().code(0);
    assert_eq!(
        std::fs::read_to_string(sb.path().join("first.log")).unwrap(),
        "once\n"
    );
}

#[test]
fn condition_that_cannot_be_evaluated_fails_the_task() {
    let sb = Sandbox::new();
    sb.write(
        "wf.yml",
        "name: typo\ntasks:\n  - name: deploy\n    run: touch deployed\n    when: env.NOT_SET_ANYWHERE == \"yes\"\n    retry: {max_attempts: 3, initial_delay: 10ms}\n",
    );
    let (code, report) = sb.run_json("wf.yml", &[]);
    assert_eq!(code, 1);
    let deploy = &report["tasks"]["deploy"];
    assert_eq!(deploy["status"], "failed");
    assert_eq!(deploy["attempts"], 1, "a broken condition is not retried");
    assert!(
        deploy["error"]
            .as_str()
            .unwrap()
            .contains("No such key: NOT_SET_ANYWHERE"),
        "{deploy}"
    );
    assert!(!sb.file("deployed").exists());
}
