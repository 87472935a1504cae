//! Writes a standard workload as a dagflow workflow file or as a Makefile,
//! with the same command in every task, so `benches/cli.sh` can compare
//! `dagflow run` and `make -j N` on exactly the graph of WORKLOADS.md.

use std::fmt::Write as _;

use crate::workload::GraphSpec;

/// The file formats `--emit` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A dagflow workflow file (YAML).
    Yaml,
    /// A Makefile whose default goal `all` depends on every task.
    Make,
}

impl Format {
    /// The format called `name` (`yaml` or `make`).
    pub fn by_name(name: &str) -> Option<Format> {
        match name {
            "yaml" => Some(Format::Yaml),
            "make" => Some(Format::Make),
            _ => None,
        }
    }
}

/// Renders `spec` with `command` (split on whitespace into an argument
/// list, run without a shell by both dagflow and make) as every task's body.
/// Task bodies do not sleep, whatever the workload says.
///
/// ```
/// use dagflow_bench::emit::{render, Format};
/// use dagflow_bench::workload::Workload;
/// let spec = Workload::by_name("chain-1000").expect("standard").generate();
/// let yaml = render(&spec, Format::Yaml, "true");
/// assert!(yaml.contains("  - name: t1\n    cmd: [\"true\"]\n    depends_on: [\"t0\"]\n"));
/// let make = render(&spec, Format::Make, "true");
/// assert!(make.contains("t1: t0\n\ttrue\n"));
/// ```
pub fn render(spec: &GraphSpec, format: Format, command: &str) -> String {
    let mut out = String::with_capacity(spec.len() * 64);
    let args: Vec<&str> = command.split_whitespace().collect();
    match format {
        Format::Yaml => {
            let _ = writeln!(out, "name: {}", spec.workload.name);
            out.push_str("tasks:\n");
            let cmd = args
                .iter()
                .map(|a| quoted(a))
                .collect::<Vec<_>>()
                .join(", ");
            for i in spec.insertion_order() {
                let _ = writeln!(out, "  - name: {}\n    cmd: [{cmd}]", spec.name(i));
                let deps = spec.deps(i);
                if !deps.is_empty() {
                    let names: Vec<String> = deps
                        .iter()
                        .map(|&d| quoted(spec.name(d as usize)))
                        .collect();
                    let _ = writeln!(out, "    depends_on: [{}]", names.join(", "));
                }
            }
        }
        Format::Make => {
            // Every task is phony: it runs once per invocation, like a workflow task.
            out.push_str(".PHONY: all");
            for i in 0..spec.len() {
                let _ = write!(out, " {}", spec.name(i));
            }
            out.push_str("\nall:");
            for i in 0..spec.len() {
                let _ = write!(out, " {}", spec.name(i));
            }
            out.push('\n');
            let recipe = args.join(" ");
            for i in spec.insertion_order() {
                let deps: Vec<&str> = spec
                    .deps(i)
                    .iter()
                    .map(|&d| spec.name(d as usize))
                    .collect();
                let _ = writeln!(
                    out,
                    "{}:{}{}\n\t{recipe}",
                    spec.name(i),
                    if deps.is_empty() { "" } else { " " },
                    deps.join(" ")
                );
            }
        }
    }
    out
}

fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::Workload;

    #[test]
    fn makefile_has_one_rule_per_task_with_its_dependencies() {
        let spec = Workload::by_name("sleepy-10x100")
            .unwrap_or_else(|| panic!("sleepy is standard"))
            .generate();
        let make = render(&spec, Format::Make, "true");
        let rules: Vec<&str> = make.lines().filter(|l| l.starts_with('t')).collect();
        assert_eq!(rules.len(), 1000);
        let deps: Vec<String> = spec.deps(150).iter().map(|&d| format!("t{d}")).collect();
        assert!(make.contains(&format!("\nt150: {}\n\ttrue\n", deps.join(" "))));
        assert_eq!(make.matches("\ttrue\n").count(), 1000);
    }

    #[test]
    fn yaml_lists_every_task_with_quoted_dependencies() {
        let spec = Workload::by_name("sleepy-10x100")
            .unwrap_or_else(|| panic!("sleepy is standard"))
            .generate();
        let yaml = render(&spec, Format::Yaml, "true");
        assert!(
            yaml.starts_with("name: sleepy-10x100\ntasks:\n  - name: t0\n    cmd: [\"true\"]\n")
        );
        assert_eq!(yaml.matches("  - name: ").count(), 1000);
        assert_eq!(yaml.matches("    depends_on: ").count(), 900);
        // Every body is the command given: the workload's sleep is not written.
        let cmds: Vec<&str> = yaml.lines().filter(|l| l.starts_with("    cmd:")).collect();
        assert_eq!(cmds.len(), 1000);
        assert!(cmds.iter().all(|l| *l == "    cmd: [\"true\"]"));
    }
}
