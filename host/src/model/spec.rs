//! The serialisable description of an architecture.
//!
//! A [`ModelSpec`] is plain data (JSON through serde), so a genetic algorithm can write one from a
//! chromosome, a script can edit one, and a checkpoint can carry the one its weights belong to.
//! The layers mirror PyTorch's `nn.Sequential` of the same names, which is also how parameters
//! are named (`3.weight`, `5.body.0.bias`); see [`super::layout`].

use serde::{Deserialize, Serialize};

/// An architecture: the shape of one input sample and the layers applied to it in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// Shape of one sample without the batch dimension: `[C, H, W]`, `[C, L]` or `[F]`.
    pub input: Vec<usize>,
    /// The layers, applied in order; the last one's output is the model's output.
    pub layers: Vec<Layer>,
    /// How weights are drawn when the model is created.
    #[serde(default)]
    pub init: Init,
    /// For regression: the affine map from the network's standardised output to target units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_scale: Option<TargetScale>,
}

/// One layer. Parameter-free layers carry only their options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Layer {
    /// 1-D convolution over `[C, L]`.
    Conv1d {
        /// Output channels.
        out: usize,
        /// Kernel length.
        kernel: usize,
        /// Stride.
        #[serde(default = "one")]
        stride: usize,
        /// Zero padding on both ends.
        #[serde(default)]
        padding: usize,
        /// Whether the layer has a bias.
        #[serde(default = "yes")]
        bias: bool,
    },
    /// 2-D convolution over `[C, H, W]` with a square kernel.
    Conv2d {
        /// Output channels.
        out: usize,
        /// Kernel height and width.
        kernel: usize,
        /// Stride.
        #[serde(default = "one")]
        stride: usize,
        /// Zero padding on every side.
        #[serde(default)]
        padding: usize,
        /// Whether the layer has a bias.
        #[serde(default = "yes")]
        bias: bool,
    },
    /// Max pooling over `[C, L]`; the stride defaults to the kernel.
    MaxPool1d {
        /// Window length.
        kernel: usize,
        /// Stride.
        #[serde(default)]
        stride: Option<usize>,
    },
    /// Max pooling over `[C, H, W]`; the stride defaults to the kernel.
    MaxPool2d {
        /// Window size.
        kernel: usize,
        /// Stride.
        #[serde(default)]
        stride: Option<usize>,
    },
    /// Average pooling over `[C, L]`.
    AvgPool1d {
        /// Window length.
        kernel: usize,
        /// Stride.
        #[serde(default)]
        stride: Option<usize>,
    },
    /// Average pooling over `[C, H, W]`.
    AvgPool2d {
        /// Window size.
        kernel: usize,
        /// Stride.
        #[serde(default)]
        stride: Option<usize>,
    },
    /// Mean over all spatial positions: `[C, ...]` becomes `[C]`.
    GlobalAvgPool,
    /// Batch normalisation over channels (or features, after flatten).
    BatchNorm {
        /// Added to the variance.
        #[serde(default = "bn_eps")]
        eps: f64,
        /// Weight of the new batch in the running statistics (PyTorch's convention).
        #[serde(default = "bn_momentum")]
        momentum: f64,
    },
    /// Zeroes each unit with probability `p` in training, scaling the rest by `1/(1-p)`.
    Dropout {
        /// Drop probability in `[0, 1)`.
        p: f64,
    },
    /// Affine map of a flat input, weight `[out, in]` as in PyTorch.
    Linear {
        /// Output features.
        out: usize,
        /// Whether the layer has a bias.
        #[serde(default = "yes")]
        bias: bool,
    },
    /// `max(x, 0)`.
    Relu,
    /// `max(x, slope·x)`.
    LeakyRelu {
        /// Slope for negative inputs.
        #[serde(default = "leaky_slope")]
        slope: f64,
    },
    /// Hyperbolic tangent.
    Tanh,
    /// Logistic sigmoid.
    Sigmoid,
    /// Gaussian error linear unit.
    Gelu,
    /// `[C, ...]` to `[C·...]`, channel-major as PyTorch flattens.
    Flatten,
    /// Appends `features` values that another model computes to a flat input: a partner
    /// network's trunk output, which Co-DeepNet's head reads beside its own. Training and
    /// evaluation name the partner (`features_from`); its features come detached, so no
    /// gradient reaches it.
    Join {
        /// Values appended per sample.
        features: usize,
    },
    /// `body(x) + shortcut(x)`; an empty shortcut is the identity.
    Residual {
        /// The main branch.
        body: Vec<Layer>,
        /// The skip branch, typically empty or a strided 1×1 convolution with batch norm.
        #[serde(default)]
        shortcut: Vec<Layer>,
    },
}

/// How weights are initialised; biases start at zero, batch norm at the identity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Init {
    /// Kaiming normal: N(0, 2/fan_in).
    #[default]
    He,
    /// Glorot uniform: U(±sqrt(6/(fan_in+fan_out))).
    Xavier,
    /// PyTorch's default for conv and linear layers: U(±1/sqrt(fan_in)) for weights and biases.
    Torch,
}

/// `target = output · std + mean`: regression heads learn standardised targets.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TargetScale {
    /// Mean of the training targets.
    pub mean: f32,
    /// Standard deviation of the training targets.
    pub std: f32,
}

impl ModelSpec {
    /// A spec with the default initialisation and no target scale.
    pub fn new(input: Vec<usize>, layers: Vec<Layer>) -> Self {
        Self {
            input,
            layers,
            init: Init::default(),
            target_scale: None,
        }
    }

    /// Reads a spec from JSON.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The spec as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a spec always serialises")
    }
}

fn one() -> usize {
    1
}
fn yes() -> bool {
    true
}
fn bn_eps() -> f64 {
    1e-5
}
fn bn_momentum() -> f64 {
    0.1
}
fn leaky_slope() -> f64 {
    0.01
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_fills_defaults_and_rejects_unknown_fields() {
        let spec = ModelSpec::from_json(
            r#"{"input":[1,28,28],"layers":[{"type":"conv2d","out":4,"kernel":3},{"type":"relu"}]}"#,
        )
        .unwrap();
        assert_eq!(
            spec.layers[0],
            Layer::Conv2d {
                out: 4,
                kernel: 3,
                stride: 1,
                padding: 0,
                bias: true
            }
        );
        assert_eq!(ModelSpec::from_json(&spec.to_json()).unwrap(), spec);
        let err =
            ModelSpec::from_json(r#"{"input":[3],"layers":[{"type":"linear","out":1,"x":1}]}"#);
        assert!(err.unwrap_err().to_string().contains("unknown field `x`"));
    }
}
