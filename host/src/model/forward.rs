//! The forward pass: a [`Layout`]'s plan interpreted with burn's functional operations.
//!
//! A model may hold `M` members of one architecture stacked along a leading dimension (the
//! co-learning ensembles train tens of them). The pass handles them all at once with the same
//! arithmetic as `M` separate models:
//! - convolutions are grouped: activations are `[B, M·C, …]` and weights `[M·O, C, …]` with
//!   `groups = M`, so member `m` sees only its own channels;
//! - linear layers are batched products `[M, B, F] × [M, F, O]`;
//! - batch norm works per channel, and `M·C` channels are `M` members' channels.
//!
//! Before the first layer that mixes channels, every member sees the same input. Such
//! activations stay "shared" (stored once), and the first convolution or linear layer reads the
//! shared input with all members' weights in one ungrouped product, instead of copying the
//! batch `M` times. With `M = 1` shared and per-member activations are the same thing.

use burn::tensor::activation::{gelu, leaky_relu, relu, sigmoid, tanh};
use burn::tensor::module::{
    avg_pool1d, avg_pool2d, batch_norm, batch_norm_train, max_pool1d, max_pool2d,
};
use burn::tensor::ops::{AvgPoolOptions, ConvOptions, MaxPoolOptions};
use burn::tensor::{Distribution, Tensor};

use super::conv_block::{Tail, conv_block};
use super::layout::{Layout, Step};

/// Whether the pass trains (batch statistics, dropout) or evaluates (running statistics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Batch norm uses and updates batch statistics; dropout is on.
    Train,
    /// Batch norm uses running statistics; dropout is off.
    Eval,
}

/// The result of a forward pass.
#[derive(Debug)]
pub struct Forward {
    /// `[M, B, outputs]`.
    pub output: Tensor<3>,
    /// Updated running statistics by buffer index (training mode only).
    pub buffers: Vec<Option<Tensor<1>>>,
    /// With [`Probe::InactiveRelu`]: per ReLU layer in plan order, `[M]` fractions of its
    /// outputs that are zero (over the batch and the layer's units). Empty otherwise.
    pub inactive_relu: Vec<Tensor<1>>,
}

/// What a pass measures besides its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// Nothing: the training path stays as lean as it was.
    None,
    /// The fraction of zero outputs of every ReLU layer, per member.
    InactiveRelu,
}

/// The tensors a pass reads: parameters (already masked) and buffers, each flat per entry with
/// the members one after another.
#[derive(Debug, Clone, Copy)]
pub struct Weights<'a> {
    /// One tensor per `layout.params` entry, `M · numel` values.
    pub params: &'a [Tensor<1>],
    /// One tensor per `layout.buffers` entry, `M · len` values.
    pub buffers: &'a [Tensor<1>],
    /// `[1, B, features]`: what a [`Step::Join`] appends (a partner's trunk output), the same
    /// for every member; zeros when absent.
    pub side: Option<&'a Tensor<3>>,
}

/// Runs `layout`'s plan for `members` stacked members on the batch `input` (`[B, …sample]`).
pub fn forward(
    layout: &Layout,
    weights: Weights<'_>,
    members: usize,
    input: Act,
    mode: Mode,
    probe: Probe,
) -> Forward {
    let mut pass = Pass {
        layout,
        weights,
        members,
        mode,
        buffers: vec![None; weights.buffers.len()],
        probe,
        inactive_relu: Vec::new(),
    };
    let out = pass.sequence(&layout.plan, input);
    let output = pass.expand(out).into_flat();
    Forward {
        output,
        buffers: pass.buffers,
        inactive_relu: pass.inactive_relu,
    }
}

/// An activation between layers. `shared` marks one copy standing for every member.
#[derive(Debug, Clone)]
pub enum Act {
    /// `[B, M·C, H, W]`, or `[B, C, H, W]` when shared.
    D2 {
        /// The values.
        x: Tensor<4>,
        /// Whether one copy stands for all members.
        shared: bool,
    },
    /// `[B, M·C, L]`, or `[B, C, L]` when shared.
    D1 {
        /// The values.
        x: Tensor<3>,
        /// Whether one copy stands for all members.
        shared: bool,
    },
    /// `[M, B, F]`, or `[1, B, F]` when shared.
    Flat {
        /// The values.
        x: Tensor<3>,
        /// Whether one copy stands for all members.
        shared: bool,
    },
}

