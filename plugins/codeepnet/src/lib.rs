//! Co-DeepNet (Jaddi et al., "Co-DeepNet", CAAI Transactions on Intelligence Technology,
//! 2025): two small 1-D CNNs read a row of methylation beta values as a sequence and take
//! turns. One trains while the other rests; every k epochs (the knowledge-transmission rate)
//! the active one passes what it learned to the other and they swap. A genetic algorithm
//! evolves both architectures and the cooperation (k, learning rate); a pair's fitness is its
//! validation error.
//!
//! What is passed is not pinned down by the sources, so `transfer` offers the three readings
//! (see [`Transfer`]). Ask/tell: the plugin proposes chromosomes and turns; the host builds,
//! trains and evaluates the networks, composes the `features` head and copies weights.
//!
//! One step trains and scores one pair. Elites keep their score into the next generation. The
//! best pair so far stays in the host (its ids are in the result); every other pair is freed
//! as soon as it is scored.

mod chromosome;
mod config;
mod hooks;
mod operators;
mod pair;

use coevo_sdk::genetic::{elites, tournament};
use coevo_sdk::serde_json::{Value, json};
use coevo_sdk::{Algorithm, HookInfo, Host, Metrics, PluginError, StepReport, Task};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

pub use chromosome::{Chromosome, ConvGene, GeneError, NetGenes};
pub use config::{Config, SearchSpace, Transfer};
pub use pair::{Shape, TrainedPair, Turn};

/// A chromosome's score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Scored {
    fitness: f64,
    validation: Metrics,
}

/// The best pair so far, kept in the host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Champion {
    chromosome: Chromosome,
    generation: usize,
    fitness: f64,
    pair: TrainedPair,
}

/// One generation's summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct GenerationRecord {
    generation: usize,
    best_fitness: f64,
    mean_fitness: f64,
    best_mae: Option<f64>,
    mean_k: f64,
}

/// A search's state; all of it serialises, the champion's models by id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoDeepNet {
    config: Config,
    shape: Shape,
    rng: ChaCha8Rng,
    /// Seed of the pairs' initial weights and batch orders.
    train_seed: u64,
    generation: usize,
    population: Vec<Chromosome>,
    /// Scores of the current generation's first chromosomes (the elites carried over, then
    /// those trained so far).
    scored: Vec<Scored>,
    champion: Option<Champion>,
    history: Vec<GenerationRecord>,
    pairs_trained: usize,
    sample_gradients: u64,
    /// Wall-clock seconds of every pair trained.
    seconds: f64,
}

impl CoDeepNet {
    fn length(&self) -> usize {
        self.shape.input[self.shape.input.len() - 1]
    }

    fn finished(&self) -> bool {
        self.generation > self.config.generations
    }

    /// Trains and scores the next chromosome of the generation.
    fn score_next(&mut self, host: &Host) -> Result<Value, PluginError> {
        let index = self.scored.len();
        let chromosome = self.population[index].clone();
        let seed = self
            .train_seed
            .wrapping_add((self.generation * 100_003 + index) as u64);
        let pair = pair::train_pair(
            host,
            &self.config,
            &chromosome,
            &self.shape,
            self.generation,
            seed,
        )?;
        let ctx = json!({
            "generation": self.generation,
            "index": index,
            "chromosome": chromosome,
            "params": pair.params,
            "sample_gradients": pair.sample_gradients,
        });
        let fitness = match hooks::fitness(host, &pair.validation, &ctx) {
            Ok(f) => f,
            Err(e) => {
                pair::free(host, &pair)?;
                return Err(e);
            }
        };
        let net_epochs = [0, 1].map(|n| {
            let turns = pair.turns.iter().filter(|t| t.net == n);
            turns.map(|t| t.epochs).sum::<usize>()
        });
        let specs: Vec<Value> = chromosome
            .nets
            .iter()
            .map(|n| {
                n.spec(
                    &self.shape.input,
                    self.shape.outputs,
                    None,
                    self.config.dropout,
                )
            })
            .collect();
        self.pairs_trained += 1;
        self.sample_gradients += pair.sample_gradients;
        self.seconds += pair.seconds;
        let metrics = json!({
            "generation": self.generation,
            "index": index,
            "fitness": fitness,
            "val_mae": pair.validation.mae,
            "val_loss": pair.validation.loss,
            "k": chromosome.k,
            "lr": chromosome.lr,
            "params": pair.params,
            "turn_epochs": pair.turns.iter().map(|t| t.epochs).collect::<Vec<_>>(),
            "copied": pair.turns.iter().map(|t| t.copied).sum::<u64>(),
            "net_epochs": net_epochs,
            "specs": specs,
        });
        // The step's metrics are what a resumed run reproduces exactly; the log also has the
        // clock.
        let mut logged = metrics.clone();
        logged["seconds"] = json!(pair.seconds);
        host.log_metrics(self.pairs_trained as u64, &logged)?;
        self.scored.push(Scored {
            fitness,
            validation: pair.validation.clone(),
        });
        let better = self.champion.as_ref().is_none_or(|c| fitness > c.fitness);
        if better {
            if let Some(old) = self.champion.take() {
                pair::free(host, &old.pair)?;
            }
            self.champion = Some(Champion {
                chromosome,
                generation: self.generation,
                fitness,
                pair,
            });
        } else {
            pair::free(host, &pair)?;
        }
        Ok(metrics)
    }

