//! The child processes of the process tests, and the parent's helpers.
//!
//! The children are the test binary itself, started with
//! `DAGFLOW_SQLITE_CHILD=<mode>`: its `child_process_entry_point` test calls
//! [`run_if_child`], which plays the child instead of testing anything.
//! Each test binary uses only some of the helpers.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use dagflow::journal::resume::ResumePlan;
use dagflow::journal::{EntryStatus, EventType, JournalEntry, JournalStore};
use dagflow::{TaskOptions, Workflow, WorkflowJournal};
use dagflow_sqlite::{SqliteError, SqliteStore};
use serde_json::{json, Value};

const CHILD_MODE: &str = "DAGFLOW_SQLITE_CHILD";

// ---- the child side --------------------------------------------------------

/// In a child process, plays the child given by `DAGFLOW_SQLITE_CHILD` and
/// exits; otherwise returns at once.
pub fn run_if_child() {
    let Ok(mode) = std::env::var(CHILD_MODE) else {
        return;
    };
    let code = match mode.as_str() {
        "workflow" => child_workflow(),
        "claim" => child_claim(),
        "writer" => child_writer(),
        other => {
            eprintln!("unknown child mode {other}");
            2
        }
    };
    std::process::exit(code);
}

pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("the parent sets {name}"))
}

/// The tasks of a workflow shape: `(name, dependencies)`.
pub fn shape(name: &str) -> Vec<(String, Vec<String>)> {
    let owned = |tasks: &[(&str, &[&str])]| {
        tasks
            .iter()
            .map(|(n, d)| (n.to_string(), d.iter().map(|s| s.to_string()).collect()))
            .collect()
    };
    match name {
        "pipeline" => owned(&[
            ("fetch", &[]),
            ("build", &["fetch"]),
            ("lint", &["fetch"]),
            ("docs", &["fetch"]),
            ("test", &["build", "lint"]),
            ("package", &["test"]),
            ("publish", &["package"]),
        ]),
        // 6 layers of 4; each task depends on two of the layer before.
        "layered" => (0..6)
            .flat_map(|layer| {
                (0..4).map(move |i| {
                    let deps = if layer == 0 {
                        Vec::new()
                    } else {
                        vec![
                            format!("t{}_{}", layer - 1, i),
                            format!("t{}_{}", layer - 1, (i + 1) % 4),
                        ]
                    };
                    (format!("t{layer}_{i}"), deps)
                })
            })
            .collect(),
        other => panic!("unknown shape {other}"),
    }
}

