//! The ElasticNet baseline of epigenetic clocks (Horvath's clock is one): a linear model with
//! L1 and L2 penalties, fitted by coordinate descent (`linfa-elasticnet`), its penalty α and
//! L1 ratio chosen on the validation split from a grid.
//!
//! linfa minimises `1/(2n)·‖y − Xw‖² + α·ρ·‖w‖₁ + ½·α·(1 − ρ)·‖w‖²`. Inputs arrive standardised
//! per feature (the resident data), and targets are standardised here too, so that one grid of
//! α suits any target unit. Features are centred on their training means here as well and the
//! model is fitted without an intercept: with centred data the intercept is zero, and linfa
//! 0.8's own intercept was seen to leave a constant offset in the predictions.

use linfa::prelude::{Fit, Predict};
use linfa_elasticnet::ElasticNet;
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

/// The grid searched where α or the L1 ratio is not given.
pub const ALPHAS: [f64; 6] = [0.003, 0.01, 0.03, 0.1, 0.3, 1.0];
/// L1 ratios searched.
pub const L1_RATIOS: [f64; 3] = [0.1, 0.5, 0.9];

/// Samples as rows of `features` values, with their targets.
#[derive(Debug, Clone)]
pub struct Rows {
    /// `samples × features`, row-major.
    pub x: Vec<f32>,
    /// One target per sample.
    pub y: Vec<f32>,
}

/// Which penalties to try.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ElasticNetOptions {
    /// Penalties α (empty: [`ALPHAS`]).
    pub alphas: Vec<f64>,
    /// L1 ratios (empty: [`L1_RATIOS`]).
    pub l1_ratios: Vec<f64>,
    /// Coordinate-descent sweeps at most.
    pub max_iterations: Option<u32>,
}

/// A fitted model: weights on standardised targets.
#[derive(Debug, Clone)]
pub struct FittedNet {
    model: ElasticNet<f64>,
    /// Training mean of each feature, subtracted before the model reads it.
    centre: Vec<f64>,
    mean: f64,
    std: f64,
    /// Penalty α.
    pub alpha: f64,
    /// L1 ratio ρ.
    pub l1_ratio: f64,
    /// Weights that are not zero.
    pub nonzero: usize,
}

impl FittedNet {
    /// Predictions in the targets' units for rows of `features` values.
    pub fn predict(&self, x: &[f32], features: usize) -> Vec<f32> {
        let rows = matrix(x, features, &self.centre);
        let out: Array1<f64> = self.model.predict(&rows);
        out.iter()
            .map(|&p| (p * self.std + self.mean) as f32)
            .collect()
    }
}

fn matrix(x: &[f32], features: usize, centre: &[f64]) -> Array2<f64> {
    let n = x.len() / features.max(1);
    Array2::from_shape_fn((n, features), |(i, j)| {
        f64::from(x[i * features + j]) - centre[j]
    })
}

fn column_means(x: &[f32], features: usize) -> Vec<f64> {
    let mut sums = vec![0.0; features];
    for row in x.chunks_exact(features.max(1)) {
        for (s, &v) in sums.iter_mut().zip(row) {
            *s += f64::from(v);
        }
    }
    let n = (x.len() / features.max(1)).max(1) as f64;
    sums.into_iter().map(|s| s / n).collect()
}

/// Why a fit failed.
#[derive(Debug, thiserror::Error)]
pub enum ElasticNetError {
    /// A penalty or ratio out of range, or a solver failure.
    #[error("elastic net (alpha {alpha}, l1_ratio {l1_ratio}): {reason}")]
    Fit {
        /// α.
        alpha: f64,
        /// ρ.
        l1_ratio: f64,
        /// linfa's message.
        reason: String,
    },
    /// Nothing to fit.
    #[error("elastic net: {0}")]
    Data(String),
}

