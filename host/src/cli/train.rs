//! `coevo train`: one model, trained and evaluated.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use coevo::data::{Augment, DataSource, DatasetInfo, Normalise, ResidentData, Task};
use coevo::model::{ModelSpec, preset};
use coevo::session::FinalReport;
use coevo::session::{EpochSummary, Session};
use coevo::train::{Evaluation, OptimizerConfig, Schedule, TrainSpec, defaults};
use coevo::{ComputeDevice, seed};
use serde::Serialize;

use super::{Global, output, progress};

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// A model preset (mlp, lenet300_100, lenet5, vgg9, resnet20, resnet56, cnn1d).
    #[arg(long, default_value = "lenet5", conflicts_with = "spec")]
    model: String,
    /// A model spec as a JSON file, instead of a preset.
    #[arg(long)]
    spec: Option<PathBuf>,
    /// The data set, as KIND=PATH (cifar10, cifar100, mnist, fashion-mnist, image-folder, methylation).
    #[arg(long)]
    data: DataSource,
    /// Passes over the training data.
    #[arg(long, default_value_t = 1)]
    epochs: usize,
    /// Samples per step.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Optimiser.
    #[arg(long, value_enum, default_value_t = OptimizerKind::Sgd)]
    optimizer: OptimizerKind,
    /// Learning rate (default: SGD 0.05 for classification and 0.001 for regression, Adam 0.001).
    #[arg(long)]
    lr: Option<f64>,
    /// SGD momentum.
    #[arg(long, default_value_t = defaults::MOMENTUM)]
    momentum: f64,
    /// L2 weight decay.
    #[arg(long, default_value_t = defaults::WEIGHT_DECAY)]
    weight_decay: f64,
    /// Learning-rate schedule.
    #[arg(long, value_enum, default_value_t = ScheduleKind::Cosine)]
    schedule: ScheduleKind,
    /// Random crop (padding 4) and horizontal flip of training images.
    #[arg(long)]
    augment: bool,
    /// Fraction of the training samples held out for validation after each epoch.
    #[arg(long, default_value_t = 0.0)]
    validation: f64,
    /// Use only the first N training samples.
    #[arg(long)]
    limit_train: Option<usize>,
    /// Use only the first N test samples.
    #[arg(long)]
    limit_test: Option<usize>,
    /// Seed of initialisation, split, batch order and augmentation.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// cpu, flex, tch-cpu or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: ComputeDevice,
    /// Write the trained model here (.safetensors or .bpk).
    #[arg(long)]
    save: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum OptimizerKind {
    Sgd,
    Adam,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ScheduleKind {
    Constant,
    Cosine,
    Step,
}

/// The `--json` result.
#[derive(Debug, Serialize)]
struct TrainResult {
    command: &'static str,
    model: String,
    params: usize,
    data: DatasetInfo,
    device: ComputeDevice,
    seed: u64,
    epochs: Vec<EpochSummary>,
    test: Evaluation,
    test_accuracy: Option<f64>,
    test_mae: Option<f64>,
    seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    saved: Option<PathBuf>,
}

pub fn run(args: TrainArgs, global: &Global) -> anyhow::Result<()> {
    let started = Instant::now();
    let device = args.device.to_burn()?;
    let mut dataset = args
        .data
        .load()
        .with_context(|| format!("loading {}", args.data))?;
    dataset.truncate(args.limit_train, args.limit_test);
    let info = DatasetInfo::from(&dataset);
    tracing::info!(
        "{}: {} training and {} test samples of shape {:?}",
        info.name,
        info.train,
        info.test,
        info.sample_shape
    );

    let holdout = coevo::data::Holdout::Fraction(args.validation);
    let splits = coevo::data::Splits::of(&dataset, holdout, seed::derive(args.seed, "split", 0))
        .context("--validation")?;
    let data = ResidentData::upload(&dataset, &splits.validation, Normalise::Auto, &device);

    let spec = match &args.spec {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            ModelSpec::from_json(&text).with_context(|| format!("{}", path.display()))?
        }
        None => preset(&args.model, &dataset.sample_shape, dataset.outputs())?,
    };
    let mut session = Session::new(data, device, args.seed);
    let id = session.create_from_spec(spec, seed::derive(args.seed, "model", 0))?;
    let params = session.model(id)?.param_count();
    let name = args
        .spec
        .as_ref()
        .map_or(args.model.clone(), |p| p.display().to_string());
    tracing::info!("{name}: {params} parameters on {}", args.device);

    let config = train_config(&args, &dataset.sample_shape, dataset.task)?;
    let steps = session.data()?.train.len().div_ceil(args.batch_size) as u64;
    let quiet = global.quiet;
    let bar = progress::bar(steps, "epoch 1", quiet);
    let epochs = session.fit(
        &[id],
        config,
        &mut |p| {
            bar.set_message(format!("epoch {}", p.epoch));
            bar.set_position(p.step_in_epoch as u64);
            if let Some(loss) = p.loss {
                bar.set_prefix(format!("loss {loss:.4}"));
            }
        },
        &mut |summary| {
            bar.reset();
            let validation = summary
                .validation
                .as_ref()
                .map(|v| format!(", validation {:.4}", v.metrics.members[0].headline()))
                .unwrap_or_default();
            tracing::info!(
                "epoch {}: loss {:.4}{validation}, {:.0} samples/s",
                summary.epoch,
                summary.train_loss.iter().sum::<f64>() / summary.train_loss.len() as f64,
                summary.samples_per_second
            );
        },
    )?;
    bar.finish_and_clear();

    // The test split is read once, here, for the final report.
    let test = session.evaluate_for_final_report(&[id], FinalReport::default())?;
    if let Some(path) = &args.save {
        session.save_model(id, path)?;
        tracing::info!("saved {}", path.display());
    }
    let result = TrainResult {
        command: "train",
        model: name,
        params,
        data: info,
        device: args.device,
        seed: args.seed,
        test_accuracy: test.metrics.members[0].accuracy,
        test_mae: test.metrics.members[0].mae,
        test,
        epochs,
        seconds: started.elapsed().as_secs_f64(),
        saved: args.save.clone(),
    };
    output::emit(global.json, &result, |r| {
        let m = &r.test.metrics.members[0];
        match (m.accuracy, m.mae) {
            (Some(acc), _) => println!(
                "test accuracy {:.2} % (loss {:.4}) after {} epochs in {:.1} s",
                acc * 100.0,
                m.loss,
                r.epochs.len(),
                r.seconds
            ),
            (None, Some(mae)) => println!(
                "test MAE {mae:.3}, RMSE {:.3}, R² {:.3} after {} epochs in {:.1} s",
                m.rmse.unwrap_or(f64::NAN),
                m.r2.unwrap_or(f64::NAN),
                r.epochs.len(),
                r.seconds
            ),
            _ => println!("test loss {:.4}", m.loss),
        }
    })
}

