//! A convolution block (a 2-D convolution, then optionally a ReLU and a max pooling) as one
//! differentiable operation whose gradients each backend computes its own best way.
//!
//! burn differentiates a convolution the same way on every backend: the input gradient as a
//! transposed convolution, the weight gradient as a convolution with batch and channels swapped.
//! On LibTorch that bypasses the fused backward kernels PyTorch itself runs (oneDNN on a CPU,
//! cuDNN on a GPU), and a LeNet-5 backward pass took twice PyTorch's time. So on LibTorch the
//! forward pass records the block on LibTorch's own autograd tape and the backward pass replays
//! that record. Taking the ReLU and the pooling into the block leaves burn one node per block
//! instead of three. On a GPU LibTorch differentiates them too. On a CPU the pooling, with the
//! ReLU, runs coevo's own kernel (`pool_kernel`), because LibTorch's CPU pooling took about a
//! fifth of a LeNet-5 step's CPU time; LibTorch's autograd then starts from the convolution's
//! output. On flex the block runs coevo's kernels (`flex_conv`, `flex_pool`) and chains their
//! gradients by hand.
//!
//! The operation is a backend extension: [`conv_block`] routes a tensor to the implementation of
//! the backend it lives on, and the autodiff wrapper's implementation owns the backward step.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::ops::{ActivationOps, ConvOptions, ModuleOps};
use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::backend::{
    Autodiff, Backend, Dispatch, Flex, TensorMetadata, backend_extension,
    get_or_init_device_settings,
};
use burn::tensor::Tensor;

use super::{flex_conv, flex_pool};

/// What follows the convolution inside a block.
///
/// A ReLU and a max pooling commute (the ReLU is monotone), so both backends pool first and
/// apply the ReLU to the pooled tensor, a quarter of the size under 2×2 pooling. The gradients
/// agree too: a window whose maximum is positive passes its gradient to the same element either
/// way, and one whose maximum is not passes none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tail {
    /// A ReLU on the convolution's output.
    pub relu: bool,
    /// Max pooling without padding: `(kernel, stride)`, the same along both axes.
    pub max_pool: Option<(usize, usize)>,
}

/// `x` `[B, C, H, W]` convolved with `weight` `[O, C/groups, kH, kW]`, plus `bias` `[O]`, then
/// `tail`.
pub fn conv_block(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<2>,
    tail: Tail,
) -> Tensor<4> {
    let (x, weight) = (x.into_dispatch(), weight.into_dispatch());
    let out = match bias {
        Some(bias) => <Dispatch as ConvBlockBackend>::conv_block(
            x,
            weight,
            bias.into_dispatch(),
            options,
            tail,
        ),
        None => <Dispatch as ConvBlockBackend>::conv_block_unbiased(x, weight, options, tail),
    };
    Tensor::from_dispatch(out)
}

/// The block as a backend operation, with a bias and without (the extension glue does not route
/// optional tensors).
#[backend_extension(Autodiff, Flex, LibTorch: cfg(feature = "tch"))]
pub trait ConvBlockBackend: Backend {
    /// The block's output; under autodiff, its gradients come from [`ConvTape`].
    fn conv_block(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvOptions<2>,
        tail: Tail,
    ) -> FloatTensor<Self>;

    /// [`ConvBlockBackend::conv_block`] without a bias.
    fn conv_block_unbiased(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
        tail: Tail,
    ) -> FloatTensor<Self>;
}

/// What a backend keeps of a block's forward pass, and how it turns that into gradients.
pub trait ConvTape: ConvBlockBackend {
    /// The tensors the backward pass reads.
    type Recorded: Clone + Send + std::fmt::Debug + 'static;

    /// The output, and what the backward pass will need.
    fn record(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: Option<FloatTensor<Self>>,
        options: &ConvOptions<2>,
        tail: Tail,
    ) -> (FloatTensor<Self>, Self::Recorded);

    /// The gradients of the input, the weight and the bias, each computed only when `wanted`.
    fn gradients(
        recorded: Self::Recorded,
        output_grad: FloatTensor<Self>,
        options: &ConvOptions<2>,
        wanted: [bool; 3],
    ) -> [Option<FloatTensor<Self>>; 3];
}

