//! Max pooling for flex, by coevo's pooling kernels: the forward pass keeps each window's
//! argmax, and the backward pass sends every gradient to its window's argmax.
//!
//! flex's own pooling with indices took about as long as the convolution before it in a
//! LeNet-5 step; a window scan over each plane, planes spread over rayon's threads, takes a
//! fraction of that.

use std::sync::Arc;

use burn::backend::TensorMetadata;
use burn::backend::flex::FlexTensor;

use super::flex_conv::{tensor, values};
use super::pool_kernel::{self, Threads, Windows};

/// What the backward pass needs: where each output came from, the geometry, and the output
/// itself when a ReLU rode along (its gate).
#[derive(Debug, Clone)]
pub struct PoolRecord {
    /// Per output value, the index of its window's maximum within its input plane.
    argmax: Arc<Vec<u32>>,
    /// `[N, C, H, W]`.
    input: [usize; 4],
    windows: Windows,
    gate: Option<FlexTensor>,
}

/// The input's shape and windows when these kernels cover it: a 4-D f32 tensor at least one
/// window big.
fn covered(x: &FlexTensor, kernel: usize, stride: usize) -> Option<([usize; 4], Windows)> {
    let shape = x.shape();
    let &[n, c, h, w] = &shape[..] else {
        return None;
    };
    let windows = Windows::fitting([h, w], kernel, stride)?;
    (x.dtype() == burn::tensor::DType::F32).then_some(([n, c, h, w], windows))
}

/// Max pooling of `x` (`[N, C, H, W]`), then a ReLU when `relu`, with its record for
/// [`backward`]; `None` when the tensor is not one these kernels cover (then flex's own
/// pooling applies).
pub fn forward(
    x: &FlexTensor,
    kernel: usize,
    stride: usize,
    relu: bool,
) -> Option<(FlexTensor, PoolRecord)> {
    let (input @ [n, c, _, _], windows) = covered(x, kernel, stride)?;
    let len = n * c * windows.pooled_len();
    let (mut out, mut argmax) = (vec![0.0; len], vec![0u32; len]);
    pool_kernel::pool(
        &values(x),
        windows,
        relu,
        &mut out,
        &mut argmax,
        Threads::Rayon,
    );
    let [oh, ow] = windows.pooled();
    let out = tensor(out, [n, c, oh, ow]);
    let record = PoolRecord {
        argmax: Arc::new(argmax),
        input,
        windows,
        gate: relu.then(|| out.clone()),
    };
    Some((out, record))
}

/// The gradient of the pooling's input from its output gradient.
pub fn backward(record: &PoolRecord, output_grad: &FlexTensor) -> FlexTensor {
    // Zeroed once here; the kernel adds into it.
    let mut dx = vec![0.0; record.input.iter().product()];
    let gate = record.gate.as_ref().map(values);
    pool_kernel::unpool(
        &values(output_grad),
        &record.argmax,
        gate.as_deref(),
        record.windows,
        &mut dx,
        Threads::Rayon,
    );
    tensor(dx, record.input)
}
