//! The synaptic probability model: how likely a synapse or a cluster of the ancestor is to
//! survive into an offspring, and the choices the baselines make instead.
//!
//! Following Shafiee & Wong's cluster-driven encoding, an item (a synapse, or a cluster: a
//! unit's incoming synapses) of score `s` (its |w|, or its synapses' Σ|w|) in a layer whose
//! largest score is `Z` survives with `P = min(1, F · exp(s / Z − 1))`, `F` the environmental
//! factor. An absent item (score from weights that are all zero) has `P = 0`, so it never comes
//! back. With two parents (mating) the probabilities multiply.

use rand::Rng;
use rand::seq::index::sample as sample_indices;
use serde::{Deserialize, Serialize};

use crate::anatomy::Layer;

/// One layer's items at one level, as one parent holds them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// Each item's score (0 where absent).
    pub values: Vec<f64>,
    /// Whether each item is present.
    pub present: Vec<bool>,
    /// The largest score.
    pub z: f64,
}

impl Scores {
    fn new(values: Vec<f64>, present: Vec<bool>) -> Self {
        let z = values.iter().copied().fold(0.0, f64::max);
        Self { values, present, z }
    }

    /// `layer`'s synapses in `params`: each weight's magnitude.
    pub fn synapses(layer: &Layer, params: &[f32]) -> Self {
        let weights = &params[layer.weights()];
        Self::new(
            weights.iter().map(|w| f64::from(w.abs())).collect(),
            weights.iter().map(|w| *w != 0.0).collect(),
        )
    }

    /// `layer`'s clusters in `params`: each unit's Σ|w| over its incoming synapses.
    pub fn clusters(layer: &Layer, params: &[f32]) -> Self {
        let rows = (0..layer.units).map(|u| &params[layer.row(u)]);
        let (values, present) = rows
            .map(|row| {
                let sum: f64 = row.iter().map(|w| f64::from(w.abs())).sum();
                (sum, row.iter().any(|w| *w != 0.0))
            })
            .unzip();
        Self::new(values, present)
    }
}

/// `P = min(1, F · exp(s / Z − 1))`; 0 when the layer has nothing left (`Z = 0`).
pub fn survival(score: f64, z: f64, factor: f64) -> f64 {
    if z <= 0.0 {
        return 0.0;
    }
    (factor * (score / z - 1.0).exp()).clamp(0.0, 1.0)
}

/// Each item's probability of surviving: the product over the parents of theirs, 0 where any
/// parent lacks it.
pub fn probabilities(parents: &[&Scores], factor: f64) -> Vec<f64> {
    let n = parents.first().map_or(0, |p| p.values.len());
    (0..n)
        .map(|i| {
            parents.iter().fold(1.0, |p, s| match s.present[i] {
                true => p * survival(s.values[i], s.z, factor),
                false => 0.0,
            })
        })
        .collect()
}

/// Items expected to survive under `factor`.
pub fn expected(parents: &[&Scores], factor: f64) -> f64 {
    probabilities(parents, factor).iter().sum()
}

/// The factor under which the offspring is expected to keep a fraction `keep` of what the
/// first (fitter) parent has: the expectation grows with `F` and is every item all parents
/// share at `F = e` (where even a zero score survives), so bisection finds it. With two
/// parents the target is still a share of one parent's items, not of what both share: two
/// offspring drawn from one model share about `keep` of their items, so a share of the
/// intersection would shrink a mated line `keep` times faster each generation. When the
/// parents share less than the target, all they share survives (`F = e`).
pub fn calibrate(parents: &[&Scores], keep: f64) -> f64 {
    let had = parents
        .first()
        .map_or(0, |p| p.present.iter().filter(|&&k| k).count());
    let target = keep.clamp(0.0, 1.0) * had as f64;
    let (mut lo, mut hi) = (0.0, std::f64::consts::E);
    if expected(parents, hi) <= target {
        return hi;
    }
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        match expected(parents, mid) < target {
            true => lo = mid,
            false => hi = mid,
        }
    }
    0.5 * (lo + hi)
}

/// Each item survives with its probability under `factor`; a layer that had items keeps at
/// least one (its most probable, else its strongest), so that it still computes something.
pub fn sample(parents: &[&Scores], factor: f64, rng: &mut impl Rng) -> Vec<bool> {
    let p = probabilities(parents, factor);
    let mut kept: Vec<bool> = p
        .iter()
        .map(|&p| p > 0.0 && rng.random::<f64>() < p)
        .collect();
    if !kept.iter().any(|&k| k) {
        let shared = |i: &usize| parents.iter().all(|s| s.present[*i]);
        let rank = |i: &usize| (p[*i], parents[0].values[*i]);
        if let Some(i) = (0..p.len()).filter(shared).max_by(|a, b| {
            rank(a)
                .partial_cmp(&rank(b))
                .unwrap_or(std::cmp::Ordering::Equal)
        }) {
            kept[i] = true;
        }
    }
    kept
}

/// The `k` present items of largest score (the first among equals); at least one.
pub fn strongest(scores: &Scores, k: usize) -> Vec<bool> {
    let mut order: Vec<usize> = (0..scores.values.len())
        .filter(|&i| scores.present[i])
        .collect();
    order.sort_by(|&a, &b| {
        scores.values[b]
            .total_cmp(&scores.values[a])
            .then(a.cmp(&b))
    });
    let mut kept = vec![false; scores.values.len()];
    for &i in order.iter().take(k.max(1)) {
        kept[i] = true;
    }
    kept
}

