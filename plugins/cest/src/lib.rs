//! CEST, coevolutionary selection training (Ryan, Thakkar, Turrell & Parikh 2024, after Zheng,
//! Lan & Castellani 2023): a predator CNN and prey that are subsets of its training data. Each
//! global epoch a genetic algorithm evolves the prey, whose fitness is how hard their subset
//! is for the predator; the predator trains on what the fittest prey select; what that pass
//! measured feeds the next round.
//!
//! Two encodings (`encoding`):
//! - `indices`: a prey is a list of `fraction · N` sample indices. The host measures every
//!   training sample's loss and correctness in one pass (every `refresh_every` epochs; in
//!   between, the training pass updates the samples it trained); the SDK scores the whole
//!   population from those values (no forward pass per prey); `generations` generations of tournament
//!   selection, two-point crossover and resampling mutation follow; the predator trains on
//!   the best prey.
//! - `mask`: a prey is a bit mask over the N samples; the predator trains on the union of the
//!   population's masks; the training pass itself reports each sample's correctness, which
//!   updates its smoothed miss rate f ← 0.8 f + 0.2 miss; a prey's fitness is the mean f of
//!   what it expresses; one generation per epoch of roulette or rank selection, two-point
//!   crossover, bit flips and one elite; samples with f below `forget_threshold` leave every
//!   mask.
//!
//! The baselines (`selection`: `full`, `random`, `top_loss`, `selective_backprop`) run through
//! the same epochs, schedule and ledger ([`Accounting`]): sample-gradients, sample-forwards
//! for selection, and seconds. A `budget` of sample-gradients stops any of them at equal cost,
//! and the learning rate anneals over that budget, so every method ends its schedule as it
//! spends its last samples.

mod accounting;
mod config;
mod hooks;
mod prey;
mod record;
mod selection;

use std::time::Instant;

use coevo_sdk::genetic::elites;
use coevo_sdk::samples::count_distinct;
use coevo_sdk::serde_json::{Value, json};
use coevo_sdk::{
    Algorithm, EvalSpec, HookInfo, Host, ModelId, OptimizerConfig, PluginError, SampleResults,
    Split, StepReport, SubsetStats, TrainSpec,
};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

pub use accounting::Accounting;
pub use config::{Config, Encoding, ParentSelection, Selection};
pub use record::EpochRecord;

use hooks::Scoring;
use prey::{Breeding, IndexPopulation, MaskPopulation};

/// The prey, by encoding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Prey {
    /// A baseline: none.
    None,
    /// Index lists, made at the first selecting epoch, and the samples' last measured loss
    /// and correctness.
    Indices {
        population: Option<IndexPopulation>,
        latest: Option<SampleResults>,
    },
    /// Masks, with each sample's smoothed miss rate and its last measured loss and
    /// correctness.
    Mask {
        population: MaskPopulation,
        latest: SampleResults,
    },
}

/// A run's state; all of it serialises, the predator by id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cest {
    config: Config,
    predator: ModelId,
    /// Training samples N.
    samples: usize,
    /// The run's sample-gradient budget.
    budget: u64,
    /// Seed of the host's batch order and augmentation.
    train_seed: u64,
    /// The run's own draws: subsets, the genetic algorithm.
    rng: ChaCha8Rng,
    prey: Prey,
    /// Global epochs completed.
    epoch: usize,
    /// Optimiser steps so far.
    steps: u64,
    accounting: Accounting,
    history: Vec<EpochRecord>,
}

/// What one epoch's selection chose, and what it learnt of the prey.
struct Chosen {
    subset: Vec<u32>,
    prey_fitness: Option<[f64; 2]>,
}

impl Cest {
    /// Done after `epochs` epochs; when fewer than two sample-gradients are left (a batch of
    /// one is not trained, so nothing more could be spent); or after an epoch that trained
    /// nothing (every prey empty, say), since the next would train nothing either.
    fn finished(&self) -> bool {
        let left = self.budget.saturating_sub(self.accounting.sample_gradients);
        self.epoch >= self.config.epochs
            || left < 2
            || self.history.last().is_some_and(|r| r.trained == 0)
    }

    fn breeding(&self) -> Breeding {
        Breeding {
            tournament: self.config.tournament,
            parents: self.config.parent_selection,
            crossover: self.config.crossover,
            mutation: self.config.mutation_rate(),
        }
    }

    /// Every training sample's loss and correctness under the predator, in one pass.
    fn measure(&mut self, host: &Host) -> Result<SampleResults, PluginError> {
        let spec = EvalSpec {
            split: Split::Train,
            ..EvalSpec::default()
        };
        let started = Instant::now();
        let results = host.sample_results(self.predator, &spec)?;
        self.accounting.forward_seconds += started.elapsed().as_secs_f64();
        self.accounting.sample_forwards += results.len() as u64;
        Ok(results)
    }

