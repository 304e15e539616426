//! Evolutionary synthesis (Shafiee, Mishra & Wong, "Deep Learning with Darwin", Neural
//! Processing Letters 2018; the cluster-driven encoding of Shafiee & Wong, arXiv 1609.01360;
//! Chung et al.'s mating, arXiv 1709.02043). A trained ancestor's weights define a synaptic
//! probability model; offspring are sampled from it under an environmental factor that favours
//! fewer synapses, trained, and the fittest becomes the next ancestor.
//!
//! Ask/tell: the plugin decides each offspring's mask (see [`draw`]); the host trains and
//! evaluates it with the mask applied throughout, and compacts the champion of each generation
//! into the physically smaller network it computes. The baselines share the loop and change
//! only the rule that picks survivors ([`Method`]).
//!
//! One step scores one network: an ancestor in generation 0, an offspring after. A
//! generation's offspring are drawn and trained together by its first step, one
//! [`Host::train_each`] call, so that a host with an executor trains them at once. The
//! champion of every generation and its compacted copy stay in the host (their ids are in the
//! result); every other offspring is freed as soon as it is scored.

mod anatomy;
mod config;
mod draw;
mod environment;
mod probability;

use std::time::Instant;

use coevo_sdk::serde_json::{Value, json};
use coevo_sdk::{
    Algorithm, EvalSpec, HookInfo, Host, Metrics, ModelId, PluginError, StepReport, Task, TrainSpec,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

pub use anatomy::{Anatomy, Census, Layer, LayerCount};
pub use config::{Config, Counts, Level, Method};
pub use draw::{Drawn, Rule, draw};
pub use environment::{Answer, Factors, default_keep};
pub use probability::{Scores, calibrate, probabilities, survival};

/// The script function that scores an offspring.
pub const FITNESS: &str = "fitness";

/// A network trained and scored in the current generation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Scored {
    model: ModelId,
    fitness: f64,
    validation: Metrics,
    census: Census,
    drawn: Option<Drawn>,
}

/// A generation's champion, kept in the host with its compacted copy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Record {
    generation: usize,
    model: ModelId,
    compact: ModelId,
    fitness: f64,
    validation: Metrics,
    /// What the masked network has.
    census: Census,
    /// What the compacted one has: a synapse that reads a dropped unit is gone there.
    effective: Census,
    /// Parameters of the compacted network.
    compact_params: usize,
    /// The factors its generation was sampled under (none for the ancestor).
    factors: Option<Factors>,
    drawn: Option<Drawn>,
    /// Fastest validation pass, masked and compacted, in seconds (0 when not timed).
    seconds_masked: f64,
    seconds_compact: f64,
}

/// A run's state; all of it serialises, models by id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Darwin {
    config: Config,
    /// The architecture new networks are made from: the given ancestor's, else `model`.
    spec: Value,
    anatomy: Anatomy,
    task: Task,
    generation: usize,
    /// This generation's parents, the fitter first.
    parents: Vec<ModelId>,
    /// A parent that is not a champion (mating's second), freed when it is no longer one.
    spare: Option<ModelId>,
    /// The ancestor's initial weights (lottery).
    init: Option<ModelId>,
    /// This generation's factors, asked when its first offspring is drawn.
    factors: Option<Factors>,
    /// This generation's networks scored so far, fittest first; only the parents-to-be are
    /// kept.
    scored: Vec<Scored>,
    /// This generation's offspring trained but not yet scored, in draw order.
    #[serde(default)]
    pending: Vec<(ModelId, Drawn)>,
    /// Networks trained this generation.
    done: usize,
    history: Vec<Record>,
    trained: u64,
}

impl Darwin {
    fn finished(&self) -> bool {
        self.generation > self.config.generations
    }

    /// Networks per generation: the ancestors (two when mating), then the offspring.
    fn size(&self, generation: usize) -> usize {
        match generation {
            0 => 1 + usize::from(self.config.mating),
            _ => self.config.offspring,
        }
    }

