//! Co-learning (Brazowski & Schneidman, "Collective Learning by Ensembles of Altruistic
//! Diversifying Neural Networks"): N networks trained together, each pulled toward the labels
//! and pushed away from (β < 0) or toward (β > 0) the others.
//!
//! Member `i` minimises, averaged over the batch, `KL(q‖p_i) + Σ_{j≠i} β_ij KL(p_j‖p_i)`
//! (eq. 1), every member's prediction computed on the same batch at every step. The members
//! are one stacked model in the host (a leading member dimension, the same arithmetic as N
//! separate networks), trained one epoch per plugin step with `Host::train`'s coupling matrix.
//!
//! How gradients flow: the other members' predictions `p_j` are targets, detached in the host,
//! as the paper's reading of eq. 1 as N losses each minimised by its own network. The gradient
//! of member `i`'s loss with respect to its logits is `(p_i − q) + Σ_j β_ij (p_i − p_j)` and
//! reaches only member `i`'s parameters; no gradient passes from `i`'s loss into `j`. The
//! host's `coupling_loss` checks this against a hand-computed loss and gradient, and floors
//! `ln p_i` inside the coupling term so that a repelled member cannot drive it to −∞.
//!
//! β comes from the script's `coupling(epoch, i, j, n)` hook, asked at the start of every epoch
//! (so a schedule, or an edit of the hook during a run, applies from the next epoch), or is
//! β̄ / N for every pair. Each epoch measures every member and the ensemble (mean, geometric
//! mean or majority vote) on training and validation samples, and the paper's diagnostics on
//! the validation split: the pairwise Jensen-Shannon matrix (eq. 5), per-member entropy
//! histograms, inactive ReLU fractions per layer and weight standard deviations per layer.

mod config;
mod coupling;
mod record;

use coevo_sdk::serde_json::{Value, json};
use coevo_sdk::{
    Algorithm, EvalSpec, HookInfo, Host, ModelId, PluginError, Split, StepReport, TrainSpec,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

pub use config::Config;
pub use record::EpochRecord;

/// The ensemble's training state; all of it serialises, members by id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoLearning {
    config: Config,
    /// The members, in the order of β's rows.
    members: Vec<ModelId>,
    /// Training samples measured each epoch (`None`: all).
    train_probe: Option<Vec<u32>>,
    /// Seed of batch order and augmentation.
    train_seed: u64,
    /// Epochs completed.
    epoch: usize,
    /// One record per completed epoch.
    history: Vec<EpochRecord>,
}

impl CoLearning {
    /// The training call of the coming epoch: one epoch with `beta`, the schedule continuing
    /// over the config's epochs.
    fn epoch_spec(&self, beta: &[Vec<f64>]) -> TrainSpec {
        let c = &self.config;
        // β = 0 everywhere is independent training: no coupling term to compute.
        let coupled = beta.iter().flatten().any(|&b| b != 0.0);
        TrainSpec {
            epochs: 1,
            batch_size: c.batch_size,
            optimizer: Some(c.optimizer),
            schedule: c.schedule,
            schedule_offset: self.epoch,
            schedule_epochs: Some(c.epochs),
            augment: c.augment,
            seed: self.train_seed,
            coupling: coupled.then(|| beta.to_vec()),
            ..TrainSpec::default()
        }
    }

    fn measure(
        &self,
        host: &Host,
    ) -> Result<(coevo_sdk::Evaluation, coevo_sdk::Evaluation), PluginError> {
        let train = host.evaluate(
            &self.members,
            &EvalSpec {
                split: Split::Train,
                combination: self.config.combination,
                subset: self.train_probe.clone(),
                ..EvalSpec::default()
            },
        )?;
        let validation = host.evaluate(
            &self.members,
            &EvalSpec {
                split: Split::Validation,
                combination: self.config.combination,
                diagnostics: self.config.diagnostics,
                ..EvalSpec::default()
            },
        )?;
        Ok((train, validation))
    }

    fn result(&self) -> Value {
        json!({
            "members": self.members,
            "epochs": self.epoch,
            "last": self.history.last(),
            "history": self.history,
        })
    }
}

/// `count` distinct training indices of `total`, or `None` for all of them.
fn probe_subset(count: usize, total: usize, seed: u64) -> Option<Vec<u32>> {
    if count == 0 || count >= total {
        return None;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut picked: Vec<u32> = rand::seq::index::sample(&mut rng, total, count)
        .into_iter()
        .map(|i| i as u32)
        .collect();
    picked.sort_unstable();
    Some(picked)
}

impl Algorithm for CoLearning {
    type Config = Config;
    const NAME: &'static str = "colearn";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "co-learning: an ensemble trained jointly, each member coupled to the others by β·KL(p_j‖p_i)";

    fn hooks() -> Vec<HookInfo> {
        vec![HookInfo::new::<f64>(
            coupling::HOOK,
            "(epoch, i, j, n): the epoch about to be trained and members i and j, counted from 0, of n",
            "a number: β_ij, the weight of KL(p_j‖p_i) in member i's loss (< 0 repels, > 0 attracts)",
            "beta_bar / n for every pair",
        )]
    }

    fn create(config: Config, host: &Host) -> Result<Self, PluginError> {
        config.validate()?;
        let label = |what: &str| format!("colearn/{what}/{}", config.seed);
        let members = (0..config.members)
            .map(|i| host.create_model(&config.model, host.derive_seed(&label("init"), i as u64)))
            .collect::<Result<Vec<ModelId>, _>>()
            .map_err(|e| PluginError(format!("config.model: {e}")))?;
        let info = host.dataset_info()?;
        let train_probe = probe_subset(
            config.eval_train_samples,
            info.train,
            host.derive_seed(&label("train-probe"), 0),
        );
        Ok(Self {
            train_seed: host.derive_seed(&label("batches"), 0),
            config,
            members,
            train_probe,
            epoch: 0,
            history: Vec::new(),
        })
    }

    fn step(&mut self, host: &Host) -> Result<StepReport, PluginError> {
        if self.epoch >= self.config.epochs {
            return Ok(StepReport {
                done: true,
                metrics: Value::Null,
                result: Some(self.result()),
            });
        }
        let beta = coupling::matrix(
            host,
            self.epoch,
            self.members.len(),
            self.config.uniform_beta(),
        )?;
        let spec = self.epoch_spec(&beta);
        let trained = host.train(&self.members, &spec, None)?;
        let (train, validation) = self.measure(host)?;
        self.epoch += 1;
        let record = EpochRecord {
            epoch: self.epoch,
            lr: trained.lr,
            beta,
            objective: trained.train_loss,
            train,
            validation,
        };
        let summary = record.summary();
        host.log_metrics(self.epoch as u64, &summary)?;
        host.progress(self.epoch as u64, self.config.epochs as u64);
        self.history.push(record);
        let done = self.epoch >= self.config.epochs;
        Ok(StepReport {
            done,
            metrics: summary,
            result: done.then(|| self.result()),
        })
    }

    fn snapshot(&self) -> Result<Value, PluginError> {
        Ok(serde_json::to_value(self)?)
    }

    fn restore(&mut self, snapshot: Value, _host: &Host) -> Result<(), PluginError> {
        let restored: Self = serde_json::from_value(snapshot)?;
        if restored.members.len() != restored.config.members {
            return Err(PluginError(format!(
                "snapshot: {} member ids for {} members",
                restored.members.len(),
                restored.config.members
            )));
        }
        *self = restored;
        Ok(())
    }
}

coevo_sdk::export_plugin!(CoLearning);
