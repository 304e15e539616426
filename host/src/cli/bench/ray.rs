//! `coevo bench ray`: what the Ray executor costs and buys. A trivial job's round trip (a
//! tiny model's outputs on one sample), the time to ship a model of about a million parameters
//! once, and the throughput of scoring a population on validation with 1, 2, … worker slots
//! against the local executor (the same work in this process). Start a cluster first, or use
//! `--address local` inside a network namespace of its own (see the README's Ray section).

use std::time::Instant;

use anyhow::Context;
use clap::Args;
use coevo::ComputeDevice;
use coevo::data::{DataSource, LimitBy, Normalise, Recipe};
use coevo::executor::{
    Blob, Executor, Identity, Job, JobSpec, RayExecutor, RayOptions, SplitName, Task,
};
use coevo::session::Session;
use coevo_sdk::{EvalSpec, Split};
use serde::Serialize;
use serde_json::json;

use super::train::median;
use crate::cli::{Global, output};

#[derive(Debug, Args)]
pub struct RayBenchArgs {
    /// The cluster (`HOST:PORT`, or `local`).
    #[arg(long, default_value = "local")]
    address: String,
    /// The data the population is scored on (its validation split).
    #[arg(long, default_value = "fashion-mnist=data/fashion-mnist-10k")]
    data: DataSource,
    /// Model preset of the population.
    #[arg(long, default_value = "lenet5")]
    model: String,
    /// Models in the population.
    #[arg(long, default_value_t = 16)]
    models: usize,
    /// Worker slots to try, comma-separated.
    #[arg(long, default_value = "1,2", value_delimiter = ',')]
    workers: Vec<usize>,
    /// Timed rounds of each measurement.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
}

#[derive(Debug, Serialize)]
struct Slots {
    workers: usize,
    seconds_start: f64,
    /// Median round trip of a trivial job.
    seconds_trivial_job: f64,
    /// The first job that reads the big model: shipping it once, and a trivial job's work.
    seconds_ship_model: f64,
    /// The first scoring of the population, which ships its weights.
    seconds_population_first: f64,
    /// Median of the later scorings (weights already on the workers' side).
    seconds_population: f64,
    speedup_over_local: f64,
}

#[derive(Debug, Serialize)]
struct RayBench {
    model: String,
    models: usize,
    validation: usize,
    big_model_params: usize,
    big_model_bytes: usize,
    seconds_local: f64,
    slots: Vec<Slots>,
}

