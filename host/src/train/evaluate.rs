//! Evaluation of a model or stacked ensemble on a split resident on the device.
//!
//! Every member's outputs for the whole split stay on the device until one read at the end;
//! the ensemble is combined there too (mean or geometric mean of probabilities), so an
//! evaluation of a population costs one pass per batch whatever its size.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor};
use coevo_sdk::{Combination, Metrics};
use serde::{Deserialize, Serialize};

use super::diagnostics::{Predictions, diagnose};
use super::loss::{self, LossKind, LossMismatch};
use crate::data::TargetTransform;
use crate::data::{DeviceSplit, DeviceTargets, Targets};
use crate::model::{Model, TargetScale};
use crate::tensors::{int_vector, to_f32, to_i64};

/// What an evaluation reads and returns besides the metrics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvalOptions {
    /// Samples per forward pass.
    pub batch_size: usize,
    /// Return every sample's loss per member.
    pub per_sample_loss: bool,
    /// Return, per member, whether each sample's predicted class was its label
    /// (classification).
    pub per_sample_correct: bool,
    /// Return predicted class probabilities per member.
    pub probabilities: bool,
    /// How the ensemble combines its members.
    pub combination: Combination,
    /// Evaluate only these samples of the split.
    pub subset: Option<Vec<usize>>,
    /// Also measure [`coevo_sdk::Diagnostics`] (classification only).
    pub diagnostics: bool,
    /// Return each member's predictions and the targets, in target units (regression).
    pub predictions: bool,
}

impl Default for EvalOptions {
    fn default() -> Self {
        Self {
            batch_size: 1000,
            per_sample_loss: false,
            per_sample_correct: false,
            probabilities: false,
            combination: Combination::Mean,
            subset: None,
            diagnostics: false,
            predictions: false,
        }
    }
}

/// The metrics of each member and of their ensemble, the SDK's type that crosses to plugins
/// and scripts as it is, with the per-sample values the caller asked for beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Metrics of the members, their ensemble and the diagnostics.
    #[serde(flatten)]
    pub metrics: coevo_sdk::Evaluation,
    /// `[member][sample]` losses, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_sample_loss: Option<Vec<Vec<f32>>>,
    /// `[member][sample]`: 1 where the predicted class was the label, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_sample_correct: Option<Vec<Vec<u8>>>,
    /// `[member][sample][class]` probabilities flattened, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probabilities: Option<Vec<f32>>,
    /// `[member][sample]` predictions in target units (regression), when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predictions: Option<Vec<Vec<f32>>>,
    /// The targets of the evaluated samples in their units, beside `predictions`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub targets: Option<Vec<f32>>,
}

impl Evaluation {
    /// Metrics without per-sample values.
    fn of(members: Vec<Metrics>, ensemble: Option<Metrics>) -> Self {
        Self {
            metrics: coevo_sdk::Evaluation {
                members,
                ensemble,
                diagnostics: None,
            },
            per_sample_loss: None,
            per_sample_correct: None,
            probabilities: None,
            predictions: None,
            targets: None,
        }
    }
}

/// Evaluates `model` on `split` with `loss` (in evaluation mode).
pub fn evaluate(
    model: &Model,
    split: &DeviceSplit,
    loss: LossKind,
    options: EvalOptions,
) -> Result<Evaluation, LossMismatch> {
    let scale = model.spec().target_scale;
    // Per ReLU layer, `[M]` counts of inactive outputs summed over batches (as fractions times
    // the batch's size, so that a short last batch weighs what it holds).
    let mut inactive: Vec<Tensor<1>> = Vec::new();
    let batches = run_batches(split, &options, loss, scale, |x, size| {
        if !options.diagnostics {
            return model.predict(x);
        }
        let (out, fractions) = model.predict_probed(x);
        let weighted = fractions.into_iter().map(|f| f.mul_scalar(size as f64));
        inactive = match inactive.is_empty() {
            true => weighted.collect(),
            false => inactive
                .drain(..)
                .zip(weighted)
                .map(|(a, b)| a + b)
                .collect(),
        };
        out
    })?;
    let n = batches.indices.len();
    let (mut evaluation, targets) = score(batches, model.members(), split, scale, &options);
    if options.diagnostics
        && let (Some(probs), Targets::Classes(_)) = (&evaluation.probabilities, &targets)
    {
        let members = model.members();
        let predictions = Predictions {
            probs,
            members,
            samples: n,
            classes: probs.len() / (members * n).max(1),
        };
        evaluation.metrics.diagnostics = Some(diagnose(
            model,
            predictions,
            inactive_by_member(inactive, members, n),
        ));
    }
    if !options.probabilities {
        evaluation.probabilities = None;
    }
    Ok(evaluation)
}

