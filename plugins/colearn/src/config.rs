//! The config a script gives: the ensemble, the coupling's default strength, the training
//! recipe and what each epoch measures.

use coevo_sdk::serde_json::{Value, json};
use coevo_sdk::{Augment, Combination, OptimizerConfig, Schedule};
use serde::{Deserialize, Serialize};

/// The config, validated by the host against [`schema`]; kept whole in the plugin's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Networks trained together (N).
    #[serde(default = "default_members")]
    pub members: usize,
    /// Their architecture: a model spec, or `{"preset": name, "init": scheme}`.
    #[serde(default = "default_model")]
    pub model: Value,
    /// β̄ = βN: without a `coupling` hook every pair is coupled with β = β̄ / N.
    #[serde(default)]
    pub beta_bar: f64,
    /// Passes over the training samples; one plugin step each.
    #[serde(default = "default_epochs")]
    pub epochs: usize,
    /// Samples per optimiser step.
    #[serde(default = "default_batch_size")]
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
    /// Checks what the schema cannot say; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        if !self.beta_bar.is_finite() {
            return Err(format!(
                "config.beta_bar: {} is not a finite number",
                self.beta_bar
            ));
        }
        self.optimizer
            .validate()
            .map_err(|reason| format!("config.{reason}"))
    }

    /// The default coupling of one pair: β̄ / N.
    pub fn uniform_beta(&self) -> f64 {
        self.beta_bar / self.members.max(1) as f64
    }
}

/// JSON Schema of [`Config`].
pub fn schema() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "members": { "type": "integer", "minimum": 1, "maximum": 1000, "default": 5,
                         "description": "networks trained together (N)" },
            "model": { "type": "object", "description": "model spec or {\"preset\": name, \"init\": \"xavier\"}" },
            "beta_bar": { "type": "number", "default": 0.0,
                          "description": "β̄ = βN; each pair is coupled with β̄/N unless the coupling hook says otherwise" },
            "epochs": { "type": "integer", "minimum": 1, "default": 10 },
            "batch_size": { "type": "integer", "minimum": 2, "default": 128 },
            "optimizer": { "type": "object", "description": "{\"type\": \"sgd\", \"lr\": 0.01, \"momentum\": 0.9, \"weight_decay\": 5e-4} or adam" },
            "schedule": { "type": "object", "description": "constant, step or cosine, over epochs" },
            "augment": { "type": "object", "description": "{\"crop_padding\": 4, \"flip\": true}" },
            "combination": { "enum": ["mean", "geometric_mean", "majority_vote"], "default": "mean" },
            "eval_train_samples": { "type": "integer", "minimum": 0, "default": 2000,
                                    "description": "training samples measured each epoch (0: all)" },
            "diagnostics": { "type": "boolean", "default": true,
                             "description": "JS divergences, entropy histograms, inactive ReLUs and weight spread each epoch" },
            "seed": { "type": "integer", "minimum": 0, "default": 0 }
        }
    })
}
