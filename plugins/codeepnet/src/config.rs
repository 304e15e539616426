//! The config a script gives: how knowledge passes, the pair's training budget, the search
//! space of architectures and the genetic algorithm over it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What the active network passes to the resting one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Transfer {
    /// The partner's trunk output, detached, is joined to the active network's head input:
    /// each network's head reads its own convolutions and the partner's.
    Features,
    /// At each swap, the tensors whose names and shapes match are copied from the network
    /// that trained to the one that starts: it restarts from that point.
    Weights,
    /// The network that trained is the teacher of the one that starts: its turn adds the
    /// squared difference from the teacher's predictions to its loss.
    Distill,
    /// Nothing: the two networks train in turns on their own (a control).
    None,
}

/// The architectures the search may propose.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchSpace {
    /// Convolution blocks per network, at least and at most.
    #[serde(default = "default_conv_layers")]
    pub conv_layers: [usize; 2],
    /// Filters a convolution may have.
    #[serde(default = "default_filters")]
    pub filters: Vec<usize>,
    /// Kernel lengths a convolution may have (odd, so that padding keeps the length).
    #[serde(default = "default_kernels")]
    pub kernels: Vec<usize>,
    /// Max-pooling windows after a convolution (1: none).
    #[serde(default = "default_pools")]
    pub pools: Vec<usize>,
    /// Hidden fully-connected layers per network, at least and at most.
    #[serde(default = "default_fc_layers")]
    pub fc_layers: [usize; 2],
    /// Units a hidden fully-connected layer may have.
    #[serde(default = "default_widths")]
    pub widths: Vec<usize>,
    /// Knowledge-transmission rates k (epochs per turn), at least and at most.
    #[serde(default = "default_rates")]
    pub rates: [usize; 2],
    /// Learning rates (Adam), at least and at most; drawn log-uniformly.
    #[serde(default = "default_lr")]
    pub lr: [f64; 2],
}

impl Default for SearchSpace {
    fn default() -> Self {
        Self {
            conv_layers: default_conv_layers(),
            filters: default_filters(),
            kernels: default_kernels(),
            pools: default_pools(),
            fc_layers: default_fc_layers(),
            widths: default_widths(),
            rates: default_rates(),
            lr: default_lr(),
        }
    }
}

/// A Co-DeepNet search.
// The host validates configs against the JSON Schema derived from this struct; its defaults,
// bounds and doc comments are the schema's. Kept whole in the plugin's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// What the active network passes on.
    #[serde(default = "default_transfer")]
    pub transfer: Transfer,
    /// Epochs the pair trains in all, the two networks' turns together; a single network
    /// given the same budget trains this many epochs.
    #[serde(default = "default_epochs")]
    #[schemars(range(min = 1))]
    pub epochs: usize,
    /// Chromosomes in the population.
    #[serde(default = "default_population")]
    #[schemars(range(min = 2, max = 1000))]
    pub population: usize,
    /// Generations bred after the first.
    #[serde(default = "default_generations")]
    pub generations: usize,
    /// The best chromosomes carried over unchanged.
    #[serde(default = "default_elites")]
    pub elites: usize,
    /// Entrants per tournament.
    #[serde(default = "default_tournament")]
    #[schemars(range(min = 1))]
    pub tournament: usize,
    /// Probability that two parents are crossed.
    #[serde(default = "default_crossover")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub crossover: f64,
    /// Probability per gene of mutation, and per network of a layer added or removed.
    #[serde(default = "default_mutation")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub mutation: f64,
    /// The architectures the search may propose.
    #[serde(default)]
    pub space: SearchSpace,
    /// Samples per optimiser step.
    #[serde(default = "default_batch_size")]
    #[schemars(range(min = 2))]
    pub batch_size: usize,
    /// Weight of the teacher term (`transfer: distill`).
    #[serde(default = "default_distill_weight")]
    #[schemars(range(min = 0.0))]
    pub distill_weight: f64,
    /// Dropout before each hidden fully-connected layer (0: none).
    #[serde(default)]
    #[schemars(range(min = 0.0, max = 0.9))]
    pub dropout: f64,
    /// Adam's L2 weight decay.
    #[serde(default)]
    #[schemars(range(min = 0.0))]
    pub weight_decay: f64,
    /// Mixed into every seed, so that several runs in one experiment differ.
    #[serde(default)]
    pub seed: u64,
}

