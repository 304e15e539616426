//! A model as named tensors, the common ground of every checkpoint format.
//!
//! Names are PyTorch's (`0.weight`, `3.body.1.running_var`), so a checkpoint loads into the
//! `nn.Sequential` of the same spec with `load_state_dict`. A stack of members is saved as
//! `members.<m>.<name>`. Batch norm layers also get PyTorch's `num_batches_tracked` counter
//! (ignored when loading), which PyTorch's strict loading expects.

use std::collections::BTreeMap;
use std::path::Path;

use burn::tensor::Device;

use super::error::CheckpointError;
use crate::model::{Model, ModelSpec};
use crate::tensors::to_f32;

/// Metadata key of the spec (JSON).
pub const SPEC_KEY: &str = "coevo.spec";
/// Metadata key of the number of members.
pub const MEMBERS_KEY: &str = "coevo.members";

/// Values of one named tensor.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// Parameters and statistics.
    F32(Vec<f32>),
    /// Counters.
    I64(Vec<i64>),
}

/// One named tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedTensor {
    /// PyTorch-style name.
    pub name: String,
    /// Shape.
    pub shape: Vec<usize>,
    /// Values, row-major.
    pub values: Values,
}

/// Tensors with string metadata, format-neutral.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NamedTensors {
    /// The tensors in layout order.
    pub tensors: Vec<NamedTensor>,
    /// Key/value metadata (the spec, the member count).
    pub metadata: BTreeMap<String, String>,
}

impl NamedTensors {
    /// `model`'s parameters and statistics under PyTorch names, with its spec as metadata.
    pub fn from_model(model: &Model) -> Self {
        let m = model.members();
        let layout = model.layout();
        let prefix = |member: usize| {
            if m == 1 {
                String::new()
            } else {
                format!("members.{member}.")
            }
        };
        let params: Vec<Vec<f32>> = model.params().iter().map(|t| to_f32(t.clone())).collect();
        let buffers: Vec<Vec<f32>> = model.buffers().iter().map(|t| to_f32(t.clone())).collect();
        let mut tensors = Vec::new();
        for member in 0..m {
            let p = prefix(member);
            for (entry, values) in layout.params.iter().zip(&params) {
                let n = entry.numel();
                tensors.push(NamedTensor {
                    name: format!("{p}{}", entry.name),
                    shape: entry.shape.clone(),
                    values: Values::F32(values[member * n..(member + 1) * n].to_vec()),
                });
            }
            for (entry, values) in layout.buffers.iter().zip(&buffers) {
                let n = entry.len;
                tensors.push(NamedTensor {
                    name: format!("{p}{}", entry.name),
                    shape: vec![n],
                    values: Values::F32(values[member * n..(member + 1) * n].to_vec()),
                });
                if let Some(layer) = entry.name.strip_suffix(".running_var") {
                    tensors.push(NamedTensor {
                        name: format!("{p}{layer}.num_batches_tracked"),
                        shape: vec![],
                        values: Values::I64(vec![0]),
                    });
                }
            }
        }
        let metadata = BTreeMap::from([
            (
                SPEC_KEY.to_string(),
                serde_json::to_string(model.spec()).expect("a spec serialises"),
            ),
            (MEMBERS_KEY.to_string(), m.to_string()),
            // safetensors readers in PyTorch look for this key.
            ("format".to_string(), "pt".to_string()),
        ]);
        Self { tensors, metadata }
    }

    /// The spec recorded in the metadata.
    pub fn spec(&self, path: &Path) -> Result<ModelSpec, CheckpointError> {
        let text = self.metadata.get(SPEC_KEY).ok_or_else(|| CheckpointError::Mismatch {
            path: path.to_path_buf(),
            reason: format!("no `{SPEC_KEY}` metadata: give the model spec to load weights written elsewhere"),
        })?;
        ModelSpec::from_json(text).map_err(|e| CheckpointError::Corrupt {
            path: path.to_path_buf(),
            format: "coevo",
            reason: format!("`{SPEC_KEY}` is not a model spec: {e}"),
        })
    }

    /// A model of `spec` from these tensors; every tensor the spec needs must be present with
    /// its exact shape, and no other parameter may be (a partial load is never silent).
    pub fn into_model(
        self,
        spec: ModelSpec,
        path: &Path,
        device: &Device,
    ) -> Result<Model, CheckpointError> {
        let mismatch = |reason: String| CheckpointError::Mismatch {
            path: path.to_path_buf(),
            reason,
        };
        let members: usize = self
            .metadata
            .get(MEMBERS_KEY)
            .and_then(|m| m.parse().ok())
            .unwrap_or(1);
        let layout = crate::model::Layout::build(&spec).map_err(|e| mismatch(e.to_string()))?;
        let mut by_name: BTreeMap<String, NamedTensor> = self
            .tensors
            .into_iter()
            .map(|t| (t.name.clone(), t))
            .collect();
        let prefix = |member: usize| {
            if members == 1 {
                String::new()
            } else {
                format!("members.{member}.")
            }
        };
        let mut take = |name: String, shape: &[usize]| -> Result<Vec<f32>, CheckpointError> {
            let tensor = by_name.remove(&name).ok_or_else(|| {
                mismatch(format!(
                    "tensor `{name}` is missing: the checkpoint is of another architecture"
                ))
            })?;
            if tensor.shape != shape {
                return Err(mismatch(format!(
                    "tensor `{name}` has shape {:?}, the spec needs {shape:?}: the checkpoint is of another architecture",
                    tensor.shape
                )));
            }
            match tensor.values {
                Values::F32(v) => Ok(v),
                Values::I64(_) => Err(mismatch(format!(
                    "tensor `{name}` holds integers, not weights"
                ))),
            }
        };
        let mut params = vec![Vec::new(); layout.params.len()];
        let mut buffers = vec![Vec::new(); layout.buffers.len()];
        for member in 0..members {
            let p = prefix(member);
            for (entry, values) in layout.params.iter().zip(params.iter_mut()) {
                values.extend(take(format!("{p}{}", entry.name), &entry.shape)?);
            }
            for (entry, values) in layout.buffers.iter().zip(buffers.iter_mut()) {
                values.extend(take(format!("{p}{}", entry.name), &[entry.len])?);
            }
        }
        if let Some(extra) = by_name
            .keys()
            .find(|name| !name.ends_with("num_batches_tracked"))
        {
            return Err(mismatch(format!(
                "tensor `{extra}` is not part of the spec: the checkpoint is of another architecture"
            )));
        }
        Model::from_values(spec, members, params, buffers, device)
            .map_err(|e| mismatch(e.to_string()))
    }
}
