//! The process runner against real processes: exit codes, output, groups,
//! SIGTERM then SIGKILL, nothing left behind.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dagflow_cli::process::{Exit, ProcessError, ProcessRequest, ProcessRunner, Stream};
use dagflow_cli::spec::CommandSpec;
use tokio_util::sync::CancellationToken;

mod common;
use common::alive;

fn shell(label: &str, text: &str) -> ProcessRequest {
    ProcessRequest::new(label, CommandSpec::Shell(text.into()))
}

fn argv(label: &str, words: &[&str]) -> ProcessRequest {
    let words = words.iter().map(|w| w.to_string()).collect();
    ProcessRequest::new(label, CommandSpec::Argv(words))
}

/// `request` with PATH set to `dirs` followed by the inherited PATH.
fn with_path(mut request: ProcessRequest, dirs: &[&Path]) -> ProcessRequest {
    let inherited = std::env::var_os("PATH").unwrap_or_default();
    let dirs = dirs.iter().map(|d| d.to_path_buf());
    let path = std::env::join_paths(dirs.chain(std::env::split_paths(&inherited))).unwrap();
    request
        .env
        .push(("PATH".into(), path.into_string().unwrap()));
    request
}

/// Writes an executable script from a child process, so that no thread of
/// this test binary holds it open for writing while it is started (that
/// would fail with "text file busy").
fn install_script(dir: &Path, name: &str, body: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    let status = std::process::Command::new("/bin/sh")
        .args([
            "-c",
            "printf '#!/bin/sh\\n%s\\n' \"$2\" > \"$1\" && chmod 755 \"$1\"",
        ])
        .arg("sh")
        .arg(&path)
        .arg(body)
        .status()
        .unwrap();
    assert!(status.success());
    path
}

fn missing_program_message(program: &str) -> String {
    format!(
        "task `t`: cannot start `{program}`: No such file or directory (os error 2); \
         check that it is installed and on PATH"
    )
}

fn read_pids(path: &Path) -> Vec<i32> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

