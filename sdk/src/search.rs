//! Ask/tell searches: a strategy proposes candidates and is told their fitness; the SDK does
//! the rest once for every strategy.
//!
//! A [`Search`] materialises its candidates in the host (blends, noise: host-owned models) and
//! returns their ids. [`Searching`] evaluates the whole population in one host call (so the
//! host batches it on its device), turns metrics into fitness through the script's `fitness`
//! hook or the default (validation accuracy; minus MAE for regression), treats NaN as the worst
//! fitness, keeps the best model of all generations, counts generations, logs, and snapshots
//! all of it with the strategy's own state.

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::algorithm::{Algorithm, HookInfo, PluginError, StepReport};
use crate::ffi::ModelId;
use crate::host::Host;
use crate::metrics::{EvalSpec, Metrics, Task};

/// A population-based search, driven by [`Searching`]. Its state is serialisable, so its
/// snapshot and restore come for free (see [`Algorithm`]).
pub trait Search: Serialize + DeserializeOwned + Sized + 'static {
    /// Its config.
    type Config: DeserializeOwned + JsonSchema;
    /// Short name.
    const NAME: &'static str;
    /// Version.
    const VERSION: &'static str;
    /// One line.
    const DESCRIPTION: &'static str;

    /// JSON Schema of the config: by default derived from [`Search::Config`].
    fn schema() -> Value {
        crate::schema::of::<Self::Config>()
    }

    /// Hooks it calls besides `fitness`, which [`Searching`] calls.
    fn hooks() -> Vec<HookInfo> {
        Vec::new()
    }

    /// A new strategy.
    fn create(config: Self::Config, host: &Host) -> Result<Self, PluginError>;

    /// Generations to run.
    fn generations(&self) -> usize;

    /// Proposes this generation's candidates, materialised as host models.
    fn ask(&mut self, host: &Host, generation: usize) -> Result<Vec<ModelId>, PluginError>;

    /// Told each candidate's fitness (higher is better; never NaN). The strategy owns the
    /// candidates and frees those it does not keep.
    fn tell(
        &mut self,
        host: &Host,
        candidates: &[ModelId],
        fitness: &[f64],
    ) -> Result<(), PluginError>;

    /// The strategy's own state (by default the serialised strategy).
    fn snapshot(&self) -> Result<Value, PluginError> {
        Ok(serde_json::to_value(self)?)
    }

    /// Continues from [`Search::snapshot`]'s state (by default, the deserialised strategy
    /// replaces this one).
    fn restore(&mut self, snapshot: Value, _host: &Host) -> Result<(), PluginError> {
        *self = serde_json::from_value(snapshot)?;
        Ok(())
    }

    /// Fields of the strategy's own added to the final result (a JSON object), e.g. the
    /// model a hierarchical merge ends with; none by default.
    fn result(&self) -> Value {
        Value::Null
    }
}

/// The best candidate of all generations so far.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Best {
    /// A copy of it, owned by the search.
    pub model: ModelId,
    /// Its fitness.
    pub fitness: f64,
    /// The generation it appeared in.
    pub generation: usize,
}

/// A [`Search`] with the bookkeeping every search shares; this is the [`Algorithm`] exported.
/// Its snapshot keeps the strategy's own (so a strategy's restore checks still run).
#[derive(Debug, Serialize, Deserialize)]
pub struct Searching<S> {
    strategy: S,
    generation: usize,
    best: Option<Best>,
    task: Task,
}

#[derive(Serialize, Deserialize)]
struct Snapshot {
    generation: usize,
    best: Option<Best>,
    strategy: Value,
}

/// Fitness from metrics without a hook: accuracy, or minus the MAE for regression.
pub fn default_fitness(task: Task, metrics: &Metrics) -> f64 {
    match task {
        Task::Classification { .. } => metrics.accuracy.unwrap_or(f64::NAN),
        Task::Regression => -metrics.mae.unwrap_or(f64::NAN),
    }
}

impl<S: Search> Searching<S> {
    /// The strategy inside.
    pub fn strategy(&self) -> &S {
        &self.strategy
    }

    /// The best so far.
    pub fn best(&self) -> Option<Best> {
        self.best
    }

