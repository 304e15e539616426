//! `coevo run`, `coevo resume` and `coevo report`: experiments as scripts.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use clap::Args;
use coevo::ComputeDevice;
use coevo::experiment::{self, Limits, Outcome, RunDir, RunOptions, default_out, parse_set};
use serde_json::Value;

use super::{Global, output};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The experiment script (Rhai).
    script: PathBuf,
    /// Reload the script (and the modules it imports) when they change.
    #[arg(long)]
    watch: bool,
    /// The run directory (default runs/<script name>-<n>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// A value for the script's `param(key, default)`, as key=value (JSON or text); repeatable.
    #[arg(long = "set", value_parser = parse_set)]
    sets: Vec<(String, Value)>,
    /// cpu, flex, tch-cpu or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: ComputeDevice,
    /// The run's seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// A folder the script may read data from (data/ always is); repeatable.
    #[arg(long = "data-root")]
    data_roots: Vec<PathBuf>,
    /// Also look for plugins here.
    #[arg(long = "plugin-dir")]
    plugin_dirs: Vec<PathBuf>,
    /// Operations a script (or one hook call) may run before it is stopped.
    #[arg(long, default_value_t = Limits::default().max_operations)]
    max_operations: u64,
    /// Fan independent evaluations out to the Ray cluster at this address (`HOST:PORT`, or
    /// `local` for a cluster of this machine); see the README's Ray section.
    #[arg(long, env = "COEVO_RAY_ADDRESS")]
    ray: Option<String>,
}

#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The run directory.
    run: PathBuf,
    /// Reload the script when it changes.
    #[arg(long)]
    watch: bool,
    /// Continue on the Ray cluster at this address (default: the address the run recorded).
    #[arg(long, env = "COEVO_RAY_ADDRESS")]
    ray: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The run directory; with several, a comparison of them.
    #[arg(required = true)]
    runs: Vec<PathBuf>,
    /// Where a comparison is written (default: `comparison` beside the first run).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Ctrl-C asks the run to stop at its next step boundary, after a checkpoint.
fn cancel_on_ctrl_c() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let setter = flag.clone();
    if let Err(e) = ctrlc::set_handler(move || {
        setter.store(true, Ordering::SeqCst);
        eprintln!("stopping at the next step boundary (a checkpoint is written first)");
    }) {
        tracing::warn!("Ctrl-C will not checkpoint: {e}");
    }
    flag
}

pub fn run(args: RunArgs, global: &Global) -> anyhow::Result<()> {
    let options = RunOptions {
        out: args
            .out
            .clone()
            .unwrap_or_else(|| default_out(&args.script)),
        script: args.script,
        sets: args.sets.into_iter().collect(),
        device: args.device,
        seed: args.seed,
        watch: args.watch,
        data_roots: args.data_roots,
        plugin_dirs: args.plugin_dirs,
        limits: Limits {
            max_operations: args.max_operations,
            ..Limits::default()
        },
        ray: args.ray,
    };
    tracing::info!("run directory {}", options.out.display());
    let outcome = experiment::run(options, cancel_on_ctrl_c())?;
    finish(&outcome, global)
}

pub fn resume(args: ResumeArgs, global: &Global) -> anyhow::Result<()> {
    let outcome = experiment::resume(&args.run, args.watch, args.ray, cancel_on_ctrl_c())?;
    finish(&outcome, global)
}

fn finish(outcome: &Outcome, global: &Global) -> anyhow::Result<()> {
    output::emit(global.json, outcome, |o| {
        println!("run directory: {}", o.run_dir.display());
        println!("report: {}", o.report.display());
        if !o.results.is_null() {
            println!("results: {}", o.results);
        }
    })
}

pub fn report(args: ReportArgs, global: &Global) -> anyhow::Result<()> {
    let runs = (args.runs.iter())
        .map(|path| RunDir::open(path).with_context(|| format!("opening {}", path.display())))
        .collect::<anyhow::Result<Vec<RunDir>>>()?;
    let path = match runs.as_slice() {
        [run] => experiment::report::write(run)
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("reporting on {}", args.runs[0].display()))?,
        _ => {
            let out = args.out.clone().unwrap_or_else(|| {
                let first = &args.runs[0];
                first.parent().unwrap_or(first).join("comparison")
            });
            experiment::report::compare(&runs, &out)
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("comparing runs into {}", out.display()))?
        }
    };
    output::emit(
        global.json,
        &serde_json::json!({ "command": "report", "report": path }),
        |_| println!("report: {}", path.display()),
    )
}
