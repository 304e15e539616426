//! Gaussian perturbation of parameters, the mutation operator of weight-space searches.

use burn::tensor::{Distribution, Tensor};
use rand::Rng as _;
use rand_distr::{Distribution as _, Normal};
use serde::{Deserialize, Serialize};

use crate::model::Model;
use crate::seed;

/// Whether the mutation probability applies to each value or to each whole tensor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoiseMode {
    /// Each value independently gets noise with probability `probability`.
    #[default]
    PerElement,
    /// Each parameter tensor, with probability `probability`, gets noise on all its values.
    PerTensor,
}

/// `θ ← θ + ε`, `ε ~ N(0, σ²)` where the coin falls.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Noise {
    /// Standard deviation σ.
    pub sigma: f64,
    /// Probability of mutating a value (or a tensor).
    pub probability: f64,
    /// Per value or per tensor.
    #[serde(default)]
    pub mode: NoiseMode,
    /// Seed of this perturbation; the same seed gives the same noise on the same device.
    pub seed: u64,
}

impl Model {
    /// Adds `noise` to every member's parameters; masked values stay zero.
    pub fn add_noise(&mut self, noise: &Noise) {
        if noise.sigma == 0.0 || noise.probability <= 0.0 {
            return;
        }
        let names: Vec<String> = self
            .layout()
            .params
            .iter()
            .map(|p| p.name.clone())
            .collect();
        let mut coin = seed::rng(noise.seed, "noise-tensors", 0);
        let _generator = seed::device_generator();
        let params: Vec<Tensor<1>> = self
            .params()
            .iter()
            .zip(&names)
            .map(|(p, name)| match noise.mode {
                NoiseMode::PerElement => {
                    // The device draws both the coins and the noise; reseeding per tensor keeps
                    // the draw independent of the order and number of other tensors.
                    let device = p.device();
                    device.seed(seed::derive(noise.seed, name, 0));
                    let hit = Tensor::<1>::random(
                        p.shape(),
                        Distribution::Bernoulli(noise.probability),
                        &device,
                    );
                    let eps = Tensor::<1>::random(
                        p.shape(),
                        Distribution::Normal(0.0, noise.sigma),
                        &device,
                    );
                    p.clone() + eps * hit
                }
                NoiseMode::PerTensor => {
                    if coin.random_bool(noise.probability.min(1.0)) {
                        let mut rng = seed::rng(noise.seed, name, 1);
                        let normal =
                            Normal::new(0.0, noise.sigma).expect("σ is finite and positive");
                        let n = p.dims()[0];
                        let eps: Vec<f32> =
                            (0..n).map(|_| normal.sample(&mut rng) as f32).collect();
                        p.clone() + crate::tensors::vector(eps, &p.device())
                    } else {
                        p.clone()
                    }
                }
            })
            .collect();
        self.set_params(params);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::tiny_model;

    fn changed(before: &[f32], after: &[f32]) -> usize {
        before.iter().zip(after).filter(|(a, b)| a != b).count()
    }

    #[test]
    fn per_element_noise_hits_about_p_of_the_values_and_is_seeded() {
        let base = tiny_model(1.0);
        let mut hits = 0;
        for seed in 0..40 {
            let mut m = base.clone();
            m.add_noise(&Noise {
                sigma: 0.1,
                probability: 0.25,
                mode: NoiseMode::PerElement,
                seed,
            });
            hits += changed(&base.flat_params(), &m.flat_params());
        }
        let rate = hits as f64 / (40.0 * 17.0);
        assert!((rate - 0.25).abs() < 0.07, "rate {rate}");
        let noise = Noise {
            sigma: 0.1,
            probability: 0.5,
            mode: NoiseMode::PerElement,
            seed: 3,
        };
        let (mut x, mut y) = (base.clone(), base.clone());
        x.add_noise(&noise);
        y.add_noise(&noise);
        assert_eq!(x.flat_params(), y.flat_params());
    }

    #[test]
    fn per_tensor_noise_moves_whole_tensors_and_spares_masked_values() {
        let mut m = tiny_model(1.0);
        let mut mask = vec![1.0; 17];
        mask[0] = 0.0;
        m.set_flat_mask(&mask).unwrap();
        let before = m.flat_params();
        m.add_noise(&Noise {
            sigma: 1.0,
            probability: 1.0,
            mode: NoiseMode::PerTensor,
            seed: 1,
        });
        let after = m.flat_params();
        assert_eq!(after[0], 0.0);
        assert_eq!(changed(&before, &after), 16);
    }
}
