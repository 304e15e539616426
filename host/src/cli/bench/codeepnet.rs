//! `coevo bench codeepnet`: one Co-DeepNet generation through the plugin (every pair built,
//! trained in turns, scored and freed through the host table) against training the same
//! networks one by one in the same process straight through the session, for the same epochs.
//! The ratio is what the plugin's turns, transfers and bookkeeping cost; ElasticNet's fit on
//! the same data is timed beside it.

use std::path::PathBuf;
use std::rc::Rc;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use coevo::data::{DataSource, Holdout, Normalise, ResidentData, Splits};
use coevo::plugin::{PluginHost, PluginPath, PluginRun};
use coevo::seed;
use coevo::session::Session;
use coevo::train::elastic_net::ElasticNetOptions;
use coevo_sdk::{OptimizerConfig, TrainSpec};
use serde::Serialize;
use serde_json::{Value, json};

use super::train::median;
use crate::cli::{Global, output};

#[derive(Debug, Args)]
pub struct CoDeepNetBenchArgs {
    /// The methylation data, with its options.
    #[arg(
        long,
        default_value = "methylation=../shared/data/methylation?features=1000&age_transform=horvath"
    )]
    data: DataSource,
    /// Pairs in the generation.
    #[arg(long, default_value_t = 10)]
    population: usize,
    /// Epochs per pair, the two networks' turns together.
    #[arg(long, default_value_t = 20)]
    epochs: usize,
    /// `transfer` of the pairs.
    #[arg(long, default_value = "weights")]
    transfer: String,
    /// Rounds: both ways run once per round, in turn; the ratio is taken round by round.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Also look for plugins here.
    #[arg(long = "plugin-dir")]
    plugin_dirs: Vec<PathBuf>,
}

#[derive(Debug, Serialize)]
struct BenchResult {
    command: &'static str,
    data: DataSource,
    population: usize,
    epochs: usize,
    transfer: String,
    rounds: usize,
    /// Median seconds of one generation through the plugin.
    generation_seconds: f64,
    /// Median seconds of the same networks trained one by one.
    one_by_one_seconds: f64,
    /// Median over rounds of generation / one by one.
    ratio: f64,
    /// Seconds of one ElasticNet fit (the grid's time over its points) on the same data.
    elastic_net_fit_seconds: f64,
    /// Seconds of the whole ElasticNet grid.
    elastic_net_grid_seconds: f64,
}

pub fn run(args: CoDeepNetBenchArgs, global: &Global) -> anyhow::Result<()> {
    let dataset = args
        .data
        .load()
        .with_context(|| format!("loading {}", args.data))?;
    let splits = Splits::of(
        &dataset,
        Holdout::Fraction(0.2),
        seed::derive(0, "split", 0),
    )?;
    let device = burn::tensor::Device::flex();
    let resident = ResidentData::upload(&dataset, &splits.validation, Normalise::Auto, &device);
    let plugin = PluginPath::new(&args.plugin_dirs).find("codeepnet")?;
    let config = json!({
        "transfer": args.transfer, "epochs": args.epochs, "population": args.population,
        "generations": 0,
    });
    let (mut generation, mut one_by_one, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..args.rounds.max(1) {
        let host = Rc::new(PluginHost::new(Session::new(
            resident.clone(),
            device.clone(),
            round as u64,
        )));
        let started = Instant::now();
        let mut run = PluginRun::start(plugin.clone(), config.clone(), host)?;
        let mut turns = Vec::new();
        let result = loop {
            let report = run.step()?;
            if report.metrics.get("turn_epochs").is_some() {
                turns.push(report.metrics.clone());
            }
            if report.done {
                break report.result.unwrap_or(Value::Null);
            }
        };
        let seconds = started.elapsed().as_secs_f64();
        let alone = retrain(&resident, &device, &result, &turns, round as u64)?;
        tracing::info!("round {round}: generation {seconds:.2} s, one by one {alone:.2} s");
        generation.push(seconds);
        one_by_one.push(alone);
        ratios.push(seconds / alone.max(1e-9));
    }
    let session = Session::new(resident, device, 0);
    let report = session.elastic_net(&ElasticNetOptions::default())?;
    let result = BenchResult {
        command: "bench codeepnet",
        data: args.data,
        population: args.population,
        epochs: args.epochs,
        transfer: args.transfer,
        rounds: args.rounds,
        generation_seconds: median(generation),
        one_by_one_seconds: median(one_by_one),
        ratio: median(ratios),
        elastic_net_fit_seconds: report.fit_seconds_per_model,
        elastic_net_grid_seconds: report.fit_seconds,
    };
    output::emit(global.json, &result, |r| {
        println!(
            "one generation of {} pairs ({} epochs each): {:.2} s; the same {} networks one by one: {:.2} s; ratio {:.3}",
            r.population,
            r.epochs,
            r.generation_seconds,
            2 * r.population,
            r.one_by_one_seconds,
            r.ratio
        );
        println!(
            "ElasticNet: {:.2} s per fit, {:.1} s for the grid",
            r.elastic_net_fit_seconds, r.elastic_net_grid_seconds
        );
    })
}

/// Trains each network of every pair the generation trained alone, from the specs and epochs
/// each pair's step reported, for the epochs it trained in its pair; returns the seconds.
fn retrain(
    resident: &ResidentData,
    device: &burn::tensor::Device,
    result: &Value,
    pairs: &[Value],
    round: u64,
) -> anyhow::Result<f64> {
    let mut session = Session::new(resident.clone(), device.clone(), round);
    let started = Instant::now();
    for (index, pair) in pairs.iter().enumerate() {
        let specs = pair["specs"]
            .as_array()
            .context("the plugin's step metrics name each pair's specs")?;
        let epochs: Vec<usize> = serde_json::from_value(pair["net_epochs"].clone())?;
        let lr = pair["lr"].as_f64().unwrap_or(1e-3);
        for (net, spec) in specs.iter().enumerate() {
            let id = session.create_model(spec, (index * 2 + net) as u64)?;
            let spec = TrainSpec {
                epochs: epochs[net],
                batch_size: result["baselines"]["batch_size"].as_u64().unwrap_or(32) as usize,
                optimizer: Some(OptimizerConfig::Adam {
                    lr,
                    beta1: 0.9,
                    beta2: 0.999,
                    eps: 1e-8,
                    weight_decay: 0.0,
                }),
                ..TrainSpec::default()
            };
            if epochs[net] > 0 {
                session.train(&[id], spec, None)?;
            }
            session.free_model(id)?;
        }
    }
    Ok(started.elapsed().as_secs_f64())
}
