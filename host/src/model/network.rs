//! [`Model`]: a network, an architecture with its parameters and running statistics on a device.

use std::sync::Arc;

use burn::tensor::{Device, Tensor, TensorData};

use super::forward::{self, Act, Forward, Mode, Probe, Weights};
use super::init::init_param;
use super::layout::{Layout, SpecError};
use super::spec::ModelSpec;
use super::trunk::Trunk;
use crate::seed;

/// Why a model cannot be built or combined.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// The spec does not describe a network.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// A tensor given for the model has the wrong number of values.
    #[error("`{name}`: expected {expected} values, found {found}")]
    Size {
        /// The tensor's name.
        name: String,
        /// Values the layout needs.
        expected: usize,
        /// Values given.
        found: usize,
    },
    /// Models that must share an architecture do not.
    #[error("models of different architectures cannot be {0}")]
    Architecture(&'static str),
    /// A trunk that cannot be taken, or that does not fit the model it feeds.
    #[error("features_from: {0}")]
    Trunk(String),
    /// A member index past the end.
    #[error("member {index} requested from a stack of {members}")]
    Member {
        /// The index asked for.
        index: usize,
        /// Members in the stack.
        members: usize,
    },
}

/// One network, or `members` networks of one architecture stacked for joint training.
///
/// Parameters are device tensors, one per layout entry, flat, with the members one after
/// another; the model owns them and every operation on them (training, blends, masks) returns
/// or updates a model, so nothing outside the host ever holds a tensor.
#[derive(Debug, Clone)]
pub struct Model {
    spec: ModelSpec,
    layout: Arc<Layout>,
    members: usize,
    params: Vec<Tensor<1>>,
    buffers: Vec<Tensor<1>>,
    masks: Vec<Option<Tensor<1>>>,
    device: Device,
    /// The features a join layer appends, while a training or evaluation call lends them;
    /// a model in the session never holds one.
    partner: Option<Arc<Trunk>>,
}

impl Model {
    /// A freshly initialised single model; `seed` decides every initial weight.
    pub fn new(spec: ModelSpec, device: &Device, seed: u64) -> Result<Self, ModelError> {
        Self::new_stacked(spec, &[seed], device)
    }

    /// `seeds.len()` members, member `m` initialised exactly as `Model::new(spec, seeds[m])`.
    pub fn new_stacked(
        spec: ModelSpec,
        seeds: &[u64],
        device: &Device,
    ) -> Result<Self, ModelError> {
        let layout = Layout::build(&spec)?;
        let params = layout
            .params
            .iter()
            .map(|entry| {
                seeds
                    .iter()
                    .flat_map(|&s| init_param(entry, spec.init, seed::derive(s, "init", 0)))
                    .collect()
            })
            .collect();
        let buffers = layout
            .buffers
            .iter()
            .map(|entry| vec![f32::from(entry.initial); entry.len * seeds.len()])
            .collect();
        Self::from_values(spec, seeds.len(), params, buffers, device)
    }

    /// A model with the given parameter and buffer values (flat, members one after another).
    pub fn from_values(
        spec: ModelSpec,
        members: usize,
        params: Vec<Vec<f32>>,
        buffers: Vec<Vec<f32>>,
        device: &Device,
    ) -> Result<Self, ModelError> {
        let layout = Layout::build(&spec)?;
        let expect = |name: &str, expected: usize, found: usize| {
            if expected == found {
                Ok(())
            } else {
                Err(ModelError::Size {
                    name: name.to_string(),
                    expected,
                    found,
                })
            }
        };
        expect("parameter tensors", layout.params.len(), params.len())?;
        expect("buffer tensors", layout.buffers.len(), buffers.len())?;
        for (entry, values) in layout.params.iter().zip(&params) {
            expect(&entry.name, entry.numel() * members, values.len())?;
        }
        for (entry, values) in layout.buffers.iter().zip(&buffers) {
            expect(&entry.name, entry.len * members, values.len())?;
        }
        let upload = |values: Vec<f32>| {
            let n = values.len();
            Tensor::<1>::from_data(TensorData::new(values, [n]), device)
        };
        Ok(Self {
            masks: vec![None; layout.params.len()],
            params: params.into_iter().map(upload).collect(),
            buffers: buffers.into_iter().map(upload).collect(),
            layout: Arc::new(layout),
            spec,
            members,
            device: device.clone(),
            partner: None,
        })
    }

