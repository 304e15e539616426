//! SGD and Adam over a model's flat parameter tensors, with PyTorch's update rules.
//!
//! coevo keeps its own optimisers rather than burn's because their state must be plain,
//! serialisable data (a run resumes from a checkpoint bit for bit) and must follow the
//! parameters when members are stacked, blended or masked.

use burn::tensor::{Device, Tensor};

use crate::tensors::{to_f32, vector};
use coevo_sdk::OptimizerConfig;
use serde::{Deserialize, Serialize};

/// An optimiser's state as host values, for checkpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptimizerState {
    /// Updates taken.
    pub step: u64,
    /// Per-parameter buffers: `slots[k][p]` is buffer `k` (momentum; Adam's m, v) of parameter `p`.
    pub slots: Vec<Vec<Vec<f32>>>,
}

/// An optimiser with its state on the device.
#[derive(Debug, Clone)]
pub struct Optimizer {
    config: OptimizerConfig,
    step: u64,
    /// Empty until the first update, then one tensor per parameter per slot.
    slots: Vec<Vec<Tensor<1>>>,
}

impl Optimizer {
    /// A fresh optimiser.
    pub fn new(config: OptimizerConfig) -> Self {
        Self {
            config,
            step: 0,
            slots: Vec::new(),
        }
    }

    /// Its hyper-parameters.
    pub fn config(&self) -> &OptimizerConfig {
        &self.config
    }

    /// Updates taken so far.
    pub fn steps(&self) -> u64 {
        self.step
    }

    /// New parameters from `params`, their gradients and the learning rate of this step.
    pub fn update(
        &mut self,
        params: &[Tensor<1>],
        grads: Vec<Tensor<1>>,
        lr: f64,
    ) -> Vec<Tensor<1>> {
        self.step += 1;
        match self.config {
            OptimizerConfig::Sgd {
                momentum,
                weight_decay,
                nesterov,
                ..
            } => self.sgd(params, grads, lr, momentum, weight_decay, nesterov),
            OptimizerConfig::Adam {
                beta1,
                beta2,
                eps,
                weight_decay,
                ..
            } => self.adam(params, grads, lr, [beta1, beta2], eps, weight_decay),
        }
    }

    fn sgd(
        &mut self,
        params: &[Tensor<1>],
        grads: Vec<Tensor<1>>,
        lr: f64,
        momentum: f64,
        decay: f64,
        nesterov: bool,
    ) -> Vec<Tensor<1>> {
        let first = self.slots.is_empty();
        if first && momentum > 0.0 {
            self.slots.push(Vec::with_capacity(params.len()));
        }
        let mut out = Vec::with_capacity(params.len());
        for (i, (p, g)) in params.iter().zip(grads).enumerate() {
            let g = if decay > 0.0 {
                g + p.clone().mul_scalar(decay)
            } else {
                g
            };
            let direction = if momentum > 0.0 {
                // PyTorch starts the momentum buffer at the first gradient, not at zero.
                let buf = if first {
                    g.clone()
                } else {
                    self.slots[0][i].clone().mul_scalar(momentum) + g.clone()
                };
                if first {
                    self.slots[0].push(buf.clone())
                } else {
                    self.slots[0][i] = buf.clone()
                }
                if nesterov {
                    g + buf.mul_scalar(momentum)
                } else {
                    buf
                }
            } else {
                g
            };
            out.push(p.clone() - direction.mul_scalar(lr));
        }
        out
    }

    fn adam(
        &mut self,
        params: &[Tensor<1>],
        grads: Vec<Tensor<1>>,
        lr: f64,
        [b1, b2]: [f64; 2],
        eps: f64,
        decay: f64,
    ) -> Vec<Tensor<1>> {
        if self.slots.is_empty() {
            self.slots = vec![params.iter().map(Tensor::zeros_like).collect(); 2];
        }
        let t = self.step as i32;
        let (c1, c2) = (1.0 - b1.powi(t), 1.0 - b2.powi(t));
        let mut out = Vec::with_capacity(params.len());
        for (i, (p, g)) in params.iter().zip(grads).enumerate() {
            let g = if decay > 0.0 {
                g + p.clone().mul_scalar(decay)
            } else {
                g
            };
            let m = self.slots[0][i].clone().mul_scalar(b1) + g.clone().mul_scalar(1.0 - b1);
            let v = self.slots[1][i].clone().mul_scalar(b2) + (g.clone() * g).mul_scalar(1.0 - b2);
            let denom = v.clone().div_scalar(c2).sqrt().add_scalar(eps);
            out.push(p.clone() - m.clone().div_scalar(c1).div(denom).mul_scalar(lr));
            self.slots[0][i] = m;
            self.slots[1][i] = v;
        }
        out
    }