    /// The fixed subset size of the coming epoch.
    fn subset_len(&self, host: &Host) -> Result<usize, PluginError> {
        let fraction = hooks::subset_fraction(host, self.epoch, self.config.fraction)?;
        Ok(((fraction * self.samples as f64).round() as usize).clamp(1, self.samples))
    }

    /// The coming epoch's training samples, by the configured selection.
    fn select(&mut self, host: &Host) -> Result<Chosen, PluginError> {
        let n = self.samples;
        let plain = |subset| Chosen {
            subset,
            prey_fitness: None,
        };
        Ok(match self.config.selection {
            Selection::Full => plain((0..n as u32).collect()),
            Selection::Random => {
                let len = self.subset_len(host)?;
                plain(selection::random(len, n, &mut self.rng))
            }
            Selection::TopLoss => {
                let len = self.subset_len(host)?;
                plain(selection::top_loss(&self.measure(host)?.loss, len))
            }
            Selection::SelectiveBackprop => {
                let fraction = hooks::subset_fraction(host, self.epoch, self.config.fraction)?;
                let beta = self.config.beta.unwrap_or(selection::beta_for(fraction));
                let loss = self.measure(host)?.loss;
                plain(selection::selective_backprop(&loss, beta, &mut self.rng))
            }
            Selection::Cest => match self.config.encoding {
                Encoding::Indices => self.evolve_indices(host)?,
                Encoding::Mask => self.evolve_masks(host)?,
            },
        })
    }

    fn evolve_indices(&mut self, host: &Host) -> Result<Chosen, PluginError> {
        let len = self.subset_len(host)?;
        let (n, breeding) = (self.samples, self.breeding());
        let (population, latest) = match std::mem::replace(&mut self.prey, Prey::None) {
            Prey::Indices { population, latest } => (population, latest),
            _ => (None, None),
        };
        let selecting = self.epoch - self.config.warmup_epochs;
        let results = match latest {
            Some(latest) if !selecting.is_multiple_of(self.config.refresh_every) => latest,
            _ => self.measure(host)?,
        };
        let mut population = match population {
            Some(mut p) => {
                p.resize(len, n, &mut self.rng);
                p
            }
            None => IndexPopulation::random(self.config.population, len, n, &mut self.rng),
        };
        let at = self.scoring(0);
        let score = |population: &IndexPopulation, generation| {
            let stats = results.score_population(&population.individuals)?;
            hooks::prey_fitness(host, &stats, None, Scoring { generation, ..at })
        };
        for generation in 0..self.config.generations {
            let fitness = score(&population, generation)?;
            population.evolve(&fitness, breeding, n, &mut self.rng);
        }
        let fitness = score(&population, self.config.generations)?;
        let subset = population.individuals[elites(&fitness, 1)[0]].clone();
        self.prey = Prey::Indices {
            population: Some(population),
            latest: Some(results),
        };
        Ok(Chosen {
            subset,
            prey_fitness: Some(best_and_mean(&fitness)),
        })
    }

    fn evolve_masks(&mut self, host: &Host) -> Result<Chosen, PluginError> {
        let scoring = self.scoring(0);
        let breeding = self.breeding();
        let Prey::Mask { population, latest } = &mut self.prey else {
            return Err(PluginError(
                "the mask encoding has no mask population".into(),
            ));
        };
        let expressed: Vec<Vec<u32>> = population
            .masks
            .iter()
            .map(MaskPopulation::expressed)
            .collect();
        let stats: Vec<SubsetStats> = latest.score_population(&expressed)?;
        let smoothed: Vec<f64> = expressed
            .iter()
            .map(|e| population.mean_smoothed(e))
            .collect();
        let fitness = hooks::prey_fitness(host, &stats, Some(&smoothed), scoring)?;
        population.evolve(&fitness, breeding, &mut self.rng);
        Ok(Chosen {
            subset: population.union(),
            prey_fitness: Some(best_and_mean(&fitness)),
        })
    }

    fn scoring(&self, generation: usize) -> Scoring {
        Scoring {
            epoch: self.epoch,
            generation,
            encoding: self.config.encoding,
        }
    }

    /// Trains the epoch's `subset` in `loss_points` calls; returns the points of the loss
    /// curve and the samples the masks forgot.
    fn train_subset(
        &mut self,
        host: &Host,
        subset: &[u32],
        lr: f64,
    ) -> Result<(Vec<[f64; 2]>, usize), PluginError> {
        let part_len = subset.len().div_ceil(self.config.loss_points).max(1);
        let (mut loss_curve, mut forgotten) = (Vec::new(), 0);
        for part in subset.chunks(part_len) {
            let (report, dropped) = self.train_part(host, part, lr)?;
            forgotten += dropped;
            self.accounting.sample_gradients += report.samples;
            self.steps += report.steps;
            if let Some(&loss) = report.train_loss.first() {
                loss_curve.push([self.steps as f64, loss]);
            }
        }
        Ok((loss_curve, forgotten))
    }

