//! The genetic algorithm's decisions, as pure functions of fitness and a random source:
//! who survives and who breeds (the SDK's operators), with which coefficients. The host
//! applies them.

use coevo_sdk::Coefficients;
use rand::Rng;

use crate::config::Granularity;

pub use coevo_sdk::genetic::{elites, mates, tournament};

/// Coefficients `[β, 1 − β]` of a blend of two models, `β ~ U(0, 1)` drawn once, per layer or
/// per weight.
pub fn blend_coefficients(
    granularity: Granularity,
    layers: usize,
    params: usize,
    rng: &mut impl Rng,
) -> Coefficients {
    let count = match granularity {
        Granularity::Whole => 1,
        Granularity::Layer => layers,
        Granularity::Element => params,
    };
    let first: Vec<f32> = (0..count).map(|_| rng.random::<f32>()).collect();
    let mut both = Vec::with_capacity(2 * count);
    both.extend(first.iter().copied());
    both.extend(first.iter().map(|b| 1.0 - b));
    match granularity {
        Granularity::Whole => Coefficients::Whole(both),
        Granularity::Layer => Coefficients::PerLayer(both),
        Granularity::Element => Coefficients::PerElement(both),
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn coefficients_sum_to_one_weight_by_weight() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let Coefficients::PerElement(c) = blend_coefficients(Granularity::Element, 2, 5, &mut rng)
        else {
            panic!("per element");
        };
        assert_eq!(c.len(), 10);
        for i in 0..5 {
            assert!((c[i] + c[i + 5] - 1.0).abs() < 1e-6);
            assert!((0.0..1.0).contains(&c[i]));
        }
        assert!(c[..5].windows(2).any(|w| w[0] != w[1]), "one β per weight");
        let Coefficients::PerLayer(c) = blend_coefficients(Granularity::Layer, 3, 5, &mut rng)
        else {
            panic!("per layer");
        };
        assert_eq!(c.len(), 6);
        let Coefficients::Whole(c) = blend_coefficients(Granularity::Whole, 3, 5, &mut rng) else {
            panic!("whole");
        };
        assert_eq!(c.len(), 2);
    }
}