/// What flex keeps: the inputs, the ReLU's output and the pooling's choices.
#[derive(Debug, Clone)]
pub struct FlexRecord {
    x: FloatTensor<Flex>,
    weight: FloatTensor<Flex>,
    bias: Option<FloatTensor<Flex>>,
    /// The output of a ReLU that followed the pooling (one inside coevo's pooling is in its
    /// record).
    relu_output: Option<FloatTensor<Flex>>,
    pool: Option<FlexPool>,
}

/// A pooling's record: by coevo's kernels, or by flex's (its input, indices, kernel and stride).
#[derive(Debug, Clone)]
enum FlexPool {
    Argmax(flex_pool::PoolRecord),
    Indices(FloatTensor<Flex>, IntTensor<Flex>, (usize, usize)),
}

impl ConvBlockBackend for Flex {
    fn conv_block(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvOptions<2>,
        tail: Tail,
    ) -> FloatTensor<Self> {
        // Keeping the record costs next to nothing: shared handles, and the argmax the pooling
        // finds anyway.
        Self::record(x, weight, Some(bias), &options, tail).0
    }

    fn conv_block_unbiased(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
        tail: Tail,
    ) -> FloatTensor<Self> {
        Self::record(x, weight, None, &options, tail).0
    }
}

impl ConvTape for Flex {
    type Recorded = FlexRecord;

    fn record(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: Option<FloatTensor<Self>>,
        options: &ConvOptions<2>,
        tail: Tail,
    ) -> (FloatTensor<Self>, FlexRecord) {
        let mut y = flex_conv::conv2d(x.clone(), weight.clone(), bias.clone(), options.clone());
        let mut pool = None;
        // coevo's pooling kernel applies the ReLU itself; flex's pooling leaves it to follow.
        let mut relu_to_follow = tail.relu;
        if let Some((kernel, stride)) = tail.max_pool {
            if let Some((pooled, record)) = flex_pool::forward(&y, kernel, stride, tail.relu) {
                pool = Some(FlexPool::Argmax(record));
                relu_to_follow = false;
                y = pooled;
            } else {
                let int_dtype = get_or_init_device_settings::<Self>(&y.device()).int_dtype;
                let pooled = Self::max_pool2d_with_indices(
                    y.clone(),
                    [kernel; 2],
                    [stride; 2],
                    [0; 2],
                    [1; 2],
                    false,
                    int_dtype,
                );
                pool = Some(FlexPool::Indices(y, pooled.indices, (kernel, stride)));
                y = pooled.output;
            }
        }
        let mut relu_output = None;
        if relu_to_follow {
            y = Self::relu(y);
            relu_output = Some(y.clone());
        }
        let recorded = FlexRecord {
            x,
            weight,
            bias,
            relu_output,
            pool,
        };
        (y, recorded)
    }

    fn gradients(
        recorded: FlexRecord,
        output_grad: FloatTensor<Self>,
        options: &ConvOptions<2>,
        [want_x, want_weight, want_bias]: [bool; 3],
    ) -> [Option<FloatTensor<Self>>; 3] {
        let FlexRecord {
            x,
            weight,
            bias,
            relu_output,
            pool,
        } = recorded;
        let mut grad = output_grad;
        if let Some(output) = relu_output {
            grad = Self::relu_backward(output, grad);
        }
        match pool {
            Some(FlexPool::Argmax(record)) => grad = flex_pool::backward(&record, &grad),
            Some(FlexPool::Indices(input, indices, (kernel, stride))) => {
                grad = Self::max_pool2d_with_indices_backward(
                    input,
                    [kernel; 2],
                    [stride; 2],
                    [0; 2],
                    [1; 2],
                    false,
                    grad,
                    indices,
                )
                .x_grad;
            }
            None => {}
        }
        let grad_x = want_x.then(|| {
            flex_conv::conv2d_x_backward(x.clone(), weight.clone(), grad.clone(), options.clone())
        });
        let grad_bias = match bias {
            Some(bias) if want_bias => Some(flex_conv::conv2d_bias_backward(
                x.clone(),
                weight.clone(),
                bias,
                grad.clone(),
                options,
            )),
            _ => None,
        };
        let grad_weight = want_weight
            .then(|| flex_conv::conv2d_weight_backward(x, weight, grad, options.clone()));
        [grad_x, grad_weight, grad_bias]
    }
}

#[cfg(feature = "tch")]
mod libtorch {
    use burn::backend::LibTorch;
    use burn::backend::libtorch::TchTensor;
    use burn::backend::ops::ConvOptions;
    use burn::backend::tensor::FloatTensor;

