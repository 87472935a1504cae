//! From the raw YAML types to a [`WorkflowSpec`]: every semantic check, each
//! error pointing at the value it is about.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use dagflow::graph::{Dag, DagBuilder, GraphError, TaskId};
use serde_saphyr::Spanned;

use super::condition::Condition;
use super::duration::parse_duration;
use super::error::{Location, SpecError, SpecErrorKind};
use super::raw::{EnvValue, RawRetry, RawTask, RawWorkflow};
use super::{result_variable, CommandSpec, RetrySpec, TaskSpec, WorkflowSpec};

/// Builds errors that quote the source.
struct Reporter<'a> {
    source: &'a str,
    origin: &'a str,
}

impl Reporter<'_> {
    fn at(&self, location: Option<Location>, kind: SpecErrorKind) -> Box<SpecError> {
        Box::new(SpecError::new(self.origin, self.source, location, kind))
    }

    fn at_span<T>(&self, spanned: &Spanned<T>, kind: SpecErrorKind) -> Box<SpecError> {
        self.at(loc(spanned), kind)
    }
}

fn loc<T>(spanned: &Spanned<T>) -> Option<Location> {
    Location::from_saphyr(&spanned.referenced)
}

pub(super) fn parse(source: &str, origin: &str) -> Result<WorkflowSpec, Box<SpecError>> {
    let report = Reporter { source, origin };
    let raw = super::yaml::read(source)
        .map_err(|(location, message)| report.at(location, SpecErrorKind::Yaml(message)))?;
    build(&report, raw)
}

fn build(report: &Reporter<'_>, raw: RawWorkflow) -> Result<WorkflowSpec, Box<SpecError>> {
    check_name(report, &raw.name, "workflow", true)?;
    let concurrency = match &raw.concurrency {
        None => None,
        Some(c) if c.value >= 1 => Some(usize::try_from(c.value).unwrap_or(usize::MAX)),
        Some(c) => {
            return Err(report.at_span(
                c,
                SpecErrorKind::InvalidValue(format!(
                    "`concurrency` is {}, but at least 1 task must be allowed to run; remove it to use the number of CPUs",
                    c.value
                )),
            ))
        }
    };
    let timeout = duration(report, raw.timeout.as_ref(), "timeout")?;
    if raw.tasks.value.is_empty() {
        return Err(report.at_span(&raw.tasks, SpecErrorKind::NoTasks));
    }

    let mut first_line: HashMap<&str, u32> = HashMap::new();
    let mut variables: HashMap<String, &str> = HashMap::new();
    for task in &raw.tasks.value {
        let name = &task.value.name;
        check_name(report, name, "task", false)?;
        let line = loc(name).map_or(0, |l| l.line);
        if let Some(&first) = first_line.get(name.value.as_str()) {
            return Err(report.at_span(
                name,
                SpecErrorKind::DuplicateTask {
                    name: name.value.clone(),
                    first_line: first,
                },
            ));
        }
        first_line.insert(&name.value, line);
        let variable = result_variable(&name.value);
        if let Some(first) = variables.insert(variable.clone(), &name.value) {
            return Err(report.at_span(
                name,
                SpecErrorKind::ResultVariableClash {
                    first: first.to_owned(),
                    second: name.value.clone(),
                    variable,
                },
            ));
        }
    }

    let mut tasks = Vec::with_capacity(raw.tasks.value.len());
    for task in &raw.tasks.value {
        tasks.push(build_task(report, task, &first_line)?);
    }
    let dag = build_dag(report, &raw.tasks.value)?;
    check_conditions(report, &raw.tasks.value, &tasks, &dag)?;

    Ok(WorkflowSpec {
        name: raw.name.value,
        concurrency,
        timeout,
        fail_fast: raw.fail_fast.unwrap_or(true),
        env: env_map(report, raw.env.as_ref())?,
        tasks,
        dag: Arc::new(dag),
        origin: report.origin.to_owned(),
    })
}

fn check_name(
    report: &Reporter<'_>,
    name: &Spanned<String>,
    what: &'static str,
    allow_dot: bool,
) -> Result<(), Box<SpecError>> {
    let ok = !name.value.is_empty()
        && name
            .value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || (allow_dot && c == '.'));
    if ok {
        return Ok(());
    }
    Err(report.at_span(
        name,
        SpecErrorKind::BadName {
            what,
            name: name.value.clone(),
            allow_dot,
        },
    ))
}

fn duration(
    report: &Reporter<'_>,
    field: Option<&Spanned<String>>,
    what: &str,
) -> Result<Option<Duration>, Box<SpecError>> {
    let Some(field) = field else { return Ok(None) };
    match parse_duration(&field.value) {
        Some(d) => Ok(Some(d)),
        None => Err(report.at_span(
            field,
            SpecErrorKind::BadDuration {
                field: what.to_owned(),
                value: field.value.clone(),
            },
        )),
    }
}

