//! Compaction: the physically smaller network that computes what a pruned one computes.
//!
//! A unit (a channel or a feature) whose every writing value is zero (its weight row, its
//! bias, the scale and shift of the batch norm after it) outputs exactly zero, through ReLU,
//! pooling, zero padding and residual sums alike, so the layers that read it read nothing from
//! it. Compaction removes such units along every axis their group touches: the weights that
//! write them, the next layer's inputs (whole blocks after a flatten), batch norm's parameters
//! and running statistics. The groups are weight matching's ([`PermutationSpec`]): units a
//! residual connection adds together go only when all of them are zero, and the network's
//! input and output, and units before a join, stay.

use crate::model::{Layer, Model, ModelError, ParamRole};
use crate::tensors::{to_f32, vector};

use super::align::{PermutationSpec, Tensor};

/// A compacted network and what it lost.
#[derive(Debug, Clone)]
pub struct Compacted {
    /// The smaller network, its masks carried over.
    pub model: Model,
    /// Per group of units: how many there were and how many remain.
    pub groups: Vec<(usize, usize)>,
}

/// Errors of [`compact`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CompactError {
    /// A stack, or a spec that the smaller sizes no longer describe.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The layout names a layer the spec does not have (a bug, not bad input).
    #[error("compact: no layer `{0}` in the spec")]
    Layer(String),
}

/// `model` without its dead units. It computes the same outputs as `model` on every input.
/// A group whose units are all dead keeps one, so that every layer still has an output.
pub fn compact(model: &Model) -> Result<Compacted, CompactError> {
    if model.members() != 1 {
        return Err(ModelError::Architecture("compacted as a stack").into());
    }
    let layout = model.layout();
    let spec = PermutationSpec::of(layout);
    let shaped = |values: Vec<f32>, shape: &[usize]| Tensor {
        values,
        shape: shape.to_vec(),
    };
    let params: Vec<Tensor> = (model.params().iter().zip(&layout.params))
        .map(|(t, entry)| shaped(to_f32(t.clone()), &entry.shape))
        .collect();
    let buffers: Vec<Tensor> = (model.buffers().iter().zip(&layout.buffers))
        .map(|(t, entry)| shaped(to_f32(t.clone()), &[entry.len]))
        .collect();
    let keep: Vec<Vec<usize>> = (0..spec.sizes.len())
        .map(|g| live_units(&spec, g, &params))
        .collect();
    let mut smaller = model.spec().clone();
    for (g, units) in keep.iter().enumerate() {
        for axis in spec.axes[g].iter().filter(|a| a.writes && !a.buffer) {
            let entry = &layout.params[axis.tensor];
            if matches!(entry.role, ParamRole::Weight { .. }) {
                let name = &layout.layers[entry.layer];
                set_out(&mut smaller.layers, name, units.len())?;
            }
        }
    }
    let masks: Vec<Option<Tensor>> = (model.masks().iter().zip(&layout.params))
        .map(|(m, entry)| m.as_ref().map(|m| shaped(to_f32(m.clone()), &entry.shape)))
        .collect();
    let kept_masks: Vec<Option<Vec<f32>>> = masks
        .into_iter()
        .enumerate()
        .map(|(i, m)| m.map(|m| spec.select(i, false, m, &keep).values))
        .collect();
    let values = |tensors: Vec<Tensor>, buffer: bool| -> Vec<Vec<f32>> {
        (tensors.into_iter().enumerate())
            .map(|(i, t)| spec.select(i, buffer, t, &keep).values)
            .collect()
    };
    let mut out = Model::from_values(
        smaller,
        1,
        values(params, false),
        values(buffers, true),
        model.device(),
    )?;
    if kept_masks.iter().any(Option::is_some) {
        let device = out.device().clone();
        out.set_masks(
            kept_masks
                .into_iter()
                .map(|m| m.map(|m| vector(m, &device)))
                .collect(),
        );
    }
    let groups = spec
        .sizes
        .iter()
        .zip(&keep)
        .map(|(&n, k)| (n, k.len()))
        .collect();
    Ok(Compacted { model: out, groups })
}

