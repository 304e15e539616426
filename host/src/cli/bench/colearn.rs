//! `coevo bench colearn`: one co-learning step of N coupled networks, as one stacked model
//! against a loop over N separate models in the same process, and against PyTorch eager
//! looping over N models, side by side in one run.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use coevo::data::{DataSource, Dataset, Normalise, ResidentData};
use coevo::model::{Model, ModelSpec, preset};
use coevo::train::{LoopedTrainer, OptimizerConfig, TrainSpec, Trainer};
use coevo::{ComputeDevice, tensors};
use serde::Serialize;

use super::train::{median, rayon_threads, run_torch_reference, tempfile_with, torch_reference};
use crate::cli::{Global, output};

#[derive(Debug, Args)]
pub struct ColearnBenchArgs {
    /// Model preset of every member.
    #[arg(long, default_value = "lenet5")]
    model: String,
    /// Members (N).
    #[arg(long, default_value_t = 10)]
    members: usize,
    /// β̄ = βN of the uniform coupling.
    #[arg(long, default_value_t = -1.0, allow_negative_numbers = true)]
    beta_bar: f64,
    /// CIFAR-10 in its binary layout.
    #[arg(long, default_value = "cifar10=../shared/data/cifar-10-batches-bin")]
    data: DataSource,
    /// Samples per step.
    #[arg(long, default_value_t = 128)]
    batch_size: usize,
    /// coevo device (flex, tch-cpu, cuda:N).
    #[arg(long, default_value = "flex")]
    device: ComputeDevice,
    /// Timed steps per configuration and round (after the warm-up): the epoch scaled down.
    #[arg(long, default_value_t = 10)]
    steps: usize,
    /// Untimed steps first.
    #[arg(long, default_value_t = 2)]
    warmup: usize,
    /// Rounds: the configurations take turns, and ratios are taken round by round.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Python with torch for the PyTorch reference (skipped when absent).
    #[arg(long, env = "COEVO_TORCH_PYTHON")]
    torch_python: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct ColearnResult {
    command: &'static str,
    model: String,
    members: usize,
    batch_size: usize,
    device: String,
    threads: usize,
    rounds: usize,
    steps: usize,
    /// Median seconds per step over rounds.
    stacked: f64,
    looped: f64,
    pytorch_looped: Option<f64>,
    /// Medians of the per-round ratios.
    stacked_over_looped: f64,
    stacked_over_pytorch: Option<f64>,
    looped_over_pytorch: Option<f64>,
}

pub fn run(args: ColearnBenchArgs, global: &Global) -> anyhow::Result<()> {
    if args.members < 2 {
        bail!("--members: co-learning needs at least 2 members");
    }
    let mut dataset = args
        .data
        .load()
        .with_context(|| format!("loading {}", args.data))?;
    dataset.truncate(Some(args.batch_size * 4), Some(16));
    let spec = preset(&args.model, &dataset.sample_shape, dataset.outputs())?;
    let spec_file = tempfile_with(&spec.to_json())?;
    if args.torch_python.is_none() {
        tracing::warn!("no --torch-python (or COEVO_TORCH_PYTHON): PyTorch reference skipped");
    }
    let mut rounds: Vec<[Option<f64>; 3]> = Vec::new();
    for round in 0..args.rounds.max(1) {
        let stacked = time_coevo(&dataset, &spec, &args, true)?;
        let looped = time_coevo(&dataset, &spec, &args, false)?;
        let torch = match &args.torch_python {
            Some(python) => Some(time_pytorch(python, spec_file.path(), &args)?),
            None => None,
        };
        tracing::info!(
            "round {round}: stacked {:.1} ms, looped {:.1} ms, pytorch {:?} ms per step",
            stacked * 1e3,
            looped * 1e3,
            torch.map(|t| t * 1e3)
        );
        rounds.push([Some(stacked), Some(looped), torch]);
    }
    let column = |k: usize| -> Option<Vec<f64>> { rounds.iter().map(|r| r[k]).collect() };
    let ratio = |a: usize, b: usize| -> Option<f64> {
        let per_round: Option<Vec<f64>> = rounds.iter().map(|r| Some(r[a]? / r[b]?)).collect();
        per_round.map(median)
    };
    let result = ColearnResult {
        command: "bench colearn",
        model: args.model.clone(),
        members: args.members,
        batch_size: args.batch_size,
        device: args.device.to_string(),
        threads: rayon_threads(),
        rounds: rounds.len(),
        steps: args.steps,
        stacked: column(0).map_or(f64::NAN, median),
        looped: column(1).map_or(f64::NAN, median),
        pytorch_looped: column(2).map(median),
        stacked_over_looped: ratio(0, 1).unwrap_or(f64::NAN),
        stacked_over_pytorch: ratio(0, 2),
        looped_over_pytorch: ratio(1, 2),
    };
    output::emit(global.json, &result, |r| {
        println!(
            "{} x {} on {}, batch {}, {} rounds of {} timed steps (medians over rounds)",
            r.members, r.model, r.device, r.batch_size, r.rounds, r.steps
        );
        println!("coevo stacked:          {:8.1} ms/step", r.stacked * 1e3);
        println!("coevo loop over models: {:8.1} ms/step", r.looped * 1e3);
        if let Some(t) = r.pytorch_looped {
            println!("PyTorch eager loop:     {:8.1} ms/step", t * 1e3);
        }
        println!("stacked / loop:    {:.2}x", r.stacked_over_looped);
        if let (Some(a), Some(b)) = (r.stacked_over_pytorch, r.looped_over_pytorch) {
            println!("stacked / PyTorch: {a:.2}x\nloop / PyTorch:    {b:.2}x");
        }
    })
}

fn config(args: &ColearnBenchArgs) -> TrainSpec {
    let beta = args.beta_bar / args.members as f64;
    let n = args.members;
    TrainSpec {
        batch_size: args.batch_size,
        optimizer: Some(OptimizerConfig::Sgd {
            lr: 0.01,
            momentum: 0.9,
            weight_decay: 5e-4,
            nesterov: false,
        }),
        coupling: Some(
            (0..n)
                .map(|i| (0..n).map(|j| if i == j { 0.0 } else { beta }).collect())
                .collect(),
        ),
        ..TrainSpec::default()
    }
}

/// Median seconds per step of the stacked model, or of the loop over separate models.
fn time_coevo(
    dataset: &Dataset,
    spec: &ModelSpec,
    args: &ColearnBenchArgs,
    stacked: bool,
) -> anyhow::Result<f64> {
    let device = args.device.to_burn()?;
    let data = ResidentData::upload(dataset, &[], Normalise::None, &device);
    let seeds: Vec<u64> = (0..args.members as u64).collect();
    let mut stack = Model::new_stacked(spec.clone(), &seeds, &device)?;
    let mut models = stack.unstack();
    let mut trainer = Trainer::new(config(args), dataset.task)?;
    let mut looped = LoopedTrainer::new(config(args));
    let batch = args.batch_size;
    let mut times = Vec::with_capacity(args.steps);
    for step in 0..args.warmup + args.steps {
        let start = (step % 4) * batch;
        let indices: Vec<usize> = (start..start + batch).collect();
        let began = Instant::now();
        let loss = match stacked {
            true => trainer.train_step(&mut stack, &data.train, &indices, 0.01)?,
            false => looped.train_step(&mut models, &data.train, &indices, 0.01)?,
        };
        // Reading the losses waits for the step, as PyTorch's `loss.item()` does.
        let values = tensors::to_f32(loss);
        if values.iter().any(|v| !v.is_finite()) {
            bail!("a loss became non-finite in the benchmark: {values:?}");
        }
        if step >= args.warmup {
            times.push(began.elapsed().as_secs_f64());
        }
    }
    Ok(median(times))
}

fn time_pytorch(python: &Path, spec: &Path, args: &ColearnBenchArgs) -> anyhow::Result<f64> {
    let data = args.data.path.display().to_string();
    let mut command = torch_reference(python, "colearn-bench");
    command
        .arg("--spec")
        .arg(spec)
        .args([
            "--data",
            &data,
            "--batch-size",
            &args.batch_size.to_string(),
        ])
        .args(["--members", &args.members.to_string()])
        .args(["--beta-bar", &args.beta_bar.to_string()])
        .args(["--steps", &args.steps.to_string()])
        .args(["--warmup", &args.warmup.to_string()])
        .args(["--threads", &rayon_threads().to_string()]);
    let line = run_torch_reference(command)?;
    let value: serde_json::Value =
        serde_json::from_str(&line).context("reading the PyTorch reference's result")?;
    value["median_step_seconds"]
        .as_f64()
        .context("the PyTorch reference's result has no median_step_seconds")
}