/// The evaluation batch on `device`: on a CPU a batch of 256 keeps the activations of a
/// ResNet-20 in cache, and scored a generation of MeGA candidates 1.7x faster than batches of
/// 1,000 (BENCHMARKS.md); a GPU wants large batches.
pub fn eval_batch_size(device: &burn::tensor::Device) -> usize {
    match crate::device::is_cpu(device) {
        true => 256,
        false => EvalOptions::default().batch_size,
    }
}

/// Evaluates `models` (one architecture) as [`evaluate`] does their stack, each model's
/// forward pass on its own. On a CPU this is faster than one pass of the stack: the CPU kernels
/// run a convolution of one model at full speed and gain nothing from the stacked (grouped)
/// layout. Diagnostics, which read the stack's layers, are taken from the stack.
pub fn evaluate_each(
    models: &[Model],
    split: &DeviceSplit,
    loss: LossKind,
    options: EvalOptions,
) -> Result<Evaluation, EvaluateError> {
    let first = models.first().ok_or(EvaluateError::NoModels)?;
    if options.diagnostics || models.len() == 1 {
        let stack = Model::stack(models)?;
        return Ok(evaluate(&stack, split, loss, options)?);
    }
    let outputs = models
        .iter()
        .map(|m| batch_outputs(m, split, &options))
        .collect();
    Ok(evaluate_outputs(
        outputs,
        first.spec().target_scale,
        split,
        loss,
        options,
    )?)
}

/// `model`'s outputs `[1, B, K]` for each batch of the samples `options` evaluates, in order:
/// one model's share of [`evaluate_each`], which a worker elsewhere computes the same.
pub fn batch_outputs(model: &Model, split: &DeviceSplit, options: &EvalOptions) -> Vec<Tensor<3>> {
    evaluated(split, options)
        .chunks(options.batch_size.max(1))
        .map(|chunk| model.predict(split.batch(chunk).0))
        .collect()
}

/// The samples `options` evaluates, in order, and the sizes of their batches.
pub fn batch_sizes(split: &DeviceSplit, options: &EvalOptions) -> Vec<usize> {
    evaluated(split, options)
        .chunks(options.batch_size.max(1))
        .map(<[usize]>::len)
        .collect()
}

/// The metrics [`evaluate_each`] gives from each model's [`batch_outputs`] (`[model][batch]`),
/// wherever those were computed.
pub fn evaluate_outputs(
    outputs: Vec<Vec<Tensor<3>>>,
    scale: Option<TargetScale>,
    split: &DeviceSplit,
    loss: LossKind,
    options: EvalOptions,
) -> Result<Evaluation, LossMismatch> {
    let members = outputs.len();
    let mut batch = 0;
    let batches = run_batches(split, &options, loss, scale, |_, _| {
        let out = Tensor::cat(outputs.iter().map(|m| m[batch].clone()).collect(), 0);
        batch += 1;
        out
    })?;
    let (mut evaluation, _) = score(batches, members, split, scale, &options);
    if !options.probabilities {
        evaluation.probabilities = None;
    }
    Ok(evaluation)
}

fn evaluated(split: &DeviceSplit, options: &EvalOptions) -> Vec<usize> {
    options
        .subset
        .clone()
        .unwrap_or_else(|| (0..split.len()).collect())
}

/// What a pass over the evaluated samples gives, batch by batch.
struct Batches {
    /// The samples evaluated, in order.
    indices: Vec<usize>,
    /// Per batch, the outputs `[M, B, K]`.
    outputs: Vec<Tensor<3>>,
    /// Per batch, the per-sample losses `[M, B]`.
    losses: Vec<Tensor<2>>,
}