impl Act {
    /// A batch of samples of shape `sample` (from `[B, numel]` rows), seen by every member.
    pub fn input(rows: Tensor<2>, sample: &[usize]) -> Self {
        let [b, _] = rows.dims();
        match *sample {
            [c, h, w] => Self::D2 {
                x: rows.reshape([b, c, h, w]),
                shared: true,
            },
            [c, l] => Self::D1 {
                x: rows.reshape([b, c, l]),
                shared: true,
            },
            _ => Self::Flat {
                x: rows.unsqueeze_dim(0),
                shared: true,
            },
        }
    }

    fn shared(&self) -> bool {
        match self {
            Self::D2 { shared, .. } | Self::D1 { shared, .. } | Self::Flat { shared, .. } => {
                *shared
            }
        }
    }

    fn into_flat(self) -> Tensor<3> {
        match self {
            Self::Flat { x, .. } => x,
            // Layout::build guarantees a flat output.
            _ => unreachable!("the layout's output is flat"),
        }
    }

    fn map(
        self,
        f2: impl FnOnce(Tensor<4>) -> Tensor<4>,
        f1: impl FnOnce(Tensor<3>) -> Tensor<3>,
        ff: impl FnOnce(Tensor<3>) -> Tensor<3>,
    ) -> Self {
        match self {
            Self::D2 { x, shared } => Self::D2 { x: f2(x), shared },
            Self::D1 { x, shared } => Self::D1 { x: f1(x), shared },
            Self::Flat { x, shared } => Self::Flat { x: ff(x), shared },
        }
    }

    /// Applies the same element-wise function whatever the rank.
    fn elementwise(self, f: impl Fn(ElementwiseInput) -> ElementwiseInput) -> Self {
        self.map(
            |x| f(ElementwiseInput::D4(x)).d4(),
            |x| f(ElementwiseInput::D3(x)).d3(),
            |x| f(ElementwiseInput::D3(x)).d3(),
        )
    }
}

/// Element-wise functions are rank-generic in burn but closures cannot be, so activations pass
/// through this small sum type.
enum ElementwiseInput {
    D4(Tensor<4>),
    D3(Tensor<3>),
}

impl ElementwiseInput {
    fn d4(self) -> Tensor<4> {
        match self {
            Self::D4(x) => x,
            Self::D3(_) => unreachable!("element-wise functions keep the rank"),
        }
    }
    fn d3(self) -> Tensor<3> {
        match self {
            Self::D3(x) => x,
            Self::D4(_) => unreachable!("element-wise functions keep the rank"),
        }
    }
}

macro_rules! elementwise {
    ($input:expr, $x:ident => $body:expr) => {
        match $input {
            ElementwiseInput::D4($x) => ElementwiseInput::D4($body),
            ElementwiseInput::D3($x) => ElementwiseInput::D3($body),
        }
    };
}

struct Pass<'a> {
    layout: &'a Layout,
    weights: Weights<'a>,
    members: usize,
    mode: Mode,
    buffers: Vec<Option<Tensor<1>>>,
    probe: Probe,
    inactive_relu: Vec<Tensor<1>>,
}

