//! Errors in workflow files, with the place they occur.

use std::fmt;
use std::path::PathBuf;

/// A place in a workflow file: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1, counted in characters.
    pub column: u32,
}

impl Location {
    /// The location at `line`, `column` (both from 1).
    pub fn new(line: u32, column: u32) -> Self {
        Location { line, column }
    }

    pub(crate) fn from_saphyr(location: &serde_saphyr::Location) -> Option<Location> {
        let (line, column) = (location.line(), location.column());
        if line == 0 {
            return None;
        }
        Some(Location {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column.max(1)).unwrap_or(u32::MAX),
        })
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// What is wrong with a workflow file.
///
/// Each message is a full sentence that names the task or field and says how
/// to fix it; the file and line are added by [`SpecError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpecErrorKind {
    /// The YAML is malformed, a field is unknown or missing, or a value has the
    /// wrong type. The message comes from the YAML parser.
    #[error("{0}")]
    Yaml(String),
    /// A duration such as `timeout` could not be read.
    #[error("`{field}` is `{value}`, which is not a duration; write a whole number followed by ms, s, m or h, such as 500ms, 30s, 10m or 1h30m")]
    BadDuration {
        /// The field, such as `timeout` or `retry.initial_delay`.
        field: String,
        /// The text found.
        value: String,
    },
    /// A value is out of its allowed range.
    #[error("{0}")]
    InvalidValue(String),
    /// A task or workflow name uses characters that are not allowed.
    #[error("{what} name `{name}` is not allowed; use letters, digits, `_` and `-` only{extra}", extra = if *.allow_dot { " (and `.`)" } else { "" })]
    BadName {
        /// `task` or `workflow`.
        what: &'static str,
        /// The name found.
        name: String,
        /// Whether `.` is allowed too (workflow names).
        allow_dot: bool,
    },
    /// Two tasks have the same name.
    #[error("task `{name}` is defined more than once (first on line {first_line}); task names must be unique")]
    DuplicateTask {
        /// The repeated name.
        name: String,
        /// Line of the first definition.
        first_line: u32,
    },
    /// A task depends on a name no task has.
    #[error("task `{task}` depends on `{dependency}`, which is not defined; add a task named `{dependency}` or correct the dependency")]
    UnknownDependency {
        /// The task that declares the dependency.
        task: String,
        /// The missing name.
        dependency: String,
    },
    /// The dependencies form a cycle.
    #[error("dependency cycle: {}; remove one of these dependencies", .path.join(" -> "))]
    Cycle {
        /// Tasks on the cycle in execution order; first and last are the same.
        path: Vec<String>,
    },
    /// A task has neither `run` nor `cmd`, or both.
    #[error("task `{task}` {problem}; give it exactly one of `run` (a shell command) or `cmd` (an argument list)")]
    CommandChoice {
        /// The task.
        task: String,
        /// "has neither `run` nor `cmd`" or "has both `run` and `cmd`".
        problem: &'static str,
    },
    /// A `when` expression does not compile or reads something it may not.
    #[error("the `when` condition of task `{task}` is invalid: {message}")]
    BadCondition {
        /// The task.
        task: String,
        /// Why.
        message: String,
    },
    /// Two task names map to the same `DAGFLOW_RESULT_*` variable.
    #[error(
        "tasks `{first}` and `{second}` both pass their result in `{variable}`; rename one of them"
    )]
    ResultVariableClash {
        /// The earlier task.
        first: String,
        /// The later task.
        second: String,
        /// The shared variable name.
        variable: String,
    },
    /// The workflow has no task.
    #[error("the workflow has no tasks; add at least one entry under `tasks:`")]
    NoTasks,
}

/// An error in a workflow file: what is wrong and where.
///
/// `Display` gives one line, `FILE:LINE:COLUMN: message`; [`render`](Self::render)
/// adds the offending source line with a caret under the column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    /// The file (as given on the command line), or `<input>`.
    pub origin: String,
    /// Where in the file, when known.
    pub location: Option<Location>,
    /// What is wrong.
    pub kind: SpecErrorKind,
    source_line: Option<String>,
}

impl SpecError {
    /// An error of `kind` at `location` in `source`, which came from `origin`.
    pub fn new(
        origin: &str,
        source: &str,
        location: Option<Location>,
        kind: SpecErrorKind,
    ) -> Self {
        let source_line = location.and_then(|l| {
            source
                .lines()
                .nth(l.line.saturating_sub(1) as usize)
                .map(str::to_owned)
        });
        SpecError {
            origin: origin.to_owned(),
            location,
            kind,
            source_line,
        }
    }

    /// The line number, when known.
    pub fn line(&self) -> Option<u32> {
        self.location.map(|l| l.line)
    }

    /// The message with the source line and a caret under the column:
    ///
    /// ```text
    /// etl.yml:4:5: unknown field `bogus`, expected one of ...
    ///   |
    /// 4 |     bogus: 1
    ///   |     ^
    /// ```
    pub fn render(&self) -> String {
        let mut out = self.to_string();
        if let (Some(loc), Some(text)) = (self.location, &self.source_line) {
            let number = loc.line.to_string();
            let pad = " ".repeat(number.len());
            let caret_pad: String = text
                .chars()
                .take(loc.column.saturating_sub(1) as usize)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            out.push_str(&format!(
                "\n{pad} |\n{number} | {text}\n{pad} | {caret_pad}^"
            ));
        }
        out
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.location {
            Some(loc) => write!(f, "{}:{}: {}", self.origin, loc, self.kind),
            None => write!(f, "{}: {}", self.origin, self.kind),
        }
    }
}

impl std::error::Error for SpecError {}

/// Why a workflow file could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read workflow file `{}`: {source}; check the path and its permissions", path.display())]
    Read {
        /// The path given.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file was read but is not a valid workflow.
    #[error(transparent)]
    Invalid(#[from] Box<SpecError>),
}

impl LoadError {
    /// The spec error, when the file was read but is invalid.
    pub fn spec_error(&self) -> Option<&SpecError> {
        match self {
            LoadError::Invalid(e) => Some(e),
            LoadError::Read { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_points_at_the_column() {
        let err = SpecError::new(
            "wf.yml",
            "name: x\ntasks:\n  - nam: a\n",
            Some(Location::new(3, 5)),
            SpecErrorKind::Yaml("unknown field `nam`".into()),
        );
        assert_eq!(
            err.render(),
            "wf.yml:3:5: unknown field `nam`\n  |\n3 |   - nam: a\n  |     ^"
        );
    }

    #[test]
    fn display_without_location_names_the_file() {
        let err = SpecError::new("wf.yml", "", None, SpecErrorKind::NoTasks);
        assert_eq!(
            err.to_string(),
            "wf.yml: the workflow has no tasks; add at least one entry under `tasks:`"
        );
    }
}
