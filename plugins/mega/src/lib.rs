//! MeGA (Yun, "MeGA: Merging Multiple Independently Trained Neural Networks Based on Genetic
//! Algorithm"): two trained networks of one architecture are merged by a genetic algorithm
//! over their blends `αθ₁ + (1−α)θ₂`; more than two are merged hierarchically, pair by pair,
//! level by level, until one is left.
//!
//! Every individual is a host model: the search proposes recipes (which models to blend with
//! which coefficients, which mutation seed) and is told the fitness the host measured on the
//! validation split. Each pairwise merge runs `generations` generations: tournament selection
//! of `selected` parents, blend crossover, Gaussian mutation, `elites` carried over; the
//! merge's result is the best individual it ever saw.

mod config;
mod genetic;
mod merge_order;

use std::collections::VecDeque;

use coevo_sdk::serde_json::{Value, json};
use coevo_sdk::{EvalSpec, HookInfo, Host, ModelId, Noise, PluginError, Search, Searching};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

pub use config::{Config, Granularity, MutationScope, Reading, Settings};

/// A model of a level: a parent (the script's) or a merge result (the search's own).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Slot {
    id: ModelId,
    /// Whether the search made it, and so frees it once it is merged.
    owned: bool,
}

/// A scored individual.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Member {
    id: ModelId,
    fitness: f64,
}

/// One level of the hierarchy: its models and the pairs still to merge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Level {
    number: usize,
    models: Vec<Slot>,
    pairs: VecDeque<(usize, usize)>,
    /// Models in no pair, passed up unmerged.
    carried: Vec<usize>,
    /// The merges' results, in the order of the pairs.
    results: Vec<Slot>,
}

/// The pairwise merge under way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Merge {
    /// Merges finished before this one.
    index: usize,
    a: Slot,
    b: Slot,
    /// `b` reordered to match `a`, when aligning.
    aligned: Option<ModelId>,
    /// Generations finished.
    generation: usize,
    /// The last scored population.
    population: Vec<Member>,
    /// Elites carried into the generation being scored.
    kept: Vec<Member>,
    /// A copy of the best individual so far.
    champion: Option<Member>,
}

impl Merge {
    fn second(&self) -> ModelId {
        self.aligned.unwrap_or(self.b.id)
    }
}

/// The search's state; all of it serialises, models by id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mega {
    settings: Settings,
    parents: Vec<ModelId>,
    layers: usize,
    params: usize,
    level: Option<Level>,
    merge: Option<Merge>,
    merges_done: usize,
    history: Vec<Value>,
    last: Option<Member>,
}

impl Mega {
    fn rng(&self, host: &Host, purpose: &str, merge: usize, generation: usize) -> ChaCha8Rng {
        let label = format!("mega/{purpose}/{}", self.settings.seed);
        let index = (merge * (self.settings.generations + 1) + generation) as u64;
        ChaCha8Rng::seed_from_u64(host.derive_seed(&label, index))
    }

    /// Opens the next level when the current one has no pairs left, then the next merge.
    fn begin_merge(&mut self, host: &Host) -> Result<(), PluginError> {
        if self.level.as_ref().is_none_or(|l| l.pairs.is_empty()) {
            let (number, models) = match self.level.take() {
                Some(level) => {
                    let mut models = level.results;
                    models.extend(level.carried.iter().map(|&i| level.models[i]));
                    (level.number + 1, models)
                }
                None => {
                    let parents = self.parents.iter();
                    (0, parents.map(|&id| Slot { id, owned: false }).collect())
                }
            };
            let pairs = self.merge_order(host, &models, number)?;
            let paired: Vec<usize> = pairs.iter().flat_map(|&(i, j)| [i, j]).collect();
            let carried = (0..models.len()).filter(|i| !paired.contains(i)).collect();
            self.level = Some(Level {
                number,
                models,
                pairs: pairs.into(),
                carried,
                results: Vec::new(),
            });
        }
        let level = self
            .level
            .as_mut()
            .ok_or_else(|| PluginError("no level to merge".into()))?;
        let (i, j) = level
            .pairs
            .pop_front()
            .ok_or_else(|| PluginError("a level without pairs".into()))?;
        let (a, b) = (level.models[i], level.models[j]);
        let aligned = match self.settings.align {
            true => Some(host.align(
                a.id,
                b.id,
                self.rng(host, "align", self.merges_done, 0).random(),
            )?),
            false => None,
        };
        self.merge = Some(Merge {
            index: self.merges_done,
            a,
            b,
            aligned,
            generation: 0,
            population: Vec::new(),
            kept: Vec::new(),
            champion: None,
        });
        Ok(())
    }

