//! The training loop: batches by index on the device, one optimiser step each.

use burn::tensor::{Int, Tensor};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use super::coupling;
use super::defaults;
use super::loss::{self, LossKind, LossMismatch};
use super::optimizer::{Optimizer, OptimizerState};
use super::samples::SampleRecord;
use coevo_sdk::{OptimizerConfig, TrainSpec};

use crate::data::{DeviceSplit, DeviceTargets, Task, augment_batch};
use crate::model::{Mode, Model};
use crate::seed;
use crate::tensors::{to_f32, to_i64};

/// Why training stopped or could not start.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// A setting is out of range.
    #[error("training config, {field}: {reason}")]
    Config {
        /// The setting.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The loss does not fit the data.
    #[error(transparent)]
    Loss(#[from] LossMismatch),
    /// The loss became NaN or infinite; the model is left as it was at `last_good_step`.
    #[error(
        "loss became {value} at step {step} (epoch {epoch}, member {member}); the model was restored to step {last_good_step}"
    )]
    NonFinite {
        /// The first step whose loss was not finite (counted from 1).
        step: u64,
        /// Its epoch (counted from 1).
        epoch: usize,
        /// The member whose loss it was.
        member: usize,
        /// The value (NaN or ±inf).
        value: f32,
        /// The step the model was restored to.
        last_good_step: u64,
    },
}

/// Where training is, for progress displays.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Current epoch (from 1).
    pub epoch: usize,
    /// Steps done in this epoch.
    pub step_in_epoch: usize,
    /// Steps in this epoch.
    pub steps_in_epoch: usize,
    /// Mean loss of the last checked steps, over members.
    pub loss: Option<f64>,
}

/// What one epoch did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochReport {
    /// The epoch (from 1).
    pub epoch: usize,
    /// Steps taken.
    pub steps: usize,
    /// Samples back-propagated (a repeated index once per repeat; a dropped batch of one not).
    #[serde(default)]
    pub samples: usize,
    /// Mean training loss per member over the epoch's batches.
    pub train_loss: Vec<f64>,
    /// Learning rate at the epoch's last step.
    pub lr: f64,
}

/// A trainer's state between epochs, for checkpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainerState {
    /// Epochs completed.
    pub epoch: usize,
    /// Steps completed.
    pub step: u64,
    /// The optimiser's buffers.
    pub optimizer: OptimizerState,
}

/// Trains models epoch by epoch; holds the optimiser and the position in training.
#[derive(Debug, Clone)]
pub struct Trainer {
    config: TrainSpec,
    /// The config's optimiser, or the task's default when it names none.
    optimizer_config: OptimizerConfig,
    /// Epochs of the schedule before this call's first, and epochs it spans.
    schedule_span: (usize, usize),
    teacher: Option<Model>,
    loss: LossKind,
    optimizer: Optimizer,
    epoch: usize,
    step: u64,
    /// Keep each sample's loss and correctness from the training pass.
    record_samples: bool,
    /// What the last epoch recorded, when asked.
    record: Option<SampleRecord>,
}

/// One step's per-sample losses `[M, B]` and predicted classes `[M, B]` (classification),
/// still on the device.
type StepSamples = (Tensor<2>, Option<Tensor<2, Int>>);

/// Steps between reads of the loss from the device: reading syncs the device, so losses are
/// gathered there and checked for NaN a window at a time.
const CHECK_EVERY: usize = 16;

