//! Drawing, crossing and mutating chromosomes. Every operator returns a valid chromosome: an
//! offspring that breaks a rule (pooling that leaves nothing of the input, say) is drawn again,
//! and after a few failed draws the first parent is kept.

use rand::Rng;
use rand::seq::IndexedRandom;

use crate::chromosome::{Chromosome, ConvGene, NetGenes};
use crate::config::SearchSpace;

/// Draws before an operator gives up and keeps its first parent.
const ATTEMPTS: usize = 20;

fn pick(values: &[usize], rng: &mut impl Rng) -> usize {
    values.choose(rng).copied().unwrap_or(1)
}

fn conv_gene(space: &SearchSpace, rng: &mut impl Rng) -> ConvGene {
    ConvGene {
        filters: pick(&space.filters, rng),
        kernel: pick(&space.kernels, rng),
        pool: pick(&space.pools, rng),
    }
}

fn log_uniform([lo, hi]: [f64; 2], rng: &mut impl Rng) -> f64 {
    (lo.ln() + rng.random::<f64>() * (hi.ln() - lo.ln())).exp()
}

fn random_net(space: &SearchSpace, rng: &mut impl Rng) -> NetGenes {
    let conv = rng.random_range(space.conv_layers[0]..=space.conv_layers[1]);
    let fc = rng.random_range(space.fc_layers[0]..=space.fc_layers[1]);
    NetGenes {
        conv: (0..conv).map(|_| conv_gene(space, rng)).collect(),
        fc: (0..fc).map(|_| pick(&space.widths, rng)).collect(),
    }
}

/// A uniformly drawn valid chromosome for inputs of `length` positions.
pub fn random(
    space: &SearchSpace,
    length: usize,
    rng: &mut impl Rng,
) -> Result<Chromosome, String> {
    for _ in 0..ATTEMPTS * 5 {
        let candidate = Chromosome {
            nets: [random_net(space, rng), random_net(space, rng)],
            k: rng.random_range(space.rates[0]..=space.rates[1]),
            lr: log_uniform(space.lr, rng),
        };
        if candidate.validate(space, length).is_ok() {
            return Ok(candidate);
        }
    }
    Err(format!(
        "no valid architecture found for inputs of {length} positions: the search space's pools \
         {:?} over {} blocks leave nothing; allow smaller pools or fewer blocks",
        space.pools, space.conv_layers[1]
    ))
}

/// The two-step crossover. First whole blocks are swapped between the parents, each with
/// probability ½: one network entirely, or its convolution part, or its fully-connected part,
/// and the cooperation genes (k, learning rate). Then genes are mixed finely within blocks:
/// each convolution gene at a position both parents' networks have, and each hidden width,
/// comes from either parent.
pub fn crossover(
    a: &Chromosome,
    b: &Chromosome,
    space: &SearchSpace,
    length: usize,
    rng: &mut impl Rng,
) -> (Chromosome, Chromosome) {
    for _ in 0..ATTEMPTS {
        let (mut x, mut y) = (a.clone(), b.clone());
        for net in 0..2 {
            match rng.random_range(0..4) {
                0 => std::mem::swap(&mut x.nets[net], &mut y.nets[net]),
                1 => std::mem::swap(&mut x.nets[net].conv, &mut y.nets[net].conv),
                2 => std::mem::swap(&mut x.nets[net].fc, &mut y.nets[net].fc),
                _ => {}
            }
        }
        if rng.random_bool(0.5) {
            std::mem::swap(&mut x.k, &mut y.k);
            std::mem::swap(&mut x.lr, &mut y.lr);
        }
        for net in 0..2 {
            mix_within(&mut x.nets[net], &mut y.nets[net], rng);
        }
        if x.validate(space, length).is_ok() && y.validate(space, length).is_ok() {
            return (x, y);
        }
    }
    (a.clone(), b.clone())
}

/// Uniform crossover of the genes both networks have at the same place.
fn mix_within(x: &mut NetGenes, y: &mut NetGenes, rng: &mut impl Rng) {
    for (gx, gy) in x.conv.iter_mut().zip(y.conv.iter_mut()) {
        if rng.random_bool(0.5) {
            std::mem::swap(&mut gx.filters, &mut gy.filters);
        }
        if rng.random_bool(0.5) {
            std::mem::swap(&mut gx.kernel, &mut gy.kernel);
        }
        if rng.random_bool(0.5) {
            std::mem::swap(&mut gx.pool, &mut gy.pool);
        }
    }
    for (wx, wy) in x.fc.iter_mut().zip(y.fc.iter_mut()) {
        if rng.random_bool(0.5) {
            std::mem::swap(wx, wy);
        }
    }
}

