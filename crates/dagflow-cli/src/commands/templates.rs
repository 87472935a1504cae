//! `dagflow templates` and `dagflow init --template NAME [FILE]`.

use std::io::Write;

use console::style;
use dagflow::templates::WorkflowTemplate;

use crate::cli::{InitArgs, OutputArg, OutputFormat};
use crate::output::{print_json, table::Table};
use crate::{exit, UsageError};

pub fn templates(args: OutputArg) -> anyhow::Result<u8> {
    let templates = WorkflowTemplate::builtins();
    if args.output == OutputFormat::Json {
        print_json(&templates)?;
        return Ok(exit::SUCCESS);
    }
    let mut table = Table::new(["TEMPLATE", "STEPS", "DESCRIPTION"]);
    for t in &templates {
        table.row(vec![
            t.name.clone(),
            t.step_names().join(" → "),
            t.description.clone(),
        ]);
    }
    print!("{}", table.render());
    println!("\nStart a workflow file from one: dagflow init --template <TEMPLATE> [FILE]");
    Ok(exit::SUCCESS)
}

pub fn init(args: InitArgs) -> anyhow::Result<u8> {
    let wanted = args.template.replace('-', "_");
    let Some(template) = WorkflowTemplate::builtin(&wanted) else {
        let names: Vec<String> = WorkflowTemplate::builtins()
            .into_iter()
            .map(|t| t.name)
            .collect();
        return Err(UsageError(format!(
            "there is no template `{}`; the built-in templates are: {}",
            args.template,
            names.join(", ")
        ))
        .into());
    };
    let text = starter_yaml(&template, &args.file.display().to_string());
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if args.force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options.open(&args.file).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            anyhow::Error::from(UsageError(format!(
                "{} already exists; choose another file name or pass --force to overwrite it",
                args.file.display()
            )))
        } else {
            anyhow::anyhow!("cannot write {}: {e}", args.file.display())
        }
    })?;
    file.write_all(text.as_bytes())?;
    eprintln!(
        "{} wrote {} from template `{}` ({} tasks); edit the `run:` commands, then: dagflow run {}",
        style("✔").green().for_stderr(),
        args.file.display(),
        template.name,
        template.steps.len(),
        args.file.display()
    );
    Ok(exit::SUCCESS)
}

/// A workflow file with one placeholder command per template step.
pub fn starter_yaml(template: &WorkflowTemplate, file: &str) -> String {
    let mut out = format!(
        "# {}: {}\n# Written by `dagflow init --template {}`. Replace each `run:` with the real\n# command, then: dagflow validate {file} && dagflow run {file}\nname: {}\nfail_fast: true\ntasks:\n",
        template.name, template.description, template.name, template.name
    );
    for step in &template.steps {
        let command = format!(
            "echo {}",
            shell_quote(&format!("TODO {}: {}", step.name, step.description))
        );
        out.push_str(&format!("  - name: {}\n", step.name));
        out.push_str(&format!("    # {}\n", step.description));
        out.push_str(&format!("    run: {}\n", yaml_quote(&command)));
        if !step.depends_on.is_empty() {
            out.push_str(&format!(
                "    depends_on: [{}]\n",
                step.depends_on.join(", ")
            ));
        }
    }
    out
}

/// Single-quotes `text` for `sh`.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// A YAML double-quoted scalar (JSON strings are valid YAML).
fn yaml_quote(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_template_gives_a_valid_workflow_file() {
        for template in WorkflowTemplate::builtins() {
            let text = starter_yaml(&template, "wf.yml");
            let spec = dagflow_cli::spec::parse(&text, "wf.yml")
                .unwrap_or_else(|e| panic!("{}: {}\n{text}", template.name, e.render()));
            assert_eq!(spec.name, template.name);
            let names: Vec<&str> = spec.tasks.iter().map(|t| t.name.as_str()).collect();
            assert_eq!(names, template.step_names());
            for (task, step) in spec.tasks.iter().zip(&template.steps) {
                assert_eq!(task.depends_on, step.depends_on);
            }
        }
    }

    #[test]
    fn shell_quoting_survives_quotes() {
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
    }
}