impl Trainer {
    /// A trainer for `task` data, after checking the config.
    pub fn new(config: TrainSpec, task: Task) -> Result<Self, TrainError> {
        let loss = config.loss.unwrap_or(loss::default_loss(task));
        if !loss::loss_fits(loss, task) {
            return Err(TrainError::Config {
                field: "loss",
                reason: format!("{loss:?} does not fit a {task:?} task"),
            });
        }
        if config.batch_size == 0 {
            return Err(TrainError::Config {
                field: "batch_size",
                reason: "must be at least 1".into(),
            });
        }
        let optimizer_config = config
            .optimizer
            .unwrap_or_else(|| defaults::optimizer(task));
        optimizer_config
            .validate()
            .map_err(|reason| TrainError::Config {
                field: "optimizer",
                reason,
            })?;
        let schedule_span = config
            .schedule_span()
            .map_err(|reason| TrainError::Config {
                field: "schedule_epochs",
                reason,
            })?;
        if config.coupling.is_some() && loss != LossKind::CrossEntropy {
            return Err(TrainError::Config {
                field: "coupling",
                reason: "coupling compares class distributions; it needs the cross-entropy loss"
                    .into(),
            });
        }
        Ok(Self {
            optimizer: Optimizer::new(optimizer_config),
            optimizer_config,
            schedule_span,
            teacher: None,
            loss,
            config,
            epoch: 0,
            step: 0,
            record_samples: false,
            record: None,
        })
    }

    /// Keep, from now on, each trained sample's loss and correctness of the training pass
    /// itself (in training mode, before the step's update), for [`Trainer::take_record`].
    pub fn record_samples(&mut self, on: bool) {
        self.record_samples = on;
    }

    /// What the last epoch recorded (see [`Trainer::record_samples`]).
    pub fn take_record(&mut self) -> Option<SampleRecord> {
        self.record.take()
    }

    /// The teacher that `distill` in the spec refers to; it is only evaluated, never trained.
    pub fn set_teacher(&mut self, teacher: Model) {
        self.teacher = Some(teacher);
    }

    /// A trainer continuing from `state`.
    pub fn restore(
        config: TrainSpec,
        task: Task,
        state: &TrainerState,
        device: &burn::tensor::Device,
    ) -> Result<Self, TrainError> {
        let mut trainer = Self::new(config, task)?;
        trainer.optimizer = Optimizer::restore(trainer.optimizer_config, &state.optimizer, device);
        trainer.epoch = state.epoch;
        trainer.step = state.step;
        Ok(trainer)
    }

    /// Optimiser steps in an epoch over `samples` at `batch_size`. A batch of one sample has
    /// no batch statistics and is dropped (so a batch size of one takes no step at all).
    pub fn steps_per_epoch(samples: usize, batch_size: usize) -> u64 {
        let full = if batch_size > 1 {
            samples / batch_size
        } else {
            0
        };
        let rest = samples.checked_rem(batch_size).unwrap_or(0);
        (full + usize::from(rest > 1)) as u64
    }

    /// The state to checkpoint.
    pub fn state(&self) -> TrainerState {
        TrainerState {
            epoch: self.epoch,
            step: self.step,
            optimizer: self.optimizer.state(),
        }
    }

    /// The config.
    pub fn config(&self) -> &TrainSpec {
        &self.config
    }

    /// The optimiser in use (the spec's, or the task's default).
    pub fn optimizer_config(&self) -> OptimizerConfig {
        self.optimizer_config
    }

    /// The loss in use.
    pub fn loss(&self) -> LossKind {
        self.loss
    }

    /// Epochs completed.
    pub fn epoch(&self) -> usize {
        self.epoch
    }

    /// Whether all configured epochs are done.
    pub fn finished(&self) -> bool {
        self.epoch >= self.config.epochs
    }

