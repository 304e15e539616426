//! Shape inference over a [`ModelSpec`]: where each parameter lives and what it is called.
//!
//! Building a [`Layout`] checks the whole spec once (every layer fits the shape that reaches it)
//! and compiles it into a [`Plan`] of steps that refer to parameters by index, so the forward
//! pass does no name lookups. Parameters are ordered as the layers are, weight before bias;
//! this order is the order of the flat parameter vector (see `crate::params`).

use serde::Serialize;

use super::spec::{Layer, ModelSpec};

/// The shape of one sample's activation between layers (batch and member dimensions aside).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Shape {
    /// `[channels, height, width]`.
    Spatial2d {
        /// Channels.
        c: usize,
        /// Height.
        h: usize,
        /// Width.
        w: usize,
    },
    /// `[channels, length]`.
    Spatial1d {
        /// Channels.
        c: usize,
        /// Length.
        l: usize,
    },
    /// `[features]`.
    Flat(usize),
}

impl Shape {
    fn from_input(input: &[usize]) -> Result<Self, SpecError> {
        match *input {
            [c, h, w] if c * h * w > 0 => Ok(Self::Spatial2d { c, h, w }),
            [c, l] if c * l > 0 => Ok(Self::Spatial1d { c, l }),
            [f] if f > 0 => Ok(Self::Flat(f)),
            _ => Err(SpecError::new(
                "input",
                format!("expected [C, H, W], [C, L] or [F] with no zero, found {input:?}"),
            )),
        }
    }

    /// Number of values per sample.
    pub fn numel(self) -> usize {
        match self {
            Self::Spatial2d { c, h, w } => c * h * w,
            Self::Spatial1d { c, l } => c * l,
            Self::Flat(f) => f,
        }
    }

    /// Channels (features, when flat).
    pub fn channels(self) -> usize {
        match self {
            Self::Spatial2d { c, .. } | Self::Spatial1d { c, .. } => c,
            Self::Flat(f) => f,
        }
    }

    /// The shape as a list of dimensions.
    pub fn dims(self) -> Vec<usize> {
        match self {
            Self::Spatial2d { c, h, w } => vec![c, h, w],
            Self::Spatial1d { c, l } => vec![c, l],
            Self::Flat(f) => vec![f],
        }
    }
}

/// What a parameter tensor does, which decides its initialisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ParamRole {
    /// A convolution kernel or linear weight.
    Weight {
        /// Inputs feeding one output unit.
        fan_in: usize,
        /// Outputs one input unit feeds.
        fan_out: usize,
    },
    /// A bias of a convolution or linear layer.
    Bias {
        /// The fan-in of the layer's weight.
        fan_in: usize,
    },
    /// Batch norm's γ.
    Scale,
    /// Batch norm's β.
    Shift,
}

/// One parameter tensor of one member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParamEntry {
    /// PyTorch-style name, e.g. `4.weight` or `7.body.1.bias`.
    pub name: String,
    /// Shape for one member, in PyTorch's layout (`[out, in, kh, kw]`, `[out, in]`).
    pub shape: Vec<usize>,
    /// What it is.
    pub role: ParamRole,
    /// Index of the layer it belongs to in [`Layout::layers`].
    pub layer: usize,
    /// Output positions each value acts at per sample: a convolution's output length or area
    /// (batch norm's too), 1 for a linear layer. A weight's multiply-adds per sample.
    pub positions: usize,
}

impl ParamEntry {
    /// Number of values for one member.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// A non-trainable tensor carried with the model: batch norm's running statistics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BufferEntry {
    /// PyTorch-style name, e.g. `1.running_mean`.
    pub name: String,
    /// Length for one member.
    pub len: usize,
    /// Initial value (0 for the mean, 1 for the variance).
    pub initial: u8,
    /// Index of the layer it belongs to in [`Layout::layers`].
    pub layer: usize,
}

/// A spec that does not describe a network, with the path of the layer at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("model spec, {path}: {reason}")]
pub struct SpecError {
    /// Where: `input`, `layers[3]`, `layers[5].body[1]`.
    pub path: String,
    /// What is wrong.
    pub reason: String,
}

