//! The measures of co-learning's analysis (Brazowski & Schneidman, "Collective Learning by
//! Ensembles of Altruistic Diversifying Neural Networks"): how far apart the members' predictions
//! are (eq. 5, the Jensen-Shannon divergence), how confident they are (predictive entropy), how
//! sparse their ReLU activity is, and how wide their weight distributions are.
//!
//! Predictions are read to the host once by the evaluation; these are sums over them in `f64`,
//! cheap next to the forward passes that produced them.

use coevo_sdk::Diagnostics;

use crate::model::{Model, ParamRole};
use crate::tensors::to_f32;

/// Bins of the entropy histograms, from 0 to `ln(classes)`.
pub const ENTROPY_BINS: usize = 20;

/// Class probabilities of `members` members on `samples` samples, `[member][sample][class]`
/// flattened.
#[derive(Debug, Clone, Copy)]
pub struct Predictions<'a> {
    /// The probabilities.
    pub probs: &'a [f32],
    /// Members.
    pub members: usize,
    /// Samples.
    pub samples: usize,
    /// Classes.
    pub classes: usize,
}

impl Predictions<'_> {
    fn sample(&self, member: usize, sample: usize) -> &[f32] {
        let start = (member * self.samples + sample) * self.classes;
        &self.probs[start..start + self.classes]
    }
}

/// Everything in [`Diagnostics`]; `inactive_relu` is `[member][ReLU layer]`.
pub fn diagnose(
    model: &Model,
    predictions: Predictions<'_>,
    inactive_relu: Vec<Vec<f64>>,
) -> Diagnostics {
    let (entropy_bins, entropy_histograms, mean_entropy) = entropy_histograms(predictions);
    let (weight_layers, weight_std) = weight_std(model);
    Diagnostics {
        js_divergence: js_matrix(predictions),
        entropy_bins,
        entropy_histograms,
        mean_entropy,
        inactive_relu,
        weight_layers,
        weight_std,
    }
}

/// `Σ_k p_k ln(p_k / q_k)`, with `0 ln 0 = 0`.
fn kl(p: &[f32], q: &[f64]) -> f64 {
    p.iter()
        .zip(q)
        .filter(|(p, _)| **p > 0.0)
        .map(|(&p, &q)| f64::from(p) * (f64::from(p) / q).ln())
        .sum()
}

/// The Jensen-Shannon divergence `½ KL(p‖m) + ½ KL(q‖m)` with `m = (p + q) / 2`, in nats.
pub fn jensen_shannon(p: &[f32], q: &[f32]) -> f64 {
    let m: Vec<f64> = p
        .iter()
        .zip(q)
        .map(|(&a, &b)| 0.5 * (f64::from(a) + f64::from(b)))
        .collect();
    0.5 * kl(p, &m) + 0.5 * kl(q, &m)
}

/// `[i][j]`: the mean over samples of `JS(p_i, p_j)` (eq. 5).
pub fn js_matrix(predictions: Predictions<'_>) -> Vec<Vec<f64>> {
    let Predictions {
        members, samples, ..
    } = predictions;
    let pair = |i: usize, j: usize| -> f64 {
        let total: f64 = (0..samples)
            .map(|s| jensen_shannon(predictions.sample(i, s), predictions.sample(j, s)))
            .sum();
        total / samples.max(1) as f64
    };
    let mut matrix = vec![vec![0.0; members]; members];
    for (i, j) in (0..members).flat_map(|i| (i + 1..members).map(move |j| (i, j))) {
        let mean = pair(i, j);
        matrix[i][j] = mean;
        matrix[j][i] = mean;
    }
    matrix
}

/// `-Σ_k p_k ln p_k`.
pub fn entropy(p: &[f32]) -> f64 {
    p.iter()
        .filter(|&&v| v > 0.0)
        .map(|&v| -f64::from(v) * f64::from(v).ln())
        .sum()
}