fn train_config(args: &TrainArgs, sample_shape: &[usize], task: Task) -> anyhow::Result<TrainSpec> {
    let optimizer = match args.optimizer {
        OptimizerKind::Sgd => OptimizerConfig::Sgd {
            lr: args.lr.unwrap_or(defaults::sgd_lr(task)),
            momentum: args.momentum,
            weight_decay: args.weight_decay,
            nesterov: false,
        },
        OptimizerKind::Adam => OptimizerConfig::Adam {
            lr: args.lr.unwrap_or(defaults::ADAM_LR),
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: args.weight_decay,
        },
    };
    let schedule = match args.schedule {
        ScheduleKind::Constant => Schedule::Constant,
        ScheduleKind::Cosine => Schedule::Cosine { min_lr: 0.0 },
        ScheduleKind::Step => Schedule::Step {
            every: (args.epochs / 3).max(1),
            gamma: 0.1,
        },
    };
    if args.augment && sample_shape.len() != 3 {
        bail!("--augment applies to images; this data set's samples have shape {sample_shape:?}");
    }
    Ok(TrainSpec {
        epochs: args.epochs,
        batch_size: args.batch_size,
        optimizer: Some(optimizer),
        schedule,
        loss: None,
        augment: if args.augment {
            Augment::cifar()
        } else {
            Augment::default()
        },
        seed: seed::derive(args.seed, "train", 0),
        ..TrainSpec::default()
    })
}
