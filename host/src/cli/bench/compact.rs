//! `coevo bench compact`: inference of a network whose clusters were dropped, as the masked
//! dense network that still computes every unit against its compacted copy, at several kept
//! fractions. The measured speed-up is set against the FLOP reduction it should buy: their
//! ratio is 1 when the smaller network runs as fast as its arithmetic says.

use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use coevo::ComputeDevice;
use coevo::data::{DataSource, Normalise, ResidentData};
use coevo::model::{Model, preset};
use coevo::params::{compact, dropping_units, unit_layers};
use coevo::train::{EvalOptions, default_loss, eval_batch_size, evaluate};
use rand::SeedableRng;
use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::train::median;
use crate::cli::{Global, output};

#[derive(Debug, Args)]
pub struct CompactBenchArgs {
    /// Model preset.
    #[arg(long, default_value = "lenet5")]
    model: String,
    /// The images inferred.
    #[arg(long, default_value = "fashion-mnist=../shared/data/fashion-mnist")]
    data: DataSource,
    /// Images per pass.
    #[arg(long, default_value_t = 10_000)]
    images: usize,
    /// Fractions of each hidden layer's clusters kept, comma-separated.
    #[arg(long, default_value = "0.5,0.25,0.1", value_delimiter = ',')]
    keep: Vec<f64>,
    /// coevo device (flex, tch-cpu, cuda:N).
    #[arg(long, default_value = "flex")]
    device: ComputeDevice,
    /// Rounds: both networks run once per round, in turn; the ratio is taken round by round.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
}

#[derive(Debug, Serialize)]
struct KeepResult {
    keep: f64,
    params_masked: usize,
    params_compact: usize,
    /// Multiply-adds per image: the dense network computes them all, masked or not.
    flops_dense: u64,
    flops_compact: u64,
    flop_reduction: f64,
    seconds_masked: f64,
    seconds_compact: f64,
    /// Median over rounds of the masked pass's time over the compacted one's.
    speedup: f64,
    /// The speed-up over the FLOP reduction.
    ratio_of_ratios: f64,
}

#[derive(Debug, Serialize)]
struct BenchResult {
    command: &'static str,
    model: String,
    device: String,
    images: usize,
    rounds: usize,
    results: Vec<KeepResult>,
}

/// Multiply-adds per sample of a network: each weight times the positions it acts at.
fn flops(model: &Model) -> u64 {
    let layout = model.layout();
    (unit_layers(layout).iter())
        .map(|u| (u.units * u.fan_in * u.positions) as u64)
        .sum()
}

pub fn run(args: CompactBenchArgs, global: &Global) -> anyhow::Result<()> {
    if args.images == 0 || args.keep.iter().any(|k| !(*k > 0.0 && *k <= 1.0)) {
        bail!("--images must be positive and every --keep in (0, 1]");
    }
    let mut dataset = args
        .data
        .load()
        .with_context(|| format!("loading {}", args.data))?;
    dataset.truncate(Some(args.images), Some(1));
    let device = args.device.to_burn()?;
    let resident = ResidentData::upload(&dataset, &[], Normalise::Auto, &device);
    let spec = preset(&args.model, &dataset.sample_shape, dataset.outputs())?;
    let loss = default_loss(dataset.task);
    let options = EvalOptions {
        batch_size: eval_batch_size(&device),
        ..EvalOptions::default()
    };
    let mut results = Vec::new();
    for &keep in &args.keep {
        let mut model = Model::new(spec.clone(), &device, 1)?;
        model.set_flat_mask(&dropping_clusters(&model, keep, 7))?;
        let small = compact(&model)?.model;
        let mut seconds: [Vec<f64>; 2] = Default::default();
        for _ in 0..args.rounds.max(1) {
            let mut accuracy = [0.0; 2];
            for (way, net) in [&model, &small].into_iter().enumerate() {
                let began = Instant::now();
                let e = evaluate(net, &resident.train, loss, options.clone())?;
                seconds[way].push(began.elapsed().as_secs_f64());
                accuracy[way] = e.metrics.members[0].accuracy.unwrap_or(f64::NAN);
            }
            // Both compute the same function; a disagreement means compaction is broken.
            if (accuracy[0] - accuracy[1]).abs() > 1e-3 {
                bail!("masked and compacted disagree: {accuracy:?}");
            }
        }
        let (dense, reduced) = (flops(&model), flops(&small));
        let reduction = dense as f64 / reduced.max(1) as f64;
        let speedup = median(
            seconds[0]
                .iter()
                .zip(&seconds[1])
                .map(|(m, c)| m / c)
                .collect(),
        );
        results.push(KeepResult {
            keep,
            params_masked: model.param_count(),
            params_compact: small.param_count(),
            flops_dense: dense,
            flops_compact: reduced,
            flop_reduction: reduction,
            seconds_masked: median(seconds[0].clone()),
            seconds_compact: median(seconds[1].clone()),
            speedup,
            ratio_of_ratios: speedup / reduction,
        });
    }
    let result = BenchResult {
        command: "bench compact",
        model: args.model.clone(),
        device: args.device.to_string(),
        images: dataset.train.len(),
        rounds: args.rounds.max(1),
        results,
    };
    output::emit(global.json, &result, |r| {
        println!(
            "{} on {} ({} images per pass); medians of {} rounds",
            r.model, r.device, r.images, r.rounds
        );
        println!(
            "{:>5} {:>9} {:>9} {:>10} {:>10} {:>9} {:>9} {:>8} {:>7}",
            "keep",
            "params",
            "compact",
            "MFLOPs",
            "compact",
            "masked s",
            "compact s",
            "speedup",
            "ratio"
        );
        for k in &r.results {
            println!(
                "{:>5.2} {:>9} {:>9} {:>10.2} {:>10.2} {:>9.3} {:>9.3} {:>7.2}x {:>7.2}",
                k.keep,
                k.params_masked,
                k.params_compact,
                k.flops_dense as f64 / 1e6,
                k.flops_compact as f64 / 1e6,
                k.seconds_masked,
                k.seconds_compact,
                k.speedup,
                k.ratio_of_ratios
            );
        }
        println!("ratio: the speed-up over the FLOP reduction (1: as fast as the arithmetic says)");
    })
}

/// A mask dropping all but `keep` of each hidden layer's clusters, drawn at random.
fn dropping_clusters(model: &Model, keep: f64, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let kept: Vec<Vec<bool>> = (unit_layers(model.layout()).iter())
        .map(|layer| {
            let n = ((layer.units as f64 * keep).round() as usize).clamp(1, layer.units);
            let mut kept = vec![false; layer.units];
            for u in sample(&mut rng, layer.units, n) {
                kept[u] = true;
            }
            kept
        })
        .collect();
    dropping_units(model, |l, u| !kept[l][u])
}
