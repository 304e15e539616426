//! Training and evaluation: optimisers, schedules, losses, metrics and the training loop.

mod evaluate;
mod fit;
pub mod loss;
mod metrics;
mod optimizer;
mod schedule;
mod trainer;

pub use evaluate::{EvalOptions, Evaluation, evaluate};
pub use fit::{EpochSummary, fit};
pub use loss::{LossKind, LossMismatch};
pub use metrics::Metrics;
pub use optimizer::{Optimizer, OptimizerConfig, OptimizerState};
pub use schedule::Schedule;
pub use trainer::{EpochReport, Progress, TrainConfig, TrainError, Trainer, TrainerState};