    /// The networks the next generation needs as parents.
    fn keep(&self) -> usize {
        1 + usize::from(self.config.mating)
    }

    fn seed(&self, host: &Host, what: &str) -> u64 {
        self.seed_at(host, what, self.done)
    }

    /// The seed of `what` for the generation's network `index`.
    fn seed_at(&self, host: &Host, what: &str, index: usize) -> u64 {
        let label = format!("darwin/{what}/{}", self.config.seed);
        host.derive_seed(&label, (self.generation * 100_003 + index) as u64)
    }

    fn train_spec(&self, epochs: usize, seed: u64) -> TrainSpec {
        let optimizer = match self.generation {
            0 => self.config.optimizer,
            _ => self.config.offspring_optimizer.or(self.config.optimizer),
        };
        TrainSpec {
            epochs,
            batch_size: self.config.batch_size,
            optimizer,
            schedule: self.config.schedule,
            seed,
            ..TrainSpec::default()
        }
    }

    /// A new ancestor, trained (for the lottery, its untrained weights are kept first), or a
    /// copy of the one given.
    fn ancestor(&mut self, host: &Host) -> Result<ModelId, PluginError> {
        if let Some(&given) = self.config.ancestors.get(self.done) {
            let lottery = self.config.method == Method::Lottery;
            if let (true, Some(init), None) = (lottery, self.config.init, self.init) {
                self.init = Some(host.clone_model(init)?);
            }
            return Ok(host.clone_model(given)?);
        }
        let model = host.create_model(&self.spec, self.seed(host, "init"))?;
        if self.config.method == Method::Lottery && self.init.is_none() {
            self.init = Some(host.clone_model(model)?);
        }
        let spec = self.train_spec(self.config.ancestor_epochs, self.seed(host, "train"));
        host.train(&[model], &spec, None)?;
        Ok(model)
    }

    /// What a network holds: its synapses, clusters and FLOPs, layer by layer.
    fn census(&self, host: &Host, model: ModelId) -> Result<Census, PluginError> {
        Ok(Census::of(&self.anatomy, &host.read_params(model)?))
    }

    /// What the environment hook is told of a parent.
    fn stats(&self, parent: &Record) -> Value {
        json!({
            "generation": parent.generation,
            "synapses": parent.census.synapses,
            "clusters": parent.census.clusters,
            "flops": parent.census.flops,
            "accuracy": parent.validation.accuracy,
            "mae": parent.validation.mae,
            "layers": parent.census.layers,
            "effective": {
                "synapses": parent.effective.synapses,
                "clusters": parent.effective.clusters,
                "flops": parent.effective.flops,
            },
        })
    }

    /// The default factors for `parents`: each layer keeps [`default_keep`] of what they
    /// have, in expectation.
    fn default_factors(&self, parents: &[Vec<f32>]) -> Factors {
        let keep = default_keep(self.config.level);
        let of = |layer: &Layer, scores: fn(&Layer, &[f32]) -> Scores| {
            let s: Vec<Scores> = parents.iter().map(|p| scores(layer, p)).collect();
            calibrate(&s.iter().collect::<Vec<_>>(), keep)
        };
        Factors {
            synapse: (self.anatomy.layers.iter())
                .map(|l| of(l, Scores::synapses))
                .collect(),
            cluster: (self.anatomy.hidden().iter())
                .map(|l| of(l, Scores::clusters))
                .collect(),
        }
    }

    /// The generation's next offspring; the first call draws and trains all that are left.
    fn offspring(&mut self, host: &Host) -> Result<(ModelId, Drawn), PluginError> {
        if self.pending.is_empty() {
            self.pending = self.breed(host)?;
        }
        if self.pending.is_empty() {
            return Err("a generation without offspring".into());
        }
        Ok(self.pending.remove(0))
    }

