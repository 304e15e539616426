//! Selection and crossover operators of genetic algorithms, as pure functions of fitness (or
//! of genomes) and a random source; every plugin that evolves a population uses these.
//! Fitness is maximised.

use rand::Rng;

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

/// Fitness-proportionate (roulette-wheel) selection. Fitness is shifted to be non-negative
/// first; when every weight is zero the draw is uniform.
pub fn roulette(fitness: &[f64], rng: &mut impl Rng) -> usize {
    let floor = fitness
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min)
        .min(0.0);
    let weights: Vec<f64> = fitness.iter().map(|f| f - floor).collect();
    weighted(&weights, rng)
}

/// Rank selection: the k-th fittest of n is drawn with weight n − k (so the best has weight
/// n and the worst 1), whatever the scale of the fitness.
pub fn rank(fitness: &[f64], rng: &mut impl Rng) -> usize {
    let order = elites(fitness, fitness.len());
    let n = order.len();
    let pick = weighted(&(0..n).map(|k| (n - k) as f64).collect::<Vec<_>>(), rng);
    order[pick]
}

fn weighted(weights: &[f64], rng: &mut impl Rng) -> usize {
    let total: f64 = weights.iter().filter(|w| w.is_finite()).sum();
    if total <= 0.0 || !total.is_finite() {
        return rng.random_range(0..weights.len());
    }
    let mut point = rng.random::<f64>() * total;
    for (i, &w) in weights.iter().enumerate() {
        if !w.is_finite() {
            continue;
        }
        if point < w {
            return i;
        }
        point -= w;
    }
    weights.len() - 1
}

/// Two-point crossover in place: genes in `[a, b)` of two cut points drawn in `0..=len`
/// are swapped between `x` and `y` (of one length).
pub fn two_point<T>(x: &mut [T], y: &mut [T], rng: &mut impl Rng) {
    let (a, b) = cut_points(x.len().min(y.len()), rng);
    x[a..b].swap_with_slice(&mut y[a..b]);
}

/// The segment `[a, b)` of a two-point crossover of genomes of `len` genes (empty when
/// there are fewer than two), for genomes that are not slices (bit sets).
pub fn cut_points(len: usize, rng: &mut impl Rng) -> (usize, usize) {
    if len < 2 {
        return (0, 0);
    }
    let (a, b) = (rng.random_range(0..=len), rng.random_range(0..=len));
    (a.min(b), a.max(b))
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng as StdRng;

    use super::*;

    #[test]
    fn elites_are_the_fittest_in_order() {
        assert_eq!(elites(&[0.1, 0.9, 0.5, 0.9], 3), vec![1, 3, 2]);
        assert_eq!(elites(&[0.3], 0), Vec::<usize>::new());
    }

    #[test]
    fn larger_tournaments_favour_the_fit() {
        let fitness: Vec<f64> = (0..10).map(f64::from).collect();
        let mut rng = StdRng::seed_from_u64(1);
        let mean = |size: usize, rng: &mut StdRng| {
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
        let mut rng = StdRng::seed_from_u64(2);
        for _ in 0..500 {
            let (a, b) = mates(4, &mut rng);
            assert!(a < 4 && b < 4 && a != b);
        }
        assert_eq!(mates(1, &mut rng), (0, 0));
    }

    #[test]
    fn roulette_and_rank_draw_in_proportion() {
        let mut rng = StdRng::seed_from_u64(3);
        let counts = |pick: &mut dyn FnMut() -> usize| {
            let mut c = [0usize; 3];
            for _ in 0..6000 {
                c[pick()] += 1;
            }
            c
        };
        // Weights 1 : 2 : 3.
        let c = counts(&mut || roulette(&[1.0, 2.0, 3.0], &mut rng));
        assert!((c[2] as f64 / 6000.0 - 0.5).abs() < 0.03, "{c:?}");
        assert!((c[0] as f64 / 6000.0 - 1.0 / 6.0).abs() < 0.03, "{c:?}");
        // Rank ignores the scale: the best of three has weight 3 of 6 however far ahead.
        let c = counts(&mut || rank(&[0.0, 1e9, 1.0], &mut rng));
        assert!((c[1] as f64 / 6000.0 - 0.5).abs() < 0.03, "{c:?}");
        assert!((c[0] as f64 / 6000.0 - 1.0 / 6.0).abs() < 0.03, "{c:?}");
        // All zero: uniform.
        let c = counts(&mut || roulette(&[0.0, 0.0, 0.0], &mut rng));
        assert!(
            c.iter()
                .all(|&k| (k as f64 / 6000.0 - 1.0 / 3.0).abs() < 0.03),
            "{c:?}"
        );
    }

    #[test]
    fn two_point_crossover_swaps_one_segment() {
        let mut rng = StdRng::seed_from_u64(4);
        for _ in 0..200 {
            let (mut x, mut y) = (vec![0u8; 10], vec![1u8; 10]);
            two_point(&mut x, &mut y, &mut rng);
            // x holds one contiguous run of ones (maybe empty), y the complement.
            let ones: Vec<usize> = (0..10).filter(|&i| x[i] == 1).collect();
            if let (Some(&a), Some(&b)) = (ones.first(), ones.last()) {
                assert_eq!(ones.len(), b - a + 1);
            }
            assert!(x.iter().zip(&y).all(|(a, b)| a + b == 1));
        }
    }
}