    use super::super::tch_pool;
    use super::{ConvBlockBackend, ConvTape, Tail};

    /// The convolution on LibTorch tensors; LibTorch's autograd records it when an input asks.
    fn convolve(
        x: &tch::Tensor,
        weight: &tch::Tensor,
        bias: Option<&tch::Tensor>,
        options: &ConvOptions<2>,
    ) -> tch::Tensor {
        let to_i64 = |v: [usize; 2]| v.map(|i| i as i64);
        // The layout pads symmetrically; burn's option type could say otherwise.
        debug_assert_eq!(options.padding_begin(), options.padding_end());
        tch::Tensor::conv2d(
            x,
            weight,
            bias,
            to_i64(options.stride),
            to_i64(options.padding_begin()),
            to_i64(options.dilation),
            options.groups as i64,
        )
    }

    /// The tail after the convolution `y`. A CPU pooling runs coevo's kernel, ReLU included,
    /// outside LibTorch's autograd and returns its record; anything else runs LibTorch's
    /// operations, which its autograd records when `y` is tracked.
    fn finish(y: tch::Tensor, tail: Tail) -> (tch::Tensor, Option<tch_pool::PoolRecord>) {
        if let Some((kernel, stride)) = tail.max_pool
            && let Some((pooled, record)) = tch_pool::forward(&y, kernel, stride, tail.relu)
        {
            return (pooled, Some(record));
        }
        let mut y = y;
        if let Some((kernel, stride)) = tail.max_pool {
            let (k, s) = (kernel as i64, stride as i64);
            y = y.max_pool2d([k, k], [s, s], [0, 0], [1, 1], false);
        }
        if tail.relu {
            y = y.relu();
        }
        (y, None)
    }

    /// A view of `t` that LibTorch's autograd tracks. It shares `t`'s storage bookkeeping, so
    /// burn never updates the recorded values in place.
    fn leaf(t: &TchTensor) -> TchTensor {
        TchTensor {
            tensor: t.tensor.detach().set_requires_grad(true),
            storage: t.storage.clone(),
        }
    }

    /// The block's inputs as LibTorch's autograd tracks them, and the tensor its backward pass
    /// starts from.
    #[derive(Debug, Clone)]
    pub struct TorchRecord {
        x: TchTensor,
        weight: TchTensor,
        bias: Option<TchTensor>,
        /// The last tensor on LibTorch's tape: the block's output, or the convolution's when
        /// coevo's pooling took the tail.
        root: TchTensor,
        pool: Option<PoolTail>,
    }

    /// coevo's pooling in a record, with the block's output as the ReLU's gate. The gate
    /// shares the output's storage bookkeeping, so burn never updates it in place.
    #[derive(Debug, Clone)]
    struct PoolTail {
        record: tch_pool::PoolRecord,
        gate: Option<TchTensor>,
    }

    impl ConvBlockBackend for LibTorch {
        fn conv_block(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            bias: FloatTensor<Self>,
            options: ConvOptions<2>,
            tail: Tail,
        ) -> FloatTensor<Self> {
            let y = convolve(&x.tensor, &weight.tensor, Some(&bias.tensor), &options);
            TchTensor::new(finish(y, tail).0)
        }

        fn conv_block_unbiased(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            options: ConvOptions<2>,
            tail: Tail,
        ) -> FloatTensor<Self> {
            let y = convolve(&x.tensor, &weight.tensor, None, &options);
            TchTensor::new(finish(y, tail).0)
        }
    }

    impl ConvTape for LibTorch {
        type Recorded = TorchRecord;

        fn record(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            bias: Option<FloatTensor<Self>>,
            options: &ConvOptions<2>,
            tail: Tail,
        ) -> (FloatTensor<Self>, TorchRecord) {
            let (x, weight, bias) = (leaf(&x), leaf(&weight), bias.as_ref().map(leaf));
            let b = bias.as_ref().map(|b| &b.tensor);
            let conv = convolve(&x.tensor, &weight.tensor, b, options);
            let (y, pool) = finish(conv.shallow_clone(), tail);
            let (output, root, pool) = match pool {
                Some(record) => {
                    let output = TchTensor::new(y);
                    let gate = tail.relu.then(|| output.clone());
                    (output, conv, Some(PoolTail { record, gate }))
                }
                // burn sees a plain tensor. Updating it in place is harmless: LibTorch's record
                // keeps the block's inputs and intermediate values, not its output.
                None => (TchTensor::new(y.detach()), y, None),
            };
            let record = TorchRecord {
                x,
                weight,
                bias,
                root: TchTensor::new(root),
                pool,
            };
            (output, record)
        }