/// Bin edges, per-member histograms (fractions of samples) and per-member mean entropies.
fn entropy_histograms(predictions: Predictions<'_>) -> (Vec<f64>, Vec<Vec<f64>>, Vec<f64>) {
    let Predictions {
        members,
        samples,
        classes,
        ..
    } = predictions;
    let top = (classes.max(2) as f64).ln();
    let edges = (0..=ENTROPY_BINS)
        .map(|b| top * b as f64 / ENTROPY_BINS as f64)
        .collect();
    let mut histograms = vec![vec![0.0; ENTROPY_BINS]; members];
    let mut means = vec![0.0; members];
    let weight = 1.0 / samples.max(1) as f64;
    for (member, histogram) in histograms.iter_mut().enumerate() {
        for s in 0..samples {
            let h = entropy(predictions.sample(member, s));
            // Rounding can put a uniform prediction a hair past ln(classes): it belongs to the
            // last bin.
            let bin = ((h / top * ENTROPY_BINS as f64) as usize).min(ENTROPY_BINS - 1);
            histogram[bin] += weight;
            means[member] += h * weight;
        }
    }
    (edges, histograms, means)
}

/// Names of the weight tensors and `[member][tensor]` standard deviations.
fn weight_std(model: &Model) -> (Vec<String>, Vec<Vec<f64>>) {
    let members = model.members();
    let mut names = Vec::new();
    let mut stds = vec![Vec::new(); members];
    for (entry, tensor) in model.layout().params.iter().zip(model.params()) {
        if !matches!(entry.role, ParamRole::Weight { .. }) {
            continue;
        }
        names.push(entry.name.clone());
        let values = to_f32(tensor.clone());
        for (member, chunk) in values.chunks(entry.numel().max(1)).enumerate() {
            stds[member].push(std(chunk));
        }
    }
    (names, stds)
}

/// The population standard deviation.
fn std(values: &[f32]) -> f64 {
    let n = values.len().max(1) as f64;
    let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let var = values
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / n;
    var.sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jensen_shannon_matches_hand_values() {
        // Disjoint supports: ln 2, the maximum.
        assert!((jensen_shannon(&[1.0, 0.0], &[0.0, 1.0]) - 2f64.ln()).abs() < 1e-12);
        assert_eq!(jensen_shannon(&[0.3, 0.7], &[0.3, 0.7]), 0.0);
        // p = (0.5, 0.5), q = (0.9, 0.1), m = (0.7, 0.3).
        let expected = 0.5 * (0.5 * (0.5f64 / 0.7).ln() + 0.5 * (0.5f64 / 0.3).ln())
            + 0.5 * (0.9 * (0.9f64 / 0.7).ln() + 0.1 * (0.1f64 / 0.3).ln());
        assert!((jensen_shannon(&[0.5, 0.5], &[0.9, 0.1]) - expected).abs() < 1e-6);
    }

    #[test]
    fn the_js_matrix_is_a_symmetric_mean_over_samples() {
        // Two members, two samples, two classes: they agree on sample 0, not on sample 1.
        let probs = [0.5f32, 0.5, 1.0, 0.0, 0.5, 0.5, 0.0, 1.0];
        let predictions = Predictions {
            probs: &probs,
            members: 2,
            samples: 2,
            classes: 2,
        };
        let matrix = js_matrix(predictions);
        assert_eq!(matrix[0][0], 0.0);
        assert!((matrix[0][1] - 2f64.ln() / 2.0).abs() < 1e-12);
        assert_eq!(matrix[0][1], matrix[1][0]);
    }

    #[test]
    fn entropy_histograms_count_confident_and_uncertain_samples() {
        // One member: a certain sample (entropy 0, first bin), a uniform one (last bin).
        let probs = [1.0f32, 0.0, 0.0, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0];
        let predictions = Predictions {
            probs: &probs,
            members: 1,
            samples: 2,
            classes: 3,
        };
        let (edges, histograms, means) = entropy_histograms(predictions);
        assert_eq!(edges.len(), ENTROPY_BINS + 1);
        assert!((edges[ENTROPY_BINS] - 3f64.ln()).abs() < 1e-12);
        assert_eq!(histograms[0][0], 0.5);
        assert_eq!(histograms[0][ENTROPY_BINS - 1], 0.5);
        assert!((means[0] - 3f64.ln() / 2.0).abs() < 1e-6);
    }

    #[test]
    fn std_is_the_population_standard_deviation() {
        assert!((std(&[1.0, 3.0]) - 1.0).abs() < 1e-12);
        assert_eq!(std(&[2.0, 2.0, 2.0]), 0.0);
    }
}
