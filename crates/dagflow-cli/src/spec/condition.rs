//! `when:` conditions, written in CEL (the Common Expression Language used by
//! Kubernetes, Envoy and Google Cloud), evaluated by the `cel` crate.
//!
//! A condition reads two variables:
//! - `tasks`: one entry per task that has finished, keyed by name, each with
//!   `status` (`"completed"`, `"failed"`, `"skipped"`, `"cancelled"`),
//!   `result` (the task's result: JSON value or string) and `exit_code`
//!   (an integer, or `null` when the task was not a process that exited).
//! - `env`: the environment of `dagflow` overlaid with the workflow's `env`.
//!
//! ```text
//! when: tasks.check.result.rows > 0
//! when: tasks["fetch-data"].result == "changed" && env.DEPLOY == "yes"
//! ```
//!
//! Only tasks the condition's task depends on (directly or not) may be read,
//! so every task a condition names has finished when it is evaluated; this is
//! checked when the file is loaded.

use std::collections::{BTreeMap, BTreeSet};

use cel::common::ast::{EntryExpr, Expr, IdedExpr};
use serde::Serialize;
use serde_json::Value;

/// Why a condition could not be compiled or evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConditionError {
    /// What went wrong, as a sentence.
    pub message: String,
}

impl ConditionError {
    fn new(message: impl Into<String>) -> Self {
        ConditionError {
            message: message.into(),
        }
    }
}

/// What a condition sees of one finished task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskFacts {
    /// `completed`, `failed`, `skipped` or `cancelled`.
    pub status: String,
    /// The task's result, `null` if it has none.
    pub result: Value,
    /// The exit code of its last attempt, when it ran a process that exited.
    pub exit_code: Option<i32>,
}

/// A compiled `when:` expression.
pub struct Condition {
    text: String,
    program: cel::Program,
    tasks_read: BTreeSet<String>,
}

impl std::fmt::Debug for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Condition")
            .field("text", &self.text)
            .field("tasks_read", &self.tasks_read)
            .finish()
    }
}

impl Condition {
    /// Compiles `text` and checks that it only reads `tasks` and `env`.
    ///
    /// ```
    /// use dagflow_cli::spec::Condition;
    /// let c = Condition::compile(r#"tasks.check.result.rows > 0 && tasks["load-db"].status == "completed""#)?;
    /// assert_eq!(c.tasks_read().collect::<Vec<_>>(), ["check", "load-db"]);
    /// # Ok::<(), dagflow_cli::spec::ConditionError>(())
    /// ```
    pub fn compile(text: &str) -> Result<Condition, ConditionError> {
        let program = cel::Program::compile(text).map_err(|errors| {
            let detail = errors
                .errors
                .first()
                .map(|e| format!("{} (at column {} of the expression)", e.msg, e.pos.1))
                .unwrap_or_else(|| errors.to_string());
            ConditionError::new(format!("it is not a valid CEL expression: {detail}"))
        })?;
        let mut walk = Walk::default();
        walk.visit(program.expression());
        if let Some(name) = walk.unknown_variables.into_iter().next() {
            return Err(ConditionError::new(format!(
                "it reads `{name}`, which does not exist; a condition can read `tasks` and `env`, \
                 for example `tasks.build.status == \"completed\"`"
            )));
        }
        Ok(Condition {
            text: text.to_owned(),
            program,
            tasks_read: walk.tasks_read,
        })
    }

    /// The expression as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The task names the expression reads as `tasks.NAME` or
    /// `tasks["NAME"]`, sorted.
    pub fn tasks_read(&self) -> impl Iterator<Item = &str> + '_ {
        self.tasks_read.iter().map(String::as_str)
    }

    /// Evaluates the condition; it must give `true` or `false`.
    ///
    /// ```
    /// use std::collections::BTreeMap;
    /// use dagflow_cli::spec::{Condition, TaskFacts};
    /// let c = Condition::compile("tasks.check.result.rows > 10")?;
    /// let mut tasks = BTreeMap::new();
    /// tasks.insert("check".to_string(), TaskFacts {
    ///     status: "completed".into(),
    ///     result: serde_json::json!({"rows": 42}),
    ///     exit_code: Some(0),
    /// });
    /// assert!(c.evaluate(&tasks, &BTreeMap::new())?);
    /// # Ok::<(), dagflow_cli::spec::ConditionError>(())
    /// ```
    pub fn evaluate(
        &self,
        tasks: &BTreeMap<String, TaskFacts>,
        env: &BTreeMap<String, String>,
    ) -> Result<bool, ConditionError> {
        let mut context = cel::Context::default();
        context.add_variable("tasks", tasks).map_err(|e| {
            ConditionError::new(format!("the task results could not be given to CEL: {e}"))
        })?;
        context.add_variable("env", env).map_err(|e| {
            ConditionError::new(format!("the environment could not be given to CEL: {e}"))
        })?;
        match self.program.execute(&context) {
            Ok(cel::Value::Bool(b)) => Ok(b),
            Ok(other) => Err(ConditionError::new(format!(
                "`{}` gave {other:?}, not true or false; compare the value, e.g. `... == \"yes\"`",
                self.text
            ))),
            Err(e) => Err(ConditionError::new(format!(
                "`{}` could not be evaluated: {e}",
                self.text
            ))),
        }
    }
}

/// Collects the tasks an expression reads and any free variable other than
/// `tasks` and `env` (comprehension variables such as `x` in
/// `list.all(x, ...)` are bound, not free).
#[derive(Default)]
struct Walk {
    tasks_read: BTreeSet<String>,
    unknown_variables: BTreeSet<String>,
    bound: Vec<String>,
}