/// Mutation: per network, with probability `rate` each, a convolution block and a hidden layer
/// is added or removed (depth); then every gene is redrawn with probability `rate` (widths,
/// kernels, pools, k; the learning rate moves by a log-normal factor).
pub fn mutate(
    parent: &Chromosome,
    rate: f64,
    space: &SearchSpace,
    length: usize,
    rng: &mut impl Rng,
) -> Chromosome {
    for _ in 0..ATTEMPTS {
        let mut c = parent.clone();
        for net in &mut c.nets {
            if rng.random_bool(rate) {
                let at = rng.random_range(0..=net.conv.len());
                match rng.random_bool(0.5) && net.conv.len() > space.conv_layers[0] {
                    true => {
                        net.conv.remove(at.min(net.conv.len() - 1));
                    }
                    false if net.conv.len() < space.conv_layers[1] => {
                        net.conv.insert(at, conv_gene(space, rng));
                    }
                    false => {}
                }
            }
            if rng.random_bool(rate) {
                let at = rng.random_range(0..=net.fc.len());
                match rng.random_bool(0.5) && net.fc.len() > space.fc_layers[0] {
                    true => {
                        net.fc.remove(at.min(net.fc.len() - 1));
                    }
                    false if net.fc.len() < space.fc_layers[1] => {
                        net.fc.insert(at, pick(&space.widths, rng));
                    }
                    false => {}
                }
            }
            for block in &mut net.conv {
                if rng.random_bool(rate) {
                    block.filters = pick(&space.filters, rng);
                }
                if rng.random_bool(rate) {
                    block.kernel = pick(&space.kernels, rng);
                }
                if rng.random_bool(rate) {
                    block.pool = pick(&space.pools, rng);
                }
            }
            for width in &mut net.fc {
                if rng.random_bool(rate) {
                    *width = pick(&space.widths, rng);
                }
            }
        }
        if rng.random_bool(rate) {
            c.k = rng.random_range(space.rates[0]..=space.rates[1]);
        }
        if rng.random_bool(rate) {
            let factor = (0.5 * (rng.random::<f64>() * 2.0 - 1.0)).exp();
            c.lr = (c.lr * factor).clamp(space.lr[0], space.lr[1]);
        }
        if c.validate(space, length).is_ok() {
            return c;
        }
    }
    parent.clone()
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn every_operator_keeps_chromosomes_valid_and_explores_depth() {
        let space = SearchSpace::default();
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        // A short input, where large pools easily leave nothing.
        let length = 24;
        let mut population: Vec<Chromosome> = (0..10)
            .map(|_| random(&space, length, &mut rng).unwrap())
            .collect();
        let mut depths = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let i = rng.random_range(0..population.len());
            let j = rng.random_range(0..population.len());
            let (x, y) = crossover(&population[i], &population[j], &space, length, &mut rng);
            let x = mutate(&x, 0.3, &space, length, &mut rng);
            for c in [&x, &y] {
                assert_eq!(c.validate(&space, length), Ok(()), "{c:?}");
                depths.insert(c.nets[0].conv.len());
            }
            population[i] = x;
            population[j] = y;
        }
        assert_eq!(depths.len(), 3, "1, 2 and 3 blocks all occur: {depths:?}");
    }

    #[test]
    fn crossover_swaps_whole_networks_and_mixes_genes_from_both_parents() {
        let space = SearchSpace::default();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let a = random(&space, 200, &mut rng).unwrap();
        let b = random(&space, 200, &mut rng).unwrap();
        let mut took_a_net_of_b = false;
        for _ in 0..50 {
            let (x, _) = crossover(&a, &b, &space, 200, &mut rng);
            took_a_net_of_b |= x.nets[0] == b.nets[0] || x.nets[1] == b.nets[1];
            // Every gene of the child is one of a parent's.
            for net in 0..2 {
                for g in &x.nets[net].conv {
                    let all = a.nets[net].conv.iter().chain(&b.nets[net].conv);
                    let seen = all.clone().any(|p| p.filters == g.filters)
                        && all.clone().any(|p| p.kernel == g.kernel)
                        && all.clone().any(|p| p.pool == g.pool);
                    assert!(seen, "{g:?} from neither parent");
                }
            }
        }
        assert!(took_a_net_of_b);
    }

    #[test]
    fn an_impossible_search_space_is_a_clear_error() {
        let space = SearchSpace {
            conv_layers: [3, 3],
            pools: vec![4],
            ..SearchSpace::default()
        };
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let error = random(&space, 10, &mut rng).unwrap_err();
        assert!(
            error.contains("10 positions") && error.contains("pools"),
            "{error}"
        );
    }
}