    /// One epoch over `data` (or over its samples `subset`).
    pub fn run_epoch(
        &mut self,
        model: &mut Model,
        data: &DeviceSplit,
        subset: Option<&[usize]>,
        on_progress: &mut dyn FnMut(Progress),
    ) -> Result<EpochReport, TrainError> {
        let epoch = self.epoch + 1;
        let samples: Vec<usize> =
            subset.map_or_else(|| (0..data.len()).collect(), <[usize]>::to_vec);
        // Positions, not indices, are shuffled (the same permutation either way), so that a
        // repeated index keeps a record of its own.
        let mut order: Vec<usize> = (0..samples.len()).collect();
        // Seeded by the step count, which only grows, so that every epoch of every training
        // call on these models sees its own order.
        order.shuffle(&mut seed::rng(self.config.seed, "batch-order", self.step));
        // A batch of one sample has no batch statistics; it is dropped.
        let batches: Vec<&[usize]> = order
            .chunks(self.config.batch_size)
            .filter(|b| b.len() > 1)
            .collect();
        let steps_per_epoch = batches.len() as u64;
        debug_assert_eq!(
            steps_per_epoch,
            Self::steps_per_epoch(order.len(), self.config.batch_size)
        );
        let (offset, span) = self.schedule_span;
        let total = steps_per_epoch * span as u64;
        let members = model.members();
        let mut sums = vec![0f64; members];
        let mut window: Vec<Tensor<1>> = Vec::with_capacity(CHECK_EVERY);
        let classification = matches!(data.targets, DeviceTargets::Classes(_));
        let mut record = self
            .record_samples
            .then(|| SampleRecord::unseen(members, samples.len(), classification));
        let mut recorded: Vec<(&[usize], StepSamples)> = Vec::new();
        let mut last_good = (model.clone(), self.optimizer.clone(), self.step);
        let base_lr = self.optimizer_config.lr();
        let mut lr = base_lr;
        for (i, batch) in batches.iter().enumerate() {
            // The schedule spans the epochs the spec says, however many optimiser steps came
            // before them: a new call restarts it unless the spec continues it.
            let progress = (offset + self.epoch) as u64 * steps_per_epoch + i as u64;
            lr = self
                .config
                .schedule
                .lr(base_lr, progress, steps_per_epoch, total);
            let indices: Vec<usize> = batch.iter().map(|&p| samples[p]).collect();
            let (per_member, per_sample) =
                self.step(model, data, &indices, lr, record.is_some())?;
            window.push(per_member);
            if let Some(per_sample) = per_sample {
                recorded.push((batch, per_sample));
            }
            let last = i + 1 == batches.len();
            if window.len() == CHECK_EVERY || last {
                let losses = read_window(std::mem::take(&mut window));
                if let Some((offset, member, value)) = first_non_finite(&losses, members) {
                    let (good_model, good_optimizer, good_step) = last_good;
                    let steps_checked = (losses.len() / members) as u64;
                    let step = self.step - steps_checked + offset as u64 + 1;
                    *model = good_model;
                    self.optimizer = good_optimizer;
                    self.step = good_step;
                    return Err(TrainError::NonFinite {
                        step,
                        epoch,
                        member,
                        value,
                        last_good_step: good_step,
                    });
                }
                for (k, value) in losses.iter().enumerate() {
                    sums[k % members] += f64::from(*value);
                }
                if let Some(record) = record.as_mut() {
                    for (positions, (loss, predicted)) in recorded.drain(..) {
                        let indices: Vec<usize> = positions.iter().map(|&p| samples[p]).collect();
                        let predicted: Option<Vec<u32>> = predicted.map(|p| {
                            to_i64(p.reshape([-1]))
                                .into_iter()
                                .map(|c| c as u32)
                                .collect()
                        });
                        record.write(
                            positions,
                            &to_f32(loss.reshape([-1])),
                            predicted.as_deref(),
                            &data.host_targets.gather(&indices),
                        );
                    }
                }
                last_good = (model.clone(), self.optimizer.clone(), self.step);
                let recent =
                    losses.iter().map(|&v| f64::from(v)).sum::<f64>() / losses.len().max(1) as f64;
                on_progress(Progress {
                    epoch,
                    step_in_epoch: i + 1,
                    steps_in_epoch: batches.len(),
                    loss: Some(recent),
                });
            }
        }
        self.epoch = epoch;
        self.record = record;
        let steps = batches.len();
        Ok(EpochReport {
            epoch,
            steps,
            samples: batches.iter().map(|b| b.len()).sum(),
            train_loss: sums.iter().map(|s| s / steps.max(1) as f64).collect(),
            lr,
        })
    }

    /// One optimiser step on the samples `batch` of `data` at learning rate `lr`; returns the
    /// per-member mean loss `[M]`, still on the device (reading it would wait for the device).
    pub fn train_step(
        &mut self,
        model: &mut Model,
        data: &DeviceSplit,
        batch: &[usize],
        lr: f64,
    ) -> Result<Tensor<1>, TrainError> {
        Ok(self.step(model, data, batch, lr, false)?.0)
    }

