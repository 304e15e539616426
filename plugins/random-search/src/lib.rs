//! A (1+λ) random search: coevo's template plugin, an ask/tell search; the SDK does the rest.

use coevo_sdk::serde_json::{Map, Value};
use coevo_sdk::{Host, ModelId, Noise, PluginError, Search, Searching};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Each generation perturbs the current model λ times and keeps the best if it is better.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The architecture: a model spec or `{"preset": name}`.
    pub model: Map<String, Value>,
    /// Perturbations per generation (λ).
    #[schemars(range(min = 1, max = 10000))]
    pub population: usize,
    /// Generations.
    pub generations: usize,
    /// Standard deviation of the perturbations.
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub sigma: f64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            model: Map::from_iter([("preset".into(), "mlp".into())]),
            population: 8,
            generations: 10,
            sigma: 0.01,
        }
    }
}

/// The config, and the current model with its fitness (none before the first generation).
#[derive(Debug, Serialize, Deserialize)]
pub struct RandomSearch {
    config: Config,
    current: (ModelId, Option<f64>),
}

impl Search for RandomSearch {
    type Config = Config;
    const NAME: &'static str = "random-search";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "(1+λ) random search over Gaussian weight perturbations";

    fn create(config: Config, host: &Host) -> Result<Self, PluginError> {
        let seed = host.derive_seed("random-search/init", 0);
        let current = (host.create_model(&config.model.clone().into(), seed)?, None);
        Ok(Self { config, current })
    }

    fn generations(&self) -> usize {
        self.config.generations
    }

    fn ask(&mut self, host: &Host, generation: usize) -> Result<Vec<ModelId>, PluginError> {
        let (n, sigma) = (self.config.population, self.config.sigma);
        let mut candidates = Vec::with_capacity(n);
        for i in 0..n {
            let seed = host.derive_seed("random-search/noise", (generation * n + i) as u64);
            candidates.push(host.clone_model(self.current.0)?);
            host.add_noise(candidates[i], Noise::gaussian(sigma, seed))?;
        }
        Ok(candidates)
    }

    fn tell(&mut self, host: &Host, ids: &[ModelId], fitness: &[f64]) -> Result<(), PluginError> {
        let best = (0..ids.len()).max_by(|&a, &b| fitness[a].total_cmp(&fitness[b]));
        if let Some(b) = best.filter(|&b| Some(fitness[b]) > self.current.1) {
            host.free_model(std::mem::replace(&mut self.current, (ids[b], Some(fitness[b]))).0)?;
        }
        ids.iter()
            .filter(|&&id| id != self.current.0)
            .try_for_each(|&id| Ok(host.free_model(id)?))
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
