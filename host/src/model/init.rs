//! Initial weights, drawn on the host from a seeded generator so that one seed gives the same
//! model on every backend.

use rand_distr::{Distribution, Normal, Uniform};

use super::layout::{ParamEntry, ParamRole};
use super::spec::Init;
use crate::seed;

/// Values for one member's parameter `entry`, from the stream `(seed, entry name)`.
pub fn init_param(entry: &ParamEntry, init: Init, seed: u64) -> Vec<f32> {
    let mut rng = seed::rng(seed, &entry.name, 0);
    let n = entry.numel();
    match (entry.role, init) {
        (ParamRole::Scale, _) => vec![1.0; n],
        (ParamRole::Shift, _) => vec![0.0; n],
        (ParamRole::Bias { fan_in }, Init::Torch) => uniform(&mut rng, n, bound(1.0, fan_in)),
        (ParamRole::Bias { .. }, _) => vec![0.0; n],
        (ParamRole::Weight { fan_in, .. }, Init::He) => {
            let std = (2.0 / fan_in.max(1) as f64).sqrt();
            let normal = Normal::new(0.0, std).expect("a positive standard deviation");
            (0..n).map(|_| normal.sample(&mut rng) as f32).collect()
        }
        (ParamRole::Weight { fan_in, fan_out }, Init::Xavier) => {
            let limit = (6.0 / (fan_in + fan_out).max(1) as f64).sqrt();
            uniform(&mut rng, n, limit)
        }
        (ParamRole::Weight { fan_in, .. }, Init::Torch) => uniform(&mut rng, n, bound(1.0, fan_in)),
    }
}

fn bound(gain: f64, fan_in: usize) -> f64 {
    gain / (fan_in.max(1) as f64).sqrt()
}

fn uniform(rng: &mut impl rand::Rng, n: usize, limit: f64) -> Vec<f32> {
    if limit <= 0.0 {
        return vec![0.0; n];
    }
    let dist = Uniform::new(-limit, limit).expect("a non-empty range");
    (0..n).map(|_| rng.sample(dist) as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(role: ParamRole, shape: Vec<usize>) -> ParamEntry {
        ParamEntry {
            name: "0.weight".into(),
            shape,
            role,
            layer: 0,
            positions: 1,
        }
    }

    fn std(values: &[f32]) -> f64 {
        let n = values.len() as f64;
        let mean = values.iter().map(|&v| v as f64).sum::<f64>() / n;
        (values
            .iter()
            .map(|&v| (v as f64 - mean).powi(2))
            .sum::<f64>()
            / n)
            .sqrt()
    }

    #[test]
    fn scales_follow_the_fans() {
        let w = entry(
            ParamRole::Weight {
                fan_in: 200,
                fan_out: 50,
            },
            vec![50, 200],
        );
        let he = init_param(&w, Init::He, 1);
        assert!((std(&he) - (2.0f64 / 200.0).sqrt()).abs() < 0.005);
        let xavier = init_param(&w, Init::Xavier, 1);
        let limit = (6.0f32 / 250.0).sqrt();
        assert!(xavier.iter().all(|v| v.abs() <= limit));
        assert!((std(&xavier) - (2.0f64 / 250.0).sqrt()).abs() < 0.005);
        assert_eq!(he, init_param(&w, Init::He, 1));
        assert_ne!(he, init_param(&w, Init::He, 2));
    }

    #[test]
    fn biases_and_norms_start_neutral() {
        assert_eq!(
            init_param(&entry(ParamRole::Bias { fan_in: 4 }, vec![3]), Init::He, 0),
            [0.0; 3]
        );
        assert_eq!(
            init_param(&entry(ParamRole::Scale, vec![2]), Init::Xavier, 0),
            [1.0; 2]
        );
    }
}