    /// [`Trainer::train_step`], also returning the batch's per-sample losses and predicted
    /// classes when `record` is set.
    fn step(
        &mut self,
        model: &mut Model,
        data: &DeviceSplit,
        batch: &[usize],
        lr: f64,
        record: bool,
    ) -> Result<(Tensor<1>, Option<StepSamples>), TrainError> {
        let (x, y) = data.batch(batch);
        let mut rng = seed::rng(self.config.seed, "augment", self.step);
        let x = augment_batch(&self.config.augment, x, &data.sample_shape, &mut rng);
        // Dropout draws from the device's generator, reseeded per step so that a resumed run
        // draws the same masks; held until the step ends.
        let _generator = seed::device_generator();
        model
            .device()
            .seed(seed::derive(self.config.seed, "dropout", self.step));
        let tracked: Vec<Tensor<1>> = model
            .params()
            .iter()
            .map(|p| p.clone().autodiff().require_grad())
            .collect();
        let effective: Vec<Tensor<1>> = tracked
            .iter()
            .zip(model.masks())
            .map(|(p, mask)| match mask {
                Some(mask) => p.clone() * mask.clone(),
                None => p.clone(),
            })
            .collect();
        let teacher_output = match (&self.config.distill, &self.teacher) {
            (Some(_), Some(teacher)) => Some(teacher.predict(x.clone())),
            (Some(_), None) => {
                return Err(TrainError::Config {
                    field: "distill",
                    reason: "no teacher model was given".into(),
                });
            }
            _ => None,
        };
        let forward = model.forward_with(&effective, x, Mode::Train);
        let mut per_sample = loss::per_sample(
            forward.output.clone(),
            &y,
            self.loss,
            model.spec().target_scale,
        )?;
        let samples = record.then(|| {
            let predicted = matches!(y, DeviceTargets::Classes(_)).then(|| {
                let [m, b, _] = forward.output.dims();
                forward
                    .output
                    .clone()
                    .detach()
                    .without_autodiff()
                    .argmax(2)
                    .reshape([m, b])
            });
            (per_sample.clone().detach().without_autodiff(), predicted)
        });
        if let Some(beta) = &self.config.coupling {
            let m = model.members();
            if beta.len() != m || beta.iter().any(|row| row.len() != m) {
                return Err(TrainError::Config {
                    field: "coupling",
                    reason: format!("β must be {m}×{m} for {m} members"),
                });
            }
            per_sample = per_sample + coupling::coupling_loss(forward.output.clone(), beta);
        }
        if let (Some(distill), Some(teacher_output), Some(teacher)) =
            (&self.config.distill, teacher_output, &self.teacher)
        {
            let term = match self.loss {
                LossKind::CrossEntropy => {
                    coupling::distillation_loss(forward.output, teacher_output, distill.temperature)
                }
                LossKind::Mse | LossKind::Mae => coupling::regression_distillation_loss(
                    forward.output,
                    teacher_output,
                    [teacher.spec().target_scale, model.spec().target_scale],
                ),
            };
            per_sample = per_sample + term.mul_scalar(distill.weight);
        }
        let per_member = per_sample.mean_dim(1).reshape([model.members()]);
        let grads = per_member.clone().sum().backward();
        let grads: Vec<Tensor<1>> = tracked
            .iter()
            .zip(model.params())
            .map(|(t, p)| t.grad(&grads).unwrap_or_else(|| p.zeros_like()))
            .collect();
        let updated = self.optimizer.update(model.params(), grads, lr);
        model.set_params(updated);
        model.update_buffers(forward.buffers);
        self.step += 1;
        Ok((per_member.detach().without_autodiff(), samples))
    }
}

fn read_window(window: Vec<Tensor<1>>) -> Vec<f32> {
    to_f32(Tensor::cat(window, 0))
}

/// The first non-finite loss: (step offset in the window, member, value).
fn first_non_finite(losses: &[f32], members: usize) -> Option<(usize, usize, f32)> {
    losses
        .iter()
        .position(|v| !v.is_finite())
        .map(|k| (k / members, k % members, losses[k]))
}
