//! The config a script gives: the network, what is sampled and how, the offspring's training
//! budget, and the baselines' per-generation counts.

use coevo_sdk::serde_json::{Value, json};
use coevo_sdk::{ModelId, OptimizerConfig, Schedule};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How an offspring's synapses are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Evolutionary synthesis: each synapse (cluster) survives with the probability the
    /// ancestor's synaptic probability model and the environment give it.
    Evolution,
    /// Han et al. (2015): in each layer the synapses (clusters) of largest magnitude survive,
    /// as many as the evolution keeps (`counts`, or what the probability model expects).
    Magnitude,
    /// Frankle & Carbin's lottery ticket: the magnitude survivors, rewound to the ancestor's
    /// initial weights.
    Lottery,
    /// As many survivors as the magnitude baseline, drawn uniformly.
    Random,
}

/// What a sample keeps or drops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Single synapses (weights).
    Synapse,
    /// Whole clusters: a convolution's filter or a linear layer's unit, with its bias and
    /// batch norm, so that compaction removes it.
    Cluster,
    /// Clusters first, then synapses within the clusters that survive.
    Both,
}

impl Level {
    /// Whether clusters are sampled.
    pub fn clusters(self) -> bool {
        matches!(self, Level::Cluster | Level::Both)
    }

    /// Whether synapses are sampled.
    pub fn synapses(self) -> bool {
        matches!(self, Level::Synapse | Level::Both)
    }
}

/// One generation's survivors per sampled layer, for the baselines; a level's list holds one
/// count per layer (synapses: every convolution and linear layer; clusters: all but the head).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Counts {
    /// Synapses kept in each layer.
    #[serde(default)]
    pub synapses: Option<Vec<usize>>,
    /// Clusters kept in each layer but the head.
    #[serde(default)]
    pub clusters: Option<Vec<usize>>,
}

/// An evolutionary synthesis run.
// The host validates configs against the JSON Schema derived from this struct; its defaults,
// bounds and doc comments are the schema's. Kept whole in the plugin's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The ancestor's architecture: a model spec or `{"preset": name}`.
    #[serde(default = "default_model")]
    pub model: Value,
    /// Trained ancestors the script made (two when mating), used as they are instead of
    /// training new ones from `model`: several methods can then start from the same one. The
    /// run works on copies.
    #[serde(default)]
    pub ancestors: Vec<ModelId>,
    /// The given ancestor's weights before it trained, which the lottery rewinds to; needed
    /// by method `lottery` with `ancestors`.
    #[serde(default)]
    pub init: Option<ModelId>,
    /// How survivors are chosen.
    #[serde(default = "default_method")]
    pub method: Method,
    /// What is sampled.
    #[serde(default = "default_level")]
    pub level: Level,
    /// Generations of offspring after the ancestor.
    #[serde(default = "default_generations")]
    #[schemars(range(min = 1, max = 1000))]
    pub generations: usize,
    /// Offspring sampled and trained per generation; the fittest is the next ancestor.
    #[serde(default = "default_offspring")]
    #[schemars(range(min = 1, max = 1000))]
    pub offspring: usize,
    /// Two parents per offspring (Chung et al.'s mating): a synapse's survival is the product
    /// of both parents' probabilities, and the weights come from the fitter one. Generation 1
    /// mates two ancestors; later ones the two fittest offspring (`offspring` ≥ 2).
    #[serde(default)]
    pub mating: bool,
    /// Offspring keep their surviving weights (`true`) or start from a fresh initialisation
    /// under the same mask (`false`). The lottery baseline always rewinds.
    #[serde(default = "default_inherit")]
    pub inherit: bool,
    /// Epochs the ancestor trains.
    #[serde(default = "default_ancestor_epochs")]
    #[schemars(range(min = 1))]
    pub ancestor_epochs: usize,
    /// Epochs each offspring trains.
    #[serde(default = "default_epochs")]
    #[schemars(range(min = 0))]
    pub epochs: usize,
    /// Samples per optimiser step.
    #[serde(default = "default_batch_size")]
    #[schemars(range(min = 1))]
    pub batch_size: usize,
    /// The optimiser; by default the host's for the task.
    #[serde(default)]
    pub optimizer: Option<OptimizerConfig>,
    /// The offspring's optimiser, when it differs from the ancestor's (retraining from
    /// inherited weights usually wants a smaller learning rate); by default `optimizer`.
    #[serde(default)]
    pub offspring_optimizer: Option<OptimizerConfig>,
    /// The learning-rate schedule of each training call.
    #[serde(default)]
    pub schedule: Schedule,
    /// The baselines' survivors per generation (`counts[g - 1]` for generation g), e.g. an
    /// evolution run's; without it a baseline keeps what the probability model expects to
    /// survive under the environment.
    #[serde(default)]
    pub counts: Option<Vec<Counts>>,
    /// Forward passes over the validation split timed per generation, masked and compacted
    /// (the fastest is reported); 0 times nothing.
    #[serde(default = "default_timing_repeats")]
    #[schemars(range(min = 0, max = 100))]
    pub timing_repeats: usize,
    /// Mixed into every seed, so that several runs in one experiment differ.
    #[serde(default)]
    pub seed: u64,
}