impl SpecError {
    fn new(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

/// One step of the compiled forward pass; parameters and buffers are indices into the model's.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)] // the fields repeat the layer's, documented on `Layer`
pub enum Step {
    Conv1d {
        weight: usize,
        bias: Option<usize>,
        stride: usize,
        padding: usize,
    },
    Conv2d {
        weight: usize,
        bias: Option<usize>,
        stride: usize,
        padding: usize,
    },
    MaxPool1d {
        kernel: usize,
        stride: usize,
    },
    MaxPool2d {
        kernel: usize,
        stride: usize,
    },
    AvgPool1d {
        kernel: usize,
        stride: usize,
    },
    AvgPool2d {
        kernel: usize,
        stride: usize,
    },
    GlobalAvgPool,
    BatchNorm {
        scale: usize,
        shift: usize,
        mean: usize,
        var: usize,
        eps: f64,
        momentum: f64,
    },
    Dropout {
        p: f64,
    },
    Linear {
        weight: usize,
        bias: Option<usize>,
        inputs: usize,
        outputs: usize,
    },
    Relu,
    LeakyRelu {
        slope: f64,
    },
    Tanh,
    Sigmoid,
    Gelu,
    Flatten,
    Join {
        features: usize,
    },
    Residual {
        body: Vec<Step>,
        shortcut: Vec<Step>,
    },
}

/// The compiled spec: parameters, buffers, steps and the output shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// Parameter tensors in flat-vector order.
    pub params: Vec<ParamEntry>,
    /// Running statistics.
    pub buffers: Vec<BufferEntry>,
    /// Names of the layers that own parameters (`0`, `3.body.1`), indexed by `ParamEntry::layer`.
    pub layers: Vec<String>,
    /// The forward pass.
    pub plan: Vec<Step>,
    /// Shape of one sample's output.
    pub output: Shape,
}

impl Layout {
    /// Checks `spec` and compiles it.
    pub fn build(spec: &ModelSpec) -> Result<Self, SpecError> {
        let mut builder = Builder::default();
        let input = Shape::from_input(&spec.input)?;
        let (plan, output) = builder.sequence(&spec.layers, input, "", "layers")?;
        let joins: Vec<usize> = (spec.layers.iter().enumerate())
            .filter(|(_, l)| matches!(l, Layer::Join { .. }))
            .map(|(i, _)| i)
            .collect();
        if joins.len() > 1 {
            let at = format!("layers[{}]", joins[1]);
            return Err(SpecError::new(at, "a model may have one join layer"));
        }
        if !matches!(output, Shape::Flat(_)) {
            return Err(SpecError::new(
                "layers",
                format!(
                    "the output must be flat, found {:?}: end with flatten or global_avg_pool and a linear layer",
                    output.dims()
                ),
            ));
        }
        Ok(Self {
            params: builder.params,
            buffers: builder.buffers,
            layers: builder.layers,
            plan,
            output,
        })
    }

    /// The features a top-level [`Layer::Join`] appends, if the model has one; it may have at
    /// most one.
    pub fn join_features(&self) -> Option<usize> {
        self.plan.iter().find_map(|step| match *step {
            Step::Join { features } => Some(features),
            _ => None,
        })
    }

    /// Parameters of one member.
    pub fn param_count(&self) -> usize {
        self.params.iter().map(ParamEntry::numel).sum()
    }

    /// Outputs per sample (classes, or regression targets).
    pub fn outputs(&self) -> usize {
        self.output.numel()
    }
}

#[derive(Default)]
struct Builder {
    params: Vec<ParamEntry>,
    buffers: Vec<BufferEntry>,
    layers: Vec<String>,
}

impl Builder {
    /// `prefix` names parameters (`3.body.`), `path` locates errors (`layers[3].body`).
    fn sequence(
        &mut self,
        layers: &[Layer],
        mut shape: Shape,
        prefix: &str,
        path: &str,
    ) -> Result<(Vec<Step>, Shape), SpecError> {
        let mut steps = Vec::with_capacity(layers.len());
        for (i, layer) in layers.iter().enumerate() {
            let name = format!("{prefix}{i}");
            let at = format!("{path}[{i}]");
            let (step, next) = self.layer(layer, shape, &name, &at)?;
            steps.push(step);
            shape = next;
        }
        Ok((steps, shape))
    }

