//! [`Trunk`]: the first layers of a model, run on their own to give features to another
//! model's [`super::Layer::Join`] (Co-DeepNet's knowledge transfer by features).

use std::sync::Arc;

use burn::tensor::Tensor;

use super::forward::{self, Act, Mode, Probe, Weights};
use super::layout::Layout;
use super::network::{Model, ModelError};
use super::spec::ModelSpec;

/// A model's first layers with their parameters, frozen: they run in evaluation mode on plain
/// (untracked) tensors, so what they compute carries no gradient back to the model they were
/// taken from.
#[derive(Debug, Clone)]
pub struct Trunk {
    input: Vec<usize>,
    layout: Arc<Layout>,
    params: Vec<Tensor<1>>,
    buffers: Vec<Tensor<1>>,
}

impl Trunk {
    /// The first `layers` layers of single model `model`; they must end flat (with a
    /// flatten layer, say) and hold no join of their own.
    pub fn of(model: &Model, layers: usize) -> Result<Self, ModelError> {
        let spec = model.spec();
        if model.members() != 1 || layers == 0 || layers > spec.layers.len() {
            return Err(ModelError::Trunk(format!(
                "a trunk is the first 1..={} layers of a single model, asked for {layers} of a \
                 stack of {}",
                spec.layers.len(),
                model.members()
            )));
        }
        let truncated = ModelSpec {
            layers: spec.layers[..layers].to_vec(),
            target_scale: None,
            ..spec.clone()
        };
        let layout = Layout::build(&truncated)?;
        if layout.join_features().is_some() {
            return Err(ModelError::Trunk(
                "a trunk that joins another model's features cannot feed a join itself".into(),
            ));
        }
        // Parameters and buffers are ordered as the layers are, so the trunk's are a prefix;
        // a model keeps its parameters masked, so they are what its forward pass reads.
        let params = model.params()[..layout.params.len()].to_vec();
        let buffers = model.buffers()[..layout.buffers.len()].to_vec();
        Ok(Self {
            input: spec.input.clone(),
            layout: Arc::new(layout),
            params,
            buffers,
        })
    }

    /// Values per sample.
    pub fn features(&self) -> usize {
        self.layout.outputs()
    }

    /// The sample shape the trunk reads.
    pub fn input(&self) -> &[usize] {
        &self.input
    }

    /// `[1, B, features]` for rows `[B, numel]`, in evaluation mode and detached.
    pub fn run(&self, rows: Tensor<2>) -> Tensor<3> {
        let weights = Weights {
            params: &self.params,
            buffers: &self.buffers,
            side: None,
        };
        let input = Act::input(rows, &self.input);
        forward::forward(&self.layout, weights, 1, input, Mode::Eval, Probe::None)
            .output
            .detach()
    }
}
