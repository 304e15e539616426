//! `coevo plugins`: list, describe and run algorithm plugins.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use coevo::ComputeDevice;
use coevo::data::{DataSource, LimitBy, Normalise, Recipe};
use coevo::executor::{Executor, RayExecutor, RayOptions};
use coevo::plugin::{FileWatch, LoadedPlugin, PluginHost, PluginPath, PluginRun, load_fresh_copy};
use coevo::session::Session;
use serde::Serialize;
use serde_json::Value;

use super::{Global, output, schema_text};

#[derive(Debug, Subcommand)]
pub enum PluginsCommand {
    /// List the plugins found.
    List(PathArgs),
    /// Describe one plugin: version, hooks, config schema.
    Show {
        /// Plugin name, or a path to its library.
        name: String,
        #[command(flatten)]
        path: PathArgs,
    },
    /// Run a plugin to completion on a data set.
    Run(RunArgs),
}

#[derive(Debug, Args)]
pub struct PathArgs {
    /// Also look for plugins here (before COEVO_PLUGIN_PATH and the build's target folder).
    #[arg(long = "plugin-dir")]
    plugin_dirs: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Plugin name, or a path to its library.
    name: String,
    /// The data set, as KIND=PATH.
    #[arg(long)]
    data: DataSource,
    /// The config: JSON text, or @FILE.
    #[arg(long, default_value = "{}")]
    config: String,
    /// Fraction of the training samples held out for validation (what candidates are scored on).
    #[arg(long, default_value_t = 0.1)]
    validation: f64,
    /// Use only the first N training samples.
    #[arg(long)]
    limit_train: Option<usize>,
    /// The run's seed; every seed the plugin asks for derives from it.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// cpu, flex, tch-cpu or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: ComputeDevice,
    /// Reload the plugin when its library file changes, keeping its state.
    #[arg(long)]
    watch: bool,
    /// Stop after this many steps.
    #[arg(long)]
    max_steps: Option<u64>,
    /// Fan independent evaluations out to the Ray cluster at this address (`local`: this
    /// machine); see the README's Ray section.
    #[arg(long, env = "COEVO_RAY_ADDRESS")]
    ray: Option<String>,
    #[command(flatten)]
    path: PathArgs,
}

#[derive(Serialize)]
struct Description {
    name: String,
    version: String,
    description: String,
    path: PathBuf,
    hash: String,
    hooks: Vec<coevo_sdk::HookInfo>,
    schema: Value,
}

/// What `coevo plugins list` found: the plugins, and every other shared library in the
/// folders with the reason it was not loaded.
#[derive(Serialize)]
struct Listing {
    plugins: Vec<Description>,
    not_loaded: Vec<String>,
}

impl From<&LoadedPlugin> for Description {
    fn from(p: &LoadedPlugin) -> Self {
        Self {
            name: p.name(),
            version: p.plugin.version(),
            description: p.plugin.description(),
            path: p.path.clone(),
            hash: p.hash.clone(),
            hooks: p.plugin.hooks(),
            schema: p.plugin.schema(),
        }
    }
}

pub fn run(command: PluginsCommand, global: &Global) -> anyhow::Result<()> {
    match command {
        PluginsCommand::List(path) => {
            let (plugins, errors) = PluginPath::new(&path.plugin_dirs).list();
            let listing = Listing {
                plugins: plugins.iter().map(Description::from).collect(),
                not_loaded: errors.iter().map(ToString::to_string).collect(),
            };
            output::emit(global.json, &listing, |listing| {
                for p in &listing.plugins {
                    println!("{:<16} {:<8} {}", p.name, p.version, p.description);
                }
                if !listing.not_loaded.is_empty() {
                    println!("not loaded:");
                    for why in &listing.not_loaded {
                        println!("  {why}");
                    }
                }
            })
        }
        PluginsCommand::Show { name, path } => {
            let plugin = PluginPath::new(&path.plugin_dirs).find(&name)?;
            let description = Description::from(&plugin);
            output::emit(global.json, &description, |d| {
                println!("{} {}: {}", d.name, d.version, d.description);
                println!("file: {} (sha256 {})", d.path.display(), &d.hash[..16]);
                for hook in &d.hooks {
                    println!(
                        "hook {}{}: returns {}; default: {}",
                        hook.name, hook.args, hook.returns_text, hook.default
                    );
                }
                println!("config (its JSON Schema with --json):");
                for line in schema_text::fields(&d.schema, 2) {
                    println!("{line}");
                }
            })
        }
        PluginsCommand::Run(args) => run_plugin(args, global),
    }
}

