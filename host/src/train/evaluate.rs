//! Evaluation of a model or stacked ensemble on a split resident on the device.

use burn::tensor::activation::softmax;
use burn::tensor::{Int, Tensor};
use serde::{Deserialize, Serialize};

use super::loss::{self, LossKind, LossMismatch};
use crate::data::{DeviceSplit, DeviceTargets, Targets};
use crate::model::Model;
use crate::tensors::{int_vector, to_f32, to_i64};
use coevo_sdk::Metrics;

/// What an evaluation returns besides the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvalOptions {
    /// Samples per forward pass.
    pub batch_size: usize,
    /// Return every sample's loss per member.
    pub per_sample_loss: bool,
    /// Return predicted class probabilities per member.
    pub probabilities: bool,
}

impl Default for EvalOptions {
    fn default() -> Self {
        Self {
            batch_size: 1000,
            per_sample_loss: false,
            probabilities: false,
        }
    }
}

/// Metrics of each member and of their ensemble (the mean of their probabilities, or of their
/// predictions for regression).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// One entry per member.
    pub members: Vec<Metrics>,
    /// The combined prediction, for stacks of two or more.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ensemble: Option<Metrics>,
    /// `[member][sample]` losses, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_sample_loss: Option<Vec<Vec<f32>>>,
    /// `[member][sample][class]` probabilities flattened, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probabilities: Option<Vec<f32>>,
}

/// Evaluates `model` on `split` with `loss` (in evaluation mode).
pub fn evaluate(
    model: &Model,
    split: &DeviceSplit,
    loss: LossKind,
    options: EvalOptions,
) -> Result<Evaluation, LossMismatch> {
    let m = model.members();
    let n = split.len();
    let scale = model.spec().target_scale;
    let indices: Vec<usize> = (0..n).collect();
    let mut losses = Vec::new();
    let mut outputs = Vec::new();
    for chunk in indices.chunks(options.batch_size.max(1)) {
        let (x, y) = split.batch(chunk);
        let out = model.predict(x);
        losses.push(loss::per_sample(out.clone(), &y, loss, scale)?);
        outputs.push(out);
    }
    // One read per result: batches stay on the device until the end.
    let losses = to_f32(Tensor::cat(losses, 1));
    let output = Tensor::cat(outputs, 1);
    let per_member = |v: &[f32]| v.chunks(n.max(1)).map(<[f32]>::to_vec).collect::<Vec<_>>();
    let member_losses = per_member(&losses);
    let mut evaluation = match (&split.host_targets, &split.targets) {
        (Targets::Classes(labels), DeviceTargets::Classes(_)) => {
            classify(output.clone(), &member_losses, labels, options)
        }
        (Targets::Values(values), _) => regress(output.clone(), &member_losses, values, scale),
        _ => unreachable!("host and device targets come from the same samples"),
    };
    if m < 2 {
        evaluation.ensemble = None;
    }
    if options.per_sample_loss {
        evaluation.per_sample_loss = Some(member_losses);
    }
    Ok(evaluation)
}

fn classify(
    output: Tensor<3>,
    losses: &[Vec<f32>],
    labels: &[u32],
    options: EvalOptions,
) -> Evaluation {
    let [m, n, _] = output.dims();
    let probs = softmax(output, 2);
    let predicted = read_int(probs.clone().argmax(2).reshape([m * n]));
    let mean_probs = probs.clone().mean_dim(0).reshape([n, probs.dims()[2]]);
    let ensemble_pred = read_int(mean_probs.clone().argmax(1).reshape([n]));
    let label_index = int_vector(
        labels.iter().map(|&l| i64::from(l)).collect(),
        &mean_probs.device(),
    );
    let ensemble_nll = to_f32(
        mean_probs
            .clone()
            .gather(1, label_index.reshape([n, 1]))
            .clamp_min(1e-12)
            .log()
            .neg()
            .reshape([n]),
    );
    let members = losses
        .iter()
        .zip(predicted.chunks(n.max(1)))
        .map(|(l, p)| Metrics::classification(l, p, labels))
        .collect();
    Evaluation {
        members,
        ensemble: Some(Metrics::classification(
            &ensemble_nll,
            &ensemble_pred,
            labels,
        )),
        per_sample_loss: None,
        probabilities: options
            .probabilities
            .then(|| to_f32(probs.reshape([m * n * mean_probs.dims()[1]]))),
    }
}

fn regress(
    output: Tensor<3>,
    losses: &[Vec<f32>],
    targets: &[f32],
    scale: Option<crate::model::TargetScale>,
) -> Evaluation {
    let [m, n, _] = output.dims();
    let scale = scale.unwrap_or(crate::model::TargetScale {
        mean: 0.0,
        std: 1.0,
    });
    let predicted = to_f32(
        output
            .reshape([m * n])
            .mul_scalar(scale.std)
            .add_scalar(scale.mean),
    );
    let ensemble_pred: Vec<f32> = (0..n)
        .map(|i| (0..m).map(|k| predicted[k * n + i]).sum::<f32>() / m as f32)
        .collect();
    let ensemble_losses: Vec<f32> = ensemble_pred
        .iter()
        .zip(targets)
        .map(|(p, t)| (p - t).abs())
        .collect();
    let members = losses
        .iter()
        .zip(predicted.chunks(n.max(1)))
        .map(|(l, p)| Metrics::regression(l, p, targets))
        .collect();
    Evaluation {
        members,
        ensemble: Some(Metrics::regression(
            &ensemble_losses,
            &ensemble_pred,
            targets,
        )),
        per_sample_loss: None,
        probabilities: None,
    }
}

fn read_int<const D: usize>(t: Tensor<D, Int>) -> Vec<u32> {
    to_i64(t).into_iter().map(|v| v as u32).collect()
}
