//! The genetic algorithm's decisions, as pure functions of fitness and a random source:
//! who survives, who breeds, with which coefficients. The host applies them.

use coevo_sdk::Coefficients;
use rand::Rng;

use crate::config::Granularity;

/// Indices of the `n` fittest, best first (ties keep the earlier index first).
pub fn elites(fitness: &[f64], n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..fitness.len()).collect();
    order.sort_by(|&a, &b| fitness[b].total_cmp(&fitness[a]).then(a.cmp(&b)));
    order.truncate(n);
    order
}

/// The winner of a tournament of `size` entrants drawn with replacement.
pub fn tournament(fitness: &[f64], size: usize, rng: &mut impl Rng) -> usize {
    let mut winner = rng.random_range(0..fitness.len());
    for _ in 1..size {
        let entrant = rng.random_range(0..fitness.len());
        if fitness[entrant] > fitness[winner] {
            winner = entrant;
        }
    }
    winner
}

/// Two mates among `count` selected parents: distinct when there is a choice.
pub fn mates(count: usize, rng: &mut impl Rng) -> (usize, usize) {
    let first = rng.random_range(0..count);
    if count < 2 {
        return (first, first);
    }
    let second = (first + rng.random_range(1..count)) % count;
    (first, second)
}

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
    fn elites_are_the_fittest_in_order() {
        assert_eq!(elites(&[0.1, 0.9, 0.5, 0.9], 3), vec![1, 3, 2]);
        assert_eq!(elites(&[0.3], 0), Vec::<usize>::new());
    }

    #[test]
    fn larger_tournaments_favour_the_fit() {
        let fitness: Vec<f64> = (0..10).map(f64::from).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mean = |size: usize, rng: &mut ChaCha8Rng| {
            (0..4000)
                .map(|_| tournament(&fitness, size, rng))
                .sum::<usize>() as f64
                / 4000.0
        };
        let (one, three) = (mean(1, &mut rng), mean(3, &mut rng));
        // Size 1 is uniform (mean 4.5); size 3 picks the max of three draws (mean ≈ 6.9).
        assert!((one - 4.5).abs() < 0.3, "{one}");
        assert!((three - 6.9).abs() < 0.3, "{three}");
        // A tournament as large as it gets nearly always finds the best.
        let best = (0..200)
            .filter(|_| tournament(&fitness, 100, &mut rng) == 9)
            .count();
        assert!(best > 190, "{best}");
    }

    #[test]
    fn mates_differ_when_they_can() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for _ in 0..500 {
            let (a, b) = mates(4, &mut rng);
            assert!(a < 4 && b < 4 && a != b);
        }
        assert_eq!(mates(1, &mut rng), (0, 0));
    }

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
