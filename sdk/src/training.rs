//! What a training call asks of the host: optimiser, schedule, loss, augmentation, coupling.
//!
//! These types are the wire format of [`crate::ffi::HostTable::train`] (as JSON) and the
//! host's own configuration, so a plugin and the `coevo train` command mean the same thing by
//! the same words.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ffi::ModelId;
use crate::schema::Interval;

/// Optimiser and its hyper-parameters.
///
/// The bounds of each hyper-parameter are [`Interval`]s, read both by the derived schema and
/// by [`OptimizerConfig::validate`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum OptimizerConfig {
    /// Stochastic gradient descent with momentum and L2 weight decay (PyTorch's `SGD`).
    Sgd {
        /// Learning rate.
        #[schemars(transform = LR.in_schema())]
        lr: f64,
        /// Momentum (0 for none).
        #[serde(default)]
        #[schemars(transform = MOMENTUM.in_schema())]
        momentum: f64,
        /// L2 penalty added to the gradient.
        #[serde(default)]
        #[schemars(transform = WEIGHT_DECAY.in_schema())]
        weight_decay: f64,
        /// Nesterov momentum.
        #[serde(default)]
        nesterov: bool,
    },
    /// Adam with L2 weight decay added to the gradient (PyTorch's `Adam`).
    Adam {
        /// Learning rate.
        #[schemars(transform = LR.in_schema())]
        lr: f64,
        /// Decay of the first moment.
        #[serde(default = "beta1")]
        #[schemars(transform = MOMENTUM.in_schema())]
        beta1: f64,
        /// Decay of the second moment.
        #[serde(default = "beta2")]
        #[schemars(transform = MOMENTUM.in_schema())]
        beta2: f64,
        /// Added to the denominator.
        #[serde(default = "adam_eps")]
        #[schemars(transform = EPS.in_schema())]
        eps: f64,
        /// L2 penalty added to the gradient.
        #[serde(default)]
        #[schemars(transform = WEIGHT_DECAY.in_schema())]
        weight_decay: f64,
    },
}

/// A learning rate.
const LR: Interval = Interval::POSITIVE;
/// Momentum and Adam's moment decays: below one, so that old gradients are forgotten.
const MOMENTUM: Interval = Interval::FRACTION_BELOW_ONE;
/// An L2 penalty.
const WEIGHT_DECAY: Interval = Interval::NON_NEGATIVE;
/// Adam's ε, which keeps its denominator away from zero.
const EPS: Interval = Interval::POSITIVE;

fn beta1() -> f64 {
    0.9
}
fn beta2() -> f64 {
    0.999
}
fn adam_eps() -> f64 {
    1e-8
}

impl OptimizerConfig {
    /// The base learning rate.
    pub fn lr(&self) -> f64 {
        match *self {
            Self::Sgd { lr, .. } | Self::Adam { lr, .. } => lr,
        }
    }

    /// Checks the hyper-parameters against the bounds its schema states, for configs that
    /// reach the host without passing a schema; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        LR.check("optimizer.lr", self.lr())?;
        match *self {
            Self::Sgd {
                momentum,
                weight_decay,
                ..
            } => {
                MOMENTUM.check("optimizer.momentum", momentum)?;
                WEIGHT_DECAY.check("optimizer.weight_decay", weight_decay)
            }
            Self::Adam {
                beta1,
                beta2,
                eps,
                weight_decay,
                ..
            } => {
                MOMENTUM.check("optimizer.beta1", beta1)?;
                MOMENTUM.check("optimizer.beta2", beta2)?;
                EPS.check("optimizer.eps", eps)?;
                WEIGHT_DECAY.check("optimizer.weight_decay", weight_decay)
            }
        }
    }
}