    /// This model reading `trunk`'s features in its join layer. The sizes must agree, and the
    /// trunk must read the same samples.
    pub fn joined_with(&self, trunk: Trunk) -> Result<Model, ModelError> {
        let wanted = self.layout.join_features().ok_or_else(|| {
            ModelError::Trunk("the model has no join layer to take features".into())
        })?;
        if trunk.features() != wanted {
            return Err(ModelError::Trunk(format!(
                "the model's join layer takes {wanted} features, the partner's trunk gives {}",
                trunk.features()
            )));
        }
        if trunk.input() != self.spec.input.as_slice() {
            return Err(ModelError::Trunk(format!(
                "the partner reads samples of shape {:?}, the model {:?}",
                trunk.input(),
                self.spec.input
            )));
        }
        Ok(Model {
            partner: Some(Arc::new(trunk)),
            ..self.clone()
        })
    }

    /// The architecture.
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// The compiled architecture: parameter names, shapes and order.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Stacked members (1 for a plain model).
    pub fn members(&self) -> usize {
        self.members
    }

    /// The device the tensors live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Trainable values of one member.
    pub fn param_count(&self) -> usize {
        self.layout.param_count()
    }

    /// Parameter tensors, unmasked, in layout order.
    pub fn params(&self) -> &[Tensor<1>] {
        &self.params
    }

    /// Running statistics in layout order.
    pub fn buffers(&self) -> &[Tensor<1>] {
        &self.buffers
    }

    /// Binary masks by parameter entry (`None`: unmasked).
    pub fn masks(&self) -> &[Option<Tensor<1>>] {
        &self.masks
    }

    /// Replaces the parameters (same count and sizes), re-applying the masks so that masked
    /// weights stay exactly zero whatever an update did.
    pub(crate) fn set_params(&mut self, params: Vec<Tensor<1>>) {
        debug_assert_eq!(params.len(), self.masks.len());
        self.params = params
            .into_iter()
            .zip(&self.masks)
            .map(|(p, mask)| match mask {
                Some(mask) => p * mask.clone(),
                None => p,
            })
            .collect();
    }

    /// Replaces the running statistics that `updates` holds.
    pub(crate) fn update_buffers(&mut self, updates: Vec<Option<Tensor<1>>>) {
        for (buffer, update) in self.buffers.iter_mut().zip(updates) {
            if let Some(update) = update {
                *buffer = update;
            }
        }
    }

    pub(crate) fn set_buffers(&mut self, buffers: Vec<Tensor<1>>) {
        debug_assert_eq!(buffers.len(), self.buffers.len());
        self.buffers = buffers;
    }

    pub(crate) fn set_masks(&mut self, masks: Vec<Option<Tensor<1>>>) {
        debug_assert_eq!(masks.len(), self.params.len());
        self.masks = masks;
        let params = std::mem::take(&mut self.params);
        self.set_params(params);
    }

    /// Evaluation-mode output `[M, B, outputs]` for rows `[B, numel]` of samples.
    pub fn predict(&self, rows: Tensor<2>) -> Tensor<3> {
        self.forward_with(&self.params, rows, Mode::Eval).output
    }

    /// As [`Model::predict`], also measuring the fraction of inactive units of every ReLU
    /// layer: `[M, B, outputs]` and one `[M]` tensor per ReLU layer.
    pub fn predict_probed(&self, rows: Tensor<2>) -> (Tensor<3>, Vec<Tensor<1>>) {
        let side = self.partner.as_ref().map(|t| t.run(rows.clone()));
        let input = Act::input(rows, &self.spec.input);
        let weights = Weights {
            params: &self.params,
            buffers: &self.buffers,
            side: side.as_ref(),
        };
        let pass = forward::forward(
            &self.layout,
            weights,
            self.members,
            input,
            Mode::Eval,
            Probe::InactiveRelu,
        );
        (pass.output, pass.inactive_relu)
    }