/// The units of group `g` that some writing value keeps alive (all of them where zero does
/// not stay zero), at least one.
fn live_units(spec: &PermutationSpec, g: usize, params: &[Tensor]) -> Vec<usize> {
    let n = spec.sizes[g];
    if !spec.keeps_zero[g] {
        return (0..n).collect();
    }
    let mut alive = vec![false; n];
    for axis in spec.axes[g].iter().filter(|a| a.writes && !a.buffer) {
        let rows = params[axis.tensor].unit_rows(axis);
        let width = rows.len() / n.max(1);
        for (u, row) in rows.chunks(width.max(1)).enumerate().take(n) {
            alive[u] |= row.iter().any(|&v| v != 0.0);
        }
    }
    let live: Vec<usize> = (0..n).filter(|&u| alive[u]).collect();
    match live.is_empty() {
        true => vec![0],
        false => live,
    }
}

impl PermutationSpec {
    /// Tensor `index` (a parameter, or a buffer when `buffer`) keeping only the units `keep`
    /// names along every axis a group touches.
    fn select(&self, index: usize, buffer: bool, mut t: Tensor, keep: &[Vec<usize>]) -> Tensor {
        for (g, axes) in self.axes.iter().enumerate() {
            for axis in axes
                .iter()
                .filter(|a| a.tensor == index && a.buffer == buffer)
            {
                if keep[g].len() < self.sizes[g] {
                    t = t.permuted(*axis, &keep[g]);
                }
            }
        }
        t
    }
}

