//! One offspring's mask: which of its parents' clusters and synapses it has, by the
//! probability model (evolution) or by the baselines' rules at given counts.

use coevo_sdk::PluginError;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::anatomy::{Anatomy, Layer};
use crate::config::{Counts, Level, Method};
use crate::environment::Factors;
use crate::probability::{self, Scores};

/// What a draw decided: the 0/1 mask over the whole parameter vector, and the survivors per
/// layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Drawn {
    /// 1 where the offspring keeps a value.
    #[serde(skip)]
    pub mask: Vec<f32>,
    /// Synapses kept per layer.
    pub synapses: Vec<usize>,
    /// Clusters kept per layer but the head (those that had any, when clusters are not
    /// sampled).
    pub clusters: Vec<usize>,
}

/// How survivors are chosen.
#[derive(Debug, Clone, Copy)]
pub struct Rule<'a> {
    /// The method.
    pub method: Method,
    /// The level.
    pub level: Level,
    /// This generation's factors.
    pub factors: &'a Factors,
    /// The counts given for this generation (baselines).
    pub counts: Option<&'a Counts>,
}

impl Rule<'_> {
    /// Survivors among one layer's items: `factor`'s samples, or the baseline's `k` with `k`
    /// given or expected under `factor`.
    fn choose(
        &self,
        parents: &[&Scores],
        factor: f64,
        given: Option<usize>,
        rng: &mut impl Rng,
    ) -> Vec<bool> {
        let k = || given.unwrap_or_else(|| probability::expected(parents, factor).round() as usize);
        match self.method {
            Method::Evolution => probability::sample(parents, factor, rng),
            Method::Magnitude | Method::Lottery => probability::strongest(parents[0], k()),
            Method::Random => probability::uniform(parents[0], k(), rng),
        }
    }
}

/// The counts list `name` of `counts`, checked to have one entry per layer.
fn per_layer<'a>(
    counts: Option<&'a Counts>,
    list: fn(&Counts) -> &Option<Vec<usize>>,
    name: &str,
    layers: usize,
) -> Result<Option<&'a [usize]>, PluginError> {
    match counts.and_then(|c| list(c).as_deref()) {
        Some(given) if given.len() != layers => Err(PluginError(format!(
            "config.counts: {} {name} counts for {layers} layers",
            given.len()
        ))),
        other => Ok(other),
    }
}

/// Draws an offspring of `parents` (flat vectors of `anatomy`'s network, the fitter first).
pub fn draw(
    anatomy: &Anatomy,
    parents: &[Vec<f32>],
    rule: &Rule<'_>,
    rng: &mut impl Rng,
) -> Result<Drawn, PluginError> {
    let hidden = anatomy.hidden().len();
    let cluster_counts = per_layer(rule.counts, |c| &c.clusters, "cluster", hidden)?;
    let synapse_counts = per_layer(
        rule.counts,
        |c| &c.synapses,
        "synapse",
        anatomy.layers.len(),
    )?;
    // Dropped clusters are zeroed in these copies, so that synapse sampling sees them absent.
    let mut working: Vec<Vec<f32>> = parents.to_vec();
    if rule.level.clusters() {
        for (l, layer) in anatomy.hidden().iter().enumerate() {
            let scores: Vec<Scores> = working.iter().map(|p| Scores::clusters(layer, p)).collect();
            let refs: Vec<&Scores> = scores.iter().collect();
            let given = cluster_counts.map(|c| c[l]);
            let kept = rule.choose(&refs, rule.factors.cluster[l], given, rng);
            for (u, _) in kept.iter().enumerate().filter(|(_, k)| !**k) {
                for p in &mut working {
                    p[layer.row(u)].fill(0.0);
                }
            }
        }
    }
    let mut mask = vec![1.0f32; anatomy.params];
    let mut synapses = Vec::with_capacity(anatomy.layers.len());
    for (l, layer) in anatomy.layers.iter().enumerate() {
        let scores: Vec<Scores> = working.iter().map(|p| Scores::synapses(layer, p)).collect();
        let refs: Vec<&Scores> = scores.iter().collect();
        let kept = match rule.level.synapses() {
            true => {
                let given = synapse_counts.map(|c| c[l]);
                rule.choose(&refs, rule.factors.synapse[l], given, rng)
            }
            false => (0..scores[0].present.len())
                .map(|i| refs.iter().all(|s| s.present[i]))
                .collect(),
        };
        for (m, k) in mask[layer.weights()].iter_mut().zip(&kept) {
            *m = f32::from(u8::from(*k));
        }
        synapses.push(kept.iter().filter(|&&k| k).count());
        drop_empty_units(layer, &mut mask);
    }
    let clusters = (anatomy.hidden().iter())
        .map(|layer| {
            (0..layer.units)
                .filter(|&u| mask[layer.row(u)].contains(&1.0))
                .count()
        })
        .collect();
    Ok(Drawn {
        mask,
        synapses,
        clusters,
    })
}

