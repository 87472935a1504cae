//! Real processes: a run killed with SIGKILL and resumed, live runs that
//! must not be resumed, and several processes writing one journal.
//!
//! The children are this test binary itself, started with
//! `DAGFLOW_SQLITE_CHILD=<mode>`: [`child_process_entry_point`] then plays
//! the child instead of testing anything.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use dagflow::journal::resume::ResumePlan;
use dagflow::journal::{EntryStatus, EventType, JournalEntry, JournalStore, QueryFilter};
use dagflow::{TaskOptions, Workflow, WorkflowJournal};
use dagflow_sqlite::{LeaseKind, SqliteError, SqliteOptions, SqliteStore};
use serde_json::{json, Value};

const CHILD_MODE: &str = "DAGFLOW_SQLITE_CHILD";

// ---- the child side --------------------------------------------------------

/// Not a test: the body of the child processes the tests below start.
#[test]
fn child_process_entry_point() {
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

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("the parent sets {name}"))
}

/// The tasks of a workflow shape: `(name, dependencies)`.
fn shape(name: &str) -> Vec<(String, Vec<String>)> {
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
fn run_entries(run: &str, i: usize) -> Vec<JournalEntry> {
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

fn spawn_child(mode: &str, vars: &[(&str, String)]) -> Child {
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

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn effect_count(effects: &Path, task: &str) -> usize {
    std::fs::read_to_string(effects.join(task)).map_or(0, |text| text.lines().count())
}

/// Steps of `run` whose final journaled outcome is `Completed`.
fn completed_steps(store: &SqliteStore, run: &str) -> HashMap<String, JournalEntry> {
    store
        .by_workflow_id(run)
        .expect("the run reads back")
        .into_iter()
        .filter(|e| e.event_type == EventType::StepComplete && e.status == EntryStatus::Completed)
        .filter_map(|e| Some((e.step_name.as_deref()?.to_string(), e)))
        .collect()
}

fn integrity_ok(path: &Path) {
    let conn = rusqlite::Connection::open(path).expect("sqlite opens the journal");
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("check");
    assert_eq!(check, "ok");
}

struct Setup {
    _dir: tempfile::TempDir,
    journal: PathBuf,
    effects: PathBuf,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("temp dir");
    let effects = dir.path().join("effects");
    std::fs::create_dir(&effects).expect("effects dir");
    Setup {
        journal: dir.path().join("journal.db"),
        effects,
        _dir: dir,
    }
}

fn workflow_vars(s: &Setup, shape: &str, run_id: &str) -> Vec<(&'static str, String)> {
    vec![
        ("JOURNAL", s.journal.display().to_string()),
        ("EFFECTS", s.effects.display().to_string()),
        ("SHAPE", shape.to_string()),
        ("RUN_ID", run_id.to_string()),
    ]
}

#[test]
fn a_run_killed_mid_way_resumes_and_every_side_effect_happens_once() {
    let s = setup();
    let mut vars = workflow_vars(&s, "pipeline", "run-1");
    vars.push(("SLOW_TASK", "package".to_string()));
    let mut child = spawn_child("workflow", &vars);
    wait_until("the slow task to start", Duration::from_secs(60), || {
        s.effects.join("package.started").exists()
    });
    // `docs` is not upstream of `package` and runs beside it: kill only once
    // its completion is journaled, so every step but the slow one is done.
    let reader = SqliteStore::open_with(&s.journal, SqliteOptions::new().read_only(true))
        .expect("the journal opens for reading while the child writes");
    wait_until("docs to be journaled", Duration::from_secs(60), || {
        completed_steps(&reader, "run-1").contains_key("docs")
    });
    drop(reader);
    child.kill().expect("SIGKILL");
    child.wait().expect("the child is reaped");

    // The journal opens, is intact, and holds every completion that came
    // before the kill: all of package's upstream steps, and docs.
    let store = SqliteStore::open(&s.journal).expect("the journal opens after the crash");
    let done = completed_steps(&store, "run-1");
    let mut names: Vec<&str> = done.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["build", "docs", "fetch", "lint", "test"]);
    let entries = store.by_workflow_id("run-1").unwrap();
    assert!(entries
        .iter()
        .all(|e| e.event_type != EventType::WorkflowComplete));
    assert_eq!(done["build"].result, Some(json!({"task": "build"})));
    let lease = store
        .lease("run-1", LeaseKind::Running)
        .unwrap()
        .expect("the dead run's lease");
    assert!(
        !lease.live,
        "the killed process cannot own the run: {lease:?}"
    );
    for task in ["fetch", "build", "lint", "docs", "test"] {
        assert_eq!(
            effect_count(&s.effects, task),
            1,
            "{task} ran once before the kill"
        );
    }
    assert_eq!(effect_count(&s.effects, "package"), 0);
    drop(store);
    integrity_ok(&s.journal);

    let mut vars = workflow_vars(&s, "pipeline", "run-2");
    vars.push(("RESUME_FROM", "run-1".to_string()));
    let status = spawn_child("workflow", &vars)
        .wait()
        .expect("the resume runs");
    assert!(status.success(), "the resumed run succeeds: {status:?}");

    for task in [
        "fetch", "build", "lint", "docs", "test", "package", "publish",
    ] {
        assert_eq!(
            effect_count(&s.effects, task),
            1,
            "{task}'s side effect happened exactly once"
        );
    }
    let store = SqliteStore::open(&s.journal).unwrap();
    let resumed = store.by_workflow_id("run-2").unwrap();
    assert_eq!(resumed[0].details["resumed_from"], json!("run-1"));
    let done = completed_steps(&store, "run-2");
    assert_eq!(done.len(), 7);
    for task in ["fetch", "build", "lint", "docs", "test"] {
        assert_eq!(
            done[task].details.get("reused_from"),
            Some(&json!("run-1")),
            "{task} restored"
        );
    }
    assert_eq!(done["package"].attempt, 1, "package ran in the resumed run");
    let end = resumed.last().unwrap();
    assert_eq!(
        (end.event_type, end.status),
        (EventType::WorkflowComplete, EntryStatus::Completed)
    );
    let runs = store.runs(&QueryFilter::all(), 10).unwrap();
    assert_eq!(runs[0].workflow_id, "run-2");
    assert_eq!(runs[0].resumed_from.as_deref(), Some("run-1"));
    assert_eq!(runs[1].status, EntryStatus::Started, "run-1 never ended");
}

#[test]
fn whenever_the_process_is_killed_started_steps_find_their_dependencies_journaled_and_resume_completes(
) {
    let s = setup();
    let tasks = shape("layered");
    let mut killed_mid_run = 0;
    for (attempt, kill_after_ms) in [20u64, 60, 100].into_iter().enumerate() {
        let run = format!("run-{attempt}");
        let mut vars = workflow_vars(&s, "layered", &run);
        vars.push(("TASK_SLEEP_MS", "25".to_string()));
        let mut child = spawn_child("workflow", &vars);
        // Wait for the run to start (the child may take a moment to boot).
        wait_until("the run to start", Duration::from_secs(60), || {
            s.effects.join("t0_0").exists() || s.effects.join("t0_1").exists()
        });
        std::thread::sleep(Duration::from_millis(kill_after_ms));
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");

        let store = SqliteStore::open(&s.journal).expect("the journal opens after the crash");
        let done = completed_steps(&store, &run);
        // The guarantee: a step's completion is durable before any step
        // that depends on it starts. A step whose side effect exists has
        // started, so its dependencies must be journaled as completed.
        for (task, deps) in &tasks {
            if effect_count(&s.effects, task) > 0 {
                for dep in deps {
                    assert!(
                        done.contains_key(dep),
                        "{task} started in {run} before {dep}'s completion was journaled"
                    );
                }
            }
        }
        if !done.is_empty() && done.len() < tasks.len() {
            killed_mid_run += 1;
        }
        eprintln!(
            "{run}: killed after {kill_after_ms} ms with {} of {} steps journaled",
            done.len(),
            tasks.len()
        );
        drop(store);
        integrity_ok(&s.journal);

        // Resuming finishes the run; steps journaled as completed keep
        // their single side effect, the others ran at least once.
        let mut vars = workflow_vars(&s, "layered", &format!("{run}-resumed"));
        vars.push(("RESUME_FROM", run.clone()));
        let status = spawn_child("workflow", &vars)
            .wait()
            .expect("the resume runs");
        assert!(status.success(), "the resume of {run} succeeds");
        for (task, _) in &tasks {
            let count = effect_count(&s.effects, task);
            if done.contains_key(task) {
                assert_eq!(
                    count, 1,
                    "{task} was journaled in {run} and must not run again"
                );
            } else {
                assert!((1..=2).contains(&count), "{task} ran {count} times");
            }
        }
        // Start the next attempt from a clean slate of side effects.
        for (task, _) in &tasks {
            let _ = std::fs::remove_file(s.effects.join(task));
        }
    }
    assert!(killed_mid_run > 0, "no kill landed in the middle of a run");
}

#[test]
fn a_live_run_is_not_resumed_until_its_process_dies() {
    let s = setup();
    let mut vars = workflow_vars(&s, "pipeline", "live-run");
    vars.push(("SLOW_TASK", "package".to_string()));
    let mut child = spawn_child("workflow", &vars);
    wait_until("the slow task to start", Duration::from_secs(60), || {
        s.effects.join("package.started").exists()
    });
    let store = SqliteStore::open(&s.journal).unwrap();
    match store.claim_resume("live-run") {
        Err(SqliteError::RunStillLive { pid, .. }) => assert_eq!(pid, child.id()),
        other => panic!("expected RunStillLive, got {other:?}"),
    }
    let error = store.claim_resume("live-run").unwrap_err().to_string();
    assert!(
        error.contains("is still live") && error.contains(&child.id().to_string()),
        "{error}"
    );

    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    let claim = store
        .claim_resume("live-run")
        .expect("a dead owner frees the run");
    assert_eq!(claim.run_id(), "live-run");
}

#[test]
fn two_processes_cannot_resume_the_same_run_at_once() {
    let s = setup();
    let store = SqliteStore::open(&s.journal).unwrap();
    let vars = |hold: &str| {
        vec![
            ("JOURNAL", s.journal.display().to_string()),
            ("RUN", "r".to_string()),
            ("HOLD_MS", hold.to_string()),
        ]
    };
    let claim = store.claim_resume("r").expect("first claim");
    let code = spawn_child("claim", &vars("0")).wait().unwrap().code();
    assert_eq!(
        code,
        Some(3),
        "the second process is told the run is being resumed"
    );
    claim.release().expect("released");
    let code = spawn_child("claim", &vars("0")).wait().unwrap().code();
    assert_eq!(code, Some(0), "once released, another process may resume");

    // A claimer that dies without releasing frees the run too.
    let mut holder = spawn_child("claim", &vars("60000"));
    wait_until("the child's claim", Duration::from_secs(60), || {
        store
            .lease("r", LeaseKind::Resuming)
            .unwrap()
            .is_some_and(|l| l.live && l.pid == holder.id())
    });
    assert!(matches!(
        store.claim_resume("r"),
        Err(SqliteError::AlreadyResuming { .. })
    ));
    holder.kill().unwrap();
    holder.wait().unwrap();
    store
        .claim_resume("r")
        .expect("the dead claimer's lease is void");
}

#[test]
fn processes_writing_one_journal_at_once_lose_and_duplicate_nothing() {
    let s = setup();
    let runs_each = 150;
    let children: Vec<Child> = ["a", "b", "c"]
        .iter()
        .map(|prefix| {
            spawn_child(
                "writer",
                &[
                    ("JOURNAL", s.journal.display().to_string()),
                    ("PREFIX", prefix.to_string()),
                    ("RUNS", runs_each.to_string()),
                ],
            )
        })
        .collect();
    // This process writes too, in batches.
    let store = SqliteStore::open(&s.journal).unwrap();
    for i in 0..runs_each {
        store.append(&run_entries(&format!("p-{i}"), i)).unwrap();
    }
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let writers = 4;
    assert_eq!(
        store.entry_count().unwrap(),
        (writers * runs_each * 6) as u64
    );
    for prefix in ["a", "b", "c", "p"] {
        for i in 0..runs_each {
            let run = format!("{prefix}-{i}");
            let entries = store.by_workflow_id(&run).unwrap();
            let expected = run_entries(&run, i);
            assert_eq!(entries.len(), 6, "{run}");
            for (got, want) in entries.iter().zip(&expected) {
                assert_eq!(
                    (got.event_type, &got.step_name, got.duration_ms),
                    (want.event_type, &want.step_name, want.duration_ms),
                    "{run} in order"
                );
            }
        }
    }
    let totals = store.workflow_totals(&QueryFilter::all()).unwrap();
    assert_eq!(
        (totals.finished, totals.total_steps),
        (
            (writers * runs_each) as u64,
            (writers * runs_each * 4) as u64
        )
    );
    let steps = store.step_totals(&QueryFilter::all()).unwrap();
    assert_eq!(
        steps.iter().map(|t| t.completed).sum::<u64>(),
        (writers * runs_each * 4) as u64
    );
    // No lease outlives its run.
    for prefix in ["a", "p"] {
        assert!(store
            .lease(&format!("{prefix}-0"), LeaseKind::Running)
            .unwrap()
            .is_none());
    }
}

#[test]
fn processes_opening_a_new_journal_at_the_same_moment_all_succeed() {
    // Several processes create and migrate one fresh file at once: each must
    // wait for the others (WAL switch, schema) rather than fail.
    for round in 0..5 {
        let s = setup();
        let children: Vec<Child> = (0..6)
            .map(|i| {
                spawn_child(
                    "writer",
                    &[
                        ("JOURNAL", s.journal.display().to_string()),
                        ("PREFIX", format!("r{round}w{i}")),
                        ("RUNS", "1".to_string()),
                    ],
                )
            })
            .collect();
        for mut child in children {
            assert!(
                child.wait().unwrap().success(),
                "a process failed to open the new journal in round {round}"
            );
        }
        let store = SqliteStore::open(&s.journal).unwrap();
        assert_eq!(store.entry_count().unwrap(), 6 * 6);
    }
}