    /// Draws the generation's offspring not yet scored (all, unless a snapshot of an older
    /// version stopped mid-generation), and trains them together.
    fn breed(&mut self, host: &Host) -> Result<Vec<(ModelId, Drawn)>, PluginError> {
        let parents: Vec<Vec<f32>> = (self.parents.iter())
            .map(|&p| host.read_params(p))
            .collect::<Result<_, _>>()?;
        let factors = match self.factors.clone() {
            Some(f) => f,
            None => {
                let champion = self
                    .history
                    .last()
                    .ok_or("an offspring before its ancestor")?;
                let f = environment::factors(
                    host,
                    self.generation,
                    self.stats(champion),
                    self.default_factors(&parents),
                )?;
                self.factors = Some(f.clone());
                f
            }
        };
        let rule = Rule {
            method: self.config.method,
            level: self.config.level,
            factors: &factors,
            counts: self.config.counts_for(self.generation),
        };
        let mut children = Vec::new();
        let bred = (|| -> Result<(), PluginError> {
            for index in self.done..self.size(self.generation) {
                let mut rng = ChaCha8Rng::seed_from_u64(self.seed_at(host, "sample", index));
                let drawn = draw(&self.anatomy, &parents, &rule, &mut rng)?;
                let child = match (self.config.method, self.config.inherit) {
                    (Method::Lottery, _) => host
                        .clone_model(self.init.ok_or("the lottery without its initial weights")?)?,
                    (_, true) => host.clone_model(self.parents[0])?,
                    (_, false) => {
                        host.create_model(&self.spec, self.seed_at(host, "init", index))?
                    }
                };
                let spec = self.train_spec(self.config.epochs, self.seed_at(host, "train", index));
                children.push((child, drawn, spec));
                let (child, drawn, _) = &children[children.len() - 1];
                host.set_mask(*child, Some(&drawn.mask))?;
            }
            if self.config.epochs > 0 {
                let items: Vec<(ModelId, TrainSpec)> =
                    children.iter().map(|(c, _, s)| (*c, s.clone())).collect();
                host.train_each(&items)?;
            }
            Ok(())
        })();
        // Children nothing records yet are freed here, or they would outlive a failed step.
        if let Err(e) = bred {
            for (child, _, _) in &children {
                let _ = host.free_model(*child);
            }
            return Err(e);
        }
        Ok(children.into_iter().map(|(c, d, _)| (c, d)).collect())
    }

    /// The fitness of a network from its validation metrics: the hook's, else accuracy
    /// (minus the MAE for regression).
    fn fitness(&self, host: &Host, metrics: &Metrics, census: &Census) -> Result<f64, PluginError> {
        let ctx = json!({
            "generation": self.generation,
            "index": self.done,
            "synapses": census.synapses,
            "clusters": census.clusters,
            "flops": census.flops,
        });
        let default = coevo_sdk::search::default_fitness(self.task, metrics);
        let Some(answer) = host.call_hook(FITNESS, &json!([metrics, ctx]))? else {
            return Ok(default);
        };
        answer.as_f64().filter(|v| !v.is_nan()).ok_or_else(|| {
            PluginError(format!(
                "the {FITNESS} hook returned {answer} at {ctx}; it must return a number"
            ))
        })
    }

    /// Trains and scores the generation's next network.
    fn score_next(&mut self, host: &Host) -> Result<Value, PluginError> {
        let (model, drawn) = match self.generation {
            0 => (self.ancestor(host)?, None),
            _ => {
                let (model, drawn) = self.offspring(host)?;
                (model, Some(drawn))
            }
        };
        self.trained += 1;
        let validation = host
            .evaluate(&[model], &EvalSpec::default())?
            .members
            .pop()
            .ok_or("an evaluation without its model")?;
        let census = self.census(host, model)?;
        let fitness = match self.fitness(host, &validation, &census) {
            Ok(f) => f,
            Err(e) => {
                host.free_model(model)?;
                return Err(e);
            }
        };
        let metrics = json!({
            "generation": self.generation,
            "index": self.done,
            "fitness": fitness,
            "val_accuracy": validation.accuracy,
            "val_loss": validation.loss,
            "synapses": census.synapses,
            "clusters": census.clusters,
            "flops": census.flops,
        });
        host.log_metrics(self.trained, &metrics)?;
        self.done += 1;
        let at = self.scored.partition_point(|s| s.fitness >= fitness);
        self.scored.insert(
            at,
            Scored {
                model,
                fitness,
                validation,
                census,
                drawn,
            },
        );
        for dropped in self.scored.split_off(self.keep().min(self.scored.len())) {
            host.free_model(dropped.model)?;
        }
        Ok(metrics)
    }

