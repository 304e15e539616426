//! Evaluation results and data-set descriptions, as the host reports them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What the targets are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Task {
    /// One label in `0..classes` per sample.
    Classification {
        /// Number of classes.
        classes: usize,
    },
    /// One real value per sample (e.g. age in years).
    Regression,
}

/// Summary of a model (or ensemble) on a split.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Metrics {
    /// Mean loss over samples.
    pub loss: f64,
    /// Fraction of correct labels (classification).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f64>,
    /// Mean absolute error in target units (regression).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mae: Option<f64>,
    /// Root mean squared error in target units (regression).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rmse: Option<f64>,
    /// Coefficient of determination (regression).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r2: Option<f64>,
    /// Median absolute error in target units (regression; absent from hosts before 0.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub median_ae: Option<f64>,
    /// Pearson correlation of predictions with targets (regression; absent from hosts
    /// before 0.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pearson: Option<f64>,
    /// Samples evaluated.
    pub samples: usize,
}

impl Metrics {
    /// Classification metrics from per-sample losses and predicted labels.
    pub fn classification(losses: &[f32], predicted: &[u32], labels: &[u32]) -> Self {
        let correct = predicted.iter().zip(labels).filter(|(p, l)| p == l).count();
        Self {
            loss: mean(losses),
            accuracy: Some(correct as f64 / labels.len().max(1) as f64),
            samples: labels.len(),
            ..Self::default()
        }
    }

    /// Regression metrics from per-sample losses and predictions in target units.
    pub fn regression(losses: &[f32], predicted: &[f32], targets: &[f32]) -> Self {
        let n = targets.len().max(1) as f64;
        let (mut abs, mut sq) = (0.0, 0.0);
        for (&p, &t) in predicted.iter().zip(targets) {
            let e = f64::from(p) - f64::from(t);
            abs += e.abs();
            sq += e * e;
        }
        let target_mean = targets.iter().map(|&t| f64::from(t)).sum::<f64>() / n;
        let total: f64 = targets
            .iter()
            .map(|&t| (f64::from(t) - target_mean).powi(2))
            .sum();
        let mut errors: Vec<f64> = predicted
            .iter()
            .zip(targets)
            .map(|(&p, &t)| (f64::from(p) - f64::from(t)).abs())
            .collect();
        errors.sort_by(f64::total_cmp);
        let median_ae = match errors.len() {
            0 => 0.0,
            len if len % 2 == 1 => errors[len / 2],
            len => 0.5 * (errors[len / 2 - 1] + errors[len / 2]),
        };
        Self {
            loss: mean(losses),
            mae: Some(abs / n),
            rmse: Some((sq / n).sqrt()),
            r2: Some(if total > 0.0 { 1.0 - sq / total } else { 0.0 }),
            median_ae: Some(median_ae),
            pearson: Some(pearson(predicted, targets)),
            samples: targets.len(),
            ..Self::default()
        }
    }

    /// The headline number: accuracy for classification, else MAE.
    pub fn headline(&self) -> f64 {
        self.accuracy.or(self.mae).unwrap_or(self.loss)
    }
}

/// Pearson's r of two equally long series (0 when either is constant).
pub fn pearson(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len().min(b.len()).max(1) as f64;
    let ma = a.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let mb = b.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x) - ma, f64::from(y) - mb);
        sab += x * y;
        saa += x * x;
        sbb += y * y;
    }
    match (saa * sbb).sqrt() {
        d if d > 0.0 => sab / d,
        _ => 0.0,
    }
}

fn mean(values: &[f32]) -> f64 {
    values.iter().map(|&v| f64::from(v)).sum::<f64>() / values.len().max(1) as f64
}

/// How members' predictions are combined into the ensemble's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Combination {
    /// The mean of the members' class probabilities (or predictions).
    #[default]
    Mean,
    /// The normalised geometric mean of the probabilities.
    GeometricMean,
    /// The most frequent predicted label (ties to the lowest label).
    MajorityVote,
}

/// Metrics of each model evaluated together, and of their ensemble.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// One entry per model.
    pub members: Vec<Metrics>,
    /// The combined prediction, for two or more models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ensemble: Option<Metrics>,
    /// What the members' predictions, activations and weights look like, when asked for
    /// ([`EvalSpec::diagnostics`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnostics: Option<Diagnostics>,
}

