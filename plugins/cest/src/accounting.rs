//! What a run spent: the same ledger for CEST and every baseline, so that methods compare at
//! equal cost.

use serde::{Deserialize, Serialize};

/// Running totals of a run's cost.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Accounting {
    /// Samples back-propagated, a repeated index once per repeat (as the host counts them).
    pub sample_gradients: u64,
    /// Samples passed forward for selection alone (not training's own pass, not validation).
    pub sample_forwards: u64,
    /// Seconds spent selecting: measuring samples, scoring prey, the genetic algorithm.
    pub selection_seconds: f64,
    /// The part of `selection_seconds` spent in the host's forward passes over the samples.
    #[serde(default)]
    pub forward_seconds: f64,
    /// Seconds spent training.
    pub training_seconds: f64,
    /// Seconds of the whole epochs, validation included.
    pub wall_seconds: f64,
}
