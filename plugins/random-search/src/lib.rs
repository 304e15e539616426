//! A (1+λ) random search: each generation perturbs the current model λ times and keeps the
//! best perturbation if it beats the current one. It is coevo's template plugin: an ask/tell
//! search in a few dozen lines, with the SDK doing evaluation, fitness, bookkeeping and
//! snapshots.

use coevo_sdk::serde_json::{Map, Value, json};
use coevo_sdk::{Host, ModelId, Noise, PluginError, Search, Searching, TrainSpec};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A (1+λ) random search: the starting model and the perturbations.
// The host validates configs against the JSON Schema derived from this struct: its defaults,
// bounds and doc comments are the schema's.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The architecture: a model spec or `{"preset": name}`.
    #[serde(default = "default_model")]
    #[schemars(with = "Map<String, Value>")]
    pub model: Value,
    /// Perturbations per generation (λ).
    #[serde(default = "default_population")]
    #[schemars(range(min = 1, max = 10000))]
    pub population: usize,
    /// Generations.
    #[serde(default = "default_generations")]
    pub generations: usize,
    /// Standard deviation of the perturbations.
    #[serde(default = "default_sigma")]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub sigma: f64,
    /// Training of the starting model before the search (none when absent).
    #[serde(default)]
    pub pretrain: Option<TrainSpec>,
}

fn default_model() -> Value {
    json!({ "preset": "mlp" })
}
fn default_population() -> usize {
    8
}
fn default_generations() -> usize {
    10
}
fn default_sigma() -> f64 {
    0.01
}

/// The search state: the current model and its fitness.
#[derive(Debug, Serialize, Deserialize)]
pub struct RandomSearch {
    population: usize,
    generations: usize,
    sigma: f64,
    current: ModelId,
    current_fitness: f64,
}

impl Search for RandomSearch {
    type Config = Config;
    const NAME: &'static str = "random-search";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "(1+λ) random search over Gaussian weight perturbations";

    fn create(config: Config, host: &Host) -> Result<Self, PluginError> {
        let current =
            host.create_model(&config.model, host.derive_seed("random-search/init", 0))?;
        if let Some(spec) = &config.pretrain {
            host.train(&[current], spec, None)?;
        }
        Ok(Self {
            population: config.population,
            generations: config.generations,
            sigma: config.sigma,
            current,
            current_fitness: f64::NEG_INFINITY,
        })
    }

    fn generations(&self) -> usize {
        self.generations
    }

    fn ask(&mut self, host: &Host, generation: usize) -> Result<Vec<ModelId>, PluginError> {
        (0..self.population)
            .map(|i| {
                let candidate = host.clone_model(self.current)?;
                let seed = host.derive_seed(
                    "random-search/noise",
                    (generation * self.population + i) as u64,
                );
                host.add_noise(
                    candidate,
                    Noise {
                        sigma: self.sigma,
                        probability: 1.0,
                        per_tensor: false,
                        seed,
                    },
                )?;
                Ok(candidate)
            })
            .collect()
    }

    fn tell(
        &mut self,
        host: &Host,
        candidates: &[ModelId],
        fitness: &[f64],
    ) -> Result<(), PluginError> {
        let best = (0..candidates.len()).max_by(|&a, &b| fitness[a].total_cmp(&fitness[b]));
        for (i, &candidate) in candidates.iter().enumerate() {
            if Some(i) == best && fitness[i] > self.current_fitness {
                host.free_model(self.current)?;
                self.current = candidate;
                self.current_fitness = fitness[i];
            } else {
                host.free_model(candidate)?;
            }
        }
        Ok(())
    }
}

coevo_sdk::export_plugin!(Searching<RandomSearch>);

#[cfg(test)]
mod tests {
    use coevo_sdk::testing::MockHost;

    use super::*;

    #[test]
    fn climbs_towards_the_mock_optimum_and_frees_what_it_drops() {
        let host = MockHost::new();
        let mut search = host
            .instance::<Searching<RandomSearch>>(
                r#"{"model": {"params": 16}, "population": 6, "generations": 30, "sigma": 0.1}"#,
            )
            .unwrap();
        let mut reports = Vec::new();
        loop {
            let report = search.step().unwrap();
            reports.push(report.metrics.clone());
            if report.done {
                break;
            }
        }
        let first = reports[0]["fitness_max"].as_f64().unwrap();
        let last = reports[reports.len() - 2]["best_fitness"].as_f64().unwrap();
        assert!(last > first, "fitness {first} -> {last}");
        // The current model and the best-so-far copy are all that remain.
        assert_eq!(host.live_models(), 2);
    }
}
