//! Members trained as separate models in a loop: the reference that stacked training is
//! measured (`coevo bench colearn`) and tested against.
//!
//! Each step runs every model's forward pass on the same batch, joins the outputs into the
//! `[M, B, K]` a stack would produce, and computes the same per-member losses (labels plus
//! coupling) from them. Because the coupling term detaches the other members' predictions,
//! member `i`'s gradient is the same whether the members are one stacked model or `M` models.

use burn::tensor::Tensor;

use super::coupling;
use super::loss::{self, LossKind};
use super::optimizer::Optimizer;
use super::trainer::TrainError;
use crate::data::DeviceSplit;
use crate::model::{Mode, Model};
use coevo_sdk::TrainSpec;

/// One optimiser over all the models' parameters, model after model.
#[derive(Debug, Clone)]
pub struct LoopedTrainer {
    config: TrainSpec,
    optimizer: Optimizer,
}

impl LoopedTrainer {
    /// A trainer for cross-entropy and the coupling of `config` (augmentation, masks and
    /// distillation are not part of the reference).
    pub fn new(config: TrainSpec) -> Self {
        let classification = coevo_sdk::Task::Classification { classes: 2 };
        let optimizer = config
            .optimizer
            .unwrap_or_else(|| super::defaults::optimizer(classification));
        Self {
            optimizer: Optimizer::new(optimizer),
            config,
        }
    }

    /// One optimiser step of every model on the samples `batch`; returns the `[M]` losses.
    pub fn train_step(
        &mut self,
        models: &mut [Model],
        data: &DeviceSplit,
        batch: &[usize],
        lr: f64,
    ) -> Result<Tensor<1>, TrainError> {
        let m = models.len();
        if let Some(beta) = &self.config.coupling
            && (beta.len() != m || beta.iter().any(|row| row.len() != m))
        {
            return Err(TrainError::Config {
                field: "coupling",
                reason: format!("β must be {m}×{m} for {m} models"),
            });
        }
        let (x, y) = data.batch(batch);
        let tracked: Vec<Vec<Tensor<1>>> = models
            .iter()
            .map(|model| {
                model
                    .params()
                    .iter()
                    .map(|p| p.clone().autodiff().require_grad())
                    .collect()
            })
            .collect();
        let passes: Vec<_> = models
            .iter()
            .zip(&tracked)
            .map(|(model, params)| model.forward_with(params, x.clone(), Mode::Train))
            .collect();
        let output = Tensor::cat(passes.iter().map(|p| p.output.clone()).collect(), 0);
        let mut per_sample = loss::per_sample(output.clone(), &y, LossKind::CrossEntropy, None)?;
        if let Some(beta) = &self.config.coupling {
            per_sample = per_sample + coupling::coupling_loss(output, beta);
        }
        let per_member = per_sample.mean_dim(1).reshape([m]);
        let grads = per_member.clone().sum().backward();
        let params: Vec<Tensor<1>> = models.iter().flat_map(|m| m.params().to_vec()).collect();
        let grads: Vec<Tensor<1>> = tracked
            .iter()
            .flatten()
            .zip(&params)
            .map(|(t, p)| t.grad(&grads).unwrap_or_else(|| p.zeros_like()))
            .collect();
        let mut updated = self.optimizer.update(&params, grads, lr).into_iter();
        for (model, pass) in models.iter_mut().zip(passes) {
            let count = model.params().len();
            model.set_params(updated.by_ref().take(count).collect());
            model.update_buffers(pass.buffers);
        }
        Ok(per_member.detach().without_autodiff())
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::Device;

    use super::*;
    use crate::data::{Normalise, ResidentData};
    use crate::model::ModelSpec;
    use crate::tensors::to_f32;
    use crate::train::Trainer;
    use coevo_sdk::OptimizerConfig;

    #[test]
    fn a_stack_trains_as_a_loop_over_its_members_with_coupling() {
        let device = Device::flex();
        let source: crate::data::DataSource = concat!(
            "fashion-mnist=",
            env!("CARGO_MANIFEST_DIR"),
            "/../data/fashion-mnist-10k"
        )
        .parse()
        .unwrap();
        let mut data = source.load().unwrap();
        data.truncate(Some(40), Some(4));
        let resident = ResidentData::upload(&data, &[], Normalise::Auto, &device);
        let spec = ModelSpec::from_json(
            r#"{"input":[1,28,28],"layers":[
                {"type":"conv2d","out":3,"kernel":3,"padding":1},{"type":"batch_norm"},{"type":"relu"},
                {"type":"max_pool2d","kernel":4},{"type":"flatten"},{"type":"linear","out":10}]}"#,
        )
        .unwrap();
        let models: Vec<Model> = (0..3)
            .map(|s| Model::new(spec.clone(), &device, s).unwrap())
            .collect();
        let config = TrainSpec {
            optimizer: Some(OptimizerConfig::Sgd {
                lr: 0.1,
                momentum: 0.9,
                weight_decay: 5e-4,
                nesterov: false,
            }),
            coupling: Some(vec![
                vec![0.0, -0.4, 0.2],
                vec![-0.3, 0.0, -0.1],
                vec![0.5, -0.2, 0.0],
            ]),
            ..TrainSpec::default()
        };
        let mut stack = Model::stack(&models).unwrap();
        let mut stacked = Trainer::new(config.clone(), data.task).unwrap();
        let mut separate = models;
        let mut looped = LoopedTrainer::new(config);
        for step in 0..3 {
            let batch: Vec<usize> = (step * 8..step * 8 + 16).collect();
            let a = to_f32(
                stacked
                    .train_step(&mut stack, &resident.train, &batch, 0.1)
                    .unwrap(),
            );
            let b = to_f32(
                looped
                    .train_step(&mut separate, &resident.train, &batch, 0.1)
                    .unwrap(),
            );
            for (x, y) in a.iter().zip(&b) {
                assert!((x - y).abs() < 1e-4, "step {step}: losses {a:?} vs {b:?}");
            }
        }
        // Three steps with momentum compound any gradient difference into the parameters.
        for (k, member) in stack.unstack().iter().enumerate() {
            for (p, (x, y)) in member.params().iter().zip(separate[k].params()).enumerate() {
                let (x, y) = (to_f32(x.clone()), to_f32(y.clone()));
                for (a, b) in x.iter().zip(&y) {
                    assert!((a - b).abs() < 1e-4, "member {k} tensor {p}: {a} vs {b}");
                }
            }
        }
    }
}
