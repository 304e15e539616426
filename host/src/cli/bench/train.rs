//! `coevo bench train`: training throughput of a model on CIFAR-10 batches, on each device
//! asked for and, side by side in the same run, PyTorch eager doing the same steps.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use coevo::data::{DataSource, Normalise, ResidentData};
use coevo::model::{Model, preset};
use coevo::train::{OptimizerConfig, TrainSpec, Trainer};
use coevo::{ComputeDevice, tensors};
use serde::{Deserialize, Serialize};

use crate::cli::{Global, output};

#[derive(Debug, Args)]
pub struct TrainBenchArgs {
    /// Model preset.
    #[arg(long, default_value = "lenet5")]
    model: String,
    /// CIFAR-10 in its binary layout.
    #[arg(long, default_value = "cifar10=../shared/data/cifar-10-batches-bin")]
    data: DataSource,
    /// Batch sizes, comma-separated.
    #[arg(long, default_value = "128,512", value_delimiter = ',')]
    batch_sizes: Vec<usize>,
    /// coevo devices, comma-separated (flex, tch-cpu, cuda:N).
    #[arg(long, default_value = "flex", value_delimiter = ',')]
    devices: Vec<ComputeDevice>,
    /// Timed steps per configuration (after the warm-up).
    #[arg(long, default_value_t = 30)]
    steps: usize,
    /// Untimed steps first.
    #[arg(long, default_value_t = 5)]
    warmup: usize,
    /// Rounds: every configuration runs once per round, in turn, so that a machine whose speed
    /// drifts slows all of them alike; ratios are taken round by round.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Python with torch for the PyTorch reference (skipped when absent).
    #[arg(long, env = "COEVO_TORCH_PYTHON")]
    torch_python: Option<PathBuf>,
    /// PyTorch device for the reference (cpu or cuda).
    #[arg(long, default_value = "cpu")]
    torch_device: String,
}

/// One timed configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Timing {
    framework: String,
    device: String,
    batch_size: usize,
    median_step_seconds: f64,
    samples_per_second: f64,
}

impl Timing {
    fn new(framework: &str, device: String, batch_size: usize, seconds: f64) -> Self {
        Self {
            framework: framework.into(),
            device,
            batch_size,
            median_step_seconds: seconds,
            samples_per_second: batch_size as f64 / seconds,
        }
    }
}

#[derive(Debug, Serialize)]
struct BenchResult {
    command: &'static str,
    model: String,
    threads: usize,
    rounds: usize,
    timings: Vec<Timing>,
    /// coevo's median step time over PyTorch's, per device and batch size.
    ratios: Vec<(String, usize, f64)>,
}

pub fn run(args: TrainBenchArgs, global: &Global) -> anyhow::Result<()> {
    let largest = args.batch_sizes.iter().copied().max().unwrap_or(128);
    let mut dataset = args
        .data
        .load()
        .with_context(|| format!("loading {}", args.data))?;
    // Four distinct batches of the largest size are enough to cycle through.
    dataset.truncate(Some(largest * 4), Some(16));
    let spec = preset(&args.model, &dataset.sample_shape, dataset.outputs())?;
    let spec_file = tempfile_with(&spec.to_json())?;
    // The reference starts from coevo's initial weights: max pooling's time depends on the
    // values it compares, so both must see the same activations to be timed alike.
    let weights = initial_weights(&spec)?;
    if args.torch_python.is_none() {
        tracing::warn!("no --torch-python (or COEVO_TORCH_PYTHON): PyTorch reference skipped");
    }
    // rounds[r] holds every configuration's median step time in round r.
    let mut rounds: Vec<Vec<Timing>> = Vec::with_capacity(args.rounds);
    for round in 0..args.rounds.max(1) {
        let mut timings = Vec::new();
        for &batch in &args.batch_sizes {
            for &device in &args.devices {
                let seconds = time_coevo(&dataset, &spec, device, batch, &args)?;
                tracing::info!(
                    "round {round}: coevo {device} batch {batch}: {:.2} ms/step",
                    seconds * 1e3
                );
                timings.push(Timing::new("coevo", device.to_string(), batch, seconds));
            }
            if let Some(python) = &args.torch_python {
                let timing = time_pytorch(python, spec_file.path(), &weights, &args, batch)?;
                tracing::info!(
                    "round {round}: pytorch batch {batch}: {:.2} ms/step",
                    timing.median_step_seconds * 1e3
                );
                timings.push(timing);
            }
        }
        rounds.push(timings);
    }
    let timings: Vec<Timing> = rounds[0]
        .iter()
        .enumerate()
        .map(|(i, t)| {
            Timing::new(
                &t.framework,
                t.device.clone(),
                t.batch_size,
                median(rounds.iter().map(|r| r[i].median_step_seconds).collect()),
            )
        })
        .collect();
    let ratios = ratios(&rounds);
    let result = BenchResult {
        command: "bench train",
        model: args.model.clone(),
        threads: rayon_threads(),
        rounds: rounds.len(),
        timings,
        ratios,
    };
    output::emit(global.json, &result, |r| {
        println!(
            "{} rounds of {} timed steps; medians over rounds",
            r.rounds, args.steps
        );
        println!(
            "{:<8} {:<8} {:>6} {:>12} {:>12}",
            "", "device", "batch", "ms/step", "samples/s"
        );
        for t in &r.timings {
            println!(
                "{:<8} {:<8} {:>6} {:>12.2} {:>12.0}",
                t.framework,
                t.device,
                t.batch_size,
                t.median_step_seconds * 1e3,
                t.samples_per_second
            );
        }
        for (device, batch, ratio) in &r.ratios {
            println!(
                "coevo {device} / pytorch at batch {batch}: {ratio:.2}x the time per step (median of per-round ratios)"
            );
        }
    })
}

