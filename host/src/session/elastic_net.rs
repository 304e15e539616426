//! The ElasticNet baseline on the session's data: fitted on the training split, its penalties
//! chosen on validation, scored once on the test split for the final report. Inputs are the
//! resident ones (the same selected sites, standardised as the networks see them), so a network
//! and the baseline are compared on the same split and the same features.

use std::time::Instant;

use coevo_sdk::{Metrics, Task};
use serde::{Deserialize, Serialize};

use super::ServiceError;
use super::state::{Result, Session};
use crate::data::{DeviceSplit, Targets};
use crate::tensors::to_f32;
use crate::train::elastic_net::{ElasticNetOptions, FittedNet, GridPoint, Rows, select};

/// What the baseline found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ElasticNetReport {
    /// The chosen penalty α.
    pub alpha: f64,
    /// The chosen L1 ratio.
    pub l1_ratio: f64,
    /// Weights that are not zero (CpG sites the clock uses).
    pub nonzero: usize,
    /// Validation metrics of the chosen model, in target units.
    pub validation: Metrics,
    /// Test metrics of the chosen model, in target units.
    pub test: Metrics,
    /// Every grid point's validation MAE.
    pub grid: Vec<GridPoint>,
    /// Seconds fitting the whole grid.
    pub fit_seconds: f64,
    /// Seconds fitting the chosen point alone (the grid's time over its size).
    pub fit_seconds_per_model: f64,
    /// Test predictions in target units, beside the targets.
    pub predictions: Vec<f32>,
    /// Test targets in their units.
    pub targets: Vec<f32>,
}

impl Session {
    /// Fits the ElasticNet baseline (see the module docs).
    pub fn elastic_net(&self, options: &ElasticNetOptions) -> Result<ElasticNetReport> {
        let data = self.data()?;
        if data.task != Task::Regression {
            return Err(ServiceError::invalid(
                "elastic_net is a regression baseline; this data set has classes",
            ));
        }
        let validation = data.validation.as_ref().ok_or_else(|| {
            ServiceError::invalid("elastic_net chooses its penalties on validation: hold some out")
        })?;
        let features = data.train.sample_shape.iter().product::<usize>();
        let train = rows(&data.train);
        let val = rows(validation);
        let started = Instant::now();
        let (model, grid) = select(&train, features, options, |m| {
            metrics(m, &val, features, validation)
                .mae
                .unwrap_or(f64::INFINITY)
        })
        .map_err(|e| ServiceError::invalid(e.to_string()))?;
        let fit_seconds = started.elapsed().as_secs_f64();
        let test_split = data.test_for_final_report();
        let test = rows(test_split);
        let (predictions, targets) = in_units(&model, &test, features, test_split);
        Ok(ElasticNetReport {
            alpha: model.alpha,
            l1_ratio: model.l1_ratio,
            nonzero: model.nonzero,
            validation: metrics(&model, &val, features, validation),
            test: regression(&predictions, &targets),
            fit_seconds_per_model: fit_seconds / grid.len().max(1) as f64,
            grid,
            fit_seconds,
            predictions,
            targets,
        })
    }
}

fn rows(split: &DeviceSplit) -> Rows {
    let y = match &split.host_targets {
        Targets::Values(v) => v.clone(),
        Targets::Classes(c) => c.iter().map(|&l| l as f32).collect(),
    };
    Rows {
        x: to_f32(split.inputs.clone()),
        y,
    }
}

/// Predictions and targets in the targets' own units (a transformed age mapped back).
fn in_units(
    model: &FittedNet,
    rows: &Rows,
    features: usize,
    split: &DeviceSplit,
) -> (Vec<f32>, Vec<f32>) {
    let mut predicted = model.predict(&rows.x, features);
    let mut targets = rows.y.clone();
    if let Some(t) = split.target_transform {
        predicted.iter_mut().for_each(|p| *p = t.inverse(*p));
        targets.iter_mut().for_each(|v| *v = t.inverse(*v));
    }
    (predicted, targets)
}

fn metrics(model: &FittedNet, rows: &Rows, features: usize, split: &DeviceSplit) -> Metrics {
    let (predicted, targets) = in_units(model, rows, features, split);
    regression(&predicted, &targets)
}

fn regression(predicted: &[f32], targets: &[f32]) -> Metrics {
    let losses: Vec<f32> = predicted
        .iter()
        .zip(targets)
        .map(|(p, t)| (p - t).abs())
        .collect();
    Metrics::regression(&losses, predicted, targets)
}