/// Fits one model on `train`.
pub fn fit(
    train: &Rows,
    features: usize,
    alpha: f64,
    l1_ratio: f64,
    max_iterations: u32,
) -> Result<FittedNet, ElasticNetError> {
    if train.y.len() < 2 || features == 0 {
        return Err(ElasticNetError::Data(format!(
            "{} samples of {features} features: too few to fit",
            train.y.len()
        )));
    }
    let n = train.y.len() as f64;
    let mean = train.y.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let var = train
        .y
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / n;
    let std = if var > 0.0 { var.sqrt() } else { 1.0 };
    let y = Array1::from_iter(train.y.iter().map(|&v| (f64::from(v) - mean) / std));
    let centre = column_means(&train.x, features);
    let dataset = linfa::Dataset::new(matrix(&train.x, features, &centre), y);
    let model = ElasticNet::params()
        .with_intercept(false)
        .penalty(alpha)
        .l1_ratio(l1_ratio)
        .max_iterations(max_iterations)
        .fit(&dataset)
        .map_err(|e| ElasticNetError::Fit {
            alpha,
            l1_ratio,
            reason: e.to_string(),
        })?;
    let nonzero = model.hyperplane().iter().filter(|w| **w != 0.0).count();
    Ok(FittedNet {
        model,
        centre,
        mean,
        std,
        alpha,
        l1_ratio,
        nonzero,
    })
}

/// One grid point's validation error.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GridPoint {
    /// α.
    pub alpha: f64,
    /// ρ.
    pub l1_ratio: f64,
    /// Validation mean absolute error, in the units `score` gives.
    pub validation_mae: f64,
}

/// Fits every grid point on `train`, scores each with `score` (predictions → MAE) and returns
/// the best model with the whole grid.
pub fn select(
    train: &Rows,
    features: usize,
    options: &ElasticNetOptions,
    mut score: impl FnMut(&FittedNet) -> f64,
) -> Result<(FittedNet, Vec<GridPoint>), ElasticNetError> {
    let alphas = if options.alphas.is_empty() {
        ALPHAS.to_vec()
    } else {
        options.alphas.clone()
    };
    let ratios = if options.l1_ratios.is_empty() {
        L1_RATIOS.to_vec()
    } else {
        options.l1_ratios.clone()
    };
    let iterations = options.max_iterations.unwrap_or(1000);
    let mut best: Option<(f64, FittedNet)> = None;
    let mut grid = Vec::new();
    for &alpha in &alphas {
        for &l1_ratio in &ratios {
            let model = fit(train, features, alpha, l1_ratio, iterations)?;
            let mae = score(&model);
            grid.push(GridPoint {
                alpha,
                l1_ratio,
                validation_mae: mae,
            });
            if best.as_ref().is_none_or(|(b, _)| mae < *b) {
                best = Some((mae, model));
            }
        }
    }
    let (_, model) = best.ok_or_else(|| ElasticNetError::Data("an empty grid".into()))?;
    Ok((model, grid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sparse_linear_target_is_recovered_and_the_grid_prefers_a_small_penalty() {
        // y = 3·x0 − 2·x3 + 10 over 200 samples of 6 unit-variance features (standardised, as
        // the resident data is); the others are noise. y's standard deviation is √13.
        let mut rng = crate::seed::rng(1, "elastic-net-test", 0);
        let mut next = || (rand::Rng::random::<f32>(&mut rng) - 0.5) * 12f32.sqrt();
        let (n, f) = (200, 6);
        let x: Vec<f32> = (0..n * f).map(|_| next()).collect();
        let y: Vec<f32> = x
            .chunks(f)
            .map(|r| 3.0 * r[0] - 2.0 * r[3] + 10.0)
            .collect();
        let train = Rows {
            x: x.clone(),
            y: y.clone(),
        };
        let mae = |model: &FittedNet| {
            let p = model.predict(&x, f);
            p.iter()
                .zip(&y)
                .map(|(a, b)| f64::from((a - b).abs()))
                .sum::<f64>()
                / n as f64
        };
        let (best, grid) = select(&train, f, &ElasticNetOptions::default(), mae).unwrap();
        assert_eq!(grid.len(), ALPHAS.len() * L1_RATIOS.len());
        assert!(
            best.alpha <= ALPHAS[1],
            "a noise-free target wants little penalty: {}",
            best.alpha
        );
        assert!(mae(&best) < 0.05 * 13f64.sqrt(), "{}", mae(&best));
        let heavy = fit(&train, f, 1.0, 0.9, 1000).unwrap();
        assert!(
            heavy.nonzero < best.nonzero || heavy.nonzero == 0,
            "a heavy L1 penalty is sparser"
        );
    }
}