    /// One training call on `part` at learning rate `lr`; the mask encoding also reads what
    /// the training pass measured of each sample.
    fn train_part(
        &mut self,
        host: &Host,
        part: &[u32],
        lr: f64,
    ) -> Result<(coevo_sdk::TrainReport, usize), PluginError> {
        let spec = TrainSpec {
            epochs: 1,
            batch_size: self.config.batch_size,
            optimizer: Some(with_lr(self.config.optimizer, lr)),
            augment: self.config.augment,
            seed: self.train_seed,
            ..TrainSpec::default()
        };
        let models = [self.predator];
        let mut forgotten = 0;
        let refreshing = self.config.refresh_every > 1;
        let report = match &mut self.prey {
            Prey::Mask { population, latest } => {
                let (report, mut measured) = host.train_recording(&models, &spec, Some(part))?;
                let seen = measured.pop().unwrap_or_default();
                population.observe(part, &seen.loss, &seen.correct, self.config.smoothing);
                latest.update(part, &seen);
                if let Some(threshold) = self.config.forget_threshold {
                    forgotten = population.forget(threshold);
                }
                report
            }
            Prey::Indices {
                latest: Some(latest),
                ..
            } if refreshing => {
                let (report, mut measured) = host.train_recording(&models, &spec, Some(part))?;
                latest.update(part, &measured.pop().unwrap_or_default());
                report
            }
            _ => host.train(&models, &spec, Some(part))?,
        };
        Ok((report, forgotten))
    }

    fn result(&self) -> Value {
        json!({
            "predator": self.predator,
            "epochs": self.epoch,
            "selection": self.config.selection,
            "encoding": self.config.encoding,
            "accounting": self.accounting,
            "budget": self.budget,
            "last": self.history.last(),
            "history": self.history,
        })
    }
}

fn with_lr(optimizer: OptimizerConfig, lr: f64) -> OptimizerConfig {
    match optimizer {
        OptimizerConfig::Sgd {
            momentum,
            weight_decay,
            nesterov,
            ..
        } => OptimizerConfig::Sgd {
            lr,
            momentum,
            weight_decay,
            nesterov,
        },
        OptimizerConfig::Adam {
            beta1,
            beta2,
            eps,
            weight_decay,
            ..
        } => OptimizerConfig::Adam {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
        },
    }
}

fn best_and_mean(fitness: &[f64]) -> [f64; 2] {
    let best = fitness.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mean = fitness.iter().sum::<f64>() / fitness.len().max(1) as f64;
    [best, mean]
}

impl Algorithm for Cest {
    type Config = Config;
    const NAME: &'static str = "cest";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "CEST: a predator network trained on training subsets (prey) co-evolved to be hard for it, and the selection baselines it is measured against";

    fn hooks() -> Vec<HookInfo> {
        vec![
            HookInfo::new::<f64>(
                hooks::PREY_FITNESS,
                "(stats, ctx): stats of one prey's subset under the predator: size, unique, loss (mean), accuracy, misses, and smoothed_miss (masks); ctx: epoch, generation, prey, encoding",
                "a number: the prey's fitness (higher breeds more)",
                "1 - stats.accuracy for index lists, stats.smoothed_miss for masks",
            ),
            HookInfo::new::<f64>(
                hooks::SUBSET_FRACTION,
                "(epoch): the global epoch about to be trained, from 0, warm-up included",
                "a number in (0, 1]: the subset's share of the training set",
                "config.fraction",
            ),
        ]
    }

