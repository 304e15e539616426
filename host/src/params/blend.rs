//! Linear blends of models of one architecture: `Σ_k c_k θ_k`.
//!
//! Coefficients come at three granularities: one per model, one per model and layer, or one
//! per model and parameter value. Batch norm's running statistics blend with the coefficients
//! of their layer's γ (per value: channel by channel), so a blend of two models whose
//! statistics match their weights has statistics that match its own, as far as linearity goes.

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::model::{Model, ModelError};
use crate::tensors::vector;

/// Blend coefficients; `[k]` indexes the models.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Coefficients {
    /// One coefficient per model.
    Whole(Vec<f32>),
    /// `[k][layer]`: one per model and parametric layer (`Layout::layers`).
    PerLayer(Vec<Vec<f32>>),
    /// `[k][i]`: one per model and value of the member's flat parameter vector.
    PerElement(Vec<Vec<f32>>),
}

/// Coefficients that do not fit the models.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BlendError {
    /// The models differ in architecture or are stacks.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// Wrong number of coefficients.
    #[error("blend coefficients: expected {expected} {what}, found {found}")]
    Count {
        /// What was counted.
        what: &'static str,
        /// How many are needed.
        expected: usize,
        /// How many were given.
        found: usize,
    },
}

/// The blend of single models `models` with `coefficients`.
pub fn blend(models: &[&Model], coefficients: &Coefficients) -> Result<Model, BlendError> {
    let first = *models.first().ok_or(BlendError::Count {
        what: "models",
        expected: 1,
        found: 0,
    })?;
    if models
        .iter()
        .any(|m| m.layout() != first.layout() || m.members() != 1)
    {
        return Err(ModelError::Architecture("blended (or one is a stack)").into());
    }
    let rows = match coefficients {
        Coefficients::Whole(c) => c.len(),
        Coefficients::PerLayer(c) | Coefficients::PerElement(c) => c.len(),
    };
    count("coefficient rows (one per model)", models.len(), rows)?;
    let layout = first.layout();
    let slots = first.param_slots();
    let device = first.device();
    // Coefficient of model k for parameter entry p, as a scalar or a device vector.
    let coefficient = |k: usize, p: usize| -> Result<Coefficient, BlendError> {
        Ok(match coefficients {
            Coefficients::Whole(c) => Coefficient::Scalar(c[k]),
            Coefficients::PerLayer(c) => {
                count("layer coefficients", layout.layers.len(), c[k].len())?;
                Coefficient::Scalar(c[k][slots[p].layer])
            }
            Coefficients::PerElement(c) => {
                count("element coefficients", first.param_count(), c[k].len())?;
                let slot = &slots[p];
                Coefficient::Values(vector(
                    c[k][slot.offset..slot.offset + slot.len].to_vec(),
                    device,
                ))
            }
        })
    };
    let mut params = Vec::with_capacity(slots.len());
    for p in 0..slots.len() {
        let mut sum: Option<Tensor<1>> = None;
        for (k, model) in models.iter().enumerate() {
            let term = coefficient(k, p)?.scale(model.params()[p].clone());
            sum = Some(match sum {
                Some(s) => s + term,
                None => term,
            });
        }
        params.push(sum.expect("at least one model"));
    }
    let mut buffers = Vec::with_capacity(layout.buffers.len());
    for (b, entry) in layout.buffers.iter().enumerate() {
        // The γ of the same layer has one value per channel, like the statistics.
        let gamma = layout
            .params
            .iter()
            .position(|p| p.layer == entry.layer)
            .expect("batch norm layers own a γ");
        let mut sum: Option<Tensor<1>> = None;
        for (k, model) in models.iter().enumerate() {
            let term = coefficient(k, gamma)?.scale(model.buffers()[b].clone());
            sum = Some(match sum {
                Some(s) => s + term,
                None => term,
            });
        }
        buffers.push(sum.expect("at least one model"));
    }
    let mut out = first.clone();
    out.set_params(params);
    out.set_buffers(buffers);
    Ok(out)
}

#[allow(clippy::large_enum_variant)] // built per tensor and consumed at once
enum Coefficient {
    Scalar(f32),
    Values(Tensor<1>),
}

impl Coefficient {
    fn scale(self, t: Tensor<1>) -> Tensor<1> {
        match self {
            Self::Scalar(c) => t.mul_scalar(c),
            Self::Values(c) => t * c,
        }
    }
}

fn count(what: &'static str, expected: usize, found: usize) -> Result<(), BlendError> {
    if expected == found {
        Ok(())
    } else {
        Err(BlendError::Count {
            what,
            expected,
            found,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensors::to_f32;
    use crate::testing::tiny_model;

    #[test]
    fn whole_blend_is_the_weighted_sum() {
        let (a, b) = (tiny_model(1.0), tiny_model(3.0));
        let mixed = blend(&[&a, &b], &Coefficients::Whole(vec![0.25, 0.75])).unwrap();
        let expected: Vec<f32> = (1..=17).map(|v| v as f32 * (0.25 + 2.25)).collect();
        assert_eq!(mixed.flat_params(), expected);
    }

    #[test]
    fn per_layer_blend_uses_each_layers_coefficient() {
        let (a, b) = (tiny_model(1.0), tiny_model(0.0));
        // Layers: conv, batch norm, linear.
        let c = Coefficients::PerLayer(vec![vec![1.0, 0.0, 0.5], vec![0.0, 1.0, 0.5]]);
        let flat = blend(&[&a, &b], &c).unwrap().flat_params();
        assert_eq!(&flat[..4], &[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(&flat[4..8], &[0.0; 4]);
        assert_eq!(flat[16], 8.5);
    }

    #[test]
    fn per_element_blend_and_running_statistics() {
        let mut a = tiny_model(1.0);
        let b = tiny_model(2.0);
        let device = a.device().clone();
        a.set_buffers(vec![
            vector(vec![10.0, 20.0], &device),
            vector(vec![1.0, 1.0], &device),
        ]);
        let mut ca = vec![1.0; 17];
        ca[4] = 0.0; // γ of channel 0 from b only
        let cb: Vec<f32> = ca.iter().map(|c| 1.0 - c).collect();
        let mixed = blend(&[&a, &b], &Coefficients::PerElement(vec![ca, cb])).unwrap();
        let flat = mixed.flat_params();
        assert_eq!(flat[4], 10.0);
        assert_eq!(flat[5], 6.0);
        // Channel 0's running mean follows γ's coefficients: all from b (initial zeros).
        assert_eq!(to_f32(mixed.buffers()[0].clone()), [0.0, 20.0]);
        let err = blend(
            &[&a, &b],
            &Coefficients::PerElement(vec![vec![1.0; 3], vec![0.0; 3]]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("expected 17"), "{err}");
    }
}