    /// A forward pass with `params` standing in for the model's own (e.g. tracked copies).
    pub(crate) fn forward_with(
        &self,
        params: &[Tensor<1>],
        rows: Tensor<2>,
        mode: Mode,
    ) -> Forward {
        let side = self.partner.as_ref().map(|t| t.run(rows.clone()));
        let input = Act::input(rows, &self.spec.input);
        let weights = Weights {
            params,
            buffers: &self.buffers,
            side: side.as_ref(),
        };
        forward::forward(
            &self.layout,
            weights,
            self.members,
            input,
            mode,
            Probe::None,
        )
    }

    /// Members `models[0]`, `models[1]`, … as one stacked model.
    pub fn stack(models: &[Model]) -> Result<Model, ModelError> {
        let first = models
            .first()
            .ok_or(ModelError::Architecture("stacked from nothing"))?;
        if models.iter().any(|m| m.layout != first.layout) {
            return Err(ModelError::Architecture("stacked"));
        }
        let cat = |pick: &dyn Fn(&Model) -> Vec<Tensor<1>>| -> Vec<Tensor<1>> {
            let per_model: Vec<Vec<Tensor<1>>> = models.iter().map(pick).collect();
            (0..per_model[0].len())
                .map(|i| Tensor::cat(per_model.iter().map(|t| t[i].clone()).collect(), 0))
                .collect()
        };
        let params = cat(&|m| m.params.clone());
        let buffers = cat(&|m| m.buffers.clone());
        let masks = if models.iter().all(|m| m.masks.iter().all(Option::is_none)) {
            vec![None; params.len()]
        } else {
            cat(&|m| m.full_masks()).into_iter().map(Some).collect()
        };
        let members = models.iter().map(|m| m.members).sum();
        Ok(Model {
            params,
            buffers,
            masks,
            members,
            ..first.clone()
        })
    }

    /// Member `index` of a stack as a model of its own.
    pub fn member(&self, index: usize) -> Result<Model, ModelError> {
        if index >= self.members {
            return Err(ModelError::Member {
                index,
                members: self.members,
            });
        }
        let slice = |t: &Tensor<1>| {
            let len = t.dims()[0] / self.members;
            t.clone().narrow(0, index * len, len)
        };
        Ok(Model {
            params: self.params.iter().map(slice).collect(),
            buffers: self.buffers.iter().map(slice).collect(),
            masks: self.masks.iter().map(|m| m.as_ref().map(slice)).collect(),
            members: 1,
            partner: None,
            ..self.clone()
        })
    }

    /// Every member as a model of its own.
    pub fn unstack(&self) -> Vec<Model> {
        (0..self.members)
            .filter_map(|i| self.member(i).ok())
            .collect()
    }

    /// The same model on another device.
    pub fn to_device(&self, device: &Device) -> Model {
        let move_all = |ts: &[Tensor<1>]| ts.iter().map(|t| t.clone().to_device(device)).collect();
        Model {
            params: move_all(&self.params),
            buffers: move_all(&self.buffers),
            masks: self
                .masks
                .iter()
                .map(|m| m.as_ref().map(|t| t.clone().to_device(device)))
                .collect(),
            device: device.clone(),
            ..self.clone()
        }
    }

    fn full_masks(&self) -> Vec<Tensor<1>> {
        self.masks
            .iter()
            .zip(&self.params)
            .map(|(mask, p)| mask.clone().unwrap_or_else(|| p.ones_like()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Distribution, Tensor};

    use super::*;
    use crate::tensors::to_f32;

    fn spec() -> ModelSpec {
        ModelSpec::from_json(
            r#"{"input":[2,6,6],"layers":[
                {"type":"conv2d","out":3,"kernel":3,"padding":1},
                {"type":"batch_norm"},
                {"type":"relu"},
                {"type":"residual","body":[{"type":"conv2d","out":4,"kernel":3,"stride":2,"padding":1},{"type":"batch_norm"}],
                 "shortcut":[{"type":"conv2d","out":4,"kernel":1,"stride":2,"bias":false}]},
                {"type":"max_pool2d","kernel":3},
                {"type":"flatten"},
                {"type":"linear","out":5},
                {"type":"batch_norm"},
                {"type":"tanh"},
                {"type":"linear","out":3}]}"#,
        )
        .unwrap()
    }

