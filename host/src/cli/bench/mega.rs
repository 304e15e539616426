//! `coevo bench mega`: scoring one MeGA generation, coevo's way against the way the authors'
//! code does it, side by side in one run.
//!
//! coevo's ways: the candidates are blended where the parents live and scored on a validation
//! split resident on the device, either stacked along the member dimension in one pass (what
//! the host does on a GPU) or each on its own (what it does on a CPU). The reference way: for
//! each candidate, the parents' parameters are read back to host memory, blended there,
//! written into a model, and the model is scored batch by batch on images copied from host
//! memory, its outputs copied back to count the hits.

use std::time::Instant;

use anyhow::{Context, bail};
use burn::tensor::{Tensor, TensorData};
use clap::Args;
use coevo::data::{DataSource, Dataset, Normalise, ResidentData, Targets};
use coevo::model::{Model, ModelSpec, preset};
use coevo::params::{Coefficients, blend};
use coevo::train::{EvalOptions, default_loss, eval_batch_size, evaluate, evaluate_each};
use coevo::{ComputeDevice, tensors};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::train::median;
use crate::cli::{Global, output};

#[derive(Debug, Args)]
pub struct MegaBenchArgs {
    /// Model preset of the parents.
    #[arg(long, default_value = "resnet20")]
    model: String,
    /// CIFAR-10 in its binary layout.
    #[arg(long, default_value = "cifar10=../shared/data/cifar-10-batches-bin")]
    data: DataSource,
    /// Candidates per generation (N).
    #[arg(long, default_value_t = 20)]
    population: usize,
    /// Validation images each candidate is scored on.
    #[arg(long, default_value_t = 5000)]
    images: usize,
    /// Batch size of the one-by-one reference (a data loader's batch).
    #[arg(long, default_value_t = 500)]
    batch_size: usize,
    /// Batch size of the host's ways (default: the host's evaluation batch on the device).
    #[arg(long)]
    eval_batch_size: Option<usize>,
    /// coevo devices, comma-separated (flex, tch-cpu, cuda:N).
    #[arg(long, default_value = "flex", value_delimiter = ',')]
    devices: Vec<ComputeDevice>,
    /// Rounds: both ways run once per round, in turn; the ratio is taken round by round.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

#[derive(Debug, Serialize)]
struct DeviceResult {
    device: String,
    /// Median seconds per generation over rounds: stacked, each candidate on resident data,
    /// and one by one with copies.
    stacked_seconds: f64,
    resident_each_seconds: f64,
    one_by_one_seconds: f64,
    /// Medians over rounds of the host's ways over the reference.
    stacked_ratio: f64,
    resident_each_ratio: f64,
}

#[derive(Debug, Serialize)]
struct BenchResult {
    command: &'static str,
    model: String,
    population: usize,
    images: usize,
    rounds: usize,
    devices: Vec<DeviceResult>,
}

pub fn run(args: MegaBenchArgs, global: &Global) -> anyhow::Result<()> {
    if args.population == 0 || args.images == 0 || args.batch_size == 0 {
        bail!("--population, --images and --batch-size must be positive");
    }
    let mut dataset = args
        .data
        .load()
        .with_context(|| format!("loading {}", args.data))?;
    dataset.truncate(Some(args.images), Some(1));
    let spec = preset(&args.model, &dataset.sample_shape, dataset.outputs())?;
    let mut devices = Vec::new();
    for &device in &args.devices {
        devices.push(time_device(&dataset, &spec, device, &args)?);
    }
    let result = BenchResult {
        command: "bench mega",
        model: args.model.clone(),
        population: args.population,
        images: dataset.train.len(),
        rounds: args.rounds.max(1),
        devices,
    };
    output::emit(global.json, &result, |r| {
        println!(
            "one generation of {} {} candidates scored on {} images; medians of {} rounds",
            r.population, r.model, r.images, r.rounds
        );
        println!(
            "{:<8} {:>10} {:>10} {:>12} {:>9} {:>9}",
            "device", "stacked s", "each s", "one-by-one s", "stacked", "each"
        );
        for d in &r.devices {
            println!(
                "{:<8} {:>10.2} {:>10.2} {:>12.2} {:>8.2}x {:>8.2}x",
                d.device,
                d.stacked_seconds,
                d.resident_each_seconds,
                d.one_by_one_seconds,
                d.stacked_ratio,
                d.resident_each_ratio
            );
        }
        println!("ratios: time of the host's way over the one-by-one reference's");
    })
}

fn time_device(
    dataset: &Dataset,
    spec: &ModelSpec,
    device: ComputeDevice,
    args: &MegaBenchArgs,
) -> anyhow::Result<DeviceResult> {
    let burn_device = device.to_burn()?;
    // The whole truncated training set plays the validation split here.
    let resident = ResidentData::upload(dataset, &[], Normalise::None, &burn_device);
    let host = HostSplit::of(dataset);
    let parents = [
        Model::new(spec.clone(), &burn_device, 1)?,
        Model::new(spec.clone(), &burn_device, 2)?,
    ];
    // Seconds per round of each way: stacked, each on resident data, one by one with copies.
    let mut seconds: [Vec<f64>; 3] = Default::default();
    for round in 0..args.rounds.max(1) {
        let mut rng = ChaCha8Rng::seed_from_u64(round as u64);
        let alphas: Vec<f32> = (0..args.population).map(|_| rng.random()).collect();
        let mut accuracies = Vec::new();
        for (way, times) in seconds.iter_mut().enumerate() {
            let began = Instant::now();
            accuracies.push(match way {
                0 => generation_resident(&parents, &alphas, &resident, dataset, args, true)?,
                1 => generation_resident(&parents, &alphas, &resident, dataset, args, false)?,
                _ => generation_one_by_one(&parents, &alphas, &host, args.batch_size)?,
            });
            times.push(began.elapsed().as_secs_f64());
        }
        // All ways score the same candidates; a disagreement means the benchmark is broken.
        for other in &accuracies[1..] {
            for (s, l) in accuracies[0].iter().zip(other) {
                if (s - l).abs() > 0.01 {
                    bail!("two ways disagree on a candidate's accuracy: {s} against {l}");
                }
            }
        }
        tracing::info!(
            "round {round}: {device}: stacked {:.2} s, each {:.2} s, one by one {:.2} s",
            seconds[0][round],
            seconds[1][round],
            seconds[2][round]
        );
    }
    let ratio = |way: usize| {
        median(
            seconds[way]
                .iter()
                .zip(&seconds[2])
                .map(|(s, l)| s / l)
                .collect(),
        )
    };
    Ok(DeviceResult {
        device: device.to_string(),
        stacked_ratio: ratio(0),
        resident_each_ratio: ratio(1),
        stacked_seconds: median(seconds[0].clone()),
        resident_each_seconds: median(seconds[1].clone()),
        one_by_one_seconds: median(seconds[2].clone()),
    })
}

/// coevo's ways: blends made on the device and scored on the resident split, stacked in one
/// pass or each on its own.
fn generation_resident(
    parents: &[Model; 2],
    alphas: &[f32],
    resident: &ResidentData,
    dataset: &Dataset,
    args: &MegaBenchArgs,
    stacked: bool,
) -> anyhow::Result<Vec<f64>> {
    let candidates = alphas
        .iter()
        .map(|&a| {
            blend(
                &[&parents[0], &parents[1]],
                &Coefficients::Whole(vec![a, 1.0 - a]),
            )
        })
        .collect::<Result<Vec<Model>, _>>()?;
    let loss = default_loss(dataset.task);
    let options = EvalOptions {
        batch_size: args
            .eval_batch_size
            .unwrap_or_else(|| eval_batch_size(parents[0].device())),
        ..EvalOptions::default()
    };
    let evaluation = match stacked {
        true => evaluate(&Model::stack(&candidates)?, &resident.train, loss, options)?,
        false => evaluate_each(&candidates, &resident.train, loss, options)?,
    };
    Ok(evaluation
        .metrics
        .members
        .iter()
        .map(|m| m.accuracy.unwrap_or(f64::NAN))
        .collect())
}

/// The images and labels in host memory, as a data loader holds them.
struct HostSplit {
    images: Vec<f32>,
    labels: Vec<u32>,
    row: usize,
}

impl HostSplit {
    fn of(dataset: &Dataset) -> Self {
        let labels = match &dataset.train.targets {
            Targets::Classes(labels) => labels.clone(),
            Targets::Values(_) => Vec::new(),
        };
        Self {
            images: dataset.train.inputs.to_f32(),
            labels,
            row: dataset.sample_numel(),
        }
    }
}

/// The reference way: each candidate blended in host memory, written into a model, and scored
/// on batches copied in from host memory, its outputs copied out.
fn generation_one_by_one(
    parents: &[Model; 2],
    alphas: &[f32],
    split: &HostSplit,
    batch_size: usize,
) -> anyhow::Result<Vec<f64>> {
    let device = parents[0].device().clone();
    let mut accuracies = Vec::with_capacity(alphas.len());
    for &a in alphas {
        let (first, second) = (parents[0].flat_params(), parents[1].flat_params());
        let theta: Vec<f32> = first
            .iter()
            .zip(&second)
            .map(|(x, y)| a * x + (1.0 - a) * y)
            .collect();
        let mut candidate = parents[0].clone();
        candidate.set_flat_params(&theta)?;
        let mut hits = 0usize;
        for (rows, labels) in split
            .images
            .chunks(batch_size * split.row)
            .zip(split.labels.chunks(batch_size))
        {
            let x = Tensor::<2>::from_data(
                TensorData::new(rows.to_vec(), [labels.len(), split.row]),
                &device,
            );
            let logits = tensors::to_f32(candidate.predict(x));
            let classes = logits.len() / labels.len().max(1);
            hits += logits
                .chunks(classes.max(1))
                .zip(labels)
                .filter(|(row, label)| argmax(row) == **label as usize)
                .count();
        }
        accuracies.push(hits as f64 / split.labels.len().max(1) as f64);
    }
    Ok(accuracies)
}

fn argmax(row: &[f32]) -> usize {
    row.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &v)| {
            if v > bv { (i, v) } else { (bi, bv) }
        })
        .0
}
