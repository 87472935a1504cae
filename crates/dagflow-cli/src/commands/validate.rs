//! `dagflow validate FILE`: check a file, print its order and levels.

use console::style;

use super::load_spec;
use crate::cli::FileArg;
use crate::exit;

pub fn validate(args: FileArg) -> anyhow::Result<u8> {
    let spec = load_spec(&args.file)?;
    let dag = &spec.dag;
    let levels = dag.levels();
    println!(
        "{} {}: workflow `{}` is valid ({} tasks, {} dependencies, {} levels)",
        style("✔").green(),
        args.file.display(),
        spec.name,
        dag.len(),
        dag.edge_count(),
        levels.len()
    );
    println!("\nExecution order:");
    for (i, &id) in dag.topological_order().iter().enumerate() {
        println!("  {:>3}  {}", i + 1, dag.name(id));
    }
    println!("\nLevels (the tasks of a level can run at the same time):");
    for (i, level) in levels.iter().enumerate() {
        let names: Vec<&str> = level.iter().map(|&t| dag.name(t)).collect();
        println!("  {:>3}  {}", i, names.join(", "));
    }
    Ok(exit::SUCCESS)
}