fn default_transfer() -> Transfer {
    Transfer::Features
}
fn default_epochs() -> usize {
    40
}
fn default_population() -> usize {
    10
}
fn default_generations() -> usize {
    4
}
fn default_elites() -> usize {
    1
}
fn default_tournament() -> usize {
    3
}
fn default_crossover() -> f64 {
    0.9
}
fn default_mutation() -> f64 {
    0.15
}
fn default_batch_size() -> usize {
    32
}
fn default_distill_weight() -> f64 {
    1.0
}
fn default_conv_layers() -> [usize; 2] {
    [1, 3]
}
fn default_filters() -> Vec<usize> {
    vec![4, 8, 16]
}
fn default_kernels() -> Vec<usize> {
    vec![3, 5, 7, 9]
}
fn default_pools() -> Vec<usize> {
    vec![1, 2, 4]
}
fn default_fc_layers() -> [usize; 2] {
    [0, 2]
}
fn default_widths() -> Vec<usize> {
    vec![16, 32, 64]
}
fn default_rates() -> [usize; 2] {
    [1, 5]
}
fn default_lr() -> [f64; 2] {
    [3e-4, 3e-3]
}

impl Config {
    /// Checks what the schema cannot say; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        let s = &self.space;
        let range = |name: &str, [lo, hi]: [usize; 2], min: usize| match lo >= min && lo <= hi {
            true => Ok(()),
            false => Err(format!(
                "config.space.{name}: [{lo}, {hi}] must be a range with at least {min}"
            )),
        };
        range("conv_layers", s.conv_layers, 1)?;
        range("fc_layers", s.fc_layers, 0)?;
        range("rates", s.rates, 1)?;
        for (name, values) in [
            ("filters", &s.filters),
            ("kernels", &s.kernels),
            ("pools", &s.pools),
            ("widths", &s.widths),
        ] {
            if values.is_empty() || values.contains(&0) {
                return Err(format!(
                    "config.space.{name}: {values:?} must list positive values"
                ));
            }
        }
        if let Some(k) = s.kernels.iter().find(|k| *k % 2 == 0) {
            return Err(format!(
                "config.space.kernels: {k} is even; kernels are odd so that padding keeps the length"
            ));
        }
        let [lo, hi] = s.lr;
        if !(lo > 0.0 && lo <= hi && hi.is_finite()) {
            return Err(format!(
                "config.space.lr: [{lo}, {hi}] must be a positive range"
            ));
        }
        if self.elites >= self.population {
            return Err(format!(
                "config.elites: {} elites leave no room in a population of {}",
                self.elites, self.population
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use coevo_sdk::Algorithm;
    use serde_json::json;

    use super::*;
    use crate::CoDeepNet;

    #[test]
    fn the_schema_has_the_defaults_and_checks_name_the_field() {
        let schema = CoDeepNet::schema();
        assert_eq!(schema["properties"]["transfer"]["default"], "features");
        assert_eq!(schema["properties"]["population"]["default"], 10);
        let config: Config = serde_json::from_value(json!({})).unwrap();
        assert_eq!(config.validate(), Ok(()));
        for (bad, field) in [
            (
                json!({"space": {"kernels": [3, 4]}}),
                "config.space.kernels",
            ),
            (
                json!({"space": {"conv_layers": [0, 2]}}),
                "config.space.conv_layers",
            ),
            (json!({"space": {"lr": [0.1, 0.01]}}), "config.space.lr"),
            (json!({"elites": 10}), "config.elites"),
        ] {
            let config: Config = serde_json::from_value(bad).unwrap();
            let error = config.validate().unwrap_err();
            assert!(error.contains(field), "{error}");
        }
    }
}
