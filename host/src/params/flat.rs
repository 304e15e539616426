//! All parameters of a model as one flat `f32` vector.
//!
//! The order is the layout's: layers in spec order (residual bodies before their shortcuts),
//! within a layer the weight before the bias (batch norm: γ then β), each tensor row-major in
//! PyTorch's shape (`[out, in, kh, kw]`, `[out, in]`). For a stack of members the vector is
//! member 0's whole vector, then member 1's, and so on. Running statistics are not parameters
//! and are not in the vector; checkpoints carry them.

use serde::Serialize;

use crate::model::{Model, ModelError};
use crate::tensors::{to_f32, vector};

/// Where one parameter tensor sits in a member's flat vector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParamSlot {
    /// PyTorch-style name.
    pub name: String,
    /// Shape for one member.
    pub shape: Vec<usize>,
    /// First index in the member's flat vector.
    pub offset: usize,
    /// Number of values.
    pub len: usize,
    /// The layer it belongs to (index into `Layout::layers`).
    pub layer: usize,
    /// Output positions each value acts at per sample (see [`crate::model::ParamEntry`]).
    pub positions: usize,
}

impl Model {
    /// The flat-vector index of one member's parameters.
    pub fn param_slots(&self) -> Vec<ParamSlot> {
        let mut offset = 0;
        self.layout()
            .params
            .iter()
            .map(|entry| {
                let slot = ParamSlot {
                    name: entry.name.clone(),
                    shape: entry.shape.clone(),
                    offset,
                    len: entry.numel(),
                    layer: entry.layer,
                    positions: entry.positions,
                };
                offset += slot.len;
                slot
            })
            .collect()
    }

    /// Every member's parameters, flat, members one after another.
    pub fn flat_params(&self) -> Vec<f32> {
        let m = self.members();
        let per_entry: Vec<Vec<f32>> = self.params().iter().map(|t| to_f32(t.clone())).collect();
        let mut flat = Vec::with_capacity(self.param_count() * m);
        for member in 0..m {
            for values in &per_entry {
                let len = values.len() / m;
                flat.extend_from_slice(&values[member * len..(member + 1) * len]);
            }
        }
        flat
    }

    /// Replaces every member's parameters from a flat vector in [`Model::flat_params`]'s order.
    pub fn set_flat_params(&mut self, flat: &[f32]) -> Result<(), ModelError> {
        let m = self.members();
        let expected = self.param_count() * m;
        if flat.len() != expected {
            return Err(ModelError::Size {
                name: "flat parameters".into(),
                expected,
                found: flat.len(),
            });
        }
        let per_member = self.param_count();
        let params = self
            .param_slots()
            .iter()
            .map(|slot| {
                let values: Vec<f32> = (0..m)
                    .flat_map(|member| {
                        let start = member * per_member + slot.offset;
                        flat[start..start + slot.len].iter().copied()
                    })
                    .collect();
                vector(values, self.device())
            })
            .collect();
        self.set_params(params);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::tiny_model;

    #[test]
    fn the_flat_order_is_the_documented_one() {
        let model = tiny_model(1.0);
        let slots = model.param_slots();
        let names: Vec<_> = slots
            .iter()
            .map(|s| (s.name.as_str(), s.offset, s.len))
            .collect();
        assert_eq!(
            names,
            [
                ("0.weight", 0, 2),
                ("0.bias", 2, 2),
                ("1.weight", 4, 2),
                ("1.bias", 6, 2),
                ("3.weight", 8, 8),
                ("3.bias", 16, 1)
            ]
        );
        let flat: Vec<f32> = (1..=17).map(|v| v as f32).collect();
        assert_eq!(model.flat_params(), flat);
        // The linear weight is PyTorch's [out, in].
        assert_eq!(
            crate::tensors::to_f32(model.params()[4].clone()),
            &flat[8..16]
        );
    }

    #[test]
    fn stacks_concatenate_members() {
        let stack = crate::model::Model::stack(&[tiny_model(1.0), tiny_model(-1.0)]).unwrap();
        let flat = stack.flat_params();
        assert_eq!(flat.len(), 34);
        assert_eq!(flat[0], 1.0);
        assert_eq!(flat[17], -1.0);
        assert_eq!(
            stack.member(1).unwrap().flat_params(),
            tiny_model(-1.0).flat_params()
        );
        let mut copy = stack.clone();
        assert!(copy.set_flat_params(&flat[..10]).is_err());
        copy.set_flat_params(&[0.5; 34]).unwrap();
        assert_eq!(stack.flat_params(), flat, "a copy is independent");
    }
}
