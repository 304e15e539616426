//! The training defaults every caller gets: the script API, the plugin table and `coevo train`
//! resolve an unset optimiser here, so one task never trains differently by the way it came in.

use coevo_sdk::{OptimizerConfig, Task};

/// SGD's default learning rate for a task. On the methylation ages (targets standardised),
/// `cnn1d` diverged within the first epoch at 0.05 and 0.02; at 0.003 its loss jumped to 25–38
/// in the first epoch before it settled, and the result varied with the seed and the backend;
/// at 0.001 the jump stayed under 6 and five epochs reached R² 0.63–0.83 on flex and LibTorch.
/// Classification keeps 0.05, at which LeNet-5 reaches 85 % on Fashion-MNIST in two epochs.
pub fn sgd_lr(task: Task) -> f64 {
    match task {
        Task::Classification { .. } => 0.05,
        Task::Regression => 0.001,
    }
}

/// Adam's default learning rate, the one its paper and PyTorch use.
pub const ADAM_LR: f64 = 1e-3;

/// SGD's default momentum.
pub const MOMENTUM: f64 = 0.9;

/// The default L2 weight decay.
pub const WEIGHT_DECAY: f64 = 5e-4;

/// The optimiser of a training call that names none.
pub fn optimizer(task: Task) -> OptimizerConfig {
    OptimizerConfig::Sgd {
        lr: sgd_lr(task),
        momentum: MOMENTUM,
        weight_decay: WEIGHT_DECAY,
        nesterov: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regression_trains_more_gently_than_classification() {
        let classes = Task::Classification { classes: 10 };
        assert!(optimizer(Task::Regression).lr() < optimizer(classes).lr());
        assert_eq!(optimizer(Task::Regression).lr(), 0.001);
    }
}
