//! Experiments as Rhai scripts: the script API, hooks with hot reload, the sandbox, run
//! directories, checkpoints with exact resume, and reports.
//!
//! A key design decision: a run resumes by running its script again from the top while a
//! journal answers every call completed before the last checkpoint with its recorded result.
//! Scripts are deterministic (all randomness derives from the run's seed), so replay brings
//! the script back to where it was without saving Rhai's own state, and a checkpoint needs only
//! the host's models and optimiser states, the journal, and the running plugin's snapshot.

mod api;
pub mod bench;
mod figures;
mod hooks;
mod journal;
mod options;
mod plot;
mod reload;
pub mod report;
mod run_dir;
mod runner;
mod sandbox;
mod script;
mod snapshot;
mod state;
mod tensorboard;

pub use options::{Limits, RunOptions, default_out, parse_set};
pub use run_dir::RunDir;
pub use runner::{ExperimentError, Outcome, resume, run};