impl Walk {
    fn visit(&mut self, node: &IdedExpr) {
        // Iterative over an explicit stack: expressions may nest deeply.
        let mut stack: Vec<Step<'_>> = vec![Step::Visit(node)];
        while let Some(step) = stack.pop() {
            let node = match step {
                Step::Visit(node) => node,
                Step::Unbind => {
                    self.bound.pop();
                    continue;
                }
            };
            match &node.expr {
                Expr::Ident(name) => {
                    let known = name == "tasks" || name == "env" || self.bound.contains(name);
                    if !known {
                        self.unknown_variables.insert(name.clone());
                    }
                }
                Expr::Select(select) => {
                    if is_tasks_ident(&select.operand) {
                        self.tasks_read.insert(select.field.clone());
                    }
                    stack.push(Step::Visit(&select.operand));
                }
                Expr::Call(call) => {
                    if call.func_name == "_[_]"
                        && call.args.len() == 2
                        && is_tasks_ident(&call.args[0])
                    {
                        if let Expr::Literal(cel::common::ast::LiteralValue::String(key)) =
                            &call.args[1].expr
                        {
                            self.tasks_read.insert(key.to_string());
                        }
                    }
                    if let Some(target) = &call.target {
                        stack.push(Step::Visit(target));
                    }
                    stack.extend(call.args.iter().map(Step::Visit));
                }
                Expr::List(list) => stack.extend(list.elements.iter().map(Step::Visit)),
                Expr::Map(map) => {
                    for entry in &map.entries {
                        if let EntryExpr::MapEntry(e) = &entry.expr {
                            stack.push(Step::Visit(&e.key));
                            stack.push(Step::Visit(&e.value));
                        }
                    }
                }
                Expr::Struct(s) => {
                    for entry in &s.entries {
                        match &entry.expr {
                            EntryExpr::MapEntry(e) => {
                                stack.push(Step::Visit(&e.key));
                                stack.push(Step::Visit(&e.value));
                            }
                            EntryExpr::StructField(f) => stack.push(Step::Visit(&f.value)),
                        }
                    }
                }
                Expr::Comprehension(c) => {
                    stack.push(Step::Visit(&c.iter_range));
                    stack.push(Step::Visit(&c.accu_init));
                    // The loop parts see the iteration and accumulator variables.
                    let mut names = vec![c.iter_var.clone(), c.accu_var.clone()];
                    names.extend(c.iter_var2.clone());
                    for _ in &names {
                        stack.push(Step::Unbind);
                    }
                    stack.push(Step::Visit(&c.result));
                    stack.push(Step::Visit(&c.loop_step));
                    stack.push(Step::Visit(&c.loop_cond));
                    self.bound.extend(names);
                }
                Expr::Literal(_) | Expr::Unspecified => {}
            }
        }
    }
}

enum Step<'a> {
    Visit(&'a IdedExpr),
    Unbind,
}

fn is_tasks_ident(node: &IdedExpr) -> bool {
    matches!(&node.expr, Expr::Ident(name) if name == "tasks")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn facts(status: &str, result: Value) -> TaskFacts {
        TaskFacts {
            status: status.into(),
            result,
            exit_code: Some(0),
        }
    }

    #[test]
    fn reads_status_result_and_env() {
        let c = Condition::compile(
            r#"tasks.a.status == "completed" && tasks.a.result.n >= 3 && env.MODE == "full""#,
        )
        .unwrap();
        let mut tasks = BTreeMap::new();
        tasks.insert("a".to_string(), facts("completed", json!({"n": 3})));
        let mut env = BTreeMap::new();
        env.insert("MODE".to_string(), "full".to_string());
        assert!(c.evaluate(&tasks, &env).unwrap());
        env.insert("MODE".to_string(), "quick".to_string());
        assert!(!c.evaluate(&tasks, &env).unwrap());
    }

    #[test]
    fn collects_tasks_read_by_field_and_by_index() {
        let c = Condition::compile(r#"tasks.b.result == 1 || tasks["c-d"].status == "failed""#)
            .unwrap();
        assert_eq!(c.tasks_read().collect::<Vec<_>>(), ["b", "c-d"]);
    }

    #[test]
    fn comprehension_variables_are_not_unknown() {
        let c = Condition::compile("tasks.a.result.all(x, x > 0)").unwrap();
        let mut tasks = BTreeMap::new();
        tasks.insert("a".to_string(), facts("completed", json!([1, 2])));
        assert!(c.evaluate(&tasks, &BTreeMap::new()).unwrap());
    }

    #[test]
    fn unknown_variable_is_rejected_with_advice() {
        let err = Condition::compile("steps.a.ok").unwrap_err();
        assert!(
            err.message.contains("reads `steps`, which does not exist"),
            "{err}"
        );
    }

    #[test]
    fn syntax_error_is_reported() {
        let err = Condition::compile("tasks.a.status ==").unwrap_err();
        assert!(
            err.message.starts_with("it is not a valid CEL expression"),
            "{err}"
        );
    }

    #[test]
    fn non_boolean_result_is_an_error() {
        let c = Condition::compile("tasks.a.result").unwrap();
        let mut tasks = BTreeMap::new();
        tasks.insert("a".to_string(), facts("completed", json!(5)));
        let err = c.evaluate(&tasks, &BTreeMap::new()).unwrap_err();
        assert!(err.message.contains("not true or false"), "{err}");
    }
}