/// Runs a workflow journaled to `JOURNAL`; each task appends a line to
/// `EFFECTS/<task>` as its side effect. `SLOW_TASK` blocks for a minute
/// (after writing `EFFECTS/<task>.started`); `RESUME_FROM` resumes a run.
fn child_workflow() -> i32 {
    let journal = PathBuf::from(env("JOURNAL"));
    let effects = PathBuf::from(env("EFFECTS"));
    let slow = std::env::var("SLOW_TASK").ok();
    let sleep_ms: u64 = std::env::var("TASK_SLEEP_MS").map_or(0, |v| v.parse().unwrap_or(0));
    let store = Arc::new(SqliteStore::open(&journal).expect("the child opens the journal"));
    let mut workflow = Workflow::new("crashy");
    for (name, deps) in shape(&env("SHAPE")) {
        let effects = effects.clone();
        let slow = slow.clone();
        let task = name.clone();
        workflow.add_task(
            name.clone(),
            move |_ctx| {
                let (effects, slow, task) = (effects.clone(), slow.clone(), task.clone());
                async move {
                    if slow.as_deref() == Some(task.as_str()) {
                        std::fs::write(effects.join(format!("{task}.started")), "")?;
                        tokio::time::sleep(Duration::from_secs(60)).await;
                    }
                    if sleep_ms > 0 {
                        tokio::time::sleep(Duration::from_millis(sleep_ms)).await;
                    }
                    use std::io::Write;
                    let mut file = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(effects.join(&task))?;
                    writeln!(file, "{task}")?;
                    Ok::<Value, std::io::Error>(json!({ "task": task }))
                }
            },
            TaskOptions::new()
                .depends_on(deps)
                .definition(format!("append a line to {name}")),
        );
    }
    workflow.observe(Arc::new(WorkflowJournal::new(store.clone())));
    workflow.run_id(env("RUN_ID"));
    let _claim = match std::env::var("RESUME_FROM") {
        Ok(from) => {
            let claim = store.claim_resume(&from).expect("the run can be resumed");
            let definition = workflow.definition().expect("valid workflow");
            let plan = ResumePlan::from_journal(&*store, &from, &definition, false)
                .expect("a resume plan");
            workflow.restore(plan.restored, from);
            Some(claim)
        }
        Err(_) => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    match runtime.block_on(workflow.run()) {
        Ok(_) if workflow.summary().success => 0,
        Ok(_) => 1,
        Err(e) => {
            eprintln!("run failed: {e}");
            1
        }
    }
}

/// Claims the resume of `RUN`: exit 0 (after holding it `HOLD_MS`), 3 if
/// another process resumes it, 4 if it is still live, 1 otherwise.
fn child_claim() -> i32 {
    let store = SqliteStore::open(env("JOURNAL")).expect("the child opens the journal");
    match store.claim_resume(&env("RUN")) {
        Ok(claim) => {
            let hold: u64 = std::env::var("HOLD_MS").map_or(0, |v| v.parse().unwrap_or(0));
            std::thread::sleep(Duration::from_millis(hold));
            drop(claim);
            0
        }
        Err(SqliteError::AlreadyResuming { .. }) => 3,
        Err(SqliteError::RunStillLive { .. }) => 4,
        Err(e) => {
            eprintln!("claim failed: {e}");
            1
        }
    }
}

/// Appends `RUNS` runs named `<PREFIX>-<i>`, one entry per append.
fn child_writer() -> i32 {
    let store = SqliteStore::open(env("JOURNAL")).expect("the child opens the journal");
    let prefix = env("PREFIX");
    let runs: usize = env("RUNS").parse().expect("a number");
    for i in 0..runs {
        for entry in run_entries(&format!("{prefix}-{i}"), i) {
            store.append(&[entry]).expect("append");
        }
    }
    0
}

/// Six entries of one run: start, four steps, end.
pub fn run_entries(run: &str, i: usize) -> Vec<JournalEntry> {
    let at = SystemTime::now();
    let mut out = vec![JournalEntry::new(
        run,
        "multi",
        EventType::WorkflowStart,
        None,
        EntryStatus::Started,
        at,
    )];
    for k in 0..4 {
        let mut e = JournalEntry::new(
            run,
            "multi",
            EventType::StepComplete,
            Some(format!("s{k}").into()),
            EntryStatus::Completed,
            at,
        );
        e.attempt = 1;
        e.duration_ms = ((i * 7 + k * 3) % 50) as f64;
        e.result = Some(json!(k));
        out.push(e);
    }
    let mut end = JournalEntry::new(
        run,
        "multi",
        EventType::WorkflowComplete,
        None,
        EntryStatus::Completed,
        at,
    );
    end.duration_ms = 1.5;
    out.push(end);
    out
}

// ---- the parent side -------------------------------------------------------

pub fn spawn_child(mode: &str, vars: &[(&str, String)]) -> Child {
    let exe = std::env::current_exe().expect("the test binary path");
    Command::new(exe)
        .args([
            "--exact",
            "child_process_entry_point",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD_MODE, mode)
        .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .spawn()
        .expect("the child starts")
}

pub fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn effect_count(effects: &Path, task: &str) -> usize {
    std::fs::read_to_string(effects.join(task)).map_or(0, |text| text.lines().count())
}

/// Steps of `run` whose final journaled outcome is `Completed`.
pub fn completed_steps(store: &SqliteStore, run: &str) -> HashMap<String, JournalEntry> {
    store
        .by_workflow_id(run)
        .expect("the run reads back")
        .into_iter()
        .filter(|e| e.event_type == EventType::StepComplete && e.status == EntryStatus::Completed)
        .filter_map(|e| Some((e.step_name.as_deref()?.to_string(), e)))
        .collect()
}

pub fn integrity_ok(path: &Path) {
    let conn = rusqlite::Connection::open(path).expect("sqlite opens the journal");
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("check");
    assert_eq!(check, "ok");
}

pub struct Setup {
    _dir: tempfile::TempDir,
    pub journal: PathBuf,
    pub effects: PathBuf,
}

pub fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("temp dir");
    let effects = dir.path().join("effects");
    std::fs::create_dir(&effects).expect("effects dir");
    Setup {
        journal: dir.path().join("journal.db"),
        effects,
        _dir: dir,
    }
}

pub fn workflow_vars(s: &Setup, shape: &str, run_id: &str) -> Vec<(&'static str, String)> {
    vec![
        ("JOURNAL", s.journal.display().to_string()),
        ("EFFECTS", s.effects.display().to_string()),
        ("SHAPE", shape.to_string()),
        ("RUN_ID", run_id.to_string()),
    ]
}

/// Starts run `run_id` of the `pipeline` shape in a child process and
/// returns once its task `slow` has started (it then sleeps until killed
/// or done), so the parent can act while the run is mid-way.
pub fn spawn_paused_at(s: &Setup, run_id: &str, slow: &str) -> Child {
    let mut vars = workflow_vars(s, "pipeline", run_id);
    vars.push(("SLOW_TASK", slow.to_string()));
    let child = spawn_child("workflow", &vars);
    let started = s.effects.join(format!("{slow}.started"));
    wait_until(
        &format!("the slow task `{slow}` to start"),
        Duration::from_secs(60),
        || started.exists(),
    );
    child
}
