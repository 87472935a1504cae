//! The task graph as Graphviz DOT or Mermaid.

use dagflow_cli::spec::WorkflowSpec;

/// Graphviz DOT: one node per task (tooltip: its command), edges from
/// dependency to dependent.
pub fn dot(spec: &WorkflowSpec) -> String {
    let dag = &spec.dag;
    let mut out = format!("digraph {} {{\n", quote(&spec.name));
    out.push_str("  rankdir=LR;\n  node [shape=box, style=rounded];\n");
    for (id, task) in dag.ids().zip(&spec.tasks) {
        out.push_str(&format!(
            "  {} [tooltip={}];\n",
            quote(dag.name(id)),
            quote(&task.command.display())
        ));
    }
    for id in dag.ids() {
        for &dep in dag.dependencies(id) {
            out.push_str(&format!(
                "  {} -> {};\n",
                quote(dag.name(dep)),
                quote(dag.name(id))
            ));
        }
    }
    out.push_str("}\n");
    out
}

/// A Mermaid flowchart; node ids are `t0`, `t1`, ... so that any task name
/// is safe, and labels are the names.
pub fn mermaid(spec: &WorkflowSpec) -> String {
    let dag = &spec.dag;
    let mut out = String::from("flowchart LR\n");
    for id in dag.ids() {
        out.push_str(&format!("  t{}[\"{}\"]\n", id.index(), dag.name(id)));
    }
    for id in dag.ids() {
        for &dep in dag.dependencies(id) {
            out.push_str(&format!("  t{} --> t{}\n", dep.index(), id.index()));
        }
    }
    out
}

fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> WorkflowSpec {
        dagflow_cli::spec::parse(
            "name: etl\ntasks:\n  - name: load\n    run: echo \"x\"\n    depends_on: [extract]\n  - name: extract\n    run: echo\n",
            "etl.yml",
        )
        .unwrap()
    }

    #[test]
    fn dot_lists_nodes_and_edges() {
        assert_eq!(
            dot(&spec()),
            "digraph \"etl\" {\n  rankdir=LR;\n  node [shape=box, style=rounded];\n  \"load\" [tooltip=\"echo \\\"x\\\"\"];\n  \"extract\" [tooltip=\"echo\"];\n  \"extract\" -> \"load\";\n}\n"
        );
    }

    #[test]
    fn mermaid_uses_safe_ids() {
        assert_eq!(
            mermaid(&spec()),
            "flowchart LR\n  t0[\"load\"]\n  t1[\"extract\"]\n  t1 --> t0\n"
        );
    }
}
