//! Knowledge passed between networks of different architectures by their weights: every
//! tensor whose name and shape both networks share is copied (Co-DeepNet's reading in which the
//! partner "re-starts from a possibly higher-quality point").

use serde::Serialize;

use crate::model::Model;

/// What a transfer copied.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Transfer {
    /// Names of the parameter tensors copied.
    pub params: Vec<String>,
    /// Names of the running statistics copied.
    pub buffers: Vec<String>,
    /// Parameter values copied.
    pub values: usize,
}

/// Why a transfer could not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransferError {
    /// One of the models is a stack.
    #[error("transfer between single models, not stacks of {0}")]
    Stacked(usize),
}

/// Copies from `from` into `to` every parameter tensor and running statistic whose name and
/// shape match; the rest of `to` (and its masks) stays as it was.
pub fn transfer(from: &Model, to: &mut Model) -> Result<Transfer, TransferError> {
    for model in [from, &*to] {
        if model.members() != 1 {
            return Err(TransferError::Stacked(model.members()));
        }
    }
    let mut copied = Transfer::default();
    let mut params = to.params().to_vec();
    for (k, entry) in to.layout().params.iter().enumerate() {
        let source = from
            .layout()
            .params
            .iter()
            .position(|e| e.name == entry.name && e.shape == entry.shape);
        if let Some(j) = source {
            params[k] = from.params()[j].clone();
            copied.params.push(entry.name.clone());
            copied.values += entry.numel();
        }
    }
    let mut buffers = to.buffers().to_vec();
    for (k, entry) in to.layout().buffers.iter().enumerate() {
        let source = from
            .layout()
            .buffers
            .iter()
            .position(|e| e.name == entry.name && e.len == entry.len);
        if let Some(j) = source {
            buffers[k] = from.buffers()[j].clone();
            copied.buffers.push(entry.name.clone());
        }
    }
    to.set_params(params);
    to.set_buffers(buffers);
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use burn::tensor::Device;

    use super::*;
    use crate::model::ModelSpec;

    fn net(hidden: usize, seed: u64) -> Model {
        let spec = ModelSpec::from_json(&format!(
            r#"{{"input":[6],"layers":[{{"type":"linear","out":4}},{{"type":"batch_norm"}},{{"type":"relu"}},
               {{"type":"linear","out":{hidden}}},{{"type":"relu"}},{{"type":"linear","out":3}}]}}"#
        ))
        .unwrap();
        Model::new(spec, &Device::flex(), seed).unwrap()
    }

    #[test]
    fn tensors_of_the_same_name_and_shape_are_copied_and_the_rest_is_kept() {
        let from = net(5, 1);
        let mut to = net(7, 2);
        let before = to.clone();
        let copied = transfer(&from, &mut to).unwrap();
        // The first layer and its batch norm match, and so does the head's bias; the 5- and
        // 7-wide layers and the head's weight (whose input width differs) do not.
        assert_eq!(
            copied.params,
            ["0.weight", "0.bias", "1.weight", "1.bias", "5.bias"]
        );
        assert_eq!(copied.buffers, ["1.running_mean", "1.running_var"]);
        assert_eq!(copied.values, 6 * 4 + 4 + 4 + 4 + 3);
        let values = |m: &Model, k: usize| crate::tensors::to_f32(m.params()[k].clone());
        assert_eq!(values(&to, 0), values(&from, 0));
        assert_eq!(values(&to, 4), values(&before, 4));
        assert_ne!(values(&to, 0), values(&before, 0));
    }

    #[test]
    fn a_stack_is_refused() {
        let stack = Model::stack(&[net(5, 1), net(5, 2)]).unwrap();
        let mut to = net(5, 3);
        assert_eq!(transfer(&stack, &mut to), Err(TransferError::Stacked(2)));
    }
}
