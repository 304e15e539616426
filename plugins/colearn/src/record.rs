//! What one epoch measured: the record kept in the plugin's history, and the flat numbers
//! logged to the run's metrics.

use coevo_sdk::serde_json::{Map, Value, json};
use coevo_sdk::{Diagnostics, Evaluation, Metrics};
use serde::{Deserialize, Serialize};

use crate::coupling::mean_off_diagonal;

/// One epoch of co-learning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EpochRecord {
    /// The epoch, counted from 1.
    pub epoch: usize,
    /// Its learning rate.
    pub lr: f64,
    /// The coupling it trained with, `β[i][j]`.
    pub beta: Vec<Vec<f64>>,
    /// Each member's mean training objective over the epoch's batches (labels and coupling).
    pub objective: Vec<f64>,
    /// Members and ensemble on the measured training samples.
    pub train: Evaluation,
    /// Members and ensemble on the validation split, with diagnostics when configured.
    pub validation: Evaluation,
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 { 0.0 } else { sum / n as f64 }
}

fn member_mean(evaluation: &Evaluation, f: impl Fn(&Metrics) -> f64) -> f64 {
    mean(evaluation.members.iter().map(f))
}

fn accuracy(m: &Metrics) -> f64 {
    m.accuracy.unwrap_or(f64::NAN)
}

impl EpochRecord {
    /// The numbers worth a curve: means over members, the ensemble, and the diagnostics'
    /// summaries (per-member values stay in the record).
    pub fn summary(&self) -> Value {
        let n = self.beta.len();
        let mut out = Map::new();
        let mut put = |key: &str, value: f64| {
            if value.is_finite() {
                out.insert(key.into(), json!(value));
            }
        };
        put("epoch", self.epoch as f64);
        put("lr", self.lr);
        put("beta_bar", mean_off_diagonal(&self.beta) * n as f64);
        put("objective", mean(self.objective.iter().copied()));
        for (split, evaluation) in [("train", &self.train), ("val", &self.validation)] {
            put(
                &format!("member_{split}_accuracy"),
                member_mean(evaluation, accuracy),
            );
            put(
                &format!("member_{split}_loss"),
                member_mean(evaluation, |m| m.loss),
            );
            if let Some(ensemble) = &evaluation.ensemble {
                put(&format!("ensemble_{split}_accuracy"), accuracy(ensemble));
                put(&format!("ensemble_{split}_loss"), ensemble.loss);
            }
        }
        if let Some(d) = &self.validation.diagnostics {
            summarise(d, &mut put);
        }
        Value::Object(out)
    }
}

/// Means of the diagnostics: off-diagonal JS divergence, entropy, inactive ReLUs, weight std.
fn summarise(d: &Diagnostics, put: &mut impl FnMut(&str, f64)) {
    put("js_mean", mean_off_diagonal(&d.js_divergence));
    put("entropy_mean", mean(d.mean_entropy.iter().copied()));
    put(
        "inactive_relu_mean",
        mean(d.inactive_relu.iter().flatten().copied()),
    );
    put(
        "weight_std_mean",
        mean(d.weight_std.iter().flatten().copied()),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(accuracy: f64, loss: f64) -> Metrics {
        Metrics {
            loss,
            accuracy: Some(accuracy),
            samples: 10,
            ..Metrics::default()
        }
    }

    #[test]
    fn the_summary_averages_members_and_keeps_the_ensemble() {
        let evaluation = Evaluation {
            members: vec![metrics(0.5, 1.0), metrics(0.7, 2.0)],
            ensemble: Some(metrics(0.8, 0.9)),
            diagnostics: Some(Diagnostics {
                js_divergence: vec![vec![0.0, 0.2], vec![0.2, 0.0]],
                mean_entropy: vec![1.0, 2.0],
                inactive_relu: vec![vec![0.1, 0.3], vec![0.5, 0.7]],
                weight_std: vec![vec![1.0], vec![3.0]],
                ..Diagnostics::default()
            }),
        };
        let record = EpochRecord {
            epoch: 3,
            lr: 0.01,
            beta: vec![vec![0.0, -0.25], vec![-0.25, 0.0]],
            objective: vec![1.0, 3.0],
            train: evaluation.clone(),
            validation: evaluation,
        };
        let s = record.summary();
        assert_eq!(s["beta_bar"], json!(-0.5));
        assert_eq!(s["objective"], json!(2.0));
        assert!((s["member_val_accuracy"].as_f64().unwrap() - 0.6).abs() < 1e-12);
        assert_eq!(s["ensemble_train_accuracy"], json!(0.8));
        assert!((s["js_mean"].as_f64().unwrap() - 0.2).abs() < 1e-12);
        assert_eq!(s["entropy_mean"], json!(1.5));
        assert!((s["inactive_relu_mean"].as_f64().unwrap() - 0.4).abs() < 1e-12);
        assert_eq!(s["weight_std_mean"], json!(2.0));
    }
}