        fn gradients(
            recorded: TorchRecord,
            output_grad: FloatTensor<Self>,
            _options: &ConvOptions<2>,
            wanted: [bool; 3],
        ) -> [Option<FloatTensor<Self>>; 3] {
            let TorchRecord {
                x,
                weight,
                bias,
                root,
                pool,
            } = recorded;
            let inputs = [
                Some(&x.tensor),
                Some(&weight.tensor),
                bias.as_ref().map(|b| &b.tensor),
            ];
            let asked: Vec<(usize, &tch::Tensor)> = inputs
                .into_iter()
                .zip(wanted)
                .enumerate()
                .filter_map(|(slot, (input, want))| input.filter(|_| want).map(|t| (slot, t)))
                .collect();
            let mut grads = [None, None, None];
            if asked.is_empty() {
                return grads;
            }
            let root_grad = match pool {
                Some(PoolTail { record, gate }) => {
                    let gate = gate.as_ref().map(|g| &g.tensor);
                    tch_pool::backward(&record, gate, &output_grad.tensor)
                }
                None => output_grad.tensor,
            };
            // LibTorch's backward starts from scalars with gradient one, so the root is
            // ⟨root, root_grad⟩, whose gradient with respect to the root is root_grad.
            // A dot product reads both once and allocates nothing of the root's size.
            let root = root.tensor.reshape([-1]).dot(&root_grad.reshape([-1]));
            let tracked: Vec<&tch::Tensor> = asked.iter().map(|(_, t)| *t).collect();
            let computed = tch::Tensor::run_backward(&[root], &tracked, false, false);
            for ((slot, _), grad) in asked.iter().zip(computed) {
                grads[*slot] = Some(TchTensor::new(grad));
            }
            grads
        }
    }
}

/// The backward step of a recorded block: input, weight and (with `N = 3`) bias gradients.
#[derive(Debug)]
struct BlockStep;

impl<B: ConvTape, const N: usize> Backward<B, N> for BlockStep {
    type State = (B::Recorded, ConvOptions<2>);

    fn backward(
        self,
        ops: Ops<Self::State, N>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let output_grad = grads.consume::<B>(&ops.node);
        let (recorded, options) = ops.state;
        let wanted = [0, 1, 2].map(|i| ops.parents.get(i).is_some_and(Option::is_some));
        let computed = B::gradients(recorded, output_grad, &options, wanted);
        for (parent, grad) in ops.parents.iter().zip(computed) {
            if let (Some(node), Some(grad)) = (parent, grad) {
                grads.register::<B>(node.id, grad);
            }
        }
    }
}

type BlockState<B> = (<B as ConvTape>::Recorded, ConvOptions<2>);

/// Runs the block on `B` and, when a parent is tracked, keeps its record for the backward step.
fn recorded_or_plain<B: ConvTape, C: CheckpointStrategy, const N: usize>(
    prep: OpsKind<BlockStep, B, BlockState<B>, C, N>,
    [x, weight]: [FloatTensor<B>; 2],
    bias: Option<FloatTensor<B>>,
    options: ConvOptions<2>,
    tail: Tail,
) -> FloatTensor<Autodiff<B, C>> {
    match prep {
        OpsKind::Tracked(prep) => {
            let (output, recorded) = B::record(x, weight, bias, &options, tail);
            prep.finish((recorded, options), output)
        }
        OpsKind::UnTracked(prep) => prep.finish(match bias {
            Some(bias) => B::conv_block(x, weight, bias, options, tail),
            None => B::conv_block_unbiased(x, weight, options, tail),
        }),
    }
}

impl<B: ConvTape, C: CheckpointStrategy> ConvBlockBackend for Autodiff<B, C> {
    fn conv_block(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvOptions<2>,
        tail: Tail,
    ) -> FloatTensor<Self> {
        let prep = BlockStep
            .prepare::<C>([x.node(), weight.node(), bias.node()])
            .compute_bound()
            .stateful();
        let inputs = [x.primitive().clone(), weight.primitive().clone()];
        recorded_or_plain(prep, inputs, Some(bias.primitive().clone()), options, tail)
    }