    /// The pairs of a level: from the `merge_order` hook, given each model's validation
    /// metrics, or in order.
    fn merge_order(
        &self,
        host: &Host,
        models: &[Slot],
        level: usize,
    ) -> Result<Vec<(usize, usize)>, PluginError> {
        if models.len() == 2 {
            return Ok(vec![(0, 1)]);
        }
        let ids: Vec<ModelId> = models.iter().map(|m| m.id).collect();
        let evaluation = host.evaluate(&ids, &EvalSpec::default())?;
        let info: Vec<Value> = ids
            .iter()
            .zip(&evaluation.members)
            .enumerate()
            .map(|(index, (id, metrics))| json!({ "index": index, "id": id, "metrics": metrics }))
            .collect();
        match host.call_hook("merge_order", &json!([info, { "level": level }]))? {
            Some(answer) => merge_order::parse(&answer, models.len())
                .map_err(|e| PluginError(format!("the merge_order hook's answer: {e}"))),
            None => Ok(merge_order::in_order(models.len())),
        }
    }

    /// Generation 0: blends of the pair with random coefficients, after copies of the pair
    /// itself when `include_parents` says so.
    fn first_population(&self, host: &Host, merge: &Merge) -> Result<Vec<ModelId>, PluginError> {
        let s = &self.settings;
        let mut rng = self.rng(host, "init", merge.index, 0);
        let mut population = Vec::with_capacity(s.population);
        if s.include_parents {
            for parent in [merge.a.id, merge.second()] {
                population.push(host.clone_model(parent)?);
            }
        }
        while population.len() < s.population {
            let alpha =
                genetic::blend_coefficients(s.granularity, self.layers, self.params, &mut rng);
            population.push(host.blend(&[merge.a.id, merge.second()], &alpha)?);
        }
        Ok(population)
    }

    /// Later generations: elites stay, the rest are children of tournament winners.
    fn breed(&self, host: &Host, merge: &mut Merge) -> Result<Vec<ModelId>, PluginError> {
        let s = &self.settings;
        let mut rng = self.rng(host, "breed", merge.index, merge.generation);
        let fitness: Vec<f64> = merge.population.iter().map(|m| m.fitness).collect();
        let elites = genetic::elites(&fitness, s.elites);
        let selected: Vec<ModelId> = (0..s.selected)
            .map(|_| merge.population[genetic::tournament(&fitness, s.tournament, &mut rng)].id)
            .collect();
        let mut children = Vec::with_capacity(s.population - elites.len());
        for _ in elites.len()..s.population {
            let (p, q) = genetic::mates(selected.len(), &mut rng);
            let beta =
                genetic::blend_coefficients(s.granularity, self.layers, self.params, &mut rng);
            let child = host.blend(&[selected[p], selected[q]], &beta)?;
            host.add_noise(
                child,
                Noise {
                    sigma: s.sigma,
                    probability: s.mutation_rate,
                    per_tensor: s.mutation == MutationScope::Tensor,
                    seed: rng.random(),
                },
            )?;
            children.push(child);
        }
        merge.kept = elites.iter().map(|&i| merge.population[i]).collect();
        for (i, member) in merge.population.iter().enumerate() {
            if !elites.contains(&i) {
                host.free_model(member.id)?;
            }
        }
        merge.population.clear();
        Ok(children)
    }

