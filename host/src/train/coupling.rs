//! The coupling and distillation terms of a member's loss.
//!
//! Co-learning (Brazowski & Schneidman, "Collective Learning by Ensembles of Altruistic
//! Diversifying Neural Networks", eq. 1): member `i` minimises
//! `KL(q‖p_i) + Σ_{j≠i} β_ij KL(p_j‖p_i)`. The other members' predictions `p_j` are targets:
//! they are detached, so the gradient of member `i`'s loss reaches only member `i`'s
//! parameters, and with respect to `i`'s logits `z_i` it is `Σ_j β_ij (p_i − p_j)`.
//! A positive `β` pulls the members together, a negative one pushes them apart.
//!
//! With `β < 0` the term rewards member `i` for putting zero probability where another member
//! puts some, and `−log p_i` grows without bound: left alone, a strongly repelled member drives a
//! log-probability to −∞ and the loss to NaN. Member `i`'s log-probabilities are therefore
//! floored at [`LOG_PROB_FLOOR`] inside the coupling term (not in the label term): below it the
//! term is constant and sends no gradient, so repulsion stops at probability `e^FLOOR ≈ 1e-6`.

use burn::tensor::Tensor;
use burn::tensor::activation::log_softmax;

use crate::model::TargetScale;
use crate::tensors::vector;

/// The smallest log-probability the coupling term sees (`ln 1e-6`).
pub const LOG_PROB_FLOOR: f64 = -13.815_510_557_964_274;

/// `Σ_j β_ij KL(p_j‖p_i)` per member and sample: `[M, B]` from logits `[M, B, K]` and the
/// coupling matrix `beta` (`M × M`, row `i` for member `i`; the diagonal is ignored).
pub fn coupling_loss(output: Tensor<3>, beta: &[Vec<f64>]) -> Tensor<2> {
    let [m, b, _] = output.dims();
    let device = output.device();
    let log_p = log_softmax(output, 2);
    let log_target = log_p.clone().detach();
    let target = log_target.clone().exp();
    let log_p = log_p.clamp_min(LOG_PROB_FLOOR);
    // cross[b, i, j] = Σ_k p_j log p_i; minus_entropy[b, j] = Σ_k p_j log p_j.
    let cross = log_p
        .swap_dims(0, 1)
        .matmul(target.clone().swap_dims(0, 1).swap_dims(1, 2));
    let minus_entropy = (target * log_target)
        .sum_dim(2)
        .reshape([m, b])
        .swap_dims(0, 1)
        .reshape([b, 1, m]);
    let kl = minus_entropy - cross; // [B, M, M]: KL(p_j ‖ p_i) at [b, i, j]
    let weights: Vec<f32> = (0..m)
        .flat_map(|i| (0..m).map(move |j| (i, j)))
        .map(|(i, j)| if i == j { 0.0 } else { beta[i][j] as f32 })
        .collect();
    let beta = vector(weights, &device).reshape([1, m, m]);
    (kl * beta).sum_dim(2).reshape([b, m]).swap_dims(0, 1)
}

/// `T² · KL(p_teacher^T ‖ p^T)` per member and sample, both distributions softened by the
/// temperature `T` (Hinton et al.'s scaling keeps gradients comparable across `T`).
pub fn distillation_loss(output: Tensor<3>, teacher: Tensor<3>, temperature: f64) -> Tensor<2> {
    let [m, b, _] = output.dims();
    let log_p = log_softmax(output.div_scalar(temperature), 2);
    let log_t = log_softmax(teacher.div_scalar(temperature), 2).detach();
    let t = log_t.clone().exp();
    // The teacher's [1, B, K] broadcasts over the members.
    let kl = (t * (log_t - log_p)).sum_dim(2).reshape([m, b]);
    kl.mul_scalar(temperature * temperature)
}

