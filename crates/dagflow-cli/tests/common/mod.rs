//! Helpers for the end-to-end tests: each test works in its own temporary
//! directory, which holds its workflow files and its journal.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().expect("temporary directory"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `text` to `name` in the sandbox.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.file(name);
        std::fs::write(&path, text).expect("write file");
        path
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.file(name)).unwrap_or_default()
    }

    /// `dagflow` running in the sandbox with the default journal.
    pub fn dagflow(&self) -> Command {
        let mut cmd = Command::cargo_bin("dagflow").expect("the dagflow binary");
        cmd.current_dir(self.path())
            .env_remove("DAGFLOW_JOURNAL")
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .timeout(std::time::Duration::from_secs(60));
        cmd
    }

    /// `dagflow run FILE --output json`: exit code and the parsed report.
    pub fn run_json(&self, file: &str, extra: &[&str]) -> (i32, Value) {
        let output = self
            .dagflow()
            .args(["run", file, "--output", "json"])
            .args(extra)
            .output()
            .expect("dagflow runs");
        let code = output.status.code().unwrap_or(-1);
        let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )
        });
        (code, report)
    }

    /// A command's stdout parsed as JSON, asserting exit code 0.
    pub fn json(&self, args: &[&str]) -> Value {
        let output = self.dagflow().args(args).output().expect("dagflow runs");
        assert!(
            output.status.success(),
            "dagflow {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("JSON on stdout")
    }
}

/// Starts `dagflow ARGS` in the sandbox without waiting: stdout piped,
/// stderr discarded, `DAGFLOW_JOURNAL` unset (for tests that signal it).
pub fn spawn_dagflow(sb: &Sandbox, args: &[&str]) -> std::process::Child {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("dagflow"))
        .args(args)
        .current_dir(sb.path())
        .env_remove("DAGFLOW_JOURNAL")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("dagflow starts")
}

/// Waits (up to 10 s) until the sandbox file `name` has content: a task
/// writes it once it runs.
pub fn wait_for_file(sb: &Sandbox, name: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while sb.read(name).trim().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "{name} was never written: the task never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Sends `signal` to process `pid`.
#[cfg(unix)]
pub fn send_signal(pid: u32, signal: i32) {
    // SAFETY: kill(2) takes any pid and signal number; errors are returned, not UB.
    unsafe { libc::kill(pid as i32, signal) };
}

/// Whether process `pid` exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}