    /// Outputs and parameter gradients of `model` in training mode for a fixed loss.
    fn outputs_and_grads(
        model: &Model,
        x: Tensor<2>,
        first_member: usize,
    ) -> (Vec<f32>, Vec<Vec<f32>>) {
        let tracked: Vec<Tensor<1>> = model
            .params()
            .iter()
            .map(|p| p.clone().autodiff().require_grad())
            .collect();
        let out = model.forward_with(&tracked, x, Mode::Train).output;
        // A loss that weighs every output differently, so that a wrong member order shows; member
        // `first_member + k` gets the same weights alone as in the stack.
        let [m, b, o] = out.dims();
        let weights = Tensor::<1, burn::tensor::Int>::arange(
            (first_member * b * o) as i64..((first_member + m) * b * o) as i64,
            &out.device(),
        )
        .float()
        .reshape([m, b, o]);
        let grads = (out.clone() * weights.sin()).sum().backward();
        let grads = tracked
            .iter()
            .map(|t| to_f32(t.grad(&grads).unwrap()))
            .collect();
        (to_f32(out.without_autodiff()), grads)
    }

    #[test]
    fn a_stack_computes_what_its_members_compute() {
        let device = Device::flex();
        let members: Vec<Model> = (0..3)
            .map(|s| Model::new(spec(), &device, s).unwrap())
            .collect();
        let stack = Model::stack(&members).unwrap();
        assert_eq!(stack.members(), 3);
        let _generator = seed::device_generator();
        device.seed(11);
        let x = Tensor::<2>::random([4, 72], Distribution::Normal(0.0, 1.0), &device);
        let (stack_out, stack_grads) = outputs_and_grads(&stack, x.clone(), 0);
        let per_member = 4 * 3;
        for (m, member) in members.iter().enumerate() {
            let (out, grads) = outputs_and_grads(member, x.clone(), m);
            let stacked = &stack_out[m * per_member..(m + 1) * per_member];
            for (a, b) in out.iter().zip(stacked) {
                assert!((a - b).abs() < 1e-4, "member {m} output {a} vs {b}");
            }
            for (p, (g, sg)) in grads.iter().zip(&stack_grads).enumerate() {
                let len = g.len();
                let sg = &sg[m * len..(m + 1) * len];
                let scale = g.iter().map(|v| v.abs()).fold(1e-3, f32::max);
                for (a, b) in g.iter().zip(sg) {
                    assert!(
                        (a - b).abs() <= 1e-3 * scale + 1e-5,
                        "member {m} param {p}: grad {a} vs {b}"
                    );
                }
            }
        }
    }

    #[test]
    fn members_round_trip_through_a_stack() {
        let device = Device::flex();
        let a = Model::new(spec(), &device, 1).unwrap();
        let b = Model::new(spec(), &device, 2).unwrap();
        let stack = Model::stack(&[a.clone(), b.clone()]).unwrap();
        let [a2, b2] = <[Model; 2]>::try_from(stack.unstack()).unwrap();
        assert_eq!(
            to_f32(a2.params()[0].clone()),
            to_f32(a.params()[0].clone())
        );
        assert_eq!(
            to_f32(b2.params()[6].clone()),
            to_f32(b.params()[6].clone())
        );
        assert!(matches!(
            stack.member(2),
            Err(ModelError::Member {
                index: 2,
                members: 2
            })
        ));
        let other = Model::new(crate::testing::tiny_spec(), &device, 0).unwrap();
        assert!(Model::stack(&[a, other]).is_err());
    }

    #[test]
    fn one_seed_one_model() {
        let device = Device::flex();
        let a = Model::new(spec(), &device, 5).unwrap();
        let b = Model::new(spec(), &device, 5).unwrap();
        let c = Model::new(spec(), &device, 6).unwrap();
        assert_eq!(to_f32(a.params()[0].clone()), to_f32(b.params()[0].clone()));
        assert_ne!(to_f32(a.params()[0].clone()), to_f32(c.params()[0].clone()));
    }
}