/// Distillation for regression: the squared difference per member and sample between the
/// student's standardised output and the teacher's prediction, taken to target units with the
/// teacher's scale and back with the student's (`scales`: teacher, student), so that models
/// whose heads were scaled differently still agree on what a target is.
pub fn regression_distillation_loss(
    output: Tensor<3>,
    teacher: Tensor<3>,
    scales: [Option<TargetScale>; 2],
) -> Tensor<2> {
    let [m, b, _] = output.dims();
    let unit = TargetScale {
        mean: 0.0,
        std: 1.0,
    };
    let [t, s] = scales.map(|scale| scale.unwrap_or(unit));
    let target = teacher
        .detach()
        .reshape([1, b])
        .mul_scalar(t.std)
        .add_scalar(t.mean - s.mean)
        .div_scalar(s.std);
    let diff = output.reshape([m, b]) - target;
    diff.clone() * diff
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, TensorData};

    use super::*;
    use crate::tensors::to_f32;

    fn softmax(z: &[f64]) -> Vec<f64> {
        let e: Vec<f64> = z.iter().map(|v| v.exp()).collect();
        let s: f64 = e.iter().sum();
        e.iter().map(|v| v / s).collect()
    }

    fn kl(p: &[f64], q: &[f64]) -> f64 {
        p.iter().zip(q).map(|(a, b)| a * (a / b).ln()).sum()
    }

    #[test]
    fn coupling_matches_a_hand_computed_loss_and_gradient() {
        let device = Device::flex();
        // Three members, one sample, three classes.
        let z = [[0.2, -1.0, 0.5], [1.5, 0.0, -0.3], [-0.7, 0.4, 0.1]];
        let beta = vec![
            vec![0.0, -0.5, 0.25],
            vec![0.3, 0.0, -1.0],
            vec![2.0, 0.1, 0.0],
        ];
        let flat: Vec<f32> = z.iter().flatten().map(|&v| v as f32).collect();
        let logits =
            Tensor::<3>::from_data(TensorData::new(flat, [3, 1, 3]), &device.clone().autodiff())
                .require_grad();
        let loss = coupling_loss(logits.clone(), &beta);
        let values = to_f32(loss.clone().without_autodiff());
        let grads = loss.sum().backward();
        let grad = to_f32(logits.grad(&grads).unwrap());

        let p: Vec<Vec<f64>> = z.iter().map(|zi| softmax(zi)).collect();
        for i in 0..3 {
            let expected: f64 = (0..3)
                .filter(|&j| j != i)
                .map(|j| beta[i][j] * kl(&p[j], &p[i]))
                .sum();
            assert!(
                (f64::from(values[i]) - expected).abs() < 1e-5,
                "loss of member {i}"
            );
            for c in 0..3 {
                // d/dz_ic Σ_j β_ij KL(p_j‖p_i) = Σ_j β_ij (p_ic − p_jc), with p_j held fixed.
                let expected: f64 = (0..3)
                    .filter(|&j| j != i)
                    .map(|j| beta[i][j] * (p[i][c] - p[j][c]))
                    .sum();
                assert!(
                    (f64::from(grad[i * 3 + c]) - expected).abs() < 1e-5,
                    "gradient of member {i}, class {c}"
                );
            }
        }
    }

    #[test]
    fn a_members_whole_loss_has_the_gradient_the_plugin_documents() {
        use crate::data::DeviceTargets;
        use crate::train::loss::{LossKind, per_sample};
        let device = Device::flex();
        // Two members, one sample of label 1, three classes: L_i = CE_i + Σ_j β_ij KL(p_j‖p_i).
        let z = [[0.3, -0.2, 0.9], [-1.1, 0.4, 0.2]];
        let beta = vec![vec![0.0, -0.7], vec![0.4, 0.0]];
        let flat: Vec<f32> = z.iter().flatten().map(|&v| v as f32).collect();
        let logits =
            Tensor::<3>::from_data(TensorData::new(flat, [2, 1, 3]), &device.clone().autodiff())
                .require_grad();
        let labels = DeviceTargets::Classes(crate::tensors::int_vector(
            vec![1],
            &device.clone().autodiff(),
        ));
        let ce = per_sample(logits.clone(), &labels, LossKind::CrossEntropy, None).unwrap();
        let loss = ce + coupling_loss(logits.clone(), &beta);
        let grads = loss.sum().backward();
        let grad = to_f32(logits.grad(&grads).unwrap());
        let p: Vec<Vec<f64>> = z.iter().map(|zi| softmax(zi)).collect();
        for i in 0..2 {
            let j = 1 - i;
            for c in 0..3 {
                // (p_i − q) + β_ij (p_i − p_j), q one-hot on the label.
                let q = if c == 1 { 1.0 } else { 0.0 };
                let expected = (p[i][c] - q) + beta[i][j] * (p[i][c] - p[j][c]);
                let got = f64::from(grad[i * 3 + c]);
                assert!(
                    (got - expected).abs() < 1e-5,
                    "member {i} class {c}: {got} vs {expected}"
                );
            }
        }
    }

    #[test]
    fn repulsion_stops_at_the_log_probability_floor() {
        let device = Device::flex();
        // Member 0 puts ~e^-40 on class 2, where member 1 puts most of its mass; β < 0 would
        // push that probability further down without end.
        let (z0, z1) = ([0.5, 0.0, -40.0], [0.0, 0.0, 3.0]);
        let flat: Vec<f32> = z0.iter().chain(&z1).map(|&v| v as f32).collect();
        let logits =
            Tensor::<3>::from_data(TensorData::new(flat, [2, 1, 3]), &device.clone().autodiff())
                .require_grad();
        let beta = vec![vec![0.0, -1.0], vec![-1.0, 0.0]];
        let loss = coupling_loss(logits.clone(), &beta);
        let values = to_f32(loss.clone().without_autodiff());
        let grads = loss.sum().backward();
        let grad = to_f32(logits.grad(&grads).unwrap());

        let (p0, p1) = (softmax(&z0), softmax(&z1));
        // Member 0's loss: β Σ_k p1_k (ln p1_k − max(ln p0_k, FLOOR)).
        let floored: Vec<f64> = p0.iter().map(|p| p.ln().max(LOG_PROB_FLOOR)).collect();
        let expected: f64 = -(0..3)
            .map(|k| p1[k] * (p1[k].ln() - floored[k]))
            .sum::<f64>();
        assert!((f64::from(values[0]) - expected).abs() < 1e-4, "{values:?}");
        // Its gradient: the floored class drops out of the sum, so with S = p1_0 + p1_1,
        // ∂/∂z_c = −β (p1_c − p0_c S) for c < 2, and ≈ 0 for the floored class (instead of
        // β (p0_2 − p1_2) ≈ 0.9 without the floor).
        let s = p1[0] + p1[1];
        for c in 0..2 {
            let expected = p1[c] - p0[c] * s;
            assert!((f64::from(grad[c]) - expected).abs() < 1e-5, "{grad:?}");
        }
        assert!(f64::from(grad[2]).abs() < 1e-6, "{grad:?}");
    }

    #[test]
    fn regression_distillation_compares_predictions_in_target_units() {
        let device = Device::flex();
        let student =
            Tensor::<3>::from_data(TensorData::new(vec![2.0f32, -2.0], [1, 2, 1]), &device);
        // The teacher predicts 30 and 10 years (standardised with mean 20, std 10). The
        // student, scaled with mean 10 and std 10, predicts 30 and −10: it agrees on the first
        // and is 20 years, two of its standard deviations, off the second.
        let teacher =
            Tensor::<3>::from_data(TensorData::new(vec![1.0f32, -1.0], [1, 2, 1]), &device);
        let scale = |mean, std| Some(TargetScale { mean, std });
        let loss = to_f32(regression_distillation_loss(
            student,
            teacher,
            [scale(20.0, 10.0), scale(10.0, 10.0)],
        ));
        assert_eq!(loss, vec![0.0, 4.0]);
    }

    #[test]
    fn distillation_is_zero_when_student_matches_teacher() {
        let device = Device::flex();
        let z = Tensor::<3>::from_data(
            TensorData::new(vec![0.3f32, -0.2, 1.0, 0.0], [2, 1, 2]),
            &device,
        );
        let teacher = z.clone().narrow(0, 0, 1);
        let loss = to_f32(distillation_loss(z, teacher, 2.0));
        assert!(loss[0].abs() < 1e-6);
        // Member 1 differs from the teacher: T²·KL(softmax([0.15,-0.1]) ‖ softmax([0.5, 0])).
        let (t, s) = (softmax(&[0.15, -0.1]), softmax(&[0.5, 0.0]));
        assert!((f64::from(loss[1]) - 4.0 * kl(&t, &s)).abs() < 1e-5);
    }
}