pub fn run(args: RayBenchArgs, global: &Global) -> anyhow::Result<()> {
    let device = ComputeDevice::Flex;
    let recipe = Recipe {
        source: args.data.clone(),
        validation: 0.2,
        unseen: 0.0,
        limit_train: None,
        limit_test: None,
        limit_by: LimitBy::First,
        normalise: Normalise::Auto,
        seed: 0,
    };
    let burn = device.to_burn()?;
    let loaded = recipe.load(&burn).context("loading the data")?;
    let validation = loaded.validation;
    let mut session = Session::without_data(burn, 0);
    session.set_data_from(recipe.clone(), loaded.resident);
    let spec = json!({ "preset": args.model });
    let ids = (0..args.models)
        .map(|i| session.create_model(&spec, i as u64 + 1))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!(e.message))?;
    let eval = EvalSpec {
        split: Split::Validation,
        ..EvalSpec::default()
    };
    let score = |session: &Session| -> anyhow::Result<f64> {
        let started = Instant::now();
        session
            .evaluate(&ids, &eval, false, false)
            .map_err(|e| anyhow::anyhow!(e.message))?;
        Ok(started.elapsed().as_secs_f64())
    };
    let seconds_local = median(
        (0..args.rounds)
            .map(|_| score(&session))
            .collect::<anyhow::Result<_>>()?,
    );

    // A trivial job: a tiny MLP's outputs on one validation sample. A big one: an MLP about a
    // million parameters wide, shipped once.
    let identity = Identity::current(device).map_err(anyhow::Error::msg)?;
    let tiny = session
        .create_model(&json!({ "preset": "mlp", "width": 0.25 }), 7)
        .map_err(|e| anyhow::anyhow!(e.message))?;
    let big = session
        .create_model(&json!({ "preset": "mlp", "width": 4 }), 8)
        .map_err(|e| anyhow::anyhow!(e.message))?;
    let blob = |id| -> anyhow::Result<Blob> {
        let model = session.model(id).map_err(|e| anyhow::anyhow!(e.message))?;
        Ok(Blob::new(coevo::checkpoint::to_bytes(model)))
    };
    let (tiny_blob, big_blob) = (blob(tiny)?, blob(big)?);
    let big_model_params = session
        .model(big)
        .map_err(|e| anyhow::anyhow!(e.message))?
        .param_count();
    let job = |blob: &Blob, label: &str| Job {
        spec: JobSpec {
            label: label.into(),
            identity: identity.clone(),
            task: Task::Outputs {
                data: recipe.clone(),
                split: SplitName::Validation,
                subset: Some(vec![0]),
                batch_size: 1,
            },
        },
        blobs: vec![blob.clone()],
    };

    let mut slots = Vec::new();
    for &workers in &args.workers {
        let started = Instant::now();
        let mut executor = RayExecutor::start(RayOptions {
            workers,
            ..RayOptions::new(&args.address, device)?
        })?;
        let seconds_start = started.elapsed().as_secs_f64();
        // The first trivial job loads the data on a worker; the timed ones after it do not.
        let mut timed = |jobs: Vec<Job>| -> anyhow::Result<f64> {
            let started = Instant::now();
            for outcome in executor.run(jobs)? {
                outcome.map_err(anyhow::Error::msg)?;
            }
            Ok(started.elapsed().as_secs_f64())
        };
        for _ in 0..workers {
            timed(vec![job(&tiny_blob, "warm-up"); workers])?;
        }
        let seconds_trivial_job = median(
            (0..args.rounds.max(10))
                .map(|_| timed(vec![job(&tiny_blob, "trivial")]))
                .collect::<anyhow::Result<_>>()?,
        );
        let seconds_ship_model = timed(vec![job(&big_blob, "big")])?;
        session.set_executor(Box::new(executor));
        let seconds_population_first = score(&session)?;
        let seconds_population = median(
            (0..args.rounds)
                .map(|_| score(&session))
                .collect::<anyhow::Result<_>>()?,
        );
        slots.push(Slots {
            workers,
            seconds_start,
            seconds_trivial_job,
            seconds_ship_model,
            seconds_population_first,
            seconds_population,
            speedup_over_local: seconds_local / seconds_population,
        });
    }
    let result = RayBench {
        model: args.model,
        models: args.models,
        validation,
        big_model_params,
        big_model_bytes: big_blob.bytes.len(),
        seconds_local,
        slots,
    };
    output::emit(global.json, &result, |r| {
        println!(
            "{} {}s scored on {} validation images; local executor {:.3} s (median of {})",
            r.models, r.model, r.validation, r.seconds_local, args.rounds
        );
        println!(
            "a {}-parameter model is {:.1} MB",
            r.big_model_params,
            r.big_model_bytes as f64 / 1e6
        );
        println!(
            "{:>7} {:>8} {:>12} {:>10} {:>11} {:>10} {:>8}",
            "workers", "start s", "trivial ms", "1M job s", "first s", "median s", "speedup"
        );
        for s in &r.slots {
            println!(
                "{:>7} {:>8.2} {:>12.1} {:>10.3} {:>11.3} {:>10.3} {:>7.2}x",
                s.workers,
                s.seconds_start,
                1000.0 * s.seconds_trivial_job,
                s.seconds_ship_model,
                s.seconds_population_first,
                s.seconds_population,
                s.speedup_over_local
            );
        }
    })
}