impl Pass<'_> {
    fn sequence(&mut self, steps: &[Step], mut act: Act) -> Act {
        let mut rest = steps;
        while let Some((step, after)) = rest.split_first() {
            let taken;
            (act, taken) = self.step(step, after, act);
            rest = &after[taken..];
        }
        act
    }

    /// The ReLU and (for a 2-D convolution, `pool`) max pooling that directly follow a
    /// convolution, which run inside its block, and how many steps they are. A probed ReLU stays
    /// a step of its own.
    fn block_tail(&self, after: &[Step], pool: bool) -> (Tail, usize) {
        let mut tail = Tail::default();
        let mut taken = 0;
        if self.probe == Probe::None && matches!(after.first(), Some(Step::Relu)) {
            tail.relu = true;
            taken = 1;
        }
        if let (true, Some(&Step::MaxPool2d { kernel, stride })) = (pool, after.get(taken)) {
            tail.max_pool = Some((kernel, stride));
            taken += 1;
        }
        (tail, taken)
    }

    fn param(&self, index: usize) -> Tensor<1> {
        self.weights.params[index].clone()
    }

    /// Parameter `index` as `[M·shape[0], shape[1..]]`.
    fn param_as<const D: usize>(&self, index: usize) -> Tensor<D> {
        let shape = &self.layout.params[index].shape;
        let mut dims = [0; D];
        dims.copy_from_slice(shape);
        dims[0] *= self.members;
        self.param(index).reshape(dims)
    }

    /// Runs `step` on `act`; a convolution also takes in what of the steps `after` it runs as
    /// its block. Returns the result and how many of `after` were taken.
    fn step(&mut self, step: &Step, after: &[Step], act: Act) -> (Act, usize) {
        let out = match *step {
            Step::Conv2d {
                weight,
                bias,
                stride,
                padding,
            } => {
                let (tail, taken) = self.block_tail(after, true);
                return (self.conv2d(act, weight, bias, stride, padding, tail), taken);
            }
            Step::Conv1d {
                weight,
                bias,
                stride,
                padding,
            } => {
                let (tail, taken) = self.block_tail(after, false);
                return (self.conv1d(act, weight, bias, stride, padding, tail), taken);
            }
            Step::MaxPool2d { kernel, stride } => act.map(
                |x| max_pool2d(x, MaxPoolOptions::new([kernel; 2]).with_stride([stride; 2])),
                |x| x,
                |x| x,
            ),
            Step::AvgPool2d { kernel, stride } => act.map(
                |x| avg_pool2d(x, AvgPoolOptions::new([kernel; 2]).with_stride([stride; 2])),
                |x| x,
                |x| x,
            ),
            Step::MaxPool1d { kernel, stride } => act.map(
                |x| x,
                |x| max_pool1d(x, MaxPoolOptions::new([kernel]).with_stride([stride])),
                |x| x,
            ),
            Step::AvgPool1d { kernel, stride } => act.map(
                |x| x,
                |x| avg_pool1d(x, AvgPoolOptions::new([kernel]).with_stride([stride])),
                |x| x,
            ),
            Step::GlobalAvgPool => self.global_avg_pool(act),
            Step::Flatten => self.flatten(act),
            Step::Join { features } => self.join(act, features),
            Step::BatchNorm {
                scale,
                shift,
                mean,
                var,
                eps,
                momentum,
            } => self.batch_norm(act, [scale, shift], [mean, var], eps, momentum),
            Step::Dropout { p } => self.dropout(act, p),
            Step::Linear {
                weight,
                bias,
                inputs,
                outputs,
            } => self.linear(act, weight, bias, inputs, outputs),
            Step::Relu => {
                let out = act.elementwise(|x| elementwise!(x, x => relu(x)));
                if self.probe == Probe::InactiveRelu {
                    let fraction = self.zero_fraction(&out);
                    self.inactive_relu.push(fraction);
                }
                out
            }
            Step::LeakyRelu { slope } => {
                act.elementwise(|x| elementwise!(x, x => leaky_relu(x, slope)))
            }
            Step::Tanh => act.elementwise(|x| elementwise!(x, x => tanh(x))),
            Step::Sigmoid => act.elementwise(|x| elementwise!(x, x => sigmoid(x))),
            Step::Gelu => act.elementwise(|x| elementwise!(x, x => gelu(x))),
            Step::Residual {
                ref body,
                ref shortcut,
            } => {
                let main = self.sequence(body, act.clone());
                let skip = self.sequence(shortcut, act);
                self.add(main, skip)
            }
        };
        (out, 0)
    }

    /// `[M]`: the fraction of each member's values in `act` that are zero (ReLU outputs are
    /// never negative, so `≤ 0` counts the inactive ones).
    fn zero_fraction(&self, act: &Act) -> Tensor<1> {
        let m = if act.shared() { 1 } else { self.members };
        let per_member: Tensor<3> = match act.clone() {
            Act::D2 { x, .. } => {
                let [b, mc, h, w] = x.dims();
                x.reshape([b, m, mc / m * h * w]).swap_dims(0, 1)
            }
            Act::D1 { x, .. } => {
                let [b, mc, l] = x.dims();
                x.reshape([b, m, mc / m * l]).swap_dims(0, 1)
            }
            Act::Flat { x, .. } => x,
        };
        let fraction = per_member
            .lower_equal_elem(0.0)
            .float()
            .mean_dim(2)
            .mean_dim(1)
            .reshape([m]);
        if m < self.members {
            fraction.repeat_dim(0, self.members)
        } else {
            fraction
        }
    }

    /// `act` with the side features appended; they are the same for every member, so a shared
    /// activation stays shared.
    fn join(&self, act: Act, features: usize) -> Act {
        let Act::Flat { x, shared } = act else {
            unreachable!("layout checked join's input")
        };
        let [m, b, _] = x.dims();
        let side = match self.weights.side {
            Some(side) => side.clone(),
            None => Tensor::zeros([1, b, features], &x.device()),
        };
        let side = if m > 1 { side.repeat_dim(0, m) } else { side };
        Act::Flat {
            x: Tensor::cat(vec![x, side], 2),
            shared,
        }
    }

    /// One copy per member, for layers whose members differ (batch norm, dropout, sums).
    fn expand(&self, act: Act) -> Act {
        let m = self.members;
        if !act.shared() {
            return act;
        }
        match act {
            Act::D2 { x, .. } => Act::D2 {
                x: if m > 1 { x.repeat_dim(1, m) } else { x },
                shared: false,
            },
            Act::D1 { x, .. } => Act::D1 {
                x: if m > 1 { x.repeat_dim(1, m) } else { x },
                shared: false,
            },
            Act::Flat { x, .. } => Act::Flat {
                x: if m > 1 { x.repeat_dim(0, m) } else { x },
                shared: false,
            },
        }
    }

    fn conv2d(
        &mut self,
        act: Act,
        weight: usize,
        bias: Option<usize>,
        stride: usize,
        padding: usize,
        tail: Tail,
    ) -> Act {
        let Act::D2 { x, shared } = act else {
            unreachable!("layout checked conv2d's input")
        };
        let groups = if shared { 1 } else { self.members };
        let options = ConvOptions::new([stride; 2], [padding; 2], [1; 2], groups);
        let x = conv_block(
            x,
            self.param_as::<4>(weight),
            bias.map(|b| self.param(b)),
            options,
            tail,
        );
        Act::D2 { x, shared: false }
    }

    /// A 1-D convolution as a 2-D one over rows of height 1, so that it runs as a block too.
    fn conv1d(
        &mut self,
        act: Act,
        weight: usize,
        bias: Option<usize>,
        stride: usize,
        padding: usize,
        tail: Tail,
    ) -> Act {
        let Act::D1 { x, shared } = act else {
            unreachable!("layout checked conv1d's input")
        };
        let groups = if shared { 1 } else { self.members };
        let options = ConvOptions::new([1, stride], [0, padding], [1; 2], groups);
        let x = conv_block(
            x.unsqueeze_dim(2),
            self.param_as::<3>(weight).unsqueeze_dim(2),
            bias.map(|b| self.param(b)),
            options,
            tail,
        );
        Act::D1 {
            x: x.squeeze_dim(2),
            shared: false,
        }
    }

    fn linear(
        &mut self,
        act: Act,
        weight: usize,
        bias: Option<usize>,
        inputs: usize,
        outputs: usize,
    ) -> Act {
        let Act::Flat { x, shared } = act else {
            unreachable!("layout checked linear's input")
        };
        let m = self.members;
        let [_, b, _] = x.dims();
        let w = self.param(weight);
        let y = if shared {
            // [B, F] × [F, M·O] in one product, then members to the front.
            let y = x
                .reshape([b, inputs])
                .matmul(w.reshape([m * outputs, inputs]).transpose());
            y.reshape([b, m, outputs]).swap_dims(0, 1)
        } else {
            x.matmul(w.reshape([m, outputs, inputs]).swap_dims(1, 2))
        };
        let y = match bias {
            Some(bias) => y + self.param(bias).reshape([m, 1, outputs]),
            None => y,
        };
        Act::Flat {
            x: y,
            shared: false,
        }
    }

    fn flatten(&self, act: Act) -> Act {
        let m = if act.shared() { 1 } else { self.members };
        let shared = act.shared();
        let x = match act {
            Act::D2 { x, .. } => {
                let [b, mc, h, w] = x.dims();
                x.reshape([b, m, mc / m * h * w]).swap_dims(0, 1)
            }
            Act::D1 { x, .. } => {
                let [b, mc, l] = x.dims();
                x.reshape([b, m, mc / m * l]).swap_dims(0, 1)
            }
            Act::Flat { x, .. } => x,
        };
        Act::Flat { x, shared }
    }

    fn global_avg_pool(&self, act: Act) -> Act {
        let m = if act.shared() { 1 } else { self.members };
        let shared = act.shared();
        let pooled: Tensor<2> = match act {
            Act::D2 { x, .. } => x.mean_dims(&[2, 3]).flatten(1, 3),
            Act::D1 { x, .. } => x.mean_dim(2).flatten(1, 2),
            Act::Flat { .. } => unreachable!("layout checked global_avg_pool's input"),
        };
        let [b, mc] = pooled.dims();
        Act::Flat {
            x: pooled.reshape([b, m, mc / m]).swap_dims(0, 1),
            shared,
        }
    }

    fn batch_norm(
        &mut self,
        act: Act,
        [scale, shift]: [usize; 2],
        [mean, var]: [usize; 2],
        eps: f64,
        momentum: f64,
    ) -> Act {
        let (gamma, beta) = (self.param(scale), self.param(shift));
        match self.expand(act) {
            Act::D2 { x, .. } => Act::D2 {
                x: self.normalise(x, gamma, beta, [mean, var], eps, momentum),
                shared: false,
            },
            Act::D1 { x, .. } => Act::D1 {
                x: self.normalise(x, gamma, beta, [mean, var], eps, momentum),
                shared: false,
            },
            Act::Flat { x, .. } => {
                // [M, B, F] → [B, M·F], so that features are channels.
                let [m, b, f] = x.dims();
                let rows = x.swap_dims(0, 1).reshape([b, m * f]);
                let y = self.normalise(rows, gamma, beta, [mean, var], eps, momentum);
                Act::Flat {
                    x: y.reshape([b, m, f]).swap_dims(0, 1),
                    shared: false,
                }
            }
        }
    }

    fn normalise<const D: usize>(
        &mut self,
        x: Tensor<D>,
        gamma: Tensor<1>,
        beta: Tensor<1>,
        [mean, var]: [usize; 2],
        eps: f64,
        momentum: f64,
    ) -> Tensor<D> {
        let running_mean = self.weights.buffers[mean].clone();
        let running_var = self.weights.buffers[var].clone();
        match self.mode {
            Mode::Eval => batch_norm(x, gamma, beta, running_mean, running_var, eps),
            Mode::Train => {
                let dims = x.dims();
                let per_channel = (dims.iter().product::<usize>() / dims[1]).max(2) as f64;
                let out = batch_norm_train(x, gamma, beta, eps);
                // PyTorch keeps the unbiased variance in the running estimate.
                let unbiased = out.variance.mul_scalar(per_channel / (per_channel - 1.0));
                let keep = 1.0 - momentum;
                let new_mean = running_mean.mul_scalar(keep) + out.mean.mul_scalar(momentum);
                let new_var = running_var.mul_scalar(keep) + unbiased.mul_scalar(momentum);
                self.buffers[mean] = Some(new_mean.detach().without_autodiff());
                self.buffers[var] = Some(new_var.detach().without_autodiff());
                out.output
            }
        }
    }

    fn dropout(&mut self, act: Act, p: f64) -> Act {
        if self.mode == Mode::Eval || p == 0.0 {
            return act;
        }
        let keep = 1.0 - p;
        let scale = 1.0 / keep;
        self.expand(act).elementwise(|x| {
            elementwise!(x, x => {
                let mask = Tensor::random(x.shape(), Distribution::Bernoulli(keep), &x.device());
                x.mul(mask).mul_scalar(scale)
            })
        })
    }

    fn add(&self, a: Act, b: Act) -> Act {
        let (a, b) = if a.shared() == b.shared() {
            (a, b)
        } else {
            (self.expand(a), self.expand(b))
        };
        match (a, b) {
            (Act::D2 { x, shared }, Act::D2 { x: y, .. }) => Act::D2 { x: x + y, shared },
            (Act::D1 { x, shared }, Act::D1 { x: y, .. }) => Act::D1 { x: x + y, shared },
            (Act::Flat { x, shared }, Act::Flat { x: y, .. }) => Act::Flat { x: x + y, shared },
            _ => unreachable!("layout checked that residual branches agree"),
        }
    }
}
