//! Training and evaluation: optimisers, schedules, losses, metrics and the training loop.

pub mod coupling;
pub mod defaults;
pub mod diagnostics;
pub mod elastic_net;
mod evaluate;
mod looped;
pub mod loss;
mod optimizer;
mod samples;
mod trainer;

pub use coevo_sdk::{Metrics, OptimizerConfig, Schedule, TrainSpec};
pub use evaluate::{
    EvalOptions, EvaluateError, Evaluation, batch_outputs, batch_sizes, eval_batch_size, evaluate,
    evaluate_each, evaluate_outputs,
};
pub use looped::LoopedTrainer;
pub use loss::{LossKind, LossMismatch, default_loss, loss_fits};
pub use optimizer::{Optimizer, OptimizerState};
pub use samples::SampleRecord;
pub use trainer::{EpochReport, Progress, TrainError, Trainer, TrainerState};