/// How the learning rate changes over training.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Schedule {
    /// The base rate throughout.
    #[default]
    Constant,
    /// Multiplied by `gamma` every `every` epochs.
    Step {
        /// Epochs between decays.
        every: usize,
        /// Factor per decay.
        gamma: f64,
    },
    /// Cosine annealing from the base rate to `min_lr` over all steps of training.
    Cosine {
        /// The final rate.
        #[serde(default)]
        min_lr: f64,
    },
}

impl Schedule {
    /// The rate at `step` (counted from 0) of `total` steps, `steps_per_epoch` to an epoch.
    pub fn lr(&self, base: f64, step: u64, steps_per_epoch: u64, total: u64) -> f64 {
        match *self {
            Self::Constant => base,
            Self::Step { every, gamma } => {
                let epoch = step / steps_per_epoch.max(1);
                base * gamma.powi((epoch / every.max(1) as u64) as i32)
            }
            Self::Cosine { min_lr } => {
                let progress = step as f64 / total.max(1) as f64;
                min_lr + (base - min_lr) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
            }
        }
    }
}

/// The loss of the labels (or targets) each member minimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    /// Negative log-likelihood of the softmax (classification); equals KL(q‖p) for one-hot q.
    CrossEntropy,
    /// Squared error on standardised targets (regression).
    Mse,
    /// Absolute error on standardised targets (regression).
    Mae,
}

/// Image augmentation of training batches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Augment {
    /// Zero padding on each side before a random crop back to the original size (0: no crop).
    pub crop_padding: usize,
    /// Mirror left-right with probability one half.
    pub flip: bool,
}

impl Augment {
    /// Whether any augmentation is on.
    pub fn is_active(&self) -> bool {
        self.crop_padding > 0 || self.flip
    }

    /// The common CIFAR recipe: pad 4, crop, flip.
    pub fn cifar() -> Self {
        Self {
            crop_padding: 4,
            flip: true,
        }
    }
}

/// Knowledge distillation from a teacher model: `weight · T² · KL(p_teacher^T ‖ p^T)` is added
/// to each member's loss, with both distributions softened by the temperature `T`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Distillation {
    /// The teacher (not trained).
    pub teacher: ModelId,
    /// Weight of the distillation term.
    #[serde(default = "one")]
    pub weight: f64,
    /// Softening temperature.
    #[serde(default = "one")]
    pub temperature: f64,
}

fn one() -> f64 {
    1.0
}

/// Features lent by a partner model to a model's `join` layer (Co-DeepNet's transfer by
/// features): the partner's first `layers` layers run on each batch, in evaluation mode and
/// detached, and their flat output is appended where the join layer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FeatureSource {
    /// The partner (not trained by the call).
    pub model: ModelId,
    /// How many of its first layers make its trunk; they must end flat.
    pub layers: usize,
}

/// How to train: everything a training run needs besides the models and the data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TrainSpec {
    /// Passes over the training samples.
    pub epochs: usize,
    /// Samples per step.
    pub batch_size: usize,
    /// Optimiser and its hyper-parameters; `None`: the host's default for the task (SGD with
    /// momentum 0.9 and weight decay 5e-4, at a learning rate that suits the task).
    pub optimizer: Option<OptimizerConfig>,
    /// Start from fresh optimiser buffers instead of those the models' last training left.
    pub reset_optimizer: bool,
    /// Learning-rate schedule.
    pub schedule: Schedule,
    /// Epochs of the schedule that earlier calls ran: a schedule spread over several calls
    /// (one epoch each, say) continues where the last call left it instead of restarting.
    pub schedule_offset: usize,
    /// Epochs the whole schedule spans (`None`: `schedule_offset + epochs`, this call's end).
    pub schedule_epochs: Option<usize>,
    /// The loss; by default cross-entropy for classification and MSE for regression.
    pub loss: Option<LossKind>,
    /// Image augmentation.
    pub augment: Augment,
    /// Seed of batch order, augmentation and dropout.
    pub seed: u64,
    /// `β[i][j]`: member `i` also minimises `β_ij · KL(p_j ‖ p_i)` with `p_j` held fixed
    /// (Brazowski & Schneidman's co-learning); the diagonal is ignored. `None`: independent.
    pub coupling: Option<Vec<Vec<f64>>>,
    /// Distillation from a teacher model: for classes on its softened distribution, for
    /// regression on its predictions (a squared error between standardised outputs).
    pub distill: Option<Distillation>,
    /// The partner whose trunk feeds the models' join layer. Sent only when set, so that a
    /// host older than the field still reads the spec.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub features_from: Option<FeatureSource>,
}

