//! The prey: populations of training subsets and the genetic operators that evolve them.
//! Each returns decisions (who breeds, what they carry); scoring is the predator's side.

use bit_vec::BitVec;
use coevo_sdk::genetic::{self, cut_points, elites, two_point};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::config::ParentSelection;

/// Prey as fixed-length lists of sample indices (repeats allowed, as the report's DEAP code).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexPopulation {
    /// One list per prey.
    pub individuals: Vec<Vec<u32>>,
}

/// The GA's settings for one generation.
#[derive(Debug, Clone, Copy)]
pub struct Breeding {
    /// Entrants per tournament (indices).
    pub tournament: usize,
    /// Parent selection (masks).
    pub parents: ParentSelection,
    /// Probability that a pair is crossed.
    pub crossover: f64,
    /// Probability per gene of mutation.
    pub mutation: f64,
}

impl IndexPopulation {
    /// `count` prey of `len` indices each, uniform over `samples`.
    pub fn random(count: usize, len: usize, samples: usize, rng: &mut impl Rng) -> Self {
        Self {
            individuals: (0..count)
                .map(|_| random_indices(len, samples, rng))
                .collect(),
        }
    }

    /// Makes every prey `len` long (a new subset fraction): cut, or extended by uniform
    /// indices.
    pub fn resize(&mut self, len: usize, samples: usize, rng: &mut impl Rng) {
        for prey in &mut self.individuals {
            if prey.len() > len {
                prey.truncate(len);
            } else {
                let more = len - prey.len();
                prey.extend(random_indices(more, samples, rng));
            }
        }
    }

    /// The next generation: the fittest carried over, the rest children of tournament
    /// winners, crossed at two points in pairs and mutated by resampling indices.
    pub fn evolve(&mut self, fitness: &[f64], b: Breeding, samples: usize, rng: &mut impl Rng) {
        let count = self.individuals.len();
        let best = elites(fitness, 1)[0];
        let mut next = vec![self.individuals[best].clone()];
        while next.len() < count {
            let mut x = self.individuals[genetic::tournament(fitness, b.tournament, rng)].clone();
            let mut y = self.individuals[genetic::tournament(fitness, b.tournament, rng)].clone();
            if rng.random::<f64>() < b.crossover {
                two_point(&mut x, &mut y, rng);
            }
            for child in [x, y] {
                if next.len() < count {
                    next.push(mutate_indices(child, b.mutation, samples, rng));
                }
            }
        }
        self.individuals = next;
    }
}

fn random_indices(len: usize, samples: usize, rng: &mut impl Rng) -> Vec<u32> {
    (0..len)
        .map(|_| rng.random_range(0..samples) as u32)
        .collect()
}

fn mutate_indices(mut prey: Vec<u32>, rate: f64, samples: usize, rng: &mut impl Rng) -> Vec<u32> {
    for gene in &mut prey {
        if rng.random::<f64>() < rate {
            *gene = rng.random_range(0..samples) as u32;
        }
    }
    prey
}

/// Prey as bit masks over every training sample, with each sample's smoothed miss rate
/// (Zheng, Lan & Castellani's wrapper).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaskPopulation {
    /// One mask per prey.
    pub masks: Vec<BitVec>,
    /// Each sample's smoothed miss rate f, from the training passes that reached it.
    pub smoothed: Vec<f32>,
}

impl MaskPopulation {
    /// `count` masks whose union expresses about `fraction` of `samples`: each bit is set
    /// with probability 1 − (1 − fraction)^(1/count). `smoothed` starts at what is known.
    pub fn random(count: usize, fraction: f64, smoothed: Vec<f32>, rng: &mut impl Rng) -> Self {
        let samples = smoothed.len();
        let density = 1.0 - (1.0 - fraction).powf(1.0 / count.max(1) as f64);
        let masks = (0..count)
            .map(|_| {
                (0..samples)
                    .map(|_| rng.random::<f64>() < density)
                    .collect()
            })
            .collect();
        Self { masks, smoothed }
    }

    /// The samples `mask` expresses.
    pub fn expressed(mask: &BitVec) -> Vec<u32> {
        mask.iter()
            .enumerate()
            .filter(|&(_, on)| on)
            .map(|(i, _)| i as u32)
            .collect()
    }

    /// The samples any mask expresses, in order: the epoch's training set.
    pub fn union(&self) -> Vec<u32> {
        let mut all = BitVec::from_elem(self.smoothed.len(), false);
        for mask in &self.masks {
            all.or(mask);
        }
        Self::expressed(&all)
    }

    /// The mean smoothed miss rate of the samples `mask` expresses (0 when none).
    pub fn mean_smoothed(&self, expressed: &[u32]) -> f64 {
        let total: f64 = expressed
            .iter()
            .map(|&i| f64::from(self.smoothed[i as usize]))
            .sum();
        total / expressed.len().max(1) as f64
    }

    /// f ← s·f + (1 − s)·miss for each sample a training pass measured (`loss` finite).
    pub fn observe(&mut self, samples: &[u32], loss: &[f32], correct: &[bool], smoothing: f64) {
        let s = smoothing as f32;
        for ((&i, &l), &right) in samples.iter().zip(loss).zip(correct) {
            if l.is_finite() {
                let miss = if right { 0.0 } else { 1.0 };
                let f = &mut self.smoothed[i as usize];
                *f = s * *f + (1.0 - s) * miss;
            }
        }
    }

