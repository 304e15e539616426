//! The config a script gives, and the settings it resolves to.
//!
//! The paper's text and its authors' code differ in several choices; `reading` picks one set
//! of defaults and every field can still be set on its own. The config's JSON Schema is
//! derived from [`Config`], so every default and bound is stated once, here.

use coevo_sdk::ModelId;
use coevo_sdk::serde_json::{Value, json};
use schemars::{JsonSchema, Schema};
use serde::{Deserialize, Serialize};

/// Which description of MeGA the defaults follow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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

/// What a reading sets for the fields a config leaves out.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ReadingDefaults {
    pub sigma: f64,
    pub granularity: Granularity,
    pub mutation: MutationScope,
}

impl Reading {
    /// Its defaults.
    pub fn defaults(self) -> ReadingDefaults {
        match self {
            Self::Paper => ReadingDefaults {
                sigma: 0.01,
                granularity: Granularity::Element,
                mutation: MutationScope::Element,
            },
            Self::Code => ReadingDefaults {
                sigma: 0.1,
                granularity: Granularity::Whole,
                mutation: MutationScope::Tensor,
            },
        }
    }
}

/// How many blend coefficients a child gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MutationScope {
    /// Each weight on its own.
    Element,
    /// Each weight tensor as a whole.
    Tensor,
}

/// A MeGA merge: the models to merge and how the genetic search runs.
// The host validates configs against the JSON Schema derived from this struct: its defaults,
// bounds and doc comments are the schema's.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Ids of the trained models to merge, in order (two or more, one architecture); the
    /// script keeps them.
    #[schemars(length(min = 2), inner(range(min = 1)))]
    pub parents: Vec<ModelId>,
    /// Whose defaults apply to the fields left out: the paper's Algorithm 1 or the authors'
    /// code.
    #[serde(default)]
    pub reading: Reading,
    /// Individuals per generation (N).
    #[serde(default = "default_population")]
    #[schemars(range(min = 2, max = 10000))]
    pub population: usize,
    /// Generations per pairwise merge (G).
    #[serde(default = "default_generations")]
    #[schemars(range(min = 1))]
    pub generations: usize,
    /// Parents chosen by tournament each generation (K).
    #[serde(default = "default_selected")]
    #[schemars(range(min = 1))]
    pub selected: usize,
    /// Probability of mutating a weight (or a tensor) (p_mut).
    #[serde(default = "default_mutation_rate")]
    #[schemars(range(min = 0, max = 1))]
    pub mutation_rate: f64,
    /// Standard deviation of the Gaussian mutation.
    #[schemars(range(min = 0), transform = by_reading("sigma"))]
    pub sigma: Option<f64>,
    /// Individuals in each tournament.
    #[serde(default = "default_tournament")]
    #[schemars(range(min = 1))]
    pub tournament: usize,
    /// Best individuals carried over unchanged into the next generation.
    #[serde(default = "default_elites")]
    pub elites: usize,
    /// Blend coefficients per child.
    #[schemars(transform = by_reading("granularity"))]
    pub granularity: Option<Granularity>,
    /// Whether a mutation coin is tossed per weight or per weight tensor.
    #[schemars(transform = by_reading("mutation"))]
    pub mutation: Option<MutationScope>,
    /// Align each pair by weight matching before blending it.
    #[serde(default)]
    pub align: bool,
    /// Put the pair itself (α = 1 and α = 0) in generation 0 beside the random blends, so
    /// that a merge never ends below the better of its two parents on the scored split. Off in
    /// the paper.
    #[serde(default)]
    pub include_parents: bool,
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
/// The paper does not say; the authors' code uses 3.
fn default_tournament() -> usize {
    3
}
fn default_elites() -> usize {
    1
}

/// Adds to a field's description what each reading sets when the field is left out, read
/// from [`Reading::defaults`] so that the schema cannot tell another story.
fn by_reading(field: &'static str) -> impl FnMut(&mut Schema) {
    move |schema: &mut Schema| {
        let default = |reading: Reading| {
            let defaults = json!(reading.defaults());
            let value = &defaults[field];
            value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_owned)
        };
        let by_reading = format!(
            "Left out: {} by the paper, {} by the code.",
            default(Reading::Paper),
            default(Reading::Code)
        );
        let description = match schema.get("description").and_then(Value::as_str) {
            Some(text) => format!("{text} {by_reading}"),
            None => by_reading,
        };
        schema.insert("description".into(), description.into());
    }
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
    #[serde(default)]
    pub include_parents: bool,
    pub seed: u64,
}

impl Config {
    /// The settings, with the reading's defaults where a field is absent.
    pub fn settings(&self) -> Result<Settings, String> {
        let defaults = self.reading.defaults();
        let settings = Settings {
            population: self.population,
            generations: self.generations,
            selected: self.selected,
            mutation_rate: self.mutation_rate,
            sigma: self.sigma.unwrap_or(defaults.sigma),
            tournament: self.tournament,
            elites: self.elites,
            granularity: self.granularity.unwrap_or(defaults.granularity),
            mutation: self.mutation.unwrap_or(defaults.mutation),
            align: self.align,
            include_parents: self.include_parents,
            seed: self.seed,
        };
        // A bound between two fields, which the schema cannot state.
        if settings.elites >= settings.population {
            return Err(format!(
                "config.elites: {} elites leave no room for children in a population of {}",
                settings.elites, settings.population
            ));
        }
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use coevo_sdk::Search;

    use super::*;
    use crate::Mega;

    #[test]
    fn the_schema_states_the_defaults_and_bounds_of_the_struct() {
        let schema = Mega::schema();
        let field = |name: &str| schema["properties"][name].clone();
        assert_eq!(field("tournament")["default"], 3);
        assert_eq!(field("elites")["default"], 1);
        assert_eq!(field("population")["maximum"], 10000);
        assert_eq!(field("parents")["minItems"], 2);
        assert_eq!(field("parents")["items"]["minimum"], 1);
        assert_eq!(schema["required"], json!(["parents"]));
        let sigma = field("sigma")["description"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            sigma.ends_with("Left out: 0.01 by the paper, 0.1 by the code."),
            "{sigma}"
        );
        let granularity = field("granularity")["description"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            granularity.contains("element by the paper, whole by the code"),
            "{granularity}"
        );
    }
}
