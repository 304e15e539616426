//! The config a script gives: the ensemble, the coupling's default strength, the training
//! recipe and what each epoch measures.

use coevo_sdk::serde_json::{Map, Value, json};
use coevo_sdk::{Augment, Combination, OptimizerConfig, Schedule};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A co-learning ensemble: its members, their coupling, the training recipe and what each
/// epoch measures.
// The host validates configs against the JSON Schema derived from this struct (the SDK's
// optimiser, schedule and augmentation field by field): its defaults, bounds and doc comments
// are the schema's. Kept whole in the plugin's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Networks trained together (N).
    #[serde(default = "default_members")]
    #[schemars(range(min = 1, max = 1000))]
    pub members: usize,
    /// Their architecture: a model spec, or `{"preset": name, "init": scheme}`.
    #[serde(default = "default_model")]
    #[schemars(with = "Map<String, Value>")]
    pub model: Value,
    /// β̄ = βN: without a `coupling` hook every pair is coupled with β = β̄ / N.
    #[serde(default)]
    pub beta_bar: f64,
    /// Passes over the training samples; one plugin step each.
    #[serde(default = "default_epochs")]
    #[schemars(range(min = 1))]
    pub epochs: usize,
    /// Samples per optimiser step.
    #[serde(default = "default_batch_size")]
    #[schemars(range(min = 2))]
    pub batch_size: usize,
    /// The optimiser (the paper's: SGD, lr 0.01, momentum 0.9, weight decay 5e-4).
    #[serde(default = "paper_optimizer")]
    pub optimizer: OptimizerConfig,
    /// The learning rate over all `epochs`, step by step: one schedule across the epochs'
    /// training calls.
    #[serde(default)]
    pub schedule: Schedule,
    /// Image augmentation of training batches.
    #[serde(default)]
    pub augment: Augment,
    /// How the ensemble combines its members in the metrics.
    #[serde(default)]
    pub combination: Combination,
    /// Training samples (a fixed random subset) on which training metrics are measured each
    /// epoch; 0 for all of them.
    #[serde(default = "default_eval_train_samples")]
    pub eval_train_samples: usize,
    /// Measure diversity, entropy, ReLU activity and weight spread on the validation split
    /// every epoch.
    #[serde(default = "default_true")]
    pub diagnostics: bool,
    /// Mixed into every seed, so that several ensembles in one run differ.
    #[serde(default)]
    pub seed: u64,
}

fn default_members() -> usize {
    5
}
fn default_model() -> Value {
    // The paper's network and initialisation.
    json!({ "preset": "lenet5", "init": "xavier" })
}
fn paper_optimizer() -> OptimizerConfig {
    OptimizerConfig::Sgd {
        lr: 0.01,
        momentum: 0.9,
        weight_decay: 5e-4,
        nesterov: false,
    }
}
fn default_epochs() -> usize {
    10
}
fn default_batch_size() -> usize {
    128
}
fn default_eval_train_samples() -> usize {
    2000
}
fn default_true() -> bool {
    true
}

impl Config {
    /// Checks what a JSON Schema cannot say (that a number is finite); the error names the
    /// field. Every bound it can say is on the fields above.
    pub fn validate(&self) -> Result<(), String> {
        if !self.beta_bar.is_finite() {
            return Err(format!(
                "config.beta_bar: {} is not a finite number",
                self.beta_bar
            ));
        }
        Ok(())
    }

    /// The default coupling of one pair: β̄ / N.
    pub fn uniform_beta(&self) -> f64 {
        self.beta_bar / self.members.max(1) as f64
    }
}

#[cfg(test)]
mod tests {
    use coevo_sdk::Algorithm;

    use crate::CoLearning;

    #[test]
    fn the_sdk_types_in_the_config_are_checked_field_by_field() {
        let schema = CoLearning::schema();
        let optimizer = &schema["properties"]["optimizer"];
        assert_eq!(optimizer["default"]["lr"], 0.01);
        let sgd = &optimizer["oneOf"][0];
        assert_eq!(sgd["additionalProperties"], false);
        assert_eq!(sgd["properties"]["momentum"]["exclusiveMaximum"], 1.0);
        let augment = &schema["properties"]["augment"];
        assert_eq!(augment["properties"]["flip"]["type"], "boolean");
        assert!(schema["properties"]["schedule"]["oneOf"].is_array());
        assert_eq!(schema["properties"]["members"]["default"], 5);
        assert_eq!(schema["properties"]["model"]["type"], "object");
    }
}
