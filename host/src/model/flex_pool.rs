//! Max pooling for flex: the forward pass keeps each window's argmax, and the backward pass
//! sends every gradient to its window's argmax.
//!
//! flex's own pooling with indices took about as long as the convolution before it in a
//! LeNet-5 step; a window scan over each plane, planes spread over rayon's threads, takes a
//! fraction of that. As in PyTorch, a NaN in a window wins.

use std::sync::Arc;

use burn::backend::TensorMetadata;
use burn::backend::flex::FlexTensor;
use rayon::prelude::*;

use super::flex_conv::{tensor, values};

/// What the backward pass needs: where each output came from, and the input's shape.
#[derive(Debug, Clone)]
pub struct PoolRecord {
    /// Per output value, the index of its window's maximum within its input plane.
    argmax: Arc<Vec<u32>>,
    /// `[N, C, H, W]`.
    input: [usize; 4],
    /// `[oH, oW]`.
    output: [usize; 2],
}

/// The pooled height and width of an `h × w` plane.
fn pooled([h, w]: [usize; 2], kernel: usize, stride: usize) -> [usize; 2] {
    [(h - kernel) / stride + 1, (w - kernel) / stride + 1]
}

/// Pools planes of `h × w` values with a square `kernel` every `stride`, without padding:
/// the pooled values and each one's argmax within its plane.
fn pool(x: &[f32], [h, w]: [usize; 2], kernel: usize, stride: usize) -> (Vec<f32>, Vec<u32>) {
    let [oh, ow] = pooled([h, w], kernel, stride);
    let planes = x.len() / (h * w);
    let mut out = vec![0.0; planes * oh * ow];
    let mut argmax = vec![0u32; planes * oh * ow];
    out.par_chunks_mut(oh * ow)
        .zip(argmax.par_chunks_mut(oh * ow))
        .zip(x.par_chunks(h * w))
        .for_each(|((out, argmax), plane)| {
            for oi in 0..oh {
                for oj in 0..ow {
                    let (mut best, mut at) = (f32::NEG_INFINITY, (oi * stride) * w + oj * stride);
                    for i in oi * stride..oi * stride + kernel {
                        for j in oj * stride..oj * stride + kernel {
                            let v = plane[i * w + j];
                            if v > best || (v.is_nan() && !best.is_nan()) {
                                best = v;
                                at = i * w + j;
                            }
                        }
                    }
                    out[oi * ow + oj] = best;
                    argmax[oi * ow + oj] = at as u32;
                }
            }
        });
    (out, argmax)
}

/// The input gradient: each output's gradient added at its argmax.
fn unpool(grad: &[f32], argmax: &[u32], plane_len: usize, outputs: usize) -> Vec<f32> {
    let mut dx = vec![0.0; grad.len() / outputs * plane_len];
    dx.par_chunks_mut(plane_len)
        .zip(grad.par_chunks(outputs).zip(argmax.par_chunks(outputs)))
        .for_each(|(plane, (grad, argmax))| {
            for (g, &at) in grad.iter().zip(argmax) {
                plane[at as usize] += g;
            }
        });
    dx
}

/// The input's shape when these kernels cover it: a 4-D f32 tensor at least one window big.
fn covered(x: &FlexTensor, kernel: usize) -> Option<[usize; 4]> {
    let shape = x.shape();
    let &[n, c, h, w] = &shape[..] else {
        return None;
    };
    let fits = h >= kernel && w >= kernel && kernel > 0;
    (x.dtype() == burn::tensor::DType::F32 && fits && (h * w) <= u32::MAX as usize)
        .then_some([n, c, h, w])
}

/// Max pooling of `x` (`[N, C, H, W]`) with its record for [`backward`], or `None` when the
/// tensor is not one these kernels cover (then flex's own pooling applies).
pub fn forward(x: &FlexTensor, kernel: usize, stride: usize) -> Option<(FlexTensor, PoolRecord)> {
    let input @ [n, c, h, w] = covered(x, kernel)?;
    let (out, argmax) = pool(&values(x), [h, w], kernel, stride);
    let output = pooled([h, w], kernel, stride);
    let record = PoolRecord {
        argmax: Arc::new(argmax),
        input,
        output,
    };
    Some((tensor(out, [n, c, output[0], output[1]]), record))
}

/// The gradient of the pooling's input from its output gradient.
pub fn backward(record: &PoolRecord, output_grad: &FlexTensor) -> FlexTensor {
    let [_, _, h, w] = record.input;
    let outputs = record.output[0] * record.output[1];
    let dx = unpool(&values(output_grad), &record.argmax, h * w, outputs);
    tensor(dx, record.input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_give_their_maximum_and_its_place() {
        // One 4×5 plane, 2×2 windows every 2: column 4 is never read.
        let x: Vec<f32> = vec![
            1.0,
            5.0,
            2.0,
            0.0,
            9.0, //
            3.0,
            4.0,
            8.0,
            7.0,
            9.0, //
            -1.0,
            -2.0,
            6.0,
            f32::NAN,
            9.0, //
            -3.0,
            -0.5,
            6.5,
            1.0,
            9.0,
        ];
        let (out, argmax) = pool(&x, [4, 5], 2, 2);
        assert_eq!(out[..3], [5.0, 8.0, -0.5]);
        assert!(out[3].is_nan(), "a NaN in a window wins");
        assert_eq!(argmax, vec![1, 7, 16, 13]);
        let dx = unpool(&[1.0, 2.0, 3.0, 4.0], &argmax, 20, 4);
        let mut expected = vec![0.0; 20];
        for (at, g) in [(1, 1.0), (7, 2.0), (16, 3.0), (13, 4.0)] {
            expected[at] = g;
        }
        assert_eq!(dx, expected);
    }

    #[test]
    fn overlapping_windows_add_their_gradients() {
        // A 3×3 plane, 2×2 windows every 1: the centre is every window's maximum and collects
        // all four gradients.
        let x = vec![0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0];
        let (out, argmax) = pool(&x, [3, 3], 2, 1);
        assert_eq!(out, vec![1.0; 4]);
        let dx = unpool(&[1.0, 2.0, 3.0, 4.0], &argmax, 9, 4);
        assert_eq!(dx[4], 10.0);
        assert_eq!(dx.iter().sum::<f32>(), 10.0);
    }
}