/// How members differ and what their networks look like inside: the measures of co-learning's
/// analysis (Brazowski & Schneidman), computed by the host on the evaluated samples.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Diagnostics {
    /// `[i][j]`: the mean over samples of the Jensen-Shannon divergence (in nats) between the
    /// class distributions of members `i` and `j`; symmetric, zero diagonal.
    pub js_divergence: Vec<Vec<f64>>,
    /// Edges of the entropy histograms' bins, in nats, from 0 to `ln(classes)`.
    pub entropy_bins: Vec<f64>,
    /// `[member][bin]`: the fraction of samples whose predicted distribution has an entropy in
    /// that bin.
    pub entropy_histograms: Vec<Vec<f64>>,
    /// Each member's mean predictive entropy, in nats.
    pub mean_entropy: Vec<f64>,
    /// `[member][ReLU layer]`: the fraction of the layer's outputs that are zero, over samples
    /// and units, in evaluation mode.
    pub inactive_relu: Vec<Vec<f64>>,
    /// Names of the weight tensors (convolution kernels and linear weights), in layer order.
    pub weight_layers: Vec<String>,
    /// `[member][weight tensor]`: the standard deviation of the tensor's values.
    pub weight_std: Vec<Vec<f64>>,
}

/// The split an evaluation reads. There is no test split here: nothing a plugin scores may read
/// it; only the experiment's final report does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// The training samples.
    Train,
    /// The held-out validation samples (the training samples when none are held out).
    #[default]
    Validation,
}

/// What [`crate::ffi::HostTable::evaluate`] is asked.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvalSpec {
    /// The split.
    pub split: Split,
    /// How the ensemble combines its members.
    pub combination: Combination,
    /// Evaluate only these samples of the split (all when absent).
    pub subset: Option<Vec<u32>>,
    /// Also return [`Diagnostics`]. Sent only when set, so that a host older than the field
    /// still reads the spec.
    #[serde(skip_serializing_if = "is_false")]
    pub diagnostics: bool,
    /// The partner whose trunk feeds the models' join layer (see
    /// [`crate::training::FeatureSource`]). Sent only when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features_from: Option<crate::training::FeatureSource>,
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// A data set as the host describes it to plugins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetInfo {
    /// Short name.
    pub name: String,
    /// Classification or regression.
    pub task: Task,
    /// Shape of one sample.
    pub sample_shape: Vec<usize>,
    /// Training samples (after the validation holdout).
    pub train: usize,
    /// Validation samples (0 when none are held out).
    pub validation: usize,
}

/// What one training call did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainReport {
    /// Optimiser steps this call took.
    pub steps: u64,
    /// Mean training loss per model over the last epoch.
    pub train_loss: Vec<f64>,
    /// The learning rate at the call's last step (absent from hosts before ABI 1.2).
    #[serde(default)]
    pub lr: f64,
    /// Samples back-propagated over all the call's epochs, a repeated index once per repeat
    /// (absent from hosts before ABI 1.3).
    #[serde(default)]
    pub samples: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_counts_matches() {
        let m = Metrics::classification(&[1.0, 3.0], &[1, 2], &[1, 0]);
        assert_eq!((m.loss, m.accuracy, m.samples), (2.0, Some(0.5), 2));
    }

    #[test]
    fn regression_matches_hand_values() {
        // errors 1, -1, 2; targets 1, 2, 3 (mean 2, total sum of squares 2).
        let m = Metrics::regression(&[0.0; 3], &[2.0, 1.0, 5.0], &[1.0, 2.0, 3.0]);
        assert!((m.mae.unwrap() - 4.0 / 3.0).abs() < 1e-12);
        assert!((m.rmse.unwrap() - 2f64.sqrt()).abs() < 1e-12);
        assert!((m.r2.unwrap() - (1.0 - 6.0 / 2.0)).abs() < 1e-12);
        assert_eq!(m.median_ae, Some(1.0));
        // Predictions 2, 1, 5 against 1, 2, 3: centred −0.67, −1.67, 2.33 and −1, 0, 1.
        let r = (0.666_666_666_666_666_6 + 2.333_333_333_333_333)
            / (8.666_666_666_666_666f64 * 2.0).sqrt();
        assert!((m.pearson.unwrap() - r).abs() < 1e-9);
        let even = Metrics::regression(&[0.0; 4], &[0.0, 0.0, 0.0, 0.0], &[1.0, 2.0, 4.0, 8.0]);
        assert_eq!(even.median_ae, Some(3.0));
        assert_eq!(even.pearson, Some(0.0), "a constant prediction");
    }
}
