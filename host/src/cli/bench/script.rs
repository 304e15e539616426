//! Costs of the scripting layer: a hook call, and a reload.

use std::time::Duration;

use clap::Args;
use coevo::experiment::bench;
use serde::Serialize;

use super::train::median;
use crate::cli::{Global, output};

#[derive(Debug, Args)]
pub struct ScriptArgs {
    /// Hook calls per timed round.
    #[arg(long, default_value_t = 20_000)]
    calls: u64,
    /// Rounds (hook calls) and reloads timed.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Debounce of the script watch, in milliseconds.
    #[arg(long, default_value_t = 100)]
    debounce_ms: u64,
}

#[derive(Serialize)]
struct ScriptResult {
    command: &'static str,
    hook_call_us: f64,
    reload_seconds: Vec<f64>,
    reload_median_seconds: f64,
}

pub fn run(args: ScriptArgs, global: &Global) -> anyhow::Result<()> {
    let hook_ns = bench::hook_call_ns(args.calls, args.rounds).map_err(anyhow::Error::msg)?;
    let reloads = bench::reload_latency(args.rounds, Duration::from_millis(args.debounce_ms))
        .map_err(anyhow::Error::msg)?;
    let result = ScriptResult {
        command: "bench script",
        hook_call_us: hook_ns / 1e3,
        reload_median_seconds: median(reloads.clone()),
        reload_seconds: reloads,
    };
    output::emit(global.json, &result, |r| {
        println!(
            "hook call fitness(metrics, ctx), JSON in and out: {:.2} µs (median of {} rounds of {} calls)",
            r.hook_call_us, args.rounds, args.calls
        );
        println!(
            "script saved -> new definition active ({} ms debounce): median {:.3} s; each {:?}",
            args.debounce_ms,
            r.reload_median_seconds,
            r.reload_seconds
                .iter()
                .map(|s| format!("{s:.3}"))
                .collect::<Vec<_>>()
        );
    })
}