    /// Clears, in every mask, the samples whose smoothed miss rate is below `threshold`;
    /// returns how many samples were forgotten.
    pub fn forget(&mut self, threshold: f64) -> usize {
        let learnt: Vec<usize> = (0..self.smoothed.len())
            .filter(|&i| f64::from(self.smoothed[i]) < threshold)
            .collect();
        for mask in &mut self.masks {
            for &i in &learnt {
                mask.set(i, false);
            }
        }
        learnt.len()
    }

    /// The next generation: one elite, the rest children of parents drawn by roulette or
    /// rank, crossed at two points and mutated by bit flips.
    pub fn evolve<R: Rng>(&mut self, fitness: &[f64], b: Breeding, rng: &mut R) {
        let count = self.masks.len();
        let pick = |rng: &mut R| match b.parents {
            ParentSelection::Roulette => genetic::roulette(fitness, rng),
            ParentSelection::Rank => genetic::rank(fitness, rng),
        };
        let mut next = vec![self.masks[elites(fitness, 1)[0]].clone()];
        while next.len() < count {
            let mut x = self.masks[pick(rng)].clone();
            let mut y = self.masks[pick(rng)].clone();
            if rng.random::<f64>() < b.crossover {
                let (start, end) = cut_points(x.len(), rng);
                for i in start..end {
                    let (a, c) = (x[i], y[i]);
                    x.set(i, c);
                    y.set(i, a);
                }
            }
            for mut child in [x, y] {
                if next.len() < count {
                    flip_bits(&mut child, b.mutation, rng);
                    next.push(child);
                }
            }
        }
        self.masks = next;
    }
}

/// Flips each bit with probability `rate`, skipping to the next flip by a geometric draw so
/// that the cost is the flips', not the mask's length.
fn flip_bits(mask: &mut BitVec, rate: f64, rng: &mut impl Rng) {
    if rate <= 0.0 {
        return;
    }
    let len = mask.len();
    let log_keep = (1.0 - rate.min(1.0 - 1e-12)).ln();
    let mut i = 0usize;
    loop {
        // Bits up to the next flip: ⌊ln U / ln(1 − rate)⌋, geometric.
        let u: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
        let skip = (u.ln() / log_keep).floor();
        if !skip.is_finite() || skip >= (len - i) as f64 {
            return;
        }
        i += skip as usize;
        let bit = mask[i];
        mask.set(i, !bit);
        i += 1;
        if i >= len {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    fn breeding() -> Breeding {
        Breeding {
            tournament: 3,
            parents: ParentSelection::Rank,
            crossover: 0.9,
            mutation: 0.05,
        }
    }

    #[test]
    fn index_prey_keep_their_length_and_range_and_the_best_survives() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut pop = IndexPopulation::random(6, 10, 50, &mut rng);
        let fitness = [0.1, 0.2, 0.9, 0.3, 0.0, 0.5];
        let best = pop.individuals[2].clone();
        pop.evolve(&fitness, breeding(), 50, &mut rng);
        assert_eq!(pop.individuals.len(), 6);
        assert_eq!(pop.individuals[0], best);
        assert!(pop.individuals.iter().all(|p| p.len() == 10));
        assert!(pop.individuals.iter().flatten().all(|&i| i < 50));
        pop.resize(4, 50, &mut rng);
        assert!(pop.individuals.iter().all(|p| p.len() == 4));
        pop.resize(12, 50, &mut rng);
        assert!(pop.individuals.iter().all(|p| p.len() == 12));
    }

    #[test]
    fn a_random_mask_population_expresses_about_the_fraction() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let pop = MaskPopulation::random(10, 0.25, vec![1.0; 20_000], &mut rng);
        let share = pop.union().len() as f64 / 20_000.0;
        assert!((share - 0.25).abs() < 0.02, "{share}");
    }

    #[test]
    fn the_smoothed_miss_rate_moves_a_fifth_of_the_way_and_forgetting_clears_masks() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut pop = MaskPopulation::random(3, 0.9, vec![1.0, 0.5, 0.5], &mut rng);
        pop.observe(&[0, 1, 1], &[1.0, 2.0, f32::NAN], &[true, false, true], 0.8);
        assert!((pop.smoothed[0] - 0.8).abs() < 1e-6, "right: 0.8·1 + 0.2·0");
        assert!(
            (pop.smoothed[1] - 0.6).abs() < 1e-6,
            "missed: 0.8·0.5 + 0.2·1; NaN ignored"
        );
        assert_eq!(pop.smoothed[2], 0.5, "not trained");
        assert_eq!(pop.forget(0.55), 1);
        assert!(pop.masks.iter().all(|m| !m[2]));
    }

    #[test]
    fn bit_flips_happen_at_the_rate() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let mut mask = BitVec::from_elem(100_000, false);
        flip_bits(&mut mask, 0.01, &mut rng);
        let flipped = mask.iter().filter(|&b| b).count();
        assert!((900..1100).contains(&flipped), "{flipped}");
        let mut none = BitVec::from_elem(100, false);
        flip_bits(&mut none, 0.0, &mut rng);
        assert!(none.none());
    }

    #[test]
    fn mask_evolution_keeps_the_elite() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut pop = MaskPopulation::random(5, 0.5, vec![0.5; 200], &mut rng);
        let best = pop.masks[3].clone();
        pop.evolve(&[0.1, 0.2, 0.3, 0.9, 0.0], breeding(), &mut rng);
        assert_eq!(pop.masks[0], best);
        assert_eq!(pop.masks.len(), 5);
    }
}