#[derive(Serialize)]
struct RunResult {
    command: &'static str,
    plugin: String,
    steps: u64,
    result: Option<Value>,
    metrics: Vec<Value>,
    swaps: Vec<coevo::plugin::Swap>,
}

fn run_plugin(args: RunArgs, global: &Global) -> anyhow::Result<()> {
    let plugin = PluginPath::new(&args.path.plugin_dirs).find(&args.name)?;
    let config: Value = match args.config.strip_prefix('@') {
        Some(file) => serde_json::from_str(
            &std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?,
        )
        .with_context(|| format!("{file} is not JSON"))?,
        None => serde_json::from_str(&args.config).context("--config is not JSON")?,
    };
    let device = args.device.to_burn()?;
    let recipe = Recipe {
        source: args.data.clone(),
        validation: args.validation,
        unseen: 0.0,
        limit_train: args.limit_train,
        limit_test: None,
        limit_by: LimitBy::First,
        normalise: Normalise::Auto,
        seed: args.seed,
    };
    let loaded = recipe
        .load(&device)
        .with_context(|| format!("loading {}", args.data))?;
    let mut state = Session::without_data(device, args.seed);
    state.set_data_from(recipe, loaded.resident);
    if let Some(address) = &args.ray {
        let executor = RayExecutor::start(RayOptions::new(address, args.device)?)?;
        tracing::info!("executor: {}", executor.describe());
        state.set_executor(Box::new(executor));
    }
    state.on_metrics(|record| tracing::info!("step {}: {}", record.step, record.values));
    let path = plugin.path.clone();
    let mut run = PluginRun::start(plugin, config, std::rc::Rc::new(PluginHost::new(state)))?;
    let watch = if args.watch {
        Some(FileWatch::new(&path, Duration::from_millis(150))?)
    } else {
        None
    };
    let copies = std::env::temp_dir().join(format!("coevo-plugins-{}", std::process::id()));
    let result = loop {
        if args.max_steps.is_some_and(|max| run.steps() >= max) {
            break None;
        }
        if watch.as_ref().is_some_and(FileWatch::take_change) {
            match load_fresh_copy(&path, &copies).and_then(|new| run.swap(new)) {
                Ok(swap) => tracing::info!(
                    "plugin swapped at step {} ({} -> {})",
                    swap.step,
                    &swap.from[..12],
                    &swap.to[..12]
                ),
                Err(e) => tracing::error!(
                    "the new plugin library was not taken, the old one runs on: {e}"
                ),
            }
        }
        let report = run.step()?;
        if report.done {
            break report.result;
        }
    };
    if run.host().state().is_cancelled() {
        bail!("cancelled");
    }
    let metrics = run
        .host()
        .state()
        .metrics()
        .iter()
        .map(|m| m.values.clone())
        .collect();
    let out = RunResult {
        command: "plugins run",
        plugin: run.plugin().name(),
        steps: run.steps(),
        result,
        metrics,
        swaps: run.swaps().to_vec(),
    };
    output::emit(global.json, &out, |r| {
        println!("{} finished after {} steps", r.plugin, r.steps);
        if let Some(result) = &r.result {
            println!("result: {result}");
        }
    })
}