/// Sets the output size of the convolution or linear layer `name` (`3`, `5.body.1`).
fn set_out(layers: &mut [Layer], name: &str, units: usize) -> Result<(), CompactError> {
    let missing = || CompactError::Layer(name.to_string());
    let mut parts = name.split('.');
    let mut layer = parts
        .next()
        .and_then(|i| i.parse::<usize>().ok())
        .and_then(|i| layers.get_mut(i))
        .ok_or_else(missing)?;
    while let Some(branch) = parts.next() {
        let index = parts.next().and_then(|i| i.parse::<usize>().ok());
        let inner = match (layer, branch, index) {
            (Layer::Residual { body, .. }, "body", Some(i)) => body.get_mut(i),
            (Layer::Residual { shortcut, .. }, "shortcut", Some(i)) => shortcut.get_mut(i),
            _ => None,
        };
        layer = inner.ok_or_else(missing)?;
    }
    match layer {
        Layer::Conv1d { out, .. } | Layer::Conv2d { out, .. } | Layer::Linear { out, .. } => {
            *out = units;
            Ok(())
        }
        _ => Err(missing()),
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Distribution, Tensor as Burn};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::model::{ModelSpec, preset};

    /// `model` with batch norm's running statistics drawn at random, so they matter.
    fn with_random_stats(model: Model, seed: u64) -> Model {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let params = model.params().iter().map(|t| to_f32(t.clone())).collect();
        let buffers = (model.layout().buffers.iter())
            .map(|b| (0..b.len).map(|_| rng.random_range(0.5..1.5)).collect())
            .collect();
        Model::from_values(model.spec().clone(), 1, params, buffers, model.device()).unwrap()
    }

    /// A flat mask that kills every other unit of each group: all of its writing values.
    fn killing_every_other_unit(model: &Model) -> Vec<f32> {
        let spec = PermutationSpec::of(model.layout());
        let slots = model.param_slots();
        let mut mask = vec![1.0; model.param_count()];
        for (g, axes) in spec.axes.iter().enumerate() {
            for axis in axes.iter().filter(|a| a.writes && !a.buffer) {
                let slot = &slots[axis.tensor];
                let per_unit = slot.len / spec.sizes[g];
                for u in (1..spec.sizes[g]).step_by(2) {
                    let start = slot.offset + u * per_unit;
                    mask[start..start + per_unit].fill(0.0);
                }
            }
        }
        mask
    }

    fn specs() -> Vec<(&'static str, ModelSpec)> {
        let json = |text: &str| ModelSpec::from_json(text).unwrap();
        vec![
            ("mlp", preset("mlp", &[20], 4).unwrap()),
            ("lenet5", preset("lenet5", &[1, 28, 28], 10).unwrap()),
            ("resnet20", preset("resnet20", &[3, 8, 8], 10).unwrap()),
            (
                "conv-bn-flatten-linear",
                json(
                    r#"{"input": [2, 6, 6], "layers": [
                        {"type": "conv2d", "out": 4, "kernel": 3, "padding": 1},
                        {"type": "batch_norm"}, {"type": "relu"},
                        {"type": "max_pool2d", "kernel": 2}, {"type": "flatten"},
                        {"type": "linear", "out": 5}, {"type": "relu"},
                        {"type": "linear", "out": 3}]}"#,
                ),
            ),
            (
                "conv1d-residual",
                json(
                    r#"{"input": [2, 12], "layers": [
                        {"type": "conv1d", "out": 6, "kernel": 3, "padding": 1},
                        {"type": "relu"},
                        {"type": "residual", "body": [
                            {"type": "conv1d", "out": 8, "kernel": 3, "padding": 1},
                            {"type": "batch_norm"}],
                         "shortcut": [{"type": "conv1d", "out": 8, "kernel": 1}]},
                        {"type": "relu"}, {"type": "global_avg_pool"},
                        {"type": "linear", "out": 3}]}"#,
                ),
            ),
        ]
    }

    fn outputs(model: &Model, x: &Burn<2>) -> Vec<f32> {
        to_f32(model.predict(x.clone()))
    }

    #[test]
    fn a_compacted_network_computes_what_the_masked_one_does() {
        let device = Device::flex();
        for (name, spec) in specs() {
            let input: usize = spec.input.iter().product();
            let mut model = with_random_stats(Model::new(spec, &device, 1).unwrap(), 2);
            model
                .set_flat_mask(&killing_every_other_unit(&model))
                .unwrap();
            let compacted = compact(&model).unwrap();
            let small = &compacted.model;
            assert!(
                small.param_count() < model.param_count() * 7 / 10,
                "{name}: {} of {} parameters remain",
                small.param_count(),
                model.param_count()
            );
            assert!(compacted.groups.iter().all(|&(n, k)| k == n.div_ceil(2)));
            let _generator = crate::seed::device_generator();
            device.seed(3);
            let x = Burn::<2>::random([4, input], Distribution::Normal(0.0, 1.0), &device);
            let (before, after) = (outputs(&model, &x), outputs(small, &x));
            assert_eq!(before.len(), after.len());
            for (p, q) in before.iter().zip(&after) {
                assert!(
                    (p - q).abs() <= 1e-4 * p.abs().max(1.0),
                    "{name}: {p} vs {q}"
                );
            }
            // The masks travel: the kept units' masks are all ones here.
            assert_eq!(small.mask_density(), 1.0, "{name}");
        }
    }

    #[test]
    fn units_that_are_only_partly_zero_stay() {
        let device = Device::flex();
        let mut model = Model::new(preset("mlp", &[20], 4).unwrap(), &device, 1).unwrap();
        // The first hidden unit's weights gone, its bias kept (and not zero, as initialised):
        // it outputs a constant.
        let mut values = model.flat_params();
        values[256 * 20] = 0.5;
        model.set_flat_params(&values).unwrap();
        let mut mask = vec![1.0; model.param_count()];
        mask[..20].fill(0.0);
        model.set_flat_mask(&mask).unwrap();
        let compacted = compact(&model).unwrap();
        assert_eq!(compacted.model.param_count(), model.param_count());
        assert!(compacted.model.mask_density() < 1.0, "the mask is carried");
    }

    #[test]
    fn a_sigmoid_keeps_its_units_and_a_dead_layer_keeps_one() {
        let device = Device::flex();
        let spec = ModelSpec::from_json(
            r#"{"input": [5], "layers": [
                {"type": "linear", "out": 4}, {"type": "sigmoid"},
                {"type": "linear", "out": 3}, {"type": "relu"},
                {"type": "linear", "out": 2}]}"#,
        )
        .unwrap();
        let mut model = Model::new(spec, &device, 1).unwrap();
        let mut mask = vec![1.0; model.param_count()];
        // All of the first layer (sigmoid(0) = 0.5 is not nothing) and of the second.
        mask[..24].fill(0.0);
        mask[24..24 + 15].fill(0.0);
        mask[39..42].fill(0.0);
        model.set_flat_mask(&mask).unwrap();
        let compacted = compact(&model).unwrap();
        assert_eq!(compacted.groups, vec![(4, 4), (3, 1)]);
        let x = Burn::<2>::ones([2, 5], &device);
        let (before, after) = (outputs(&model, &x), outputs(&compacted.model, &x));
        for (p, q) in before.iter().zip(&after) {
            assert!((p - q).abs() <= 1e-5, "{p} vs {q}");
        }
    }

    #[test]
    fn stacks_are_refused() {
        let device = Device::flex();
        let a = Model::new(preset("mlp", &[20], 4).unwrap(), &device, 1).unwrap();
        let stack = Model::stack(&[a.clone(), a]).unwrap();
        assert!(compact(&stack).is_err());
    }
}