    /// Ends the merge: its champion joins the level's results; what it used is freed.
    fn finish_merge(&mut self, host: &Host, merge: Merge) -> Result<(), PluginError> {
        for member in &merge.population {
            host.free_model(member.id)?;
        }
        for owned in merge.aligned.into_iter().chain(
            [merge.a, merge.b]
                .into_iter()
                .filter(|s| s.owned)
                .map(|s| s.id),
        ) {
            host.free_model(owned)?;
        }
        let champion = merge
            .champion
            .ok_or_else(|| PluginError("a merge ended without a champion".into()))?;
        let level = self
            .level
            .as_mut()
            .ok_or_else(|| PluginError("a merge outside a level".into()))?;
        level.results.push(Slot {
            id: champion.id,
            owned: true,
        });
        let record = json!({
            "merge": merge.index,
            "level": level.number,
            "a": merge.a.id,
            "b": merge.b.id,
            "aligned": merge.aligned.is_some(),
            "fitness": champion.fitness,
        });
        let step = ((merge.index + 1) * self.settings.generations - 1) as u64;
        host.log_metrics(
            step,
            &json!({ "merge": merge.index, "level": level.number, "merge_fitness": champion.fitness }),
        )?;
        self.history.push(record);
        self.merges_done += 1;
        if level.pairs.is_empty() && level.results.len() + level.carried.len() == 1 {
            self.last = Some(champion);
        }
        Ok(())
    }
}

impl Search for Mega {
    type Config = Config;
    const NAME: &'static str = "mega";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "MeGA: merges trained networks of one architecture by a genetic algorithm over their blends";

    fn hooks() -> Vec<HookInfo> {
        vec![HookInfo::new::<Vec<[usize; 2]>>(
            "merge_order",
            "(models, ctx): the level's models as {index, id, metrics} (validation metrics) and {level}; called for three or more models",
            "an array of [i, j] index pairs, each model in at most one pair; the rest wait for the next level",
            "pairs in order: [[0, 1], [2, 3], …]",
        )]
    }

    fn create(config: Config, host: &Host) -> Result<Self, PluginError> {
        let settings = config.settings().map_err(PluginError)?;
        let first = *config
            .parents
            .first()
            .expect("the schema asks for two or more parents");
        let spec = host.model_spec(first)?;
        let layers = spec
            .get("layers")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        let params = host.param_count(first)?;
        for &other in &config.parents[1..] {
            if host.param_count(other)? != params {
                return Err(PluginError(format!(
                    "config.parents: model {other} has another architecture than model {first}"
                )));
            }
        }
        Ok(Self {
            settings,
            parents: config.parents,
            layers,
            params,
            level: None,
            merge: None,
            merges_done: 0,
            history: Vec::new(),
            last: None,
        })
    }

    fn generations(&self) -> usize {
        (self.parents.len() - 1) * self.settings.generations
    }

    fn ask(&mut self, host: &Host, _generation: usize) -> Result<Vec<ModelId>, PluginError> {
        if self.merge.is_none() {
            self.begin_merge(host)?;
        }
        let mut merge = self
            .merge
            .take()
            .ok_or_else(|| PluginError("no merge under way".into()))?;
        let candidates = match merge.generation {
            0 => self.first_population(host, &merge),
            _ => self.breed(host, &mut merge),
        };
        self.merge = Some(merge);
        candidates
    }

    fn tell(
        &mut self,
        host: &Host,
        candidates: &[ModelId],
        fitness: &[f64],
    ) -> Result<(), PluginError> {
        let mut merge = self
            .merge
            .take()
            .ok_or_else(|| PluginError("told about candidates no merge asked for".into()))?;
        let scored = candidates
            .iter()
            .zip(fitness)
            .map(|(&id, &fitness)| Member { id, fitness });
        merge.population = merge.kept.drain(..).chain(scored).collect();
        let best = genetic::elites(fitness, 1);
        if let Some(&top) = best.first()
            && merge.champion.is_none_or(|c| fitness[top] > c.fitness)
        {
            let copy = host.clone_model(candidates[top])?;
            if let Some(old) = merge.champion.replace(Member {
                id: copy,
                fitness: fitness[top],
            }) {
                host.free_model(old.id)?;
            }
        }
        merge.generation += 1;
        if merge.generation < self.settings.generations {
            self.merge = Some(merge);
            return Ok(());
        }
        self.finish_merge(host, merge)
    }

    fn result(&self) -> Value {
        let merged = self
            .last
            .map(|m| json!({ "model": m.id, "fitness": m.fitness }));
        json!({ "merged": merged, "merges": self.history })
    }
}

coevo_sdk::export_plugin!(Searching<Mega>);

#[cfg(test)]
mod tests;