    fn fitness(&self, host: &Host, metrics: &Metrics, index: usize) -> Result<f64, PluginError> {
        let ctx = json!({ "generation": self.generation, "index": index });
        let value = match host.call_hook("fitness", &json!([metrics, ctx]))? {
            Some(value) => value.as_f64().ok_or_else(|| {
                PluginError(format!("the fitness hook returned {value}, not a number"))
            })?,
            None => default_fitness(self.task, metrics),
        };
        // NaN ranks below everything, so a broken candidate is never selected.
        Ok(if value.is_nan() {
            f64::NEG_INFINITY
        } else {
            value
        })
    }
}

impl<S: Search> Algorithm for Searching<S> {
    type Config = S::Config;
    const NAME: &'static str = S::NAME;
    const VERSION: &'static str = S::VERSION;
    const DESCRIPTION: &'static str = S::DESCRIPTION;

    fn schema() -> Value {
        S::schema()
    }

    fn hooks() -> Vec<HookInfo> {
        let mut hooks = vec![HookInfo::new::<f64>(
            "fitness",
            "(metrics, ctx): the candidate's validation metrics (loss, accuracy or mae, rmse, r2, samples) and {generation, index}",
            "a number, higher is better; NaN counts as worst",
            "validation accuracy (minus MAE for regression)",
        )];
        hooks.extend(S::hooks());
        hooks
    }

    fn create(config: Self::Config, host: &Host) -> Result<Self, PluginError> {
        let task = host.dataset_info()?.task;
        Ok(Self {
            strategy: S::create(config, host)?,
            generation: 0,
            best: None,
            task,
        })
    }

    fn step(&mut self, host: &Host) -> Result<StepReport, PluginError> {
        let total = self.strategy.generations();
        if self.generation >= total {
            return Ok(self.report(true));
        }
        let candidates = self.strategy.ask(host, self.generation)?;
        let evaluation = host.evaluate(&candidates, &EvalSpec::default())?;
        let fitness = evaluation
            .members
            .iter()
            .enumerate()
            .map(|(i, m)| self.fitness(host, m, i))
            .collect::<Result<Vec<f64>, PluginError>>()?;
        let (top, top_fitness) =
            fitness
                .iter()
                .enumerate()
                .fold((0, f64::NEG_INFINITY), |(bi, bf), (i, &f)| {
                    if f > bf { (i, f) } else { (bi, bf) }
                });
        if !candidates.is_empty() && self.best.is_none_or(|b| top_fitness > b.fitness) {
            let copy = host.clone_model(candidates[top])?;
            if let Some(old) = self.best.replace(Best {
                model: copy,
                fitness: top_fitness,
                generation: self.generation,
            }) {
                host.free_model(old.model)?;
            }
        }
        self.strategy.tell(host, &candidates, &fitness)?;
        let finite: Vec<f64> = fitness.iter().copied().filter(|f| f.is_finite()).collect();
        let mean = finite.iter().sum::<f64>() / finite.len().max(1) as f64;
        let metrics = json!({
            "generation": self.generation,
            "fitness_max": top_fitness,
            "fitness_mean": mean,
            "best_fitness": self.best.map(|b| b.fitness),
        });
        host.log_metrics(self.generation as u64, &metrics)?;
        self.generation += 1;
        host.progress(self.generation as u64, total as u64);
        let mut report = self.report(self.generation >= total);
        report.metrics = metrics;
        Ok(report)
    }

    fn snapshot(&self) -> Result<Value, PluginError> {
        let snapshot = Snapshot {
            generation: self.generation,
            best: self.best,
            strategy: self.strategy.snapshot()?,
        };
        Ok(serde_json::to_value(snapshot)?)
    }

    fn restore(&mut self, snapshot: Value, host: &Host) -> Result<(), PluginError> {
        let snapshot: Snapshot = serde_json::from_value(snapshot)?;
        self.strategy.restore(snapshot.strategy, host)?;
        self.generation = snapshot.generation;
        self.best = snapshot.best;
        Ok(())
    }
}

impl<S: Search> Searching<S> {
    fn report(&self, done: bool) -> StepReport {
        let result = done.then(|| {
            let mut result = json!({ "best": self.best, "generations": self.generation });
            if let (Value::Object(all), Value::Object(own)) = (&mut result, self.strategy.result())
            {
                all.extend(own);
            }
            result
        });
        StepReport {
            done,
            metrics: Value::Null,
            result,
        }
    }
}
