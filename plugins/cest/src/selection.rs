//! The baselines' selection rules, as pure functions of per-sample losses and a random source.

use rand::Rng;

/// `count` distinct samples of `samples`, uniformly, in order.
pub fn random(count: usize, samples: usize, rng: &mut impl Rng) -> Vec<u32> {
    let mut picked: Vec<u32> = rand::seq::index::sample(rng, samples, count.min(samples))
        .into_iter()
        .map(|i| i as u32)
        .collect();
    picked.sort_unstable();
    picked
}

/// The `count` samples of highest loss (online batch selection's hardest first); a sample
/// without a loss ranks last.
pub fn top_loss(loss: &[f32], count: usize) -> Vec<u32> {
    let mut order = by_loss(loss);
    order.reverse();
    order.truncate(count);
    order.sort_unstable();
    order
}

/// Selective backprop (Jiang et al. 2019): each sample is kept with probability CDF(loss)^β,
/// the CDF being the share of samples whose loss is at most its own. For uniform ranks this
/// keeps 1/(β + 1) of the data on average.
pub fn selective_backprop(loss: &[f32], beta: f64, rng: &mut impl Rng) -> Vec<u32> {
    let n = loss.len();
    let mut cdf = vec![0f64; n];
    for (rank, &i) in by_loss(loss).iter().enumerate() {
        cdf[i as usize] = (rank + 1) as f64 / n as f64;
    }
    (0..n)
        .filter(|&i| rng.random::<f64>() < cdf[i].powf(beta))
        .map(|i| i as u32)
        .collect()
}

/// Samples from lowest loss to highest, those without a loss first (ties by index).
fn by_loss(loss: &[f32]) -> Vec<u32> {
    let key = |i: u32| {
        let l = loss[i as usize];
        if l.is_finite() { l } else { f32::NEG_INFINITY }
    };
    let mut order: Vec<u32> = (0..loss.len() as u32).collect();
    order.sort_by(|&a, &b| key(a).total_cmp(&key(b)).then(a.cmp(&b)));
    order
}

/// β that keeps `fraction` of the data on average.
pub fn beta_for(fraction: f64) -> f64 {
    (1.0 / fraction - 1.0).max(0.0)
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn top_loss_takes_the_hardest() {
        assert_eq!(top_loss(&[0.5, 3.0, f32::NAN, 2.0, 0.1], 2), vec![1, 3]);
    }

    #[test]
    fn random_subsets_are_distinct_and_sized() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let s = random(30, 100, &mut rng);
        assert_eq!(s.len(), 30);
        assert!(s.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn selective_backprop_keeps_its_share_and_favours_high_loss() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let loss: Vec<f32> = (0..20_000).map(|i| i as f32).collect();
        let kept = selective_backprop(&loss, beta_for(0.25), &mut rng);
        let share = kept.len() as f64 / 20_000.0;
        assert!((share - 0.25).abs() < 0.02, "{share}");
        let high = kept.iter().filter(|&&i| i >= 10_000).count();
        assert!(
            high as f64 > 0.8 * kept.len() as f64,
            "{high} of {}",
            kept.len()
        );
    }
}