    /// The state as host values.
    pub fn state(&self) -> OptimizerState {
        let read = |t: &Tensor<1>| to_f32(t.clone());
        OptimizerState {
            step: self.step,
            slots: self
                .slots
                .iter()
                .map(|slot| slot.iter().map(read).collect())
                .collect(),
        }
    }

    /// Buffers per parameter that `config` keeps: momentum for SGD, m and v for Adam.
    fn buffers(config: &OptimizerConfig) -> usize {
        match *config {
            OptimizerConfig::Sgd { momentum, .. } => usize::from(momentum > 0.0),
            OptimizerConfig::Adam { .. } => 2,
        }
    }

    /// An optimiser continuing from `state` on `device`. A state kept by another kind of
    /// optimiser (SGD's momentum for Adam, say) means nothing to this one, which starts fresh.
    pub fn restore(config: OptimizerConfig, state: &OptimizerState, device: &Device) -> Self {
        if !state.slots.is_empty() && state.slots.len() != Self::buffers(&config) {
            return Self::new(config);
        }
        let upload = |v: &Vec<f32>| vector(v.clone(), device);
        Self {
            config,
            step: state.step,
            slots: state
                .slots
                .iter()
                .map(|slot| slot.iter().map(upload).collect())
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensors::vector;

    fn values(t: &Tensor<1>) -> Vec<f32> {
        to_f32(t.clone())
    }

    #[test]
    fn sgd_with_momentum_follows_pytorch() {
        let device = Device::flex();
        let config = OptimizerConfig::Sgd {
            lr: 0.1,
            momentum: 0.9,
            weight_decay: 0.0,
            nesterov: false,
        };
        let mut opt = Optimizer::new(config);
        let p = vec![vector(vec![1.0], &device)];
        // Gradient 1 twice: buffers 1 then 1.9; parameters 0.9 then 0.71.
        let p = opt.update(&p, vec![vector(vec![1.0], &device)], 0.1);
        assert!((values(&p[0])[0] - 0.9).abs() < 1e-6);
        let p = opt.update(&p, vec![vector(vec![1.0], &device)], 0.1);
        assert!((values(&p[0])[0] - 0.71).abs() < 1e-6);
    }

    #[test]
    fn adam_first_step_moves_by_the_learning_rate() {
        let device = Device::flex();
        let mut opt = Optimizer::new(OptimizerConfig::Adam {
            lr: 0.01,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        });
        let p = opt.update(
            &[vector(vec![0.5, 0.5], &device)],
            vec![vector(vec![3.0, -0.2], &device)],
            0.01,
        );
        let v = values(&p[0]);
        assert!(
            (v[0] - 0.49).abs() < 1e-6 && (v[1] - 0.51).abs() < 1e-6,
            "{v:?}"
        );
    }

    #[test]
    fn state_round_trips() {
        let device = Device::flex();
        let config =
            crate::train::defaults::optimizer(coevo_sdk::Task::Classification { classes: 10 });
        let mut opt = Optimizer::new(config);
        let p = opt.update(
            &[vector(vec![1.0, 2.0], &device)],
            vec![vector(vec![0.5, 0.25], &device)],
            0.1,
        );
        let mut resumed = Optimizer::restore(config, &opt.state(), &device);
        let g = || vec![vector(vec![0.1, 0.2], &device)];
        assert_eq!(
            values(&opt.update(&p, g(), 0.1)[0]),
            values(&resumed.update(&p, g(), 0.1)[0])
        );
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
