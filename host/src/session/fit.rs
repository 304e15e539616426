//! Training with validation after each epoch: what `coevo train` runs.

use std::time::Instant;

use coevo_sdk::ffi::ModelId;
use coevo_sdk::{EvalSpec, Split, TrainSpec};
use serde::Serialize;

use super::state::{Result, Session};
use super::training::Continue;
use crate::train::{Evaluation, Progress};

/// What one epoch of [`Session::fit`] did.
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

impl Session {
    /// Trains `ids` for all the spec's epochs, evaluating them on the validation split (when
    /// one is held out) after each.
    pub fn fit(
        &mut self,
        ids: &[ModelId],
        spec: TrainSpec,
        on_progress: &mut dyn FnMut(Progress),
        on_epoch: &mut dyn FnMut(&EpochSummary),
    ) -> Result<Vec<EpochSummary>> {
        let batch_size = spec.batch_size;
        let mut run = self.start_training(ids, spec, None, Continue::NewCall)?;
        let samples = run.samples(self.data()?.train.len());
        let mut summaries = Vec::new();
        while !run.finished() {
            let start = Instant::now();
            let report = self.train_epoch(&mut run, on_progress)?;
            self.device.sync().ok();
            let seconds = start.elapsed().as_secs_f64();
            let validation = match self.data()?.validation {
                Some(_) => Some(self.evaluate(ids, &validation(), false, false)?),
                None => None,
            };
            let trained = report.steps * batch_size.min(samples);
            let summary = EpochSummary {
                epoch: report.epoch,
                train_loss: report.train_loss,
                lr: report.lr,
                validation,
                seconds,
                samples_per_second: trained as f64 / seconds.max(1e-9),
            };
            on_epoch(&summary);
            summaries.push(summary);
        }
        Ok(summaries)
    }
}

fn validation() -> EvalSpec {
    EvalSpec {
        split: Split::Validation,
        ..EvalSpec::default()
    }
}
