//! `coevo models`: the presets and their parameter counts.

use anyhow::Context;
use clap::Subcommand;
use coevo::model::{Layout, PRESETS, preset};
use serde::Serialize;

use super::{Global, output};

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// List the presets with their parameter counts on CIFAR-10-shaped input.
    List,
    /// Print a preset's spec as JSON and its parameter count.
    Show {
        /// Preset name.
        name: String,
        /// Input shape, comma-separated (C,H,W or C,L).
        #[arg(long, default_value = "3,32,32", value_delimiter = ',')]
        input: Vec<usize>,
        /// Output units (classes).
        #[arg(long, default_value_t = 10)]
        outputs: usize,
    },
}

#[derive(Serialize)]
struct Entry {
    name: &'static str,
    description: &'static str,
    input: Vec<usize>,
    params: usize,
}

pub fn run(command: ModelsCommand, global: &Global) -> anyhow::Result<()> {
    match command {
        ModelsCommand::List => {
            let entries = PRESETS
                .iter()
                .map(|&(name, description)| {
                    let input = if name == "cnn1d" {
                        vec![1, 7503]
                    } else {
                        vec![3, 32, 32]
                    };
                    let spec = preset(name, &input, 10)?;
                    Ok(Entry {
                        name,
                        description,
                        params: Layout::build(&spec)?.param_count(),
                        input,
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            output::emit(global.json, &entries, |entries| {
                for e in entries {
                    println!(
                        "{:<9} {:>10} params on {:?}  {}",
                        e.name, e.params, e.input, e.description
                    );
                }
            })
        }
        ModelsCommand::Show {
            name,
            input,
            outputs,
        } => {
            let spec = preset(&name, &input, outputs)?;
            let layout = Layout::build(&spec).context("building the preset")?;
            let result =
                serde_json::json!({ "name": name, "params": layout.param_count(), "spec": spec });
            output::emit(global.json, &result, |_| {
                println!("{}", spec.to_json());
                println!("{} parameters", layout.param_count());
            })
        }
    }
}