    /// Ends a fully scored generation: its record, then the next population (elites first,
    /// with their scores) unless it was the last.
    fn close_generation(&mut self, host: &Host) -> Result<GenerationRecord, PluginError> {
        let fitness: Vec<f64> = self.scored.iter().map(|s| s.fitness).collect();
        let best = elites(&fitness, 1)[0];
        let mean = fitness.iter().sum::<f64>() / fitness.len() as f64;
        let record = GenerationRecord {
            generation: self.generation,
            best_fitness: fitness[best],
            mean_fitness: mean,
            best_mae: self.scored[best].validation.mae,
            mean_k: self.population.iter().map(|c| c.k as f64).sum::<f64>()
                / self.population.len() as f64,
        };
        host.log_metrics(
            self.pairs_trained as u64,
            &json!({
                "generation": record.generation,
                "best_fitness": record.best_fitness,
                "mean_fitness": record.mean_fitness,
                "best_val_mae": record.best_mae,
            }),
        )?;
        self.history.push(record.clone());
        self.generation += 1;
        if !self.finished() {
            self.breed(&fitness);
        }
        Ok(record)
    }

    fn breed(&mut self, fitness: &[f64]) {
        let (space, length, c) = (&self.config.space, self.length(), &self.config);
        let keep = elites(fitness, c.elites);
        let mut next: Vec<Chromosome> = keep.iter().map(|&i| self.population[i].clone()).collect();
        let scored: Vec<Scored> = keep.iter().map(|&i| self.scored[i].clone()).collect();
        while next.len() < c.population {
            let a = &self.population[tournament(fitness, c.tournament, &mut self.rng)];
            let b = &self.population[tournament(fitness, c.tournament, &mut self.rng)];
            let (x, y) = match self.rng.random_bool(c.crossover) {
                true => operators::crossover(a, b, space, length, &mut self.rng),
                false => (a.clone(), b.clone()),
            };
            for child in [x, y] {
                if next.len() < c.population {
                    next.push(operators::mutate(
                        &child,
                        c.mutation,
                        space,
                        length,
                        &mut self.rng,
                    ));
                }
            }
        }
        self.population = next;
        self.scored = scored;
    }

