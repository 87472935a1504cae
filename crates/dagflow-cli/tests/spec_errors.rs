//! Every kind of workflow-file error, with the line and column it points at.

use dagflow_cli::spec::{parse, CommandSpec, Location, SpecError, SpecErrorKind};

fn error(yaml: &str) -> Box<SpecError> {
    match parse(yaml, "wf.yml") {
        Ok(spec) => panic!("expected an error, parsed {} tasks", spec.tasks.len()),
        Err(e) => e,
    }
}

#[test]
fn valid_file_parses_every_field() {
    let yaml = r#"
name: etl
concurrency: 3
timeout: 10m
fail_fast: false
env: {REGION: eu, PORT: 8080}
tasks:
  - name: load
    cmd: [sleep, 1]
    depends_on: [ingest]
    timeout: 30s
    retry: {max_attempts: 4, initial_delay: 500ms, max_delay: 5s, backoff: 3.0, jitter: 0.5, on_exit_codes: [1, 75]}
    when: tasks.ingest.result.rows > 0
    env: {MODE: full}
    workdir: data/
    tags: [io, db]
  - name: ingest
    run: printf '{"rows":3}'
"#;
    let spec = parse(yaml, "wf.yml").unwrap();
    assert_eq!(spec.name, "etl");
    assert_eq!(spec.concurrency, Some(3));
    assert_eq!(spec.timeout, Some(std::time::Duration::from_secs(600)));
    assert!(!spec.fail_fast);
    assert_eq!(spec.env["PORT"], "8080");
    let load = spec.task("load").unwrap();
    assert_eq!(
        load.command,
        CommandSpec::Argv(vec!["sleep".into(), "1".into()])
    );
    assert_eq!(load.depends_on, ["ingest"]);
    let retry = load.retry.as_ref().unwrap();
    assert_eq!(
        (retry.max_attempts, retry.backoff, retry.jitter),
        (4, 3.0, 0.5)
    );
    assert_eq!(retry.on_exit_codes, [1, 75]);
    assert_eq!(load.location, Location::new(8, 11));
    assert_eq!(load.tags, ["io", "db"]);
    let order: Vec<&str> = spec
        .dag
        .topological_order()
        .iter()
        .map(|&t| spec.dag.name(t))
        .collect();
    assert_eq!(order, ["ingest", "load"]);
}

#[test]
fn yaml_syntax_error_has_its_line() {
    let err = error("name: x\ntasks:\n  - name: a\n    depends_on: [b,\n");
    assert!(matches!(err.kind, SpecErrorKind::Yaml(_)), "{err}");
    assert_eq!(err.line(), Some(4));
    assert!(err.to_string().starts_with("wf.yml:4:"), "{err}");
}

#[test]
fn unknown_field_names_the_field_and_its_line() {
    let err = error("name: x\ntasks:\n  - name: a\n    run: echo\n    depend_on: [b]\n");
    assert_eq!(err.location, Some(Location::new(5, 5)));
    assert!(
        err.to_string().contains("unknown field `depend_on`"),
        "{err}"
    );
}

#[test]
fn missing_workflow_name_is_reported() {
    let err = error("tasks:\n  - name: a\n    run: echo\n");
    assert!(err.to_string().contains("missing field `name`"), "{err}");
}

#[test]
fn bad_duration_points_at_the_value() {
    let err = error("name: x\ntasks:\n  - name: a\n    run: echo\n    timeout: 30 seconds\n");
    assert_eq!(err.location, Some(Location::new(5, 14)));
    assert_eq!(
        err.kind,
        SpecErrorKind::BadDuration {
            field: "timeout".into(),
            value: "30 seconds".into()
        }
    );
}

#[test]
fn bad_retry_delay_names_the_field() {
    let err =
        error("name: x\ntasks:\n  - name: a\n    run: echo\n    retry:\n      initial_delay: 1x\n");
    assert_eq!(err.line(), Some(6));
    assert!(
        matches!(&err.kind, SpecErrorKind::BadDuration { field, .. } if field == "retry.initial_delay")
    );
}

#[test]
fn duplicate_task_points_at_the_second_and_names_the_first() {
    let err = error("name: x\ntasks:\n  - name: a\n    run: echo\n  - name: a\n    run: echo\n");
    assert_eq!(err.location, Some(Location::new(5, 11)));
    assert_eq!(
        err.kind,
        SpecErrorKind::DuplicateTask {
            name: "a".into(),
            first_line: 3
        }
    );
}

#[test]
fn unknown_dependency_points_at_the_entry() {
    let err = error(
        "name: x\ntasks:\n  - name: a\n    run: echo\n  - name: b\n    run: echo\n    depends_on:\n      - a\n      - tset\n",
    );
    assert_eq!(err.location, Some(Location::new(9, 9)));
    assert_eq!(
        err.kind,
        SpecErrorKind::UnknownDependency {
            task: "b".into(),
            dependency: "tset".into()
        }
    );
    assert!(err.to_string().contains("add a task named `tset`"));
}

