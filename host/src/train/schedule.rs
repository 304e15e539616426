//! Learning-rate schedules: strategies that return the rate for a point in training.

use serde::{Deserialize, Serialize};

/// How the learning rate changes over training.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
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
}