    fn layer(
        &mut self,
        layer: &Layer,
        shape: Shape,
        name: &str,
        at: &str,
    ) -> Result<(Step, Shape), SpecError> {
        let fail = |reason: String| SpecError::new(at, reason);
        match *layer {
            Layer::Conv1d {
                out,
                kernel,
                stride,
                padding,
                bias,
            } => {
                let Shape::Spatial1d { c, l } = shape else {
                    return Err(fail(format!(
                        "conv1d needs [C, L], found {:?}",
                        shape.dims()
                    )));
                };
                let l = conv_out(l, kernel, stride, padding).map_err(fail)?;
                positive(out, "out").map_err(fail)?;
                let (weight, bias) = self.weights(name, vec![out, c, kernel], bias, l);
                Ok((
                    Step::Conv1d {
                        weight,
                        bias,
                        stride,
                        padding,
                    },
                    Shape::Spatial1d { c: out, l },
                ))
            }
            Layer::Conv2d {
                out,
                kernel,
                stride,
                padding,
                bias,
            } => {
                let Shape::Spatial2d { c, h, w } = shape else {
                    return Err(fail(format!(
                        "conv2d needs [C, H, W], found {:?}",
                        shape.dims()
                    )));
                };
                let h = conv_out(h, kernel, stride, padding).map_err(fail)?;
                let w = conv_out(w, kernel, stride, padding).map_err(fail)?;
                positive(out, "out").map_err(fail)?;
                let (weight, bias) = self.weights(name, vec![out, c, kernel, kernel], bias, h * w);
                let step = Step::Conv2d {
                    weight,
                    bias,
                    stride,
                    padding,
                };
                Ok((step, Shape::Spatial2d { c: out, h, w }))
            }
            Layer::MaxPool1d { kernel, stride } | Layer::AvgPool1d { kernel, stride } => {
                let Shape::Spatial1d { c, l } = shape else {
                    return Err(fail(format!(
                        "1-D pooling needs [C, L], found {:?}",
                        shape.dims()
                    )));
                };
                let stride = stride.unwrap_or(kernel);
                let l = conv_out(l, kernel, stride, 0).map_err(fail)?;
                let step = if matches!(layer, Layer::MaxPool1d { .. }) {
                    Step::MaxPool1d { kernel, stride }
                } else {
                    Step::AvgPool1d { kernel, stride }
                };
                Ok((step, Shape::Spatial1d { c, l }))
            }
            Layer::MaxPool2d { kernel, stride } | Layer::AvgPool2d { kernel, stride } => {
                let Shape::Spatial2d { c, h, w } = shape else {
                    return Err(fail(format!(
                        "2-D pooling needs [C, H, W], found {:?}",
                        shape.dims()
                    )));
                };
                let stride = stride.unwrap_or(kernel);
                let h = conv_out(h, kernel, stride, 0).map_err(fail)?;
                let w = conv_out(w, kernel, stride, 0).map_err(fail)?;
                let step = if matches!(layer, Layer::MaxPool2d { .. }) {
                    Step::MaxPool2d { kernel, stride }
                } else {
                    Step::AvgPool2d { kernel, stride }
                };
                Ok((step, Shape::Spatial2d { c, h, w }))
            }
            Layer::GlobalAvgPool => match shape {
                Shape::Flat(_) => Err(fail("global_avg_pool needs a spatial input".into())),
                _ => Ok((Step::GlobalAvgPool, Shape::Flat(shape.channels()))),
            },
            Layer::BatchNorm { eps, momentum } => {
                if !(eps > 0.0 && (0.0..=1.0).contains(&momentum)) {
                    return Err(fail(format!(
                        "batch_norm needs eps > 0 and momentum in [0, 1], found {eps} and {momentum}"
                    )));
                }
                let c = shape.channels();
                let positions = shape.numel() / c.max(1);
                let layer = self.new_layer(name);
                let scale = self.param(format!("{name}.weight"), vec![c], ParamRole::Scale, layer);
                let shift = self.param(format!("{name}.bias"), vec![c], ParamRole::Shift, layer);
                self.params[scale].positions = positions;
                self.params[shift].positions = positions;
                let mean = self.buffer(format!("{name}.running_mean"), c, 0, layer);
                let var = self.buffer(format!("{name}.running_var"), c, 1, layer);
                Ok((
                    Step::BatchNorm {
                        scale,
                        shift,
                        mean,
                        var,
                        eps,
                        momentum,
                    },
                    shape,
                ))
            }
            Layer::Dropout { p } => {
                if !(0.0..1.0).contains(&p) {
                    return Err(fail(format!("dropout p must be in [0, 1), found {p}")));
                }
                Ok((Step::Dropout { p }, shape))
            }
            Layer::Linear { out, bias } => {
                let Shape::Flat(inputs) = shape else {
                    return Err(fail(format!(
                        "linear needs a flat input, found {:?}: add a flatten layer before it",
                        shape.dims()
                    )));
                };
                positive(out, "out").map_err(fail)?;
                let (weight, bias) = self.weights(name, vec![out, inputs], bias, 1);
                Ok((
                    Step::Linear {
                        weight,
                        bias,
                        inputs,
                        outputs: out,
                    },
                    Shape::Flat(out),
                ))
            }
            Layer::Relu => Ok((Step::Relu, shape)),
            Layer::LeakyRelu { slope } => Ok((Step::LeakyRelu { slope }, shape)),
            Layer::Tanh => Ok((Step::Tanh, shape)),
            Layer::Sigmoid => Ok((Step::Sigmoid, shape)),
            Layer::Gelu => Ok((Step::Gelu, shape)),
            Layer::Flatten => Ok((Step::Flatten, Shape::Flat(shape.numel()))),
            Layer::Join { features } => {
                let Shape::Flat(inputs) = shape else {
                    return Err(fail(format!(
                        "join needs a flat input, found {:?}: add a flatten layer before it",
                        shape.dims()
                    )));
                };
                if prefix_is_nested(name) {
                    return Err(fail("join must be a top-level layer".into()));
                }
                positive(features, "features").map_err(fail)?;
                Ok((Step::Join { features }, Shape::Flat(inputs + features)))
            }
            Layer::Residual {
                ref body,
                ref shortcut,
            } => {
                let (body_steps, body_shape) =
                    self.sequence(body, shape, &format!("{name}.body."), &format!("{at}.body"))?;
                let (short_steps, short_shape) = self.sequence(
                    shortcut,
                    shape,
                    &format!("{name}.shortcut."),
                    &format!("{at}.shortcut"),
                )?;
                if body_shape != short_shape {
                    return Err(fail(format!(
                        "body gives {:?} but shortcut gives {:?}; they are added",
                        body_shape.dims(),
                        short_shape.dims()
                    )));
                }
                Ok((
                    Step::Residual {
                        body: body_steps,
                        shortcut: short_steps,
                    },
                    body_shape,
                ))
            }
        }
    }

