//! Per-sample losses of a (possibly stacked) model's outputs.

use burn::tensor::Tensor;
use burn::tensor::activation::log_softmax;
pub use coevo_sdk::LossKind;

use crate::data::{DeviceTargets, Task};
use crate::model::TargetScale;

/// The usual loss for a task: cross-entropy for classes, squared error for values.
pub fn default_loss(task: Task) -> LossKind {
    match task {
        Task::Classification { .. } => LossKind::CrossEntropy,
        Task::Regression => LossKind::Mse,
    }
}

/// Whether `loss` fits the task.
pub fn loss_fits(loss: LossKind, task: Task) -> bool {
    matches!(
        (loss, task),
        (LossKind::CrossEntropy, Task::Classification { .. })
            | (LossKind::Mse | LossKind::Mae, Task::Regression)
    )
}

/// A loss asked of targets it does not fit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("loss `{loss:?}` does not fit {targets} targets")]
pub struct LossMismatch {
    /// The loss.
    pub loss: LossKind,
    /// What the targets are.
    pub targets: &'static str,
}

/// Losses `[M, B]` of outputs `[M, B, O]` against targets `[B]`.
///
/// Regression outputs are standardised values; targets are standardised with `scale` so that
/// the loss (and its gradient) does not depend on the units of the target.
pub fn per_sample(
    output: Tensor<3>,
    targets: &DeviceTargets,
    kind: LossKind,
    scale: Option<TargetScale>,
) -> Result<Tensor<2>, LossMismatch> {
    let [m, b, _] = output.dims();
    match (kind, targets) {
        (LossKind::CrossEntropy, DeviceTargets::Classes(labels)) => {
            let index = labels.clone().reshape([1, b, 1]).expand([m, b, 1]);
            Ok(log_softmax(output, 2)
                .gather(2, index)
                .reshape([m, b])
                .neg())
        }
        (LossKind::Mse | LossKind::Mae, DeviceTargets::Values(values)) => {
            let scale = scale.unwrap_or(TargetScale {
                mean: 0.0,
                std: 1.0,
            });
            let target = values
                .clone()
                .sub_scalar(scale.mean)
                .div_scalar(scale.std)
                .reshape([1, b]);
            let diff = output.reshape([m, b]) - target;
            Ok(if kind == LossKind::Mse {
                diff.clone() * diff
            } else {
                diff.abs()
            })
        }
        (loss, DeviceTargets::Classes(_)) => Err(LossMismatch {
            loss,
            targets: "class",
        }),
        (loss, DeviceTargets::Values(_)) => Err(LossMismatch {
            loss,
            targets: "real-valued",
        }),
    }
}

/// Standardisation of regression targets from their values.
pub fn target_scale(values: &[f32]) -> TargetScale {
    let n = values.len().max(1) as f64;
    let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let var = values
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / n;
    let std = if var > 1e-12 { var.sqrt() } else { 1.0 };
    TargetScale {
        mean: mean as f32,
        std: std as f32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensors::{to_f32, vector};
    use burn::tensor::{Device, Int, TensorData};

    #[test]
    fn cross_entropy_matches_a_hand_computation() {
        let device = Device::flex();
        // One member, two samples, three classes.
        let logits = [1.0f32, 2.0, 3.0, 0.0, 0.0, 0.0];
        let output = Tensor::<3>::from_data(TensorData::new(logits.to_vec(), [1, 2, 3]), &device);
        let labels = DeviceTargets::Classes(Tensor::<1, Int>::from_data(
            TensorData::new(vec![2i64, 0], [2]),
            &device,
        ));
        let loss: Vec<f32> =
            to_f32(per_sample(output, &labels, LossKind::CrossEntropy, None).unwrap());
        let lse = (1f32.exp() + 2f32.exp() + 3f32.exp()).ln();
        assert!((loss[0] - (lse - 3.0)).abs() < 1e-5);
        assert!((loss[1] - 3f32.ln()).abs() < 1e-5);
    }

    #[test]
    fn regression_losses_use_standardised_targets() {
        let device = Device::flex();
        let output =
            Tensor::<3>::from_data(TensorData::new(vec![1.0f32, -1.0], [1, 2, 1]), &device);
        let targets = DeviceTargets::Values(vector(vec![30.0, 10.0], &device));
        let scale = Some(TargetScale {
            mean: 20.0,
            std: 5.0,
        });
        let mae = to_f32(per_sample(output.clone(), &targets, LossKind::Mae, scale).unwrap());
        assert_eq!(mae, [1.0, 1.0]); // standardised targets are 2 and -2
        let mse = to_f32(per_sample(output.clone(), &targets, LossKind::Mse, scale).unwrap());
        assert_eq!(mse, [1.0, 1.0]);
        assert!(per_sample(output, &targets, LossKind::CrossEntropy, scale).is_err());
    }
}
