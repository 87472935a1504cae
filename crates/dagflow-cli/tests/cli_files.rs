//! Commands about files: `validate`, `graph`, `templates`, `init`,
//! `completions`, and every kind of file error with its line.

mod common;

use common::Sandbox;

/// Runs `dagflow validate` on `yaml`: asserts exit 2 and returns stderr.
fn invalid(yaml: &str) -> String {
    let sb = Sandbox::new();
    sb.write("wf.yml", yaml);
    let assert = sb.dagflow().args(["validate", "wf.yml"]).assert().code(2);
    String::from_utf8_lossy(&assert.get_output().stderr).to_string()
}

#[test]
fn every_file_error_names_file_line_and_column() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "name: x\ntasks:\n  - name: a\n    run: echo\n    depends_on: [b,\n",
            "wf.yml:5:",
            "",
        ),
        (
            "name: x\ntasks:\n  - name: a\n    run: echo\n    retries: 3\n",
            "wf.yml:5:5:",
            "unknown field `retries`",
        ),
        (
            "name: x\ntasks:\n  build:\n    run: make\n",
            "wf.yml:3:3:",
            "`tasks` must be a list: start each task with `- name: NAME`",
        ),
        (
            "name: x\ntasks:\n  - name: a\n    run: echo\n  - name: b\n    run: echo\n    depends_on: a\n",
            "wf.yml:7:17:",
            "`tasks[1].depends_on` must be a list, such as `depends_on: [a, b]`",
        ),
        (
            "name: x\ntasks:\n  - name: a\n    run: echo\n    timeout: 10 minutes\n",
            "wf.yml:5:14:",
            "`timeout` is `10 minutes`, which is not a duration",
        ),
        (
            "name: x\ntasks:\n  - name: a\n    run: echo\n  - name: a\n    run: echo\n",
            "wf.yml:5:11:",
            "task `a` is defined more than once (first on line 3)",
        ),
        (
            "name: x\ntasks:\n  - name: a\n    run: echo\n    depends_on: [ghost]\n",
            "wf.yml:5:18:",
            "task `a` depends on `ghost`, which is not defined",
        ),
        (
            "name: x\ntasks:\n  - name: a\n    run: echo\n    depends_on: [b]\n  - name: b\n    run: echo\n    depends_on: [a]\n",
            "wf.yml:5:18:",
            "dependency cycle: a -> b -> a",
        ),
        (
            "name: x\ntasks:\n  - name: a\n    run: echo\n    when: tasks.a.result >\n",
            "wf.yml:5:11:",
            "the `when` condition of task `a` is invalid",
        ),
    ];
    for (yaml, place, message) in cases {
        let stderr = invalid(yaml);
        assert!(stderr.contains(place), "expected {place} in:\n{stderr}");
        assert!(
            stderr.contains(message),
            "expected {message:?} in:\n{stderr}"
        );
        // the offending line is quoted with a caret under the column
        assert!(
            stderr.contains(" | ") && stderr.contains('^'),
            "no snippet in:\n{stderr}"
        );
    }
}

#[test]
fn validate_prints_order_and_levels() {
    let sb = Sandbox::new();
    sb.write(
        "wf.yml",
        "name: etl\ntasks:\n  - name: load\n    run: echo\n    depends_on: [clean, enrich]\n  - name: clean\n    run: echo\n    depends_on: [fetch]\n  - name: enrich\n    run: echo\n    depends_on: [fetch]\n  - name: fetch\n    run: echo\n",
    );
    let assert = sb.dagflow().args(["validate", "wf.yml"]).assert().success();
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).to_string();
    assert!(
        stdout.contains("workflow `etl` is valid (4 tasks, 4 dependencies, 3 levels)"),
        "{stdout}"
    );
    let order: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.starts_with("Execution order"))
        .skip(1)
        .take(4)
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    assert_eq!(order, ["fetch", "clean", "enrich", "load"]);
    assert!(stdout.contains("1  clean, enrich"), "{stdout}");
}