    fn new_layer(&mut self, name: &str) -> usize {
        self.layers.push(name.to_string());
        self.layers.len() - 1
    }

    /// A weight of `shape` (`[out, in, kernel...]`) and an optional bias.
    fn weights(
        &mut self,
        name: &str,
        shape: Vec<usize>,
        bias: bool,
        positions: usize,
    ) -> (usize, Option<usize>) {
        let layer = self.new_layer(name);
        let receptive: usize = shape[2..].iter().product();
        let fan_in = shape[1] * receptive;
        let fan_out = shape[0] * receptive;
        let out = shape[0];
        let role = ParamRole::Weight { fan_in, fan_out };
        let weight = self.param(format!("{name}.weight"), shape, role, layer);
        let bias = bias.then(|| {
            self.param(
                format!("{name}.bias"),
                vec![out],
                ParamRole::Bias { fan_in },
                layer,
            )
        });
        for index in std::iter::once(weight).chain(bias) {
            self.params[index].positions = positions;
        }
        (weight, bias)
    }

    fn param(&mut self, name: String, shape: Vec<usize>, role: ParamRole, layer: usize) -> usize {
        self.params.push(ParamEntry {
            name,
            shape,
            role,
            layer,
            positions: 1,
        });
        self.params.len() - 1
    }