fn time_coevo(
    dataset: &coevo::data::Dataset,
    spec: &coevo::model::ModelSpec,
    device: ComputeDevice,
    batch: usize,
    args: &TrainBenchArgs,
) -> anyhow::Result<f64> {
    let burn_device = device.to_burn()?;
    let data = ResidentData::upload(dataset, &[], Normalise::None, &burn_device);
    let mut model = Model::new(spec.clone(), &burn_device, INIT_SEED)?;
    let config = TrainSpec {
        batch_size: batch,
        optimizer: Some(OptimizerConfig::Sgd {
            lr: 0.01,
            momentum: 0.9,
            weight_decay: 5e-4,
            nesterov: false,
        }),
        ..TrainSpec::default()
    };
    let mut trainer = Trainer::new(config, dataset.task)?;
    let mut times = Vec::with_capacity(args.steps);
    for step in 0..args.warmup + args.steps {
        let start = (step % 4) * batch;
        let indices: Vec<usize> = (start..start + batch).collect();
        let began = Instant::now();
        let loss = trainer.train_step(&mut model, &data.train, &indices, 0.01)?;
        // Reading the loss waits for the step, as PyTorch's `loss.item()` does.
        let value = tensors::to_f32(loss)[0];
        if !value.is_finite() {
            bail!("loss became {value} in the benchmark");
        }
        if step >= args.warmup {
            times.push(began.elapsed().as_secs_f64());
        }
    }
    Ok(median(times))
}

/// The seed of the benchmarked model's initial weights.
const INIT_SEED: u64 = 0;

/// The benchmarked model's initial weights in a safetensors file, for the PyTorch reference.
fn initial_weights(spec: &coevo::model::ModelSpec) -> anyhow::Result<tempfile::TempPath> {
    let model = Model::new(spec.clone(), &burn::tensor::Device::flex(), INIT_SEED)?;
    let path = tempfile::Builder::new()
        .suffix(".safetensors")
        .tempfile()?
        .into_temp_path();
    coevo::checkpoint::save(&model, &path)?;
    Ok(path)
}

fn time_pytorch(
    python: &Path,
    spec: &Path,
    weights: &Path,
    args: &TrainBenchArgs,
    batch: usize,
) -> anyhow::Result<Timing> {
    let data = args.data.path.display().to_string();
    let mut command = torch_reference(python, "train-bench");
    command
        .arg("--spec")
        .arg(spec)
        .arg("--weights")
        .arg(weights)
        .args(["--data", &data, "--batch-size", &batch.to_string()])
        .args([
            "--steps",
            &args.steps.to_string(),
            "--warmup",
            &args.warmup.to_string(),
        ])
        .args([
            "--threads",
            &rayon_threads().to_string(),
            "--device",
            &args.torch_device,
        ]);
    let line = run_torch_reference(command)?;
    let mut timing: Timing =
        serde_json::from_str(&line).context("reading the PyTorch reference's result")?;
    timing.framework = "pytorch".into();
    Ok(timing)
}

/// coevo's time over PyTorch's, per device and batch size: the median of the rounds' ratios.
fn ratios(rounds: &[Vec<Timing>]) -> Vec<(String, usize, f64)> {
    let first = &rounds[0];
    first
        .iter()
        .enumerate()
        .filter(|(_, t)| t.framework == "coevo")
        .filter_map(|(i, t)| {
            let j = first
                .iter()
                .position(|p| p.framework == "pytorch" && p.batch_size == t.batch_size)?;
            let per_round = rounds
                .iter()
                .map(|r| r[i].median_step_seconds / r[j].median_step_seconds)
                .collect();
            Some((t.device.clone(), t.batch_size, median(per_round)))
        })
        .collect()
}

/// `tools/torch_reference.py COMMAND` under `python`, for the caller to add arguments to.
pub(super) fn torch_reference(python: &Path, command: &str) -> Command {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../tools/torch_reference.py");
    let mut cmd = Command::new(python);
    cmd.args([script, command]);
    cmd
}

/// Runs a PyTorch reference and returns the last line it printed (its JSON result).
pub(super) fn run_torch_reference(mut command: Command) -> anyhow::Result<String> {
    let out = command
        .output()
        .with_context(|| format!("running {:?}", command.get_program()))?;
    if !out.status.success() {
        bail!(
            "PyTorch reference failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .map(str::to_string)
        .context("the PyTorch reference printed nothing")
}

pub(super) fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Threads flex's kernels use; PyTorch is given the same number.
pub(super) fn rayon_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
}

pub(super) fn tempfile_with(text: &str) -> anyhow::Result<tempfile::NamedTempFile> {
    use std::io::Write;
    let mut file = tempfile::NamedTempFile::new()?;
    file.write_all(text.as_bytes())?;
    Ok(file)
}