/// Runs `forward` (a batch of inputs and its size → outputs `[M, B, K]`) over the batches of
/// `options.subset`, else of the whole split.
fn run_batches(
    split: &DeviceSplit,
    options: &EvalOptions,
    loss: LossKind,
    scale: Option<TargetScale>,
    mut forward: impl FnMut(Tensor<2>, usize) -> Tensor<3>,
) -> Result<Batches, LossMismatch> {
    let indices = evaluated(split, options);
    let mut losses = Vec::new();
    let mut outputs = Vec::new();
    for chunk in indices.chunks(options.batch_size.max(1)) {
        let (x, y) = split.batch(chunk);
        let out = forward(x, chunk.len());
        losses.push(loss::per_sample(out.clone(), &y, loss, scale)?);
        outputs.push(out);
    }
    Ok(Batches {
        indices,
        outputs,
        losses,
    })
}

/// Why models could not be evaluated together.
#[derive(Debug, thiserror::Error)]
pub enum EvaluateError {
    /// Nothing to evaluate.
    #[error("no models to evaluate")]
    NoModels,
    /// Models of different architectures.
    #[error("{0}: evaluate models of one architecture together")]
    Architecture(#[from] crate::model::ModelError),
    /// A loss the targets do not fit.
    #[error(transparent)]
    Loss(#[from] LossMismatch),
}

/// Metrics from the batches' outputs and per-sample losses; the probabilities are kept for the
/// caller to use or drop.
fn score(
    batches: Batches,
    members: usize,
    split: &DeviceSplit,
    scale: Option<TargetScale>,
    options: &EvalOptions,
) -> (Evaluation, Targets) {
    let Batches {
        indices,
        outputs,
        losses,
    } = batches;
    let n = indices.len();
    let member_losses: Vec<Vec<f32>> = match losses.is_empty() {
        true => vec![Vec::new(); members],
        false => to_f32(Tensor::cat(losses, 1))
            .chunks(n.max(1))
            .map(<[f32]>::to_vec)
            .collect(),
    };
    let targets = split.host_targets.gather(&indices);
    let mut evaluation = match (&targets, outputs.is_empty()) {
        (_, true) => Evaluation::of(vec![Metrics::default(); members], None),
        (Targets::Classes(labels), false) => {
            classify(Tensor::cat(outputs, 1), &member_losses, labels, options)
        }
        (Targets::Values(values), false) => regress(
            Tensor::cat(outputs, 1),
            &member_losses,
            values,
            scale,
            split.target_transform,
            options.predictions,
        ),
    };
    if members < 2 {
        evaluation.metrics.ensemble = None;
    }
    if options.per_sample_loss {
        evaluation.per_sample_loss = Some(member_losses);
    }
    debug_assert!(matches!(
        (&split.targets, &targets),
        (DeviceTargets::Classes(_), Targets::Classes(_))
            | (DeviceTargets::Values(_), Targets::Values(_))
    ));
    (evaluation, targets)
}

/// `[member][ReLU layer]` fractions from per-layer `[M]` sums over `samples` samples.
fn inactive_by_member(sums: Vec<Tensor<1>>, members: usize, samples: usize) -> Vec<Vec<f64>> {
    let per_layer: Vec<Vec<f32>> = sums.into_iter().map(to_f32).collect();
    (0..members)
        .map(|m| {
            per_layer
                .iter()
                .map(|layer| f64::from(layer[m]) / samples.max(1) as f64)
                .collect()
        })
        .collect()
}

fn classify(
    output: Tensor<3>,
    losses: &[Vec<f32>],
    labels: &[u32],
    options: &EvalOptions,
) -> Evaluation {
    let [m, n, k] = output.dims();
    let log_probs = log_softmax(output, 2);
    let probs = log_probs.clone().exp();
    let predicted = read_int(probs.clone().argmax(2).reshape([m * n]));
    let members = losses
        .iter()
        .zip(predicted.chunks(n))
        .map(|(l, p)| Metrics::classification(l, p, labels))
        .collect();
    let ensemble = combine(
        log_probs,
        &predicted,
        labels,
        options.combination,
        [m, n, k],
    );
    let correct = options.per_sample_correct.then(|| {
        predicted
            .chunks(n.max(1))
            .map(|p| {
                p.iter()
                    .zip(labels)
                    .map(|(p, l)| u8::from(p == l))
                    .collect()
            })
            .collect()
    });
    Evaluation {
        per_sample_correct: correct,
        // Diagnostics read them too; `evaluate` drops them again unless they were asked for.
        probabilities: (options.probabilities || options.diagnostics)
            .then(|| to_f32(probs.reshape([m * n * k]))),
        ..Evaluation::of(members, Some(ensemble))
    }
}

/// The ensemble's metrics under `rule`. Its loss is the negative log-likelihood of the combined
/// distribution (of the mean one for a vote, which has no distribution of its own).
fn combine(
    log_probs: Tensor<3>,
    predicted: &[u32],
    labels: &[u32],
    rule: Combination,
    [m, n, k]: [usize; 3],
) -> Metrics {
    let combined_log = match rule {
        // log of the mean of probabilities; clamped so a zero probability stays finite.
        Combination::Mean | Combination::MajorityVote => {
            log_probs.exp().mean_dim(0).clamp_min(1e-30).log()
        }
        // The normalised geometric mean: softmax of the mean log-probability.
        Combination::GeometricMean => log_softmax(log_probs.mean_dim(0), 2),
    }
    .reshape([n, k]);
    let label_index = int_vector(
        labels.iter().map(|&l| i64::from(l)).collect(),
        &combined_log.device(),
    );
    let nll = to_f32(
        combined_log
            .clone()
            .gather(1, label_index.reshape([n, 1]))
            .neg()
            .reshape([n]),
    );
    let choice = match rule {
        Combination::MajorityVote => majority(predicted, m, n, k),
        _ => read_int(combined_log.argmax(1).reshape([n])),
    };
    Metrics::classification(&nll, &choice, labels)
}

/// The most frequent label per sample among `m` members' predictions (ties to the lowest).
fn majority(predicted: &[u32], m: usize, n: usize, k: usize) -> Vec<u32> {
    (0..n)
        .map(|i| {
            let mut votes = vec![0usize; k];
            for member in 0..m {
                votes[predicted[member * n + i] as usize] += 1;
            }
            let best = votes.iter().copied().max().unwrap_or(0);
            votes.iter().position(|&v| v == best).unwrap_or(0) as u32
        })
        .collect()
}

/// Regression metrics in the targets' own units: a transformed target (Horvath's age, say)
/// is mapped back, predictions and targets alike, before errors are taken. Losses stay those
/// of the values trained on.
fn regress(
    output: Tensor<3>,
    losses: &[Vec<f32>],
    targets: &[f32],
    scale: Option<TargetScale>,
    transform: Option<TargetTransform>,
    keep_predictions: bool,
) -> Evaluation {
    let [m, n, _] = output.dims();
    let scale = scale.unwrap_or(TargetScale {
        mean: 0.0,
        std: 1.0,
    });
    let mut predicted = to_f32(
        output
            .reshape([m * n])
            .mul_scalar(scale.std)
            .add_scalar(scale.mean),
    );
    let untransformed: Vec<f32>;
    let targets = match transform {
        Some(t) => {
            predicted.iter_mut().for_each(|p| *p = t.inverse(*p));
            untransformed = targets.iter().map(|&v| t.inverse(v)).collect();
            &untransformed
        }
        None => targets,
    };
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
    let ensemble = Metrics::regression(&ensemble_losses, &ensemble_pred, targets);
    let evaluation = Evaluation::of(members, Some(ensemble));
    match keep_predictions {
        true => Evaluation {
            predictions: Some(predicted.chunks(n.max(1)).map(<[f32]>::to_vec).collect()),
            targets: Some(targets.to_vec()),
            ..evaluation
        },
        false => evaluation,
    }
}

fn read_int<const D: usize>(t: Tensor<D, Int>) -> Vec<u32> {
    to_i64(t).into_iter().map(|v| v as u32).collect()
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, TensorData};

    use super::*;

    fn logits(values: &[f32], [m, n, k]: [usize; 3]) -> Tensor<3> {
        log_softmax(
            Tensor::from_data(TensorData::new(values.to_vec(), [m, n, k]), &Device::flex()),
            2,
        )
    }

    #[test]
    fn the_three_combination_rules_differ_as_they_should() {
        // Three members, one sample, three classes: two weakly prefer class 1, one strongly class 0.
        let p = [[0.3f32, 0.4, 0.3], [0.3, 0.4, 0.3], [0.9, 0.05, 0.05]];
        let raw: Vec<f32> = p.iter().flatten().map(|v| v.ln()).collect();
        let log_probs = logits(&raw, [3, 1, 3]);
        let predicted = [1, 1, 0];
        let mean = combine(
            log_probs.clone(),
            &predicted,
            &[0],
            Combination::Mean,
            [3, 1, 3],
        );
        let vote = combine(
            log_probs.clone(),
            &predicted,
            &[0],
            Combination::MajorityVote,
            [3, 1, 3],
        );
        let geo = combine(
            log_probs,
            &predicted,
            &[0],
            Combination::GeometricMean,
            [3, 1, 3],
        );
        // Mean: (0.5, 0.283, 0.217) → class 0. Vote: class 1.
        assert_eq!(mean.accuracy, Some(1.0));
        assert_eq!(vote.accuracy, Some(0.0));
        assert!((mean.loss - (-(0.5f64).ln())).abs() < 1e-5);
        // Geometric: ∝ (0.3·0.3·0.9)^(1/3), (0.4·0.4·0.05)^(1/3), (0.3·0.3·0.05)^(1/3) → class 0.
        let g = [
            (0.3f64 * 0.3 * 0.9).cbrt(),
            (0.4f64 * 0.4 * 0.05).cbrt(),
            (0.3f64 * 0.3 * 0.05).cbrt(),
        ];
        let expected = -(g[0] / g.iter().sum::<f64>()).ln();
        assert!(
            (geo.loss - expected).abs() < 1e-5,
            "{} vs {expected}",
            geo.loss
        );
        assert_eq!(geo.accuracy, Some(1.0));
    }

    #[test]
    fn models_evaluated_each_on_its_own_score_as_their_stack_does() {
        use crate::data::{DeviceSplit, Inputs, Normalise, Samples, Standardisation};
        use crate::model::ModelSpec;

        let device = Device::flex();
        let spec = ModelSpec::from_json(
            r#"{"input":[2,4,4],"layers":[
                {"type":"conv2d","out":3,"kernel":3,"padding":1},{"type":"relu"},
                {"type":"flatten"},{"type":"linear","out":3}]}"#,
        )
        .unwrap();
        let models: Vec<Model> = (0..3)
            .map(|seed| Model::new(spec.clone(), &device, seed).unwrap())
            .collect();
        let n = 40;
        let samples = Samples {
            inputs: Inputs::F32((0..n * 32).map(|i| ((i * 37) % 23) as f32 / 23.0).collect()),
            targets: Targets::Classes((0..n).map(|i| (i % 3) as u32).collect()),
            coarse: None,
        };
        let norm = Standardisation::fit(&samples, &[2, 4, 4], Normalise::None);
        let split = DeviceSplit::upload(&samples, &[2, 4, 4], &norm, &device);
        let options = EvalOptions {
            batch_size: 16,
            per_sample_loss: true,
            probabilities: true,
            ..EvalOptions::default()
        };
        let stack = Model::stack(&models).unwrap();
        let stacked = evaluate(&stack, &split, LossKind::CrossEntropy, options.clone()).unwrap();
        let each = evaluate_each(&models, &split, LossKind::CrossEntropy, options).unwrap();
        for (a, b) in stacked.metrics.members.iter().zip(&each.metrics.members) {
            assert_eq!(a.accuracy, b.accuracy);
            assert!((a.loss - b.loss).abs() < 1e-5, "{} vs {}", a.loss, b.loss);
        }
        let (a, b) = (
            stacked.metrics.ensemble.unwrap(),
            each.metrics.ensemble.unwrap(),
        );
        assert_eq!(a.accuracy, b.accuracy);
        let (p, q) = (stacked.probabilities.unwrap(), each.probabilities.unwrap());
        assert_eq!(p.len(), q.len());
        assert!(p.iter().zip(&q).all(|(x, y)| (x - y).abs() < 1e-5));
        assert!(matches!(
            evaluate_each(&[], &split, LossKind::CrossEntropy, EvalOptions::default()),
            Err(EvaluateError::NoModels)
        ));
    }

    #[test]
    fn majority_breaks_ties_to_the_lowest_label() {
        assert_eq!(majority(&[2, 1], 2, 1, 3), [1]);
        assert_eq!(majority(&[2, 2, 0], 3, 1, 3), [2]);
    }
}
