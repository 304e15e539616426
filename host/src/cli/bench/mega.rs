//! `coevo bench mega`: scoring one MeGA generation, coevo's way against the way the authors'
//! code does it, side by side in one run.
//!
//! coevo's way: the candidates are blended where the parents live and scored together, stacked
//! along the member dimension, in one pass over a validation split resident on the device.
//! The reference way: for each candidate, the parents' parameters are read back to host
//! memory, blended there, written into a model, and the model is scored batch by batch on
//! images copied from host memory, its outputs copied back to count the hits.

use std::time::Instant;

use anyhow::{Context, bail};
use burn::tensor::{Tensor, TensorData};
use clap::Args;
use coevo::data::{DataSource, Dataset, Normalise, ResidentData, Targets};
use coevo::model::{Model, ModelSpec, preset};
use coevo::params::{Coefficients, blend};
use coevo::train::{EvalOptions, default_loss, evaluate};
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
    /// Median seconds per generation over rounds.
    stacked_seconds: f64,
    one_by_one_seconds: f64,
    /// Median over rounds of stacked / one-by-one.
    ratio: f64,
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
            "{:<8} {:>14} {:>14} {:>8}",
            "device", "stacked s", "one-by-one s", "ratio"
        );
        for d in &r.devices {
            println!(
                "{:<8} {:>14.2} {:>14.2} {:>7.2}x",
                d.device, d.stacked_seconds, d.one_by_one_seconds, d.ratio
            );
        }
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
    let mut stacked = Vec::new();
    let mut looped = Vec::new();
    for round in 0..args.rounds.max(1) {
        let mut rng = ChaCha8Rng::seed_from_u64(round as u64);
        let alphas: Vec<f32> = (0..args.population).map(|_| rng.random()).collect();

        let began = Instant::now();
        let accuracy_stacked = generation_stacked(&parents, &alphas, &resident, dataset)?;
        stacked.push(began.elapsed().as_secs_f64());

        let began = Instant::now();
        let accuracy_looped = generation_one_by_one(&parents, &alphas, &host, args.batch_size)?;
        looped.push(began.elapsed().as_secs_f64());

        // Both ways score the same candidates; a disagreement means the benchmark is broken.
        for (s, l) in accuracy_stacked.iter().zip(&accuracy_looped) {
            if (s - l).abs() > 0.01 {
                bail!("the two ways disagree on a candidate's accuracy: {s} against {l}");
            }
        }
        tracing::info!(
            "round {round}: {device}: stacked {:.2} s, one by one {:.2} s",
            stacked[round],
            looped[round]
        );
    }
    let ratio = median(stacked.iter().zip(&looped).map(|(s, l)| s / l).collect());
    Ok(DeviceResult {
        device: device.to_string(),
        stacked_seconds: median(stacked),
        one_by_one_seconds: median(looped),
        ratio,
    })
}

/// coevo's way: blends made on the device, scored in one stacked pass.
fn generation_stacked(
    parents: &[Model; 2],
    alphas: &[f32],
    resident: &ResidentData,
    dataset: &Dataset,
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
    let stack = Model::stack(&candidates)?;
    let evaluation = evaluate(
        &stack,
        &resident.train,
        default_loss(dataset.task),
        EvalOptions::default(),
    )?;
    Ok(evaluation
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
