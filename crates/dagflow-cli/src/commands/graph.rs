//! `dagflow graph FILE [--format dot|mermaid]`.

use super::load_spec;
use crate::cli::{GraphArgs, GraphFormat};
use crate::exit;
use crate::output::graph;

pub fn graph(args: GraphArgs) -> anyhow::Result<u8> {
    let spec = load_spec(&args.file)?;
    let text = match args.format {
        GraphFormat::Dot => graph::dot(&spec),
        GraphFormat::Mermaid => graph::mermaid(&spec),
    };
    print!("{text}");
    Ok(exit::SUCCESS)
}