/// A unit left without incoming synapses is a dropped cluster: its bias and batch norm go
/// too, so that it outputs exactly zero and compaction removes it.
fn drop_empty_units(layer: &Layer, mask: &mut [f32]) {
    for u in 0..layer.units {
        if !mask[layer.row(u)].contains(&1.0) {
            for &member in &layer.members {
                mask[member + u] = 0.0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::anatomy::tests::two_layers;

    fn factors(f: f64) -> Factors {
        Factors {
            synapse: vec![f; 2],
            cluster: vec![f; 1],
        }
    }

    #[test]
    fn a_dropped_cluster_takes_its_synapses_and_bias_and_absent_ones_stay_absent() {
        let anatomy = Anatomy::of(&two_layers()).unwrap();
        // Unit 1 of the first layer is weak; the head's second input weight is absent.
        let parent = vec![
            1., -2., 1.5, 0.01, 0.02, 0.01, 0.3, 0.4, 1., 0., 2., 1., 0.1, 0.2,
        ];
        let factors = factors(0.05);
        let rule = Rule {
            method: Method::Magnitude,
            level: Level::Cluster,
            factors: &factors,
            counts: Some(&Counts {
                synapses: None,
                clusters: Some(vec![1]),
            }),
        };
        let drawn = draw(
            &anatomy,
            &[parent],
            &rule,
            &mut ChaCha8Rng::seed_from_u64(1),
        )
        .unwrap();
        assert_eq!(
            drawn.mask,
            vec![1., 1., 1., 0., 0., 0., 1., 0., 1., 0., 1., 1., 1., 1.]
        );
        assert_eq!((drawn.synapses, drawn.clusters), (vec![3, 3], vec![1]));
    }

    #[test]
    fn evolution_never_revives_an_absent_synapse_across_generations() {
        let anatomy = Anatomy::of(&two_layers()).unwrap();
        let mut parent = vec![
            0.9, -0.5, 0.7, 0.8, 0.6, -0.4, 0.1, 0.1, 1., 0.5, -0.7, 0.3, 0.1, 0.1,
        ];
        let factors = factors(0.8);
        let rule = Rule {
            method: Method::Evolution,
            level: Level::Synapse,
            factors: &factors,
            counts: None,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..6 {
            let absent: Vec<usize> = (0..12).filter(|&i| parent[i] == 0.0).collect();
            let drawn = draw(&anatomy, &[parent.clone()], &rule, &mut rng).unwrap();
            assert!(
                absent.iter().all(|&i| drawn.mask[i] == 0.0),
                "{absent:?} {:?}",
                drawn.mask
            );
            // "Training": survivors move, absent values stay zero.
            for (v, m) in parent.iter_mut().zip(&drawn.mask) {
                *v = if *m == 0.0 { 0.0 } else { *v * 1.1 };
            }
        }
        assert!(parent[..6].iter().any(|v| *v != 0.0), "a layer keeps one");
    }

    #[test]
    fn counts_of_the_wrong_length_name_the_field() {
        let anatomy = Anatomy::of(&two_layers()).unwrap();
        let factors = factors(1.0);
        let rule = Rule {
            method: Method::Random,
            level: Level::Synapse,
            factors: &factors,
            counts: Some(&Counts {
                synapses: Some(vec![1, 2, 3]),
                clusters: None,
            }),
        };
        let error = draw(
            &anatomy,
            &[vec![1.0; 14]],
            &rule,
            &mut ChaCha8Rng::seed_from_u64(1),
        )
        .unwrap_err();
        assert!(error.0.contains("config.counts"), "{error}");
    }
}
