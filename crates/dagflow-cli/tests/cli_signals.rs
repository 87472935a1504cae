//! Signals to `dagflow run`: Ctrl-C cancels and journals the run (exit 130),
//! a second Ctrl-C kills at once, SIGTERM stops it too (exit 143); no task
//! process survives any of them.

mod common;

use std::time::{Duration, Instant};

use common::{alive, send_signal, spawn_dagflow, wait_for_file, Sandbox};
use serde_json::Value;

#[cfg(unix)]
#[test]
fn ctrl_c_cancels_journals_and_exits_130() {
    let sb = Sandbox::new();
    sb.write(
        "wf.yml",
        "name: interrupted\ntasks:\n  - name: quick\n    run: echo done\n  - name: long\n    run: echo $$ > shell.pid; sleep 30 & echo $! > child.pid; wait\n    depends_on: [quick]\n  - name: after\n    run: 'true'\n    depends_on: [long]\n",
    );
    let child = spawn_dagflow(&sb, &["run", "wf.yml", "--output", "json", "--grace", "1s"]);
    wait_for_file(&sb, "child.pid");
    send_signal(child.id(), libc::SIGINT);
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["tasks"]["long"]["status"], "cancelled");
    assert_eq!(
        report["tasks"]["quick"]["result"], "done",
        "completed results survive a cancel"
    );
    assert_eq!(report["tasks"]["after"]["status"], "cancelled");
    for file in ["shell.pid", "child.pid"] {
        let pid: i32 = sb.read(file).trim().parse().unwrap();
        assert!(!alive(pid), "{file} survived Ctrl-C");
    }
    let runs = sb.json(&["runs", "--output", "json"]);
    assert_eq!(runs[0]["status"], "cancelled");
}

#[cfg(unix)]
#[test]
fn second_ctrl_c_kills_at_once() {
    let sb = Sandbox::new();
    sb.write(
        "wf.yml",
        "name: stubborn\ntasks:\n  - name: t\n    run: trap '' TERM; echo $$ > shell.pid; while true; do sleep 0.1; done\n",
    );
    let child = spawn_dagflow(
        &sb,
        &["run", "wf.yml", "--output", "json", "--grace", "60s"],
    );
    wait_for_file(&sb, "shell.pid");
    let started = Instant::now();
    send_signal(child.id(), libc::SIGINT);
    std::thread::sleep(Duration::from_millis(300));
    send_signal(child.id(), libc::SIGINT);
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the 60 s grace period was not cut short"
    );
    let pid: i32 = sb.read("shell.pid").trim().parse().unwrap();
    assert!(!alive(pid), "the task survived the second Ctrl-C");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["tasks"]["t"]["status"], "cancelled");
}

#[cfg(unix)]
#[test]
fn sigterm_stops_the_run_and_exits_143() {
    let sb = Sandbox::new();
    sb.write(
        "wf.yml",
        "name: terminated\ntasks:\n  - name: t\n    run: echo $$ > shell.pid; sleep 30\n",
    );
    let child = spawn_dagflow(&sb, &["run", "wf.yml", "--output", "json", "--grace", "1s"]);
    wait_for_file(&sb, "shell.pid");
    send_signal(child.id(), libc::SIGTERM);
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(143));
    let pid: i32 = sb.read("shell.pid").trim().parse().unwrap();
    assert!(!alive(pid), "the task survived SIGTERM to dagflow");
}