fn default_model() -> Value {
    json!({"preset": "lenet5"})
}
fn default_method() -> Method {
    Method::Evolution
}
fn default_level() -> Level {
    Level::Synapse
}
fn default_generations() -> usize {
    6
}
fn default_offspring() -> usize {
    1
}
fn default_inherit() -> bool {
    true
}
fn default_ancestor_epochs() -> usize {
    10
}
fn default_epochs() -> usize {
    3
}
fn default_batch_size() -> usize {
    128
}
fn default_timing_repeats() -> usize {
    3
}

impl Config {
    /// Checks what the schema cannot say; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        if self.mating && self.method != Method::Evolution {
            return Err(format!(
                "config.mating: mating multiplies two probability models, which only \
                 method \"evolution\" samples from (method is {:?})",
                self.method
            ));
        }
        if self.mating && self.offspring < 2 && self.generations > 1 {
            return Err(format!(
                "config.offspring: mating needs two parents from each generation, so at least 2 \
                 offspring (found {})",
                self.offspring
            ));
        }
        let wanted = 1 + usize::from(self.mating);
        if !self.ancestors.is_empty() && self.ancestors.len() != wanted {
            return Err(format!(
                "config.ancestors: {} given, and this run starts from {wanted}",
                self.ancestors.len()
            ));
        }
        if self.method == Method::Lottery && !self.ancestors.is_empty() && self.init.is_none() {
            return Err(
                "config.init: the lottery rewinds to the ancestor's initial weights; \
                        give them with the ancestors"
                    .into(),
            );
        }
        if let Some(counts) = &self.counts {
            if self.method == Method::Evolution {
                return Err(
                    "config.counts: the evolution samples its survivors; counts are for \
                            the baselines (magnitude, lottery, random)"
                        .into(),
                );
            }
            if counts.len() < self.generations {
                return Err(format!(
                    "config.counts: {} generations of counts for {} generations",
                    counts.len(),
                    self.generations
                ));
            }
        }
        Ok(())
    }

    /// The counts given for generation `generation` (1-based), if any.
    pub fn counts_for(&self, generation: usize) -> Option<&Counts> {
        self.counts.as_ref()?.get(generation.checked_sub(1)?)
    }
}

#[cfg(test)]
mod tests {
    use coevo_sdk::Algorithm;
    use serde_json::json;

    use super::*;
    use crate::Darwin;

    #[test]
    fn the_schema_has_the_defaults_and_checks_name_the_field() {
        let schema = Darwin::schema();
        assert_eq!(schema["properties"]["method"]["default"], "evolution");
        assert_eq!(schema["properties"]["generations"]["default"], 6);
        let config: Config = serde_json::from_value(json!({})).unwrap();
        assert_eq!(config.validate(), Ok(()));
        for (bad, field) in [
            (
                json!({"mating": true, "method": "magnitude"}),
                "config.mating",
            ),
            (json!({"mating": true, "offspring": 1}), "config.offspring"),
            (json!({"ancestors": [1, 2]}), "config.ancestors"),
            (
                json!({"ancestors": [1], "method": "lottery"}),
                "config.init",
            ),
            (
                json!({"counts": [{"synapses": [1]}], "method": "evolution"}),
                "config.counts",
            ),
            (
                json!({"counts": [{"synapses": [1]}], "method": "magnitude"}),
                "config.counts",
            ),
        ] {
            let config: Config = serde_json::from_value(bad).unwrap();
            let error = config.validate().unwrap_err();
            assert!(error.contains(field), "{error}");
        }
    }
}