fn positive_duration(
    report: &Reporter<'_>,
    field: Option<&Spanned<String>>,
    what: &str,
) -> Result<Option<Duration>, Box<SpecError>> {
    let d = duration(report, field, what)?;
    if let (Some(d), Some(field)) = (d, field) {
        if d.is_zero() {
            return Err(report.at_span(
                field,
                SpecErrorKind::InvalidValue(format!(
                    "`{what}` is zero, which would stop every attempt at once; give a positive duration or remove it"
                )),
            ));
        }
    }
    Ok(d)
}

fn build_task(
    report: &Reporter<'_>,
    spanned: &Spanned<RawTask>,
    known: &HashMap<&str, u32>,
) -> Result<TaskSpec, Box<SpecError>> {
    let task = &spanned.value;
    let name = task.name.value.clone();
    let command = match (&task.run, &task.cmd) {
        (Some(run), None) => CommandSpec::Shell(run.value.clone()),
        (None, Some(cmd)) => {
            if cmd.value.is_empty() {
                return Err(report.at_span(
                    cmd,
                    SpecErrorKind::InvalidValue(format!(
                        "`cmd` of task `{name}` is empty; list the program and its arguments, such as [python3, job.py]"
                    )),
                ));
            }
            CommandSpec::Argv(cmd.value.iter().map(|a| a.value.0.clone()).collect())
        }
        (Some(_), Some(cmd)) => {
            return Err(report.at_span(
                cmd,
                SpecErrorKind::CommandChoice {
                    task: name,
                    problem: "has both `run` and `cmd`",
                },
            ))
        }
        (None, None) => {
            return Err(report.at_span(
                spanned,
                SpecErrorKind::CommandChoice {
                    task: name,
                    problem: "has neither `run` nor `cmd`",
                },
            ))
        }
    };
    for dep in &task.depends_on {
        if !known.contains_key(dep.value.as_str()) {
            return Err(report.at_span(
                dep,
                SpecErrorKind::UnknownDependency {
                    task: name,
                    dependency: dep.value.clone(),
                },
            ));
        }
    }
    let timeout = positive_duration(report, task.timeout.as_ref(), "timeout")?;
    let retry = match &task.retry {
        Some(r) => Some(build_retry(report, &r.value)?),
        None => None,
    };
    let when = match &task.when {
        Some(text) => Some(Arc::new(Condition::compile(&text.value).map_err(|e| {
            report.at_span(
                text,
                SpecErrorKind::BadCondition {
                    task: name.clone(),
                    message: e.message,
                },
            )
        })?)),
        None => None,
    };
    Ok(TaskSpec {
        depends_on: task.depends_on.iter().map(|d| d.value.clone()).collect(),
        command,
        timeout,
        retry,
        when,
        env: env_map(report, task.env.as_ref())?,
        workdir: task.workdir.as_ref().map(PathBuf::from),
        tags: task.tags.clone(),
        location: loc(&task.name).unwrap_or(Location::new(1, 1)),
        name,
    })
}

fn build_retry(report: &Reporter<'_>, raw: &RawRetry) -> Result<RetrySpec, Box<SpecError>> {
    let mut retry = RetrySpec::default();
    if let Some(n) = &raw.max_attempts {
        retry.max_attempts = match u32::try_from(n.value) {
            Ok(v) if v >= 1 => v,
            _ => {
                return Err(report.at_span(
                    n,
                    SpecErrorKind::InvalidValue(format!(
                        "`retry.max_attempts` is {}; it counts every attempt including the first, so give 1 or more",
                        n.value
                    )),
                ))
            }
        };
    }
    if let Some(d) = duration(report, raw.initial_delay.as_ref(), "retry.initial_delay")? {
        retry.initial_delay = d;
    }
    if let Some(d) = duration(report, raw.max_delay.as_ref(), "retry.max_delay")? {
        retry.max_delay = d;
    }
    if retry.initial_delay > retry.max_delay {
        let at = raw.max_delay.as_ref().or(raw.initial_delay.as_ref());
        return Err(report.at(
            at.and_then(loc),
            SpecErrorKind::InvalidValue(
                "`retry.initial_delay` is longer than `retry.max_delay`; raise max_delay or lower initial_delay".into(),
            ),
        ));
    }
    if let Some(b) = &raw.backoff {
        if !(b.value.is_finite() && b.value >= 1.0) {
            return Err(report.at_span(
                b,
                SpecErrorKind::InvalidValue(format!(
                    "`retry.backoff` is {}; it multiplies the delay after each attempt, so give 1.0 (constant) or more",
                    b.value
                )),
            ));
        }
        retry.backoff = b.value;
    }
    if let Some(j) = &raw.jitter {
        if !(0.0..=1.0).contains(&j.value) {
            return Err(report.at_span(
                j,
                SpecErrorKind::InvalidValue(format!(
                    "`retry.jitter` is {}; it is the fraction by which a delay may be randomly shortened, from 0.0 to 1.0",
                    j.value
                )),
            ));
        }
        retry.jitter = j.value;
    }
    for code in &raw.on_exit_codes {
        match i32::try_from(code.value) {
            Ok(c) if (1..=255).contains(&c) => retry.on_exit_codes.push(c),
            _ => {
                return Err(report.at_span(
                    code,
                    SpecErrorKind::InvalidValue(format!(
                        "`retry.on_exit_codes` contains {}; exit codes of failures are 1 to 255",
                        code.value
                    )),
                ))
            }
        }
    }
    Ok(retry)
}

