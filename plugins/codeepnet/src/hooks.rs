//! The script's hooks: the knowledge-transmission rate of a turn, and a pair's fitness. Each is
//! asked every time it applies, so an edit during `coevo run --watch` takes effect at the next
//! swap (rate) or the next pair scored (fitness).

use coevo_sdk::serde_json::{Value, json};
use coevo_sdk::{Host, Metrics, PluginError};

/// The script function that sets the epochs of a turn.
pub const TRANSMISSION_RATE: &str = "transmission_rate";
/// The script function that scores a pair.
pub const FITNESS: &str = "fitness";

/// Epochs of the turn that starts at `epoch` of chromosome `index`'s pair in `generation`: the
/// hook's, else the chromosome's `k`.
pub fn transmission_rate(
    host: &Host,
    generation: usize,
    epoch: usize,
    k: usize,
) -> Result<usize, PluginError> {
    let args = json!([generation, epoch, k]);
    let Some(answer) = host.call_hook(TRANSMISSION_RATE, &args)? else {
        return Ok(k);
    };
    match answer.as_u64().filter(|&k| k >= 1) {
        Some(k) => Ok(k as usize),
        None => Err(PluginError(format!(
            "the {TRANSMISSION_RATE} hook returned {answer} for generation {generation}, epoch \
             {epoch}; it must return a whole number of epochs, at least 1"
        ))),
    }
}

/// The fitness of a pair from its validation metrics (higher is better): the hook's, else
/// minus the mean absolute error (minus the error rate for classes).
pub fn fitness(host: &Host, metrics: &Metrics, ctx: &Value) -> Result<f64, PluginError> {
    let default = match (metrics.mae, metrics.accuracy) {
        (Some(mae), _) => -mae,
        (None, Some(accuracy)) => accuracy - 1.0,
        (None, None) => -metrics.loss,
    };
    let args = json!([serde_json::to_value(metrics)?, ctx]);
    let Some(answer) = host.call_hook(FITNESS, &args)? else {
        return Ok(default);
    };
    answer.as_f64().filter(|v| v.is_finite()).ok_or_else(|| {
        PluginError(format!(
            "the {FITNESS} hook returned {answer} at {ctx}; it must return a finite number"
        ))
    })
}