    fn create(config: Config, host: &Host) -> Result<Self, PluginError> {
        config.validate()?;
        let label = |what: &str| format!("cest/{what}/{}", config.seed);
        let predator = host
            .create_model(&config.model, host.derive_seed(&label("init"), 0))
            .map_err(|e| PluginError(format!("config.model: {e}")))?;
        let info = host.dataset_info()?;
        if !matches!(info.task, coevo_sdk::Task::Classification { .. }) {
            return Err(PluginError(
                "cest selects by correctness: it needs a classification data set".into(),
            ));
        }
        let samples = info.train;
        let mut rng = ChaCha8Rng::seed_from_u64(host.derive_seed(&label("selection"), 0));
        let prey = match (config.selection, config.encoding) {
            (Selection::Cest, Encoding::Indices) => Prey::Indices {
                population: None,
                latest: None,
            },
            (Selection::Cest, Encoding::Mask) => Prey::Mask {
                // Unmeasured samples count as hard (f = 1) until a training pass reaches them.
                population: MaskPopulation::random(
                    config.population,
                    config.fraction,
                    vec![1.0; samples],
                    &mut rng,
                ),
                latest: SampleResults {
                    loss: vec![f32::NAN; samples],
                    correct: vec![false; samples],
                },
            },
            _ => Prey::None,
        };
        Ok(Self {
            budget: config.total_budget(samples),
            train_seed: host.derive_seed(&label("batches"), 0),
            predator,
            samples,
            rng,
            prey,
            epoch: 0,
            steps: 0,
            accounting: Accounting::default(),
            history: Vec::new(),
            config,
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
        let started = Instant::now();
        let forward_before = self.accounting.forward_seconds;
        let gradients_before = self.accounting.sample_gradients;
        let warmup = self.epoch < self.config.warmup_epochs;
        let chosen = match warmup {
            true => Chosen {
                subset: (0..self.samples as u32).collect(),
                prey_fitness: None,
            },
            false => self.select(host)?,
        };
        let mut subset = chosen.subset;
        // The host shuffles within a call; this shuffle spreads the subset over the epoch's
        // calls, and the cut to the budget takes a random part of it.
        subset.shuffle(&mut self.rng);
        let left = self.budget - self.accounting.sample_gradients;
        subset.truncate(usize::try_from(left).unwrap_or(usize::MAX));
        let selection_seconds = started.elapsed().as_secs_f64();

        let training = Instant::now();
        let lr = self
            .config
            .lr(self.accounting.sample_gradients, self.budget);
        let (loss_curve, forgotten) = self.train_subset(host, &subset, lr)?;
        let training_seconds = training.elapsed().as_secs_f64();

        let validation = host.evaluate(&[self.predator], &EvalSpec::default())?;
        let val = validation.members.first().cloned().unwrap_or_default();
        self.epoch += 1;
        self.accounting.selection_seconds += selection_seconds;
        self.accounting.training_seconds += training_seconds;
        self.accounting.wall_seconds += started.elapsed().as_secs_f64();
        let record = EpochRecord {
            epoch: self.epoch,
            warmup,
            trained: self.accounting.sample_gradients - gradients_before,
            subset: subset.len(),
            unique: count_distinct(&subset, self.samples, &mut Vec::new()),
            lr,
            loss_curve,
            val_loss: val.loss,
            val_accuracy: val.accuracy.unwrap_or(0.0),
            sample_gradients: self.accounting.sample_gradients,
            sample_forwards: self.accounting.sample_forwards,
            selection_seconds,
            training_seconds,
            prey_fitness: chosen.prey_fitness,
            forgotten,
        };
        let metrics = json!({
            "epoch": record.epoch,
            "subset": record.subset,
            "unique": record.unique,
            "lr": lr,
            "train_loss": record.loss_curve.last().map(|p| p[1]),
            "val_loss": record.val_loss,
            "val_accuracy": record.val_accuracy,
            "sample_gradients": record.sample_gradients,
            "sample_forwards": record.sample_forwards,
            "prey_best_fitness": record.prey_fitness.map(|f| f[0]),
        });
        // The step's metrics are what a resumed run reproduces exactly; the log also has the
        // clock.
        let mut logged = metrics.clone();
        logged["selection_seconds"] = json!(selection_seconds);
        logged["forward_seconds"] = json!(self.accounting.forward_seconds - forward_before);
        logged["training_seconds"] = json!(training_seconds);
        logged["wall_seconds"] = json!(self.accounting.wall_seconds);
        host.log_metrics(self.epoch as u64, &logged)?;
        host.progress(
            self.accounting.sample_gradients.min(self.budget),
            self.budget,
        );
        self.history.push(record);
        let done = self.finished();
        Ok(StepReport {
            done,
            metrics,
            result: done.then(|| self.result()),
        })
    }

    fn restore(&mut self, snapshot: Value, _host: &Host) -> Result<(), PluginError> {
        let restored: Self = serde_json::from_value(snapshot)?;
        let fits = match &restored.prey {
            Prey::Mask { population, latest } => {
                population.smoothed.len() == restored.samples
                    && latest.len() == restored.samples
                    && population.masks.iter().all(|m| m.len() == restored.samples)
            }
            Prey::Indices {
                latest: Some(latest),
                ..
            } => latest.len() == restored.samples,
            _ => true,
        };
        if !fits {
            return Err(PluginError(format!(
                "snapshot: the prey's per-sample values do not cover the {} training samples",
                restored.samples
            )));
        }
        *self = restored;
        Ok(())
    }
}

coevo_sdk::export_plugin!(Cest);

#[cfg(test)]
mod tests;
