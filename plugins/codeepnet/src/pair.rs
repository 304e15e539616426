//! One pair's training: two networks take turns, the active one training for k epochs while
//! the other rests, then passing what it learned (by `transfer`) as they swap.
//!
//! The pair predicts with the network that trained last: with `features` it reads its
//! partner's trunk too; with `weights` or `distill` it has taken in what the partner learned
//! at the swap or during its turn. Its validation metrics are the pair's.

use coevo_sdk::serde_json::Value;
use coevo_sdk::{
    Distillation, EvalSpec, FeatureSource, Host, Metrics, ModelId, OptimizerConfig, PluginError,
    Split, TrainSpec,
};
use serde::{Deserialize, Serialize};

use crate::chromosome::Chromosome;
use crate::config::{Config, Transfer};
use crate::hooks;

/// One turn: which network trained, from which of the pair's epochs, for how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Turn {
    /// 0 or 1.
    pub net: usize,
    /// The pair's epoch the turn started at.
    pub start: usize,
    /// Its epochs.
    pub epochs: usize,
    /// Parameter values copied to the partner at the turn's end (`transfer: weights`).
    pub copied: u64,
}

/// A trained pair, its models still in the host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainedPair {
    /// The two networks.
    pub models: [ModelId; 2],
    /// The network that trained last, which predicts for the pair.
    pub predictor: usize,
    /// Where the predictor's join layer takes its features from (`transfer: features`).
    pub features_from: Option<FeatureSource>,
    /// The turns, in order.
    pub turns: Vec<Turn>,
    /// Validation metrics of the pair's prediction.
    pub validation: Metrics,
    /// Samples back-propagated, both networks together.
    pub sample_gradients: u64,
    /// Parameters of each network.
    pub params: [usize; 2],
    /// Wall-clock seconds the pair took, training and validation.
    pub seconds: f64,
}

/// What a pair's data looks like: input shape and outputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shape {
    /// `[channels, length]`.
    pub input: Vec<usize>,
    /// Outputs of the head (1 for regression, the classes otherwise).
    pub outputs: usize,
}

/// Trains the pair `chromosome` describes from `seed`; `generation` is passed to the
/// `transmission_rate` hook.
pub fn train_pair(
    host: &Host,
    config: &Config,
    chromosome: &Chromosome,
    shape: &Shape,
    generation: usize,
    seed: u64,
) -> Result<TrainedPair, PluginError> {
    let length = shape.input[shape.input.len() - 1];
    let features = |net: usize| {
        chromosome.nets[net]
            .trunk_features(length, net)
            .map_err(|e| PluginError(e.to_string()))
    };
    let join = |partner: usize| -> Result<Option<usize>, PluginError> {
        match config.transfer {
            Transfer::Features => Ok(Some(features(partner)?)),
            _ => Ok(None),
        }
    };
    let specs: [Value; 2] = [
        chromosome.nets[0].spec(&shape.input, shape.outputs, join(1)?, config.dropout),
        chromosome.nets[1].spec(&shape.input, shape.outputs, join(0)?, config.dropout),
    ];
    let a = host.create_model(&specs[0], seed)?;
    // The second network draws its weights from another stream of the same seed.
    let b = match host.create_model(&specs[1], seed ^ 0x9e37_79b9) {
        Ok(b) => b,
        Err(e) => {
            host.free_model(a)?;
            return Err(e.into());
        }
    };
    let models = [a, b];
    let started = std::time::Instant::now();
    let trained =
        run_turns(host, config, chromosome, models, generation, seed).map(|pair| TrainedPair {
            seconds: started.elapsed().as_secs_f64(),
            ..pair
        });
    if trained.is_err() {
        host.free_model(a)?;
        host.free_model(b)?;
    }
    trained
}

fn run_turns(
    host: &Host,
    config: &Config,
    chromosome: &Chromosome,
    models: [ModelId; 2],
    generation: usize,
    seed: u64,
) -> Result<TrainedPair, PluginError> {
    let trunk = |net: usize| FeatureSource {
        model: models[net],
        layers: chromosome.nets[net].trunk_layers(),
    };
    let (mut turns, mut sample_gradients) = (Vec::new(), 0);
    let (mut epoch, mut active) = (0, 0);
    while epoch < config.epochs {
        let k = hooks::transmission_rate(host, generation, epoch, chromosome.k)?;
        let epochs = k.min(config.epochs - epoch);
        let partner = 1 - active;
        let first_turn = turns.is_empty();
        let spec = TrainSpec {
            epochs,
            batch_size: config.batch_size,
            optimizer: Some(OptimizerConfig::Adam {
                lr: chromosome.lr,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: config.weight_decay,
            }),
            seed: seed.wrapping_add(epoch as u64),
            features_from: (config.transfer == Transfer::Features).then(|| trunk(partner)),
            // The partner taught by the network that just trained; on the first turn it has
            // learned nothing yet.
            distill: (config.transfer == Transfer::Distill && !first_turn).then_some(
                Distillation {
                    teacher: models[partner],
                    weight: config.distill_weight,
                    temperature: 1.0,
                },
            ),
            ..TrainSpec::default()
        };
        let report = host.train(&[models[active]], &spec, None)?;
        sample_gradients += report.samples;
        let mut turn = Turn {
            net: active,
            start: epoch,
            epochs,
            copied: 0,
        };
        epoch += epochs;
        if epoch < config.epochs && config.transfer == Transfer::Weights {
            turn.copied = host.transfer(models[active], models[partner])?;
        }
        turns.push(turn);
        if epoch < config.epochs {
            active = partner;
        }
    }
    let features_from = (config.transfer == Transfer::Features).then(|| trunk(1 - active));
    let spec = EvalSpec {
        split: Split::Validation,
        features_from,
        ..EvalSpec::default()
    };
    let evaluation = host.evaluate(&[models[active]], &spec)?;
    let validation = evaluation
        .members
        .into_iter()
        .next()
        .ok_or_else(|| PluginError("the host evaluated no model".into()))?;
    Ok(TrainedPair {
        models,
        predictor: active,
        features_from,
        turns,
        validation,
        sample_gradients,
        params: [host.param_count(models[0])?, host.param_count(models[1])?],
        seconds: 0.0,
    })
}

/// Releases a pair's models.
pub fn free(host: &Host, pair: &TrainedPair) -> Result<(), PluginError> {
    for &model in &pair.models {
        host.free_model(model)?;
    }
    Ok(())
}