async fn wait_for_file(path: &Path, words: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while read_pids(path).len() < words {
        assert!(
            Instant::now() < deadline,
            "{} never got {words} pids",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn assert_all_gone(pids: &[i32]) {
    let deadline = Instant::now() + Duration::from_secs(3);
    while pids.iter().any(|&p| alive(p)) {
        assert!(
            Instant::now() < deadline,
            "processes still alive: {:?}",
            pids.iter().filter(|&&p| alive(p)).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn exit_code_stdout_and_stderr_are_captured() {
    let runner = ProcessRunner::new(Duration::from_secs(1));
    let out = runner
        .run(
            &shell("t", "echo out; echo err >&2; exit 3"),
            &CancellationToken::new(),
        )
        .await
        .unwrap();
    assert_eq!(out.exit, Exit::Code(3));
    assert_eq!(out.stdout.head(), b"out\n");
    assert_eq!(out.stderr.tail_text(), "err\n");
}

#[tokio::test]
async fn argv_commands_run_without_a_shell() {
    let runner = ProcessRunner::new(Duration::from_secs(1));
    let request = ProcessRequest::new(
        "t",
        CommandSpec::Argv(vec![
            "printf".into(),
            "%s|".into(),
            "a b".into(),
            "$HOME".into(),
        ]),
    );
    let out = runner
        .run(&request, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(out.stdout.head(), b"a b|$HOME|");
}

#[tokio::test]
async fn environment_and_workdir_are_applied() {
    let dir = tempfile::tempdir().unwrap();
    let runner = ProcessRunner::new(Duration::from_secs(1));
    let mut request = shell("t", "printf '%s %s' \"$GREETING\" \"$(pwd)\"");
    request.env.push(("GREETING".into(), "hi".into()));
    request.workdir = Some(dir.path().to_path_buf());
    let out = runner
        .run(&request, &CancellationToken::new())
        .await
        .unwrap();
    let expected = format!("hi {}", dir.path().canonicalize().unwrap().display());
    assert_eq!(String::from_utf8_lossy(out.stdout.head()), expected);
}

#[tokio::test]
async fn missing_workdir_is_a_clear_error() {
    let runner = ProcessRunner::new(Duration::from_secs(1));
    let mut request = shell("load", "true");
    request.workdir = Some("/definitely/not/here".into());
    let err = runner
        .run(&request, &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(matches!(err, ProcessError::MissingWorkdir { .. }));
    assert!(err
        .to_string()
        .contains("task `load`: the working directory `/definitely/not/here` does not exist"));
}

#[tokio::test]
async fn unknown_program_is_a_spawn_error() {
    let runner = ProcessRunner::new(Duration::from_secs(1));
    let err = runner
        .run(
            &argv("t", &["no-such-program-xyz"]),
            &CancellationToken::new(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ProcessError::Spawn { .. }));
    assert_eq!(
        err.to_string(),
        missing_program_message("no-such-program-xyz")
    );
}

#[tokio::test]
async fn lines_reach_the_sink_whole_and_in_order() {
    let lines: Arc<Mutex<Vec<(String, Stream, String)>>> = Arc::default();
    let seen = Arc::clone(&lines);
    let runner = ProcessRunner::new(Duration::from_secs(1)).with_line_sink(Arc::new(
        move |task: &str, stream: Stream, line: &str| {
            seen.lock()
                .unwrap()
                .push((task.into(), stream, line.into()));
        },
    ));
    runner
        .run(
            &shell(
                "job",
                "printf 'a'; sleep 0.05; printf 'b\\nc\\n'; echo e >&2",
            ),
            &CancellationToken::new(),
        )
        .await
        .unwrap();
    let lines = lines.lock().unwrap();
    let stdout: Vec<&str> = lines
        .iter()
        .filter(|l| l.1 == Stream::Stdout)
        .map(|l| l.2.as_str())
        .collect();
    assert_eq!(stdout, ["ab", "c"]);
    assert!(lines
        .iter()
        .any(|l| l.1 == Stream::Stderr && l.2 == "e" && l.0 == "job"));
}

#[tokio::test]
async fn cancellation_stops_the_whole_group() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    let runner = ProcessRunner::new(Duration::from_secs(2));
    let cancel = CancellationToken::new();
    let script = format!(
        "sleep 30 & echo $! >> {p}; sh -c 'sleep 30' & echo $! >> {p}; echo $$ >> {p}; wait",
        p = pids.display()
    );
    let request = shell("t", &script);
    let run = runner.run(&request, &cancel);
    let pids_path = pids.clone();
    let cancel2 = cancel.clone();
    let (result, _) = tokio::join!(run, async move {
        wait_for_file(&pids_path, 3).await;
        cancel2.cancel();
    });
    assert!(matches!(result, Err(ProcessError::Stopped { .. })));
    assert_all_gone(&read_pids(&pids)).await;
    runner.groups().shutdown(Duration::from_secs(1)).await;
    assert!(runner.groups().is_empty());
}

#[tokio::test]
async fn processes_ignoring_sigterm_are_killed_after_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    let runner = ProcessRunner::new(Duration::from_millis(300));
    let cancel = CancellationToken::new();
    let script = format!(
        "trap '' TERM; echo $$ >> {p}; while true; do sleep 0.05; done",
        p = pids.display()
    );
    let request = shell("stubborn", &script);
    let started = Instant::now();
    let pids_path = pids.clone();
    let cancel2 = cancel.clone();
    let (result, _) = tokio::join!(runner.run(&request, &cancel), async move {
        wait_for_file(&pids_path, 1).await;
        cancel2.cancel();
    });
    assert!(matches!(result, Err(ProcessError::Stopped { .. })));
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "SIGKILL came before the grace period"
    );
    assert_all_gone(&read_pids(&pids)).await;
}

#[tokio::test]
async fn dropping_the_future_stops_the_group() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    let runner = ProcessRunner::new(Duration::from_millis(500));
    let script = format!(
        "sleep 30 & echo $! >> {p}; echo $$ >> {p}; wait",
        p = pids.display()
    );
    let request = shell("t", &script);
    let cancel = CancellationToken::new();
    // A timeout drops the run future, as the engine does on a task timeout.
    let outcome =
        tokio::time::timeout(Duration::from_millis(300), runner.run(&request, &cancel)).await;
    assert!(outcome.is_err());
    wait_for_file(&pids, 2).await;
    assert_all_gone(&read_pids(&pids)).await;
    runner.groups().shutdown(Duration::from_millis(500)).await;
    assert!(runner.groups().is_empty());
}

#[tokio::test]
async fn background_processes_left_behind_are_stopped_and_do_not_block() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    let runner = ProcessRunner::new(Duration::from_millis(500));
    let script = format!("sleep 30 & echo $! >> {p}; echo done", p = pids.display());
    let started = Instant::now();
    let out = runner
        .run(&shell("t", &script), &CancellationToken::new())
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "waited on the background process"
    );
    assert_eq!(out.stdout.head(), b"done\n");
    assert_all_gone(&read_pids(&pids)).await;
}

#[tokio::test]
async fn stdout_beyond_the_result_limit_is_marked_truncated() {
    let runner = ProcessRunner::new(Duration::from_secs(1)).with_capture_limits(10, 8);
    let out = runner
        .run(&shell("t", "seq 1 1000"), &CancellationToken::new())
        .await
        .unwrap();
    assert!(out.stdout.head_truncated());
    assert_eq!(out.stdout.head(), b"1\n2\n3\n4\n5\n");
    assert_eq!(out.stdout.tail_text(), "1000\n");
}

#[tokio::test]
async fn killed_process_reports_its_signal() {
    let runner = ProcessRunner::new(Duration::from_secs(1));
    let out = runner
        .run(&shell("t", "kill -9 $$"), &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(out.exit, Exit::Signal(9));
    assert_eq!(out.exit.to_string(), "was killed by signal 9 (SIGKILL)");
}

#[tokio::test]
async fn bare_program_on_path_runs_with_the_name_as_written_in_argv0() {
    let runner = ProcessRunner::new(Duration::from_secs(1));
    let request = argv("t", &["cat", "/proc/self/cmdline"]);
    // The second start uses the path remembered from the first.
    for _ in 0..2 {
        let out = runner
            .run(&request, &CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(out.exit, Exit::Code(0));
        assert_eq!(out.stdout.head(), b"cat\0/proc/self/cmdline\0");
    }
}

#[tokio::test]
async fn shell_commands_start_sh_with_the_name_sh_in_argv0() {
    let runner = ProcessRunner::new(Duration::from_secs(1));
    let out = runner
        .run(
            &shell("t", "cat /proc/$$/cmdline; true"),
            &CancellationToken::new(),
        )
        .await
        .unwrap();
    assert_eq!(out.stdout.head(), b"sh\0-c\0cat /proc/$$/cmdline; true\0");
}

#[tokio::test]
async fn path_set_by_the_task_overrides_the_inherited_one() {
    let dir = tempfile::tempdir().unwrap();
    install_script(dir.path(), "date", "echo not the real date");
    let runner = ProcessRunner::new(Duration::from_secs(1));
    let cancel = CancellationToken::new();
    let real = runner.run(&argv("t", &["date"]), &cancel).await.unwrap();
    assert_ne!(real.stdout.head(), b"not the real date\n");

    let request = with_path(argv("t", &["date"]), &[dir.path()]);
    let fake = runner.run(&request, &cancel).await.unwrap();
    assert_eq!(fake.stdout.head(), b"not the real date\n");
}

#[tokio::test]
async fn sh_for_shell_commands_is_looked_up_on_the_task_path() {
    let dir = tempfile::tempdir().unwrap();
    install_script(dir.path(), "sh", "echo \"other sh $*\"");
    let runner = ProcessRunner::new(Duration::from_secs(1));
    let request = with_path(shell("t", "echo real"), &[dir.path()]);
    let out = runner
        .run(&request, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(out.stdout.head(), b"other sh -c echo real\n");
}

#[tokio::test]
async fn program_installed_by_an_earlier_task_runs_in_a_later_one() {
    let bin = tempfile::tempdir().unwrap();
    let runner = ProcessRunner::new(Duration::from_secs(1));
    let cancel = CancellationToken::new();
    let use_tool = with_path(argv("t", &["made-later"]), &[bin.path()]);
    let err = runner.run(&use_tool, &cancel).await.unwrap_err();
    assert_eq!(err.to_string(), missing_program_message("made-later"));

    let install = format!(
        "printf '#!/bin/sh\\necho made by an earlier task\\n' > {p} && chmod +x {p}",
        p = bin.path().join("made-later").display()
    );
    let installed = runner.run(&shell("install", &install), &cancel).await;
    assert_eq!(installed.unwrap().exit, Exit::Code(0));

    let out = runner.run(&use_tool, &cancel).await.unwrap();
    assert_eq!(out.stdout.head(), b"made by an earlier task\n");
}

#[tokio::test]
async fn removed_program_is_searched_for_again() {
    let (first, second) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let shadowing = install_script(first.path(), "tool", "echo first");
    let fallback = install_script(second.path(), "tool", "echo second");
    let runner = ProcessRunner::new(Duration::from_secs(1));
    let cancel = CancellationToken::new();
    let request = with_path(argv("t", &["tool"]), &[first.path(), second.path()]);
    let out = runner.run(&request, &cancel).await.unwrap();
    assert_eq!(out.stdout.head(), b"first\n");

    std::fs::remove_file(shadowing).unwrap();
    let out = runner.run(&request, &cancel).await.unwrap();
    assert_eq!(out.stdout.head(), b"second\n");

    std::fs::remove_file(fallback).unwrap();
    let err = runner.run(&request, &cancel).await.unwrap_err();
    assert_eq!(err.to_string(), missing_program_message("tool"));
}
