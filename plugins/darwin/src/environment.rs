//! The environmental factor of each layer: the script's `environment(generation, stats)`
//! hook, asked once per generation so that an edit applies from the next one, or by default
//! the factor under which each layer keeps the share of what it has that makes 20 times fewer
//! synapses in four generations ([`default_keep`]).

use coevo_sdk::serde_json::{Value, json};
use coevo_sdk::{Host, PluginError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::Level;

/// The script function that sets the environmental factors.
pub const ENVIRONMENT: &str = "environment";

/// The fold reduction the default environment reaches ...
pub const DEFAULT_FOLD: f64 = 20.0;
/// ... in this many generations.
pub const DEFAULT_GENERATIONS: f64 = 4.0;

/// The fraction of its items (synapses, clusters) a layer keeps per generation by default,
/// so that the network keeps `20^(-1/4)` of its synapses. A dropped cluster takes its row of
/// weights and the column the next layer reads it through, so a layer whose inputs and outputs
/// both keep a fraction `c` of their clusters keeps about `c²` of its synapses: clusters keep
/// the square root; at level `both`, clusters and the synapses within them each keep the cube
/// root.
pub fn default_keep(level: Level) -> f64 {
    let keep = DEFAULT_FOLD.powf(-1.0 / DEFAULT_GENERATIONS);
    match level {
        Level::Synapse => keep,
        Level::Cluster => keep.sqrt(),
        Level::Both => keep.cbrt(),
    }
}

/// One level's factors: one for every layer, or one per layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum PerLayer {
    /// The same factor in every layer.
    All(f64),
    /// A factor per layer (synapses: every convolution and linear layer; clusters: all but
    /// the head).
    Each(Vec<f64>),
}

/// What the hook returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Answer {
    /// The factor of every layer at every level sampled.
    All(f64),
    /// Factors by level.
    Levels(ByLevel),
}

/// Factors by level; a level left out keeps its default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ByLevel {
    /// Synapses' factors.
    #[serde(default)]
    pub synapse: Option<PerLayer>,
    /// Clusters' factors.
    #[serde(default)]
    pub cluster: Option<PerLayer>,
}

/// A generation's factors: per layer for synapses, per hidden layer for clusters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Factors {
    /// Per convolution and linear layer.
    pub synapse: Vec<f64>,
    /// Per layer but the head.
    pub cluster: Vec<f64>,
}

/// The factors of `generation`: the hook's answer to `(generation, stats)`, completed by
/// `default` where it says nothing, else `default`. `stats` carries `default` under
/// `defaults` (`default` is a keyword in Rhai).
pub fn factors(
    host: &Host,
    generation: usize,
    mut stats: Value,
    default: Factors,
) -> Result<Factors, PluginError> {
    stats["defaults"] = json!(default);
    let Some(answer) = host.call_hook(ENVIRONMENT, &json!([generation, stats]))? else {
        return Ok(default);
    };
    let wrong = |why: String| {
        PluginError(format!(
            "the {ENVIRONMENT} hook returned {answer} for generation {generation}: {why}"
        ))
    };
    let parsed: Answer =
        serde_json::from_value(answer.clone()).map_err(|e| wrong(e.to_string()))?;
    let (synapse, cluster) = match parsed {
        Answer::All(f) => (Some(PerLayer::All(f)), Some(PerLayer::All(f))),
        Answer::Levels(ByLevel { synapse, cluster }) => (synapse, cluster),
    };
    let resolve = |given: Option<PerLayer>, default: Vec<f64>, what: &str| match given {
        None => Ok(default),
        Some(PerLayer::All(f)) => Ok(vec![f; default.len()]),
        Some(PerLayer::Each(each)) if each.len() == default.len() => Ok(each),
        Some(PerLayer::Each(each)) => Err(wrong(format!(
            "{} {what} factors for {} layers",
            each.len(),
            default.len()
        ))),
    };
    let out = Factors {
        synapse: resolve(synapse, default.synapse, "synapse")?,
        cluster: resolve(cluster, default.cluster, "cluster")?,
    };
    match out
        .synapse
        .iter()
        .chain(&out.cluster)
        .find(|f| !(f.is_finite() && **f >= 0.0))
    {
        Some(f) => Err(wrong(format!("factor {f} is not a number ≥ 0"))),
        None => Ok(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_reaches_twenty_fold_in_four_generations() {
        // Synapses directly; clusters through their rows and columns; both through rows,
        // columns and the synapses within.
        let fold = |keep: f64, power: i32| keep.powi(4 * power) * 20.0;
        assert!((fold(default_keep(Level::Synapse), 1) - 1.0).abs() < 1e-12);
        assert!((fold(default_keep(Level::Cluster), 2) - 1.0).abs() < 1e-12);
        assert!((fold(default_keep(Level::Both), 3) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn answers_parse_as_one_factor_or_per_level() {
        let all: Answer = serde_json::from_value(json!(0.5)).unwrap();
        assert_eq!(all, Answer::All(0.5));
        let levels: Answer = serde_json::from_value(json!({"cluster": [0.1, 0.2]})).unwrap();
        assert_eq!(
            levels,
            Answer::Levels(ByLevel {
                synapse: None,
                cluster: Some(PerLayer::Each(vec![0.1, 0.2]))
            })
        );
        assert!(serde_json::from_value::<Answer>(json!({"synapses": 0.5})).is_err());
    }
}