    fn result(&self) -> Value {
        let Some(champion) = &self.champion else {
            return json!({ "generations": self.history });
        };
        let pair = &champion.pair;
        let (input, outputs) = (&self.shape.input, self.shape.outputs);
        let nets = &champion.chromosome.nets;
        let alone: Vec<Value> = nets
            .iter()
            .map(|n| n.spec(input, outputs, None, self.config.dropout))
            .collect();
        let member_params: Vec<usize> = nets
            .iter()
            .map(|n| n.param_count(input, outputs).unwrap_or(0))
            .collect();
        // The single network of twice the size: the larger member, widened.
        let larger = usize::from(member_params[1] > member_params[0]);
        let (double, double_params) =
            nets[larger].widened_to(input, outputs, 2 * member_params[larger]);
        json!({
            "best": {
                "chromosome": champion.chromosome,
                "generation": champion.generation,
                "fitness": champion.fitness,
                "validation": pair.validation,
                "turns": pair.turns,
                "params": pair.params,
                "sample_gradients": pair.sample_gradients,
                "seconds": pair.seconds,
            },
            "models": {
                "pair": pair.models,
                "predictor": pair.models[pair.predictor],
                "features_from": pair.features_from,
            },
            "baselines": {
                "alone": alone,
                "member_params": member_params,
                "double": double.spec(input, outputs, None, self.config.dropout),
                "double_params": double_params,
                "epochs": self.config.epochs,
                "batch_size": self.config.batch_size,
                "lr": champion.chromosome.lr,
            },
            "generations": self.history,
            "pairs_trained": self.pairs_trained,
            "sample_gradients": self.sample_gradients,
            "seconds": self.seconds,
        })
    }
}

impl Algorithm for CoDeepNet {
    type Config = Config;
    const NAME: &'static str = "codeepnet";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Co-DeepNet: two 1-D CNNs that take turns and pass knowledge every k epochs, their architectures and cooperation evolved by a genetic algorithm";

    fn hooks() -> Vec<HookInfo> {
        vec![
            HookInfo::new::<usize>(
                hooks::TRANSMISSION_RATE,
                "(generation, epoch, k): the generation, the pair's epoch the turn starts at, and the chromosome's k",
                "a whole number of epochs, at least 1: the turn's length (the knowledge-transmission rate)",
                "k, the chromosome's gene",
            ),
            HookInfo::new::<f64>(
                hooks::FITNESS,
                "(metrics, ctx): the pair's validation metrics (mae, median_ae, rmse, r2, pearson, loss); ctx: generation, index, chromosome, params, sample_gradients",
                "a number: the pair's fitness (higher breeds more)",
                "-metrics.mae",
            ),
        ]
    }

    fn create(config: Config, host: &Host) -> Result<Self, PluginError> {
        config.validate()?;
        let info = host.dataset_info()?;
        let input = info.sample_shape.clone();
        if input.len() != 2 {
            return Err(PluginError(format!(
                "codeepnet's networks are 1-D CNNs: they need sequences [C, L], and this data \
                 set's samples are {input:?}"
            )));
        }
        let outputs = match info.task {
            Task::Regression => 1,
            Task::Classification { classes } => classes,
        };
        let label = |what: &str| format!("codeepnet/{what}/{}", config.seed);
        let mut rng = ChaCha8Rng::seed_from_u64(host.derive_seed(&label("search"), 0));
        let length = input[1];
        let population = (0..config.population)
            .map(|_| operators::random(&config.space, length, &mut rng))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            train_seed: host.derive_seed(&label("train"), 0),
            shape: Shape { input, outputs },
            rng,
            generation: 0,
            population,
            scored: Vec::new(),
            champion: None,
            history: Vec::new(),
            pairs_trained: 0,
            sample_gradients: 0,
            seconds: 0.0,
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
        let mut metrics = match self.scored.len() < self.population.len() {
            true => self.score_next(host)?,
            false => Value::Null,
        };
        if self.scored.len() == self.population.len() {
            let record = self.close_generation(host)?;
            metrics["generation_best_fitness"] = json!(record.best_fitness);
        }
        let total = (self.config.generations + 1) * self.config.population;
        host.progress(self.pairs_trained as u64, total as u64);
        let done = self.finished();
        Ok(StepReport {
            done,
            metrics,
            result: done.then(|| self.result()),
        })
    }

    fn restore(&mut self, snapshot: Value, _host: &Host) -> Result<(), PluginError> {
        let restored: Self = serde_json::from_value(snapshot)?;
        let length = restored.length();
        for (i, c) in restored.population.iter().enumerate() {
            c.validate(&restored.config.space, length)
                .map_err(|e| PluginError(format!("snapshot: population[{i}]: {e}")))?;
        }
        *self = restored;
        Ok(())
    }
}

coevo_sdk::export_plugin!(CoDeepNet);
