//! Training for a number of epochs with validation after each: the loop commands share.

use std::time::Instant;

use serde::Serialize;

use super::evaluate::{EvalOptions, Evaluation, evaluate};
use super::trainer::{Progress, TrainError, Trainer};
use crate::data::ResidentData;
use crate::model::Model;

/// What one epoch of [`fit`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EpochSummary {
    /// The epoch (from 1).
    pub epoch: usize,
    /// Mean training loss per member.
    pub train_loss: Vec<f64>,
    /// Learning rate at the end of the epoch.
    pub lr: f64,
    /// Validation metrics, when a validation split is held out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation: Option<Evaluation>,
    /// Wall-clock seconds of the epoch's training steps.
    pub seconds: f64,
    /// Training samples per second.
    pub samples_per_second: f64,
}

/// Trains `model` until `trainer` has done all its epochs, validating after each.
pub fn fit(
    model: &mut Model,
    trainer: &mut Trainer,
    data: &ResidentData,
    on_progress: &mut dyn FnMut(Progress),
    on_epoch: &mut dyn FnMut(&EpochSummary),
) -> Result<Vec<EpochSummary>, TrainError> {
    let mut summaries = Vec::new();
    while !trainer.finished() {
        let start = Instant::now();
        let report = trainer.run_epoch(model, &data.train, None, on_progress)?;
        model.device().sync().ok();
        let seconds = start.elapsed().as_secs_f64();
        let samples = report.steps * trainer.config().batch_size.min(data.train.len());
        let validation = match &data.validation {
            Some(split) => Some(evaluate(
                model,
                split,
                trainer.loss(),
                EvalOptions::default(),
            )?),
            None => None,
        };
        let summary = EpochSummary {
            epoch: report.epoch,
            train_loss: report.train_loss,
            lr: report.lr,
            validation,
            seconds,
            samples_per_second: samples as f64 / seconds.max(1e-9),
        };
        on_epoch(&summary);
        summaries.push(summary);
    }
    Ok(summaries)
}