    fn buffer(&mut self, name: String, len: usize, initial: u8, layer: usize) -> usize {
        self.buffers.push(BufferEntry {
            name,
            len,
            initial,
            layer,
        });
        self.buffers.len() - 1
    }
}

/// Whether a layer's name (`3`, `5.body.1`) is inside a residual block.
fn prefix_is_nested(name: &str) -> bool {
    name.contains('.')
}

fn conv_out(size: usize, kernel: usize, stride: usize, padding: usize) -> Result<usize, String> {
    if kernel == 0 || stride == 0 {
        return Err("kernel and stride must be at least 1".into());
    }
    let padded = size + 2 * padding;
    if kernel > padded {
        return Err(format!(
            "kernel {kernel} is larger than the padded input {padded}"
        ));
    }
    Ok((padded - kernel) / stride + 1)
}

fn positive(value: usize, field: &str) -> Result<(), String> {
    if value == 0 {
        Err(format!("`{field}` must be at least 1"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> ModelSpec {
        ModelSpec::from_json(json).unwrap()
    }

    #[test]
    fn names_and_shapes_follow_pytorch() {
        let layout = Layout::build(&spec(
            r#"{"input":[3,8,8],"layers":[
                {"type":"conv2d","out":4,"kernel":3,"padding":1},
                {"type":"batch_norm"},
                {"type":"residual","body":[{"type":"conv2d","out":4,"kernel":3,"padding":1,"bias":false}]},
                {"type":"global_avg_pool"},
                {"type":"linear","out":10}]}"#,
        ))
        .unwrap();
        let names: Vec<_> = layout.params.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "0.weight",
                "0.bias",
                "1.weight",
                "1.bias",
                "2.body.0.weight",
                "4.weight",
                "4.bias"
            ]
        );
        assert_eq!(layout.params[0].shape, [4, 3, 3, 3]);
        assert_eq!(layout.params[5].shape, [10, 4]);
        assert_eq!(layout.buffers[1].name, "1.running_var");
        assert_eq!(layout.layers, ["0", "1", "2.body.0", "4"]);
        // 4·3·9+4 + 4+4 + 4·4·9 + 10·4+10
        assert_eq!(layout.param_count(), 112 + 8 + 144 + 50);
        assert_eq!(layout.output, Shape::Flat(10));
    }

    #[test]
    fn errors_name_the_layer_at_fault() {
        let err = Layout::build(&spec(
            r#"{"input":[1,28,28],"layers":[{"type":"conv2d","out":2,"kernel":3},{"type":"linear","out":3}]}"#,
        ))
        .unwrap_err();
        assert_eq!(err.path, "layers[1]");
        assert!(err.reason.contains("flatten"), "{err}");

        let err = Layout::build(&spec(
            r#"{"input":[1,4,4],"layers":[{"type":"residual","body":[{"type":"conv2d","out":2,"kernel":9}]}]}"#,
        ))
        .unwrap_err();
        assert_eq!(err.path, "layers[0].body[0]");

        let err = Layout::build(&spec(r#"{"input":[0,4],"layers":[]}"#)).unwrap_err();
        assert_eq!(err.path, "input");
    }

    #[test]
    fn a_residual_whose_branches_disagree_is_refused() {
        let err = Layout::build(&spec(
            r#"{"input":[2,8,8],"layers":[{"type":"residual","body":[{"type":"conv2d","out":4,"kernel":1}]},{"type":"flatten"}]}"#,
        ))
        .unwrap_err();
        assert!(err.reason.contains("shortcut"), "{err}");
    }
}