/// `k` present items drawn uniformly; at least one.
pub fn uniform(scores: &Scores, k: usize, rng: &mut impl Rng) -> Vec<bool> {
    let present: Vec<usize> = (0..scores.values.len())
        .filter(|&i| scores.present[i])
        .collect();
    let mut kept = vec![false; scores.values.len()];
    let k = k.max(1).min(present.len());
    for j in sample_indices(rng, present.len(), k) {
        kept[present[j]] = true;
    }
    kept
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    fn scores(values: &[f64]) -> Scores {
        Scores::new(values.to_vec(), values.iter().map(|&v| v != 0.0).collect())
    }

    #[test]
    fn survival_is_the_papers_rule_computed_by_hand() {
        // Weights 0.5, −1.0, 0.25 and an absent one, F = 0.8: Z = 1.
        let layer = Layer {
            name: "0".into(),
            offset: 0,
            units: 2,
            fan_in: 2,
            positions: 1,
            members: vec![],
        };
        let s = Scores::synapses(&layer, &[0.5, -1.0, 0.25, 0.0]);
        let p = probabilities(&[&s], 0.8);
        let by_hand = [0.8 * (-0.5f64).exp(), 0.8, 0.8 * (-0.75f64).exp(), 0.0];
        for (a, b) in p.iter().zip(by_hand) {
            assert!((a - b).abs() < 1e-12, "{p:?} vs {by_hand:?}");
        }
        // Clusters: Σ|w| of rows [0.5, −1] and [0.25, 0] are 1.5 and 0.25; Z_c = 1.5.
        let c = Scores::clusters(&layer, &[0.5, -1.0, 0.25, 0.0]);
        let p = probabilities(&[&c], 2.0);
        assert!((p[0] - 1.0).abs() < 1e-12, "clipped at 1");
        assert!((p[1] - 2.0 * (0.25f64 / 1.5 - 1.0).exp()).abs() < 1e-12);
        // Mating multiplies the parents' probabilities.
        let other = scores(&[1.0, 1.0, 0.5, 0.5]);
        let both = probabilities(&[&s, &other], 0.8);
        assert!((both[2] - 0.8 * (-0.75f64).exp() * 0.8 * (-0.5f64).exp()).abs() < 1e-12);
        assert_eq!(both[3], 0.0, "absent in one parent: absent");
    }

    #[test]
    fn calibration_hits_the_kept_fraction_in_expectation() {
        let s = scores(
            &(1..=1000)
                .map(|i| f64::from(i) / 1000.0)
                .collect::<Vec<_>>(),
        );
        for keep in [0.05, 0.473, 0.9] {
            let f = calibrate(&[&s], keep);
            let kept = expected(&[&s], f) / 1000.0;
            assert!((kept - keep).abs() < 1e-6, "keep {keep}: {kept}");
        }
        assert_eq!(calibrate(&[&s], 1.0), std::f64::consts::E);
    }

    #[test]
    fn a_mated_pair_keeps_a_share_of_one_parent_not_of_what_both_share() {
        // Two parents of 1,000 items sharing the first 600: keeping 0.5 of the first parent
        // is 500 items, which the 600 shared ones can give.
        let values: Vec<f64> = (1..=1000).map(|i| f64::from(i) / 1000.0).collect();
        let a = scores(&values);
        let mut shared = values.clone();
        shared[600..].fill(0.0);
        let b = scores(&shared);
        let f = calibrate(&[&a, &b], 0.5);
        assert!((expected(&[&a, &b], f) - 500.0).abs() < 1e-6);
        // Keeping 0.7 (700) is more than they share: all 600 shared items survive.
        let f = calibrate(&[&a, &b], 0.7);
        assert_eq!(f, std::f64::consts::E);
        assert!((expected(&[&a, &b], f) - 600.0).abs() < 1e-9);
    }

    #[test]
    fn absent_items_never_come_back_and_a_layer_keeps_one() {
        let s = scores(&[0.0, 0.3, 0.0, 0.9, 0.2]);
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        for _ in 0..200 {
            let kept = sample(&[&s], 0.3, &mut rng);
            assert!(!kept[0] && !kept[2], "{kept:?}");
            assert!(kept.iter().any(|&k| k));
        }
        let none = sample(&[&s], 0.0, &mut rng);
        assert_eq!(
            none,
            vec![false, false, false, true, false],
            "the strongest stays"
        );
        let mut counted = 0;
        for _ in 0..2000 {
            counted += usize::from(sample(&[&s], 0.3, &mut rng)[1]);
        }
        let p = 0.3 * (0.3f64 / 0.9 - 1.0).exp();
        assert!((counted as f64 / 2000.0 - p).abs() < 0.03, "{counted}");
    }

    #[test]
    fn the_baselines_keep_exactly_k_present_items() {
        let s = scores(&[0.0, 0.3, 0.1, 0.9, 0.2]);
        assert_eq!(strongest(&s, 2), vec![false, true, false, true, false]);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..50 {
            let kept = uniform(&s, 3, &mut rng);
            assert_eq!(kept.iter().filter(|&&k| k).count(), 3);
            assert!(!kept[0]);
        }
        assert_eq!(strongest(&s, 0).iter().filter(|&&k| k).count(), 1);
    }
}
