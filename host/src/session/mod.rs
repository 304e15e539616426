//! The session: the live state of a run and every service on it, written once.
//!
//! A run's models, their optimiser states, its data, hooks, metrics and cancellation live in
//! one [`Session`]. Each capability (create, clone, free, blend, align, train, evaluate, save,
//! load) is one method here; the plugin table (`crate::plugin`), the script API
//! (`crate::experiment::api`) and `coevo train` only parse their arguments and call it. That
//! is the point of the layer: two copies of a training loop drift apart in how they count
//! steps, which defaults they apply and whether they honour a subset, so there is one.
//!
//! State has one owner that frees it: an optimiser state belongs to the model or stacked group
//! it trains and is dropped with it ([`OptimizerStates`]), so a checkpoint writes only what is
//! live and a run that makes and frees thousands of models costs what its live ones cost.

mod elastic_net;
mod error;
mod evaluation;
mod fit;
mod hooks;
mod models;
mod optimizers;
mod state;
mod train_each;
mod training;

pub use elastic_net::ElasticNetReport;
pub use error::ServiceError;
pub use evaluation::{FinalReport, Reported};
pub use fit::EpochSummary;
pub use hooks::{Hooks, NoHooks};
pub use optimizers::OptimizerStates;
pub use state::{MetricRecord, Session};
pub use training::{Continue, TrainingRun};

#[cfg(test)]
mod tests;