    /// Ends a generation: its champion is compacted, timed and recorded, and it (with the
    /// runner-up when mating) parents the next.
    fn close_generation(&mut self, host: &Host) -> Result<Value, PluginError> {
        let mut scored = std::mem::take(&mut self.scored).into_iter();
        let champion = scored.next().ok_or("a generation without offspring")?;
        let compact = host.compact(champion.model)?;
        let (compact_params, effective) = {
            let params = host.read_params(compact)?;
            let anatomy = Anatomy::of(&host.model_spec(compact)?)?;
            (params.len(), Census::of(&anatomy, &params))
        };
        let (seconds_masked, seconds_compact) = (
            self.fastest_pass(host, champion.model)?,
            self.fastest_pass(host, compact)?,
        );
        if let Some(old) = self.spare.take() {
            host.free_model(old)?;
        }
        self.parents = vec![champion.model];
        for runner_up in scored {
            self.spare = Some(runner_up.model);
            self.parents.push(runner_up.model);
        }
        let record = Record {
            generation: self.generation,
            model: champion.model,
            compact,
            fitness: champion.fitness,
            validation: champion.validation,
            census: champion.census,
            effective,
            compact_params,
            factors: self.factors.take(),
            drawn: champion.drawn,
            seconds_masked,
            seconds_compact,
        };
        let summary = json!({
            "generation": record.generation,
            "best_fitness": record.fitness,
            "best_val_accuracy": record.validation.accuracy,
            "best_synapses": record.census.synapses,
            "best_clusters": record.census.clusters,
            "best_flops": record.census.flops,
            "effective_synapses": record.effective.synapses,
            "effective_clusters": record.effective.clusters,
            "effective_flops": record.effective.flops,
            "compact_params": record.compact_params,
        });
        // The step's metrics are what a resumed run reproduces exactly; the log also has the
        // clock.
        let mut logged = summary.clone();
        logged["seconds_masked"] = json!(seconds_masked);
        logged["seconds_compact"] = json!(seconds_compact);
        host.log_metrics(self.trained, &logged)?;
        self.history.push(record);
        self.generation += 1;
        self.done = 0;
        Ok(summary)
    }

    /// The fastest of `timing_repeats` validation passes of `model`, in seconds.
    fn fastest_pass(&self, host: &Host, model: ModelId) -> Result<f64, PluginError> {
        let mut fastest = f64::INFINITY;
        for _ in 0..self.config.timing_repeats {
            let start = Instant::now();
            host.evaluate(&[model], &EvalSpec::default())?;
            fastest = fastest.min(start.elapsed().as_secs_f64());
        }
        Ok(if fastest.is_finite() { fastest } else { 0.0 })
    }

