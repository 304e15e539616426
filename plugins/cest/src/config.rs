//! The config a script gives: the predator, how each epoch's training samples are selected,
//! the genetic algorithm of the prey, the training recipe and the budget.

use coevo_sdk::serde_json::{Map, Value, json};
use coevo_sdk::{Augment, OptimizerConfig};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How each global epoch's training samples are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Selection {
    /// Co-evolved prey (see `encoding`).
    Cest,
    /// Every training sample, every epoch.
    Full,
    /// A fresh uniform sample (without repeats) of `fraction` of the data each epoch.
    Random,
    /// The `fraction` of samples with the highest loss under the current predator.
    TopLoss,
    /// Each sample kept with probability CDF(loss)^β (Jiang et al. 2019), β from `beta` or
    /// from `fraction` (β = 1/fraction − 1 keeps `fraction` of the data on average).
    SelectiveBackprop,
}

/// How a prey encodes its subset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// A fixed-length list of sample indices (`fraction` of the data, repeats allowed);
    /// fitness 1 − accuracy on it; tournament selection, two-point crossover, resampling
    /// mutation, `generations` generations per epoch; the predator trains on the best.
    Indices,
    /// A bit mask over all samples; the predator trains on the union of the population's
    /// masks; fitness the mean smoothed miss rate of the expressed samples, measured by the
    /// training pass itself; roulette or rank selection, two-point crossover, bit flips, one
    /// elite; one generation per epoch.
    Mask,
}

/// How the mask encoding picks parents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ParentSelection {
    /// In proportion to fitness.
    Roulette,
    /// In proportion to rank.
    #[default]
    Rank,
}

/// A CEST run, or one of its baselines, under one accounting.
// The host validates configs against the JSON Schema derived from this struct; its defaults,
// bounds and doc comments are the schema's. Kept whole in the plugin's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The predator's architecture: a model spec, or `{"preset": name}`.
    #[serde(default = "default_model")]
    #[schemars(with = "Map<String, Value>")]
    pub model: Value,
    /// How each epoch's training samples are chosen.
    #[serde(default = "default_selection")]
    pub selection: Selection,
    /// How a prey encodes its subset (for `selection: cest`).
    #[serde(default = "default_encoding")]
    pub encoding: Encoding,
    /// Global epochs at most (warm-up included); one plugin step each.
    #[serde(default = "default_epochs")]
    #[schemars(range(min = 1))]
    pub epochs: usize,
    /// Epochs on all training samples before selection starts (the report trains once on the
    /// full data first).
    #[serde(default = "default_warmup")]
    pub warmup_epochs: usize,
    /// Sample-gradients (samples back-propagated, repeats counted) the run may spend, warm-up
    /// included; the run stops when they are spent, its last subset cut to what is left.
    /// Absent: `epochs` epochs of the whole training set.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub budget: Option<u64>,
    /// The subset's share of the training set (a `subset_fraction` hook overrides it epoch by
    /// epoch); for `mask`, the share the first population's union expresses.
    #[serde(default = "default_fraction")]
    #[schemars(range(min = 0.0, max = 1.0), extend("exclusiveMinimum" = 0.0))]
    pub fraction: f64,
    /// Prey in the population.
    #[serde(default = "default_population")]
    #[schemars(range(min = 2, max = 10000))]
    pub population: usize,
    /// Prey generations per global epoch (`indices`; `mask` evolves one per epoch).
    #[serde(default = "default_generations")]
    #[schemars(range(min = 1))]
    pub generations: usize,
    /// Epochs between the `indices` encoding's passes over all training samples; in between,
    /// the values of the samples the predator trained on come from the training pass itself,
    /// and the others keep their last measured values. 1: a pass every epoch.
    #[serde(default = "default_refresh")]
    #[schemars(range(min = 1))]
    pub refresh_every: usize,
    /// Entrants per tournament (`indices`).
    #[serde(default = "default_tournament")]
    #[schemars(range(min = 1))]
    pub tournament: usize,
    /// Probability that two parents are crossed.
    #[serde(default = "default_crossover")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub crossover: f64,
    /// Probability per gene of mutation: an index resampled (`indices`), a bit flipped
    /// (`mask`). Absent: 0.05 for indices, one flip per 1,000 bits for masks.
    #[serde(default)]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub mutation: Option<f64>,
    /// Parent selection of the mask encoding.
    #[serde(default)]
    pub parent_selection: ParentSelection,
    /// Weight of the old value in the smoothed miss rate, f ← s·f + (1 − s)·miss (`mask`).
    #[serde(default = "default_smoothing")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub smoothing: f64,
    /// Samples whose smoothed miss rate falls below this are dropped from every mask (learnt
    /// and forgotten by the prey); absent: none are.
    #[serde(default)]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub forget_threshold: Option<f64>,
    /// Selective backprop's β (absent: 1/fraction − 1).
    #[serde(default)]
    #[schemars(range(min = 0.0))]
    pub beta: Option<f64>,
    /// Samples per optimiser step.
    #[serde(default = "default_batch_size")]
    #[schemars(range(min = 2))]
    pub batch_size: usize,
    /// The optimiser; its learning rate is the base of the schedule.
    #[serde(default = "default_optimizer")]
    pub optimizer: OptimizerConfig,
    /// Cosine-anneal the learning rate over the budget (by sample-gradients spent, so runs of
    /// any selection anneal alike), to `min_lr`; else constant.
    #[serde(default = "default_true")]
    pub cosine: bool,
    /// The cosine schedule's final learning rate.
    #[serde(default)]
    #[schemars(range(min = 0.0))]
    pub min_lr: f64,
    /// Training calls per epoch, each on a part of the epoch's subset: points of the
    /// training-loss curve, where a new subset's spike shows.
    #[serde(default = "default_loss_points")]
    #[schemars(range(min = 1, max = 1000))]
    pub loss_points: usize,
    /// Image augmentation of training batches.
    #[serde(default)]
    pub augment: Augment,
    /// Mixed into every seed, so that several runs in one experiment differ.
    #[serde(default)]
    pub seed: u64,
}

