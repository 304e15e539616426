//! What each global epoch did, kept in the state and returned with the result.

use serde::{Deserialize, Serialize};

/// One global epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// The epoch (from 1).
    pub epoch: usize,
    /// Whether it trained on all data before selection began.
    pub warmup: bool,
    /// Samples selected (repeats counted), after any cut to the budget.
    pub subset: usize,
    /// Sample-gradients the epoch spent: `subset`, less a last batch of one in each call.
    pub trained: u64,
    /// Distinct samples among them.
    pub unique: usize,
    /// The learning rate of the epoch.
    pub lr: f64,
    /// Points of the training-loss curve: `[optimiser steps so far, mean loss of the part]`,
    /// one per training call of the epoch.
    pub loss_curve: Vec<[f64; 2]>,
    /// Validation loss after the epoch.
    pub val_loss: f64,
    /// Validation accuracy after the epoch.
    pub val_accuracy: f64,
    /// Sample-gradients so far.
    pub sample_gradients: u64,
    /// Sample-forwards for selection so far.
    pub sample_forwards: u64,
    /// Seconds this epoch spent selecting.
    pub selection_seconds: f64,
    /// Seconds this epoch spent training.
    pub training_seconds: f64,
    /// The best and mean prey fitness of the epoch's last generation (CEST only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prey_fitness: Option<[f64; 2]>,
    /// Samples the forget threshold dropped from the masks this epoch.
    #[serde(default)]
    pub forgotten: usize,
}