    fn result(&self) -> Value {
        let generations: Vec<Value> = (self.history.iter())
            .map(|r| {
                json!({
                    "generation": r.generation,
                    "model": r.model,
                    "compact": r.compact,
                    "fitness": r.fitness,
                    "validation": r.validation,
                    "synapses": r.census.synapses,
                    "clusters": r.census.clusters,
                    "flops": r.census.flops,
                    "layers": r.census.layers,
                    "effective": r.effective,
                    "compact_params": r.compact_params,
                    "factors": r.factors,
                    "counts": r.drawn.as_ref().map(|d| json!({"synapses": d.synapses, "clusters": d.clusters})),
                    "seconds_masked": r.seconds_masked,
                    "seconds_compact": r.seconds_compact,
                })
            })
            .collect();
        let last = self.history.last();
        json!({
            "method": self.config.method,
            "level": self.config.level,
            "inherit": self.config.inherit,
            "mating": self.config.mating,
            "generations": generations,
            "ancestor": self.history.first().map(|r| r.model),
            "model": last.map(|r| r.model),
            "compact": last.map(|r| r.compact),
            "trained": self.trained,
        })
    }
}

impl Algorithm for Darwin {
    type Config = Config;
    const NAME: &'static str = "darwin";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Evolutionary synthesis: offspring sampled from their ancestor's synaptic probability model under an environment favouring fewer synapses, trained, and the fittest made the next ancestor; magnitude, lottery-ticket and random pruning as baselines";

    fn hooks() -> Vec<HookInfo> {
        vec![
            HookInfo::new::<Answer>(
                environment::ENVIRONMENT,
                "(generation, stats): the generation about to be sampled, and its parent's synapses, clusters, flops, accuracy (or mae), layers (per layer: synapses, clusters, flops, weights, units), effective (what its compacted network has) and defaults (the default factors)",
                "the environmental factor F: one number for every layer, or {synapse, cluster}, each a number or one per layer (clusters: all but the head); a level left out keeps its default",
                "per layer, the F under which it keeps in expectation 20^(-1/4) of its synapses (level synapse), 20^(-1/8) of its clusters (cluster: rows and the next layer's columns go together), or 20^(-1/12) of each (both): 20x fewer synapses in four generations",
            ),
            HookInfo::new::<f64>(
                FITNESS,
                "(metrics, ctx): the offspring's validation metrics; ctx: generation, index, synapses, clusters, flops",
                "a number, higher is better: the fittest offspring is the next ancestor",
                "validation accuracy (minus MAE for regression)",
            ),
        ]
    }

    fn create(config: Config, host: &Host) -> Result<Self, PluginError> {
        config.validate()?;
        let task = host.dataset_info()?.task;
        let described = match config.ancestors.first() {
            Some(&given) => host.model_spec(given)?,
            None => {
                let probe = host.create_model(&config.model, 0)?;
                let described = host.model_spec(probe);
                host.free_model(probe)?;
                described?
            }
        };
        let anatomy = Anatomy::of(&described)?;
        let spec = match config.ancestors.is_empty() {
            true => config.model.clone(),
            false => described["spec"].clone(),
        };
        Ok(Self {
            config,
            spec,
            anatomy,
            task,
            generation: 0,
            parents: Vec::new(),
            spare: None,
            init: None,
            factors: None,
            scored: Vec::new(),
            pending: Vec::new(),
            done: 0,
            history: Vec::new(),
            trained: 0,
        })
    }

    fn step(&mut self, host: &Host) -> Result<StepReport, PluginError> {
        if self.finished() {
            return Ok(StepReport {
                done: true,
                metrics: Value::Null,
                result: Some(self.result()),
            });
        }
        let mut metrics = self.score_next(host)?;
        if self.done == self.size(self.generation) {
            metrics["closed"] = self.close_generation(host)?;
        }
        let total = self.size(0) + self.config.generations * self.config.offspring;
        host.progress(self.trained, total as u64);
        let done = self.finished();
        Ok(StepReport {
            done,
            metrics,
            result: done.then(|| self.result()),
        })
    }

    fn restore(&mut self, snapshot: Value, _host: &Host) -> Result<(), PluginError> {
        let restored: Self = serde_json::from_value(snapshot)?;
        restored
            .config
            .validate()
            .map_err(|e| PluginError(format!("snapshot: {e}")))?;
        *self = restored;
        Ok(())
    }
}

coevo_sdk::export_plugin!(Darwin);