fn default_model() -> Value {
    json!({ "preset": "lenet5" })
}
fn default_selection() -> Selection {
    Selection::Cest
}
fn default_encoding() -> Encoding {
    Encoding::Indices
}
fn default_epochs() -> usize {
    30
}
fn default_warmup() -> usize {
    1
}
fn default_fraction() -> f64 {
    0.25
}
fn default_population() -> usize {
    20
}
fn default_generations() -> usize {
    5
}
fn default_refresh() -> usize {
    1
}
fn default_tournament() -> usize {
    3
}
fn default_crossover() -> f64 {
    0.9
}
fn default_smoothing() -> f64 {
    0.8
}
fn default_batch_size() -> usize {
    128
}
fn default_optimizer() -> OptimizerConfig {
    OptimizerConfig::Sgd {
        lr: 0.05,
        momentum: 0.9,
        weight_decay: 5e-4,
        nesterov: false,
    }
}
fn default_true() -> bool {
    true
}
fn default_loss_points() -> usize {
    4
}

impl Config {
    /// Checks what the schema cannot say; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        if self.warmup_epochs > self.epochs {
            return Err(format!(
                "config.warmup_epochs: {} warm-up epochs in a run of {}",
                self.warmup_epochs, self.epochs
            ));
        }
        if self.min_lr > self.optimizer.lr() {
            return Err(format!(
                "config.min_lr: {} is above the optimiser's learning rate {}",
                self.min_lr,
                self.optimizer.lr()
            ));
        }
        Ok(())
    }

    /// The per-gene mutation probability of the encoding.
    pub fn mutation_rate(&self) -> f64 {
        self.mutation.unwrap_or(match self.encoding {
            Encoding::Indices => 0.05,
            Encoding::Mask => 1e-3,
        })
    }

    /// The sample-gradients of the whole run for `train` training samples.
    pub fn total_budget(&self, train: usize) -> u64 {
        self.budget.unwrap_or((self.epochs * train) as u64).max(1)
    }

    /// The learning rate once `spent` of `total` sample-gradients are spent.
    pub fn lr(&self, spent: u64, total: u64) -> f64 {
        let base = self.optimizer.lr();
        if !self.cosine {
            return base;
        }
        let progress = (spent as f64 / total.max(1) as f64).min(1.0);
        self.min_lr + 0.5 * (base - self.min_lr) * (1.0 + (std::f64::consts::PI * progress).cos())
    }
}

#[cfg(test)]
mod tests {
    use coevo_sdk::Algorithm;

    use super::*;
    use crate::Cest;

    #[test]
    fn the_schema_has_the_defaults_and_bounds() {
        let schema = Cest::schema();
        let field = |name: &str| &schema["properties"][name];
        assert_eq!(field("selection")["default"], "cest");
        assert_eq!(field("encoding")["default"], "indices");
        assert_eq!(field("fraction")["default"], 0.25);
        assert_eq!(field("fraction")["exclusiveMinimum"], 0.0);
        assert_eq!(field("population")["minimum"], 2);
    }

    #[test]
    fn the_cosine_schedule_runs_over_the_budget() {
        let config: Config = serde_json::from_value(json!({"min_lr": 0.01})).unwrap();
        assert!((config.lr(0, 100) - 0.05).abs() < 1e-12);
        assert!((config.lr(50, 100) - 0.03).abs() < 1e-12);
        assert!((config.lr(100, 100) - 0.01).abs() < 1e-12);
        assert!(
            (config.lr(400, 100) - 0.01).abs() < 1e-12,
            "past the budget"
        );
        let bad: Config = serde_json::from_value(json!({"min_lr": 0.1})).unwrap();
        assert!(bad.validate().unwrap_err().contains("config.min_lr"));
    }
}