impl TrainSpec {
    /// `(epochs of the schedule run before this call, epochs it spans)`, after checking that
    /// this call ends within the span.
    pub fn schedule_span(&self) -> Result<(usize, usize), String> {
        let end = self.schedule_offset + self.epochs;
        let span = self.schedule_epochs.unwrap_or(end);
        if end > span {
            return Err(format!(
                "schedule_epochs: the schedule spans {span} epochs but this call would end at epoch {end} (schedule_offset {} + epochs {})",
                self.schedule_offset, self.epochs
            ));
        }
        Ok((self.schedule_offset, span))
    }
}

impl Default for TrainSpec {
    fn default() -> Self {
        Self {
            epochs: 1,
            batch_size: 128,
            optimizer: None,
            reset_optimizer: false,
            schedule: Schedule::Constant,
            schedule_offset: 0,
            schedule_epochs: None,
            loss: None,
            augment: Augment::default(),
            seed: 0,
            coupling: None,
            distill: None,
            features_from: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_hit_their_landmarks() {
        assert_eq!(Schedule::Constant.lr(0.1, 99, 10, 100), 0.1);
        let step = Schedule::Step {
            every: 2,
            gamma: 0.5,
        };
        assert_eq!(step.lr(0.1, 19, 10, 100), 0.1);
        assert_eq!(step.lr(0.1, 20, 10, 100), 0.05);
        assert_eq!(step.lr(0.1, 45, 10, 100), 0.025);
        let cosine = Schedule::Cosine { min_lr: 0.0 };
        assert_eq!(cosine.lr(0.1, 0, 10, 100), 0.1);
        assert!((cosine.lr(0.1, 50, 10, 100) - 0.05).abs() < 1e-12);
        assert!(cosine.lr(0.1, 100, 10, 100).abs() < 1e-12);
    }

    #[test]
    fn a_schedule_spread_over_calls_must_end_within_its_span() {
        let spec = |offset, epochs, span| TrainSpec {
            epochs,
            schedule_offset: offset,
            schedule_epochs: span,
            ..TrainSpec::default()
        };
        assert_eq!(spec(0, 3, None).schedule_span(), Ok((0, 3)));
        assert_eq!(spec(4, 1, Some(10)).schedule_span(), Ok((4, 10)));
        let err = spec(9, 2, Some(10)).schedule_span().unwrap_err();
        assert!(
            err.contains("schedule_epochs") && err.contains("epoch 11"),
            "{err}"
        );
    }

    #[test]
    fn specs_read_from_sparse_json_and_refuse_unknown_fields() {
        let spec: TrainSpec =
            serde_json::from_str(r#"{"epochs": 3, "optimizer": {"type": "adam", "lr": 0.001}}"#)
                .unwrap();
        assert_eq!(spec.epochs, 3);
        assert_eq!(spec.batch_size, 128);
        assert!(
            matches!(spec.optimizer, Some(OptimizerConfig::Adam { beta2, .. }) if beta2 == 0.999)
        );
        let err = serde_json::from_str::<TrainSpec>(r#"{"epoch": 3}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `epoch`"));
        assert!(
            OptimizerConfig::Sgd {
                lr: -1.0,
                momentum: 0.0,
                weight_decay: 0.0,
                nesterov: false
            }
            .validate()
            .is_err()
        );
    }
}
