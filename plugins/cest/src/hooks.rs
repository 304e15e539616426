//! The script's hooks: the fitness of one prey, and the subset size of an epoch. Both are
//! asked each time they apply, so an edit during `coevo run --watch` takes effect from the
//! next generation (fitness) or epoch (size).

use coevo_sdk::serde_json::{Value, json};
use coevo_sdk::{Host, PluginError, SubsetStats};

use crate::config::Encoding;

/// The script function that scores a prey.
pub const PREY_FITNESS: &str = "prey_fitness";
/// The script function that sets an epoch's subset fraction.
pub const SUBSET_FRACTION: &str = "subset_fraction";

/// Where a prey is scored: the argument `ctx` of `prey_fitness`.
#[derive(Debug, Clone, Copy)]
pub struct Scoring {
    /// The global epoch (from 0, warm-up included).
    pub epoch: usize,
    /// The prey generation within the epoch (from 0).
    pub generation: usize,
    /// The encoding.
    pub encoding: Encoding,
}

/// The fitness of each prey: the hook's, else the default (1 − accuracy for index lists,
/// the mean smoothed miss rate for masks). `smoothed` holds each prey's mean smoothed miss
/// rate (masks only).
pub fn prey_fitness(
    host: &Host,
    stats: &[SubsetStats],
    smoothed: Option<&[f64]>,
    at: Scoring,
) -> Result<Vec<f64>, PluginError> {
    let default = |k: usize| match smoothed {
        Some(s) => s[k],
        None => 1.0 - stats[k].accuracy,
    };
    let mut fitness = Vec::with_capacity(stats.len());
    for (k, s) in stats.iter().enumerate() {
        let mut arg = serde_json::to_value(s)?;
        if let Some(smoothed) = smoothed {
            arg["smoothed_miss"] = json!(smoothed[k]);
        }
        let ctx = json!({
            "epoch": at.epoch, "generation": at.generation, "prey": k, "encoding": at.encoding,
        });
        match host.call_hook(PREY_FITNESS, &json!([arg, ctx]))? {
            Some(answer) => fitness.push(finite(&answer, PREY_FITNESS, &ctx)?),
            // No hook: the default for this prey and every other.
            None => return Ok((0..stats.len()).map(default).collect()),
        }
    }
    Ok(fitness)
}

/// The subset fraction of `epoch`: the hook's, else `default`.
pub fn subset_fraction(host: &Host, epoch: usize, default: f64) -> Result<f64, PluginError> {
    let Some(answer) = host.call_hook(SUBSET_FRACTION, &json!([epoch]))? else {
        return Ok(default);
    };
    let fraction = finite(&answer, SUBSET_FRACTION, &json!({ "epoch": epoch }))?;
    if fraction <= 0.0 || fraction > 1.0 {
        return Err(PluginError(format!(
            "the {SUBSET_FRACTION} hook returned {fraction} for epoch {epoch}; it must be in (0, 1]"
        )));
    }
    Ok(fraction)
}

fn finite(answer: &Value, hook: &str, at: &Value) -> Result<f64, PluginError> {
    answer.as_f64().filter(|v| v.is_finite()).ok_or_else(|| {
        PluginError(format!(
            "the {hook} hook returned {answer} at {at}; it must return a finite number"
        ))
    })
}