#[test]
fn graph_prints_dot_and_mermaid() {
    let sb = Sandbox::new();
    sb.write("wf.yml", "name: g\ntasks:\n  - name: a\n    run: echo\n  - name: b\n    run: echo\n    depends_on: [a]\n");
    let dot = sb.dagflow().args(["graph", "wf.yml"]).assert().success();
    let dot = String::from_utf8_lossy(&dot.get_output().stdout).to_string();
    assert!(
        dot.starts_with("digraph \"g\" {") && dot.contains("\"a\" -> \"b\";"),
        "{dot}"
    );
    let mermaid = sb
        .dagflow()
        .args(["graph", "wf.yml", "--format", "mermaid"])
        .assert()
        .success();
    let mermaid = String::from_utf8_lossy(&mermaid.get_output().stdout).to_string();
    assert!(
        mermaid.starts_with("flowchart LR") && mermaid.contains("t0 --> t1"),
        "{mermaid}"
    );
}

#[test]
fn templates_are_listed_and_init_writes_a_runnable_file() {
    let sb = Sandbox::new();
    let list = sb.json(&["templates", "--output", "json"]);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ci_cd", "code_review", "data_pipeline"]);

    sb.dagflow()
        .args(["init", "--template", "data-pipeline", "pipe.yml"])
        .assert()
        .success();
    let text = sb.read("pipe.yml");
    assert!(text.contains("name: data_pipeline"), "{text}");
    let (code, report) = sb.run_json("pipe.yml", &[]);
    assert_eq!(code, 0);
    assert_eq!(
        report["tasks"]["export"]["result"],
        "TODO export: Write the result where it is consumed."
    );

    // no silent overwrite
    sb.dagflow()
        .args(["init", "--template", "ci_cd", "pipe.yml"])
        .assert()
        .code(2);
    sb.dagflow()
        .args(["init", "--template", "ci_cd", "pipe.yml", "--force"])
        .assert()
        .success();
    assert!(sb.read("pipe.yml").contains("name: ci_cd"));
    let assert = sb
        .dagflow()
        .args(["init", "--template", "nope"])
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert!(
        stderr.contains("the built-in templates are: ci_cd, code_review, data_pipeline"),
        "{stderr}"
    );
}

#[test]
fn completions_version_and_help() {
    let sb = Sandbox::new();
    for shell in ["bash", "zsh", "fish"] {
        let out = sb.dagflow().args(["completions", shell]).assert().success();
        let script = String::from_utf8_lossy(&out.get_output().stdout).to_string();
        assert!(
            script.contains("dagflow") && script.contains("insights"),
            "{shell}: {script}"
        );
    }
    let version = sb.dagflow().arg("--version").assert().success();
    assert!(String::from_utf8_lossy(&version.get_output().stdout).starts_with("dagflow "));
    for command in [
        "run",
        "validate",
        "graph",
        "runs",
        "show",
        "insights",
        "resume",
        "templates",
        "init",
        "completions",
    ] {
        let help = sb.dagflow().args([command, "--help"]).assert().success();
        let text = String::from_utf8_lossy(&help.get_output().stdout).to_string();
        assert!(
            text.contains("Example"),
            "`{command} --help` has no example:\n{text}"
        );
    }
}

#[test]
fn example_workflows_validate() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/workflows");
    let sb = Sandbox::new();
    for name in ["data-pipeline.yml", "ci.yml"] {
        sb.dagflow()
            .arg("validate")
            .arg(root.join(name))
            .assert()
            .success();
    }
}

#[test]
fn example_workflows_run_on_a_fresh_directory() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/workflows");
    let sb = Sandbox::new();
    let mut reports = Vec::new();
    for name in ["data-pipeline.yml", "ci.yml"] {
        let file = root.join(name);
        let (code, report) = sb.run_json(file.to_str().unwrap(), &["--quiet"]);
        assert_eq!(code, 0, "{name}: {report:#}");
        reports.push(report);
    }
    let pipeline = &reports[0]["tasks"];
    assert_eq!(
        pipeline["ingest-orders"]["attempts"], 2,
        "the flaky source is retried"
    );
    assert_eq!(
        pipeline["validate"]["result"],
        serde_json::json!({"customers": 12, "orders": 60})
    );
    assert_eq!(pipeline["report"]["result"]["countries"], 5);
    assert_eq!(pipeline["alert-no-orders"]["status"], "skipped");
    let ci = &reports[1]["tasks"];
    let build = ci["build"]["result"].as_str().unwrap();
    assert_eq!(
        ci["package"]["result"],
        format!(".dagflow/examples/ci/release/calc-{build}")
    );
    assert_eq!(ci["deploy-production"]["status"], "skipped");
    let published = sb.read(".dagflow/examples/data-pipeline/published/report.txt");
    assert!(
        published.starts_with("Revenue by country (5 countries)"),
        "{published}"
    );
}
