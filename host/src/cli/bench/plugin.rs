//! Costs of the plugin boundary: a host-table call, and a hot swap.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use coevo::data::{Dataset, Inputs, Normalise, ResidentData, Samples, Targets, Task};
use coevo::plugin::{FileWatch, PluginHost, PluginPath, PluginRun, load_fresh_copy};
use coevo::session::Session;
use coevo_sdk::Host;
use serde::Serialize;
use serde_json::json;

use super::train::median;
use crate::cli::{Global, output};

#[derive(Debug, Args)]
pub struct HostCallArgs {
    /// Calls per timed batch.
    #[arg(long, default_value_t = 1_000_000)]
    calls: u64,
    /// Timed batches (the median is reported).
    #[arg(long, default_value_t = 7)]
    rounds: usize,
}

#[derive(Debug, Args)]
pub struct SwapArgs {
    /// The plugin to swap (a name or a library path).
    #[arg(long, default_value = "random-search")]
    plugin: String,
    /// Swaps to time.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Debounce of the file watch, in milliseconds.
    #[arg(long, default_value_t = 100)]
    debounce_ms: u64,
    /// Also look for plugins here.
    #[arg(long = "plugin-dir")]
    plugin_dirs: Vec<PathBuf>,
}

/// A small synthetic data set: the costs measured here do not depend on real data.
fn synthetic_host() -> std::rc::Rc<PluginHost> {
    let n = 64;
    let inputs: Vec<f32> = (0..n * 16)
        .map(|i| ((i * 7919) % 97) as f32 / 97.0)
        .collect();
    let samples = Samples {
        inputs: Inputs::F32(inputs),
        targets: Targets::Classes((0..n as u32).map(|i| i % 4).collect()),
        coarse: None,
    };
    let data = Dataset {
        name: "synthetic".into(),
        task: Task::Classification { classes: 4 },
        sample_shape: vec![16],
        class_names: Vec::new(),
        train: samples.clone(),
        test: samples,
        target_transform: None,
        preparation: None,
    };
    let device = burn::tensor::Device::flex();
    let resident = ResidentData::upload(&data, &[], Normalise::None, &device);
    std::rc::Rc::new(PluginHost::new(Session::new(resident, device, 0)))
}

#[derive(Serialize)]
struct HostCallResult {
    command: &'static str,
    calls: u64,
    /// Median nanoseconds per call of `is_cancelled` (no arguments).
    trivial_ns: f64,
    /// Median nanoseconds per call of `derive_seed` (a string and a number).
    derive_seed_ns: f64,
}

pub fn host_call(args: HostCallArgs, global: &Global) -> anyhow::Result<()> {
    let plugin_host = synthetic_host();
    // SAFETY: the table lives in `plugin_host` for the whole benchmark.
    let host = unsafe { Host::from_raw(plugin_host.table()) }.context("the host table")?;
    let time = |f: &dyn Fn(u64) -> u64| -> f64 {
        let per_round: Vec<f64> = (0..args.rounds.max(1))
            .map(|_| {
                let started = Instant::now();
                let mut sink = 0u64;
                for i in 0..args.calls {
                    sink = sink.wrapping_add(f(i));
                }
                std::hint::black_box(sink);
                started.elapsed().as_secs_f64() * 1e9 / args.calls as f64
            })
            .collect();
        median(per_round)
    };
    let trivial_ns = time(&|_| u64::from(host.is_cancelled()));
    let derive_seed_ns = time(&|i| host.derive_seed("bench", i));
    let result = HostCallResult {
        command: "bench host-call",
        calls: args.calls,
        trivial_ns,
        derive_seed_ns,
    };
    output::emit(global.json, &result, |r| {
        println!(
            "host-table round trip, median of {} rounds of {} calls:",
            args.rounds, r.calls
        );
        println!("  is_cancelled (no arguments): {:.1} ns", r.trivial_ns);
        println!("  derive_seed (a string):      {:.1} ns", r.derive_seed_ns);
    })
}

#[derive(Serialize)]
struct SwapResult {
    command: &'static str,
    plugin: String,
    debounce_ms: u64,
    /// Seconds from the file's replacement to the new code's first step, per swap.
    latencies: Vec<f64>,
    median_seconds: f64,
}

pub fn swap(args: SwapArgs, global: &Global) -> anyhow::Result<()> {
    let original = PluginPath::new(&args.plugin_dirs).find(&args.plugin)?;
    let dir = tempfile::tempdir()?;
    let file = dir
        .path()
        .join(original.path.file_name().context("a library file name")?);
    let bytes = std::fs::read(&original.path)?;
    std::fs::write(&file, &bytes)?;
    let config = json!({ "model": { "input": [16], "layers": [{ "type": "linear", "out": 4 }] }, "population": 2, "generations": 1000 });
    let mut run = PluginRun::start(coevo::plugin::load(&file)?, config, synthetic_host())?;
    run.step()?;
    let watch = FileWatch::new(&file, Duration::from_millis(args.debounce_ms))?;
    let mut latencies = Vec::with_capacity(args.rounds);
    for round in 0..args.rounds {
        // A "rebuilt" library: the same code with different trailing bytes, so a new file
        // with a new hash, written elsewhere and renamed over the old one as builds do.
        let mut rebuilt = bytes.clone();
        rebuilt.extend_from_slice(format!("coevo-swap-{round}").as_bytes());
        let staging = dir.path().join("staging.so");
        std::fs::write(&staging, &rebuilt)?;
        let started = Instant::now();
        std::fs::rename(&staging, &file)?;
        while !watch.take_change() {
            if started.elapsed() > Duration::from_secs(10) {
                bail!("the change was not noticed within 10 s");
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        run.swap(load_fresh_copy(&file, &dir.path().join("copies"))?)?;
        run.step()?;
        latencies.push(started.elapsed().as_secs_f64());
    }
    let result = SwapResult {
        command: "bench swap",
        plugin: run.plugin().name(),
        debounce_ms: args.debounce_ms,
        median_seconds: median(latencies.clone()),
        latencies,
    };
    output::emit(global.json, &result, |r| {
        println!(
            "hot swap of {}, file replaced to new code stepping ({} ms debounce):",
            r.plugin, r.debounce_ms
        );
        println!(
            "  median {:.3} s; each: {:?}",
            r.median_seconds,
            r.latencies
                .iter()
                .map(|s| format!("{s:.3}"))
                .collect::<Vec<_>>()
        );
    })
}
