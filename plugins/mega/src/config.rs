//! The config a script gives, and the settings it resolves to.
//!
//! The paper's text and its authors' code differ in several choices; `reading` picks one set
//! of defaults and every field can still be set on its own.

use coevo_sdk::ModelId;
use coevo_sdk::serde_json::{Value, json};
use serde::{Deserialize, Serialize};

/// Which description of MeGA the defaults follow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reading {
    /// Algorithm 1 of the paper: a blend coefficient for every weight, mutation of every
    /// weight with probability `mutation_rate`.
    #[default]
    Paper,
    /// The authors' public code: one coefficient per child for the whole network, mutation
    /// decided per weight tensor with N(0, 0.1).
    Code,
}

/// How many blend coefficients a child gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    /// One for the whole network.
    Whole,
    /// One per parametric layer.
    Layer,
    /// One per weight.
    Element,
}

/// What a mutation coin decides over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MutationScope {
    /// Each weight on its own.
    Element,
    /// Each weight tensor as a whole.
    Tensor,
}

/// The config, validated by the host against [`schema`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The trained models to merge (two or more, one architecture); the script keeps them.
    pub parents: Vec<ModelId>,
    #[serde(default)]
    pub reading: Reading,
    /// Individuals per generation (N).
    #[serde(default = "default_population")]
    pub population: usize,
    /// Generations per merge (G).
    #[serde(default = "default_generations")]
    pub generations: usize,
    /// Parents chosen by tournament each generation (K).
    #[serde(default = "default_selected")]
    pub selected: usize,
    /// Probability of mutating a weight (or a tensor) (p_mut).
    #[serde(default = "default_mutation_rate")]
    pub mutation_rate: f64,
    pub sigma: Option<f64>,
    pub tournament: Option<usize>,
    pub elites: Option<usize>,
    pub granularity: Option<Granularity>,
    pub mutation: Option<MutationScope>,
    /// Align each pair by weight matching before blending it.
    #[serde(default)]
    pub align: bool,
    /// Mixed into every random draw, so several searches in one run differ.
    #[serde(default)]
    pub seed: u64,
}

fn default_population() -> usize {
    20
}
fn default_generations() -> usize {
    20
}
fn default_selected() -> usize {
    4
}
fn default_mutation_rate() -> f64 {
    0.02
}

/// Every choice of the search, resolved; part of its state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub population: usize,
    pub generations: usize,
    pub selected: usize,
    pub mutation_rate: f64,
    pub sigma: f64,
    pub tournament: usize,
    pub elites: usize,
    pub granularity: Granularity,
    pub mutation: MutationScope,
    pub align: bool,
    pub seed: u64,
}

impl Config {
    /// The settings, with the reading's defaults where a field is absent.
    pub fn settings(&self) -> Result<Settings, String> {
        let (granularity, mutation, sigma) = match self.reading {
            Reading::Paper => (Granularity::Element, MutationScope::Element, 0.01),
            Reading::Code => (Granularity::Whole, MutationScope::Tensor, 0.1),
        };
        let settings = Settings {
            population: self.population,
            generations: self.generations,
            selected: self.selected,
            mutation_rate: self.mutation_rate,
            sigma: self.sigma.unwrap_or(sigma),
            // The paper does not say; the code uses 3.
            tournament: self.tournament.unwrap_or(3),
            elites: self.elites.unwrap_or(1),
            granularity: self.granularity.unwrap_or(granularity),
            mutation: self.mutation.unwrap_or(mutation),
            align: self.align,
            seed: self.seed,
        };
        if settings.elites >= settings.population {
            return Err(format!(
                "config.elites: {} elites leave no room for children in a population of {}",
                settings.elites, settings.population
            ));
        }
        if self.parents.len() < 2 {
            return Err(format!(
                "config.parents: merging needs at least two models, found {}",
                self.parents.len()
            ));
        }
        Ok(settings)
    }
}

/// JSON Schema of [`Config`].
pub fn schema() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["parents"],
        "properties": {
            "parents": { "type": "array", "items": { "type": "integer", "minimum": 1 }, "minItems": 2,
                         "description": "ids of the trained models to merge, in order" },
            "reading": { "enum": ["paper", "code"], "default": "paper",
                         "description": "defaults of the paper's Algorithm 1 or of the authors' code" },
            "population": { "type": "integer", "minimum": 2, "maximum": 10000, "default": 20 },
            "generations": { "type": "integer", "minimum": 1, "default": 20,
                             "description": "generations per pairwise merge" },
            "selected": { "type": "integer", "minimum": 1, "default": 4,
                          "description": "parents chosen by tournament each generation (K)" },
            "mutation_rate": { "type": "number", "minimum": 0, "maximum": 1, "default": 0.02 },
            "sigma": { "type": "number", "minimum": 0, "description": "mutation standard deviation (paper 0.01, code 0.1)" },
            "tournament": { "type": "integer", "minimum": 1, "description": "tournament size (3)" },
            "elites": { "type": "integer", "minimum": 0, "description": "best individuals kept (1)" },
            "granularity": { "enum": ["whole", "layer", "element"], "description": "blend coefficients per child (paper: element, code: whole)" },
            "mutation": { "enum": ["element", "tensor"], "description": "mutation per weight or per tensor (paper: element, code: tensor)" },
            "align": { "type": "boolean", "default": false, "description": "weight-match each pair before blending" },
            "seed": { "type": "integer", "minimum": 0, "default": 0 }
        }
    })
}
