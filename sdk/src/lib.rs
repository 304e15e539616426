//! The coevo plugin SDK: a small, stable C ABI and a safe Rust layer over it.
//!
//! A key design decision: algorithms are dynamic libraries that talk to the host through a
//! versioned C ABI ([`ffi`], from which `include/coevo.h` is generated), not through Rust
//! types. Rust has no stable ABI, and unloading Rust libraries is unsound in general, so the
//! contract is flat C tables that only grow by appending (each side reads the other's through
//! [`prefix`], so a table of an older version simply lacks the newer functions), JSON for
//! structured values, pointer and length for bulk numbers, and a rule that each side frees
//! what it allocated. burn never crosses: models stay in the host and plugins refer to them
//! by id. The host never unloads a library.
//!
//! Plugin authors implement [`Algorithm`] (or [`search::Search`] for ask/tell searches, whose
//! bookkeeping the SDK does) and export it with [`export_plugin!`]. [`testing::MockHost`] runs
//! a plugin without the host. See `sdk/README.md` and `plugins/random-search`.

pub mod algorithm;
pub mod client;
#[doc(hidden)]
pub mod export;
pub mod ffi;
pub mod fixture;
pub mod genetic;
pub mod host;
pub mod metrics;
pub mod prefix;
pub mod samples;
pub mod schema;
pub mod search;
pub mod testing;
pub mod training;

pub use algorithm::{Algorithm, HookInfo, PluginError, StepReport};
pub use ffi::ModelId;
pub use host::{Coefficients, Host, HostError, Noise};
pub use metrics::{
    Combination, DatasetInfo, Diagnostics, EvalSpec, Evaluation, Metrics, Split, Task, TrainReport,
};
pub use samples::{SampleResults, SubsetStats};
pub use search::{Best, Search, Searching};
pub use training::{
    Augment, Distillation, FeatureSource, LossKind, OptimizerConfig, Schedule, TrainSpec,
};

pub use schema::Interval;
pub use serde_json;
