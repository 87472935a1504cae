//! List the built-in templates, then run `ci_cd` with two steps overridden.
//!
//! Run with `cargo run -p dagflow --example template`.

use dagflow::templates::Overrides;
use dagflow::{WorkflowContext, WorkflowTemplate};
use serde_json::json;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for template in WorkflowTemplate::builtins() {
        println!("{}: {}", template.name, template.description);
        for step in &template.steps {
            let after = if step.depends_on.is_empty() {
                String::new()
            } else {
                format!(" (after {})", step.depends_on.join(", "))
            };
            println!("  - {}{}: {}", step.name, after, step.description);
        }
    }

    let runner = WorkflowTemplate::ci_cd().instantiate(
        Overrides::new()
            .action("build", |_: &mut WorkflowContext| {
                Ok::<_, String>(json!({ "artifact": "target/release/app", "size_kb": 2048 }))
            })
            .action("test", |ctx: &mut WorkflowContext| {
                let artifact = ctx
                    .get("build")
                    .and_then(|b| b["artifact"].as_str())
                    .ok_or("build produced no artifact")?
                    .to_string();
                Ok::<_, String>(json!(format!("42 tests passed against {artifact}")))
            }),
    )?;
    let result = runner.run(WorkflowContext::new())?;
    println!(
        "\nran `{}`: success = {}",
        result.workflow_name, result.success
    );
    for step in result.steps() {
        println!(
            "  {:<7} {:<10} {}",
            step.name,
            step.status.as_str(),
            step.result.map(|v| v.to_string()).unwrap_or_default()
        );
    }
    Ok(())
}