    fn conv_block_unbiased(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
        tail: Tail,
    ) -> FloatTensor<Self> {
        let prep = BlockStep
            .prepare::<C>([x.node(), weight.node()])
            .compute_bound()
            .stateful();
        let inputs = [x.primitive().clone(), weight.primitive().clone()];
        recorded_or_plain(prep, inputs, None, options, tail)
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::activation::relu;
    use burn::tensor::module::{conv2d, max_pool2d};
    use burn::tensor::ops::MaxPoolOptions;
    use burn::tensor::{Device, Distribution, Tensor};

    use super::*;
    use crate::seed;
    use crate::tensors::to_f32;

    /// The devices this build computes on without a GPU.
    fn devices() -> Vec<Device> {
        #[cfg(feature = "tch")]
        return vec![Device::flex(), Device::libtorch()];
        #[cfg(not(feature = "tch"))]
        vec![Device::flex()]
    }

    /// The block from burn's own differentiable operations.
    fn composed(
        x: Tensor<4>,
        weight: Tensor<4>,
        bias: Option<Tensor<1>>,
        options: ConvOptions<2>,
        tail: Tail,
    ) -> Tensor<4> {
        let mut y = conv2d(x, weight, bias, options);
        if tail.relu {
            y = relu(y);
        }
        if let Some((kernel, stride)) = tail.max_pool {
            y = max_pool2d(y, MaxPoolOptions::new([kernel; 2]).with_stride([stride; 2]));
        }
        y
    }

    type Block = fn(Tensor<4>, Tensor<4>, Option<Tensor<1>>, ConvOptions<2>, Tail) -> Tensor<4>;

    /// The output, and the input, weight and bias gradients of `Σ block(x, w, b) ⊙ sin(out)`.
    fn run(
        block: Block,
        [x, w, b]: [&Tensor<1>; 3],
        shapes: ([usize; 4], [usize; 4]),
        bias: bool,
        options: ConvOptions<2>,
        tail: Tail,
    ) -> Vec<Vec<f32>> {
        let x_t = x.clone().autodiff().require_grad();
        let w_t = w.clone().autodiff().require_grad();
        let b_t = b.clone().autodiff().require_grad();
        let out = block(
            x_t.clone().reshape(shapes.0),
            w_t.clone().reshape(shapes.1),
            bias.then(|| b_t.clone()),
            options,
            tail,
        );
        let weights = out.clone().detach().sin();
        let grads = (out.clone() * weights).sum().backward();
        let mut result = vec![to_f32(out.without_autodiff().flatten::<1>(0, 3))];
        for t in [&x_t, &w_t, &b_t] {
            result.push(t.grad(&grads).map(to_f32).unwrap_or_default());
        }
        result
    }

    #[test]
    fn a_block_computes_what_burns_own_operations_compute() {
        // (input, weight, stride, padding, groups, tail)
        let pool = |kernel, stride| Some((kernel, stride));
        let cases = [
            ([3, 3, 9, 9], [4, 3, 3, 3], 1, 1, 1, Tail::default()),
            (
                [2, 4, 8, 7],
                [6, 2, 3, 2],
                2,
                0,
                2,
                Tail {
                    relu: true,
                    max_pool: None,
                },
            ),
            (
                [5, 1, 12, 12],
                [2, 1, 5, 5],
                1,
                2,
                1,
                Tail {
                    relu: true,
                    max_pool: pool(2, 2),
                },
            ),
            (
                [2, 2, 11, 11],
                [4, 2, 3, 3],
                1,
                0,
                1,
                Tail {
                    relu: false,
                    max_pool: pool(3, 2),
                },
            ),
            // Odd sides: 2×2 pooling leaves the last row and column of the 11×9 maps unread.
            (
                [2, 3, 13, 11],
                [5, 3, 3, 3],
                1,
                0,
                1,
                Tail {
                    relu: false,
                    max_pool: pool(2, 2),
                },
            ),
        ];
        for device in devices() {
            for (case, &(xs, ws, stride, padding, groups, tail)) in cases.iter().enumerate() {
                let _generator = seed::device_generator();
                device.seed(case as u64);
                let normal = Distribution::Normal(0.0, 1.0);
                let x = Tensor::<1>::random([xs.iter().product::<usize>()], normal, &device);
                let w = Tensor::<1>::random([ws.iter().product::<usize>()], normal, &device);
                let b = Tensor::<1>::random([ws[0]], normal, &device);
                drop(_generator);
                for bias in [true, false] {
                    let options = ConvOptions::new([stride; 2], [padding; 2], [1; 2], groups);
                    let tensors = [&x, &w, &b];
                    let ours = run(conv_block, tensors, (xs, ws), bias, options.clone(), tail);
                    let burns = run(composed, tensors, (xs, ws), bias, options, tail);
                    let names = ["output", "input grad", "weight grad", "bias grad"];
                    for ((name, a), b) in names.iter().zip(&ours).zip(&burns) {
                        assert_eq!(a.len(), b.len(), "{device:?} case {case}: {name} length");
                        for (u, v) in a.iter().zip(b) {
                            assert!(
                                (u - v).abs() <= 1e-4 * (1.0 + v.abs()),
                                "{device:?} case {case} bias {bias}: {name} {u} vs {v}"
                            );
                        }
                    }
                    assert_eq!(
                        ours[3].is_empty(),
                        !bias,
                        "a bias gradient only with a bias"
                    );
                }
            }
        }
    }

    #[test]
    fn without_tracked_inputs_the_block_is_plain() {
        let device = Device::flex();
        let x = Tensor::<4>::ones([1, 1, 4, 4], &device);
        let w = Tensor::<4>::ones([1, 1, 2, 2], &device);
        let tail = Tail {
            relu: true,
            max_pool: Some((3, 3)),
        };
        let options = ConvOptions::new([1; 2], [0; 2], [1; 2], 1);
        let y = conv_block(x, w, None, options, tail);
        assert_eq!(y.dims(), [1, 1, 1, 1]);
        assert_eq!(to_f32(y.flatten::<1>(0, 3)), vec![4.0]);
    }

    /// The forward pass runs a 1-D convolution as a block over rows of height 1.
    #[test]
    fn a_block_over_rows_is_burns_1d_convolution() {
        use burn::tensor::module::conv1d;
        for device in devices() {
            let _generator = seed::device_generator();
            device.seed(9);
            let normal = Distribution::Normal(0.0, 1.0);
            let x = Tensor::<3>::random([3, 4, 17], normal, &device);
            let w = Tensor::<3>::random([6, 2, 5], normal, &device);
            let b = Tensor::<1>::random([6], normal, &device);
            drop(_generator);
            let grads_of = |as_block: bool| {
                let (x_t, w_t) = (
                    x.clone().autodiff().require_grad(),
                    w.clone().autodiff().require_grad(),
                );
                let b_t = b.clone().autodiff().require_grad();
                let out = if as_block {
                    let options = ConvOptions::new([1, 2], [0, 3], [1; 2], 2);
                    let tail = Tail {
                        relu: true,
                        max_pool: None,
                    };
                    let y = conv_block(
                        x_t.clone().unsqueeze_dim(2),
                        w_t.clone().unsqueeze_dim(2),
                        Some(b_t.clone()),
                        options,
                        tail,
                    );
                    y.squeeze_dim::<3>(2)
                } else {
                    let options = ConvOptions::new([2], [3], [1], 2);
                    relu(conv1d(x_t.clone(), w_t.clone(), Some(b_t.clone()), options))
                };
                let weights = out.clone().detach().cos();
                let grads = (out.clone() * weights).sum().backward();
                let mut all = vec![to_f32(out.without_autodiff().flatten::<1>(0, 2))];
                all.push(
                    x_t.grad(&grads)
                        .map(|g| to_f32(g.flatten::<1>(0, 2)))
                        .unwrap_or_default(),
                );
                all.push(
                    w_t.grad(&grads)
                        .map(|g| to_f32(g.flatten::<1>(0, 2)))
                        .unwrap_or_default(),
                );
                all.push(b_t.grad(&grads).map(to_f32).unwrap_or_default());
                all
            };
            for (what, (a, b)) in ["output", "x grad", "w grad", "b grad"]
                .iter()
                .zip(grads_of(true).iter().zip(&grads_of(false)))
            {
                assert_eq!(a.len(), b.len(), "{device:?}: {what} length");
                assert!(!a.is_empty(), "{device:?}: {what} computed");
                for (u, v) in a.iter().zip(b) {
                    assert!(
                        (u - v).abs() <= 1e-4 * (1.0 + v.abs()),
                        "{device:?}: {what} {u} vs {v}"
                    );
                }
            }
        }
    }
}