#[test]
fn cycle_reports_its_path_at_the_closing_dependency() {
    let yaml = "name: x
tasks:
  - name: a
    run: echo
    depends_on: [c]
  - name: b
    run: echo
    depends_on: [a]
  - name: c
    run: echo
    depends_on: [b]
";
    let err = error(yaml);
    assert_eq!(
        err.kind,
        SpecErrorKind::Cycle {
            path: vec!["a".into(), "b".into(), "c".into(), "a".into()]
        }
    );
    assert_eq!(err.location, Some(Location::new(5, 18)));
    assert!(err
        .to_string()
        .contains("dependency cycle: a -> b -> c -> a"));
}

#[test]
fn task_without_command_is_rejected() {
    let err = error("name: x\ntasks:\n  - name: a\n    tags: [x]\n");
    assert_eq!(err.line(), Some(3));
    assert!(
        err.to_string().contains("has neither `run` nor `cmd`"),
        "{err}"
    );
}

#[test]
fn task_with_both_commands_is_rejected() {
    let err = error("name: x\ntasks:\n  - name: a\n    run: echo\n    cmd: [echo]\n");
    assert_eq!(err.line(), Some(5));
    assert!(
        err.to_string().contains("has both `run` and `cmd`"),
        "{err}"
    );
}

#[test]
fn bad_task_name_is_rejected() {
    let err = error("name: x\ntasks:\n  - name: load data\n    run: echo\n");
    assert_eq!(err.location, Some(Location::new(3, 11)));
    assert!(
        err.to_string()
            .contains("task name `load data` is not allowed"),
        "{err}"
    );
}

#[test]
fn zero_concurrency_is_rejected() {
    let err = error("name: x\nconcurrency: 0\ntasks:\n  - name: a\n    run: echo\n");
    assert_eq!(err.location, Some(Location::new(2, 14)));
    assert!(err.to_string().contains("`concurrency` is 0"), "{err}");
}

#[test]
fn wrong_type_is_reported_with_line() {
    let err = error(
        "name: x\ntasks:\n  - name: a\n    run: echo\n    retry:\n      max_attempts: lots\n",
    );
    assert_eq!(err.line(), Some(6));
}

#[test]
fn condition_syntax_error_points_at_when() {
    let err = error("name: x\ntasks:\n  - name: a\n    run: echo\n    when: tasks.b ==\n");
    assert_eq!(err.location, Some(Location::new(5, 11)));
    assert!(matches!(&err.kind, SpecErrorKind::BadCondition { task, .. } if task == "a"));
}

#[test]
fn condition_reading_a_non_dependency_is_rejected() {
    let yaml = "name: x
tasks:
  - name: a
    run: echo
  - name: b
    run: echo
    when: tasks.a.status == 'completed'
";
    let err = error(yaml);
    assert_eq!(err.line(), Some(7));
    assert!(err.to_string().contains("add `a` to depends_on"), "{err}");
}

#[test]
fn condition_may_read_indirect_dependencies() {
    let yaml = "name: x
tasks:
  - name: a
    run: echo
  - name: b
    run: echo
    depends_on: [a]
  - name: c
    run: echo
    depends_on: [b]
    when: tasks.a.status == 'completed'
";
    assert!(parse(yaml, "wf.yml").is_ok());
}

#[test]
fn result_variable_clash_is_rejected() {
    let err =
        error("name: x\ntasks:\n  - name: a-b\n    run: echo\n  - name: a_b\n    run: echo\n");
    assert_eq!(err.line(), Some(5));
    assert!(err.to_string().contains("DAGFLOW_RESULT_A_B"), "{err}");
}

#[test]
fn empty_task_list_is_rejected() {
    let err = error("name: x\ntasks: []\n");
    assert_eq!(err.kind, SpecErrorKind::NoTasks);
    assert_eq!(err.line(), Some(2));
}

#[test]
fn retry_exit_code_zero_is_rejected() {
    let err =
        error("name: x\ntasks:\n  - name: a\n    run: echo\n    retry: {on_exit_codes: [0]}\n");
    assert_eq!(err.line(), Some(5));
    assert!(
        err.to_string()
            .contains("exit codes of failures are 1 to 255"),
        "{err}"
    );
}

#[test]
fn env_variable_names_with_equals_are_rejected() {
    let err = error("name: x\nenv:\n  A=B: 1\ntasks:\n  - name: a\n    run: echo\n");
    assert_eq!(err.line(), Some(3));
    assert!(
        err.to_string()
            .contains("`env` variable `A=B` cannot be set"),
        "{err}"
    );
}