/// The variables of an `env:` mapping; names must be non-empty and free of
/// `=` and NUL, which no environment can hold.
fn env_map(
    report: &Reporter<'_>,
    env: Option<&Spanned<BTreeMap<String, EnvValue>>>,
) -> Result<BTreeMap<String, String>, Box<SpecError>> {
    let Some(env) = env else {
        return Ok(BTreeMap::new());
    };
    for (name, value) in &env.value {
        let bad_name = name.is_empty() || name.contains(['=', '\0']);
        if bad_name || value.0.contains('\0') {
            return Err(report.at_span(
                env,
                SpecErrorKind::InvalidValue(format!(
                    "`env` variable `{}` cannot be set: names must be non-empty without `=`, and neither names nor values may contain NUL",
                    name.escape_debug()
                )),
            ));
        }
    }
    Ok(env
        .value
        .iter()
        .map(|(k, v)| (k.clone(), v.0.clone()))
        .collect())
}

fn build_dag(report: &Reporter<'_>, raw: &[Spanned<RawTask>]) -> Result<Dag, Box<SpecError>> {
    let edges: usize = raw.iter().map(|t| t.value.depends_on.len()).sum();
    let mut builder = DagBuilder::with_capacity(raw.len(), edges);
    for task in raw {
        let t = &task.value;
        builder
            .add(
                t.name.value.clone(),
                t.depends_on.iter().map(|d| d.value.as_str()),
            )
            .map_err(|e| graph_error(report, raw, e))?;
    }
    builder.build().map_err(|e| graph_error(report, raw, e))
}

/// Maps a graph error to the place in the file that causes it. Duplicates
/// and unknown names are caught earlier with their own locations; this is
/// mostly for cycles, reported at the `depends_on` entry that closes them.
fn graph_error(
    report: &Reporter<'_>,
    raw: &[Spanned<RawTask>],
    error: GraphError,
) -> Box<SpecError> {
    let find = |name: &str| raw.iter().find(|t| t.value.name.value == name);
    match error {
        GraphError::Cycle(cycle) => {
            let path = cycle.path;
            // path = [a, ..., z, a]: `a` depends on `z`, the closing edge.
            let location = match (
                path.first(),
                path.len().checked_sub(2).and_then(|i| path.get(i)),
            ) {
                (Some(first), Some(closing)) => find(first).and_then(|t| {
                    t.value
                        .depends_on
                        .iter()
                        .find(|d| &d.value == closing)
                        .and_then(loc)
                        .or_else(|| loc(&t.value.name))
                }),
                _ => None,
            };
            report.at(location, SpecErrorKind::Cycle { path })
        }
        GraphError::DuplicateTask { name } => {
            let location = find(&name).and_then(|t| loc(&t.value.name));
            report.at(
                location,
                SpecErrorKind::DuplicateTask {
                    name,
                    first_line: location.map_or(0, |l| l.line),
                },
            )
        }
        GraphError::UnknownDependency { task, dependency } => {
            let location = find(&task).and_then(|t| {
                t.value
                    .depends_on
                    .iter()
                    .find(|d| d.value == dependency)
                    .and_then(loc)
            });
            report.at(
                location,
                SpecErrorKind::UnknownDependency { task, dependency },
            )
        }
        other => report.at(None, SpecErrorKind::InvalidValue(other.to_string())),
    }
}

/// Every task a condition reads must be an ancestor of its task, so that it
/// has finished by the time the condition is evaluated.
fn check_conditions(
    report: &Reporter<'_>,
    raw: &[Spanned<RawTask>],
    tasks: &[TaskSpec],
    dag: &Dag,
) -> Result<(), Box<SpecError>> {
    for (i, task) in tasks.iter().enumerate() {
        let Some(condition) = &task.when else {
            continue;
        };
        let at = raw[i].value.when.as_ref().and_then(loc);
        let ancestors = ancestors(dag, TaskId::from_index(i));
        for read in condition.tasks_read() {
            let message = match dag.id(read) {
                None => format!("it reads task `{read}`, which is not defined; check the name"),
                Some(id) if !ancestors[id.index()] => format!(
                    "it reads task `{read}`, but `{}` does not depend on `{read}`, so `{read}` may not have finished; add `{read}` to depends_on",
                    task.name
                ),
                Some(_) => continue,
            };
            return Err(report.at(
                at,
                SpecErrorKind::BadCondition {
                    task: task.name.clone(),
                    message,
                },
            ));
        }
    }
    Ok(())
}

/// Marks every task `id` depends on, directly or not.
fn ancestors(dag: &Dag, id: TaskId) -> Vec<bool> {
    let mut seen = vec![false; dag.len()];
    let mut stack: Vec<TaskId> = dag.dependencies(id).to_vec();
    while let Some(t) = stack.pop() {
        if !std::mem::replace(&mut seen[t.index()], true) {
            stack.extend_from_slice(dag.dependencies(t));
        }
    }
    seen
}
